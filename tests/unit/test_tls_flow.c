/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: the TLS interception stage of a flow (ps_tls_flow) inside the
 * flow proxy, end to end in memory.
 *
 * A client and a server, each a ps_tcp endpoint carrying an OpenSSL SSL
 * over memory BIOs (or plain bytes), exchange real Ethernet frames through
 * a ps_proxy with a ps_tls_flow stage installed: every frame is built,
 * parsed and checksum-verified on the way, time is simulated (as in
 * test_proxy.c). The peers use OpenSSL directly, not ps_tls_conn, so the
 * appliance's glue is checked against an independent client and server.
 *
 * The PKI is generated at test time (EC P-256), nothing is committed: a
 * "web root" CA the appliance trusts (its ca_file, a temporary PEM), the
 * server's leaves (valid, expired, wrong host, self-signed) and the
 * appliance CA the clients trust, loaded with ps_tls_ca_load() from
 * temporary 0600 PEM files. Files live in a fresh mkdtemp() directory,
 * removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

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
#include "ps_test_buf.h"

#define DAY		(24L * 3600L)
#define QMAX		8192u		/* frames in flight, a ring */
#define FRAME_MAX	2048u
#define DELAY_US	500u		/* one-way delay of every hop */
#define WIRE_HIWAT	(256u * 1024u)	/* a peer's unsent TLS bytes before it stops writing */
#define RUN_US		(120ull * 1000000ull)

/* ALPN ProtocolNameList bodies (RFC 7301 section 3.1). */
static const uint8_t alpn_h2_h11[] = "\x02h2\x08http/1.1";	/* h2, http/1.1 */
#define ALPN_LEN(a)	(sizeof(a) - 1)

static const uint8_t CLI_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t SRV_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* ------------------------------------------------------------------ */
/* Test PKI and the shared interception context. */

static EVP_PKEY *web_key, *leaf_key, *self_key, *app_key;
static X509 *web_root;		/* the public PKI's root, trusted by the appliance */
static X509 *leaf_valid;	/* server.test, www.server.test, 192.0.2.7 */
static X509 *leaf_expired;
static X509 *leaf_wronghost;	/* other.test */
static X509 *leaf_self;		/* server.test, self-signed */
static X509 *app_cert;		/* the appliance CA, trusted by the clients */
static SSL_CTX *srv_valid, *srv_expired, *srv_wronghost, *srv_self;
static SSL_CTX *cli_ctx;
static struct ps_tls_ca *app_ca;
static struct ps_tls_forge *forge;
static struct ps_tls_icpt icpt;
static char tmpdir[64];
static char web_path[128], app_crt_path[128], app_key_path[128];
static uint32_t key_serial;	/* upstream identity per flow: no accidental resumption */

/* What the server peers saw (the server's SSL_CTX callbacks). */
static uint8_t srv_alpn_offered[512];
static size_t srv_alpn_offered_len;
static const char *srv_alpn_pick;	/* NULL: no ALPN */

