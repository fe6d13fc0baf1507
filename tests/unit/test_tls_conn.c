/* SPDX-License-Identifier: BSD-3-Clause
 * TLS leg unit tests: a client ps_tls_conn and a server ps_tls_conn paired
 * in one process over their wire buffers (no sockets).
 *
 * The test PKI is generated at test time with OpenSSL (EC P-256 keys): a
 * CA, a server leaf for DNS:server.test signed by it, and an untrusted
 * second CA with its own server.test leaf. Nothing is committed; the PEM
 * files some tests need are written to a fresh mkdtemp() directory and
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

#include "ps_tls_conn.h"

/* ALPN ProtocolNameList bodies (RFC 7301 section 3.1). */
static const uint8_t alpn_h2_h11[] = "\x02h2\x08http/1.1";		/* h2, http/1.1 */
static const uint8_t alpn_h11_h2[] = "\x08http/1.1\x02h2";		/* http/1.1, h2 */
static const uint8_t alpn_h2[] = "\x02h2";				/* h2 */
static const uint8_t alpn_h11[] = "\x08http/1.1";			/* http/1.1 */
#define ALPN_LEN(a)	(sizeof(a) - 1)

static EVP_PKEY *ca_key, *srv_key, *bad_ca_key, *bad_srv_key;
static X509 *ca_cert, *srv_cert, *bad_ca_cert, *bad_srv_cert;
static char tmpdir[64];
static char cert_path[128], key_path[128], ca_path[128], loose_key_path[128];

/* Contexts, built once per process as in the appliance. */
static struct ps_tls_ctx *srv_ctx;		/* TLS 1.2-1.3, objects */
static struct ps_tls_ctx *srv12_ctx;		/* TLS 1.2 only, PEM files */
static struct ps_tls_ctx *bad_srv_ctx;		/* leaf from the untrusted CA */
static struct ps_tls_ctx *cli_ctx;		/* TLS 1.2-1.3, verify required */
static struct ps_tls_ctx *cli12_ctx;		/* TLS 1.2 only */
static struct ps_tls_ctx *cli_file_ctx;		/* CA from a PEM file */
static struct ps_tls_ctx *cli_report_ctx;	/* verify reported, not enforced */

/* ------------------------------------------------------------------ */
/* Test PKI. */

static EVP_PKEY *
gen_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer (self-signed when NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
	  const char *san)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL ?
					      X509_get_subject_name(issuer) : name), 1);
	if (issuer == NULL) {
		issuer = x;
		issuer_key = key;
	}
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (ca) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(x, issuer, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *cert, EVP_PKEY *key, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	FILE *f;

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);	/* whatever the umask */
	f = fdopen(fd, "w");
	assert_non_null(f);
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

