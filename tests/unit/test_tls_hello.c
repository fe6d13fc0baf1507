/* SPDX-License-Identifier: BSD-3-Clause
 * ClientHello reader unit tests.
 *
 * Real hellos are made at test time by OpenSSL's libssl over memory BIOs
 * (TLS 1.3, TLS 1.2, with SNI and ALPN, and resumption hellos after a real
 * in-memory handshake), and each is also handed to an OpenSSL server whose
 * client-hello callback is the oracle for suites, session ID, random and
 * extension types. Hand-made hellos come from a small builder below; every
 * literal byte array says what it encodes.
 *
 * PS_TLS_DUMP_SEEDS=dir writes the generated hellos there as fuzz seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ps_tls_hello.h"

/* Every verdict a test saw, for the final "all verdicts produced" check. */
static bool seen[PS_TLS_VERDICT_MAX];

static uint8_t msgbuf[PS_TLS_HELLO_MAX];
static uint8_t rawbuf[PS_TLS_HELLO_RAW_MAX];
static struct ps_tls_hello_reader rd;

static enum ps_tls_verdict
note(enum ps_tls_verdict v)
{
	if ((unsigned int)v < PS_TLS_VERDICT_MAX)
		seen[v] = true;
	return v;
}

/* Feed stream[0..len) in pieces of piece bytes into the global reader. */
static enum ps_tls_verdict
feed_pieces(const uint8_t *stream, size_t len, size_t piece, size_t *total)
{
	enum ps_tls_verdict v = PS_TLS_NEED_MORE;
	size_t off = 0, n, used;

	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), rawbuf, sizeof(rawbuf));
	while (off < len) {
		n = len - off < piece ? len - off : piece;
		v = note(ps_tls_hello_feed(&rd, stream + off, n, &used));
		assert_true(used <= n);
		off += used;
		if (v != PS_TLS_NEED_MORE)
			break;
		assert_int_equal(used, n);
	}
	*total = off;
	return v;
}

static enum ps_tls_verdict
feed_all(const uint8_t *stream, size_t len)
{
	size_t total;

	return feed_pieces(stream, len, len == 0 ? 1 : len, &total);
}

/* ---- hand-made hellos ---------------------------------------------- */

struct buf {
	uint8_t b[3 * PS_TLS_HELLO_MAX];
	size_t len;
};

static struct buf ext, msg, wire;

static void
put8(struct buf *b, uint8_t v)
{
	b->b[b->len++] = v;
}

static void
put16(struct buf *b, uint16_t v)
{
	put8(b, (uint8_t)(v >> 8));
	put8(b, (uint8_t)v);
}

static void
putn(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;	/* p may be NULL for empty extensions */
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

/* Append one extension: type, length, data. */
static void
add_ext(uint16_t type, const void *data, size_t n)
{
	put16(&ext, type);
	put16(&ext, (uint16_t)n);
	putn(&ext, data, n);
}

/*
 * ClientHello message: legacy_version 0x0303, random 32 x 0x11, empty
 * session ID, suites {TLS_AES_128_GCM_SHA256 0x1301,
 * TLS_EMPTY_RENEGOTIATION_INFO_SCSV 0x00ff}, compression {null}, then the
 * extensions gathered in ext (none, and no block, when with_ext is false).
 */
static void
build_msg(bool with_ext)
{
	static const uint8_t random[32] = {
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	};
	size_t body;

	msg.len = 0;
	put8(&msg, PS_TLS_HS_CLIENT_HELLO);
	put8(&msg, 0);
	put16(&msg, 0);		/* length, patched below */
	put16(&msg, 0x0303);
	putn(&msg, random, sizeof(random));
	put8(&msg, 0);		/* session ID */
	put16(&msg, 4);
	put16(&msg, 0x1301);
	put16(&msg, 0x00ff);
	put8(&msg, 1);
	put8(&msg, 0);
	if (with_ext) {
		put16(&msg, (uint16_t)ext.len);
		putn(&msg, ext.b, ext.len);
	}
	body = msg.len - PS_TLS_HS_HLEN;
	msg.b[1] = (uint8_t)(body >> 16);
	msg.b[2] = (uint8_t)(body >> 8);
	msg.b[3] = (uint8_t)body;
}

/* Wrap m into handshake records (version 0x0301) of at most chunk bytes. */
static void
wrap(const uint8_t *m, size_t len, size_t chunk)
{
	size_t off = 0, n;

	wire.len = 0;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		put8(&wire, PS_TLS_CT_HANDSHAKE);
		put16(&wire, 0x0301);
		put16(&wire, (uint16_t)n);
		putn(&wire, m + off, n);
		off += n;
	}
}

/* A minimal hello with an SNI of name (n bytes) in one record. */
static void
build_sni_hello(const char *name, size_t n)
{
	struct buf *sni = &msg;	/* scratch before build_msg() */

	sni->len = 0;
	put16(sni, (uint16_t)(n + 3));	/* server_name_list length */
	put8(sni, 0);			/* host_name */
	put16(sni, (uint16_t)n);
	putn(sni, name, n);
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, sni->b, sni->len);
	build_msg(true);
	wrap(msg.b, msg.len, PS_TLS_RECORD_MAX);
}

/* ---- hellos from OpenSSL ------------------------------------------- */

struct gen {
	uint8_t b[4096];
	size_t len;
};

enum gen_kind { GEN_TLS13, GEN_TLS12, GEN_RESUME13, GEN_RESUME12, GEN_PLAIN, GEN_N };

static struct gen gens[GEN_N];
static EVP_PKEY *srv_key;
static X509 *srv_cert;

static SSL_CTX *
client_ctx(int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	SSL_CTX_set_max_proto_version(ctx, max_version);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	return ctx;
}

static SSL *
client_ssl(SSL_CTX *ctx, bool sni_alpn, SSL_SESSION *sess)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	SSL *s = SSL_new(ctx);

	assert_non_null(s);
	SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	if (sni_alpn) {
		assert_int_equal(SSL_set_tlsext_host_name(s, "www.Example.com"), 1);
		assert_int_equal(SSL_set_alpn_protos(s, alpn, sizeof(alpn) - 1), 0);
	}
	if (sess != NULL)
		assert_int_equal(SSL_set_session(s, sess), 1);
	return s;
}

/* Drain a write BIO into out (appending). */
static size_t
drain(BIO *b, uint8_t *out, size_t cap)
{
	size_t len = 0;
	int n;

	while (len < cap && (n = BIO_read(b, out + len, (int)(cap - len))) > 0)
		len += (size_t)n;
	return len;
}

