/* SPDX-License-Identifier: BSD-3-Clause
 * bench_tls, parts (b) and (c): the plainsight stage in memory. A client
 * and a server, each a ps_tcp endpoint carrying a raw OpenSSL SSL over
 * memory BIOs, exchange real Ethernet frames (built, parsed, checksum-
 * verified) through a ps_proxy with the ps_tls_flow stage installed, in
 * simulated time (adapted from tests/unit/test_tls_flow.c). The time spent
 * in what plainsight-dp's worker would run for the flow (parse and checksum
 * of its frames, ps_proxy_open/input/timer with the stage, the frees) is
 * the appliance's share, accumulated in bt_app_t.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_pkt.h"
#include "ps_proxy.h"
#include "ps_tcp.h"
#include "ps_tls_flow.h"

#include "bench_tls.h"
#include "ps_test_buf.h"

#define QMAX		8192u		/* frames in flight, a ring */
#define FRAME_MAX	2048u
#define DELAY_US	100u		/* simulated one-way delay of every hop */
#define WIRE_HIWAT	(256u * 1024u)	/* a peer's unsent TLS bytes before it stops writing */
#define RUN_LIMIT_US	(600ull * 1000000ull)

enum dst { TO_PX_FROM_CLI, TO_PX_FROM_SRV, TO_CLI, TO_SRV };

struct frame {
	uint8_t dst;
	uint64_t at;
	uint32_t len;
	uint8_t buf[FRAME_MAX];
};

/* A peer: a TCP endpoint, an SSL over it, and a tiny application. */
struct peer {
	struct ps_tcp_ep ep;
	struct ps_tcp_frame_spec tmpl;	/* its own frames */
	SSL *ssl;
	bool is_cli, started, dirty;
	bool close_after;		/* client: close once the response is in */
	bool hs_done, failed, sent_notify, got_notify, peer_fin, closed;
	uint64_t rx_len;		/* plaintext received */
	size_t tx_off;			/* of its message (request or response) */
	struct buf wire;		/* TLS bytes not yet taken by TCP */
};

struct sess {
	struct peer cli, srv;
	struct ps_proxy *px;
	struct ps_tls_flow *tf;
	bool px_open;
	uint8_t key[8];			/* upstream identity (server address, port) */
};

struct bt_world {
	uint64_t now;
	struct ps_tcp_cfg cfg;		/* the proxy's endpoints (plainsight-dp's) */
	struct ps_tcp_stats tstats;
	struct ps_tls_flow_stats fstats;
	struct ps_proxy_io io;
	struct ps_tcp_out out, px_out;
	uint8_t *scratch;
	struct frame *q;
	unsigned int qh, qn;
	uint64_t bulk_left;		/* client: plaintext still to write (bulk) */
	uint32_t iss;
	unsigned int bad_frames;
};

static void
queue(struct bt_world *w, enum dst dst, const uint8_t *frame, uint32_t len)
{
	struct frame *f;

	BT_CHECK(w->qn < QMAX && len <= FRAME_MAX);
	f = &w->q[(w->qh + w->qn++) % QMAX];
	f->dst = (uint8_t)dst;
	f->at = w->now + DELAY_US;
	f->len = len;
	memcpy(f->buf, frame, len);
}

/* The proxy's frames: onto the wire (checked by the receiving peer). */
static void
px_emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	queue(ctx, side == PS_SIDE_SRV ? TO_SRV : TO_CLI, frame, len);
}