static struct ps_tls_ctx *
make_ctx(const struct ps_tls_ctx_cfg *cfg)
{
	struct ps_tls_ctx *ctx = NULL;
	char err[256];
	int rc;

	rc = ps_tls_ctx_new(cfg, &ctx, err, sizeof(err));
	if (rc != 0)
		print_error("ps_tls_ctx_new: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	return ctx;
}

static int
group_setup(void **state)
{
	struct ps_tls_ctx_cfg cfg;
	X509 *anchors[1];

	(void)state;
	ca_key = gen_key();
	srv_key = gen_key();
	bad_ca_key = gen_key();
	bad_srv_key = gen_key();
	ca_cert = make_cert(ca_key, "plainsight test CA", NULL, NULL, true, NULL);
	srv_cert = make_cert(srv_key, "server.test", ca_cert, ca_key, false, "DNS:server.test");
	bad_ca_cert = make_cert(bad_ca_key, "untrusted test CA", NULL, NULL, true, NULL);
	bad_srv_cert = make_cert(bad_srv_key, "server.test", bad_ca_cert, bad_ca_key, false,
				 "DNS:server.test");

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ps-tls-conn-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(cert_path, sizeof(cert_path), "%s/server.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/server.key", tmpdir);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
	snprintf(loose_key_path, sizeof(loose_key_path), "%s/loose.key", tmpdir);
	write_pem(cert_path, srv_cert, NULL, 0644);
	write_pem(key_path, NULL, srv_key, 0600);
	write_pem(ca_path, ca_cert, NULL, 0644);
	write_pem(loose_key_path, NULL, srv_key, 0644);

	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	cfg.cert = srv_cert;
	cfg.key = srv_key;
	srv_ctx = make_ctx(&cfg);
	cfg.cert = bad_srv_cert;
	cfg.key = bad_srv_key;
	bad_srv_ctx = make_ctx(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	cfg.cert_file = cert_path;
	cfg.key_file = key_path;
	cfg.max_version = TLS1_2_VERSION;
	srv12_ctx = make_ctx(&cfg);

	anchors[0] = ca_cert;
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_CLIENT;
	cfg.ca_certs = anchors;
	cfg.n_ca_certs = 1;
	cli_ctx = make_ctx(&cfg);
	cfg.max_version = TLS1_2_VERSION;
	cli12_ctx = make_ctx(&cfg);
	cfg.max_version = 0;
	cfg.verify_mode = PS_TLS_VERIFY_REPORT;
	cli_report_ctx = make_ctx(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_CLIENT;
	cfg.ca_file = ca_path;
	cli_file_ctx = make_ctx(&cfg);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	ps_tls_ctx_free(srv_ctx);
	ps_tls_ctx_free(srv12_ctx);
	ps_tls_ctx_free(bad_srv_ctx);
	ps_tls_ctx_free(cli_ctx);
	ps_tls_ctx_free(cli12_ctx);
	ps_tls_ctx_free(cli_file_ctx);
	ps_tls_ctx_free(cli_report_ctx);
	X509_free(ca_cert);
	X509_free(srv_cert);
	X509_free(bad_ca_cert);
	X509_free(bad_srv_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(bad_ca_key);
	EVP_PKEY_free(bad_srv_key);
	unlink(cert_path);
	unlink(key_path);
	unlink(ca_path);
	unlink(loose_key_path);
	rmdir(tmpdir);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The pair: two conns and the bytes in flight between them. */

struct pipe {
	uint8_t *buf;
	size_t len, cap;
};

struct pair {
	struct ps_tls_conn *cli, *srv;
	struct pipe c2s, s2c;
	enum ps_tls_status cst, sst;
};

static void
pipe_pull(struct pipe *p, struct ps_tls_conn *from)
{
	size_t want;

	while ((want = ps_tls_conn_wire_pending(from)) > 0) {
		if (p->cap - p->len < want) {
			p->cap = p->len + want + 4096;
			p->buf = realloc(p->buf, p->cap);
			assert_non_null(p->buf);
		}
		p->len += ps_tls_conn_pull_wire(from, p->buf + p->len, p->cap - p->len);
	}
}

static void
pipe_push(struct pipe *p, struct ps_tls_conn *to)
{
	size_t n;

	if (p->len == 0)
		return;
	n = ps_tls_conn_feed(to, p->buf, p->len);
	assert_true(n <= p->len);
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
}

static void
pair_new(struct pair *pr, struct ps_tls_ctx *cctx, struct ps_tls_ctx *sctx, const char *sni,
	 const uint8_t *calpn, size_t calpn_len, const uint8_t *salpn, size_t salpn_len)
{
	memset(pr, 0, sizeof(*pr));
	assert_int_equal(ps_tls_conn_new(cctx, sni, calpn, calpn_len, &pr->cli), 0);
	assert_int_equal(ps_tls_conn_new(sctx, NULL, salpn, salpn_len, &pr->srv), 0);
	assert_int_equal(ps_tls_conn_role(pr->cli), PS_TLS_ROLE_CLIENT);
	assert_int_equal(ps_tls_conn_role(pr->srv), PS_TLS_ROLE_SERVER);
}

static void
pair_free(struct pair *pr)
{
	ps_tls_conn_free(pr->cli);
	ps_tls_conn_free(pr->srv);
	free(pr->c2s.buf);
	free(pr->s2c.buf);
}

/* Exchange wire bytes in both directions. */
static void
pair_flush(struct pair *pr)
{
	pipe_pull(&pr->c2s, pr->cli);
	pipe_push(&pr->c2s, pr->srv);
	pipe_pull(&pr->s2c, pr->srv);
	pipe_push(&pr->s2c, pr->cli);
}

static bool
settled(enum ps_tls_status st)
{
	return st == PS_TLS_ST_DONE || st == PS_TLS_ST_FAILED;
}

/*
 * Drive both handshakes until both are done, or failed and every byte in
 * flight delivered. Bounded: a hang is a test failure.
 */
static void
pair_handshake(struct pair *pr)
{
	int i;

	for (i = 0; i < 32; i++) {
		pr->cst = ps_tls_conn_handshake(pr->cli);
		pair_flush(pr);
		pr->sst = ps_tls_conn_handshake(pr->srv);
		pair_flush(pr);
		if (settled(pr->cst) && settled(pr->sst) && pr->c2s.len == 0 && pr->s2c.len == 0)
			break;
		if ((pr->cst == PS_TLS_ST_FAILED || pr->sst == PS_TLS_ST_FAILED) && i > 8)
			break;
	}
	assert_true(i < 32);
}

static void
expect_handshake_ok(struct pair *pr)
{
	pair_handshake(pr);
	if (pr->cst != PS_TLS_ST_DONE || pr->sst != PS_TLS_ST_DONE)
		print_error("client %d '%s' server %d '%s'\n", pr->cst,
			    ps_tls_conn_reason(pr->cli), pr->sst, ps_tls_conn_reason(pr->srv));
	assert_int_equal(pr->cst, PS_TLS_ST_DONE);
	assert_int_equal(pr->sst, PS_TLS_ST_DONE);
	assert_true(ps_tls_conn_handshake_done(pr->cli));
	assert_true(ps_tls_conn_handshake_done(pr->srv));
	assert_string_equal(ps_tls_conn_reason(pr->cli), "");
	assert_string_equal(ps_tls_conn_reason(pr->srv), "");
}

/*
 * Send len bytes from one end to the other, written in pieces of piece
 * bytes and read in pieces of rpiece; the receiver gets exactly them.
 */
static void
transfer(struct pair *pr, bool c2s, const uint8_t *data, size_t len, size_t piece, size_t rpiece)
{
	struct ps_tls_conn *from = c2s ? pr->cli : pr->srv, *to = c2s ? pr->srv : pr->cli;
	struct pipe *fwd = c2s ? &pr->c2s : &pr->s2c, *back = c2s ? &pr->s2c : &pr->c2s;
	enum ps_tls_status st;
	uint8_t *rx = malloc(len);
	size_t off = 0, got = 0, n, w, r;
	unsigned int rounds = 0;

	assert_non_null(rx);
	while (got < len) {
		assert_true(++rounds < 100000);
		if (off < len) {
			n = len - off < piece ? len - off : piece;
			assert_int_equal(ps_tls_conn_write_plain(from, data + off, n, &w),
					 PS_TLS_ST_DONE);
			assert_int_equal(w, n);
			off += w;
			pipe_pull(fwd, from);
		}
		pipe_push(fwd, to);
		do {
			n = len - got < rpiece ? len - got : rpiece;
			st = ps_tls_conn_read_plain(to, rx + got, n, &r);
			got += r;
			pipe_pull(back, to);
		} while (st == PS_TLS_ST_DONE && got < len);
		assert_true(st == PS_TLS_ST_DONE || st == PS_TLS_ST_WANT);
	}
	assert_memory_equal(rx, data, len);
	free(rx);
}

/* Drain whatever post-handshake bytes (TLS 1.3 tickets) are in flight. */
static void
pair_settle(struct pair *pr)
{
	uint8_t b[64];
	size_t n;
	int i;

	for (i = 0; i < 4; i++) {
		pair_flush(pr);
		assert_int_equal(ps_tls_conn_read_plain(pr->cli, b, sizeof(b), &n), PS_TLS_ST_WANT);
		assert_int_equal(ps_tls_conn_read_plain(pr->srv, b, sizeof(b), &n), PS_TLS_ST_WANT);
	}
	pair_flush(pr);
}

static void
expect_alpn(struct ps_tls_conn *c, const char *want)
{
	const uint8_t *p;
	size_t n;

	if (want == NULL) {
		assert_false(ps_tls_conn_alpn(c, &p, &n));
		return;
	}
	assert_true(ps_tls_conn_alpn(c, &p, &n));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static void
small_data_both_ways(struct pair *pr)
{
	static const uint8_t req[] = "GET / HTTP/1.1\r\nHost: server.test\r\n\r\n";
	static const uint8_t rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	transfer(pr, true, req, sizeof(req) - 1, 1000, 1000);
	transfer(pr, false, rsp, sizeof(rsp) - 1, 1000, 7);
	transfer(pr, true, (const uint8_t *)"x", 1, 1, 1);
}

/* ------------------------------------------------------------------ */
/* Tests. */

static void
test_handshake_tls13(void **state)
{
	struct pair pr;

	(void)state;
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", alpn_h2_h11, ALPN_LEN(alpn_h2_h11),
		 alpn_h11_h2, ALPN_LEN(alpn_h11_h2));
	assert_int_equal(ps_tls_conn_version(pr.cli), 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), TLS1_3_VERSION);
	assert_int_equal(ps_tls_conn_version(pr.srv), TLS1_3_VERSION);
	assert_string_equal(ps_tls_conn_version_name(pr.srv), "TLSv1.3");
	assert_string_equal(ps_tls_conn_cipher(pr.cli), ps_tls_conn_cipher(pr.srv));
	assert_non_null(strstr(ps_tls_conn_cipher(pr.cli), "TLS_"));
	/* Server preference: http/1.1 first in the server's list. */
	expect_alpn(pr.cli, "http/1.1");
	expect_alpn(pr.srv, "http/1.1");
	assert_string_equal(ps_tls_conn_sni(pr.srv), "server.test");
	assert_string_equal(ps_tls_conn_sni(pr.cli), "server.test");
	assert_non_null(ps_tls_conn_peer_cert(pr.cli));
	assert_int_equal(X509_cmp(ps_tls_conn_peer_cert(pr.cli), srv_cert), 0);
	assert_null(ps_tls_conn_peer_cert(pr.srv));	/* no client certificate */
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_OK);
	assert_string_equal(ps_tls_conn_verify_reason(pr.cli), "ok");
	assert_false(ps_tls_conn_session_reused(pr.cli));
	small_data_both_ways(&pr);
	pair_free(&pr);
}

static void
test_handshake_tls12(void **state)
{
	struct pair pr;

	(void)state;
	/* Client capped at 1.2, server offers 1.3. */
	pair_new(&pr, cli12_ctx, srv_ctx, "server.test", alpn_h2_h11, ALPN_LEN(alpn_h2_h11),
		 alpn_h2, ALPN_LEN(alpn_h2));
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), TLS1_2_VERSION);
	assert_int_equal(ps_tls_conn_version(pr.srv), TLS1_2_VERSION);
	assert_non_null(strstr(ps_tls_conn_cipher(pr.srv), "ECDHE-ECDSA-"));
	assert_non_null(strstr(ps_tls_conn_cipher(pr.srv), "GCM"));
	expect_alpn(pr.cli, "h2");
	assert_string_equal(ps_tls_conn_sni(pr.srv), "server.test");
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_OK);
	small_data_both_ways(&pr);
	pair_free(&pr);

	/* Server capped at 1.2 (certificate and key from PEM files). */
	pair_new(&pr, cli_ctx, srv12_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), TLS1_2_VERSION);
	expect_alpn(pr.cli, NULL);
	small_data_both_ways(&pr);
	pair_free(&pr);
}