static EVP_PKEY *
gen_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static void
add_ext(X509 *cert, X509 *issuer, const char *name, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf(NULL, &v3, name, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for key named cn, valid from now + nb to now + na seconds,
 * signed by issuer (self-signed when NULL); a CA when san is NULL.
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
	  const char *san, long nb, long na)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0), 1);
	if (issuer == NULL) {
		issuer = x;
		issuer_key = key;
	}
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	add_ext(x, issuer, "subjectKeyIdentifier", "hash");
	add_ext(x, issuer, "authorityKeyIdentifier", "keyid:always");
	if (san == NULL) {
		add_ext(x, issuer, "basicConstraints", "critical,CA:TRUE");
		add_ext(x, issuer, "keyUsage", "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, "basicConstraints", "critical,CA:FALSE");
		add_ext(x, issuer, "keyUsage", "critical,digitalSignature");
		add_ext(x, issuer, "extendedKeyUsage", "serverAuth");
		add_ext(x, issuer, "subjectAltName", san);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

/* Write cert and/or key as PEM to path with exactly mode, whatever the umask. */
static void
write_pem(const char *path, X509 *cert, EVP_PKEY *key, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	FILE *f;

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

/* The server peers choose srv_alpn_pick when offered, and record the offer. */
static int
srv_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i;

	(void)ssl;
	(void)arg;
	srv_alpn_offered_len = inlen < sizeof(srv_alpn_offered) ? inlen : 0;
	memcpy(srv_alpn_offered, in, srv_alpn_offered_len);
	if (srv_alpn_pick == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == strlen(srv_alpn_pick) && i + 1u + in[i] <= inlen &&
		    memcmp(in + i + 1, srv_alpn_pick, in[i]) == 0) {
			*out = in + i + 1;
			*outlen = in[i];
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

struct host;
static void peer_info_cb(const SSL *ssl, int where, int ret);

static SSL_CTX *
server_ctx(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	assert_non_null(c);
	assert_int_equal(SSL_CTX_use_certificate(c, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(c, key), 1);
	SSL_CTX_set_alpn_select_cb(c, srv_alpn_cb, NULL);
	SSL_CTX_set_info_callback(c, peer_info_cb);
	return c;
}

static int
group_setup(void **state)
{
	struct ps_tls_icpt_cfg ic;
	char err[384];
	int rc;

	(void)state;
	web_key = gen_key();
	leaf_key = gen_key();
	self_key = gen_key();
	app_key = gen_key();
	web_root = make_cert(web_key, "test web root", NULL, NULL, NULL, -DAY, 3650 * DAY);
	leaf_valid = make_cert(leaf_key, "server.test", web_root, web_key,
			       "DNS:server.test,DNS:www.server.test,IP:192.0.2.7",
			       -3600, 10 * DAY);
	leaf_expired = make_cert(leaf_key, "server.test", web_root, web_key,
				 "DNS:server.test", -20 * DAY, -10 * DAY);
	leaf_wronghost = make_cert(leaf_key, "other.test", web_root, web_key,
				   "DNS:other.test", -3600, 10 * DAY);
	leaf_self = make_cert(self_key, "server.test", NULL, NULL, "DNS:server.test",
			      -3600, 10 * DAY);
	app_cert = make_cert(app_key, "plainsight test appliance CA", NULL, NULL, NULL,
			     -DAY, 30 * DAY);

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ps-tls-flow-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(web_path, sizeof(web_path), "%s/webroot.pem", tmpdir);
	snprintf(app_crt_path, sizeof(app_crt_path), "%s/ca.crt", tmpdir);
	snprintf(app_key_path, sizeof(app_key_path), "%s/ca.key", tmpdir);
	write_pem(web_path, web_root, NULL, 0600);
	write_pem(app_crt_path, app_cert, NULL, 0600);
	write_pem(app_key_path, NULL, app_key, 0600);

	rc = ps_tls_ca_load(app_crt_path, app_key_path, NULL, &app_ca, err, sizeof(err));
	if (rc != 0)
		print_error("ps_tls_ca_load: %s\n", err);
	assert_int_equal(rc, 0);
	rc = ps_tls_forge_new(app_ca, 64, &forge, err, sizeof(err));
	if (rc != 0)
		print_error("ps_tls_forge_new: %s\n", err);
	assert_int_equal(rc, 0);

	memset(&ic, 0, sizeof(ic));
	ic.forge = forge;
	ic.on_verify_fail = PS_TLS_VFAIL_REJECT;
	ic.trust_system = false;
	ic.ca_file = web_path;
	ic.sess_entries = 64;
	ic.sess_timeout_s = 300;
	rc = ps_tls_icpt_init(&icpt, &ic, err, sizeof(err));
	if (rc != 0)
		print_error("ps_tls_icpt_init: %s\n", err);
	assert_int_equal(rc, 0);

	srv_valid = server_ctx(leaf_valid, leaf_key);
	srv_expired = server_ctx(leaf_expired, leaf_key);
	srv_wronghost = server_ctx(leaf_wronghost, leaf_key);
	srv_self = server_ctx(leaf_self, self_key);

	/* The clients trust the appliance CA only, and check the name. */
	cli_ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cli_ctx);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cli_ctx), app_cert), 1);
	SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_info_callback(cli_ctx, peer_info_cb);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	ps_tls_icpt_fini(&icpt);
	ps_tls_forge_free(forge);
	ps_tls_ca_free(app_ca);
	SSL_CTX_free(srv_valid);
	SSL_CTX_free(srv_expired);
	SSL_CTX_free(srv_wronghost);
	SSL_CTX_free(srv_self);
	SSL_CTX_free(cli_ctx);
	X509_free(web_root);
	X509_free(leaf_valid);
	X509_free(leaf_expired);
	X509_free(leaf_wronghost);
	X509_free(leaf_self);
	X509_free(app_cert);
	EVP_PKEY_free(web_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(self_key);
	EVP_PKEY_free(app_key);
	unlink(web_path);
	unlink(app_crt_path);
	unlink(app_key_path);
	assert_int_equal(rmdir(tmpdir), 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The plaintext tap: what the tool stage would see. */

struct tap_log {
	unsigned int opens;
	unsigned int closes[2];		/* orderly ends, per direction */
	unsigned int resets;
	unsigned int bad_order;		/* data before open, after its close, open twice */
	struct buf data[2];
};

static void
tap_open(void *arg, const struct ps_tls_flow *t)
{
	struct tap_log *tl = arg;

	if (tl->opens > 0 || tl->data[0].len > 0 || tl->data[1].len > 0 || t == NULL)
		tl->bad_order++;
	tl->opens++;
}

static void
tap_data(void *arg, int dir, const uint8_t *p, uint32_t n)
{
	struct tap_log *tl = arg;

	assert_true(dir == 0 || dir == 1);
	if (tl->opens == 0 || tl->closes[dir] > 0 || tl->resets > 0)
		tl->bad_order++;
	buf_add(&tl->data[dir], p, n);
}

static void
tap_close(void *arg, int dir, bool reset)
{
	struct tap_log *tl = arg;

	assert_true(dir == 0 || dir == 1);
	if (tl->opens == 0)
		tl->bad_order++;
	if (reset)
		tl->resets++;
	else
		tl->closes[dir]++;
}

/* ------------------------------------------------------------------ */
/* The network: two peers, the proxy, frames in flight. */

enum dst { TO_PX_FROM_CLI, TO_PX_FROM_SRV, TO_CLI, TO_SRV };

struct frame {
	enum dst dst;
	uint64_t at;
	uint32_t len;
	uint8_t buf[FRAME_MAX];
};

/* A peer: TCP endpoint, TLS over it (or plain bytes), and its application. */
struct host {
	struct ps_tcp_ep ep;
	struct ps_tcp_frame_spec tmpl;	/* its own frames */
	bool started;
	SSL *ssl;			/* NULL: the application speaks plain bytes */

	/* Application: send tx, receive into rx. */
	const uint8_t *tx;
	size_t tx_len, tx_off;
	bool tx_after_rx;		/* only once something arrived (a reply) */
	bool notify_when_sent;		/* close_notify once tx is out */
	bool fin_when_sent;		/* then TCP FIN */
	bool answer_close;		/* peer's close_notify or FIN: ours back, then FIN */
	bool fin_on_fail;		/* handshake failed: FIN after the alert */
	bool corrupt_first;		/* flip a bit of the first application record */
	uint16_t refrag_first;		/* client: first record of its hello carries this many bytes */
	uint32_t seg_max;		/* bytes per TCP write once established, 0: any */
	struct buf rx;

	/* State and what was seen. */
	struct buf wire;		/* TLS bytes (or tx) not yet taken by TCP */
	size_t first_flight;		/* client: wire bytes of its first handshake call */
	bool hs_done, failed, sent_notify, got_notify, peer_fin, closed, corrupted;
	int alert_rcvd;			/* last alert received, -1: none */
	unsigned int alerts_rcvd;
	uint32_t events;
	uint32_t data_segs;		/* segments with payload it sent */
	uint32_t max_seg;		/* largest of them */
};

struct conn_opts {
	SSL_CTX *srv_ctx;		/* NULL: the server speaks plain bytes */
	bool cli_plain;			/* the client speaks plain bytes */
	int cli_max_version;		/* 0: TLS 1.3 */
	const uint8_t *cli_alpn;
	size_t cli_alpn_len;
	bool cli_no_ticket;		/* TLS 1.2 session IDs, not tickets */
	SSL_SESSION *cli_session;	/* offered for resumption */
	uint32_t key;			/* upstream identity; 0: a fresh one */
	SSL_CTX *cli_ctx;		/* NULL: cli_ctx (trusts the appliance CA only) */
};

struct net {
	uint64_t now;
	struct ps_tcp_cfg cfg;		/* the proxy's endpoints */
	struct ps_tcp_cfg host_cfg;	/* the client's and the server's */
	struct ps_tcp_stats stats;
	struct host cli, srv;
	struct ps_proxy px;
	bool px_open;
	struct ps_tls_flow tf;
	struct ps_tls_flow_stats ts;
	struct ps_tls_tap tap;
	struct tap_log tl;
	uint8_t key[8];
	struct ps_proxy_io io;
	struct ps_tcp_out out;
	uint8_t *scratch;
	struct frame *q;		/* ring: frames all take DELAY_US, so in time order */
	unsigned int qh, qn;
	unsigned int bad_frames;
};

static void
peer_info_cb(const SSL *ssl, int where, int ret)
{
	struct host *h = SSL_get_app_data(ssl);

	if (h != NULL && (where & SSL_CB_READ_ALERT)) {
		h->alert_rcvd = ret & 0xff;
		h->alerts_rcvd++;
	}
}

static void
queue(struct net *n, enum dst dst, const uint8_t *frame, uint32_t len)
{
	struct frame *f;

	assert_true(n->qn < QMAX);
	assert_true(len <= FRAME_MAX);
	f = &n->q[(n->qh + n->qn++) % QMAX];
	f->dst = dst;
	f->at = n->now + DELAY_US;
	f->len = len;
	memcpy(f->buf, frame, len);
}

/* The proxy's frames: check them as the wire would, then deliver. */
static void
px_emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	struct net *n = ctx;
	const struct ps_tcp_frame_spec *id = side == PS_SIDE_SRV ? &n->cli.tmpl : &n->srv.tmpl;
	struct ps_pkt p;

	if (ps_pkt_parse(frame, len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(frame, &p) ||
	    !ps_pkt_ip4_csum_ok(frame, &p)) {
		n->bad_frames++;
		return;
	}
	/* Each side sees the other peer's identity. */
	if (memcmp(p.src_mac, id->eth.src, 6) || memcmp(p.dst_mac, id->eth.dst, 6) ||
	    memcmp(&p.src, &id->src, sizeof(p.src)) || memcmp(&p.dst, &id->dst, sizeof(p.dst)) ||
	    p.sport != id->tcp.sport || p.dport != id->tcp.dport)
		n->bad_frames++;
	queue(n, side == PS_SIDE_SRV ? TO_SRV : TO_CLI, frame, len);
}

static enum dst
dst_of(struct net *n, struct host *h)
{
	return h == &n->cli ? TO_PX_FROM_CLI : TO_PX_FROM_SRV;
}

/* Send the segments of n->out made by host h as frames towards the proxy. */
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

			if (seg->len > 0) {
				ps_tcp_copy_payload(&h->ep, seg, payload);
				h->data_segs++;
				if (seg->len > h->max_seg)
					h->max_seg = seg->len;
			}
			spec.tcp = seg->tcp;
			spec.tcp.sport = h->tmpl.tcp.sport;
			spec.tcp.dport = h->tmpl.tcp.dport;
			len = ps_build_tcp_frame(frame, sizeof(frame), &spec, payload, seg->len);
			assert_true(len > 0);
			queue(n, dst_of(n, h), frame, (uint32_t)len);
		}
		h->events |= n->out.events;
		ps_tcp_out_reset(&n->out);
		if (!more)
			break;
		ps_tcp_output(&h->ep, n->now, &n->out);
	}
}

/* Hand h's pending wire bytes to its TCP endpoint, as much as it takes. */
static void
host_push(struct net *n, struct host *h)
{
	while (buf_pending(&h->wire) > 0) {
		uint32_t k = (uint32_t)buf_pending(&h->wire);
		int w;

		if (h->seg_max > 0) {
			/* Tiny segments: only once established, or the bytes
			 * written before would leave together. */
			if (ps_tcp_state(&h->ep) != PS_TCP_ST_ESTABLISHED)
				return;
			if (k > h->seg_max)
				k = h->seg_max;
		}
		ps_tcp_out_reset(&n->out);
		w = ps_tcp_write(&h->ep, h->wire.p + h->wire.off, k, n->now, &n->out);
		host_flush(n, h);
		if (w <= 0)
			break;
		h->wire.off += (size_t)w;
	}
}

/* Move what SSL wrote into the wire buffer. */
static void
ssl_drain(struct host *h)
{
	uint8_t b[16384];
	int r;

	while ((r = BIO_read(SSL_get_wbio(h->ssl), b, sizeof(b))) > 0)
		buf_add(&h->wire, b, (size_t)r);
}

/*
 * Cut the first flight (one handshake record) in two records: the first
 * carries refrag_first bytes of the hello, the second the rest. Legal
 * (RFC 8446 section 5.1: handshake messages may be fragmented across
 * records) and transparent to the handshake transcript.
 */
static void
refragment(struct host *h)
{
	uint8_t in[16384 + 5], out[16384 + 10];
	int m = BIO_read(SSL_get_wbio(h->ssl), in, sizeof(in));
	size_t len, k = h->refrag_first;

	assert_true(m > 5);
	len = (size_t)in[3] << 8 | in[4];
	assert_int_equal(len + 5, (size_t)m);	/* one record */
	assert_true(k < len);
	memcpy(out, in, 3);
	out[3] = (uint8_t)(k >> 8);
	out[4] = (uint8_t)k;
	memcpy(out + 5, in + 5, k);
	memcpy(out + 5 + k, in, 3);
	out[5 + k + 3] = (uint8_t)((len - k) >> 8);
	out[5 + k + 4] = (uint8_t)(len - k);
	memcpy(out + 10 + k, in + 5 + k, len - k);
	buf_add(&h->wire, out, len + 10);
}

static bool
can_send(const struct host *h)
{
	return !h->tx_after_rx || h->rx.len > 0;
}

/* The TLS application: handshake, read, write, close_notify. */
static void
host_tls(struct host *h)
{
	uint8_t b[16384];
	int r, e;

	if (h->failed)
		return;
	if (!h->hs_done) {
		ERR_clear_error();
		r = SSL_do_handshake(h->ssl);
		if (r == 1) {
			h->hs_done = true;
		} else {
			e = SSL_get_error(h->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				h->failed = true;
		}
		if (h->first_flight == 0) {
			h->first_flight = (size_t)BIO_pending(SSL_get_wbio(h->ssl));
			if (h->refrag_first > 0)
				refragment(h);
		}
		ssl_drain(h);
	}
	if (!h->hs_done || h->failed)
		return;
	while (!h->got_notify) {
		ERR_clear_error();
		r = SSL_read(h->ssl, b, sizeof(b));
		if (r > 0) {
			buf_add(&h->rx, b, (size_t)r);
			continue;
		}
		e = SSL_get_error(h->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			h->got_notify = true;
		else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			h->failed = true;
		break;
	}
	ssl_drain(h);
	while (!h->failed && !h->sent_notify && can_send(h) && h->tx_off < h->tx_len &&
	       buf_pending(&h->wire) < WIRE_HIWAT) {
		size_t k = h->tx_len - h->tx_off;

		if (k > 16384)
			k = 16384;
		ERR_clear_error();
		r = SSL_write(h->ssl, h->tx + h->tx_off, (int)k);
		assert_int_equal(r, (int)k);
		h->tx_off += k;
		if (h->corrupt_first && !h->corrupted) {
			uint8_t rec[16384 + 512];
			int m = BIO_read(SSL_get_wbio(h->ssl), rec, sizeof(rec));

			/* The last byte is in the record's authentication tag. */
			assert_true(m > 5);
			rec[m - 1] ^= 0x01;
			h->corrupted = true;
			buf_add(&h->wire, rec, (size_t)m);
		}
		ssl_drain(h);
	}
	if (!h->sent_notify && ((h->notify_when_sent && h->tx_off == h->tx_len) ||
				(h->answer_close && (h->got_notify || h->peer_fin)))) {
		ERR_clear_error();
		(void)SSL_shutdown(h->ssl);
		h->sent_notify = true;
		ssl_drain(h);
	}
}

static void
host_app(struct net *n, struct host *h)
{
	uint8_t b[16384];
	bool fin;

	if (!h->started)
		return;
	/* TCP in: to the TLS library, or the application's bytes. */
	while (ps_tcp_readable(&h->ep) > 0) {
		uint32_t got;

		ps_tcp_out_reset(&n->out);
		got = ps_tcp_read(&h->ep, b, sizeof(b), n->now, &n->out);
		host_flush(n, h);
		if (got == 0)
			break;
		if (h->ssl != NULL)
			assert_int_equal(BIO_write(SSL_get_rbio(h->ssl), b, (int)got), (int)got);
		else
			buf_add(&h->rx, b, got);
	}
	if (ps_tcp_peer_closed(&h->ep) && ps_tcp_readable(&h->ep) == 0)
		h->peer_fin = true;
	if (h->ssl != NULL) {
		host_tls(h);
	} else if (can_send(h) && h->tx_off < h->tx_len) {
		buf_add(&h->wire, h->tx + h->tx_off, h->tx_len - h->tx_off);
		h->tx_off = h->tx_len;
	}
	host_push(n, h);

	if (h->closed || buf_pending(&h->wire) > 0)
		return;
	fin = (h->fin_when_sent && h->tx_off == h->tx_len &&
	       (h->ssl == NULL || !h->notify_when_sent || h->sent_notify)) ||
	      (h->answer_close && (h->got_notify || h->peer_fin)) ||
	      (h->fin_on_fail && h->failed);
	if (fin && ps_tcp_state(&h->ep) >= PS_TCP_ST_ESTABLISHED) {
		h->closed = true;
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_close(&h->ep, n->now, &n->out);
		host_flush(n, h);
	}
}

static void
deliver(struct net *n, struct frame *f)
{
	struct ps_pkt p;

	assert_int_equal(ps_pkt_parse(f->buf, f->len, &p), PS_PKT_OK);
	switch (f->dst) {
	case TO_PX_FROM_CLI:
		if (!n->px_open) {
			assert_int_equal(ps_proxy_open(&n->px, &n->cfg, &n->stats, &p,
						       1000, 0xfffff000u, n->now, &n->io), 0);
			assert_int_equal(ps_tls_flow_init(&n->tf, &icpt, &n->ts, &n->tap,
							  n->key, sizeof(n->key)), 0);
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
			/* A listening server: accept at once. */
			assert_int_equal(ps_tcp_passive_syn(&n->srv.ep, &p, 777777, n->now), 0);
			ps_tcp_out_reset(&n->out);
			assert_int_equal(ps_tcp_accept(&n->srv.ep, n->now, &n->out), 0);
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

static SSL *
new_ssl(SSL_CTX *ctx, struct host *h)
{
	SSL *s = SSL_new(ctx);
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	assert_non_null(s);
	assert_non_null(r);
	assert_non_null(w);
	BIO_set_mem_eof_return(r, -1);	/* empty: retry, not EOF */
	BIO_set_mem_eof_return(w, -1);
	SSL_set_bio(s, r, w);
	SSL_set_app_data(s, h);
	return s;
}

static void
net_init(struct net *n, const struct conn_opts *o)
{
	struct ps_tcp_frame_spec *c = &n->cli.tmpl, *s = &n->srv.tmpl;
	uint32_t key = o->key != 0 ? o->key : ++key_serial + 1000000u;

	memset(n, 0, sizeof(*n));
	ps_tcp_cfg_defaults(&n->cfg);
	n->cfg.snd_buf = 64 * 1024;
	n->cfg.rcv_buf = 64 * 1024;
	n->cfg.wscale = 2;
	assert_int_equal(ps_tcp_cfg_check(&n->cfg), 0);
	n->host_cfg = n->cfg;
	n->q = calloc(QMAX, sizeof(*n->q));
	n->scratch = malloc(PS_PROXY_SCRATCH);
	assert_non_null(n->q);
	assert_non_null(n->scratch);
	n->io.emit = px_emit;
	n->io.ctx = n;
	n->io.scratch = n->scratch;
	n->io.out = &n->out;
	n->now = 1000000;
	n->tap.open = tap_open;
	n->tap.data = tap_data;
	n->tap.close = tap_close;
	n->tap.arg = &n->tl;
	/* The upstream identity (address, port; here a serial). */
	memcpy(n->key, "\xc6\x12\x00\x02\x01\xbb", 6);
	n->key[6] = (uint8_t)(key >> 8);
	n->key[7] = (uint8_t)key;

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
	ps_tcp_init(&n->cli.ep, &n->host_cfg, NULL, 0);
	ps_tcp_init(&n->srv.ep, &n->host_cfg, NULL, 0);
	n->cli.alert_rcvd = n->srv.alert_rcvd = -1;

	if (!o->cli_plain) {
		SSL *ssl = new_ssl(o->cli_ctx != NULL ? o->cli_ctx : cli_ctx, &n->cli);

		SSL_set_connect_state(ssl);
		assert_int_equal(SSL_set_tlsext_host_name(ssl, "server.test"), 1);
		assert_int_equal(SSL_set1_host(ssl, "server.test"), 1);
		if (o->cli_max_version != 0)
			assert_int_equal(SSL_set_max_proto_version(ssl, o->cli_max_version), 1);
		if (o->cli_alpn != NULL)	/* 0 on success */
			assert_int_equal(SSL_set_alpn_protos(ssl, o->cli_alpn,
							     (unsigned int)o->cli_alpn_len), 0);
		if (o->cli_no_ticket)
			SSL_set_options(ssl, SSL_OP_NO_TICKET);
		if (o->cli_session != NULL)
			assert_int_equal(SSL_set_session(ssl, o->cli_session), 1);
		n->cli.ssl = ssl;
	}
	if (o->srv_ctx != NULL) {
		n->srv.ssl = new_ssl(o->srv_ctx, &n->srv);
		SSL_set_accept_state(n->srv.ssl);
	}
}

static void
net_free(struct net *n)
{
	if (n->px_open) {
		ps_tls_flow_free(&n->tf);
		ps_proxy_free(&n->px);
	}
	ps_tcp_free(&n->cli.ep);
	ps_tcp_free(&n->srv.ep);
	SSL_free(n->cli.ssl);
	SSL_free(n->srv.ssl);
	buf_free(&n->cli.rx);
	buf_free(&n->srv.rx);
	buf_free(&n->cli.wire);
	buf_free(&n->srv.wire);
	buf_free(&n->tl.data[0]);
	buf_free(&n->tl.data[1]);
	free(n->q);
	free(n->scratch);
}

static void
net_connect(struct net *n)
{
	ps_tcp_out_reset(&n->out);
	assert_int_equal(ps_tcp_connect(&n->cli.ep, 5000, n->now, &n->out), 0);
	host_flush(n, &n->cli);
	n->cli.started = true;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Run until nothing is queued and no timer is due before until. */
static void
net_run(struct net *n, uint64_t until)
{
	while (n->now < until) {
		uint64_t next = until;

		if (n->qn > 0)
			next = min_u64(next, n->q[n->qh].at);
		next = min_u64(next, ps_tcp_next_deadline(&n->cli.ep));
		next = min_u64(next, ps_tcp_next_deadline(&n->srv.ep));
		if (n->px_open)
			next = min_u64(next, ps_proxy_deadline(&n->px));
		if (next < n->now)
			next = n->now;
		n->now = next;
		if (n->now >= until)
			break;
		while (n->qn > 0 && n->q[n->qh].at <= n->now) {
			struct frame *f = &n->q[n->qh];
			struct frame copy;

			memcpy(&copy, f, offsetof(struct frame, buf) + f->len);
			n->qh = (n->qh + 1) % QMAX;
			n->qn--;
			deliver(n, &copy);
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
		if (n->px_open && ps_proxy_deadline(&n->px) <= n->now)
			ps_proxy_timer(&n->px, n->now, &n->io);
		host_app(n, &n->cli);
		host_app(n, &n->srv);
	}
}

static uint8_t *
pattern(size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
	return b;
}

/* Every counter of the flow, for a failing test's log. */
static void
dump(const struct net *n)
{
	unsigned int i;

	for (i = 0; i < PS_TLSF_MAX; i++)
		if (n->ts.c[i] != 0)
			print_message("  %s = %llu\n", ps_tlsf_counter_name(i),
				      (unsigned long long)n->ts.c[i]);
	print_message("  state %s, why \"%s\"\n",
		      ps_tls_flow_state_name((enum ps_tls_flow_state)n->tf.state), n->tf.why);
}

#define CNT(n, name)	((n)->ts.c[PS_TLSF_##name])

#define expect_cnt(n, name, want) do {						\
		if (CNT(n, name) != (uint64_t)(want)) {				\
			print_error("counter %s: %llu, want %llu\n",		\
				    ps_tlsf_counter_name(PS_TLSF_##name),	\
				    (unsigned long long)CNT(n, name),		\
				    (unsigned long long)(want));		\
			dump(n);						\
		}								\
		assert_int_equal(CNT(n, name), (want));				\
	} while (0)

/* Both peers completed their handshake (the client through the appliance). */
static void
expect_handshakes(struct net *n)
{
	if (!n->cli.hs_done || n->cli.failed || !n->srv.hs_done || n->srv.failed) {
		print_error("client: done %d failed %d alert %d; server: done %d failed %d\n",
			    n->cli.hs_done, n->cli.failed, n->cli.alert_rcvd, n->srv.hs_done,
			    n->srv.failed);
		dump(n);
	}
	assert_true(n->cli.hs_done);
	assert_false(n->cli.failed);
	assert_true(n->srv.hs_done);
	assert_false(n->srv.failed);
}

/* Both TCP connections ended in order, nothing reset. */
static void
expect_clean_end(struct net *n)
{
	assert_true(ps_proxy_done(&n->px));
	assert_false(n->px.flags & PS_PROXY_F_RESET);
	assert_false(n->cli.events & PS_TCP_EV_RESET);
	assert_false(n->srv.events & PS_TCP_EV_RESET);
	assert_int_equal(ps_tcp_state(&n->cli.ep), PS_TCP_ST_CLOSED);
	assert_int_equal(ps_tcp_state(&n->srv.ep), PS_TCP_ST_CLOSED);
	assert_int_equal(n->bad_frames, 0);
}

/* ------------------------------------------------------------------ */
/* Interception, both directions. */

static void
both_ways(int version, size_t up, size_t down)
{
	struct conn_opts o = { .srv_ctx = srv_valid, .cli_max_version = version };
	uint8_t *utx = pattern(up, 11), *dtx = pattern(down, 12);
	struct net n;

	net_init(&n, &o);
	n.cli.tx = utx;
	n.cli.tx_len = up;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.tx = dtx;
	n.srv.tx_len = down;
	n.srv.notify_when_sent = n.srv.fin_when_sent = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);

	expect_handshakes(&n);
	assert_int_equal(SSL_version(n.cli.ssl), version != 0 ? version : TLS1_3_VERSION);
	/* Byte-identical, both ways. */
	assert_int_equal(n.srv.rx.len, up);
	assert_int_equal(n.cli.rx.len, down);
	assert_memory_equal(n.srv.rx.p, utx, up);
	assert_memory_equal(n.cli.rx.p, dtx, down);
	/* The tap saw exactly the plaintext: open, data, then the closes. */
	assert_int_equal(n.tl.opens, 1);
	assert_int_equal(n.tl.bad_order, 0);
	assert_int_equal(n.tl.data[0].len, up);
	assert_int_equal(n.tl.data[1].len, down);
	assert_memory_equal(n.tl.data[0].p, utx, up);
	assert_memory_equal(n.tl.data[1].p, dtx, down);
	assert_int_equal(n.tl.closes[0], 1);
	assert_int_equal(n.tl.closes[1], 1);
	assert_int_equal(n.tl.resets, 0);
	assert_int_equal(n.ts.plain_bytes[0], up);
	assert_int_equal(n.ts.plain_bytes[1], down);
	/* close_notify both ways, mirrored. */
	assert_true(n.cli.got_notify);
	assert_true(n.srv.got_notify);
	expect_cnt(&n, HELLO_TLS, 1);
	expect_cnt(&n, UP_FULL, 1);
	expect_cnt(&n, CLI_FULL, 1);
	expect_cnt(&n, DECRYPTED, 1);
	expect_cnt(&n, VERIFY_FAILED, 0);
	expect_cnt(&n, RECORD_FAILED, 0);
	expect_cnt(&n, TRUNCATED, 0);
	expect_clean_end(&n);
	assert_int_equal(n.tf.state, PS_TLSF_ST_DONE);
	net_free(&n);
	free(utx);
	free(dtx);
}

static void
test_tls13_both_ways(void **state)
{
	(void)state;
	both_ways(0, 1000000, 1000000);
}

static void
test_tls12_both_ways(void **state)
{
	(void)state;
	both_ways(TLS1_2_VERSION, 1000000, 1000000);
}

/* Is the DNS name (or 4-byte IP) in x's subjectAltName? */
static bool
has_san(X509 *x, int type, const void *val, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	int i;

	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;

		if (g->type != type)
			continue;
		s = type == GEN_DNS ? g->d.dNSName : g->d.iPAddress;
		if ((size_t)ASN1_STRING_length(s) == len &&
		    memcmp(ASN1_STRING_get0_data(s), val, len) == 0)
			found = true;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/* The leaf the client got chains to the appliance CA and carries the server's names. */
static void
test_forged_leaf(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	static const uint8_t ip[4] = { 192, 0, 2, 7 };
	X509_STORE *store;
	X509_STORE_CTX *xs;
	X509 *leaf;
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.cli.tx = (const uint8_t *)"ping";
	n.cli.tx_len = 4;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	expect_handshakes(&n);
	assert_int_equal(SSL_get_verify_result(n.cli.ssl), X509_V_OK);

	/* The record names the server's own certificate by its SHA-256. */
	{
		struct ps_sess_rec r;
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned int md_len = 0, i;
		char hex[2 * 32 + 1];

		memset(&r, 0, sizeof(r));
		ps_tls_flow_describe(&n.tf, &r);
		assert_int_equal(X509_digest(leaf_valid, EVP_sha256(), md, &md_len), 1);
		for (i = 0; i < md_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		assert_string_equal(r.cert_sha256, hex);
		assert_non_null(strstr(r.cert_subject, "server.test"));
	}

	leaf = SSL_get1_peer_certificate(n.cli.ssl);
	assert_non_null(leaf);
	/* Not the server's own certificate: forged, with its names. */
	assert_int_not_equal(X509_cmp(leaf, leaf_valid), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf),
				       X509_get_subject_name(app_cert)), 0);
	assert_true(has_san(leaf, GEN_DNS, "server.test", 11));
	assert_true(has_san(leaf, GEN_DNS, "www.server.test", 15));
	assert_true(has_san(leaf, GEN_IPADD, ip, 4));
	assert_false(has_san(leaf, GEN_DNS, "other.test", 10));

	/* OpenSSL's own chain builder, with the name, as a client would. */
	store = X509_STORE_new();
	xs = X509_STORE_CTX_new();
	assert_non_null(store);
	assert_non_null(xs);
	assert_int_equal(X509_STORE_add_cert(store, app_cert), 1);
	assert_int_equal(X509_STORE_CTX_init(xs, store, leaf, SSL_get_peer_cert_chain(n.cli.ssl)), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(xs),
						     "www.server.test", 0), 1);
	if (X509_verify_cert(xs) != 1)
		print_error("verify: %s\n",
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	assert_int_equal(X509_STORE_CTX_get_error(xs), X509_V_OK);
	/* And it does not verify against the web root (it is not the server's). */
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
	store = X509_STORE_new();
	xs = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_add_cert(store, web_root), 1);
	assert_int_equal(X509_STORE_CTX_init(xs, store, leaf, NULL), 1);
	assert_int_not_equal(X509_verify_cert(xs), 1);
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
	X509_free(leaf);
	ERR_clear_error();

	assert_int_equal(n.srv.rx.len, 4);
	expect_cnt(&n, VERIFY_FAILED, 0);
	expect_clean_end(&n);
	net_free(&n);
}

/* The ClientHello in 1-byte TCP segments: the reader reassembles it. */
static void
test_hello_one_byte_segments(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	uint8_t *utx = pattern(3000, 21), *dtx = pattern(5000, 22);
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.cli.seg_max = 1;
	n.cli.tx = utx;
	n.cli.tx_len = 3000;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.tx = dtx;
	n.srv.tx_len = 5000;
	n.srv.notify_when_sent = n.srv.fin_when_sent = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	expect_handshakes(&n);
	/* Every byte of the client, its hello included, came alone. */
	assert_true(n.cli.first_flight > 100);
	assert_int_equal(n.cli.max_seg, 1);
	assert_true(n.cli.data_segs >= n.cli.first_flight + 3000);
	assert_int_equal(n.srv.rx.len, 3000);
	assert_memory_equal(n.srv.rx.p, utx, 3000);
	assert_int_equal(n.cli.rx.len, 5000);
	assert_memory_equal(n.cli.rx.p, dtx, 5000);
	expect_cnt(&n, HELLO_TLS, 1);
	expect_cnt(&n, DECRYPTED, 1);
	expect_clean_end(&n);
	net_free(&n);
	free(utx);
	free(dtx);
}

/*
 * A ClientHello over 16 KB: OpenSSL fragments it into several handshake
 * records (an ALPN list of 70 names of 255 bytes, http/1.1 first).
 */
static void
test_hello_over_16k(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	size_t alpn_len = 0, off, records = 0;
	uint8_t *alpn = malloc(9 + 70 * 256);
	const unsigned char *sel;
	unsigned int sel_len;
	struct net n;
	int i;

	(void)state;
	assert_non_null(alpn);
	memcpy(alpn, "\x08http/1.1", 9);
	alpn_len = 9;
	for (i = 0; i < 70; i++) {
		alpn[alpn_len] = 255;
		memset(alpn + alpn_len + 1, 'a' + i % 26, 255);
		alpn[alpn_len + 1] = (uint8_t)('0' + i / 26);	/* names differ */
		alpn_len += 256;
	}
	o.cli_alpn = alpn;
	o.cli_alpn_len = alpn_len;
	srv_alpn_pick = "http/1.1";
	net_init(&n, &o);
	n.cli.tx = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n";
	n.cli.tx_len = 18;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.answer_close = true;
	net_connect(&n);
	/* The first flight, before anything is sent: count its records. */
	host_app(&n, &n.cli);
	assert_true(n.cli.first_flight > 16384 + 5);
	for (off = 0; off + 5 <= n.cli.wire.len; records++) {
		assert_int_equal(n.cli.wire.p[off], 22);	/* handshake */
		off += 5 + ((size_t)n.cli.wire.p[off + 3] << 8 | n.cli.wire.p[off + 4]);
	}
	assert_int_equal(off, n.cli.first_flight);
	assert_true(records >= 2);
	net_run(&n, n.now + RUN_US);
	srv_alpn_pick = NULL;
	expect_handshakes(&n);
	SSL_get0_alpn_selected(n.cli.ssl, &sel, &sel_len);
	assert_int_equal(sel_len, 8);
	assert_memory_equal(sel, "http/1.1", 8);
	assert_int_equal(n.srv.rx.len, 18);
	expect_cnt(&n, HELLO_TLS, 1);
	expect_cnt(&n, DECRYPTED, 1);
	expect_clean_end(&n);
	net_free(&n);
	free(alpn);
}

/*
 * A hello whose first record carries only 2 bytes (type and the first
 * length byte): the 4-byte handshake header straddles two records, so the
 * bytes after the first record header are not the hello's length. A 7 KB
 * hello (ALPN list of 28 names of 255 bytes) is still intercepted.
 */
static void
refragmented_hello(uint16_t first)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	uint8_t *alpn = malloc(9 + 28 * 256);
	size_t alpn_len;
	struct net n;
	int i;

	assert_non_null(alpn);
	memcpy(alpn, "\x08http/1.1", 9);
	alpn_len = 9;
	for (i = 0; i < 28; i++) {
		alpn[alpn_len] = 255;
		memset(alpn + alpn_len + 1, 'a' + i, 255);
		alpn_len += 256;
	}
	o.cli_alpn = alpn;
	o.cli_alpn_len = alpn_len;
	srv_alpn_pick = "http/1.1";
	net_init(&n, &o);
	n.cli.refrag_first = first;
	n.cli.tx = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n";
	n.cli.tx_len = 18;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	srv_alpn_pick = NULL;
	assert_true(n.cli.first_flight > 0x1603 + 4 + 5);
	expect_cnt(&n, HELLO_TLS, 1);
	expect_cnt(&n, PASS_BAD_HELLO, 0);
	expect_handshakes(&n);
	expect_cnt(&n, DECRYPTED, 1);
	assert_int_equal(n.srv.rx.len, 18);
	expect_clean_end(&n);
	net_free(&n);
	free(alpn);
}

static void
test_hello_fragmented_header(void **state)
{
	(void)state;
	refragmented_hello(1);
	refragmented_hello(2);
	refragmented_hello(3);
	refragmented_hello(4);
}

/* ------------------------------------------------------------------ */
/* Not intercepted: relayed untouched. */

/*
 * What looks like a hello but is refused within its first 9 bytes (a
 * record longer than 2^14): every byte still reaches the server, in order.
 */
static void
test_bad_hello_passthrough(void **state)
{
	struct conn_opts o = { .cli_plain = true };
	/* handshake record, TLS 1.0, length 0xffff; ClientHello, length 0x10; then bytes */
	static const uint8_t head[] = "\x16\x03\x01\xff\xff\x01\x00\x00\x10";
	static const char rsp[] = "not a TLS server";
	size_t up = 9 + 3000;
	uint8_t *utx = pattern(up, 32);
	struct net n;

	(void)state;
	memcpy(utx, head, 9);
	net_init(&n, &o);
	n.cli.tx = utx;
	n.cli.tx_len = up;
	n.cli.fin_when_sent = true;
	n.srv.tx = (const uint8_t *)rsp;
	n.srv.tx_len = sizeof(rsp) - 1;
	n.srv.tx_after_rx = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	expect_cnt(&n, PASS_BAD_HELLO, 1);
	expect_cnt(&n, HELLO_TLS, 0);
	assert_int_equal(n.srv.rx.len, up);
	assert_memory_equal(n.srv.rx.p, utx, up);
	assert_int_equal(n.cli.rx.len, sizeof(rsp) - 1);
	expect_clean_end(&n);
	net_free(&n);
	free(utx);
}

static void
test_not_tls_passthrough(void **state)
{
	struct conn_opts o = { .cli_plain = true };
	/* "GET / HTTP/1.1\r\n..." then a 200 KB body, and the reply */
	static const char req[] = "GET / HTTP/1.1\r\nHost: server.test\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	size_t up = sizeof(req) - 1 + 200000;
	uint8_t *utx = pattern(up, 31);
	struct net n;

	(void)state;
	memcpy(utx, req, sizeof(req) - 1);
	net_init(&n, &o);
	n.cli.tx = utx;
	n.cli.tx_len = up;
	n.cli.fin_when_sent = true;
	n.srv.tx = (const uint8_t *)rsp;
	n.srv.tx_len = sizeof(rsp) - 1;
	n.srv.tx_after_rx = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	assert_int_equal(n.srv.rx.len, up);
	assert_memory_equal(n.srv.rx.p, utx, up);
	assert_int_equal(n.cli.rx.len, sizeof(rsp) - 1);
	assert_memory_equal(n.cli.rx.p, rsp, sizeof(rsp) - 1);
	assert_int_equal(n.px.relayed[0], up);
	assert_int_equal(n.px.relayed[1], sizeof(rsp) - 1);
	expect_cnt(&n, PASS_NOT_TLS, 1);
	expect_cnt(&n, HELLO_TLS, 0);
	assert_int_equal(n.tl.opens, 0);
	assert_int_equal(n.tf.state, PS_TLSF_ST_PASS);
	expect_clean_end(&n);
	net_free(&n);
	free(utx);
}

/* The policy: bypass, and copy the flow to the tools when copy_wanted. */
static bool copy_wanted;

static void
decide_bypass(void *arg, const struct ps_tls_client_hello *h, X509 *cert,
	      struct ps_tls_policy_verdict *v)
{
	(void)arg;
	(void)h;
	(void)cert;
	v->decision = PS_TLS_DECIDE_BYPASS;
	v->copy = copy_wanted;
	snprintf(v->rule, sizeof(v->rule), "copy");
}

/*
 * A flow the policy bypasses: relayed untouched (the client talks TLS with
 * the real server), and with copy the tap gets the relayed bytes as they
 * are, ClientHello first, in both directions, and their ends.
 */
static void
bypass_copy(bool copy)
{
	static const char req[] = "GET /bypassed HTTP/1.1\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	SSL_CTX *web_client = SSL_CTX_new(TLS_client_method());
	struct conn_opts o = { .srv_ctx = srv_valid, .cli_ctx = web_client };
	struct net n;

	assert_non_null(web_client);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(web_client), web_root), 1);
	SSL_CTX_set_verify(web_client, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_info_callback(web_client, peer_info_cb);
	copy_wanted = copy;
	net_init(&n, &o);
	n.tap.decide = decide_bypass;
	n.cli.tx = (const uint8_t *)req;
	n.cli.tx_len = sizeof(req) - 1;
	n.cli.notify_when_sent = true;
	n.cli.fin_when_sent = true;
	n.srv.tx = (const uint8_t *)rsp;
	n.srv.tx_len = sizeof(rsp) - 1;
	n.srv.tx_after_rx = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	/* The real server's certificate: the client verified it itself. */
	assert_true(n.cli.hs_done);
	assert_false(n.cli.failed);
	assert_int_equal(n.srv.rx.len, sizeof(req) - 1);
	assert_int_equal(n.cli.rx.len, sizeof(rsp) - 1);
	expect_cnt(&n, POLICY_BYPASS, 1);
	assert_int_equal(n.tf.state, PS_TLSF_ST_PASS);
	if (!copy) {
		assert_int_equal(n.tl.opens, 0);
		assert_int_equal(n.tl.data[0].len + n.tl.data[1].len, 0);
	} else {
		assert_int_equal(n.tl.opens, 1);
		assert_int_equal(n.tl.bad_order, 0);
		/* Exactly the bytes relayed, each way: the TLS records themselves. */
		assert_int_equal(n.tl.data[0].len, n.px.relayed[0]);
		assert_int_equal(n.tl.data[1].len, n.px.relayed[1]);
		assert_true(n.tl.data[0].len > 6 && n.tl.data[1].len > 6);
		assert_int_equal(n.tl.data[0].p[0], 0x16);	/* handshake record */
		assert_int_equal(n.tl.data[0].p[5], 0x01);	/* ClientHello */
		assert_int_equal(n.tl.data[1].p[0], 0x16);
		assert_int_equal(n.tl.data[1].p[5], 0x02);	/* ServerHello */
		/* Never the plaintext: this is the encrypted conversation. */
		assert_null(memmem(n.tl.data[0].p, n.tl.data[0].len, "GET /bypassed", 13));
		assert_int_equal(n.tl.closes[0], 1);
		assert_int_equal(n.tl.closes[1], 1);
	}
	expect_clean_end(&n);
	net_free(&n);
	SSL_CTX_free(web_client);
}

static void
test_bypass_not_copied(void **state)
{
	(void)state;
	bypass_copy(false);
}

static void
test_bypass_copied(void **state)
{
	(void)state;
	bypass_copy(true);
}

/* A server that speaks first (an SMTP banner): relayed untouched. */
static void
test_server_first_passthrough(void **state)
{
	struct conn_opts o = { .cli_plain = true };
	static const char banner[] = "220 mail.server.test ESMTP ready\r\n";
	/* A TLS-looking client reply must not be intercepted either:
	 * a handshake record header and ClientHello type. */
	static const uint8_t ehlo[] = "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00EHLO x\r\n";
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.srv.tx = (const uint8_t *)banner;
	n.srv.tx_len = sizeof(banner) - 1;
	n.srv.answer_close = true;
	n.cli.tx = ehlo;
	n.cli.tx_len = sizeof(ehlo) - 1;
	n.cli.tx_after_rx = true;
	n.cli.fin_when_sent = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	assert_int_equal(n.cli.rx.len, sizeof(banner) - 1);
	assert_memory_equal(n.cli.rx.p, banner, sizeof(banner) - 1);
	assert_int_equal(n.srv.rx.len, sizeof(ehlo) - 1);
	assert_memory_equal(n.srv.rx.p, ehlo, sizeof(ehlo) - 1);
	expect_cnt(&n, PASS_SERVER_FIRST, 1);
	expect_cnt(&n, HELLO_TLS, 0);
	assert_int_equal(n.tl.opens, 0);
	expect_clean_end(&n);
	net_free(&n);
}

/* ------------------------------------------------------------------ */
/* A server whose certificate does not verify: the client is refused. */

static void
bad_upstream(SSL_CTX *srv, const char *why)
{
	struct conn_opts o = { .srv_ctx = srv };
	struct net n;

	net_init(&n, &o);
	n.cli.tx = (const uint8_t *)"secret request";
	n.cli.tx_len = 14;
	n.cli.fin_on_fail = true;
	n.srv.tx = (const uint8_t *)"server data";
	n.srv.tx_len = 11;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	/* The client's handshake failed on an alert from the appliance. */
	assert_false(n.cli.hs_done);
	assert_true(n.cli.failed);
	assert_int_equal(n.cli.alert_rcvd, SSL_AD_HANDSHAKE_FAILURE);
	assert_int_equal(n.cli.rx.len, 0);
	expect_cnt(&n, VERIFY_FAILED, 1);
	expect_cnt(&n, VERIFY_REJECTED, 1);
	expect_cnt(&n, FORGE_FAILED, 0);	/* refused before forging */
	expect_cnt(&n, DECRYPTED, 0);
	expect_cnt(&n, CLI_FULL, 0);
	expect_cnt(&n, SESS_STORED, 0);
	if (strstr(n.tf.why, why) == NULL)
		print_error("why: \"%s\", want \"%s\"\n", n.tf.why, why);
	assert_non_null(strstr(n.tf.why, why));
	/* Nothing leaked to the server: its handshake with the appliance
	 * completed, then only a close_notify and a FIN. */
	assert_true(n.srv.hs_done);
	assert_false(n.srv.failed);
	assert_int_equal(n.srv.rx.len, 0);
	assert_true(n.srv.got_notify);
	assert_true(n.srv.peer_fin);
	assert_int_equal(n.tl.opens, 0);
	assert_true(ps_proxy_done(&n.px));
	assert_int_equal(n.bad_frames, 0);
	net_free(&n);
}

static void
test_upstream_expired(void **state)
{
	(void)state;
	bad_upstream(srv_expired, "expired");
}

static void
test_upstream_wrong_host(void **state)
{
	(void)state;
	bad_upstream(srv_wronghost, "mismatch");
}

static void
test_upstream_self_signed(void **state)
{
	(void)state;
	bad_upstream(srv_self, "self");
}

/* ------------------------------------------------------------------ */

/* ALPN: the client's list goes upstream, the server's choice comes back. */
static void
test_alpn(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid, .cli_alpn = alpn_h2_h11,
			       .cli_alpn_len = ALPN_LEN(alpn_h2_h11) };
	const unsigned char *sel;
	unsigned int sel_len;
	struct net n;

	(void)state;
	srv_alpn_pick = "http/1.1";
	srv_alpn_offered_len = 0;
	net_init(&n, &o);
	n.cli.tx = (const uint8_t *)"hi";
	n.cli.tx_len = 2;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	srv_alpn_pick = NULL;
	expect_handshakes(&n);
	assert_int_equal(srv_alpn_offered_len, ALPN_LEN(alpn_h2_h11));
	assert_memory_equal(srv_alpn_offered, alpn_h2_h11, ALPN_LEN(alpn_h2_h11));
	SSL_get0_alpn_selected(n.srv.ssl, &sel, &sel_len);
	assert_int_equal(sel_len, 8);
	SSL_get0_alpn_selected(n.cli.ssl, &sel, &sel_len);
	assert_int_equal(sel_len, 8);
	assert_memory_equal(sel, "http/1.1", 8);
	expect_clean_end(&n);
	net_free(&n);
}

/* ------------------------------------------------------------------ */
/* Resumption: client leg from its session cache, upstream leg from ours. */

static void
resumption(int version)
{
	struct conn_opts o = { .srv_ctx = srv_valid, .cli_max_version = version,
			       .cli_no_ticket = version == TLS1_2_VERSION,
			       .key = ++key_serial + 1000000u };
	SSL_SESSION *sess;
	struct net n;
	int round;

	for (round = 0; round < 2; round++) {
		net_init(&n, &o);
		n.cli.tx = (const uint8_t *)"request";
		n.cli.tx_len = 7;
		n.cli.tx_after_rx = true;	/* after the server's greeting */
		n.cli.notify_when_sent = n.cli.fin_when_sent = true;
		n.srv.tx = (const uint8_t *)"greeting";
		n.srv.tx_len = 8;
		n.srv.answer_close = true;
		net_connect(&n);
		net_run(&n, n.now + RUN_US);
		expect_handshakes(&n);
		assert_int_equal(SSL_version(n.cli.ssl), version);
		assert_int_equal(n.srv.rx.len, 7);
		assert_int_equal(n.cli.rx.len, 8);
		expect_clean_end(&n);
		if (round == 0) {
			expect_cnt(&n, UP_FULL, 1);
			expect_cnt(&n, CLI_FULL, 1);
			expect_cnt(&n, SESS_STORED, 1);
			expect_cnt(&n, SESS_OFFERED, 0);
			assert_false(SSL_session_reused(n.cli.ssl));
			o.cli_session = SSL_get1_session(n.cli.ssl);
			assert_non_null(o.cli_session);
			assert_true(SSL_SESSION_is_resumable(o.cli_session));
			if (version == TLS1_2_VERSION)	/* by session ID, no ticket */
				assert_int_equal(SSL_SESSION_has_ticket(o.cli_session), 0);
		} else {
			expect_cnt(&n, SESS_OFFERED, 1);
			expect_cnt(&n, UP_RESUMED, 1);
			expect_cnt(&n, UP_FULL, 0);
			expect_cnt(&n, CLI_RESUMED, 1);
			expect_cnt(&n, CLI_FULL, 0);
			expect_cnt(&n, VERIFY_FAILED, 0);
			assert_true(SSL_session_reused(n.cli.ssl));
			assert_true(SSL_session_reused(n.srv.ssl));
		}
		net_free(&n);
	}
	sess = o.cli_session;
	SSL_SESSION_free(sess);
}

static void
test_resume_tls12(void **state)
{
	(void)state;
	resumption(TLS1_2_VERSION);
}

static void
test_resume_tls13(void **state)
{
	(void)state;
	resumption(TLS1_3_VERSION);
}

/* ------------------------------------------------------------------ */
/* Ends. */

/* The client's close_notify reaches the server, the server's comes back. */
static void
test_close_notify_client(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	uint8_t *utx = pattern(1000, 41);
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.cli.tx = utx;
	n.cli.tx_len = 1000;
	n.cli.notify_when_sent = n.cli.fin_when_sent = true;
	n.srv.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	expect_handshakes(&n);
	assert_int_equal(n.srv.rx.len, 1000);
	assert_memory_equal(n.srv.rx.p, utx, 1000);
	assert_true(n.srv.got_notify);
	assert_true(n.cli.got_notify);
	assert_true(n.srv.peer_fin);
	assert_true(n.cli.peer_fin);
	assert_int_equal(n.tl.closes[0], 1);
	assert_int_equal(n.tl.closes[1], 1);
	assert_int_equal(n.tl.resets, 0);
	expect_cnt(&n, TRUNCATED, 0);
	expect_clean_end(&n);
	net_free(&n);
	free(utx);
}

/* The same, the server closing first. */
static void
test_close_notify_server(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	uint8_t *dtx = pattern(1000, 42);
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.srv.tx = dtx;
	n.srv.tx_len = 1000;
	n.srv.notify_when_sent = n.srv.fin_when_sent = true;
	n.cli.answer_close = true;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	expect_handshakes(&n);
	assert_int_equal(n.cli.rx.len, 1000);
	assert_memory_equal(n.cli.rx.p, dtx, 1000);
	assert_true(n.cli.got_notify);
	assert_true(n.srv.got_notify);
	assert_int_equal(n.tl.closes[0], 1);
	assert_int_equal(n.tl.closes[1], 1);
	expect_cnt(&n, TRUNCATED, 0);
	expect_clean_end(&n);
	net_free(&n);
	free(dtx);
}

/* A FIN without close_notify goes on as a bare FIN, counted. */
static void
test_fin_without_close_notify(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	uint8_t *utx = pattern(1000, 43);
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.cli.tx = utx;
	n.cli.tx_len = 1000;
	n.cli.fin_when_sent = true;		/* no close_notify */
	n.srv.answer_close = true;		/* the server answers with one */
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	expect_handshakes(&n);
	assert_int_equal(n.srv.rx.len, 1000);
	assert_memory_equal(n.srv.rx.p, utx, 1000);
	assert_true(n.srv.peer_fin);
	assert_false(n.srv.got_notify);		/* not invented by the appliance */
	assert_true(n.cli.got_notify);		/* the server's, mirrored */
	expect_cnt(&n, TRUNCATED, 1);
	assert_int_equal(n.tl.closes[0], 1);
	assert_int_equal(n.tl.closes[1], 1);
	expect_clean_end(&n);
	net_free(&n);
	free(utx);
}

/* A record that does not decrypt: both sides are reset, nothing passes. */
static void
test_corrupt_record(void **state)
{
	struct conn_opts o = { .srv_ctx = srv_valid };
	uint8_t *utx = pattern(5000, 44);
	struct net n;

	(void)state;
	net_init(&n, &o);
	n.cli.tx = utx;
	n.cli.tx_len = 5000;
	n.cli.corrupt_first = true;
	n.srv.tx = (const uint8_t *)"hello";
	n.srv.tx_len = 5;
	net_connect(&n);
	net_run(&n, n.now + RUN_US);
	assert_true(n.cli.corrupted);
	assert_true(n.srv.hs_done);
	expect_cnt(&n, RECORD_FAILED, 1);
	expect_cnt(&n, DECRYPTED, 1);
	assert_int_equal(n.srv.rx.len, 0);
	assert_true(n.cli.events & PS_TCP_EV_RESET);
	assert_true(n.srv.events & PS_TCP_EV_RESET);
	assert_true(n.px.flags & PS_PROXY_F_RESET);
	assert_true(ps_proxy_done(&n.px));
	assert_int_equal(n.tl.opens, 1);
	assert_int_equal(n.tl.resets, 1);
	assert_int_equal(n.tl.data[0].len, 0);
	assert_int_equal(n.tl.bad_order, 0);
	assert_int_equal(n.tf.state, PS_TLSF_ST_DONE);
	net_free(&n);
	free(utx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls13_both_ways),
		cmocka_unit_test(test_bypass_not_copied),
		cmocka_unit_test(test_bypass_copied),
		cmocka_unit_test(test_tls12_both_ways),
		cmocka_unit_test(test_forged_leaf),
		cmocka_unit_test(test_hello_one_byte_segments),
		cmocka_unit_test(test_hello_over_16k),
		cmocka_unit_test(test_hello_fragmented_header),
		cmocka_unit_test(test_not_tls_passthrough),
		cmocka_unit_test(test_bad_hello_passthrough),
		cmocka_unit_test(test_server_first_passthrough),
		cmocka_unit_test(test_upstream_expired),
		cmocka_unit_test(test_upstream_wrong_host),
		cmocka_unit_test(test_upstream_self_signed),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_resume_tls12),
		cmocka_unit_test(test_resume_tls13),
		cmocka_unit_test(test_close_notify_client),
		cmocka_unit_test(test_close_notify_server),
		cmocka_unit_test(test_fin_without_close_notify),
		cmocka_unit_test(test_corrupt_record),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