static void
host_flush(struct bt_world *w, struct peer *h)
{
	uint8_t payload[FRAME_MAX], frame[FRAME_MAX];

	for (;;) {
		bool more = w->out.more;
		uint16_t i;

		for (i = 0; i < w->out.n_segs; i++) {
			const struct ps_tcp_seg *seg = &w->out.segs[i];
			struct ps_tcp_frame_spec spec = h->tmpl;
			int len;

			if (seg->len > 0)
				ps_tcp_copy_payload(&h->ep, seg, payload);
			spec.tcp = seg->tcp;
			spec.tcp.sport = h->tmpl.tcp.sport;
			spec.tcp.dport = h->tmpl.tcp.dport;
			len = ps_build_tcp_frame(frame, sizeof(frame), &spec, payload, seg->len);
			BT_CHECK(len > 0);
			queue(w, h->is_cli ? TO_PX_FROM_CLI : TO_PX_FROM_SRV, frame, (uint32_t)len);
		}
		ps_tcp_out_reset(&w->out);
		if (!more)
			break;
		ps_tcp_output(&h->ep, w->now, &w->out);
	}
}

/* Hand h's pending TLS bytes to its TCP endpoint, as much as it takes. */
static void
host_push(struct bt_world *w, struct peer *h)
{
	while (buf_pending(&h->wire) > 0) {
		int n;

		ps_tcp_out_reset(&w->out);
		n = ps_tcp_write(&h->ep, h->wire.p + h->wire.off, (uint32_t)buf_pending(&h->wire),
				 w->now, &w->out);
		host_flush(w, h);
		if (n <= 0)
			break;
		h->wire.off += (size_t)n;
	}
}

static void
ssl_drain(struct peer *h)
{
	uint8_t b[BT_CHUNK + 512];
	int r;

	while ((r = BIO_read(SSL_get_wbio(h->ssl), b, sizeof(b))) > 0)
		buf_add(&h->wire, b, (size_t)r);
}

/* The TLS application of a peer: handshake, read, its message, close_notify. */
static void
host_tls(struct bt_world *w, struct peer *h)
{
	static const uint8_t chunk[BT_CHUNK];
	uint8_t b[BT_CHUNK];
	const uint8_t *msg = h->is_cli ? bt_req : bt_rsp;
	size_t msg_len = h->is_cli ? BT_REQ_LEN : BT_RSP_LEN, n;
	int r, e;

	if (h->failed)
		return;
	if (!h->hs_done) {
		ERR_clear_error();
		r = SSL_do_handshake(h->ssl);
		if (r == 1)
			h->hs_done = true;
		else if ((e = SSL_get_error(h->ssl, r)) != SSL_ERROR_WANT_READ)
			h->failed = true;
		ssl_drain(h);
		if (!h->hs_done)
			return;
	}
	while (!h->got_notify) {
		ERR_clear_error();
		if (SSL_read_ex(h->ssl, b, sizeof(b), &n) == 1) {
			h->rx_len += n;
			continue;
		}
		e = SSL_get_error(h->ssl, 0);
		if (e == SSL_ERROR_ZERO_RETURN)
			h->got_notify = true;
		else if (e != SSL_ERROR_WANT_READ)
			h->failed = true;
		break;
	}
	ssl_drain(h);
	if (h->failed || h->sent_notify)
		return;
	/* The client asks first; the server answers once it has the request. */
	if (h->tx_off < msg_len && (h->is_cli || h->rx_len >= BT_REQ_LEN)) {
		ERR_clear_error();
		BT_CHECK(SSL_write_ex(h->ssl, msg, msg_len, &n) == 1);
		h->tx_off = msg_len;
		ssl_drain(h);
	}
	while (h->is_cli && w->bulk_left > 0 && buf_pending(&h->wire) < WIRE_HIWAT) {
		size_t k = w->bulk_left < BT_CHUNK ? (size_t)w->bulk_left : BT_CHUNK;

		ERR_clear_error();
		BT_CHECK(SSL_write_ex(h->ssl, chunk, k, &n) == 1);
		w->bulk_left -= k;
		ssl_drain(h);
	}
	if ((h->is_cli && h->close_after && h->rx_len >= BT_RSP_LEN) ||
	    (!h->is_cli && (h->got_notify || h->peer_fin))) {
		ERR_clear_error();
		(void)SSL_shutdown(h->ssl);
		h->sent_notify = true;
		ssl_drain(h);
	}
}

