/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: growable byte buffer (ctld_buf.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctld_buf.h"

void
ctld_buf_init(struct ctld_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
ctld_buf_free(struct ctld_buf *b)
{
	size_t max = b->max;

	free(b->data);
	ctld_buf_init(b, max);
}

void
ctld_buf_reset(struct ctld_buf *b)
{
	b->len = 0;
	b->failed = false;
}

/* Room for n more bytes plus a NUL, so data is always a C string. */
static bool
reserve(struct ctld_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return false;
	if (n > SIZE_MAX / 2 - b->len - 1 || (b->max != 0 && b->len + n > b->max)) {
		b->failed = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap != 0 ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void
ctld_buf_add(struct ctld_buf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
ctld_buf_puts(struct ctld_buf *b, const char *s)
{
	ctld_buf_add(b, s, strlen(s));
}

void
ctld_buf_printf(struct ctld_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
