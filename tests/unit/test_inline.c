/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: a decrypted flow's leg through an inline tool (ps_inline).
 *
 * The tool is simulated: frames out of port A come back in at port B and
 * the other way round, each parsed and checksum-checked as the data plane
 * does, optionally dropped, rewritten or answered with a RST, as an IPS
 * may. Time is simulated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_inline.h"
#include "ps_pkt.h"

#define QMAX		1024
#define FRAME_MAX	2048

struct frame {
	bool out_a;			/* left through port A (arrives at B) */
	uint32_t len;
	uint8_t buf[FRAME_MAX];
};

struct tool {
	uint64_t now;
	struct ps_tcp_cfg cfg;
	struct ps_tcp_stats stats;
	struct ps_inline il;
	struct ps_proxy_io io;
	struct ps_tcp_out out;
	uint8_t *scratch;
	struct frame q[QMAX];
	unsigned int qn;
	/* what the tool does to data segments from A to B */
	const char *drop_prefix;	/* drop those whose payload starts so */
	const char *reset_prefix;	/* answer those with a RST to A */
	char rewrite_from, rewrite_to;	/* change these bytes */
	unsigned int dropped, bad;
};

static void
emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	struct tool *t = ctx;

	assert_true(t->qn < QMAX && len <= FRAME_MAX);
	t->q[t->qn].out_a = side == PS_SIDE_CLI;
	t->q[t->qn].len = len;
	memcpy(t->q[t->qn].buf, frame, len);
	t->qn++;
}

static void
spec(struct ps_tcp_frame_spec *s, bool c2s)
{
	static const uint8_t cmac[6] = { 2, 0, 0, 0, 0, 1 }, smac[6] = { 2, 0, 0, 0, 0, 2 };

	memset(s, 0, sizeof(*s));
	memcpy(s->eth.src, c2s ? cmac : smac, 6);
	memcpy(s->eth.dst, c2s ? smac : cmac, 6);
	s->l3 = PS_L3_IPV4;
	s->src.b[0] = 198; s->src.b[1] = 18; s->src.b[3] = c2s ? 1 : 2;
	s->dst.b[0] = 198; s->dst.b[1] = 18; s->dst.b[3] = c2s ? 2 : 1;
	s->ttl = 64;
	s->df = true;
	s->tcp.sport = c2s ? 40000 : 443;
	s->tcp.dport = c2s ? 443 : 40000;
}

static struct tool *
tool_new(void)
{
	struct tool *t = calloc(1, sizeof(*t));
	struct ps_tcp_frame_spec c2s, s2c;

	assert_non_null(t);
	t->scratch = malloc(PS_PROXY_SCRATCH);
	assert_non_null(t->scratch);
	ps_tcp_cfg_defaults(&t->cfg);
	t->cfg.syn_retries = 2;
	t->cfg.data_retries = 3;
	t->io.emit = emit;
	t->io.ctx = t;
	t->io.scratch = t->scratch;
	t->io.out = &t->out;
	t->now = 1000000;
	spec(&c2s, true);
	spec(&s2c, false);
	assert_int_equal(ps_inline_open(&t->il, &t->cfg, &t->stats, &c2s, &s2c, 1000, 5000000,
					t->now, &t->io), 0);
	return t;
}

static void
tool_free(struct tool *t)
{
	ps_inline_free(&t->il);
	free(t->scratch);
	free(t);
}

/* A RST answering frame f (a segment from A), as the tool sends it back to A. */
static void
reset_back(struct tool *t, const struct ps_pkt *p)
{
	struct ps_tcp_frame_spec r;
	uint8_t buf[256];
	int len;

	spec(&r, false);
	r.tcp.seq = p->ack;
	r.tcp.flags = PS_TCP_RST;
	len = ps_build_tcp_frame(buf, sizeof(buf), &r, NULL, 0);
	assert_true(len > 0);
	assert_true(t->qn < QMAX);
	t->q[t->qn].out_a = false;	/* arrives at A */
	t->q[t->qn].len = (uint32_t)len;
	memcpy(t->q[t->qn].buf, buf, (size_t)len);
	t->qn++;
}