static void
host_app(struct bt_world *w, struct peer *h)
{
	uint8_t b[BT_CHUNK];

	h->dirty = false;
	if (!h->started)
		return;
	while (ps_tcp_readable(&h->ep) > 0) {
		uint32_t got;

		ps_tcp_out_reset(&w->out);
		got = ps_tcp_read(&h->ep, b, sizeof(b), w->now, &w->out);
		host_flush(w, h);
		if (got == 0)
			break;
		BT_CHECK(BIO_write(SSL_get_rbio(h->ssl), b, (int)got) == (int)got);
	}
	if (ps_tcp_peer_closed(&h->ep) && ps_tcp_readable(&h->ep) == 0)
		h->peer_fin = true;
	host_tls(w, h);
	host_push(w, h);
	if (h->closed || buf_pending(&h->wire) > 0 || !h->sent_notify)
		return;
	if (ps_tcp_state(&h->ep) >= PS_TCP_ST_ESTABLISHED) {
		h->closed = true;
		ps_tcp_out_reset(&w->out);
		(void)ps_tcp_close(&h->ep, w->now, &w->out);
		host_flush(w, h);
	}
}

static void
app_frame_in(struct bt_world *w, struct sess *s, enum ps_proxy_side side, const struct frame *f)
{
	struct ps_pkt p;
	uint32_t iss_cli, iss_srv;
	double t0 = bt_mono();

	/* What the worker does with a frame of an intercepted flow. */
	if (ps_pkt_parse(f->buf, f->len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(f->buf, &p))
		bt_die("bad frame towards the proxy");
	if (side == PS_SIDE_CLI && !s->px_open) {
		s->px = malloc(sizeof(*s->px));
		s->tf = malloc(sizeof(*s->tf));
		BT_CHECK(s->px != NULL && s->tf != NULL);
		iss_cli = ++w->iss;
		iss_srv = ++w->iss;
		BT_CHECK(ps_proxy_open(s->px, &w->cfg, &w->tstats, &p, iss_cli, iss_srv,
				    w->now, &w->io) == 0);
		BT_CHECK(ps_tls_flow_init(s->tf, &bt_icpt, &w->fstats, NULL, s->key,
				       sizeof(s->key)) == 0);
		ps_proxy_set_stage(s->px, &s->tf->stage);
		s->px_open = true;
	} else {
		(void)ps_proxy_input(s->px, side, f->buf, &p, w->now, &w->io);
	}
	bt_app_t += bt_mono() - t0;
}

static void
host_frame_in(struct bt_world *w, struct peer *h, const struct frame *f)
{
	struct ps_pkt p;

	if (ps_pkt_parse(f->buf, f->len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(f->buf, &p) ||
	    !ps_pkt_ip4_csum_ok(f->buf, &p)) {
		w->bad_frames++;
		return;
	}
	ps_tcp_out_reset(&w->out);
	if (!h->started) {
		/* A listening server: accept at once. */
		BT_CHECK(ps_tcp_passive_syn(&h->ep, &p, ++w->iss, w->now) == 0);
		BT_CHECK(ps_tcp_accept(&h->ep, w->now, &w->out) == 0);
		h->started = true;
	} else {
		(void)ps_tcp_input(&h->ep, &p, f->buf + p.payload_off, w->now, &w->out);
	}
	host_flush(w, h);
	h->dirty = true;
}

static void
deliver(struct bt_world *w, struct sess *s, const struct frame *f)
{
	switch ((enum dst)f->dst) {
	case TO_PX_FROM_CLI:
		app_frame_in(w, s, PS_SIDE_CLI, f);
		break;
	case TO_PX_FROM_SRV:
		app_frame_in(w, s, PS_SIDE_SRV, f);
		break;
	case TO_CLI:
		host_frame_in(w, &s->cli, f);
		break;
	case TO_SRV:
		host_frame_in(w, &s->srv, f);
		break;
	}
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

typedef bool (sess_pred)(const struct bt_world *w, const struct sess *s);

/* Run s until pred holds with nothing in flight, or (pred NULL) until time until. */
static void
run(struct bt_world *w, struct sess *s, sess_pred *pred, uint64_t until)
{
	uint64_t limit = w->now + RUN_LIMIT_US;
	static struct frame fc;

	/* What the applications have to say before anything arrives. */
	if (s->cli.dirty)
		host_app(w, &s->cli);
	if (s->srv.dirty)
		host_app(w, &s->srv);
	for (;;) {
		uint64_t next = pred == NULL ? until : UINT64_MAX;

		if (pred != NULL && w->qn == 0 && pred(w, s))
			return;
		if (w->qn > 0)
			next = min_u64(next, w->q[w->qh].at);
		next = min_u64(next, ps_tcp_next_deadline(&s->cli.ep));
		next = min_u64(next, ps_tcp_next_deadline(&s->srv.ep));
		if (s->px_open) {
			double t0 = bt_mono();

			next = min_u64(next, ps_proxy_deadline(s->px));
			bt_app_t += bt_mono() - t0;
		}
		if (next == UINT64_MAX || next > limit)
			bt_die("(b): the flow stalled (stage %s, why \"%s\", proxy flags 0x%x)",
			    s->px_open ? ps_tls_flow_state_name(s->tf->state) : "-",
			    s->px_open ? s->tf->why : "", s->px_open ? s->px->flags : 0);
		if (next > w->now)
			w->now = next;
		if (pred == NULL && w->now >= until)
			return;
		while (w->qn > 0 && w->q[w->qh].at <= w->now) {
			const struct frame *f = &w->q[w->qh];

			/* Delivering queues more frames: work on a copy. */
			memcpy(&fc, f, offsetof(struct frame, buf) + f->len);
			w->qh = (w->qh + 1) % QMAX;
			w->qn--;
			deliver(w, s, &fc);
		}
		if (ps_tcp_next_deadline(&s->cli.ep) <= w->now) {
			ps_tcp_out_reset(&w->out);
			ps_tcp_timer(&s->cli.ep, w->now, &w->out);
			host_flush(w, &s->cli);
			s->cli.dirty = true;
		}
		if (ps_tcp_next_deadline(&s->srv.ep) <= w->now) {
			ps_tcp_out_reset(&w->out);
			ps_tcp_timer(&s->srv.ep, w->now, &w->out);
			host_flush(w, &s->srv);
			s->srv.dirty = true;
		}
		if (s->px_open) {
			double t0 = bt_mono();

			if (ps_proxy_deadline(s->px) <= w->now)
				ps_proxy_timer(s->px, w->now, &w->io);
			bt_app_t += bt_mono() - t0;
		}
		if (s->cli.dirty)
			host_app(w, &s->cli);
		if (s->srv.dirty)
			host_app(w, &s->srv);
	}
}

static bool
pred_closed(const struct bt_world *w, const struct sess *s)
{
	(void)w;
	return s->px_open && ps_proxy_done(s->px) && s->cli.closed && s->srv.closed;
}

static bool
pred_exchanged(const struct bt_world *w, const struct sess *s)
{
	(void)w;
	return s->cli.rx_len >= BT_RSP_LEN && s->srv.rx_len >= BT_REQ_LEN;
}

static const uint64_t *bulk_target;	/* pred_bulk's: the bulk run's target */

static bool
pred_bulk(const struct bt_world *w, const struct sess *s)
{
	(void)w;
	return s->srv.rx_len >= *bulk_target;
}

/* See bench_tls.h. */
struct bt_world *
bt_world_new(void)
{
	struct bt_world *w = calloc(1, sizeof(*w));

	BT_CHECK(w != NULL);
	/* plainsight-dp's endpoints: defaults, 256 KB buffers, MSS of a 1500 MTU. */
	ps_tcp_cfg_defaults(&w->cfg);
	w->cfg.snd_buf = w->cfg.rcv_buf = 256 * 1024;
	while (w->cfg.wscale < 14 && (w->cfg.rcv_buf >> w->cfg.wscale) > 65535)
		w->cfg.wscale++;
	BT_CHECK(ps_tcp_cfg_check(&w->cfg) == 0);
	w->q = calloc(QMAX, sizeof(*w->q));
	w->scratch = malloc(PS_PROXY_SCRATCH);
	BT_CHECK(w->q != NULL && w->scratch != NULL);
	w->io.emit = px_emit;
	w->io.ctx = w;
	w->io.scratch = w->scratch;
	w->io.out = &w->px_out;
	w->now = 1000000;
	return w;
}

/* See bench_tls.h. */
void
bt_world_free(struct bt_world *w)
{
	if (w == NULL)
		return;
	free(w->q);
	free(w->scratch);
	free(w);
}

/*
 * A new session: client 198.18.0.1:port -> server 198.18.0.2:443, key:
 * the upstream identity for the appliance's session cache.
 */
static void
sess_init(struct bt_world *w, struct sess *s, int version, SSL_SESSION *cli_sess,
	  uint32_t key, uint16_t port)
{
	struct ps_tcp_frame_spec *c = &s->cli.tmpl, *v = &s->srv.tmpl;

	memset(s, 0, sizeof(*s));
	s->cli.is_cli = true;
	s->cli.close_after = true;
	c->eth.src[0] = c->eth.dst[0] = 0x02;
	c->eth.src[5] = 1;
	c->eth.dst[5] = 2;
	c->l3 = PS_L3_IPV4;
	c->ttl = 64;
	c->src.b[0] = 198, c->src.b[1] = 18, c->src.b[3] = 1;
	c->dst.b[0] = 198, c->dst.b[1] = 18, c->dst.b[3] = 2;
	c->tcp.sport = port;
	c->tcp.dport = 443;
	*v = *c;
	v->eth.src[5] = 2;
	v->eth.dst[5] = 1;
	v->src = c->dst;
	v->dst = c->src;
	v->tcp.sport = 443;
	v->tcp.dport = port;
	memcpy(s->key, "\xc6\x12\x00\x02\x01\xbb", 6);
	s->key[6] = (uint8_t)(key >> 8);
	s->key[7] = (uint8_t)key;
	ps_tcp_init(&s->cli.ep, &w->cfg, NULL, 0);
	ps_tcp_init(&s->srv.ep, &w->cfg, NULL, 0);
	s->cli.ssl = bt_peer_client(version, cli_sess);
	s->srv.ssl = bt_peer_server(version);
}

static void
sess_connect(struct bt_world *w, struct sess *s)
{
	ps_tcp_out_reset(&w->out);
	BT_CHECK(ps_tcp_connect(&s->cli.ep, ++w->iss, w->now, &w->out) == 0);
	host_flush(w, &s->cli);
	s->cli.started = true;
}

static void
peer_free(struct peer *h)
{
	ps_tcp_free(&h->ep);
	SSL_free(h->ssl);
	h->ssl = NULL;
	buf_free(&h->wire);
}

static void
sess_free_appliance(struct sess *s)
{
	double t0 = bt_mono();

	if (s->px_open) {
		ps_tls_flow_free(s->tf);
		ps_proxy_free(s->px);
	}
	free(s->tf);
	free(s->px);
	s->tf = NULL;
	s->px = NULL;
	s->px_open = false;
	bt_app_t += bt_mono() - t0;
}

static void
sess_free(struct sess *s)
{
	sess_free_appliance(s);
	peer_free(&s->cli);
	peer_free(&s->srv);
}

static void
expect_clean(const struct bt_world *w, const struct sess *s)
{
	if (!s->cli.hs_done || s->cli.failed || !s->srv.hs_done || s->srv.failed ||
	    w->bad_frames > 0 || (s->px->flags & PS_PROXY_F_RESET))
		bt_die("(b): interception failed (client %d/%d, server %d/%d, stage \"%s\")",
		    s->cli.hs_done, s->cli.failed, s->srv.hs_done, s->srv.failed, s->tf->why);
}

static uint32_t key_serial;

/* One interception, opened, exchanged, closed both ways; returns the client's session when keep. */
static SSL_SESSION *
stage_one(struct bt_world *w, int version, enum bt_stage_mode mode, SSL_SESSION *cli_sess, bool keep)
{
	SSL_SESSION *kept = NULL;
	uint32_t key = mode == BT_FULL ? ++key_serial : 0;
	struct sess s;

	sess_init(w, &s, version, mode == BT_RESUMED ? cli_sess : NULL, key,
		  (uint16_t)(10000 + key_serial % 50000));
	sess_connect(w, &s);
	run(w, &s, pred_closed, 0);
	expect_clean(w, &s);
	if (keep)
		kept = SSL_get1_session(s.cli.ssl);
	sess_free(&s);
	return kept;
}

static uint64_t
cnt(const struct bt_world *w, enum ps_tlsf_counter c)
{
	return w->fstats.c[c];
}

struct bt_stage_run {
	struct bt_world *w;
	int version;
	enum bt_stage_mode mode;
	SSL_SESSION *sess;		/* the client's, to resume */
	struct sess bulk;		/* the bulk flow */
	uint64_t target;		/* bulk: server bytes to reach */
};

/* See bench_tls.h. */
struct bt_stage_run *
bt_stage_start(struct bt_world *w, int version, enum bt_stage_mode mode)
{
	struct bt_stage_run *r = calloc(1, sizeof(*r));
	int i;

	BT_CHECK(r != NULL);
	r->w = w;
	r->version = version;
	r->mode = mode;
	/* Warm up; the last one leaves both legs' sessions in the caches. */
	for (i = 0; i < 3; i++) {
		SSL_SESSION_free(r->sess);
		r->sess = stage_one(w, version, mode == BT_RESUMED ? BT_FULL_UP_RESUMED : mode,
				    NULL, true);
	}
	return r;
}

/* See bench_tls.h. */
void
bt_stage_slice(struct bt_stage_run *r, double secs, struct bt_meas *m)
{
	enum ps_tlsf_counter cc = r->mode == BT_RESUMED ? PS_TLSF_CLI_RESUMED : PS_TLSF_CLI_FULL;
	enum ps_tlsf_counter uc = r->mode == BT_FULL ? PS_TLSF_UP_FULL : PS_TLSF_UP_RESUMED;
	uint64_t cli0 = cnt(r->w, cc), up0 = cnt(r->w, uc);
	struct bt_meas_mark mk;
	unsigned long n = 0;

	bt_meas_start(&mk);
	do {
		(void)stage_one(r->w, r->version, r->mode, r->sess, false);
		n++;
	} while (bt_cpu() - mk.cpu < secs);
	bt_meas_stop(m, &mk);
	m->n += n;
	/* Count only what really happened. */
	if (cnt(r->w, cc) - cli0 != n || cnt(r->w, uc) - up0 != n)
		bt_die("(b): %lu interceptions but the counters say client %s %llu, upstream %s %llu",
		       n, ps_tlsf_counter_name(cc), (unsigned long long)(cnt(r->w, cc) - cli0),
		       ps_tlsf_counter_name(uc), (unsigned long long)(cnt(r->w, uc) - up0));
}

/* See bench_tls.h. */
void
bt_stage_end(struct bt_stage_run *r)
{
	SSL_SESSION_free(r->sess);
	free(r);
}

/* See bench_tls.h. */
struct bt_stage_run *
bt_bulk_start(struct bt_world *w)
{
	struct bt_stage_run *r = calloc(1, sizeof(*r));
	struct sess *s;

	BT_CHECK(r != NULL);
	r->w = w;
	s = &r->bulk;
	sess_init(w, s, TLS1_3_VERSION, NULL, ++key_serial, 9999);
	s->cli.close_after = false;
	sess_connect(w, s);
	run(w, s, pred_exchanged, 0);
	expect_clean(w, s);
	r->target = s->srv.rx_len;
	bulk_target = &r->target;
	return r;
}

/* See bench_tls.h. */
void
bt_bulk_slice(struct bt_stage_run *r, uint64_t bytes, struct bt_meas *m)
{
	struct bt_meas_mark mk;
	struct sess *s = &r->bulk;

	r->target += bytes;
	r->w->bulk_left = bytes;
	s->cli.dirty = true;
	bt_meas_start(&mk);
	run(r->w, s, pred_bulk, 0);
	bt_meas_stop(m, &mk);
	m->n += (double)bytes * 8;
	expect_clean(r->w, s);
}

/* See bench_tls.h. */
void
bt_bulk_end(struct bt_stage_run *r)
{
	if (r->w->fstats.plain_bytes[0] < r->target)
		bt_die("(b) bulk: the stage decrypted less than was sent");
	sess_free(&r->bulk);
	free(r);
}

/* ------------------------------------------------------------------ */
/* (c) Memory of idle intercepted sessions. */

static size_t
in_use(void)
{
	return mallinfo2().uordblks;
}

/* See bench_tls.h. */
struct bt_mem
bt_run_memory(struct bt_world *w, unsigned int n)
{
	struct sess *ss = calloc(n, sizeof(*ss));
	size_t m0, m1, m2, m_up, m_cli, m_px, m3;
	struct bt_mem r;
	unsigned int i;

	BT_CHECK(ss != NULL);
	malloc_trim(0);
	m0 = in_use();
	for (i = 0; i < n; i++) {
		struct sess *s = &ss[i];

		sess_init(w, s, TLS1_3_VERSION, NULL, ++key_serial, (uint16_t)(10000 + i));
		s->cli.close_after = false;
		sess_connect(w, s);
		run(w, s, pred_exchanged, 0);
		/* Idle: the delayed ACKs go out, nothing else is pending. */
		run(w, s, NULL, w->now + 1000000);
		expect_clean(w, s);
		if (s->tf->state != PS_TLSF_ST_ESTABLISHED)
			bt_die("(c): session %u is %s", i, ps_tls_flow_state_name(s->tf->state));
	}
	m1 = in_use();
	for (i = 0; i < n; i++) {
		peer_free(&ss[i].cli);
		peer_free(&ss[i].srv);
	}
	m2 = in_use();
	/* Then the appliance's parts one by one, for the breakdown (the
	 * sessions are never driven again). */
	for (i = 0; i < n; i++) {
		ps_tls_conn_free(ss[i].tf->up);
		ss[i].tf->up = NULL;
	}
	m_up = in_use();
	for (i = 0; i < n; i++) {
		ps_tls_conn_free(ss[i].tf->cli);
		ss[i].tf->cli = NULL;
	}
	m_cli = in_use();
	for (i = 0; i < n; i++) {
		ps_tls_flow_free(ss[i].tf);
		ps_proxy_free(ss[i].px);
		ss[i].px_open = false;
	}
	m_px = in_use();
	for (i = 0; i < n; i++)
		sess_free_appliance(&ss[i]);
	m3 = in_use();
	free(ss);
	r.n = n;
	r.appliance = ((double)m2 - (double)m3) / n;
	r.up_leg = ((double)m2 - (double)m_up) / n;
	r.cli_leg = ((double)m_up - (double)m_cli) / n;
	r.proxy = ((double)m_cli - (double)m_px) / n;
	r.structs = ((double)m_px - (double)m3) / n;
	r.peers = ((double)m1 - (double)m2) / n;
	r.shared = ((double)m3 - (double)m0) / n;
	return r;
}

