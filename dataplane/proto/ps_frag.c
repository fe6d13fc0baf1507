/* SPDX-License-Identifier: BSD-3-Clause
 * IPv4 fragmentation, after Linux's ip_do_fragment() slow path and
 * ip_options_fragment() (net/ipv4/ip_output.c, net/ipv4/ip_options.c).
 */
#include <errno.h>
#include <string.h>

#include "ps_build.h"
#include "ps_frag.h"

#define IPOPT_COPIED	0x80	/* RFC 791: copy the option into every fragment */

/*
 * Overwrite the options without the copy bit with NOPs, keeping the header
 * length, as ip_options_fragment() does once the first fragment is out.
 */
static void
ip4_options_fragment(uint8_t *opt, uint32_t n)
{
	uint32_t i = 0, olen;

	while (i < n) {
		if (opt[i] == 0)
			return;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (n - i < 2)
			return;
		olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			return;
		if ((opt[i] & IPOPT_COPIED) == 0)
			memset(opt + i, 1, olen);
		i += olen;
	}
}

int
ps_ip4_fragment(const uint8_t *frame, uint32_t len, const struct ps_pkt *p, uint16_t mtu,
		uint8_t *scratch, size_t scratch_len, ps_frag_emit_fn emit, void *ctx)
{
	uint32_t hlen = p->l3_hdr_len;
	uint32_t space, chunk, left, src, off;
	int n = 0, rc;
	uint8_t *ip;

	if (p->l3 != PS_L3_IPV4 || p->l3_end > len)
		return -EINVAL;
	if (p->l3_end - p->l3_off <= mtu) {
		rc = emit(ctx, frame, len);
		return rc < 0 ? rc : 1;
	}
	if (p->df)
		return -EMSGSIZE;
	if (mtu < hlen + 8)
		return -EINVAL;
	space = mtu - hlen;		/* data bytes a fragment may carry */
	/* the first fragment is the largest: a full, 8-aligned space */
	if (scratch_len < p->l3_off + hlen + (space & ~7u))
		return -ENOSPC;

	ip = scratch + p->l3_off;
	memcpy(scratch, frame, p->l3_off + hlen);
	src = p->l3_off + hlen;
	left = p->l3_end - src;
	off = p->frag_off_bytes;
	while (left > 0) {
		/* all but the last end on an 8-byte boundary */
		chunk = left > space ? space & ~7u : left;
		memcpy(ip + hlen, frame + src, chunk);
		left -= chunk;
		ps_put_be16(ip + 2, (uint16_t)(hlen + chunk));
		ps_put_be16(ip + 6, (uint16_t)(off / 8 |
				(left > 0 || p->more_frags ? PS_IP4_MF : 0)));
		ps_build_ip4_csum(ip);
		rc = emit(ctx, scratch, p->l3_off + hlen + chunk);
		if (rc < 0)
			return rc;
		n++;
		/* the first fragment of the datagram is out: fix the options once */
		if (off == 0)
			ip4_options_fragment(ip + PS_IP4_HLEN, hlen - PS_IP4_HLEN);
		src += chunk;
		off += chunk;
	}
	return n;
}