static void
bio_small(BIO *b)
{
	BUF_MEM *bm = NULL;

	assert_int_equal(BIO_get_mem_ptr(b, &bm), 1);
	assert_non_null(bm);
	assert_true(bm->max <= 32768);
}

static void
bulk(struct ps_tls_ctx *cctx)
{
	const size_t len = 1u << 20;
	uint8_t *data = malloc(len);
	struct pair pr;
	size_t i;

	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	pair_new(&pr, cctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	transfer(&pr, true, data, len, 16384, 4096);
	transfer(&pr, false, data, len, 70000, 65536);	/* bigger than the feed window */
	transfer(&pr, true, data, len, 1000, 16384);
	/* Drained: no megabyte buffers stay behind in either BIO. */
	pair_flush(&pr);
	bio_small(SSL_get_rbio(ps_tls_conn_ssl(pr.cli)));
	bio_small(SSL_get_wbio(ps_tls_conn_ssl(pr.cli)));
	bio_small(SSL_get_rbio(ps_tls_conn_ssl(pr.srv)));
	bio_small(SSL_get_wbio(ps_tls_conn_ssl(pr.srv)));
	small_data_both_ways(&pr);
	pair_free(&pr);
	free(data);
}

static void
test_bulk_1mb(void **state)
{
	(void)state;
	bulk(cli_ctx);
	bulk(cli12_ctx);
}

static void
test_alpn(void **state)
{
	struct pair pr;

	(void)state;
	/* Server accepts none: no ALPN, handshake fine. */
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", alpn_h2_h11, ALPN_LEN(alpn_h2_h11),
		 NULL, 0);
	expect_handshake_ok(&pr);
	expect_alpn(pr.cli, NULL);
	expect_alpn(pr.srv, NULL);
	pair_free(&pr);

	/* No overlap: no_application_protocol (RFC 7301 section 3.2). */
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", alpn_h2, ALPN_LEN(alpn_h2),
		 alpn_h11, ALPN_LEN(alpn_h11));
	pair_handshake(&pr);
	assert_int_equal(pr.sst, PS_TLS_ST_FAILED);
	assert_int_equal(pr.cst, PS_TLS_ST_FAILED);
	assert_non_null(strstr(ps_tls_conn_reason(pr.cli), "no application protocol"));
	pair_free(&pr);

	/* Malformed lists are refused at creation. */
	{
		struct ps_tls_conn *c = NULL;

		/* claims 5 bytes, has 2 */
		assert_int_equal(ps_tls_conn_new(cli_ctx, NULL, (const uint8_t *)"\x05h2", 3, &c),
				 -EINVAL);
		/* empty name */
		assert_int_equal(ps_tls_conn_new(srv_ctx, NULL, (const uint8_t *)"\x00", 1, &c),
				 -EINVAL);
		/* SNI on the server role */
		assert_int_equal(ps_tls_conn_new(srv_ctx, "x.test", NULL, 0, &c), -EINVAL);
		assert_null(c);
	}
}

