/* SPDX-License-Identifier: BSD-3-Clause
 * Frame parser. Every read is preceded by a length check against the bytes
 * that layer may use: the frame for L2, the frame for the IP header, and
 * l3_end (the IP total length) for everything above it, so L2 padding is
 * never taken for payload.
 */
#include <string.h>

#include "ps_pkt.h"

static const char *const reason_names[PS_PKT_REASON_MAX] = {
#define PS_PKT_REASON_NAME(name, str) [PS_PKT_##name] = str,
	PS_PKT_REASONS(PS_PKT_REASON_NAME)
#undef PS_PKT_REASON_NAME
};

const char *
ps_pkt_reason_name(enum ps_pkt_reason r)
{
	if ((unsigned int)r >= PS_PKT_REASON_MAX)
		return "invalid";
	return reason_names[r];
}

static bool
is_vlan_tpid(uint16_t type)
{
	return type == PS_ETH_P_8021Q || type == PS_ETH_P_8021AD || type == PS_ETH_P_QINQ_OLD;
}

enum ps_pkt_reason
ps_pkt_parse_l2(const uint8_t *frame, uint32_t len, struct ps_pkt *out)
{
	uint32_t off = 2 * PS_ETH_ALEN;	/* the type/TPID field */
	uint16_t type;

	memset(out, 0, sizeof(*out));
	out->l3_end = len;
	if (len < PS_ETH_HLEN)
		return PS_PKT_ETH_TRUNC;
	memcpy(out->dst_mac, frame, PS_ETH_ALEN);
	memcpy(out->src_mac, frame + PS_ETH_ALEN, PS_ETH_ALEN);
	type = ps_get_be16(frame + off);
	while (is_vlan_tpid(type)) {
		if (out->n_vlans == PS_VLAN_MAX)
			return PS_PKT_VLAN_TOO_DEEP;
		/* TPID (already read), TCI, then the next type field */
		if (len - off < 2 + PS_VLAN_HLEN)
			return PS_PKT_VLAN_TRUNC;
		out->vlan_tpid[out->n_vlans] = type;
		out->vlan_tci[out->n_vlans] = ps_get_be16(frame + off + 2);
		out->n_vlans++;
		off += PS_VLAN_HLEN;
		type = ps_get_be16(frame + off);
	}
	out->ethertype = type;
	out->l3_off = (uint16_t)(off + 2);
	out->payload_off = out->l3_off;
	out->payload_len = len - out->l3_off;
	return PS_PKT_OK;
}

/*
 * IPv4 options are TLVs after END/NOP (RFC 791 section 3.1). Only the
 * framing is checked; the contents are the endpoints' business.
 */
static bool
ip4_options_ok(const uint8_t *opt, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		if (opt[i] == 0)	/* end of option list */
			break;
		if (opt[i] == 1) {	/* no operation */
			i++;
			continue;
		}
		if (n - i < 2 || opt[i + 1] < 2 || opt[i + 1] > n - i)
			return false;
		i += opt[i + 1];
	}
	return true;
}

static enum ps_pkt_reason
parse_ip4(const uint8_t *frame, uint32_t len, struct ps_pkt *p)
{
	const uint8_t *ip = frame + p->l3_off;
	uint32_t avail = len - p->l3_off;
	uint32_t hlen, total;
	uint16_t frag;

	if (avail < PS_IP4_HLEN)
		return PS_PKT_IP4_TRUNC;
	if (ip[0] >> 4 != 4)
		return PS_PKT_IP4_VERSION;
	hlen = (ip[0] & 0xfu) * 4;
	if (hlen < PS_IP4_HLEN || hlen > avail)
		return PS_PKT_IP4_HDR_LEN;
	total = ps_get_be16(ip + 2);
	if (total < hlen || total > avail)
		return PS_PKT_IP4_TOTAL_LEN;
	if (!ip4_options_ok(ip + PS_IP4_HLEN, hlen - PS_IP4_HLEN))
		return PS_PKT_IP4_OPTIONS;

	p->l3 = PS_L3_IPV4;
	p->l3_hdr_len = (uint16_t)hlen;
	p->l3_end = p->l3_off + total;
	p->tos = ip[1];
	p->frag_id = ps_get_be16(ip + 4);
	frag = ps_get_be16(ip + 6);
	p->ttl = ip[8];
	p->ip_proto = ip[9];
	memcpy(p->src.b, ip + 12, 4);
	memcpy(p->dst.b, ip + 16, 4);
	p->df = (frag & PS_IP4_DF) != 0;
	p->more_frags = (frag & PS_IP4_MF) != 0;
	p->frag_off_bytes = (uint16_t)((frag & PS_IP4_OFFMASK) * 8);
	p->is_frag = p->more_frags || p->frag_off_bytes != 0;
	/* the ping of death: a fragment reaching past the largest datagram */
	if (p->frag_off_bytes + (total - hlen) > PS_IP_MAXPACKET)
		return PS_PKT_FRAG_OVERSIZE;
	return PS_PKT_OK;
}

