/* SPDX-License-Identifier: BSD-3-Clause
 * Internet checksum. The bulk loop adds 64-bit native-order words with an
 * end-around carry and converts to big-endian only once at the end: RFC 1071
 * section 2(B), the ones-complement sum is independent of byte order up to a
 * final byte swap.
 */
#include <string.h>

#include "ps_csum.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_TO_BE16(x) __builtin_bswap16(x)
#else
#define NATIVE_TO_BE16(x) (x)
#endif

static uint32_t
add_carry32(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;

	return s + (s < b);
}

uint32_t
ps_csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *b = buf;
	uint64_t acc = 0, w;

	for (; len >= sizeof(w); b += sizeof(w), len -= sizeof(w)) {
		memcpy(&w, b, sizeof(w));
		acc += w;
		acc += acc < w;		/* 2^64 == 1 modulo 0xffff */
	}
	if (len > 0) {
		/* the tail at the same byte positions, zero-padded */
		w = 0;
		memcpy(&w, b, len);
		acc += w;
		acc += acc < w;
	}
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return add_carry32(sum, NATIVE_TO_BE16((uint16_t)acc));
}

uint16_t
ps_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t
ps_csum_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len)
{
	uint32_t sum = proto + (l4_len >> 16) + (l4_len & 0xffff);

	sum += ps_get_be16(src) + ps_get_be16(src + 2);
	sum += ps_get_be16(dst) + ps_get_be16(dst + 2);
	return sum;
}

uint32_t
ps_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len)
{
	uint32_t sum = proto + (l4_len >> 16) + (l4_len & 0xffff);
	unsigned int i;

	for (i = 0; i < 16; i += 2)
		sum += ps_get_be16(src + i) + ps_get_be16(dst + i);
	return sum;
}

uint16_t
ps_csum_update16(uint16_t csum, uint16_t old_val, uint16_t new_val)
{
	uint32_t sum = (uint16_t)~csum + (uint32_t)(uint16_t)~old_val + new_val;

	return ps_csum_fold(sum);
}

uint16_t
ps_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
	uint32_t sum = (uint16_t)~csum;

	sum += (uint16_t)~(old_val >> 16) + (uint32_t)(uint16_t)~old_val;
	sum += (new_val >> 16) + (new_val & 0xffff);
	return ps_csum_fold(sum);
}

bool
ps_pkt_ip4_csum_ok(const uint8_t *frame, const struct ps_pkt *p)
{
	if (p->l3 != PS_L3_IPV4)
		return true;
	return ps_csum_fold(ps_csum_partial(frame + p->l3_off, p->l3_hdr_len, 0)) == 0;
}

/* Bytes covered by the L4 checksum, from l4_off. */
static uint32_t
l4_csum_len(const struct ps_pkt *p)
{
	if (p->ip_proto == PS_IPPROTO_UDP)
		return PS_UDP_HLEN + p->payload_len;
	return p->l3_end - p->l4_off;
}

uint32_t
ps_pkt_l4_sum(const uint8_t *frame, const struct ps_pkt *p)
{
	const uint8_t *dst;
	uint32_t n, sum;

	if (!p->has_l4 || p->is_frag)
		return 0;
	n = l4_csum_len(p);
	if (p->l3 == PS_L3_IPV4) {
		sum = p->ip_proto == PS_IPPROTO_ICMP ? 0 :
			ps_csum_pseudo4(p->src.b, p->dst.b, p->ip_proto, n);
	} else {
		dst = p->ip6_final_dst_off != 0 ? frame + p->ip6_final_dst_off : p->dst.b;
		sum = ps_csum_pseudo6(p->src.b, dst, p->ip_proto, n);
	}
	return ps_csum_partial(frame + p->l4_off, n, sum);
}

bool
ps_pkt_l4_csum_ok(const uint8_t *frame, const struct ps_pkt *p)
{
	if (!p->has_l4 || p->is_frag)
		return true;
	if (p->ip_proto == PS_IPPROTO_UDP && ps_get_be16(frame + p->l4_off + 6) == 0)
		return p->l3 == PS_L3_IPV4;
	return ps_csum_fold(ps_pkt_l4_sum(frame, p)) == 0;
}