static void
test_no_sni(void **state)
{
	struct pair pr;

	(void)state;
	pair_new(&pr, cli_ctx, srv_ctx, NULL, NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	assert_null(ps_tls_conn_sni(pr.srv));
	assert_null(ps_tls_conn_sni(pr.cli));
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_OK);
	pair_free(&pr);
}

static void
test_verify_ca_file(void **state)
{
	struct pair pr;

	(void)state;
	pair_new(&pr, cli_file_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_OK);
	pair_free(&pr);
}

static void
test_verify_untrusted(void **state)
{
	struct ps_tls_ctx *cctx[2] = { cli_ctx, cli12_ctx };
	struct pair pr;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		pair_new(&pr, cctx[i], bad_srv_ctx, "server.test", NULL, 0, NULL, 0);
		pair_handshake(&pr);
		assert_int_equal(pr.cst, PS_TLS_ST_FAILED);
		assert_int_equal(pr.sst, PS_TLS_ST_FAILED);	/* got our alert, no hang */
		assert_non_null(strstr(ps_tls_conn_reason(pr.cli), "certificate verify failed"));
		assert_non_null(strstr(ps_tls_conn_reason(pr.cli), "local issuer"));
		assert_non_null(strstr(ps_tls_conn_reason(pr.srv), "unknown ca"));
		assert_int_equal(ps_tls_conn_verify_result(pr.cli),
				 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
		/* Sticky. */
		assert_int_equal(ps_tls_conn_handshake(pr.cli), PS_TLS_ST_FAILED);
		pair_free(&pr);
	}
}

static void
test_verify_wrong_host(void **state)
{
	struct pair pr;

	(void)state;
	pair_new(&pr, cli_ctx, srv_ctx, "other.test", NULL, 0, NULL, 0);
	pair_handshake(&pr);
	assert_int_equal(pr.cst, PS_TLS_ST_FAILED);
	assert_int_equal(pr.sst, PS_TLS_ST_FAILED);
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_ERR_HOSTNAME_MISMATCH);
	assert_non_null(strstr(ps_tls_conn_reason(pr.cli), "hostname mismatch"));
	pair_free(&pr);

	/* A partial wildcard or a suffix does not match either. */
	pair_new(&pr, cli_ctx, srv_ctx, "xserver.test", NULL, 0, NULL, 0);
	pair_handshake(&pr);
	assert_int_equal(pr.cst, PS_TLS_ST_FAILED);
	pair_free(&pr);
}

