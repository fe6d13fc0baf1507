/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the frame parser, the checksum checkers, IPv4
 * fragmentation and ps_build_finalize(). The input is one Ethernet frame;
 * its first byte also picks the fragmentation MTU.
 *
 * Invariants: an OK parse keeps every offset inside the frame and the IP
 * datagram; fragmenting an OK IPv4 frame yields fragments that parse OK,
 * fit the MTU and give back the original IP payload; a frame finalize
 * accepts parses OK with good checksums.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_frag.h"
#include "ps_pkt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static void
check_invariants(const struct ps_pkt *p, uint32_t len)
{
	CHECK(p->n_vlans <= PS_VLAN_MAX);
	CHECK(p->l3_off <= len);
	CHECK(p->l3_end <= len);
	CHECK((uint32_t)p->l3_off + p->l3_hdr_len <= p->l3_end);
	CHECK((uint32_t)p->l4_off + p->l4_hdr_len <= p->l3_end);
	CHECK(p->payload_off + p->payload_len <= p->l3_end);
	CHECK(p->payload_off >= p->l3_off);
	CHECK(p->n_sack <= PS_TCP_SACK_MAX);
	CHECK(p->ip6_final_dst_off == 0 || p->ip6_final_dst_off + 16u <= p->l3_end);
	if (p->has_l4)
		CHECK(p->frag_off_bytes == 0 && p->l4_off == p->l3_off + p->l3_hdr_len);
}

/* The datagram being fragmented, to check the fragments against. */
struct frag_check {
	const uint8_t *frame;
	uint32_t len;
	const struct ps_pkt *orig;
	const uint8_t *data;	/* the original IP payload */
	uint32_t end;		/* fragment offset + length of the original */
	uint32_t next_off;	/* fragment offset the next fragment must have */
	uint16_t mtu;
	int n;
};

static int
frag_emit(void *ctx, const uint8_t *frag, uint32_t frag_len)
{
	struct frag_check *fc = ctx;
	const struct ps_pkt *o = fc->orig;
	uint32_t data_len;
	struct ps_pkt p;

	fc->n++;
	CHECK(ps_pkt_parse(frag, frag_len, &p) == PS_PKT_OK);
	check_invariants(&p, frag_len);
	CHECK(ps_pkt_ip4_csum_ok(frag, &p));
	CHECK(p.l3 == PS_L3_IPV4 && p.l3_hdr_len == o->l3_hdr_len && !p.df);
	CHECK(p.l3_end == frag_len && p.l3_end - p.l3_off <= fc->mtu);
	CHECK(p.frag_id == o->frag_id && p.ip_proto == o->ip_proto && p.ttl == o->ttl);
	CHECK(memcmp(frag, fc->frame, o->l3_off) == 0);
	CHECK(p.frag_off_bytes == fc->next_off);
	data_len = p.l3_end - p.l3_off - p.l3_hdr_len;
	CHECK(fc->next_off + data_len <= fc->end);
	CHECK(memcmp(frag + p.l3_off + p.l3_hdr_len,
		     fc->data + (fc->next_off - o->frag_off_bytes), data_len) == 0);
	fc->next_off += data_len;
	if (fc->next_off == fc->end)
		CHECK(p.more_frags == o->more_frags);
	else
		CHECK(p.more_frags && data_len % 8 == 0);
	return 0;
}

/* A datagram that fits comes back as the frame itself. */
static int
whole_emit(void *ctx, const uint8_t *frag, uint32_t frag_len)
{
	struct frag_check *fc = ctx;

	fc->n++;
	CHECK(frag_len == fc->len && memcmp(frag, fc->frame, frag_len) == 0);
	return 0;
}

static void
fragment(const uint8_t *frame, uint32_t len, const struct ps_pkt *p, uint16_t mtu)
{
	static uint8_t scratch[PS_ETH_HLEN + PS_VLAN_MAX * PS_VLAN_HLEN + 65535];
	uint32_t ip_payload = p->l3_end - p->l3_off - p->l3_hdr_len;
	struct frag_check fc = {
		.frame = frame, .len = len, .orig = p, .data = frame + p->l3_off + p->l3_hdr_len,
		.end = p->frag_off_bytes + ip_payload, .next_off = p->frag_off_bytes,
		.mtu = mtu,
	};
	int rc;

	if (p->l3_end - p->l3_off <= mtu) {
		rc = ps_ip4_fragment(frame, len, p, mtu, scratch, sizeof(scratch), whole_emit, &fc);
		CHECK(rc == 1 && fc.n == 1);
		return;
	}
	rc = ps_ip4_fragment(frame, len, p, mtu, scratch, sizeof(scratch), frag_emit, &fc);
	if (p->df) {
		CHECK(rc == -EMSGSIZE && fc.n == 0);
		return;
	}
	if (mtu < p->l3_hdr_len + 8u) {
		CHECK(rc == -EINVAL && fc.n == 0);
		return;
	}
	CHECK(rc == fc.n && rc >= 2);
	CHECK(fc.next_off == fc.end);
}

/* After ps_build_finalize() succeeds, the frame parses and checks OK. */
static void
finalize(const uint8_t *data, uint32_t len)
{
	uint8_t *frame = malloc(len);
	struct ps_pkt p;

	CHECK(frame != NULL);
	memcpy(frame, data, len);
	if (ps_build_finalize(frame, len) == 0) {
		CHECK(ps_pkt_parse(frame, len, &p) == PS_PKT_OK);
		CHECK(p.l3 != PS_L3_NONE && p.l3_end == len);
		CHECK(ps_pkt_ip4_csum_ok(frame, &p));
		CHECK(ps_pkt_l4_csum_ok(frame, &p));
	}
	free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len = (uint32_t)size;
	struct ps_pkt p;

	/* libFuzzer hands over an exact-size heap copy: ASan sees any overread */
	if (size > 65535 + 64)
		return 0;
	if (ps_pkt_parse(data, len, &p) == PS_PKT_OK) {
		check_invariants(&p, len);
		(void)ps_pkt_ip4_csum_ok(data, &p);
		(void)ps_pkt_l4_csum_ok(data, &p);
		/* MTU 28..283: small enough to cut, sometimes too small (-EINVAL) */
		if (p.l3 == PS_L3_IPV4)
			fragment(data, len, &p, (uint16_t)(28 + data[0]));
	}
	if (size > 0)
		finalize(data, len);
	return 0;
}
