/* SPDX-License-Identifier: BSD-3-Clause
 * Packet builders. Each checks its capacity before writing anything, so a
 * failed call leaves the buffer as it was.
 */
#include <errno.h>
#include <string.h>

#include "ps_build.h"
#include "ps_csum.h"

int
ps_build_eth(uint8_t *buf, size_t cap, const struct ps_eth_spec *eth, uint16_t ethertype)
{
	size_t len = PS_ETH_HLEN + (size_t)PS_VLAN_HLEN * eth->n_vlans;
	unsigned int i;
	uint8_t *p;

	if (eth->n_vlans > PS_VLAN_MAX)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	p = buf + 2 * PS_ETH_ALEN;
	memcpy(buf, eth->dst, PS_ETH_ALEN);
	memcpy(buf + PS_ETH_ALEN, eth->src, PS_ETH_ALEN);
	for (i = 0; i < eth->n_vlans; i++, p += PS_VLAN_HLEN) {
		ps_put_be16(p, eth->vlan_tpid[i]);
		ps_put_be16(p + 2, eth->vlan_tci[i]);
	}
	ps_put_be16(p, ethertype);
	return (int)len;
}

void
ps_build_ip4_csum(uint8_t *ip)
{
	ps_put_be16(ip + 10, 0);
	ps_put_be16(ip + 10, ps_csum_fold(ps_csum_partial(ip, (ip[0] & 0xfu) * 4, 0)));
}

int
ps_build_ip4(uint8_t *buf, size_t cap, const struct ps_ip4_spec *ip, uint32_t payload_len)
{
	uint32_t hlen = PS_IP4_HLEN + ((ip->opt_len + 3u) & ~3u);

	if (hlen > PS_IP4_HLEN_MAX)
		return -EINVAL;
	if (payload_len > PS_IP_MAXPACKET - hlen)
		return -EMSGSIZE;
	if (cap < hlen)
		return -ENOSPC;
	buf[0] = (uint8_t)(0x40 | hlen / 4);
	buf[1] = ip->tos;
	ps_put_be16(buf + 2, (uint16_t)(hlen + payload_len));
	ps_put_be16(buf + 4, ip->id);
	ps_put_be16(buf + 6, ip->df ? PS_IP4_DF : 0);
	buf[8] = ip->ttl;
	buf[9] = ip->proto;
	memcpy(buf + 12, ip->src, 4);
	memcpy(buf + 16, ip->dst, 4);
	if (ip->opt_len > 0)
		memcpy(buf + PS_IP4_HLEN, ip->opts, ip->opt_len);
	/* END of option list up to the 4-byte boundary */
	memset(buf + PS_IP4_HLEN + ip->opt_len, 0, hlen - PS_IP4_HLEN - ip->opt_len);
	ps_build_ip4_csum(buf);
	return (int)hlen;
}

int
ps_build_ip6(uint8_t *buf, size_t cap, const struct ps_ip6_spec *ip, uint32_t payload_len)
{
	if (payload_len > PS_IP_MAXPACKET)
		return -EMSGSIZE;
	if (cap < PS_IP6_HLEN)
		return -ENOSPC;
	ps_put_be32(buf, 6u << 28 | (uint32_t)ip->tclass << 20 | (ip->flow_label & 0xfffff));
	ps_put_be16(buf + 4, (uint16_t)payload_len);
	buf[6] = ip->next_hdr;
	buf[7] = ip->hop_limit;
	memcpy(buf + 8, ip->src, 16);
	memcpy(buf + 24, ip->dst, 16);
	return PS_IP6_HLEN;
}

static uint8_t *
put_opt_word(uint8_t *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	p[0] = a;
	p[1] = b;
	p[2] = c;
	p[3] = d;
	return p + 4;
}

static int
tcp_options_len(const struct ps_tcp_spec *tcp)
{
	int len = 0;

	if (tcp->n_sack > PS_TCP_SACK_MAX)
		return -EINVAL;
	if (tcp->has_mss)
		len += 4;
	if (tcp->has_ts)
		len += 12;
	if (tcp->sack_ok && !tcp->has_ts)
		len += 4;
	if (tcp->has_wscale)
		len += 4;
	if (tcp->n_sack > 0)
		len += 4 + 8 * tcp->n_sack;
	return len > PS_TCP_OPT_MAX ? -EINVAL : len;
}