/* The client's first flight: SSL_connect once and read what it wrote. */
static void
gen_hello(struct gen *g, SSL *s)
{
	ERR_clear_error();
	assert_int_equal(SSL_connect(s), -1);
	assert_int_equal(SSL_get_error(s, -1), SSL_ERROR_WANT_READ);
	g->len = drain(SSL_get_wbio(s), g->b, sizeof(g->b));
	assert_true(g->len > 50);
}

/* A throwaway P-256 key and self-signed certificate for the in-memory server. */
static void
make_server_cert(void)
{
	X509_NAME *name;

	srv_key = EVP_EC_gen("P-256");
	assert_non_null(srv_key);
	srv_cert = X509_new();
	assert_non_null(srv_cert);
	X509_set_version(srv_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(srv_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(srv_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(srv_cert), 3600);
	X509_set_pubkey(srv_cert, srv_key);
	name = X509_get_subject_name(srv_cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"www.example.com", -1, -1, 0);
	X509_set_issuer_name(srv_cert, name);
	assert_true(X509_sign(srv_cert, srv_key, EVP_sha256()) > 0);
}

/* Move bytes from one SSL's write BIO to the other's read BIO. */
static void
pump(SSL *from, SSL *to)
{
	uint8_t tmp[16384];
	size_t n;

	while ((n = drain(SSL_get_wbio(from), tmp, sizeof(tmp))) > 0)
		BIO_write(SSL_get_rbio(to), tmp, (int)n);
}

/* A full in-memory handshake; returns the client's resumable session. */
static SSL_SESSION *
handshake_for_session(SSL_CTX *cctx)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_SESSION *sess;
	SSL *c, *s;
	uint8_t tmp[256];
	int i;

	assert_non_null(sctx);
	assert_int_equal(SSL_CTX_use_certificate(sctx, srv_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, srv_key), 1);
	c = client_ssl(cctx, true, NULL);
	SSL_set_connect_state(c);
	s = SSL_new(sctx);
	SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_accept_state(s);
	for (i = 0; i < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); i++) {
		ERR_clear_error();
		SSL_do_handshake(c);
		pump(c, s);
		ERR_clear_error();
		SSL_do_handshake(s);
		pump(s, c);
	}
	if (!(SSL_is_init_finished(c) && SSL_is_init_finished(s)))
		ERR_print_errors_fp(stderr);
	assert_true(SSL_is_init_finished(c) && SSL_is_init_finished(s));
	/* TLS 1.3 tickets come after the handshake: let the client read them. */
	ERR_clear_error();
	SSL_read(c, tmp, sizeof(tmp));
	sess = SSL_get1_session(c);
	assert_non_null(sess);
	assert_true(SSL_SESSION_is_resumable(sess));
	/* Freed without a shutdown, the session would be marked not resumable. */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(sctx);
	return sess;
}

static void
dump_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return;
	/* Fuzz input: byte 0 = 0 (no piece-size bytes, one piece), then the stream. */
	fputc(0, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

static int
group_setup(void **state)
{
	static const char *const names[GEN_N] = {
		"tls13_sni_alpn", "tls12_sni_alpn", "tls13_resume", "tls12_resume", "tls13_plain",
	};
	SSL_SESSION *s13, *s12;
	SSL_CTX *ctx, *c13, *c12;
	SSL *s;
	const char *dir;
	int i;

	(void)state;
	make_server_cert();
	c13 = client_ctx(TLS1_3_VERSION);
	c12 = client_ctx(TLS1_2_VERSION);
	s13 = handshake_for_session(c13);
	s12 = handshake_for_session(c12);
	for (i = 0; i < GEN_N; i++) {
		ctx = i == GEN_TLS12 || i == GEN_RESUME12 ? c12 : c13;
		s = client_ssl(ctx, i != GEN_PLAIN,
			       i == GEN_RESUME13 ? s13 : i == GEN_RESUME12 ? s12 : NULL);
		gen_hello(&gens[i], s);
		SSL_free(s);
	}
	SSL_SESSION_free(s13);
	SSL_SESSION_free(s12);
	SSL_CTX_free(c13);
	SSL_CTX_free(c12);
	dir = getenv("PS_TLS_DUMP_SEEDS");
	if (dir != NULL)
		for (i = 0; i < GEN_N; i++)
			dump_seed(dir, names[i], gens[i].b, gens[i].len);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_free(srv_cert);
	EVP_PKEY_free(srv_key);
	return 0;
}

/* ---- OpenSSL as the oracle ----------------------------------------- */

struct oracle {
	bool called;
	unsigned int legacy_version;
	uint8_t random[32];
	uint8_t session_id[32];
	size_t session_id_len;
	uint8_t ciphers[1024];
	size_t ciphers_len;
	int ext[PS_TLS_EXT_MAX];
	size_t n_ext;
	uint8_t sni[512];
	size_t sni_len;
};

static int
oracle_cb(SSL *s, int *al, void *arg)
{
	struct oracle *o = arg;
	const unsigned char *p;
	int *exts;
	size_t n, i;

	(void)al;
	o->called = true;
	o->legacy_version = SSL_client_hello_get0_legacy_version(s);
	SSL_client_hello_get0_random(s, &p);
	memcpy(o->random, p, 32);
	o->session_id_len = SSL_client_hello_get0_session_id(s, &p);
	memcpy(o->session_id, p, o->session_id_len);
	o->ciphers_len = SSL_client_hello_get0_ciphers(s, &p);
	memcpy(o->ciphers, p, o->ciphers_len);
	if (SSL_client_hello_get1_extensions_present(s, &exts, &n) == 1) {
		for (i = 0; i < n && i < PS_TLS_EXT_MAX; i++)
			o->ext[i] = exts[i];
		o->n_ext = i;
		OPENSSL_free(exts);
	}
	if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &n) == 1 && n > 5 &&
	    n - 5 < sizeof(o->sni)) {
		/* list length(2) name_type(1) name length(2) name */
		o->sni_len = n - 5;
		memcpy(o->sni, p + 5, o->sni_len);
	}
	return SSL_CLIENT_HELLO_ERROR;	/* seen enough */
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Check a parsed hello against what OpenSSL's server saw in the same bytes. */
static void
check_with_openssl(const struct gen *g, const struct ps_tls_client_hello *h)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	struct oracle o;
	int ours[PS_TLS_EXT_MAX];
	SSL *s;
	size_t i;

	memset(&o, 0, sizeof(o));
	SSL_CTX_set_client_hello_cb(ctx, oracle_cb, &o);
	s = SSL_new(ctx);
	SSL_set_bio(s, BIO_new_mem_buf(g->b, (int)g->len), BIO_new(BIO_s_mem()));
	ERR_clear_error();
	SSL_accept(s);
	SSL_free(s);
	SSL_CTX_free(ctx);
	assert_true(o.called);
	assert_int_equal(h->legacy_version, o.legacy_version);
	assert_memory_equal(h->random, o.random, 32);
	assert_int_equal(h->session_id_len, o.session_id_len);
	assert_memory_equal(h->session_id, o.session_id, o.session_id_len);
	assert_int_equal(h->cipher_suites.n * 2u, o.ciphers_len);
	assert_memory_equal(h->cipher_suites.p, o.ciphers, o.ciphers_len);
	assert_int_equal(h->n_ext, o.n_ext);
	for (i = 0; i < h->n_ext; i++)
		ours[i] = h->ext[i].type;
	qsort(ours, h->n_ext, sizeof(int), cmp_int);
	qsort(o.ext, o.n_ext, sizeof(int), cmp_int);
	assert_memory_equal(ours, o.ext, o.n_ext * sizeof(int));
	assert_int_equal(h->sni_raw_len, o.sni_len);
	if (o.sni_len > 0)
		assert_memory_equal(h->sni_raw, o.sni, o.sni_len);
}

