/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the TLS interception stage of a flow (ps_tls_flow)
 * inside the flow proxy, driven by untrusted bytes from both peers.
 *
 * LLVMFuzzerInitialize builds, once: a web root CA, a server leaf for
 * server.test signed by it and a self-signed one, the appliance CA (loaded
 * with ps_tls_ca_load() from 0600 temporary files, removed at once), its
 * forge, and two interception contexts (one without session caches, so
 * that most inputs replay the same; one with them). It also records a real
 * ClientHello of an OpenSSL client for server.test.
 *
 * Each input drives one flow. A client peer and a server peer, each a
 * ps_tcp endpoint carrying either a real OpenSSL SSL over memory BIOs or
 * raw fuzz bytes, exchange frames with the proxy through a simulated
 * network (500 us per hop, frames beyond the queue lost).
 *
 * Input: hdr u8, then operations until the input ends (operands as in
 * fuzz_reader.h: missing bytes read as 0):
 *   hdr   bit0 the server is a real TLS server (else it sends raw bytes)
 *         bit1 its certificate is self-signed (rejected by the appliance)
 *         bit2 the client is a real TLS client (else raw bytes)
 *         bit3 the client's highest version is TLS 1.2
 *         bit4 the client offers ALPN h2,http/1.1 (the server picks http/1.1)
 *         bit5 the interception context with session caches
 *   op u8, op % 8:
 *     0  client data: len u8 + 1, bytes: TCP payload (raw client) or
 *        plaintext written over TLS (TLS client)
 *     1  server data: the same for the server
 *     2  client raw: len u8 + 1, bytes put in the client's TCP stream as
 *        they are (for a TLS client: spliced into its records)
 *     3  server raw: the same for the server
 *     4  time: ms u8 * 4, the network runs that long
 *     5  close: sel u8: bit0 the server (else the client), bit1
 *        close_notify first (TLS peers), bit2 abort (RST) instead of FIN
 *     6  segment size: sel u8: bit7 the server; the low 7 bits the peer's
 *        largest TCP write (0: any)
 *     7  hello: the recorded real ClientHello, as client raw bytes
 *   After each operation the network runs 20 ms; at the end 5 s (timers,
 *   TIME_WAIT), then the proxy is aborted if not done and everything freed.
 *
 * Invariants (abort() on violation): every frame of the proxy parses with
 * good checksums and the right addresses; the tap sees data only between
 * its open and its close; at most one of hello_tls / pass_* per flow; a
 * flow that ends in PASS relayed bytes untouched (what each peer received
 * is a prefix of what the other sent); an intercepted flow with two TLS
 * peers and no spliced bytes delivers plaintext untouched (prefix too);
 * the proxy's endpoints stay within their buffers; simulated time always
 * advances (a due deadline is served: no livelock); no crash, no leak.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_pkt.h"
#include "ps_proxy.h"
#include "ps_tcp.h"
#include "ps_tls_flow.h"
#include "fuzz_reader.h"
#include "ps_test_buf.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define DAY		(24L * 3600L)
#define QMAX		1024u		/* frames in flight; beyond: lost */
#define FRAME_MAX	2048u
#define DELAY_US	500u
#define BUF_BYTES	(16u * 1024u)
#define STEP_US		20000u
#define END_US		5000000u
#define LOOPS_MAX	100000u		/* network rounds per net_run(): more is a livelock */

#define HDR_SRV_TLS	0x01u
#define HDR_SRV_SELF	0x02u
#define HDR_CLI_TLS	0x04u
#define HDR_CLI_TLS12	0x08u
#define HDR_ALPN	0x10u
#define HDR_SESS	0x20u
#define HDR_DECIDE_SHIFT 6u	/* top two bits: the policy's decision at the hello */

static const uint8_t CLI_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t SRV_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t alpn_h2_h11[] = "\x02h2\x08http/1.1";	/* h2, http/1.1 */