int
ps_build_tcp_options(uint8_t *buf, size_t cap, const struct ps_tcp_spec *tcp)
{
	int len = tcp_options_len(tcp);
	uint8_t *p = buf;
	unsigned int i;

	if (len < 0)
		return len;
	if (cap < (size_t)len)
		return -ENOSPC;
	if (tcp->has_mss) {
		p = put_opt_word(p, PS_TCPOPT_MSS, 4, 0, 0);
		ps_put_be16(p - 2, tcp->mss);
	}
	if (tcp->has_ts) {
		if (tcp->sack_ok)
			p = put_opt_word(p, PS_TCPOPT_SACK_PERM, 2, PS_TCPOPT_TS, 10);
		else
			p = put_opt_word(p, PS_TCPOPT_NOP, PS_TCPOPT_NOP, PS_TCPOPT_TS, 10);
		ps_put_be32(p, tcp->ts_val);
		ps_put_be32(p + 4, tcp->ts_ecr);
		p += 8;
	} else if (tcp->sack_ok) {
		p = put_opt_word(p, PS_TCPOPT_NOP, PS_TCPOPT_NOP, PS_TCPOPT_SACK_PERM, 2);
	}
	if (tcp->has_wscale)
		p = put_opt_word(p, PS_TCPOPT_NOP, PS_TCPOPT_WSCALE, 3, tcp->wscale);
	if (tcp->n_sack > 0) {
		p = put_opt_word(p, PS_TCPOPT_NOP, PS_TCPOPT_NOP, PS_TCPOPT_SACK,
				 (uint8_t)(2 + 8 * tcp->n_sack));
		for (i = 0; i < tcp->n_sack; i++, p += 8) {
			ps_put_be32(p, tcp->sack[i][0]);
			ps_put_be32(p + 4, tcp->sack[i][1]);
		}
	}
	return len;
}

int
ps_build_tcp(uint8_t *buf, size_t cap, const struct ps_tcp_spec *tcp)
{
	int olen = tcp_options_len(tcp);
	size_t hlen;

	if (olen < 0)
		return olen;
	hlen = PS_TCP_HLEN + (size_t)olen;
	if (cap < hlen)
		return -ENOSPC;
	ps_put_be16(buf, tcp->sport);
	ps_put_be16(buf + 2, tcp->dport);
	ps_put_be32(buf + 4, tcp->seq);
	ps_put_be32(buf + 8, tcp->ack);
	buf[12] = (uint8_t)(hlen / 4 << 4);
	buf[13] = tcp->flags;
	ps_put_be16(buf + 14, tcp->window);
	ps_put_be16(buf + 16, 0);
	ps_put_be16(buf + 18, tcp->urg);
	ps_build_tcp_options(buf + PS_TCP_HLEN, cap - PS_TCP_HLEN, tcp);
	return (int)hlen;
}

int
ps_build_udp(uint8_t *buf, size_t cap, uint16_t sport, uint16_t dport, uint32_t payload_len)
{
	if (payload_len > PS_IP_MAXPACKET - PS_UDP_HLEN)
		return -EMSGSIZE;
	if (cap < PS_UDP_HLEN)
		return -ENOSPC;
	ps_put_be16(buf, sport);
	ps_put_be16(buf + 2, dport);
	ps_put_be16(buf + 4, (uint16_t)(PS_UDP_HLEN + payload_len));
	ps_put_be16(buf + 6, 0);
	return PS_UDP_HLEN;
}

int
ps_build_icmp_echo(uint8_t *buf, size_t cap, uint8_t type, uint16_t id, uint16_t seq)
{
	if (cap < PS_ICMP_HLEN)
		return -ENOSPC;
	buf[0] = type;
	buf[1] = 0;
	ps_put_be16(buf + 2, 0);
	ps_put_be16(buf + 4, id);
	ps_put_be16(buf + 6, seq);
	return PS_ICMP_HLEN;
}

/* Offset of the checksum field in the L4 header. */
static uint32_t
l4_csum_field(uint8_t proto)
{
	switch (proto) {
	case PS_IPPROTO_TCP:
		return 16;
	case PS_IPPROTO_UDP:
		return 6;
	default:
		return 2;	/* ICMP, ICMPv6 */
	}
}

int
ps_build_finalize(uint8_t *frame, uint32_t len)
{
	struct ps_pkt p;
	uint32_t ip_len;
	uint8_t *l4;
	uint16_t csum;

	if (ps_pkt_parse_l2(frame, len, &p) != PS_PKT_OK)
		return -EINVAL;
	ip_len = len - p.l3_off;
	if (p.ethertype == PS_ETH_P_IPV4) {
		if (ip_len < PS_IP4_HLEN)
			return -EINVAL;
		if (ip_len > PS_IP_MAXPACKET)
			return -EMSGSIZE;
		ps_put_be16(frame + p.l3_off + 2, (uint16_t)ip_len);
	} else if (p.ethertype == PS_ETH_P_IPV6) {
		if (ip_len < PS_IP6_HLEN)
			return -EINVAL;
		if (ip_len - PS_IP6_HLEN > PS_IP_MAXPACKET)
			return -EMSGSIZE;
		ps_put_be16(frame + p.l3_off + 4, (uint16_t)(ip_len - PS_IP6_HLEN));
	} else {
		return -EINVAL;
	}
	if (ps_pkt_parse(frame, len, &p) != PS_PKT_OK)
		return -EINVAL;
	if (p.l3 == PS_L3_IPV4)
		ps_build_ip4_csum(frame + p.l3_off);
	if (!p.has_l4 || p.is_frag)
		return 0;
	l4 = frame + p.l4_off;
	if (p.ip_proto == PS_IPPROTO_UDP) {
		ps_put_be16(l4 + 4, (uint16_t)(p.l3_end - p.l4_off));
		p.payload_len = p.l3_end - p.payload_off;	/* as the new UDP length says */
	}
	ps_put_be16(l4 + l4_csum_field(p.ip_proto), 0);
	csum = ps_csum_fold(ps_pkt_l4_sum(frame, &p));
	if (csum == 0 && p.ip_proto == PS_IPPROTO_UDP)
		csum = 0xffff;	/* RFC 768: 0 means "no checksum" */
	ps_put_be16(l4 + l4_csum_field(p.ip_proto), csum);
	return 0;
}