static bool
u16_has(const struct ps_tls_u16_list *l, uint16_t v)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (ps_tls_u16_at(l, i) == v)
			return true;
	return false;
}

static const struct ps_tls_client_hello *
feed_gen(enum gen_kind k)
{
	const struct ps_tls_client_hello *h;
	const uint8_t *raw;

	assert_int_equal(feed_all(gens[k].b, gens[k].len), PS_TLS_OK);
	h = ps_tls_hello_result(&rd);
	assert_non_null(h);
	assert_int_equal(h->raw_len, gens[k].len);
	assert_int_equal(ps_tls_hello_raw(&rd, &raw), gens[k].len);
	assert_memory_equal(raw, gens[k].b, gens[k].len);
	assert_int_equal(h->record_version, 0x0301);
	check_with_openssl(&gens[k], h);
	return h;
}

static void
check_alpn_h2_http11(const struct ps_tls_client_hello *h)
{
	const uint8_t *p;
	size_t cur = 0, n;

	assert_true(h->has_alpn);
	assert_int_equal(h->n_alpn, 2);
	assert_true(ps_tls_alpn_next(h, &cur, &p, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(p, "h2", 2);
	assert_true(ps_tls_alpn_next(h, &cur, &p, &n));
	assert_int_equal(n, 8);
	assert_memory_equal(p, "http/1.1", 8);
	assert_false(ps_tls_alpn_next(h, &cur, &p, &n));
}

static void
test_openssl_tls13(void **state)
{
	const struct ps_tls_client_hello *h;

	(void)state;
	h = feed_gen(GEN_TLS13);
	assert_int_equal(h->legacy_version, 0x0303);
	assert_int_equal(ps_tls_hello_max_version(h), 0x0304);
	assert_true(u16_has(&h->supported_versions, 0x0304));
	assert_true(u16_has(&h->supported_versions, 0x0303));
	assert_true(u16_has(&h->cipher_suites, 0x1301));	/* TLS_AES_128_GCM_SHA256 */
	assert_true(u16_has(&h->supported_groups, 0x001d));	/* x25519 */
	assert_true(u16_has(&h->signature_algorithms, 0x0403));	/* ecdsa_secp256r1_sha256 */
	assert_true(h->has_key_share);
	assert_int_equal(h->n_key_shares, 1);
	assert_int_equal(h->key_shares[0].group, 0x001d);
	assert_int_equal(h->key_shares[0].len, 32);
	assert_true(h->has_sni);
	assert_true(h->sni_valid);
	assert_string_equal(h->sni, "www.example.com");
	assert_memory_equal(h->sni_raw, "www.Example.com", 15);
	check_alpn_h2_http11(h);
	assert_true(h->has_psk_modes);
	assert_false(h->has_psk);
	assert_true(h->has_ems);
	assert_true(h->has_session_ticket);
	assert_int_equal(h->session_ticket_len, 0);
	assert_int_equal(h->n_compression, 1);
	assert_int_equal(h->compression[0], 0);
	assert_int_equal(h->session_id_len, 32);	/* middlebox compatibility mode */
	assert_int_equal(h->grease, 0);
	assert_int_equal(h->n_records, 1);
	assert_int_equal(h->msg_len + PS_TLS_RECORD_HLEN, gens[GEN_TLS13].len);
}

static void
test_openssl_tls12(void **state)
{
	const struct ps_tls_client_hello *h;

	(void)state;
	h = feed_gen(GEN_TLS12);
	assert_int_equal(h->legacy_version, 0x0303);
	assert_int_equal(ps_tls_hello_max_version(h), 0x0303);
	assert_null(h->supported_versions.p);
	assert_false(h->has_key_share);
	assert_true(h->has_reneg_scsv);
	assert_true(h->has_etm);
	assert_true(h->has_ems);
	assert_true(h->has_session_ticket);
	assert_int_equal(h->session_ticket_len, 0);
	assert_false(u16_has(&h->cipher_suites, 0x1301));
	assert_true(u16_has(&h->cipher_suites, 0xc02b));	/* ECDHE-ECDSA-AES128-GCM-SHA256 */
	assert_string_equal(h->sni, "www.example.com");
	check_alpn_h2_http11(h);
}

static void
test_openssl_resume13(void **state)
{
	const struct ps_tls_client_hello *h;

	(void)state;
	h = feed_gen(GEN_RESUME13);
	assert_true(h->has_psk);
	assert_true(h->has_psk_modes);
	/* RFC 8446 section 4.2.11: pre_shared_key is last. */
	assert_int_equal(h->ext[h->n_ext - 1].type, PS_TLS_EXT_PRE_SHARED_KEY);
	assert_string_equal(h->sni, "www.example.com");
}

static void
test_openssl_resume12(void **state)
{
	const struct ps_tls_client_hello *h;

	(void)state;
	h = feed_gen(GEN_RESUME12);
	assert_false(h->has_psk);
	assert_true(h->has_session_ticket);
	assert_true(h->session_ticket_len > 0);	/* the ticket is offered back */
	assert_int_equal(h->session_id_len, 32);
}

static void
test_openssl_plain(void **state)
{
	const struct ps_tls_client_hello *h;

	(void)state;
	h = feed_gen(GEN_PLAIN);
	assert_false(h->has_sni);
	assert_false(h->has_alpn);
	assert_int_equal(h->sni[0], '\0');
}

/* One byte per feed: NEED_MORE with consumed 1 until the very last byte. */
static void
test_one_byte_feeds(void **state)
{
	const struct ps_tls_client_hello *h;
	size_t total;
	int k;

	(void)state;
	for (k = 0; k < GEN_N; k++) {
		assert_int_equal(feed_pieces(gens[k].b, gens[k].len, 1, &total), PS_TLS_OK);
		assert_int_equal(total, gens[k].len);
		h = ps_tls_hello_result(&rd);
		assert_non_null(h);
		check_with_openssl(&gens[k], h);
	}
}

/* The same message re-recorded in records of 1..N bytes, fed in odd pieces. */
static void
test_records_split(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 13, 64, 100, 255, 256, 511 };
	const struct ps_tls_client_hello *h;
	const uint8_t *m, *raw;
	size_t i, j, mlen, total;
	int k;

	(void)state;
	for (k = 0; k < GEN_N; k++) {
		m = gens[k].b + PS_TLS_RECORD_HLEN;
		mlen = gens[k].len - PS_TLS_RECORD_HLEN;
		for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
			wrap(m, mlen, chunks[i]);
			for (j = 1; j <= 17; j += 8) {
				assert_int_equal(feed_pieces(wire.b, wire.len, j, &total),
						 PS_TLS_OK);
				assert_int_equal(total, wire.len);
				h = ps_tls_hello_result(&rd);
				assert_non_null(h);
				assert_int_equal(h->n_records, (mlen + chunks[i] - 1) / chunks[i]);
				assert_int_equal(h->msg_len, mlen);
				assert_memory_equal(h->msg, m, mlen);
				assert_int_equal(ps_tls_hello_raw(&rd, &raw), wire.len);
				assert_memory_equal(raw, wire.b, wire.len);
				assert_int_equal(h->sni_len, k == GEN_PLAIN ? 0 : 15);
			}
		}
	}
}

