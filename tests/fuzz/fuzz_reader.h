/* SPDX-License-Identifier: BSD-3-Clause
 * Reading a fuzzer's input as operands: big-endian integers, missing bytes
 * read as 0, so every input is a valid program.
 */
#ifndef FUZZ_READER_H
#define FUZZ_READER_H

#include <stddef.h>
#include <stdint.h>

struct reader {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t
rd8(struct reader *r)
{
	uint8_t v;

	if (r->n == 0)
		return 0;
	v = *r->p++;
	r->n--;
	return v;
}

static inline uint16_t
rd16(struct reader *r)
{
	uint16_t hi = rd8(r);	/* sequenced: the high byte comes first */

	return (uint16_t)(hi << 8 | rd8(r));
}

static inline uint32_t
rd32(struct reader *r)
{
	uint32_t hi = rd16(r);

	return hi << 16 | rd16(r);
}

#endif /* FUZZ_READER_H */