/* Built once. */
static SSL_CTX *srv_ctx, *srv_self_ctx, *cli_ctx;
static struct ps_tls_ca *app_ca;
static struct ps_tls_forge *forge;
static struct ps_tls_icpt icpt_plain, icpt_sess;
static uint8_t hello[4096];
static size_t hello_len;

/* ------------------------------------------------------------------ */


/* ------------------------------------------------------------------ */

enum dst { TO_PX_FROM_CLI, TO_PX_FROM_SRV, TO_CLI, TO_SRV };

struct frame {
	enum dst dst;
	uint64_t at;
	uint32_t len;
	uint8_t buf[FRAME_MAX];
};

struct host {
	struct ps_tcp_ep ep;
	struct ps_tcp_frame_spec tmpl;
	bool started;
	SSL *ssl;			/* NULL: raw bytes */
	struct buf app;			/* plaintext to write (TLS) */
	struct buf wire;		/* bytes for TCP not yet taken */
	struct buf sent;		/* every byte TCP took, in order */
	struct buf raw_rx;		/* every TCP byte received */
	struct buf ptx, prx;		/* plaintext written / read (TLS) */
	uint32_t seg_max;
	bool tainted;			/* raw bytes spliced into its TLS stream */
	bool hs_done, failed, want_notify, sent_notify, want_fin, fin_sent, aborted;
};

struct net {
	uint64_t now;
	struct ps_tcp_cfg cfg;
	struct ps_tcp_stats stats;
	struct host cli, srv;
	struct ps_proxy px;
	bool px_open;
	struct ps_tls_flow tf;
	struct ps_tls_flow_stats ts;
	const struct ps_tls_icpt *ic;
	struct ps_tls_tap tap;
	unsigned int tap_opens, tap_closes[2], tap_resets;
	int decision;			/* enum ps_tls_decision at the hello; 3: at the certificate */
	unsigned int decides;
	struct ps_proxy_io io;
	struct ps_tcp_out out;
	unsigned int qh, qn;
	unsigned int loops;
};

static struct frame q[QMAX];
static uint8_t scratch[PS_PROXY_SCRATCH];

/*
 * The policy: once at the ClientHello, with a parsed hello; the header's
 * decision 3 waits for the certificate (PS_TLS_DECIDE_LATER) and then
 * decrypts, so the second decision point is fuzzed as well.
 */
static void
tap_decide(void *arg, const struct ps_tls_client_hello *h, X509 *cert,
	   struct ps_tls_policy_verdict *v)
{
	struct net *n = arg;

	CHECK(h != NULL && h->msg != NULL);
	if (cert == NULL) {
		CHECK(++n->decides == 1);
		v->decision = (uint8_t)(n->decision == 3 ? PS_TLS_DECIDE_LATER : n->decision);
	} else {
		CHECK(n->decides == 1 && n->decision == 3);
		n->decides++;
		n->decision = PS_TLS_DECIDE_DECRYPT;
		v->decision = PS_TLS_DECIDE_DECRYPT;
	}
	v->on_invalid = PS_TLS_VFAIL_DEFAULT;
	snprintf(v->rule, sizeof(v->rule), "fuzz-rule-%d", n->decision);
}

static void
tap_open(void *arg, const struct ps_tls_flow *t)
{
	struct net *n = arg;

	CHECK(t == &n->tf && n->tap_opens == 0);
	n->tap_opens++;
}

static void
tap_data(void *arg, int dir, const uint8_t *p, uint32_t len)
{
	struct net *n = arg;

	CHECK(dir == 0 || dir == 1);
	CHECK(n->tap_opens == 1 && n->tap_closes[dir] == 0 && n->tap_resets == 0);
	CHECK(p != NULL && len > 0);
}

static void
tap_close(void *arg, int dir, bool reset)
{
	struct net *n = arg;

	CHECK(dir == 0 || dir == 1);
	CHECK(n->tap_opens == 1 && n->tap_resets == 0);
	if (reset)
		n->tap_resets++;
	else
		CHECK(++n->tap_closes[dir] == 1);
}