/* Every strict prefix of a valid hello is NEED_MORE, never OK. */
static void
test_every_prefix(void **state)
{
	struct ps_tls_client_hello h;
	size_t n, used;
	int k;

	(void)state;
	for (k = 0; k < GEN_N; k++) {
		for (n = 0; n < gens[k].len; n++) {
			ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), NULL, 0);
			assert_int_equal(note(ps_tls_hello_feed(&rd, gens[k].b, n, &used)),
					 PS_TLS_NEED_MORE);
			assert_int_equal(used, n);
			assert_null(ps_tls_hello_result(&rd));
			/* A cut message never parses as a whole one. */
			if (n > PS_TLS_RECORD_HLEN)
				assert_int_not_equal(ps_tls_hello_parse(gens[k].b + 5, n - 5, &h),
						     PS_TLS_OK);
		}
		/* Split into records of 100: every prefix still NEED_MORE. */
		wrap(gens[k].b + 5, gens[k].len - 5, 100);
		for (n = 0; n < wire.len; n++) {
			ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), rawbuf, sizeof(rawbuf));
			assert_int_equal(ps_tls_hello_feed(&rd, wire.b, n, &used),
					 PS_TLS_NEED_MORE);
		}
	}
	/* And a hand-made hello without extensions (RFC 5246 section 7.4.1.2). */
	ext.len = 0;
	build_msg(false);
	wrap(msg.b, msg.len, 10);
	for (n = 0; n < wire.len; n++) {
		ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), NULL, 0);
		assert_int_equal(ps_tls_hello_feed(&rd, wire.b, n, &used), PS_TLS_NEED_MORE);
	}
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_OK);
	assert_false(ps_tls_hello_result(&rd)->has_extensions);
	assert_int_equal(ps_tls_hello_result(&rd)->n_ext, 0);
}

/* Bytes after the hello's last record are left for the next stage. */
static void
test_consumed_stops_at_hello(void **state)
{
	/* TLS 1.3 0-RTT style: an application_data record header after the hello */
	static const uint8_t after[] = { 0x17, 0x03, 0x03, 0x00, 0x10 };
	size_t len = gens[GEN_TLS13].len, used;

	(void)state;
	memcpy(wire.b, gens[GEN_TLS13].b, len);
	memcpy(wire.b + len, after, sizeof(after));
	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), NULL, 0);
	assert_int_equal(ps_tls_hello_feed(&rd, wire.b, len + sizeof(after), &used), PS_TLS_OK);
	assert_int_equal(used, len);
	assert_int_equal(ps_tls_hello_raw(&rd, NULL), len);
	/* The verdict is final: nothing more is taken. */
	assert_int_equal(ps_tls_hello_feed(&rd, after, sizeof(after), &used), PS_TLS_OK);
	assert_int_equal(used, 0);
	assert_int_equal(ps_tls_hello_verdict(&rd), PS_TLS_OK);
}

/* ---- classifier ---------------------------------------------------- */

static void
test_classify(void **state)
{
	/* "GET / HTTP/1.1\r\n" */
	static const char http[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	/* SSH identification string, RFC 4253 section 4.2 */
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1\r\n";
	/* SMTP client command */
	static const char smtp[] = "EHLO client.example\r\n";
	static const char text[] = "hello world, not a TLS stream";
	/* record type 22, version 2.0: not TLS */
	static const uint8_t v2rec[] = { 0x16, 0x02, 0x00, 0x00, 0x10, 0x01 };
	/* record type 22, version 3.5: not TLS */
	static const uint8_t v35[] = { 0x16, 0x03, 0x05, 0x00, 0x10, 0x01 };
	/* handshake record, length 0 */
	static const uint8_t zero[] = { 0x16, 0x03, 0x01, 0x00, 0x00, 0x01 };
	/* handshake record starting with a ServerHello (type 2) */
	static const uint8_t shello[] = { 0x16, 0x03, 0x03, 0x00, 0x30, 0x02 };
	/* an application_data record */
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x30 };
	size_t n;

	(void)state;
	assert_int_equal(ps_tls_classify(NULL, 0), PS_TLS_NEED_MORE);
	for (n = 1; n < 6; n++)
		assert_int_equal(ps_tls_classify(gens[GEN_TLS13].b, n), PS_TLS_NEED_MORE);
	assert_int_equal(ps_tls_classify(gens[GEN_TLS13].b, 6), PS_TLS_OK);
	assert_int_equal(ps_tls_classify(gens[GEN_TLS12].b, gens[GEN_TLS12].len), PS_TLS_OK);
	for (n = 1; n < sizeof(http); n++)
		assert_int_equal(ps_tls_classify((const uint8_t *)http, n), PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_classify((const uint8_t *)ssh, 4), PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_classify((const uint8_t *)smtp, 1), PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_classify((const uint8_t *)text, sizeof(text) - 1),
			 PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_classify(v2rec, 1), PS_TLS_NEED_MORE);
	assert_int_equal(ps_tls_classify(v2rec, 2), PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_classify(v35, 3), PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_classify(zero, 5), PS_TLS_BAD_LENGTH);
	assert_int_equal(ps_tls_classify(shello, 6), PS_TLS_BAD_HANDSHAKE_TYPE);
	assert_int_equal(ps_tls_classify(appdata, 5), PS_TLS_NOT_TLS);

	/* The reader gives the same answers and takes nothing more after. */
	assert_int_equal(feed_all((const uint8_t *)http, sizeof(http) - 1), PS_TLS_NOT_TLS);
	assert_int_equal(ps_tls_hello_raw(&rd, NULL), 1);
	assert_int_equal(feed_all((const uint8_t *)ssh, sizeof(ssh) - 1), PS_TLS_NOT_TLS);
	assert_int_equal(feed_all(zero, sizeof(zero)), PS_TLS_BAD_LENGTH);
	assert_int_equal(feed_all(shello, sizeof(shello)), PS_TLS_BAD_HANDSHAKE_TYPE);
	assert_int_equal(feed_all(v35, sizeof(v35)), PS_TLS_NOT_TLS);
}