int
ps_build_tcp_frame(uint8_t *buf, size_t cap, const struct ps_tcp_frame_spec *spec,
		   const uint8_t *payload, uint32_t payload_len)
{
	int l2_len, l3_len, l4_len;
	uint32_t l4_off, seg_len, seg_max, sum;
	struct ps_ip4_spec ip4;
	struct ps_ip6_spec ip6;

	if (spec->l3 != PS_L3_IPV4 && spec->l3 != PS_L3_IPV6)
		return -EINVAL;
	l2_len = ps_build_eth(buf, cap, &spec->eth,
			      spec->l3 == PS_L3_IPV4 ? PS_ETH_P_IPV4 : PS_ETH_P_IPV6);
	if (l2_len < 0)
		return l2_len;
	l4_off = (uint32_t)l2_len + (spec->l3 == PS_L3_IPV4 ? PS_IP4_HLEN : PS_IP6_HLEN);
	if (cap < l4_off)
		return -ENOSPC;
	l4_len = ps_build_tcp(buf + l4_off, cap - l4_off, &spec->tcp);
	if (l4_len < 0)
		return l4_len;
	/* IPv4 counts its header in the total length, IPv6 does not */
	seg_max = PS_IP_MAXPACKET - (spec->l3 == PS_L3_IPV4 ? PS_IP4_HLEN : 0);
	if (payload_len > seg_max - (uint32_t)l4_len)
		return -EMSGSIZE;
	seg_len = (uint32_t)l4_len + payload_len;
	if (cap - l4_off < seg_len)
		return -ENOSPC;
	/* The payload may already be in place (see ps_build_tcp_hdr_len()). */
	if (payload_len > 0 && payload != buf + l4_off + l4_len)
		memmove(buf + l4_off + l4_len, payload, payload_len);

	if (spec->l3 == PS_L3_IPV4) {
		memset(&ip4, 0, sizeof(ip4));
		memcpy(ip4.src, spec->src.b, 4);
		memcpy(ip4.dst, spec->dst.b, 4);
		ip4.proto = PS_IPPROTO_TCP;
		ip4.ttl = spec->ttl;
		ip4.tos = spec->tos;
		ip4.df = spec->df;
		ip4.id = spec->ip_id;
		l3_len = ps_build_ip4(buf + l2_len, cap - (size_t)l2_len, &ip4, seg_len);
		sum = ps_csum_pseudo4(spec->src.b, spec->dst.b, PS_IPPROTO_TCP, seg_len);
	} else {
		memcpy(ip6.src, spec->src.b, 16);
		memcpy(ip6.dst, spec->dst.b, 16);
		ip6.next_hdr = PS_IPPROTO_TCP;
		ip6.hop_limit = spec->ttl;
		ip6.tclass = spec->tos;
		ip6.flow_label = spec->flow_label;
		l3_len = ps_build_ip6(buf + l2_len, cap - (size_t)l2_len, &ip6, seg_len);
		sum = ps_csum_pseudo6(spec->src.b, spec->dst.b, PS_IPPROTO_TCP, seg_len);
	}
	if (l3_len < 0)
		return l3_len;
	ps_put_be16(buf + l4_off + 16, ps_csum_fold(ps_csum_partial(buf + l4_off, seg_len, sum)));
	return (int)(l4_off + seg_len);
}

int
ps_build_tcp_hdr_len(const struct ps_tcp_frame_spec *spec)
{
	uint8_t opts[PS_TCP_HLEN_MAX];
	int opt_len;

	if (spec->l3 != PS_L3_IPV4 && spec->l3 != PS_L3_IPV6)
		return -EINVAL;
	if (spec->eth.n_vlans > PS_VLAN_MAX)
		return -EINVAL;
	opt_len = ps_build_tcp_options(opts, sizeof(opts), &spec->tcp);
	if (opt_len < 0)
		return opt_len;
	return PS_ETH_HLEN + PS_VLAN_HLEN * spec->eth.n_vlans +
	       (spec->l3 == PS_L3_IPV4 ? PS_IP4_HLEN : PS_IP6_HLEN) +
	       PS_TCP_HLEN + opt_len;
}