static void
queue(struct net *n, enum dst dst, const uint8_t *frame, uint32_t len)
{
	struct frame *f;

	CHECK(len <= FRAME_MAX);
	if (n->qn == QMAX)
		return;		/* lost: TCP retransmits */
	f = &q[(n->qh + n->qn++) % QMAX];
	f->dst = dst;
	f->at = n->now + DELAY_US;
	f->len = len;
	memcpy(f->buf, frame, len);
}

static void
px_emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	struct net *n = ctx;
	const struct ps_tcp_frame_spec *id = side == PS_SIDE_SRV ? &n->cli.tmpl : &n->srv.tmpl;
	struct ps_pkt p;

	CHECK(side == PS_SIDE_CLI || side == PS_SIDE_SRV);
	CHECK(ps_pkt_parse(frame, len, &p) == PS_PKT_OK);
	CHECK(ps_pkt_l4_csum_ok(frame, &p) && ps_pkt_ip4_csum_ok(frame, &p));
	CHECK(memcmp(&p.src, &id->src, sizeof(p.src)) == 0);
	CHECK(memcmp(&p.dst, &id->dst, sizeof(p.dst)) == 0);
	CHECK(p.sport == id->tcp.sport && p.dport == id->tcp.dport);
	queue(n, side == PS_SIDE_SRV ? TO_SRV : TO_CLI, frame, len);
}

static enum dst
dst_of(struct net *n, struct host *h)
{
	return h == &n->cli ? TO_PX_FROM_CLI : TO_PX_FROM_SRV;
}

static void
host_flush(struct net *n, struct host *h)
{
	uint8_t payload[FRAME_MAX], frame[FRAME_MAX];

	for (;;) {
		bool more = n->out.more;
		uint16_t i;

		for (i = 0; i < n->out.n_segs; i++) {
			const struct ps_tcp_seg *seg = &n->out.segs[i];
			struct ps_tcp_frame_spec spec = h->tmpl;
			int len;

			if (seg->len > 0)
				ps_tcp_copy_payload(&h->ep, seg, payload);
			spec.tcp = seg->tcp;
			spec.tcp.sport = h->tmpl.tcp.sport;
			spec.tcp.dport = h->tmpl.tcp.dport;
			len = ps_build_tcp_frame(frame, sizeof(frame), &spec, payload, seg->len);
			CHECK(len > 0);
			queue(n, dst_of(n, h), frame, (uint32_t)len);
		}
		ps_tcp_out_reset(&n->out);
		if (!more)
			break;
		ps_tcp_output(&h->ep, n->now, &n->out);
	}
}

static void
ssl_drain(struct host *h)
{
	uint8_t b[16384];
	int r;

	while ((r = BIO_read(SSL_get_wbio(h->ssl), b, sizeof(b))) > 0)
		buf_add(&h->wire, b, (size_t)r);
}