static void
test_sslv2(void **state)
{
	/*
	 * SSL 2.0-compatible CLIENT-HELLO (RFC 5246 appendix E.2): 2-byte
	 * header 0x8025 (37 bytes follow), msg_type 1, version 3.1, cipher_spec_length
	 * 12, session_id_length 0, challenge_length 16, four 3-byte specs, then
	 * a 16-byte challenge.
	 */
	static const uint8_t v2[] = {
		0x80, 0x25, 0x01, 0x03, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x00, 0x00, 0x0a, 0x00, 0x00, 0xff,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	};
	/* SSL 2.0 proper: header 0x802e, CLIENT-HELLO, version 0.2 */
	static const uint8_t v20[] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15 };
	/* high bit set but msg_type 4: not a CLIENT-HELLO */
	static const uint8_t bad[] = { 0x80, 0x2e, 0x04, 0x03, 0x01 };
	size_t n;

	(void)state;
	for (n = 1; n < 5; n++)
		assert_int_equal(ps_tls_classify(v2, n), PS_TLS_NEED_MORE);
	assert_int_equal(ps_tls_classify(v2, sizeof(v2)), PS_TLS_SSLV2);
	assert_int_equal(ps_tls_classify(v20, sizeof(v20)), PS_TLS_SSLV2);
	assert_int_equal(ps_tls_classify(bad, sizeof(bad)), PS_TLS_NOT_TLS);
	assert_int_equal(feed_all(v2, sizeof(v2)), PS_TLS_SSLV2);
	assert_null(ps_tls_hello_result(&rd));
	assert_int_equal(feed_pieces(v2, sizeof(v2), 1, &n), PS_TLS_SSLV2);
	assert_int_equal(n, 5);
}

/* ---- sizes --------------------------------------------------------- */

/* A 40 KiB extension (a large post-quantum key share would look like this). */
static void
test_big_hello(void **state)
{
	static uint8_t big[40 * 1024];
	const struct ps_tls_client_hello *h;
	size_t total;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	ext.len = 0;
	add_ext(0xfe0d, big, sizeof(big));	/* an unknown type, 40960 bytes */
	add_ext(PS_TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0);
	build_msg(true);
	wrap(msg.b, msg.len, PS_TLS_RECORD_MAX);
	assert_int_equal(feed_pieces(wire.b, wire.len, 1460, &total), PS_TLS_OK);
	h = ps_tls_hello_result(&rd);
	assert_int_equal(h->n_records, 3);
	assert_int_equal(h->n_ext, 2);
	assert_int_equal(h->ext[0].len, sizeof(big));
	assert_memory_equal(h->msg + h->ext[0].off, big, sizeof(big));
	assert_true(h->has_ems);
	/* Without a raw buffer too. */
	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), NULL, 0);
	assert_int_equal(ps_tls_hello_feed(&rd, wire.b, wire.len, &total), PS_TLS_OK);
	assert_int_equal(ps_tls_hello_raw(&rd, NULL), wire.len);
}

/* Largest accepted, one byte more refused as soon as the header says so. */
static void
test_hello_limits(void **state)
{
	static uint8_t pad[PS_TLS_HELLO_MAX];
	size_t fixed, total, used;

	(void)state;
	ext.len = 0;
	build_msg(true);
	fixed = msg.len + 4;	/* hello with an empty block + one extension header */
	ext.len = 0;
	add_ext(PS_TLS_EXT_PADDING, pad, PS_TLS_HELLO_MAX - fixed);
	build_msg(true);
	assert_int_equal(msg.len, PS_TLS_HELLO_MAX);
	wrap(msg.b, msg.len, PS_TLS_RECORD_MAX);
	assert_int_equal(feed_pieces(wire.b, wire.len, 4000, &total), PS_TLS_OK);
	assert_int_equal(ps_tls_hello_result(&rd)->msg_len, PS_TLS_HELLO_MAX);

	ext.len = 0;
	add_ext(PS_TLS_EXT_PADDING, pad, PS_TLS_HELLO_MAX - fixed + 1);
	build_msg(true);
	wrap(msg.b, msg.len, PS_TLS_RECORD_MAX);
	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), rawbuf, sizeof(rawbuf));
	/* The first 9 bytes (record header + handshake header) are enough. */
	assert_int_equal(note(ps_tls_hello_feed(&rd, wire.b, 9, &used)), PS_TLS_HELLO_TOO_LONG);
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &rd.hello), PS_TLS_HELLO_TOO_LONG);

	/* A smaller message buffer lowers the limit. */
	build_sni_hello("a.example", 9);
	ps_tls_hello_init(&rd, msgbuf, 40, NULL, 0);
	assert_int_equal(ps_tls_hello_feed(&rd, wire.b, wire.len, &used), PS_TLS_HELLO_TOO_LONG);

	/* A raw buffer too small for the records: RAW_TOO_LONG, nothing overrun. */
	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), rawbuf, 20);
	assert_int_equal(note(ps_tls_hello_feed(&rd, wire.b, wire.len, &used)),
			 PS_TLS_RAW_TOO_LONG);
	assert_true(used <= 20);
	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), rawbuf, 3);
	assert_int_equal(ps_tls_hello_feed(&rd, wire.b, wire.len, &used), PS_TLS_RAW_TOO_LONG);
	assert_int_equal(used, 3);
}

/* ---- record-layer faults ------------------------------------------- */