/*
 * RFC 8200 section 8.1: with a routing header still to be followed, the
 * pseudo-header carries the final destination, not the header's.
 * Types 0 and 2 list it last; a segment routing header (type 4, RFC 8754)
 * as Segment List[0]. Other types are left to the header's address.
 */
static void
ip6_routing_final_dst(const uint8_t *rh, uint32_t off, struct ps_pkt *p)
{
	uint8_t type = rh[2], segs_left = rh[3];
	uint32_t n_addr = rh[1] / 2u;

	if (p->ip6_final_dst_off != 0 || segs_left == 0 || n_addr == 0)
		return;
	if (type == 0 || type == 2)
		p->ip6_final_dst_off = (uint16_t)(off + 8 + 16 * (n_addr - 1));
	else if (type == 4)
		p->ip6_final_dst_off = (uint16_t)(off + 8);
}

static enum ps_pkt_reason
parse_ip6(const uint8_t *frame, uint32_t len, struct ps_pkt *p)
{
	const uint8_t *ip = frame + p->l3_off;
	uint32_t avail = len - p->l3_off;
	uint32_t off, hlen, vtf;
	unsigned int n_ext;
	uint8_t nh;

	if (avail < PS_IP6_HLEN)
		return PS_PKT_IP6_TRUNC;
	if (ip[0] >> 4 != 6)
		return PS_PKT_IP6_VERSION;
	if (PS_IP6_HLEN + (uint32_t)ps_get_be16(ip + 4) > avail)
		return PS_PKT_IP6_PAYLOAD_LEN;

	p->l3 = PS_L3_IPV6;
	p->l3_end = p->l3_off + PS_IP6_HLEN + ps_get_be16(ip + 4);
	vtf = ps_get_be32(ip);
	p->tos = (uint8_t)(vtf >> 20);
	p->flow_label = vtf & 0xfffff;
	p->ttl = ip[7];
	memcpy(p->src.b, ip + 8, 16);
	memcpy(p->dst.b, ip + 24, 16);

	nh = ip[6];
	off = p->l3_off + PS_IP6_HLEN;
	for (n_ext = 0;; n_ext++) {
		const uint8_t *h = frame + off;

		if (nh != PS_IPPROTO_HOPOPTS && nh != PS_IPPROTO_ROUTING &&
		    nh != PS_IPPROTO_FRAGMENT && nh != PS_IPPROTO_DSTOPTS &&
		    nh != PS_IPPROTO_AH)
			break;	/* transport, no next header (59), ESP or unknown */
		if (n_ext == PS_IP6_EXT_MAX)
			return PS_PKT_IP6_EXT_TOO_MANY;
		/* every extension header is at least 8 bytes long */
		if (p->l3_end - off < 8)
			return PS_PKT_IP6_EXT_TRUNC;
		if (nh == PS_IPPROTO_FRAGMENT)
			hlen = 8;
		else if (nh == PS_IPPROTO_AH)
			hlen = (h[1] + 2u) * 4;		/* RFC 4302: 4-byte units, minus 2 */
		else
			hlen = (h[1] + 1u) * 8;		/* RFC 8200: 8-byte units, minus 1 */
		if (hlen > p->l3_end - off)
			return PS_PKT_IP6_EXT_TRUNC;
		if (nh == PS_IPPROTO_ROUTING)
			ip6_routing_final_dst(h, off, p);
		if (nh == PS_IPPROTO_FRAGMENT) {
			p->ip6_frag_hdr_off = (uint16_t)off;
			p->frag_off_bytes = ps_get_be16(h + 2) & 0xfff8;
			p->more_frags = (h[3] & 1) != 0;
			p->frag_id = ps_get_be32(h + 4);
			/* RFC 6946: an atomic fragment is a whole datagram */
			p->is_frag = p->more_frags || p->frag_off_bytes != 0;
			if (p->frag_off_bytes + (p->l3_end - off - hlen) > PS_IP_MAXPACKET)
				return PS_PKT_FRAG_OVERSIZE;
		}
		nh = h[0];
		off += hlen;
		/* after a non-first fragment's header comes data, not headers */
		if (p->frag_off_bytes != 0)
			break;
	}
	p->ip_proto = nh;
	p->l3_hdr_len = (uint16_t)(off - p->l3_off);
	return PS_PKT_OK;
}

