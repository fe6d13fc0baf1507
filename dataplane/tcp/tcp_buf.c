/* SPDX-License-Identifier: BSD-3-Clause
 * Byte buffers as chains of fixed-size chunks from the configured
 * allocator. A chain covers a byte range starting at head_off in its first
 * chunk; chunks are added on demand when a write reaches past the covered
 * range and freed as soon as consumption passes them, so an idle endpoint
 * holds no chunk at all. Offsets are relative to the first byte in use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_priv.h"

struct ps_tcp_chunk {
	struct ps_tcp_chunk *next;
	uint8_t data[];
};

static void *
chunk_alloc(const struct ps_tcp_cfg *cfg)
{
	size_t sz = sizeof(struct ps_tcp_chunk) + cfg->chunk_size;

	if (cfg->alloc != NULL)
		return cfg->alloc(cfg->alloc_ctx, sz);
	return malloc(sz);
}

static void
chunk_free(const struct ps_tcp_cfg *cfg, struct ps_tcp_chunk *c)
{
	if (cfg->alloc != NULL) {
		if (cfg->free != NULL)
			cfg->free(cfg->alloc_ctx, c);
		return;
	}
	free(c);
}

/* Chunk holding byte off and the offset of that byte in it. */
static struct ps_tcp_chunk *
chunk_at(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b, uint32_t off,
	 uint32_t *in)
{
	struct ps_tcp_chunk *c = b->head;
	uint32_t pos = b->head_off + off;

	while (pos >= cfg->chunk_size) {
		c = c->next;
		pos -= cfg->chunk_size;
	}
	*in = pos;
	return c;
}

/*
 * Copy n bytes from src to offset off, adding chunks as needed. Takes
 * nothing; returns 0 or -ENOMEM (the buffer is unchanged in length then,
 * chunks added before the failure stay and are freed with the rest).
 */
int
ps_tcp_buf_write(const struct ps_tcp_cfg *cfg, struct ps_tcp_buf *b, uint32_t off,
		 const uint8_t *src, uint32_t n)
{
	struct ps_tcp_chunk *c;
	uint32_t in, k;

	if (n == 0)
		return 0;
	while (b->span < off + n) {
		c = chunk_alloc(cfg);
		if (c == NULL)
			return -ENOMEM;
		c->next = NULL;
		if (b->tail == NULL)
			b->head = c;
		else
			b->tail->next = c;
		b->tail = c;
		b->span += cfg->chunk_size;
	}
	c = chunk_at(cfg, b, off, &in);
	while (n > 0) {
		k = tcp_min32(n, cfg->chunk_size - in);
		memcpy(c->data + in, src, k);
		src += k;
		n -= k;
		in = 0;
		c = c->next;
	}
	return 0;
}

/* Copy n bytes at offset off (inside the covered range) into dst. */
void
ps_tcp_buf_read(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b, uint32_t off,
		uint8_t *dst, uint32_t n)
{
	struct ps_tcp_chunk *c;
	uint32_t in, k;

	if (n == 0)
		return;
	c = chunk_at(cfg, b, off, &in);
	while (n > 0) {
		k = tcp_min32(n, cfg->chunk_size - in);
		memcpy(dst, c->data + in, k);
		dst += k;
		n -= k;
		in = 0;
		c = c->next;
	}
}

/* Point *p at the first byte; returns the contiguous bytes covered there. */
uint32_t
ps_tcp_buf_peek(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b, const uint8_t **p)
{
	if (b->head == NULL) {
		*p = NULL;
		return 0;
	}
	*p = b->head->data + b->head_off;
	return cfg->chunk_size - b->head_off;
}

/*
 * Drop the first n bytes; free the chunks passed. now_empty: nothing
 * remains in use, free every chunk.
 */
void
ps_tcp_buf_consume(const struct ps_tcp_cfg *cfg, struct ps_tcp_buf *b, uint32_t n,
		   bool now_empty)
{
	struct ps_tcp_chunk *c;

	if (now_empty) {
		ps_tcp_buf_release(cfg, b);
		return;
	}
	b->head_off += n;
	b->span -= n;
	while (b->head != NULL && b->head_off >= cfg->chunk_size) {
		c = b->head;
		b->head = c->next;
		b->head_off -= cfg->chunk_size;
		chunk_free(cfg, c);
	}
	if (b->head == NULL) {
		b->tail = NULL;
		b->head_off = 0;
		b->span = 0;
	}
}

/* Free every chunk; the buffer is empty afterwards. */
void
ps_tcp_buf_release(const struct ps_tcp_cfg *cfg, struct ps_tcp_buf *b)
{
	struct ps_tcp_chunk *c, *next;

	for (c = b->head; c != NULL; c = next) {
		next = c->next;
		chunk_free(cfg, c);
	}
	b->head = NULL;
	b->tail = NULL;
	b->head_off = 0;
	b->span = 0;
}

/* Bytes of chunk payload held. */
size_t
ps_tcp_buf_mem(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b)
{
	(void)cfg;
	if (b->head == NULL)
		return 0;
	return (size_t)b->span + b->head_off;
}