static void
test_record_faults(void **state)
{
	size_t used;

	(void)state;
	build_sni_hello("a.example", 9);
	wrap(msg.b, msg.len, 20);

	/* Record length 16385 > 2^14 (RFC 8446 section 5.1). */
	wire.b[3] = 0x40;
	wire.b[4] = 0x01;
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_RECORD_TOO_LONG);

	/* Second record is an alert (type 21). */
	wrap(msg.b, msg.len, 20);
	wire.b[25] = 21;
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_BAD_RECORD_TYPE);

	/* Second record claims version 2.1. */
	wrap(msg.b, msg.len, 20);
	wire.b[26] = 2;
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_BAD_RECORD_VERSION);

	/* Second record has length 0. */
	wrap(msg.b, msg.len, 20);
	wire.b[28] = 0;
	wire.b[29] = 0;
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_BAD_LENGTH);

	/* A record that carries bytes after the hello: TRAILING_DATA. */
	wire.len = 0;
	put8(&wire, PS_TLS_CT_HANDSHAKE);
	put16(&wire, 0x0301);
	put16(&wire, (uint16_t)(msg.len + 4));
	putn(&wire, msg.b, msg.len);
	put8(&wire, 20);	/* a Finished header, as if a second message followed */
	put8(&wire, 0);
	put16(&wire, 0);
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_TRAILING_DATA);

	/* Control: the same records, unmodified, are OK. */
	wrap(msg.b, msg.len, 20);
	ps_tls_hello_init(&rd, msgbuf, sizeof(msgbuf), NULL, 0);
	assert_int_equal(ps_tls_hello_feed(&rd, wire.b, wire.len, &used), PS_TLS_OK);
}

/* ---- ClientHello faults -------------------------------------------- */

static enum ps_tls_verdict
ext_verdict(void)
{
	build_msg(true);
	wrap(msg.b, msg.len, PS_TLS_RECORD_MAX);
	return feed_all(wire.b, wire.len);
}

static void
test_hello_faults(void **state)
{
	/* supported_groups: x25519, secp256r1 */
	static const uint8_t groups[] = { 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17 };
	/* supported_groups with an odd length 3 */
	static const uint8_t groups_odd[] = { 0x00, 0x03, 0x00, 0x1d, 0x00 };
	/* key_share: x25519 with a 1-byte key, then x25519 again */
	static const uint8_t ks_dup[] = {
		0x00, 0x0a, 0x00, 0x1d, 0x00, 0x01, 0xaa, 0x00, 0x1d, 0x00, 0x01, 0xbb,
	};
	/* key_share: x25519 with an empty key_exchange */
	static const uint8_t ks_empty[] = { 0x00, 0x04, 0x00, 0x1d, 0x00, 0x00 };
	/* pre_shared_key: identity 1 byte + ticket age, binder of 32 bytes */
	static uint8_t psk[2 + 2 + 1 + 4 + 2 + 1 + 32] = {
		0x00, 0x07, 0x00, 0x01, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x20,
	};
	/* supported_versions: 1.3, 1.2 */
	static const uint8_t versions[] = { 0x04, 0x03, 0x04, 0x03, 0x03 };
	struct ps_tls_client_hello h;
	unsigned int i;

	(void)state;
	/* Duplicate extension (RFC 8446 section 4.2). */
	ext.len = 0;
	add_ext(PS_TLS_EXT_SUPPORTED_GROUPS, groups, sizeof(groups));
	add_ext(PS_TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0);
	add_ext(PS_TLS_EXT_SUPPORTED_GROUPS, groups, sizeof(groups));
	assert_int_equal(ext_verdict(), PS_TLS_DUPLICATE_EXTENSION);

	ext.len = 0;
	add_ext(PS_TLS_EXT_SUPPORTED_GROUPS, groups_odd, sizeof(groups_odd));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_LENGTH);

	/* An extension longer than the block: TRUNCATED_FIELD. */
	ext.len = 0;
	add_ext(PS_TLS_EXT_SUPPORTED_GROUPS, groups, sizeof(groups));
	ext.b[3] = 7;	/* extension length 7 > the 6 bytes present */
	assert_int_equal(ext_verdict(), PS_TLS_TRUNCATED_FIELD);

	/* Three stray bytes in the block: TRUNCATED_FIELD (no room for a header). */
	ext.len = 0;
	put8(&ext, 0);
	put16(&ext, 0);
	assert_int_equal(ext_verdict(), PS_TLS_TRUNCATED_FIELD);

	ext.len = 0;
	add_ext(PS_TLS_EXT_KEY_SHARE, ks_dup, sizeof(ks_dup));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_KEY_SHARE);
	ext.len = 0;
	add_ext(PS_TLS_EXT_KEY_SHARE, ks_empty, sizeof(ks_empty));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_KEY_SHARE);

	/* pre_shared_key not last (RFC 8446 section 4.2.11), then last. */
	memset(psk + 12, 0xcc, 32);
	ext.len = 0;
	add_ext(PS_TLS_EXT_PRE_SHARED_KEY, psk, sizeof(psk));
	add_ext(PS_TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0);
	assert_int_equal(ext_verdict(), PS_TLS_PSK_NOT_LAST);
	ext.len = 0;
	add_ext(PS_TLS_EXT_SUPPORTED_VERSIONS, versions, sizeof(versions));
	add_ext(PS_TLS_EXT_PRE_SHARED_KEY, psk, sizeof(psk));
	assert_int_equal(ext_verdict(), PS_TLS_OK);
	assert_true(ps_tls_hello_result(&rd)->has_psk);
	assert_int_equal(ps_tls_hello_max_version(ps_tls_hello_result(&rd)), 0x0304);
	/* A binder shorter than 32 bytes. */
	ext.len = 0;
	add_ext(PS_TLS_EXT_PRE_SHARED_KEY, psk, sizeof(psk) - 1);
	assert_int_equal(ext_verdict(), PS_TLS_BAD_LENGTH);

	/* Non-empty early_data / extended_master_secret in a ClientHello. */
	ext.len = 0;
	add_ext(PS_TLS_EXT_EARLY_DATA, "x", 1);
	assert_int_equal(ext_verdict(), PS_TLS_BAD_LENGTH);
	ext.len = 0;
	add_ext(PS_TLS_EXT_EARLY_DATA, NULL, 0);
	add_ext(PS_TLS_EXT_STATUS_REQUEST, "\x01\x00\x00\x00\x00", 5);
	add_ext(PS_TLS_EXT_RENEGOTIATION_INFO, "\x00", 1);
	assert_int_equal(ext_verdict(), PS_TLS_OK);
	assert_true(ps_tls_hello_result(&rd)->has_early_data);
	assert_true(ps_tls_hello_result(&rd)->has_status_request);
	assert_true(ps_tls_hello_result(&rd)->has_reneg_info);
	ext.len = 0;
	add_ext(PS_TLS_EXT_RENEGOTIATION_INFO, "\x05", 1);
	assert_int_equal(ext_verdict(), PS_TLS_BAD_LENGTH);

	/* 128 extensions are kept, 129 are refused. */
	ext.len = 0;
	for (i = 0; i < PS_TLS_EXT_MAX; i++)
		add_ext((uint16_t)(0x1000 + i), NULL, 0);
	assert_int_equal(ext_verdict(), PS_TLS_OK);
	assert_int_equal(ps_tls_hello_result(&rd)->n_ext, PS_TLS_EXT_MAX);
	assert_int_equal(ps_tls_hello_result(&rd)->ext[127].type, 0x107f);
	add_ext(0x2000, NULL, 0);
	assert_int_equal(ext_verdict(), PS_TLS_TOO_MANY_EXTENSIONS);

	/* Fixed fields, patched in a hello with no extensions. */
	ext.len = 0;
	build_msg(false);
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &h), PS_TLS_OK);
	msg.b[38] = 33;	/* session ID length 33 > 32 */
	assert_int_equal(note(ps_tls_hello_parse(msg.b, msg.len, &h)), PS_TLS_BAD_LENGTH);
	msg.b[38] = 0;
	msg.b[40] = 3;	/* cipher suites length 3: odd */
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &h), PS_TLS_BAD_LENGTH);
	msg.b[40] = 0;	/* cipher suites length 0 */
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &h), PS_TLS_BAD_LENGTH);
	msg.b[40] = 4;
	msg.b[45] = 0;	/* no compression methods */
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &h), PS_TLS_BAD_LENGTH);
	msg.b[45] = 1;
	msg.b[0] = 2;	/* ServerHello */
	assert_int_equal(note(ps_tls_hello_parse(msg.b, msg.len, &h)),
			 PS_TLS_BAD_HANDSHAKE_TYPE);
	msg.b[0] = 1;
	/* Bytes after the message's own length. */
	msg.b[msg.len] = 0;
	assert_int_equal(note(ps_tls_hello_parse(msg.b, msg.len + 1, &h)), PS_TLS_TRAILING_DATA);
	/* An extensions block shorter than what follows it. */
	ext.len = 0;
	add_ext(PS_TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0);
	build_msg(true);
	msg.b[48] = 2;	/* block length 2, 4 bytes follow */
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &h), PS_TLS_TRAILING_DATA);
	/* One stray byte where the block length should be. */
	ext.len = 0;
	build_msg(false);
	msg.b[msg.len++] = 0;
	msg.b[3]++;
	assert_int_equal(ps_tls_hello_parse(msg.b, msg.len, &h), PS_TLS_TRUNCATED_FIELD);
	assert_int_equal(ps_tls_hello_parse(msg.b, 3, &h), PS_TLS_TRUNCATED_FIELD);
}

