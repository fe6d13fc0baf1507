/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the TCP endpoint. The input is a program: the first
 * bytes pick the opening (active or passive) and the configuration, then
 * each operation is an opcode and its operands: a segment with arbitrary
 * flags, numbers (absolute or relative to the endpoint's state), options
 * and payload; a time advance; application writes, reads, peeks, close,
 * abort, accept, refuse.
 *
 * Invariants after every operation: the state is valid; snd_una <= snd_nxt
 * <= snd_max in sequence space; buffers within their caps; deadlines in
 * the future once timers ran; every emitted segment has encodable options,
 * at most one MSS of payload, and exactly the bytes the application wrote
 * at that position of the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_build.h"
#include "ps_tcp.h"
#include "fuzz_reader.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define SLT(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SLEQ(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)

#define SHADOW_MAX	(1u << 20)	/* bytes of the written stream remembered */

struct fz {
	struct ps_tcp_cfg cfg;
	struct ps_tcp_stats st;
	struct ps_tcp_ep ep;
	struct ps_tcp_out out;
	uint64_t now;
	uint8_t *shadow;		/* the bytes written, by stream offset */
	uint32_t written;
	uint32_t stream_seq;		/* sequence number of stream offset 0 */
	bool have_stream;
	uint8_t payload[4096];
};

static void
check_out(struct fz *f)
{
	const struct ps_tcp_ep *ep = &f->ep;
	uint8_t opt[64], bytes[70000];
	unsigned int i;

	CHECK(f->out.n_segs <= PS_TCP_OUT_SEGS);
	for (i = 0; i < f->out.n_segs; i++) {
		const struct ps_tcp_seg *s = &f->out.segs[i];
		uint32_t off;

		CHECK(ps_build_tcp_options(opt, sizeof(opt), &s->tcp) >= 0);
		if (s->tcp.flags & PS_TCP_RST)
			CHECK(s->len == 0);
		if (s->len == 0)
			continue;
		CHECK(!(s->tcp.flags & (PS_TCP_SYN | PS_TCP_RST)));
		CHECK(s->len <= ep->snd_mss);
		CHECK(f->have_stream);
		/* data only from what was written, still in the buffer */
		CHECK(SLEQ(ep->snd_data_seq, s->tcp.seq));
		CHECK(SLEQ(s->tcp.seq + s->len, ep->snd_data_seq + ep->snd_len));
		off = s->tcp.seq - f->stream_seq;
		CHECK(off + s->len <= f->written);
		ps_tcp_copy_payload(ep, s, bytes);
		if (off + s->len <= SHADOW_MAX)
			CHECK(memcmp(bytes, f->shadow + off, s->len) == 0);
	}
}

static void
check_ep(struct fz *f, bool timers_ran)
{
	const struct ps_tcp_ep *ep = &f->ep;
	const struct ps_tcp_cfg *c = &f->cfg;
	uint64_t d = ps_tcp_next_deadline(ep);
	uint64_t horizon = (uint64_t)c->rto_max_us + c->time_wait_us + c->keepalive_idle_us +
			   c->keepalive_intvl_us + c->idle_timeout_us + c->delack_us;

	CHECK(ep->state < PS_TCP_ST_MAX);
	if (ep->state != PS_TCP_ST_CLOSED) {
		CHECK(SLEQ(ep->snd_una, ep->snd_nxt));
		CHECK(SLEQ(ep->snd_nxt, ep->snd_max));
	}
	CHECK(ep->snd_len <= c->snd_buf);
	CHECK(ps_tcp_readable(ep) <= c->rcv_buf);
	CHECK(SLEQ(ep->rcv_read_seq, ep->rcv_nxt) || ep->state == PS_TCP_ST_SYN_SENT ||
	      ep->state == PS_TCP_ST_CLOSED);
	CHECK(ps_tcp_mem(ep) <= (size_t)c->snd_buf + c->rcv_buf + 2u * c->chunk_size);
	CHECK(ep->n_ooo <= PS_TCP_OOO_MAX && ep->n_sb <= PS_TCP_SB_MAX);
	if (d != UINT64_MAX) {
		CHECK(d <= f->now + horizon);
		if (timers_ran)
			CHECK(d > f->now);
	}
	if (ep->state == PS_TCP_ST_CLOSED)
		CHECK(d == UINT64_MAX);
	check_out(f);
	/* drain a full output the way the caller would */
	while (f->out.more) {
		ps_tcp_out_reset(&f->out);
		ps_tcp_output(&f->ep, f->now, &f->out);
		check_out(f);
	}
	ps_tcp_out_reset(&f->out);
}

static void
note_stream(struct fz *f)
{
	if (!f->have_stream && f->ep.state != PS_TCP_ST_CLOSED) {
		f->stream_seq = f->ep.iss + 1;
		f->have_stream = true;
	}
}

static void
op_segment(struct fz *f, struct reader *r)
{
	struct ps_pkt p;
	uint8_t mode = rd8(r), optb = rd8(r);
	uint32_t seq = rd32(r), ack = rd32(r), len;
	unsigned int i;

	memset(&p, 0, sizeof(p));
	p.tcp_flags = rd8(r);
	p.window = rd16(r);
	/* relative numbers reach the interesting states; absolute ones test the rest */
	if (mode & 1)
		p.seq = f->ep.rcv_nxt + (uint32_t)(int32_t)(int16_t)seq;
	else
		p.seq = seq;
	if (mode & 2)
		p.ack = f->ep.snd_una + (uint32_t)(int32_t)(int16_t)ack;
	else
		p.ack = ack;
	if (optb & 1) {
		p.has_mss = true;
		p.mss = rd16(r);
	}
	if (optb & 2) {
		p.has_wscale = true;
		p.wscale = rd8(r);
	}
	p.sack_ok = (optb & 4) != 0;
	if (optb & 8) {
		p.has_ts = true;
		p.ts_val = (mode & 4) ? f->ep.ts_recent + rd8(r) : rd32(r);
		p.ts_ecr = rd32(r);
	}
	p.n_sack = (uint8_t)((optb >> 4) % (PS_TCP_SACK_MAX + 1));
	for (i = 0; i < p.n_sack; i++) {
		p.sack[i][0] = f->ep.snd_una + rd16(r);
		p.sack[i][1] = p.sack[i][0] + rd16(r);
	}
	len = rd16(r) % 3000;
	if (len > sizeof(f->payload))
		len = sizeof(f->payload);
	for (i = 0; i < len; i++)
		f->payload[i] = (uint8_t)(i ^ mode);
	p.payload_len = len;
	if (f->ep.state == PS_TCP_ST_CLOSED && !(mode & 8) && (p.tcp_flags & PS_TCP_SYN) &&
	    !(p.tcp_flags & (PS_TCP_ACK | PS_TCP_RST | PS_TCP_FIN)) && !f->have_stream) {
		CHECK(ps_tcp_passive_syn(&f->ep, &p, rd32(r), f->now) == 0);
		note_stream(f);
		return;
	}
	ps_tcp_input(&f->ep, &p, len ? f->payload : NULL, f->now, &f->out);
}

static void
op_write(struct fz *f, struct reader *r)
{
	uint32_t n = rd16(r) % 20000, i;
	uint8_t tmp[20000];
	int w;

	for (i = 0; i < n; i++)
		tmp[i] = (uint8_t)((f->written + i) * 31 + 7);
	w = ps_tcp_write(&f->ep, tmp, n, f->now, &f->out);
	if (w < 0)
		return;
	CHECK((uint32_t)w <= n);
	for (i = 0; i < (uint32_t)w; i++)
		if (f->written + i < SHADOW_MAX)
			f->shadow[f->written + i] = tmp[i];
	f->written += (uint32_t)w;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	static uint8_t shadow[SHADOW_MAX];
	struct fz *f = calloc(1, sizeof(*f));
	uint8_t mode, cb;
	unsigned int steps = 0;
	uint8_t tmp[8192];
	const uint8_t *pk;

	if (f == NULL)
		return 0;
	f->shadow = shadow;
	f->now = 1000000;
	ps_tcp_cfg_defaults(&f->cfg);
	mode = rd8(&r);
	cb = rd8(&r);
	f->cfg.ts_ok = cb & 1;
	f->cfg.sack_ok = (cb & 2) != 0;
	if (cb & 4) {
		f->cfg.snd_buf = 8192;
		f->cfg.rcv_buf = 4096;
		f->cfg.chunk_size = 1024;
	}
	if (cb & 8) {
		f->cfg.keepalive_idle_us = 5000000;
		f->cfg.keepalive_intvl_us = 1000000;
		f->cfg.idle_timeout_us = 60000000;
	}
	if (cb & 16)
		f->cfg.wscale = 14;
	f->cfg.syn_retries = (uint8_t)(1 + ((cb >> 5) & 3));
	f->cfg.data_retries = (uint8_t)(2 + ((cb >> 5) & 3));
	f->cfg.mss = (uint16_t)(200 + rd16(&r) % ((cb & 4) ? 1800 : 9000));
	CHECK(ps_tcp_cfg_check(&f->cfg) == 0);
	ps_tcp_init(&f->ep, &f->cfg, &f->st, (mode & 2) ? PS_TCP_F_IPV6 : 0);
	ps_tcp_out_reset(&f->out);
	if (mode & 1) {
		CHECK(ps_tcp_connect(&f->ep, rd32(&r), f->now, &f->out) == 0);
		note_stream(f);
	}
	check_ep(f, false);

	while (r.n > 0 && steps++ < 2000) {
		uint8_t op = rd8(&r);
		bool timers = false;

		switch (op % 12) {
		case 0:
		case 1:
		case 2:
			op_segment(f, &r);
			break;
		case 3:
			f->now += (uint64_t)rd16(&r) * 1000;
			ps_tcp_timer(&f->ep, f->now, &f->out);
			timers = true;
			break;
		case 4: {
			uint64_t d = ps_tcp_next_deadline(&f->ep);

			if (d != UINT64_MAX && d > f->now)
				f->now = d;
			ps_tcp_timer(&f->ep, f->now, &f->out);
			timers = true;
			break;
		}
		case 5:
			op_write(f, &r);
			break;
		case 6:
			ps_tcp_read(&f->ep, tmp, rd16(&r) % sizeof(tmp), f->now, &f->out);
			break;
		case 7: {
			uint32_t n = ps_tcp_peek(&f->ep, &pk);

			CHECK(n <= ps_tcp_readable(&f->ep));
			CHECK(n == 0 || pk != NULL);
			if (n > 0)
				CHECK(ps_tcp_consume(&f->ep, n, f->now, &f->out) == (int)n);
			break;
		}
		case 8:
			ps_tcp_close(&f->ep, f->now, &f->out);
			break;
		case 9:
			if (rd8(&r) < 16)
				ps_tcp_abort(&f->ep, f->now, &f->out);
			break;
		case 10:
			ps_tcp_accept(&f->ep, f->now, &f->out);
			break;
		case 11:
			if (rd8(&r) < 16)
				ps_tcp_refuse(&f->ep, f->now, &f->out);
			break;
		}
		check_ep(f, timers);
	}
	ps_tcp_free(&f->ep);
	CHECK(ps_tcp_mem(&f->ep) == 0);
	free(f);
	return 0;
}
