/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight packet layer: a bounds-checked parser for Ethernet (up to two
 * VLAN tags), IPv4, IPv6 (extension header chain), TCP, UDP, ICMP and
 * ICMPv6.
 *
 * Pure C: no DPDK header, no allocation, no global state. Any lcore may call
 * any function here. Multi-byte fields of struct ps_pkt are in host byte
 * order; addresses and MACs are copied in wire order. See docs/proto.md.
 */
#ifndef PS_PKT_H
#define PS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_ETH_ALEN		6
#define PS_ETH_HLEN		14
#define PS_VLAN_HLEN		4
#define PS_VLAN_MAX		2	/* outer (S-tag) + inner (C-tag) */

#define PS_ETH_P_IPV4		0x0800
#define PS_ETH_P_ARP		0x0806
#define PS_ETH_P_8021Q		0x8100
#define PS_ETH_P_IPV6		0x86dd
#define PS_ETH_P_8021AD		0x88a8
#define PS_ETH_P_QINQ_OLD	0x9100	/* pre-802.1ad QinQ, still common */
#define PS_ETH_P_LLDP		0x88cc

#define PS_IPPROTO_HOPOPTS	0
#define PS_IPPROTO_ICMP		1
#define PS_IPPROTO_TCP		6
#define PS_IPPROTO_UDP		17
#define PS_IPPROTO_ROUTING	43
#define PS_IPPROTO_FRAGMENT	44
#define PS_IPPROTO_ESP		50
#define PS_IPPROTO_AH		51
#define PS_IPPROTO_ICMPV6	58
#define PS_IPPROTO_NONE		59
#define PS_IPPROTO_DSTOPTS	60

#define PS_IP4_HLEN		20
#define PS_IP4_HLEN_MAX		60
#define PS_IP4_DF		0x4000
#define PS_IP4_MF		0x2000
#define PS_IP4_OFFMASK		0x1fff
#define PS_IP6_HLEN		40
#define PS_IP6_EXT_MAX		8	/* longer extension header chains are refused */
#define PS_IP_MAXPACKET		65535

#define PS_TCP_HLEN		20
#define PS_TCP_HLEN_MAX		60
#define PS_TCP_SACK_MAX		4	/* blocks that fit in 40 bytes of options */
#define PS_UDP_HLEN		8
#define PS_ICMP_HLEN		8	/* type, code, checksum, rest of header */

#define PS_TCP_FIN		0x01
#define PS_TCP_SYN		0x02
#define PS_TCP_RST		0x04
#define PS_TCP_PSH		0x08
#define PS_TCP_ACK		0x10
#define PS_TCP_URG		0x20
#define PS_TCP_ECE		0x40
#define PS_TCP_CWR		0x80

#define PS_TCPOPT_EOL		0
#define PS_TCPOPT_NOP		1
#define PS_TCPOPT_MSS		2
#define PS_TCPOPT_WSCALE	3
#define PS_TCPOPT_SACK_PERM	4
#define PS_TCPOPT_SACK		5
#define PS_TCPOPT_TS		8

#define PS_ICMP_ECHOREPLY	0
#define PS_ICMP_ECHO		8
#define PS_ICMP6_ECHO		128
#define PS_ICMP6_ECHOREPLY	129

/*
 * Why a frame was refused, one per drop counter. X(NAME, counter name):
 * the enum value is PS_PKT_<NAME>.
 */
#define PS_PKT_REASONS(X)						\
	X(OK,			"ok")					\
	X(ETH_TRUNC,		"eth_trunc")				\
	X(VLAN_TRUNC,		"vlan_trunc")				\
	X(VLAN_TOO_DEEP,	"vlan_too_deep")			\
	X(IP4_TRUNC,		"ip4_trunc")				\
	X(IP4_VERSION,		"ip4_version")				\
	X(IP4_HDR_LEN,		"ip4_hdr_len")				\
	X(IP4_TOTAL_LEN,	"ip4_total_len")			\
	X(IP4_OPTIONS,		"ip4_options")				\
	X(IP6_TRUNC,		"ip6_trunc")				\
	X(IP6_VERSION,		"ip6_version")				\
	X(IP6_PAYLOAD_LEN,	"ip6_payload_len")			\
	X(IP6_EXT_TRUNC,	"ip6_ext_trunc")			\
	X(IP6_EXT_TOO_MANY,	"ip6_ext_too_many")			\
	X(FRAG_OVERSIZE,	"frag_oversize")			\
	X(TCP_TRUNC,		"tcp_trunc")				\
	X(TCP_HDR_LEN,		"tcp_hdr_len")				\
	X(TCP_OPTIONS,		"tcp_options")				\
	X(UDP_TRUNC,		"udp_trunc")				\
	X(UDP_LEN,		"udp_len")				\
	X(ICMP_TRUNC,		"icmp_trunc")