static void
test_verify_report_mode(void **state)
{
	struct pair pr;

	(void)state;
	/* Untrusted chain: the handshake completes, the result says why. */
	pair_new(&pr, cli_report_ctx, bad_srv_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_verify_result(pr.cli),
			 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_non_null(strstr(ps_tls_conn_verify_reason(pr.cli), "local issuer"));
	assert_int_equal(X509_cmp(ps_tls_conn_peer_cert(pr.cli), bad_srv_cert), 0);
	pair_free(&pr);

	pair_new(&pr, cli_report_ctx, srv_ctx, "other.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_ERR_HOSTNAME_MISMATCH);
	pair_free(&pr);

	pair_new(&pr, cli_report_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_OK);
	pair_free(&pr);
}

/* Full handshake, take the session bytes, resume with them. */
static void
resume(struct ps_tls_ctx *cctx, int version)
{
	struct pair pr;
	uint8_t *der = NULL;
	size_t der_len = 0;

	pair_new(&pr, cctx, srv_ctx, "server.test", alpn_h2, ALPN_LEN(alpn_h2),
		 alpn_h2, ALPN_LEN(alpn_h2));
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), version);
	assert_false(ps_tls_conn_session_reused(pr.cli));
	small_data_both_ways(&pr);	/* TLS 1.3: the ticket is read here */
	assert_int_equal(ps_tls_conn_get_session(pr.cli, &der, &der_len), 0);
	assert_true(der_len > 0);
	assert_int_equal(ps_tls_conn_get_session(pr.srv, &der, &der_len), -EINVAL);
	pair_free(&pr);

	pair_new(&pr, cctx, srv_ctx, "server.test", alpn_h2, ALPN_LEN(alpn_h2),
		 alpn_h2, ALPN_LEN(alpn_h2));
	assert_int_equal(ps_tls_conn_set_session(pr.cli, der, der_len), 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), version);
	assert_true(ps_tls_conn_session_reused(pr.cli));
	assert_true(ps_tls_conn_session_reused(pr.srv));
	assert_int_equal(ps_tls_conn_verify_result(pr.cli), X509_V_OK);
	expect_alpn(pr.srv, "h2");
	small_data_both_ways(&pr);
	pair_free(&pr);

	/* Garbage session bytes are refused, not crashed on. */
	assert_int_equal(ps_tls_conn_new(cctx, "server.test", NULL, 0, &pr.cli), 0);
	assert_int_equal(ps_tls_conn_set_session(pr.cli, der, der_len / 2), -EINVAL);
	ps_tls_conn_free(pr.cli);
	free(der);
}

static void
test_resumption(void **state)
{
	(void)state;
	resume(cli_ctx, TLS1_3_VERSION);
	resume(cli12_ctx, TLS1_2_VERSION);
}

