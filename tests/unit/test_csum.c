/* SPDX-License-Identifier: BSD-3-Clause
 * Internet checksum unit tests: RFC 1071 sums, pseudo-headers, RFC 1624
 * incremental updates. A plain byte-at-a-time sum is the reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ps_csum.h"

/* RFC 1071 section 3, read as big-endian words; odd byte padded after. */
static uint32_t
ref_sum(const uint8_t *b, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)sum;
}

static uint16_t
ref_csum(const uint8_t *b, size_t len)
{
	return (uint16_t)~ref_sum(b, len);
}

/* xorshift32: fixed seed, same sequence on every run */
static uint32_t rng_state = 0x2545f491;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void
test_rfc1071_example(void **state)
{
	/* RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 */
	static const uint8_t b[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(ps_csum_fold(ps_csum_partial(b, sizeof(b), 0)), 0x220d);
	assert_int_equal(ref_csum(b, sizeof(b)), 0x220d);
	/* byte-order independence does not leak: the sum is big-endian words */
	assert_int_equal(ps_csum_partial(b, 2, 0), 0x0001);
	assert_int_equal(ps_csum_partial(b + 2, 2, 0), 0xf203);
}

static void
test_ip4_header_vector(void **state)
{
	/*
	 * IPv4 ihl 5, total 0x73, DF, ttl 64, UDP, 192.168.0.1 > 192.168.0.199,
	 * header checksum 0xb861
	 */
	static const uint8_t hdr[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	uint8_t h[20];

	(void)state;
	assert_int_equal(ps_csum_fold(ps_csum_partial(hdr, sizeof(hdr), 0)), 0);
	memcpy(h, hdr, sizeof(h));
	h[10] = 0;
	h[11] = 0;
	assert_int_equal(ps_csum_fold(ps_csum_partial(h, sizeof(h), 0)), 0xb861);
}

static void
test_fold_corners(void **state)
{
	(void)state;
	assert_int_equal(ps_csum_fold(0), 0xffff);
	assert_int_equal(ps_csum_fold(0xffff), 0);
	assert_int_equal(ps_csum_fold(0x10000), 0xfffe);	/* carry 1 + 0 */
	assert_int_equal(ps_csum_fold(0x1fffe), 0);		/* 0xfffe + 1 */
	assert_int_equal(ps_csum_fold(0xffffffff), 0);		/* 0xffff + 0xffff, twice */
	assert_int_equal(ps_csum_fold(0x12345678), (uint16_t)~(0x1234 + 0x5678));
	/* a partial sum near 2^32 still carries correctly */
	assert_int_equal(ps_csum_fold(ps_csum_partial("\xff\xff", 2, 0xffffffff)),
			 ps_csum_fold(0xffff + 0xffff));
}

static void
test_odd_lengths_unaligned(void **state)
{
	uint8_t buf[300 + 8];
	size_t len, align, i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng();
	for (align = 0; align < 8; align++) {
		for (len = 0; len <= 300; len++) {
			assert_int_equal(ps_csum_fold(ps_csum_partial(buf + align, len, 0)),
					 ref_csum(buf + align, len));
		}
	}
	/* all 0xff bytes: every carry path of the 64-bit loop */
	memset(buf, 0xff, sizeof(buf));
	for (len = 0; len <= 300; len++)
		assert_int_equal(ps_csum_fold(ps_csum_partial(buf + 1, len, 0)),
				 ref_csum(buf + 1, len));
}

static void
test_chained(void **state)
{
	uint8_t buf[257];
	size_t split, i;
	uint32_t sum;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng();
	for (split = 0; split <= sizeof(buf); split += 2) {
		sum = ps_csum_partial(buf, split, 0);
		sum = ps_csum_partial(buf + split, sizeof(buf) - split, sum);
		assert_int_equal(ps_csum_fold(sum), ref_csum(buf, sizeof(buf)));
	}
}

static void
test_pseudo4(void **state)
{
	static const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };
	/* the same pseudo-header as bytes: src, dst, zero, proto 6, length 20 */
	static const uint8_t ph[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20 };

	(void)state;
	/* 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0006 + 0x0014 */
	assert_int_equal(ps_csum_pseudo4(src, dst, 6, 20), 0x141d);
	assert_int_equal(ps_csum_fold(ps_csum_pseudo4(src, dst, 6, 20)),
			 ref_csum(ph, sizeof(ph)));
}

static void
test_pseudo6(void **state)
{
	/* 2001:db8::1 > 2001:db8::2 */
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	/* as bytes: src, dst, 32-bit length 12, three zeros, next header 17 */
	uint8_t ph[40] = { 0 };

	(void)state;
	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	ph[35] = 12;
	ph[39] = 17;
	/* 2 * (0x2001 + 0x0db8) + 1 + 2 + 17 + 12 */
	assert_int_equal(ps_csum_fold(ps_csum_pseudo6(src, dst, 17, 12)),
			 (uint16_t)~0x5b92);
	assert_int_equal(ps_csum_fold(ps_csum_pseudo6(src, dst, 17, 12)),
			 ref_csum(ph, sizeof(ph)));
	/* a length over 16 bits adds both halves (RFC 8200 upper-layer length) */
	ph[33] = 1;
	ph[35] = 2;
	assert_int_equal(ps_csum_fold(ps_csum_pseudo6(src, dst, 17, 0x10002)),
			 ref_csum(ph, sizeof(ph)));
}

static void
test_rfc1624_corner(void **state)
{
	/*
	 * RFC 1624 section 4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285. The
	 * words now sum to 0xffff, so the checksum is 0x0000; eqn. 2 would
	 * give 0xffff, eqn. 3 gives 0x0000 like a recompute.
	 */
	uint8_t data[4] = { 0x55, 0x55, 0xcd, 0x7a };

	(void)state;
	assert_int_equal(ref_csum(data, sizeof(data)), 0xdd2f);
	assert_int_equal(ps_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
	data[0] = 0x32;
	data[1] = 0x85;
	assert_int_equal(ref_csum(data, sizeof(data)), 0x0000);
	/* and back: from a checksum of 0x0000 */
	assert_int_equal(ps_csum_update16(0x0000, 0x3285, 0x5555), 0xdd2f);
	/* no change keeps the checksum, whatever it is */
	assert_int_equal(ps_csum_update16(0x0000, 0x3285, 0x3285), 0x0000);
	assert_int_equal(ps_csum_update16(0x1234, 0xffff, 0xffff), 0x1234);
	/* 0x0000 and 0xffff are the same word: swapping them changes nothing */
	assert_int_equal(ps_csum_update16(0x1234, 0x0000, 0xffff), 0x1234);
	assert_int_equal(ps_csum_update32(0x1234, 0xffff0000, 0x0000ffff), 0x1234);
}

#define N_WORDS	 24

static uint16_t
recompute(const uint16_t *w)
{
	uint8_t b[2 * N_WORDS];
	unsigned int i;

	for (i = 0; i < N_WORDS; i++) {
		b[2 * i] = (uint8_t)(w[i] >> 8);
		b[2 * i + 1] = (uint8_t)w[i];
	}
	return ps_csum_fold(ps_csum_partial(b, sizeof(b), 0));
}

/* A random word, often one of the corner values. */
static uint16_t
rnd_word(void)
{
	uint32_t r = rng();

	switch (r & 7) {
	case 0:
		return 0x0000;
	case 1:
		return 0xffff;
	default:
		return (uint16_t)(r >> 16);
	}
}

static void
test_update_random(void **state)
{
	uint16_t w[N_WORDS], csum, old;
	unsigned int iter, i, k;
	uint32_t old32, new32;

	(void)state;
	for (iter = 0; iter < 200000; iter++) {
		/* word 0 stays nonzero, as an IP version or pseudo-header does */
		w[0] = 0x4500;
		for (i = 1; i < N_WORDS; i++)
			w[i] = iter & 1 ? rnd_word() : (uint16_t)rng();
		/* every 16th round, make the data sum to 0xffff: checksum 0x0000 */
		if ((iter & 15) == 0) {
			w[N_WORDS - 1] = 0;
			w[N_WORDS - 1] = recompute(w);
			assert_int_equal(recompute(w), 0x0000);
		}
		csum = recompute(w);

		k = 1 + rng() % (N_WORDS - 1);
		old = w[k];
		w[k] = rnd_word();
		assert_int_equal(ps_csum_update16(csum, old, w[k]), recompute(w));
		csum = recompute(w);

		/* a 32-bit field at an even word */
		k = 1 + rng() % (N_WORDS - 2);
		old32 = (uint32_t)w[k] << 16 | w[k + 1];
		new32 = rng();
		if ((iter & 3) == 0)
			new32 = old32 ^ 0xffffffff;
		w[k] = (uint16_t)(new32 >> 16);
		w[k + 1] = (uint16_t)new32;
		assert_int_equal(ps_csum_update32(csum, old32, new32), recompute(w));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example),
		cmocka_unit_test(test_ip4_header_vector),
		cmocka_unit_test(test_fold_corners),
		cmocka_unit_test(test_odd_lengths_unaligned),
		cmocka_unit_test(test_chained),
		cmocka_unit_test(test_pseudo4),
		cmocka_unit_test(test_pseudo6),
		cmocka_unit_test(test_rfc1624_corner),
		cmocka_unit_test(test_update_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