enum ps_pkt_reason {
#define PS_PKT_REASON_ENUM(name, str) PS_PKT_##name,
	PS_PKT_REASONS(PS_PKT_REASON_ENUM)
#undef PS_PKT_REASON_ENUM
	PS_PKT_REASON_MAX
};

enum ps_l3 {
	PS_L3_NONE,	/* not IP: ARP, LLDP, 802.3 LLC, anything else */
	PS_L3_IPV4,
	PS_L3_IPV6,
};

struct ps_ip_addr {
	uint8_t b[16];	/* wire order; IPv4 in b[0..3], the rest zero */
};

struct ps_pkt {
	/* L2. Tags are listed outermost first. */
	uint8_t dst_mac[PS_ETH_ALEN];
	uint8_t src_mac[PS_ETH_ALEN];
	uint8_t n_vlans;
	uint16_t vlan_tpid[PS_VLAN_MAX];
	uint16_t vlan_tci[PS_VLAN_MAX];
	uint16_t ethertype;		/* innermost */
	uint16_t l3_off;

	/* L3, when l3 != PS_L3_NONE. */
	uint8_t l3;			/* enum ps_l3 */
	uint8_t ip_proto;		/* transport protocol after IPv6 extension headers */
	uint8_t ttl;			/* IPv6: hop limit */
	uint8_t tos;			/* IPv6: traffic class */
	uint16_t l3_hdr_len;		/* IPv4 ihl*4; IPv6 40 + extension headers */
	uint32_t l3_end;		/* l3_off + IP total length; len for non-IP */
	struct ps_ip_addr src, dst;
	uint32_t flow_label;		/* IPv6 only */
	uint16_t ip6_final_dst_off;	/* routing header with segments left: offset of
					 * the final destination (used by the L4
					 * pseudo-header); 0 when dst is final */
	uint16_t ip6_frag_hdr_off;	/* offset of the IPv6 fragment header, or 0 */

	/* Fragmentation. IPv4: from the header; IPv6: from a fragment header. */
	bool is_frag;			/* more_frags or frag_off_bytes != 0 */
	bool more_frags;
	bool df;			/* IPv4 only */
	uint16_t frag_off_bytes;
	uint32_t frag_id;		/* IPv4: 16-bit identification */

	/*
	 * L4, when has_l4: TCP, UDP, ICMP (over IPv4) or ICMPv6 (over IPv6)
	 * whose whole header (TCP: with its options) is present. Never for a
	 * non-first fragment; a first fragment too short for the header is
	 * OK without L4 (the reassembled datagram will tell).
	 */
	bool has_l4;
	uint16_t l4_off;
	uint16_t l4_hdr_len;		/* TCP doff*4; UDP 8; ICMP 8 */
	uint16_t sport, dport;		/* TCP and UDP */

	uint32_t seq, ack;
	uint8_t tcp_flags;		/* PS_TCP_* */
	uint16_t window;		/* unscaled, as on the wire */
	uint16_t urg;

	/* TCP options as on the wire: not clamped, last occurrence wins. */
	bool has_mss;
	bool has_wscale;
	bool sack_ok;
	bool has_ts;
	uint16_t mss;
	uint8_t wscale;
	uint8_t n_sack;
	uint32_t ts_val, ts_ecr;
	uint32_t sack[PS_TCP_SACK_MAX][2];	/* [i][0] left edge, [i][1] right edge */

	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq;	/* echo request and reply only */

	/*
	 * Bytes after the last parsed header, never including L2 padding:
	 * payload_off + payload_len <= l3_end. For UDP bounded by the UDP
	 * length; without L4, the IP payload (the fragment data).
	 */
	uint32_t payload_off;
	uint32_t payload_len;
};

/*
 * Parse one Ethernet frame of len bytes into *out (overwritten entirely).
 * Borrows frame for the call only and reads nothing outside
 * frame[0..len): *out holds offsets into the frame and copies of MACs and
 * addresses, no pointers. Never allocates. Returns PS_PKT_OK or why the
 * frame is malformed; on failure *out holds what was parsed before the
 * fault (for counters only). Checksums are not verified here (see
 * ps_csum.h). Any lcore.
 */
enum ps_pkt_reason
ps_pkt_parse(const uint8_t *frame, uint32_t len, struct ps_pkt *out);

/*
 * Parse only the Ethernet header and VLAN tags: fills the L2 fields of *out
 * (overwritten entirely) and sets l3_end = len. Any lcore.
 */
enum ps_pkt_reason
ps_pkt_parse_l2(const uint8_t *frame, uint32_t len, struct ps_pkt *out);

/*
 * Counter name of a reason ("ip4_total_len"); "invalid" when r is out of
 * range. The string is static.
 */
const char *
ps_pkt_reason_name(enum ps_pkt_reason r);

/* Big-endian field access; p need not be aligned. */
static inline uint16_t
ps_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
ps_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
ps_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
ps_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif /* PS_PKT_H */
