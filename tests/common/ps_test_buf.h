/* SPDX-License-Identifier: BSD-3-Clause
 * A growable byte queue for the test harnesses (unit tests, fuzz
 * harnesses, benchmarks): bytes are appended at the end and consumed from
 * the front; [off, len) are pending. Out of memory aborts: a harness has
 * nothing better to do.
 */
#ifndef PS_TEST_BUF_H
#define PS_TEST_BUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	uint8_t *p;
	size_t len, off, cap;	/* bytes [off, len) are pending */
};

static inline void
buf_add(struct buf *b, const void *d, size_t n)
{
	if (n == 0)
		return;
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n) {
		if (b->off > 0) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->cap - b->len < n) {
			b->cap = (b->len + n) * 2;
			b->p = realloc(b->p, b->cap);
			if (b->p == NULL)
				abort();
		}
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline size_t
buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

static inline void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

#endif /* PS_TEST_BUF_H */