static void
host_tls(struct host *h)
{
	uint8_t b[16384];
	int r, e;

	if (h->failed)
		return;
	ERR_clear_error();
	if (!h->hs_done) {
		r = SSL_do_handshake(h->ssl);
		if (r == 1) {
			h->hs_done = true;
		} else {
			e = SSL_get_error(h->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				h->failed = true;
		}
	}
	while (h->hs_done && !h->failed) {
		r = SSL_read(h->ssl, b, sizeof(b));
		if (r > 0) {
			buf_add(&h->prx, b, (size_t)r);
			continue;
		}
		e = SSL_get_error(h->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE &&
		    e != SSL_ERROR_ZERO_RETURN)
			h->failed = true;
		break;
	}
	while (h->hs_done && !h->failed && !h->sent_notify && buf_pending(&h->app) > 0 &&
	       buf_pending(&h->wire) < 4 * BUF_BYTES) {
		size_t k = buf_pending(&h->app);

		if (k > 4096)
			k = 4096;
		r = SSL_write(h->ssl, h->app.p + h->app.off, (int)k);
		if (r <= 0) {
			h->failed = true;
			break;
		}
		buf_add(&h->ptx, h->app.p + h->app.off, (size_t)r);
		h->app.off += (size_t)r;
	}
	if (h->hs_done && !h->failed && h->want_notify && !h->sent_notify &&
	    buf_pending(&h->app) == 0) {
		(void)SSL_shutdown(h->ssl);
		h->sent_notify = true;
	}
	ssl_drain(h);
	ERR_clear_error();
}

static void
host_app(struct net *n, struct host *h)
{
	uint8_t b[16384];

	if (!h->started || h->aborted)
		return;
	while (ps_tcp_readable(&h->ep) > 0) {
		uint32_t got;

		ps_tcp_out_reset(&n->out);
		got = ps_tcp_read(&h->ep, b, sizeof(b), n->now, &n->out);
		host_flush(n, h);
		if (got == 0)
			break;
		buf_add(&h->raw_rx, b, got);
		if (h->ssl != NULL)
			CHECK(BIO_write(SSL_get_rbio(h->ssl), b, (int)got) == (int)got);
	}
	if (h->ssl != NULL)
		host_tls(h);
	while (buf_pending(&h->wire) > 0) {
		uint32_t k = (uint32_t)buf_pending(&h->wire);
		int w;

		if (h->seg_max > 0 && k > h->seg_max)
			k = h->seg_max;
		ps_tcp_out_reset(&n->out);
		w = ps_tcp_write(&h->ep, h->wire.p + h->wire.off, k, n->now, &n->out);
		host_flush(n, h);
		if (w <= 0)
			break;
		buf_add(&h->sent, h->wire.p + h->wire.off, (size_t)w);
		h->wire.off += (size_t)w;
	}
	if (h->want_fin && !h->fin_sent && buf_pending(&h->wire) == 0 &&
	    (h->ssl == NULL || !h->want_notify || h->sent_notify || !h->hs_done || h->failed) &&
	    ps_tcp_state(&h->ep) >= PS_TCP_ST_ESTABLISHED) {
		h->fin_sent = true;
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_close(&h->ep, n->now, &n->out);
		host_flush(n, h);
	}
}

static void
deliver(struct net *n, struct frame *f)
{
	struct ps_pkt p;

	CHECK(ps_pkt_parse(f->buf, f->len, &p) == PS_PKT_OK);
	switch (f->dst) {
	case TO_PX_FROM_CLI:
		if (!n->px_open) {
			static const uint8_t key[6] = { 198, 18, 0, 2, 0x01, 0xbb };

			CHECK(ps_proxy_open(&n->px, &n->cfg, &n->stats, &p, 1000, 0xfffff000u,
					    n->now, &n->io) == 0);
			CHECK(ps_tls_flow_init(&n->tf, n->ic, &n->ts, &n->tap, key,
					       sizeof(key)) == 0);
			/* StartTLS commands honoured: the preamble reader is fuzzed too. */
			ps_tls_flow_set_starttls(&n->tf, true);
			ps_proxy_set_stage(&n->px, &n->tf.stage);
			n->px_open = true;
		} else {
			(void)ps_proxy_input(&n->px, PS_SIDE_CLI, f->buf, &p, n->now, &n->io);
		}
		break;
	case TO_PX_FROM_SRV:
		(void)ps_proxy_input(&n->px, PS_SIDE_SRV, f->buf, &p, n->now, &n->io);
		break;
	case TO_CLI:
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_input(&n->cli.ep, &p, f->buf + p.payload_off, n->now, &n->out);
		host_flush(n, &n->cli);
		break;
	case TO_SRV:
		if (!n->srv.started) {
			if (ps_tcp_passive_syn(&n->srv.ep, &p, 777777, n->now) != 0)
				return;
			ps_tcp_out_reset(&n->out);
			CHECK(ps_tcp_accept(&n->srv.ep, n->now, &n->out) == 0);
			host_flush(n, &n->srv);
			n->srv.started = true;
			return;
		}
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_input(&n->srv.ep, &p, f->buf + p.payload_off, n->now, &n->out);
		host_flush(n, &n->srv);
		break;
	}
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void
check_mem(struct net *n)
{
	size_t cap = (size_t)n->cfg.snd_buf + n->cfg.rcv_buf + 2u * n->cfg.chunk_size;

	if (n->px_open)
		CHECK(ps_tcp_mem(&n->px.cli) <= cap && ps_tcp_mem(&n->px.srv) <= cap);
}

static void
net_run(struct net *n, uint64_t until)
{
	/* What an operation queued goes out even on an idle network. */
	host_app(n, &n->cli);
	host_app(n, &n->srv);
	n->loops = 0;
	while (n->now < until) {
		uint64_t next = until;

		CHECK(++n->loops < LOOPS_MAX);
		if (n->qn > 0)
			next = min_u64(next, q[n->qh].at);
		next = min_u64(next, ps_tcp_next_deadline(&n->cli.ep));
		next = min_u64(next, ps_tcp_next_deadline(&n->srv.ep));
		if (n->px_open)
			next = min_u64(next, ps_proxy_deadline(&n->px));
		if (next < n->now)
			next = n->now;
		n->now = next;
		if (n->now >= until)
			break;
		while (n->qn > 0 && q[n->qh].at <= n->now) {
			static struct frame f;

			memcpy(&f, &q[n->qh], offsetof(struct frame, buf) + q[n->qh].len);
			n->qh = (n->qh + 1) % QMAX;
			n->qn--;
			deliver(n, &f);
		}
		if (ps_tcp_next_deadline(&n->cli.ep) <= n->now) {
			ps_tcp_out_reset(&n->out);
			ps_tcp_timer(&n->cli.ep, n->now, &n->out);
			host_flush(n, &n->cli);
		}
		if (ps_tcp_next_deadline(&n->srv.ep) <= n->now) {
			ps_tcp_out_reset(&n->out);
			ps_tcp_timer(&n->srv.ep, n->now, &n->out);
			host_flush(n, &n->srv);
		}
		if (n->px_open && ps_proxy_deadline(&n->px) <= n->now) {
			ps_proxy_timer(&n->px, n->now, &n->io);
			/* a worker must not spin: what was due has been done */
			CHECK(ps_proxy_deadline(&n->px) > n->now);
		}
		host_app(n, &n->cli);
		host_app(n, &n->srv);
		check_mem(n);
	}
}

static SSL *
new_ssl(SSL_CTX *ctx)
{
	SSL *s = SSL_new(ctx);
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	CHECK(s != NULL && r != NULL && w != NULL);
	BIO_set_mem_eof_return(r, -1);
	BIO_set_mem_eof_return(w, -1);
	SSL_set_bio(s, r, w);
	return s;
}

static void
net_init(struct net *n, uint8_t hdr)
{
	struct ps_tcp_frame_spec *c = &n->cli.tmpl, *s = &n->srv.tmpl;

	memset(n, 0, sizeof(*n));
	ps_tcp_cfg_defaults(&n->cfg);
	n->cfg.snd_buf = BUF_BYTES;
	n->cfg.rcv_buf = BUF_BYTES;
	n->cfg.syn_retries = 2;
	n->cfg.data_retries = 3;
	CHECK(ps_tcp_cfg_check(&n->cfg) == 0);
	n->io.emit = px_emit;
	n->io.ctx = n;
	n->io.scratch = scratch;
	n->io.out = &n->out;
	n->now = 1000000;
	n->ic = (hdr & HDR_SESS) ? &icpt_sess : &icpt_plain;
	n->decision = (int)(hdr >> HDR_DECIDE_SHIFT);
	n->tap.decide = tap_decide;
	n->tap.open = tap_open;
	n->tap.data = tap_data;
	n->tap.close = tap_close;
	n->tap.arg = n;

	memcpy(c->eth.src, CLI_MAC, 6);
	memcpy(c->eth.dst, SRV_MAC, 6);
	c->l3 = PS_L3_IPV4;
	c->ttl = 64;
	c->src.b[0] = 198, c->src.b[1] = 18, c->src.b[3] = 1;
	c->dst.b[0] = 198, c->dst.b[1] = 18, c->dst.b[3] = 2;
	c->tcp.sport = 40000;
	c->tcp.dport = 443;
	*s = *c;
	memcpy(s->eth.src, SRV_MAC, 6);
	memcpy(s->eth.dst, CLI_MAC, 6);
	s->src = c->dst;
	s->dst = c->src;
	s->tcp.sport = 443;
	s->tcp.dport = 40000;
	ps_tcp_init(&n->cli.ep, &n->cfg, NULL, 0);
	ps_tcp_init(&n->srv.ep, &n->cfg, NULL, 0);

	if (hdr & HDR_CLI_TLS) {
		SSL *ssl = new_ssl(cli_ctx);

		SSL_set_connect_state(ssl);
		CHECK(SSL_set_tlsext_host_name(ssl, "server.test") == 1);
		CHECK(SSL_set1_host(ssl, "server.test") == 1);
		if (hdr & HDR_CLI_TLS12)
			CHECK(SSL_set_max_proto_version(ssl, TLS1_2_VERSION) == 1);
		if (hdr & HDR_ALPN)
			CHECK(SSL_set_alpn_protos(ssl, alpn_h2_h11, sizeof(alpn_h2_h11) - 1) == 0);
		n->cli.ssl = ssl;
	}
	if (hdr & HDR_SRV_TLS) {
		n->srv.ssl = new_ssl((hdr & HDR_SRV_SELF) ? srv_self_ctx : srv_ctx);
		SSL_set_accept_state(n->srv.ssl);
	}

	/* The client connects. */
	ps_tcp_out_reset(&n->out);
	CHECK(ps_tcp_connect(&n->cli.ep, 5000, n->now, &n->out) == 0);
	host_flush(n, &n->cli);
	n->cli.started = true;
}

static void
host_free(struct host *h)
{
	ps_tcp_free(&h->ep);
	SSL_free(h->ssl);
	buf_free(&h->app);
	buf_free(&h->wire);
	buf_free(&h->sent);
	buf_free(&h->raw_rx);
	buf_free(&h->ptx);
	buf_free(&h->prx);
}

/* a is a prefix of b. */
static bool
prefix(const struct buf *a, const struct buf *b)
{
	return a->len <= b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void
check_end(struct net *n)
{
	const uint64_t *c = n->ts.c;
	uint64_t entry = c[PS_TLSF_HELLO_TLS] + c[PS_TLSF_PASS_NOT_TLS] +
			 c[PS_TLSF_PASS_BAD_HELLO] + c[PS_TLSF_PASS_SERVER_FIRST] +
			 c[PS_TLSF_PASS_NO_HELLO];

	if (!n->px_open)
		return;
	CHECK(entry <= 1);
	if (n->decision != PS_TLS_DECIDE_DECRYPT && n->decision != 3)
		CHECK(n->tap_opens == 0);
	CHECK(n->tf.state <= PS_TLSF_ST_DONE);
	if (n->tf.state == PS_TLSF_ST_PASS) {
		/* Untouched from the first byte: not TLS, or TLS bypassed by the policy. */
		CHECK(n->tap_opens == 0);
		CHECK(c[PS_TLSF_HELLO_TLS] == 0 || c[PS_TLSF_POLICY_BYPASS] == 1);
		CHECK(prefix(&n->srv.raw_rx, &n->cli.sent));
		CHECK(prefix(&n->cli.raw_rx, &n->srv.sent));
	}
	if (n->tap_opens > 0 && n->cli.ssl != NULL && n->srv.ssl != NULL &&
	    !n->cli.tainted && !n->srv.tainted) {
		CHECK(prefix(&n->srv.prx, &n->cli.ptx));
		CHECK(prefix(&n->cli.prx, &n->srv.ptx));
	}
}

/* Bytes from the input for one peer: plaintext (TLS) or its TCP stream. */
static void
op_data(struct host *h, struct reader *r, bool raw)
{
	uint32_t len = (uint32_t)rd8(r) + 1u, i;
	uint8_t b[256];

	for (i = 0; i < len && r->n > 0; i++)
		b[i] = rd8(r);
	if (h->want_fin || h->aborted)
		return;
	if (h->ssl == NULL || raw) {
		buf_add(&h->wire, b, i);
		if (h->ssl != NULL)
			h->tainted = true;
	} else {
		buf_add(&h->app, b, i);
	}
}

static void
op_close(struct net *n, uint8_t sel)
{
	struct host *h = (sel & 1) ? &n->srv : &n->cli;

	if (sel & 4) {
		if (!h->started || h->aborted)
			return;
		h->aborted = true;
		ps_tcp_out_reset(&n->out);
		ps_tcp_abort(&h->ep, n->now, &n->out);
		host_flush(n, h);
		return;
	}
	h->want_notify = (sel & 2) != 0;
	h->want_fin = true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	struct net *n;
	uint8_t hdr, sel;

	if (size == 0)
		return 0;
	n = calloc(1, sizeof(*n));
	CHECK(n != NULL);
	hdr = rd8(&r);
	net_init(n, hdr);
	net_run(n, n->now + STEP_US);

	while (r.n > 0) {
		switch (rd8(&r) % 8) {
		case 0:
			op_data(&n->cli, &r, false);
			break;
		case 1:
			op_data(&n->srv, &r, false);
			break;
		case 2:
			op_data(&n->cli, &r, true);
			break;
		case 3:
			op_data(&n->srv, &r, true);
			break;
		case 4:
			net_run(n, n->now + (uint64_t)rd8(&r) * 4000u);
			break;
		case 5:
			op_close(n, rd8(&r));
			break;
		case 6:
			sel = rd8(&r);
			((sel & 0x80) ? &n->srv : &n->cli)->seg_max = sel & 0x7fu;
			break;
		case 7:
			if (n->cli.ssl == NULL && !n->cli.want_fin && !n->cli.aborted)
				buf_add(&n->cli.wire, hello, hello_len);
			break;
		}
		net_run(n, n->now + STEP_US);
	}
	net_run(n, n->now + END_US);
	check_end(n);

	if (n->px_open) {
		if (!ps_proxy_done(&n->px)) {
			ps_proxy_abort(&n->px, n->now, &n->io);
			CHECK(ps_proxy_done(&n->px));
		}
		ps_tls_flow_free(&n->tf);
		ps_proxy_free(&n->px);
		CHECK(ps_tcp_mem(&n->px.cli) == 0 && ps_tcp_mem(&n->px.srv) == 0);
	}
	host_free(&n->cli);
	host_free(&n->srv);
	free(n);
	ERR_clear_error();
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start-up: the PKI, the contexts, a real ClientHello. */

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	const char *exts[][2] = {
		{ "basicConstraints", san == NULL ? "critical,CA:TRUE" : "critical,CA:FALSE" },
		{ "keyUsage", san == NULL ? "critical,keyCertSign,cRLSign" :
		  "critical,digitalSignature" },
		{ "subjectKeyIdentifier", "hash" },
		{ san != NULL ? "subjectAltName" : NULL, san },
	};
	unsigned int i;

	CHECK(x != NULL);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -DAY);
	X509_gmtime_adj(X509_getm_notAfter(x), 30 * DAY);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	if (issuer == NULL) {
		issuer = x;
		issuer_key = key;
	}
	X509_set_issuer_name(x, X509_get_subject_name(issuer));
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		X509_EXTENSION *e;

		if (exts[i][0] == NULL)
			continue;
		e = X509V3_EXT_nconf(NULL, &v3, exts[i][0], exts[i][1]);
		CHECK(e != NULL);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	CHECK(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	FILE *f;

	CHECK(fd >= 0 && fchmod(fd, 0600) == 0);
	f = fdopen(fd, "w");
	CHECK(f != NULL);
	if (cert != NULL)
		CHECK(PEM_write_X509(f, cert) == 1);
	if (key != NULL)
		CHECK(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
	CHECK(fclose(f) == 0);
}

static int
srv_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, (const unsigned char *)"\x08http/1.1", 9,
				  in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
server_ctx(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	CHECK(c != NULL);
	CHECK(SSL_CTX_use_certificate(c, cert) == 1);
	CHECK(SSL_CTX_use_PrivateKey(c, key) == 1);
	SSL_CTX_set_alpn_select_cb(c, srv_alpn_cb, NULL);
	return c;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/ps-fuzz-tls-flow-XXXXXX";
	char web[64], crt[64], key[64], err[384];
	struct ps_tls_icpt_cfg ic;
	EVP_PKEY *web_key, *leaf_key, *self_key, *app_key;
	X509 *web_root, *leaf, *self, *app;
	SSL *c;

	(void)argc;
	(void)argv;
	web_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	self_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	app_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(web_key != NULL && leaf_key != NULL && self_key != NULL && app_key != NULL);
	web_root = make_cert(web_key, "fuzz web root", NULL, NULL, NULL);
	leaf = make_cert(leaf_key, "server.test", web_root, web_key,
			 "DNS:server.test,IP:192.0.2.7");
	self = make_cert(self_key, "server.test", NULL, NULL, "DNS:server.test");
	app = make_cert(app_key, "fuzz appliance CA", NULL, NULL, NULL);

	CHECK(mkdtemp(dir) != NULL);
	snprintf(web, sizeof(web), "%s/web.pem", dir);
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	write_pem(web, web_root, NULL);
	write_pem(crt, app, NULL);
	write_pem(key, NULL, app_key);
	CHECK(ps_tls_ca_load(crt, key, NULL, &app_ca, err, sizeof(err)) == 0);
	CHECK(ps_tls_forge_new(app_ca, 16, &forge, err, sizeof(err)) == 0);
	memset(&ic, 0, sizeof(ic));
	ic.forge = forge;
	ic.on_verify_fail = PS_TLS_VFAIL_REJECT;
	ic.ca_file = web;
	CHECK(ps_tls_icpt_init(&icpt_plain, &ic, err, sizeof(err)) == 0);
	ic.sess_entries = 16;
	ic.sess_timeout_s = 300;
	CHECK(ps_tls_icpt_init(&icpt_sess, &ic, err, sizeof(err)) == 0);
	unlink(web);
	unlink(crt);
	unlink(key);
	rmdir(dir);

	srv_ctx = server_ctx(leaf, leaf_key);
	srv_self_ctx = server_ctx(self, self_key);
	cli_ctx = SSL_CTX_new(TLS_client_method());
	CHECK(cli_ctx != NULL);
	CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(cli_ctx), app) == 1);
	SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_PEER, NULL);

	/* A real hello, for op 7. */
	c = new_ssl(cli_ctx);
	SSL_set_connect_state(c);
	CHECK(SSL_set_tlsext_host_name(c, "server.test") == 1);
	CHECK(SSL_set_alpn_protos(c, alpn_h2_h11, sizeof(alpn_h2_h11) - 1) == 0);
	CHECK(SSL_do_handshake(c) <= 0);
	hello_len = (size_t)BIO_read(SSL_get_wbio(c), hello, sizeof(hello));
	CHECK(hello_len > 0 && hello_len < sizeof(hello));
	SSL_free(c);

	/* The contexts hold their own references. */
	ps_tls_ca_free(app_ca);
	app_ca = NULL;
	X509_free(web_root);
	X509_free(leaf);
	X509_free(self);
	X509_free(app);
	EVP_PKEY_free(web_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(self_key);
	EVP_PKEY_free(app_key);
	ERR_clear_error();
	return 0;
}