static void
test_session_helpers(void **state)
{
	struct pair pr;
	SSL_SESSION *s = NULL, *s2 = NULL;
	uint8_t *der = NULL, *der2 = NULL;
	size_t len = 0, len2 = 0;

	(void)state;
	pair_new(&pr, cli12_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	assert_int_equal(ps_tls_conn_get_session(pr.cli, &der, &len), -EAGAIN);
	expect_handshake_ok(&pr);
	s = SSL_get1_session(ps_tls_conn_ssl(pr.cli));
	assert_non_null(s);
	assert_int_equal(ps_tls_session_i2d(s, &der, &len), 0);
	assert_int_equal(ps_tls_session_d2i(der, len, &s2), 0);
	assert_int_equal(ps_tls_session_i2d(s2, &der2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(der, der2, len);
	assert_int_equal(ps_tls_session_d2i((const uint8_t *)"\x30\x03\x02\x01", 4, &s2) , -EINVAL);
	SSL_SESSION_free(s);
	SSL_SESSION_free(s2);
	free(der);
	free(der2);
	pair_free(&pr);
}

static void
close_both(struct pair *pr, bool cli_first)
{
	struct ps_tls_conn *a = cli_first ? pr->cli : pr->srv, *b = cli_first ? pr->srv : pr->cli;
	uint8_t buf[16];
	size_t n;

	assert_int_equal(ps_tls_conn_shutdown(a), PS_TLS_ST_WANT);	/* sent, not received */
	pair_flush(pr);
	assert_int_equal(ps_tls_conn_read_plain(b, buf, sizeof(buf), &n), PS_TLS_ST_CLOSED);
	assert_int_equal(n, 0);
	/* Half-close: b may still talk after a's close_notify... */
	assert_int_equal(ps_tls_conn_write_plain(b, (const uint8_t *)"bye", 3, &n), PS_TLS_ST_DONE);
	pair_flush(pr);
	assert_int_equal(ps_tls_conn_read_plain(a, buf, sizeof(buf), &n), PS_TLS_ST_DONE);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "bye", 3);
	/* ...then answers with its own. */
	assert_int_equal(ps_tls_conn_shutdown(b), PS_TLS_ST_DONE);
	pair_flush(pr);
	assert_int_equal(ps_tls_conn_shutdown(a), PS_TLS_ST_DONE);
	assert_int_equal(ps_tls_conn_read_plain(a, buf, sizeof(buf), &n), PS_TLS_ST_CLOSED);
}

static void
test_close_notify(void **state)
{
	struct ps_tls_ctx *cctx[2] = { cli_ctx, cli12_ctx };
	struct pair pr;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		pair_new(&pr, cctx[i & 1], srv_ctx, "server.test", NULL, 0, NULL, 0);
		expect_handshake_ok(&pr);
		pair_settle(&pr);
		close_both(&pr, i < 2);
		pair_free(&pr);
	}
	/* Before the handshake: nothing to send. */
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	assert_int_equal(ps_tls_conn_shutdown(pr.cli), PS_TLS_ST_DONE);
	assert_int_equal(ps_tls_conn_wire_pending(pr.cli), 0);
	pair_free(&pr);
}

static void
garbage_fails(struct ps_tls_conn *c, const uint8_t *g, size_t len, bool after_hs)
{
	uint8_t buf[64];
	enum ps_tls_status st;
	size_t n;

	assert_int_equal(ps_tls_conn_feed(c, g, len), len);
	if (after_hs)
		st = ps_tls_conn_read_plain(c, buf, sizeof(buf), &n);
	else
		st = ps_tls_conn_handshake(c);
	assert_int_equal(st, PS_TLS_ST_FAILED);
	assert_true(strlen(ps_tls_conn_reason(c)) > 0);
	/* Sticky, and every call stays safe. */
	assert_int_equal(ps_tls_conn_handshake(c), PS_TLS_ST_FAILED);
	assert_int_equal(ps_tls_conn_read_plain(c, buf, sizeof(buf), &n), PS_TLS_ST_FAILED);
	assert_int_equal(ps_tls_conn_write_plain(c, buf, 1, &n), PS_TLS_ST_FAILED);
	assert_int_equal(ps_tls_conn_shutdown(c), PS_TLS_ST_FAILED);
	assert_int_equal(ps_tls_conn_feed(c, g, len), len);
	while (ps_tls_conn_pull_wire(c, buf, sizeof(buf)) > 0)
		;	/* the alert, if any */
}

static void
test_garbage(void **state)
{
	/* "GET / HTTP/1.1\r\n\r\n": plain HTTP on a TLS port */
	static const uint8_t http[] = "GET / HTTP/1.1\r\n\r\n";
	/* handshake record, TLS 1.2, length 5: a ClientHello claiming 0x100000 bytes */
	static const uint8_t bad_hs[] = {
		0x16, 0x03, 0x03, 0x00, 0x05, 0x01, 0x10, 0x00, 0x00, 0x00
	};
	/* application_data record, TLS 1.2, 32 random-looking bytes: fails decryption */
	uint8_t bad_app[5 + 32] = { 0x17, 0x03, 0x03, 0x00, 0x20 };
	struct pair pr;
	size_t i;

	(void)state;
	for (i = 5; i < sizeof(bad_app); i++)
		bad_app[i] = (uint8_t)(i * 37);

	pair_new(&pr, cli_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	garbage_fails(pr.srv, http, sizeof(http) - 1, false);
	/* The client sent its hello, the "server" answers with HTTP. */
	assert_int_equal(ps_tls_conn_handshake(pr.cli), PS_TLS_ST_WANT);
	garbage_fails(pr.cli, (const uint8_t *)"HTTP/1.1 400 Bad Request\r\n\r\n", 28, false);
	pair_free(&pr);

	pair_new(&pr, cli_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	garbage_fails(pr.srv, bad_hs, sizeof(bad_hs), false);
	pair_free(&pr);

	/* After the handshake, on both sides, both versions. */
	for (i = 0; i < 4; i++) {
		pair_new(&pr, i & 1 ? cli12_ctx : cli_ctx, srv_ctx, "server.test", NULL, 0,
			 NULL, 0);
		expect_handshake_ok(&pr);
		pair_settle(&pr);
		garbage_fails(i < 2 ? pr.srv : pr.cli, bad_app, sizeof(bad_app), true);
		pair_free(&pr);
	}
}

/*
 * TLS 1.2 renegotiation started by one end must fail both ends, not hang.
 * The initiating end is a raw OpenSSL call with SSL_OP_NO_RENEGOTIATION
 * lifted, standing for a peer that tries.
 */
static void
reneg(bool from_client)
{
	struct pair pr;
	struct ps_tls_conn *a, *b;
	uint8_t buf[64];
	size_t n;
	SSL *ssl;
	int i;

	pair_new(&pr, cli12_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	small_data_both_ways(&pr);
	a = from_client ? pr.cli : pr.srv;
	b = from_client ? pr.srv : pr.cli;
	ssl = ps_tls_conn_ssl(a);
	SSL_clear_options(ssl, SSL_OP_NO_RENEGOTIATION);
	assert_int_equal(SSL_renegotiate(ssl), 1);
	(void)SSL_do_handshake(ssl);
	ERR_clear_error();
	for (i = 0; i < 8; i++) {
		pair_flush(&pr);
		(void)ps_tls_conn_read_plain(b, buf, sizeof(buf), &n);
		pair_flush(&pr);
		(void)ps_tls_conn_read_plain(a, buf, sizeof(buf), &n);
	}
	assert_int_equal(ps_tls_conn_read_plain(b, buf, sizeof(buf), &n), PS_TLS_ST_FAILED);
	assert_string_equal(ps_tls_conn_reason(b), "peer attempted renegotiation");
	if (from_client) {
		/* Our server's no_renegotiation alert ends the OpenSSL client too. */
		assert_int_equal(ps_tls_conn_read_plain(a, buf, sizeof(buf), &n),
				 PS_TLS_ST_FAILED);
		assert_non_null(strstr(ps_tls_conn_reason(a), "renegotiation"));
	}
	pair_free(&pr);
}

/*
 * A server leg lowered to TLS 1.2 answers a TLS 1.3 client with TLS 1.2
 * and no downgrade sentinel (OpenSSL's client checks it and would abort);
 * TLS_FALLBACK_SCSV at TLS 1.2 is refused by a leg that can do 1.3 and
 * accepted by a lowered one.
 */
static void
test_max_version(void **state)
{
	struct pair pr;

	(void)state;
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	assert_int_equal(ps_tls_conn_set_max_version(pr.srv, TLS1_1_VERSION), -EINVAL);
	assert_int_equal(ps_tls_conn_set_max_version(pr.srv, 0x0305), -EINVAL);
	assert_int_equal(ps_tls_conn_set_max_version(pr.srv, TLS1_2_VERSION), 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), TLS1_2_VERSION);
	assert_int_equal(ps_tls_conn_version(pr.srv), TLS1_2_VERSION);
	/* Too late once started. */
	assert_int_equal(ps_tls_conn_set_max_version(pr.srv, TLS1_3_VERSION), -EINVAL);
	small_data_both_ways(&pr);
	pair_free(&pr);

	/* The fallback SCSV, refused by a server leg that does TLS 1.3 ... */
	pair_new(&pr, cli12_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	SSL_set_mode(ps_tls_conn_ssl(pr.cli), SSL_MODE_SEND_FALLBACK_SCSV);
	pair_handshake(&pr);
	assert_int_equal(pr.sst, PS_TLS_ST_FAILED);
	assert_int_equal(pr.cst, PS_TLS_ST_FAILED);
	assert_non_null(strstr(ps_tls_conn_reason(pr.srv), "inappropriate fallback"));
	assert_non_null(strstr(ps_tls_conn_reason(pr.cli), "inappropriate fallback"));
	pair_free(&pr);
	/* ... accepted by one lowered to TLS 1.2, as a TLS 1.2 server would. */
	pair_new(&pr, cli12_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	SSL_set_mode(ps_tls_conn_ssl(pr.cli), SSL_MODE_SEND_FALLBACK_SCSV);
	assert_int_equal(ps_tls_conn_set_max_version(pr.srv, TLS1_2_VERSION), 0);
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.srv), TLS1_2_VERSION);
	pair_free(&pr);
}

static void
test_renegotiation_refused(void **state)
{
	(void)state;
	reneg(true);
	reneg(false);
}

static void
test_no_early_data(void **state)
{
	static const uint8_t early[] = "EARLY";
	static const uint8_t late[] = "late";
	struct pair pr;
	SSL_SESSION *s;
	uint8_t *der = NULL;
	size_t der_len = 0, w, n;
	uint8_t buf[64];
	SSL *ssl;

	(void)state;
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	expect_handshake_ok(&pr);
	small_data_both_ways(&pr);
	assert_int_equal(ps_tls_conn_get_session(pr.cli, &der, &der_len), 0);
	pair_free(&pr);
	assert_int_equal(ps_tls_session_d2i(der, der_len, &s), 0);
	/* Our tickets never allow early data... */
	assert_int_equal(SSL_SESSION_get_max_early_data(s), 0);
	/* ...and a client that sends some anyway is refused. */
	assert_int_equal(SSL_SESSION_set_max_early_data(s, 16384), 1);
	pair_new(&pr, cli_ctx, srv_ctx, "server.test", NULL, 0, NULL, 0);
	ssl = ps_tls_conn_ssl(pr.cli);
	assert_int_equal(SSL_set_session(ssl, s), 1);
	SSL_SESSION_free(s);
	free(der);
	assert_int_equal(SSL_write_early_data(ssl, early, sizeof(early) - 1, &w), 1);
	ERR_clear_error();
	expect_handshake_ok(&pr);
	assert_int_equal(SSL_get_early_data_status(ssl), SSL_EARLY_DATA_REJECTED);
	assert_int_equal(SSL_get_early_data_status(ps_tls_conn_ssl(pr.srv)),
			 SSL_EARLY_DATA_REJECTED);
	assert_true(ps_tls_conn_session_reused(pr.srv));
	assert_int_equal(ps_tls_conn_write_plain(pr.cli, late, 4, &w), PS_TLS_ST_DONE);
	pair_flush(&pr);
	assert_int_equal(ps_tls_conn_read_plain(pr.srv, buf, sizeof(buf), &n), PS_TLS_ST_DONE);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, late, 4);	/* never "EARLY" */
	pair_free(&pr);
}

/* Certificate hook: pauses once, then picks the certificate and the ALPN. */
static int hook_calls;

static int
hook(struct ps_tls_conn *conn, void *arg)
{
	const char *sni = ps_tls_conn_sni(conn);

	(void)arg;
	hook_calls++;
	assert_non_null(sni);
	if (hook_calls == 1)
		return -EAGAIN;		/* "waiting for the upstream handshake" */
	if (strcmp(sni, "reject.test") == 0)
		return -EACCES;
	/* a key that is not the certificate's is refused */
	assert_int_equal(ps_tls_conn_use_cert(conn, srv_cert, NULL, bad_srv_key), -EINVAL);
	assert_int_equal(ps_tls_conn_use_cert(conn, srv_cert, NULL, srv_key), 0);
	assert_int_equal(ps_tls_conn_set_alpn(conn, alpn_h2, ALPN_LEN(alpn_h2)), 0);
	return 0;
}

static void
test_cert_hook(void **state)
{
	struct ps_tls_ctx_cfg cfg;
	struct ps_tls_ctx *hctx, *rctx;
	X509 *anchors[1] = { ca_cert };
	struct pair pr;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	cfg.cert_select = hook;
	hctx = make_ctx(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_CLIENT;
	cfg.ca_certs = anchors;
	cfg.n_ca_certs = 1;
	cfg.verify_mode = PS_TLS_VERIFY_REPORT;
	rctx = make_ctx(&cfg);

	hook_calls = 0;
	pair_new(&pr, cli_ctx, hctx, "server.test", alpn_h2_h11, ALPN_LEN(alpn_h2_h11), NULL, 0);
	assert_int_equal(ps_tls_conn_handshake(pr.cli), PS_TLS_ST_WANT);
	pair_flush(&pr);
	assert_int_equal(ps_tls_conn_handshake(pr.srv), PS_TLS_ST_PAUSED);
	assert_int_equal(ps_tls_conn_wire_pending(pr.srv), 0);
	expect_handshake_ok(&pr);
	assert_int_equal(hook_calls, 2);
	expect_alpn(pr.cli, "h2");
	small_data_both_ways(&pr);
	pair_free(&pr);

	hook_calls = 1;
	pair_new(&pr, rctx, hctx, "reject.test", NULL, 0, NULL, 0);
	pair_handshake(&pr);
	assert_int_equal(pr.sst, PS_TLS_ST_FAILED);
	assert_int_equal(pr.cst, PS_TLS_ST_FAILED);
	assert_non_null(strstr(ps_tls_conn_reason(pr.cli), "handshake failure"));
	pair_free(&pr);
	ps_tls_ctx_free(hctx);
	ps_tls_ctx_free(rctx);
}

/* HelloRetryRequest (RFC 8446 section 4.1.4): the client's key share is not acceptable. */
static int hrr_hook_calls;

static int
hrr_hook(struct ps_tls_conn *conn, void *arg)
{
	(void)conn;
	(void)arg;
	hrr_hook_calls++;
	return 0;
}

static void
test_hello_retry(void **state)
{
	struct ps_tls_ctx_cfg cfg;
	struct ps_tls_ctx *sctx;
	struct pair pr;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	cfg.cert = srv_cert;
	cfg.key = srv_key;
	cfg.groups = "P-384";		/* the client sends an X25519 share first */
	cfg.cert_select = hrr_hook;
	sctx = make_ctx(&cfg);
	hrr_hook_calls = 0;
	pair_new(&pr, cli_ctx, sctx, "server.test", alpn_h2, ALPN_LEN(alpn_h2),
		 alpn_h2, ALPN_LEN(alpn_h2));
	expect_handshake_ok(&pr);
	assert_int_equal(ps_tls_conn_version(pr.cli), TLS1_3_VERSION);
	assert_int_equal(SSL_get_negotiated_group(ps_tls_conn_ssl(pr.cli)), NID_secp384r1);
	assert_int_equal(hrr_hook_calls, 2);	/* once per ClientHello */
	expect_alpn(pr.cli, "h2");
	small_data_both_ways(&pr);
	pair_free(&pr);
	ps_tls_ctx_free(sctx);
}

static void
test_ctx_errors(void **state)
{
	struct ps_tls_ctx_cfg cfg;
	struct ps_tls_ctx *ctx = NULL;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	cfg.cert_file = cert_path;
	cfg.key_file = loose_key_path;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "group or others"));
	assert_null(strstr(err, "PRIVATE KEY"));

	cfg.key_file = NULL;
	cfg.key = bad_srv_key;		/* not the certificate's key */
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key"));

	cfg.key = NULL;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);

	cfg.cert_file = "/nonexistent/cert.pem";
	cfg.key_file = key_path;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "certificate"));

	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);

	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_CLIENT;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "trust"));
	cfg.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, NULL, 0), -EINVAL);
	cfg.ca_file = ca_path;
	cfg.min_version = TLS1_1_VERSION;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);
	cfg.min_version = TLS1_3_VERSION;
	cfg.max_version = TLS1_2_VERSION;
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);
	cfg.min_version = 0;
	cfg.max_version = 0;
	cfg.cipher_list = "NO-SUCH-CIPHER";
	assert_int_equal(ps_tls_ctx_new(&cfg, &ctx, err, sizeof(err)), -EINVAL);
	assert_null(ctx);
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_tls13),
		cmocka_unit_test(test_handshake_tls12),
		cmocka_unit_test(test_bulk_1mb),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_no_sni),
		cmocka_unit_test(test_verify_ca_file),
		cmocka_unit_test(test_verify_untrusted),
		cmocka_unit_test(test_verify_wrong_host),
		cmocka_unit_test(test_verify_report_mode),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_session_helpers),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_max_version),
		cmocka_unit_test(test_renegotiation_refused),
		cmocka_unit_test(test_no_early_data),
		cmocka_unit_test(test_cert_hook),
		cmocka_unit_test(test_hello_retry),
		cmocka_unit_test(test_ctx_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
