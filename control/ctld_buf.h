/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: a growable byte buffer for HTTP responses and the
 * metrics page. Appends never fail half-way silently: after an allocation
 * failure the buffer is marked and every later append is a no-op, so a
 * caller checks once, at the end.
 */
#ifndef CTLD_BUF_H
#define CTLD_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct ctld_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;	/* 0: unlimited */
	bool failed;	/* out of memory or over max: contents incomplete */
};

/* An empty buffer that refuses to grow past max bytes (0: no limit). */
void ctld_buf_init(struct ctld_buf *b, size_t max);

/* Release the storage; b is empty and usable again. */
void ctld_buf_free(struct ctld_buf *b);

/* Forget the contents, keep the storage. */
void ctld_buf_reset(struct ctld_buf *b);

/* Append n bytes of p. */
void ctld_buf_add(struct ctld_buf *b, const void *p, size_t n);

/* Append the NUL-terminated s. */
void ctld_buf_puts(struct ctld_buf *b, const char *s);

/* Append printf-formatted text. */
void ctld_buf_printf(struct ctld_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* CTLD_BUF_H */
