/* SPDX-License-Identifier: BSD-3-Clause
 * Packet builders: write headers into a caller's buffer of cap bytes.
 *
 * Each builder returns the number of bytes written, or a negative errno:
 * -ENOSPC when cap is too small, -EINVAL for a spec that cannot be encoded,
 * -EMSGSIZE for a datagram over 65535 bytes. A single header builder writes
 * nothing when it fails; ps_build_tcp_frame() may have written a prefix.
 * Values are host order, addresses and MACs wire order, as in struct ps_pkt.
 *
 * Two ways to build a frame:
 *   - ps_build_tcp_frame() writes a whole TCP segment frame, checksums
 *     included, in one call (the TCP engine's path);
 *   - the header builders one after another, then the payload, then
 *     ps_build_finalize() to fill lengths and checksums.
 * Pure functions: any lcore.
 */
#ifndef PS_BUILD_H
#define PS_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_pkt.h"

#define PS_TCP_OPT_MAX	40

struct ps_eth_spec {
	uint8_t dst[PS_ETH_ALEN];
	uint8_t src[PS_ETH_ALEN];
	uint8_t n_vlans;			/* 0..PS_VLAN_MAX */
	uint16_t vlan_tpid[PS_VLAN_MAX];	/* outermost first, e.g. 0x88a8 then 0x8100 */
	uint16_t vlan_tci[PS_VLAN_MAX];
};

struct ps_ip4_spec {
	uint8_t src[4];
	uint8_t dst[4];
	uint8_t proto;
	uint8_t ttl;
	uint8_t tos;
	bool df;
	uint16_t id;
	const uint8_t *opts;	/* raw option bytes, may be NULL when opt_len is 0 */
	uint8_t opt_len;	/* <= 40; padded with END to a multiple of 4 */
};

struct ps_ip6_spec {
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t next_hdr;
	uint8_t hop_limit;
	uint8_t tclass;
	uint32_t flow_label;	/* low 20 bits */
};

/*
 * A TCP header. Options are written in Linux's layout (tcp_options_write()):
 * MSS; SACK-permitted + timestamps in one word when both, else NOP NOP TS;
 * NOP NOP SACK-permitted; NOP window scale; NOP NOP SACK blocks. All of
 * them must fit in 40 bytes.
 */
struct ps_tcp_spec {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;		/* PS_TCP_* */
	uint16_t window;
	uint16_t urg;

	bool has_mss;
	bool has_wscale;
	bool sack_ok;
	bool has_ts;
	uint16_t mss;
	uint8_t wscale;
	uint8_t n_sack;		/* 0..PS_TCP_SACK_MAX */
	uint32_t ts_val, ts_ecr;
	uint32_t sack[PS_TCP_SACK_MAX][2];
};

/* Everything a TCP segment frame needs; see ps_build_tcp_frame(). */
struct ps_tcp_frame_spec {
	struct ps_eth_spec eth;
	uint8_t l3;			/* PS_L3_IPV4 or PS_L3_IPV6 */
	struct ps_ip_addr src, dst;
	uint8_t ttl;			/* IPv6: hop limit */
	uint8_t tos;			/* IPv6: traffic class */
	bool df;			/* IPv4 */
	uint16_t ip_id;			/* IPv4 */
	uint32_t flow_label;		/* IPv6 */
	struct ps_tcp_spec tcp;
};

/*
 * Ethernet header with eth->n_vlans tags between the source MAC and
 * ethertype (the innermost type). Returns 14 + 4 * n_vlans.
 */
int
ps_build_eth(uint8_t *buf, size_t cap, const struct ps_eth_spec *eth, uint16_t ethertype);

/*
 * IPv4 header with options, total length (header + payload_len) and header
 * checksum filled. MF and fragment offset are zero. Returns the header length.
 */
int
ps_build_ip4(uint8_t *buf, size_t cap, const struct ps_ip4_spec *ip, uint32_t payload_len);

/* IPv6 header with payload length payload_len. Returns 40. */
int
ps_build_ip6(uint8_t *buf, size_t cap, const struct ps_ip6_spec *ip, uint32_t payload_len);

/*
 * TCP options of tcp only, in Linux's layout. Returns their length (a
 * multiple of 4, 0 when there are none), -EINVAL when they exceed 40 bytes
 * or n_sack > 4.
 */
int
ps_build_tcp_options(uint8_t *buf, size_t cap, const struct ps_tcp_spec *tcp);

/* TCP header with options, checksum zero. Returns the header length. */
int
ps_build_tcp(uint8_t *buf, size_t cap, const struct ps_tcp_spec *tcp);

/* UDP header, length 8 + payload_len, checksum zero. Returns 8. */
int
ps_build_udp(uint8_t *buf, size_t cap, uint16_t sport, uint16_t dport, uint32_t payload_len);

/*
 * ICMP or ICMPv6 echo header (type PS_ICMP_ECHO/ECHOREPLY or
 * PS_ICMP6_ECHO/ECHOREPLY), code 0, checksum zero. Returns 8.
 */
int
ps_build_icmp_echo(uint8_t *buf, size_t cap, uint8_t type, uint16_t id, uint16_t seq);

/* Recompute the checksum of the IPv4 header at ip (ihl taken from it). */
void
ps_build_ip4_csum(uint8_t *ip);

/*
 * Make the length fields and checksums of a frame agree with its len bytes:
 * everything after the headers is the payload. Sets the IPv4 total length
 * and header checksum or the IPv6 payload length, then the UDP length and
 * the TCP, UDP, ICMP or ICMPv6 checksum (UDP 0 is sent as 0xffff). A
 * fragment gets no L4 checksum. The frame must then parse OK: in particular
 * a UDP length written before must not exceed the bytes present. Returns 0,
 * -EINVAL (not IP, or malformed), -EMSGSIZE (datagram over 65535 bytes).
 */
int
ps_build_finalize(uint8_t *frame, uint32_t len);

/*
 * A whole TCP segment frame: Ethernet (+ tags), IPv4 (no options) or IPv6
 * (no extension headers), TCP with options, payload_len bytes of payload
 * (payload may be NULL when payload_len is 0), every length and checksum
 * filled. Returns the frame length.
 */
int
ps_build_tcp_frame(uint8_t *buf, size_t cap, const struct ps_tcp_frame_spec *spec,
		   const uint8_t *payload, uint32_t payload_len);

/*
 * Bytes of headers (Ethernet, tags, IP, TCP with options) that
 * ps_build_tcp_frame() writes before the payload for spec. A caller may put
 * the payload at that offset of its buffer first and pass that pointer as
 * payload: it is then not copied again. Returns the length or -EINVAL.
 */
int
ps_build_tcp_hdr_len(const struct ps_tcp_frame_spec *spec);

#endif /* PS_BUILD_H */