/* ---- SNI and ALPN -------------------------------------------------- */

static const struct ps_tls_client_hello *
sni_result(const char *name, size_t n)
{
	build_sni_hello(name, n);
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_OK);
	return ps_tls_hello_result(&rd);
}

static void
test_sni(void **state)
{
	static char name[300];
	const struct ps_tls_client_hello *h;
	/* server_name list with two host_name entries "a.io" and "b.io" */
	static const uint8_t two[] = {
		0x00, 0x0e, 0x00, 0x00, 0x04, 'a', '.', 'i', 'o',
		0x00, 0x00, 0x04, 'b', '.', 'i', 'o',
	};
	/* server_name list of one entry of an unknown name_type 7 only */
	static const uint8_t other[] = { 0x00, 0x05, 0x07, 0x00, 0x02, 'x', 'y' };
	/* server_name list length 0 */
	static const uint8_t empty_list[] = { 0x00, 0x00 };
	/* host_name of length 0 */
	static const uint8_t empty_name[] = { 0x00, 0x03, 0x00, 0x00, 0x00 };
	/* host_name length 9 but 3 bytes present */
	static const uint8_t short_name[] = { 0x00, 0x06, 0x00, 0x00, 0x09, 'a', 'b', 'c' };

	(void)state;
	h = sni_result("Mail.Example.ORG", 16);
	assert_true(h->has_sni && h->sni_valid);
	assert_string_equal(h->sni, "mail.example.org");
	assert_int_equal(h->sni_len, 16);
	assert_memory_equal(h->sni_raw, "Mail.Example.ORG", 16);

	h = sni_result("under_score-ok.example", 22);
	assert_true(h->sni_valid);

	/* Illegal characters: kept raw, flagged invalid, no cooked copy. */
	h = sni_result("bad name!.example", 17);
	assert_true(h->has_sni);
	assert_false(h->sni_valid);
	assert_int_equal(h->sni_raw_len, 17);
	assert_memory_equal(h->sni_raw, "bad name!.example", 17);
	assert_string_equal(h->sni, "");
	assert_false(sni_result("a\0b.example", 11)->sni_valid);
	assert_false(sni_result("example.com.", 12)->sni_valid);	/* trailing dot */
	assert_false(sni_result("a..example", 10)->sni_valid);	/* empty label */
	assert_false(sni_result("192.0.2.1", 9)->sni_valid);	/* IPv4 literal */
	assert_false(sni_result("[2001:db8::1]", 13)->sni_valid);
	assert_true(sni_result("1.2.3.example", 13)->sni_valid);

	/* Lengths: labels of 63 ok, 64 not; names of 253 ok, 254 and 300 not. */
	memset(name, 'a', 63);
	memcpy(name + 63, ".example", 8);
	assert_true(sni_result(name, 71)->sni_valid);		/* label of 63 */
	memset(name, 'a', 64);
	memcpy(name + 64, ".example", 8);
	assert_false(sni_result(name, 72)->sni_valid);		/* label of 64 */
	memcpy(name, "example.", 8);
	memset(name + 8, 'a', 64);
	assert_false(sni_result(name, 72)->sni_valid);		/* last label of 64 */
	memset(name, 'a', sizeof(name));
	for (size_t i = 50; i < sizeof(name); i += 51)
		name[i] = '.';
	h = sni_result(name, 253);
	assert_true(h->sni_valid);
	assert_int_equal(strlen(h->sni), 253);
	assert_false(sni_result(name, 254)->sni_valid);
	h = sni_result(name, 300);
	assert_false(h->sni_valid);
	assert_int_equal(h->sni_raw_len, 300);

	/* Structural faults are BAD_SNI. */
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, two, sizeof(two));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_SNI);
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, other, sizeof(other));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_SNI);	/* no host_name */
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, empty_list, sizeof(empty_list));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_SNI);
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, NULL, 0);		/* no list at all */
	assert_int_equal(ext_verdict(), PS_TLS_BAD_SNI);
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, empty_name, sizeof(empty_name));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_SNI);
	ext.len = 0;
	add_ext(PS_TLS_EXT_SERVER_NAME, short_name, sizeof(short_name));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_SNI);
}