/*
 * TCP options (RFC 9293 section 3.2): kinds we use must have their fixed
 * length; unknown kinds are skipped by their length.
 */
static bool
tcp_options(const uint8_t *opt, uint32_t n, struct ps_pkt *p)
{
	uint32_t i = 0, olen, k;

	while (i < n) {
		if (opt[i] == PS_TCPOPT_EOL)
			break;
		if (opt[i] == PS_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (n - i < 2)
			return false;
		olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			return false;
		switch (opt[i]) {
		case PS_TCPOPT_MSS:
			if (olen != 4)
				return false;
			p->has_mss = true;
			p->mss = ps_get_be16(opt + i + 2);
			break;
		case PS_TCPOPT_WSCALE:
			if (olen != 3)
				return false;
			p->has_wscale = true;
			p->wscale = opt[i + 2];
			break;
		case PS_TCPOPT_SACK_PERM:
			if (olen != 2)
				return false;
			p->sack_ok = true;
			break;
		case PS_TCPOPT_SACK:
			/* RFC 2018: 2 + 8n, n >= 1; 40 bytes of options bound n to 4 */
			if (olen < 10 || (olen - 2) % 8 != 0)
				return false;
			p->n_sack = (uint8_t)((olen - 2) / 8);
			for (k = 0; k < p->n_sack; k++) {
				p->sack[k][0] = ps_get_be32(opt + i + 2 + 8 * k);
				p->sack[k][1] = ps_get_be32(opt + i + 6 + 8 * k);
			}
			break;
		case PS_TCPOPT_TS:
			if (olen != 10)
				return false;
			p->has_ts = true;
			p->ts_val = ps_get_be32(opt + i + 2);
			p->ts_ecr = ps_get_be32(opt + i + 6);
			break;
		default:
			break;
		}
		i += olen;
	}
	return true;
}

/*
 * The L4 header at p->l4_off, bounded by l3_end. In a first fragment a
 * header cut by the fragment end is not an error: the packet is OK without
 * L4, as the reassembled datagram will be parsed again.
 */
static enum ps_pkt_reason
parse_tcp(const uint8_t *frame, struct ps_pkt *p)
{
	const uint8_t *th = frame + p->l4_off;
	uint32_t avail = p->l3_end - p->l4_off;
	uint32_t hlen;

	if (avail < PS_TCP_HLEN)
		return p->is_frag ? PS_PKT_OK : PS_PKT_TCP_TRUNC;
	hlen = (th[12] >> 4) * 4u;
	if (hlen < PS_TCP_HLEN)
		return PS_PKT_TCP_HDR_LEN;
	if (hlen > avail)
		return p->is_frag ? PS_PKT_OK : PS_PKT_TCP_HDR_LEN;
	if (!tcp_options(th + PS_TCP_HLEN, hlen - PS_TCP_HLEN, p))
		return PS_PKT_TCP_OPTIONS;
	p->sport = ps_get_be16(th);
	p->dport = ps_get_be16(th + 2);
	p->seq = ps_get_be32(th + 4);
	p->ack = ps_get_be32(th + 8);
	p->tcp_flags = th[13];
	p->window = ps_get_be16(th + 14);
	p->urg = ps_get_be16(th + 18);
	p->l4_hdr_len = (uint16_t)hlen;
	p->has_l4 = true;
	p->payload_len = avail - hlen;
	return PS_PKT_OK;
}

static enum ps_pkt_reason
parse_udp(const uint8_t *frame, struct ps_pkt *p)
{
	const uint8_t *uh = frame + p->l4_off;
	uint32_t avail = p->l3_end - p->l4_off;
	uint32_t ulen;

	if (avail < PS_UDP_HLEN)
		return p->is_frag ? PS_PKT_OK : PS_PKT_UDP_TRUNC;
	ulen = ps_get_be16(uh + 4);
	/* in a first fragment the length covers the whole datagram */
	if (ulen < PS_UDP_HLEN || (ulen > avail && !p->is_frag))
		return PS_PKT_UDP_LEN;
	p->sport = ps_get_be16(uh);
	p->dport = ps_get_be16(uh + 2);
	p->l4_hdr_len = PS_UDP_HLEN;
	p->has_l4 = true;
	p->payload_len = (ulen < avail ? ulen : avail) - PS_UDP_HLEN;
	return PS_PKT_OK;
}

static enum ps_pkt_reason
parse_icmp(const uint8_t *frame, struct ps_pkt *p)
{
	const uint8_t *ih = frame + p->l4_off;
	uint32_t avail = p->l3_end - p->l4_off;

	if (avail < PS_ICMP_HLEN)
		return p->is_frag ? PS_PKT_OK : PS_PKT_ICMP_TRUNC;
	p->icmp_type = ih[0];
	p->icmp_code = ih[1];
	if ((p->l3 == PS_L3_IPV4 && (ih[0] == PS_ICMP_ECHO || ih[0] == PS_ICMP_ECHOREPLY)) ||
	    (p->l3 == PS_L3_IPV6 && (ih[0] == PS_ICMP6_ECHO || ih[0] == PS_ICMP6_ECHOREPLY))) {
		p->icmp_id = ps_get_be16(ih + 4);
		p->icmp_seq = ps_get_be16(ih + 6);
	}
	p->l4_hdr_len = PS_ICMP_HLEN;
	p->has_l4 = true;
	p->payload_len = avail - PS_ICMP_HLEN;
	return PS_PKT_OK;
}

static enum ps_pkt_reason
parse_l4(const uint8_t *frame, struct ps_pkt *p)
{
	enum ps_pkt_reason r;

	p->l4_off = (uint16_t)(p->l3_off + p->l3_hdr_len);
	switch (p->ip_proto) {
	case PS_IPPROTO_TCP:
		r = parse_tcp(frame, p);
		break;
	case PS_IPPROTO_UDP:
		r = parse_udp(frame, p);
		break;
	case PS_IPPROTO_ICMP:
		r = p->l3 == PS_L3_IPV4 ? parse_icmp(frame, p) : PS_PKT_OK;
		break;
	case PS_IPPROTO_ICMPV6:
		r = p->l3 == PS_L3_IPV6 ? parse_icmp(frame, p) : PS_PKT_OK;
		break;
	default:
		r = PS_PKT_OK;
		break;
	}
	if (p->has_l4)
		p->payload_off = (uint32_t)p->l4_off + p->l4_hdr_len;
	else
		p->l4_off = 0;
	return r;
}

enum ps_pkt_reason
ps_pkt_parse(const uint8_t *frame, uint32_t len, struct ps_pkt *out)
{
	enum ps_pkt_reason r;

	r = ps_pkt_parse_l2(frame, len, out);
	if (r != PS_PKT_OK)
		return r;
	if (out->ethertype == PS_ETH_P_IPV4)
		r = parse_ip4(frame, len, out);
	else if (out->ethertype == PS_ETH_P_IPV6)
		r = parse_ip6(frame, len, out);
	else
		return PS_PKT_OK;
	if (r != PS_PKT_OK)
		return r;
	out->payload_off = (uint32_t)out->l3_off + out->l3_hdr_len;
	out->payload_len = out->l3_end - out->payload_off;
	if (out->frag_off_bytes != 0)
		return PS_PKT_OK;	/* a non-first fragment carries no L4 header */
	return parse_l4(frame, out);
}