/* Carry every queued frame across the tool; returns how many. */
static unsigned int
pass(struct tool *t)
{
	unsigned int moved = 0;

	while (t->qn > 0) {
		struct frame f = t->q[0];
		struct ps_pkt p;

		memmove(t->q, t->q + 1, (t->qn - 1) * sizeof(t->q[0]));
		t->qn--;
		if (ps_pkt_parse(f.buf, f.len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(f.buf, &p)) {
			t->bad++;
			continue;
		}
		if (f.out_a && p.payload_len > 0) {
			const char *pl = (const char *)f.buf + p.payload_off;

			if (t->reset_prefix != NULL &&
			    strncmp(pl, t->reset_prefix, strlen(t->reset_prefix)) == 0) {
				reset_back(t, &p);
				t->dropped++;
				continue;
			}
			if (t->drop_prefix != NULL &&
			    strncmp(pl, t->drop_prefix, strlen(t->drop_prefix)) == 0) {
				t->dropped++;
				continue;
			}
			if (t->rewrite_from != 0) {
				uint32_t i;

				for (i = 0; i < p.payload_len; i++) {
					uint8_t *b = f.buf + p.payload_off + (i & ~1u);
					uint8_t *c = f.buf + p.l4_off + 16;
					uint16_t old, new, sum;

					if (f.buf[p.payload_off + i] != (uint8_t)t->rewrite_from)
						continue;
					/* Changed, with the checksum fixed (RFC 1624). */
					old = (uint16_t)(b[0] << 8 | b[1]);
					f.buf[p.payload_off + i] = (uint8_t)t->rewrite_to;
					new = (uint16_t)(b[0] << 8 | b[1]);
					sum = ps_csum_update16((uint16_t)(c[0] << 8 | c[1]), old, new);
					c[0] = (uint8_t)(sum >> 8);
					c[1] = (uint8_t)sum;
				}
				assert_true(ps_pkt_l4_csum_ok(f.buf, &p));
			}
		}
		t->now += 100;
		(void)ps_inline_input(&t->il, f.out_a, f.buf, &p, t->now, &t->io);
		moved++;
	}
	return moved;
}

/* Run the tool and the timers until nothing moves. */
static void
settle(struct tool *t)
{
	unsigned int i;

	for (i = 0; i < 200; i++) {
		if (pass(t) == 0) {
			uint64_t d = ps_inline_deadline(&t->il);

			if (d == UINT64_MAX || d > t->now + 2000000)
				return;
			t->now = d;
			ps_inline_timer(&t->il, t->now, &t->io);
		}
	}
}

static size_t
drain(struct tool *t, int dir, char *out, size_t cap)
{
	const uint8_t *p;
	uint32_t k;
	size_t n = 0;

	while ((k = ps_inline_peek(&t->il, dir, &p)) > 0 && n + k <= cap) {
		memcpy(out + n, p, k);
		n += k;
		ps_inline_consume(&t->il, dir, k, t->now, &t->io);
		settle(t);
	}
	return n;
}

/* The tool forwards: the leg comes up, bytes cross both ways, FINs end it. */
static void
test_through(void **state)
{
	struct tool *t = tool_new();
	static char big[200000], got[200000];
	size_t i, off = 0, n = 0;

	(void)state;
	assert_false(ps_inline_up(&t->il));
	assert_int_equal(ps_inline_room(&t->il, 0), 0);	/* nothing before the leg is up */
	settle(t);
	assert_true(ps_inline_up(&t->il));
	assert_int_equal(t->bad, 0);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	/* 200 KB client->server, more than the buffers: back-pressure. */
	while (off < sizeof(big) || n < sizeof(big)) {
		uint32_t room = ps_inline_room(&t->il, 0);

		if (off < sizeof(big) && room > 0) {
			uint32_t k = (uint32_t)(sizeof(big) - off) < room ?
				     (uint32_t)(sizeof(big) - off) : room;

			assert_int_equal(ps_inline_push(&t->il, 0, (const uint8_t *)big + off, k,
							t->now, &t->io), k);
			off += k;
		}
		settle(t);
		n += drain(t, 0, got + n, sizeof(got) - n);
		assert_true(off <= sizeof(big));
	}
	assert_memory_equal(big, got, sizeof(big));
	assert_int_equal(t->il.moved[0], sizeof(big));
	/* server->client */
	assert_int_equal(ps_inline_push(&t->il, 1, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17,
					t->now, &t->io), 17);
	settle(t);
	n = drain(t, 1, got, sizeof(got));
	assert_int_equal(n, 17);
	assert_memory_equal(got, "HTTP/1.1 200 OK\r\n", 17);
	/* Both ends: FIN into the tool, FIN out of it. */
	assert_false(ps_inline_eof(&t->il, 0));
	ps_inline_shutdown(&t->il, 0, t->now, &t->io);
	ps_inline_shutdown(&t->il, 1, t->now, &t->io);
	settle(t);
	assert_true(ps_inline_eof(&t->il, 0));
	assert_true(ps_inline_eof(&t->il, 1));
	assert_int_equal(ps_inline_room(&t->il, 0), 0);
	assert_false(ps_inline_dead(&t->il));
	assert_int_equal(t->bad, 0);
	tool_free(t);
}

/* What the tool changes goes on changed. */
static void
test_rewrite(void **state)
{
	struct tool *t = tool_new();
	char got[64];

	(void)state;
	settle(t);
	t->rewrite_from = 'x';
	t->rewrite_to = 'X';
	assert_int_equal(ps_inline_push(&t->il, 0, (const uint8_t *)"GET /xyz", 8, t->now, &t->io), 8);
	settle(t);
	assert_int_equal(drain(t, 0, got, sizeof(got)), 8);
	assert_memory_equal(got, "GET /Xyz", 8);
	tool_free(t);
}

/* What the tool drops never comes out; the leg stays up meanwhile. */
static void
test_drop(void **state)
{
	struct tool *t = tool_new();
	const uint8_t *p;

	(void)state;
	settle(t);
	t->drop_prefix = "GET /evil";
	assert_int_equal(ps_inline_push(&t->il, 0, (const uint8_t *)"GET /evil", 9, t->now, &t->io),
			 9);
	(void)pass(t);
	assert_true(t->dropped >= 1);
	assert_int_equal(ps_inline_peek(&t->il, 0, &p), 0);
	/* The other direction still works meanwhile. */
	assert_int_equal(ps_inline_push(&t->il, 1, (const uint8_t *)"hello", 5, t->now, &t->io), 5);
	(void)pass(t);
	assert_int_equal(ps_inline_peek(&t->il, 1, &p), 5);
	assert_memory_equal(p, "hello", 5);
	ps_inline_consume(&t->il, 1, 5, t->now, &t->io);
	(void)pass(t);
	/* It keeps dropping the retransmissions: the leg gives up, reset. */
	while (!ps_inline_dead(&t->il) && ps_inline_deadline(&t->il) != UINT64_MAX) {
		t->now = ps_inline_deadline(&t->il);
		ps_inline_timer(&t->il, t->now, &t->io);
		(void)pass(t);
	}
	assert_true(ps_inline_dead(&t->il));
	assert_int_equal(ps_inline_peek(&t->il, 0, &p), 0);
	tool_free(t);
}

/* A RST from the tool kills the leg at once. */
static void
test_reset(void **state)
{
	struct tool *t = tool_new();

	(void)state;
	settle(t);
	t->reset_prefix = "GET /evil";
	assert_int_equal(ps_inline_push(&t->il, 0, (const uint8_t *)"GET /evil", 9, t->now, &t->io),
			 9);
	(void)pass(t);
	(void)pass(t);
	assert_true(ps_inline_dead(&t->il));
	assert_int_equal(ps_inline_room(&t->il, 0), 0);
	tool_free(t);
}

/* No tool on the wire: the leg never comes up and gives up, dead, not up. */
static void
test_silent(void **state)
{
	struct tool *t = tool_new();

	(void)state;
	while (!ps_inline_dead(&t->il) && ps_inline_deadline(&t->il) != UINT64_MAX) {
		t->qn = 0;	/* the tool is down: every frame is lost */
		t->now = ps_inline_deadline(&t->il);
		ps_inline_timer(&t->il, t->now, &t->io);
	}
	assert_true(ps_inline_dead(&t->il));
	assert_false(t->il.flags & PS_INLINE_F_UP);
	ps_inline_abort(&t->il, t->now, &t->io);
	assert_true(ps_inline_done(&t->il));
	tool_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_through),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_silent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