static void
test_alpn(void **state)
{
	/* ALPN list: "h2", "http/1.1" */
	static const uint8_t ok[] = {
		0x00, 0x0c, 0x02, 'h', '2', 0x08, 'h', 't', 't', 'p', '/', '1', '.', '1',
	};
	/* ALPN list of length 0 */
	static const uint8_t empty[] = { 0x00, 0x00 };
	/* ALPN list: "h2", then a zero-length name */
	static const uint8_t zero[] = { 0x00, 0x04, 0x02, 'h', '2', 0x00 };
	/* ALPN list: a name of length 5 with 2 bytes left */
	static const uint8_t over[] = { 0x00, 0x03, 0x05, 'h', '2' };
	/* ALPN list length 9 in a 4-byte extension */
	static const uint8_t badlen[] = { 0x00, 0x09, 0x01, 'x' };
	const struct ps_tls_client_hello *h;

	(void)state;
	ext.len = 0;
	add_ext(PS_TLS_EXT_ALPN, ok, sizeof(ok));
	assert_int_equal(ext_verdict(), PS_TLS_OK);
	h = ps_tls_hello_result(&rd);
	check_alpn_h2_http11(h);
	ext.len = 0;
	add_ext(PS_TLS_EXT_ALPN, empty, sizeof(empty));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_ALPN);
	ext.len = 0;
	add_ext(PS_TLS_EXT_ALPN, NULL, 0);
	assert_int_equal(ext_verdict(), PS_TLS_BAD_ALPN);
	ext.len = 0;
	add_ext(PS_TLS_EXT_ALPN, zero, sizeof(zero));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_ALPN);
	ext.len = 0;
	add_ext(PS_TLS_EXT_ALPN, over, sizeof(over));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_ALPN);
	ext.len = 0;
	add_ext(PS_TLS_EXT_ALPN, badlen, sizeof(badlen));
	assert_int_equal(ext_verdict(), PS_TLS_BAD_ALPN);
}

/* GREASE (RFC 8701) noted wherever a Chrome-like client puts it. */
static void
test_grease(void **state)
{
	/* supported_groups: GREASE 0x2a2a, x25519 */
	static const uint8_t groups[] = { 0x00, 0x04, 0x2a, 0x2a, 0x00, 0x1d };
	/* supported_versions: GREASE 0x7a7a, 1.3, 1.2 */
	static const uint8_t versions[] = { 0x06, 0x7a, 0x7a, 0x03, 0x04, 0x03, 0x03 };
	/* key_share: GREASE 0x2a2a with 1 byte, x25519 with 1 byte */
	static const uint8_t ks[] = {
		0x00, 0x0a, 0x2a, 0x2a, 0x00, 0x01, 0x00, 0x00, 0x1d, 0x00, 0x01, 0x42,
	};
	/* signature_algorithms: GREASE 0x1a1a, ecdsa_secp256r1_sha256 */
	static const uint8_t sigalgs[] = { 0x00, 0x04, 0x1a, 0x1a, 0x04, 0x03 };
	/* ALPN: GREASE "\x3a\x3a", "h2" */
	static const uint8_t alpn[] = { 0x00, 0x06, 0x02, 0x3a, 0x3a, 0x02, 'h', '2' };
	const struct ps_tls_client_hello *h;

	(void)state;
	assert_true(ps_tls_is_grease(0x0a0a));
	assert_true(ps_tls_is_grease(0xfafa));
	assert_false(ps_tls_is_grease(0x0a1a));
	assert_false(ps_tls_is_grease(0x1301));
	ext.len = 0;
	add_ext(0xdada, NULL, 0);	/* GREASE extension */
	add_ext(PS_TLS_EXT_SUPPORTED_GROUPS, groups, sizeof(groups));
	add_ext(PS_TLS_EXT_SUPPORTED_VERSIONS, versions, sizeof(versions));
	add_ext(PS_TLS_EXT_KEY_SHARE, ks, sizeof(ks));
	add_ext(PS_TLS_EXT_SIGNATURE_ALGORITHMS, sigalgs, sizeof(sigalgs));
	add_ext(PS_TLS_EXT_ALPN, alpn, sizeof(alpn));
	build_msg(true);
	msg.b[41] = 0x8a;	/* first suite 0x1301 becomes GREASE 0x8a8a */
	msg.b[42] = 0x8a;
	wrap(msg.b, msg.len, 16);
	assert_int_equal(feed_all(wire.b, wire.len), PS_TLS_OK);
	h = ps_tls_hello_result(&rd);
	assert_int_equal(h->grease, PS_TLS_GREASE_CIPHER | PS_TLS_GREASE_EXT |
			 PS_TLS_GREASE_GROUP | PS_TLS_GREASE_VERSION | PS_TLS_GREASE_SIGALG |
			 PS_TLS_GREASE_KEY_SHARE | PS_TLS_GREASE_ALPN);
	assert_int_equal(ps_tls_hello_max_version(h), 0x0304);
	assert_int_equal(h->n_key_shares, 2);
	assert_int_equal(h->key_shares[1].group, 0x001d);
	assert_int_equal(h->msg[h->key_shares[1].off], 0x42);
	assert_int_equal(h->ext[0].type, 0xdada);
	assert_int_equal(h->ext[5].type, PS_TLS_EXT_ALPN);
	assert_true(h->has_reneg_scsv);
	assert_false(h->has_fallback_scsv);
}

static void
test_names_and_coverage(void **state)
{
	unsigned int v, w;

	(void)state;
	for (v = 0; v < PS_TLS_VERDICT_MAX; v++) {
		assert_non_null(ps_tls_verdict_name((enum ps_tls_verdict)v));
		assert_string_not_equal(ps_tls_verdict_name((enum ps_tls_verdict)v), "invalid");
		for (w = 0; w < v; w++)
			assert_string_not_equal(ps_tls_verdict_name((enum ps_tls_verdict)v),
						ps_tls_verdict_name((enum ps_tls_verdict)w));
	}
	assert_string_equal(ps_tls_verdict_name(PS_TLS_BAD_SNI), "bad_sni");
	assert_string_equal(ps_tls_verdict_name(PS_TLS_VERDICT_MAX), "invalid");
	/* Runs last: every verdict was produced by some test above. */
	for (v = 0; v < PS_TLS_VERDICT_MAX; v++) {
		if (!seen[v])
			print_error("verdict %s never produced\n",
				    ps_tls_verdict_name((enum ps_tls_verdict)v));
		assert_true(seen[v]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_tls13),
		cmocka_unit_test(test_openssl_tls12),
		cmocka_unit_test(test_openssl_resume13),
		cmocka_unit_test(test_openssl_resume12),
		cmocka_unit_test(test_openssl_plain),
		cmocka_unit_test(test_one_byte_feeds),
		cmocka_unit_test(test_records_split),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_consumed_stops_at_hello),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_sslv2),
		cmocka_unit_test(test_big_hello),
		cmocka_unit_test(test_hello_limits),
		cmocka_unit_test(test_record_faults),
		cmocka_unit_test(test_hello_faults),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_grease),
		cmocka_unit_test(test_names_and_coverage),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
