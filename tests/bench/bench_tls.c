/* SPDX-License-Identifier: BSD-3-Clause
 * TLS interception benchmark, in memory, one core, no EAL, no network:
 *
 *   bench_tls [--quick | --resumed12 SECONDS | --bulk MB]
 *
 * (a) The OpenSSL ceiling of one interception: a client, the appliance's
 *     two legs and a server, four SSL objects over memory BIOs. Per
 *     iteration: the client's hello is held, the appliance's client role
 *     connects to the server (ECDSA P-256 leaf from a test root, chain and
 *     host name verified), then the appliance's server role answers the
 *     client with an ECDSA P-256 leaf forged once by the appliance CA; a
 *     request and a response cross both legs; close_notify both ways.
 *     Twice: the appliance's legs as raw SSL objects ("pure OpenSSL") and
 *     through ps_tls_conn (our glue), SSL_CTXs built once in both.
 * (b) The plainsight stage: ps_proxy with the ps_tls_flow stage, the
 *     client and the server each a ps_tcp endpoint carrying a raw SSL, real
 *     frames (built, parsed, checksum-verified) and simulated time, the
 *     same exchange as (a). Full interceptions, resumed ones (TLS 1.2
 *     session IDs, TLS 1.3 tickets, both legs), and bulk plaintext through
 *     an established intercepted flow.
 * (c) Memory of an idle intercepted session: N sessions established (the
 *     request and response exchanged), then the malloc'd bytes they hold
 *     (mallinfo2), freed piece by piece for a breakdown, the peers' share
 *     removed.
 * (b) and (c) are in bench_tls_stage.c; this file makes the PKI and the
 * contexts, runs (a) and prints the table.
 *
 * Rates are per CPU-second of this thread (CLOCK_THREAD_CPUTIME_ID): the
 * machines are shared, and what another process takes is not ours. Each
 * row is split in the whole loop (the peers' TLS and TCP included) and the
 * appliance alone: the share of the time spent inside the appliance's
 * calls (CLOCK_MONOTONIC around them) applied to the CPU time.
 *
 * The PKI is made at start in memory (EC P-256); the appliance CA passes
 * through 0600 files in a mkdtemp() directory for ps_tls_ca_load(),
 * removed before the runs. Not a test: nothing here asserts a speed.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
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

#include "ps_tls_conn.h"
#include "ps_tls_flow.h"
#include "ps_tls_forge.h"

#include "bench_tls.h"

#define DAY		(24L * 3600L)
#define SNI		"server.test"

/* The appliance's modern profile, as ps_tls_conn.c sets it (the pure
 * variant of (a) must do the same work). */
#define PROFILE_TLS12	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
			"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
			"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define PROFILE_TLS13	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"		\
			"TLS_CHACHA20_POLY1305_SHA256"
#define PROFILE_GROUPS	"X25519:P-256:P-384"

double bt_app_t;
struct ps_tls_icpt bt_icpt;

/* ------------------------------------------------------------------ */
/* Test PKI and contexts, built once. */

static EVP_PKEY *web_key, *leaf_key, *app_key;
static X509 *web_root;		/* the public PKI's root, trusted by the appliance */
static X509 *leaf;		/* the server's: server.test, ECDSA P-256 */
static X509 *app_cert;		/* the appliance CA, trusted by the client */
static struct ps_tls_ca *app_ca;
static struct ps_tls_forge *forge;
static X509 *forged;		/* the leaf the client is shown, forged once */
static EVP_PKEY *forged_key;

static SSL_CTX *peer_cli;	/* the client: trusts the appliance CA */
static SSL_CTX *peer_srv13;	/* the server: TLS 1.2 and 1.3, tickets (OpenSSL defaults) */
static SSL_CTX *peer_srv12;	/* the server: TLS 1.2 only, session IDs (no tickets) */
static SSL_CTX *pure_as, *pure_ac;	/* (a) pure: the appliance's server and client roles */
static struct ps_tls_ctx *glue_as, *glue_ac;	/* (a) glue: the same through ps_tls_conn */

static EVP_PKEY *
gen_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	BT_CHECK(k != NULL);
	return k;
}

static void
add_ext(X509 *cert, X509 *issuer, const char *name, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf(NULL, &v3, name, value);
	BT_CHECK(ext != NULL);
	BT_CHECK(X509_add_ext(cert, ext, -1) == 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer (self-signed when NULL); a CA when san is NULL. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	BT_CHECK(x != NULL);
	BT_CHECK(X509_set_version(x, X509_VERSION_3) == 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	BT_CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -DAY) != NULL);
	BT_CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 30 * DAY) != NULL);
	BT_CHECK(X509_set_pubkey(x, key) == 1);
	name = X509_get_subject_name(x);
	BT_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					 -1, -1, 0) == 1);
	if (issuer == NULL) {
		issuer = x;
		issuer_key = key;
	}
	BT_CHECK(X509_set_issuer_name(x, X509_get_subject_name(issuer)) == 1);
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
	BT_CHECK(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	FILE *f;

	BT_CHECK(fd >= 0);
	f = fdopen(fd, "w");
	BT_CHECK(f != NULL);
	if (cert != NULL)
		BT_CHECK(PEM_write_X509(f, cert) == 1);
	if (key != NULL)
		BT_CHECK(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
	BT_CHECK(fclose(f) == 0);
}

/* The appliance's own profile on a raw SSL_CTX (pure variant of (a)). */
static SSL_CTX *
profile_ctx(const SSL_METHOD *m)
{
	SSL_CTX *c = SSL_CTX_new(m);

	BT_CHECK(c != NULL);
	BT_CHECK(SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1);
	BT_CHECK(SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	BT_CHECK(SSL_CTX_set_cipher_list(c, PROFILE_TLS12) == 1);
	BT_CHECK(SSL_CTX_set_ciphersuites(c, PROFILE_TLS13) == 1);
	BT_CHECK(SSL_CTX_set1_groups_list(c, PROFILE_GROUPS) == 1);
	return c;
}

static SSL_CTX *
peer_server_ctx(bool tls12_ids)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	BT_CHECK(c != NULL);
	BT_CHECK(SSL_CTX_use_certificate(c, leaf) == 1);
	BT_CHECK(SSL_CTX_use_PrivateKey(c, leaf_key) == 1);
	if (tls12_ids) {
		BT_CHECK(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) == 1);
		SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
		BT_CHECK(SSL_CTX_set_session_id_context(c, (const unsigned char *)"srv", 3) == 1);
	}
	return c;
}

static void
setup(void)
{
	char dir[] = "/tmp/ps-bench-tls-XXXXXX", crt[64], key[64], web[64], err[384];
	struct ps_tls_ctx_cfg cc;
	struct ps_tls_icpt_cfg ic;

	web_key = gen_key();
	leaf_key = gen_key();
	app_key = gen_key();
	web_root = make_cert(web_key, "bench web root", NULL, NULL, NULL);
	leaf = make_cert(leaf_key, SNI, web_root, web_key, "DNS:" SNI ",DNS:www." SNI);
	app_cert = make_cert(app_key, "plainsight bench CA", NULL, NULL, NULL);

	BT_CHECK(mkdtemp(dir) != NULL);
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	snprintf(web, sizeof(web), "%s/web.pem", dir);
	write_pem(crt, app_cert, NULL);
	write_pem(key, NULL, app_key);
	write_pem(web, web_root, NULL);
	if (ps_tls_ca_load(crt, key, NULL, &app_ca, err, sizeof(err)) < 0)
		bt_die("ps_tls_ca_load: %s", err);
	if (ps_tls_forge_new(app_ca, 4096, &forge, err, sizeof(err)) < 0)
		bt_die("ps_tls_forge_new: %s", err);
	BT_CHECK(ps_tls_forge_get(forge, leaf, PS_TLS_LEAF_EC, &forged, &forged_key) == 0);

	/* (b), (c): the interception context as plainsight-dp builds it
	 * (conf_tls.c defaults: 20,000 sessions for 300 s). */
	memset(&ic, 0, sizeof(ic));
	ic.forge = forge;
	ic.on_verify_fail = PS_TLS_VFAIL_REJECT;
	ic.ca_file = web;
	ic.sess_entries = 20000;
	ic.sess_timeout_s = 300;
	if (ps_tls_icpt_init(&bt_icpt, &ic, err, sizeof(err)) < 0)
		bt_die("ps_tls_icpt_init: %s", err);

	/* (a) glue: the same two contexts, the forged leaf as the default
	 * certificate (no hook), the upstream leg reporting verification. */
	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_SERVER;
	cc.cert = forged;
	cc.chain = ps_tls_forge_chain(forge);
	cc.key = forged_key;
	if (ps_tls_ctx_new(&cc, &glue_as, err, sizeof(err)) < 0)
		bt_die("glue server context: %s", err);
	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_CLIENT;
	cc.ca_certs = &web_root;
	cc.n_ca_certs = 1;
	cc.verify_mode = PS_TLS_VERIFY_REPORT;
	if (ps_tls_ctx_new(&cc, &glue_ac, err, sizeof(err)) < 0)
		bt_die("glue client context: %s", err);
	SSL_CTX_sess_set_cache_size(ps_tls_ctx_ssl_ctx(glue_as), 20000);
	unlink(crt);
	unlink(key);
	unlink(web);
	BT_CHECK(rmdir(dir) == 0);

	/* (a) pure: raw contexts with the same profile, no callbacks. */
	pure_as = profile_ctx(TLS_server_method());
	SSL_CTX_set_options(pure_as, SSL_OP_CIPHER_SERVER_PREFERENCE);
	BT_CHECK(SSL_CTX_set_max_early_data(pure_as, 0) == 1);
	BT_CHECK(SSL_CTX_set_num_tickets(pure_as, 1) == 1);
	BT_CHECK(SSL_CTX_set_session_id_context(pure_as, (const unsigned char *)"plainsight", 10) == 1);
	BT_CHECK(SSL_CTX_use_certificate(pure_as, forged) == 1);
	BT_CHECK(SSL_CTX_use_PrivateKey(pure_as, forged_key) == 1);
	SSL_CTX_sess_set_cache_size(pure_as, 20000);
	pure_ac = profile_ctx(TLS_client_method());
	SSL_CTX_set_session_cache_mode(pure_ac, SSL_SESS_CACHE_OFF);
	BT_CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(pure_ac), web_root) == 1);
	SSL_CTX_set_verify(pure_ac, SSL_VERIFY_PEER, NULL);

	/* The peers: OpenSSL defaults, the client verifying the forged chain. */
	peer_srv13 = peer_server_ctx(false);
	peer_srv12 = peer_server_ctx(true);
	peer_cli = SSL_CTX_new(TLS_client_method());
	BT_CHECK(peer_cli != NULL);
	BT_CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(peer_cli), app_cert) == 1);
	SSL_CTX_set_verify(peer_cli, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(peer_cli, SSL_SESS_CACHE_OFF);
}

static SSL *
mem_ssl(SSL_CTX *ctx)
{
	SSL *s = SSL_new(ctx);
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	BT_CHECK(s != NULL && r != NULL && w != NULL);
	BIO_set_mem_eof_return(r, -1);	/* empty: retry, not EOF */
	BIO_set_mem_eof_return(w, -1);
	SSL_set_bio(s, r, w);
	return s;
}

/* See bench_tls.h. Main thread. */
SSL *
bt_peer_client(int version, SSL_SESSION *sess)
{
	SSL *s = mem_ssl(peer_cli);

	SSL_set_connect_state(s);
	BT_CHECK(SSL_set_tlsext_host_name(s, SNI) == 1);
	BT_CHECK(SSL_set1_host(s, SNI) == 1);
	BT_CHECK(SSL_set_max_proto_version(s, version) == 1);
	if (version == TLS1_2_VERSION)
		SSL_set_options(s, SSL_OP_NO_TICKET);	/* resumption by session ID */
	if (sess != NULL)
		BT_CHECK(SSL_set_session(s, sess) == 1);
	return s;
}

/* See bench_tls.h. Main thread. */
SSL *
bt_peer_server(int version)
{
	SSL *s = mem_ssl(version == TLS1_2_VERSION ? peer_srv12 : peer_srv13);

	SSL_set_accept_state(s);
	return s;
}

/* ------------------------------------------------------------------ */
/* (a) Four TLS ends in memory. */

struct side {
	SSL *ssl;			/* raw OpenSSL, or */
	struct ps_tls_conn *pc;		/* our glue */
	bool app;			/* the appliance's: its time is counted */
};

#define APP_BEGIN(s)	double t0_ = (s)->app ? bt_mono() : 0.0
#define APP_END(s)	do { if ((s)->app) bt_app_t += bt_mono() - t0_; } while (0)

static size_t
side_pull(struct side *s, uint8_t *buf, size_t cap)
{
	size_t n;
	int r;

	APP_BEGIN(s);
	if (s->pc != NULL) {
		n = ps_tls_conn_pull_wire(s->pc, buf, cap);
	} else {
		r = BIO_read(SSL_get_wbio(s->ssl), buf, (int)cap);
		n = r > 0 ? (size_t)r : 0;
	}
	APP_END(s);
	return n;
}

static void
side_feed(struct side *s, const uint8_t *d, size_t n)
{
	size_t off = 0, k;

	APP_BEGIN(s);
	if (s->pc != NULL) {
		while (off < n) {
			k = ps_tls_conn_feed(s->pc, d + off, n - off);
			BT_CHECK(k > 0);
			off += k;
		}
	} else {
		BT_CHECK(BIO_write(SSL_get_rbio(s->ssl), d, (int)n) == (int)n);
	}
	APP_END(s);
}

static void
xfer(struct side *from, struct side *to)
{
	uint8_t buf[32768];
	size_t n;

	while ((n = side_pull(from, buf, sizeof(buf))) > 0)
		side_feed(to, buf, n);
}

/* 1 done, 0 waiting for the peer, -1 failed. */
static int
side_hs(struct side *s)
{
	enum ps_tls_status st;
	int r, rc;

	APP_BEGIN(s);
	if (s->pc != NULL) {
		st = ps_tls_conn_handshake(s->pc);
		rc = st == PS_TLS_ST_DONE ? 1 : st == PS_TLS_ST_WANT ? 0 : -1;
	} else {
		ERR_clear_error();
		r = SSL_do_handshake(s->ssl);
		rc = r == 1 ? 1 : SSL_get_error(s->ssl, r) == SSL_ERROR_WANT_READ ? 0 : -1;
	}
	APP_END(s);
	return rc;
}

/* Bytes read (> 0), 0 when nothing yet, -2 after close_notify, -1 failed. */
static long
side_read(struct side *s, uint8_t *buf, size_t cap)
{
	enum ps_tls_status st;
	size_t n = 0;
	long rc;
	int e;

	APP_BEGIN(s);
	if (s->pc != NULL) {
		st = ps_tls_conn_read_plain(s->pc, buf, cap, &n);
		rc = n > 0 ? (long)n : st == PS_TLS_ST_WANT ? 0 : st == PS_TLS_ST_CLOSED ? -2 : -1;
	} else {
		ERR_clear_error();
		if (SSL_read_ex(s->ssl, buf, cap, &n) == 1) {
			rc = (long)n;
		} else {
			e = SSL_get_error(s->ssl, 0);
			rc = e == SSL_ERROR_WANT_READ ? 0 : e == SSL_ERROR_ZERO_RETURN ? -2 : -1;
		}
	}
	APP_END(s);
	return rc;
}

static void
side_write(struct side *s, const uint8_t *d, size_t len)
{
	size_t n = 0;
	bool ok;

	APP_BEGIN(s);
	if (s->pc != NULL) {
		ok = ps_tls_conn_write_plain(s->pc, d, len, &n) == PS_TLS_ST_DONE && n == len;
	} else {
		ERR_clear_error();
		ok = SSL_write_ex(s->ssl, d, len, &n) == 1 && n == len;
	}
	APP_END(s);
	BT_CHECK(ok);
}

static void
side_close(struct side *s)
{
	APP_BEGIN(s);
	if (s->pc != NULL) {
		(void)ps_tls_conn_shutdown(s->pc);
	} else {
		ERR_clear_error();
		(void)SSL_shutdown(s->ssl);
	}
	APP_END(s);
}

static void
side_free(struct side *s)
{
	APP_BEGIN(s);
	ps_tls_conn_free(s->pc);
	SSL_free(s->ssl);
	APP_END(s);
	s->pc = NULL;
	s->ssl = NULL;
}

static const char *
side_why(const struct side *s)
{
	return s->pc != NULL ? ps_tls_conn_reason(s->pc) : "see the OpenSSL errors";
}

/* Drive both ends of a pair until both handshakes are complete. */
static void
handshake(struct side *c, struct side *s)
{
	int i, rc, rs = 0;

	for (i = 0; i < 16; i++) {
		rc = side_hs(c);
		xfer(c, s);
		if (rc == 1 && rs == 1)
			return;
		rs = side_hs(s);
		xfer(s, c);
		if (rc < 0 || rs < 0)
			bt_die("handshake failed: %s / %s", side_why(c), side_why(s));
		if (rc == 1 && rs == 1)
			return;
	}
	bt_die("handshake did not complete");
}

/* Read exactly want bytes of plaintext (what the peer sent in one go). */
static size_t
read_n(struct side *s, uint8_t *buf, size_t cap, size_t want)
{
	size_t got = 0;
	long r;

	while (got < want) {
		r = side_read(s, buf + got, cap - got);
		if (r <= 0)
			bt_die("read %zu of %zu bytes (%ld): %s", got, want, r, side_why(s));
		got += (size_t)r;
	}
	return got;
}

static void
read_close(struct side *s)
{
	uint8_t b[64];

	if (side_read(s, b, sizeof(b)) != -2)
		bt_die("close_notify expected: %s", side_why(s));
}

struct ceil {
	bool glue;
	int version;
	bool resume;
	SSL_SESSION *cli_sess;		/* the client's session, to resume */
	SSL_SESSION *up_sess;		/* pure: the appliance's upstream session */
	uint8_t *up_der;		/* glue: the same, serialized as the stage keeps it */
	size_t up_der_len;
};

/* The four ends of one interception in memory: C - AS | AC - S. */
struct quad {
	struct side c, as, ac, s;
};

static void
quad_open(struct ceil *k, struct quad *q)
{
	memset(q, 0, sizeof(*q));
	q->as.app = q->ac.app = true;
	q->c.ssl = bt_peer_client(k->version, k->resume ? k->cli_sess : NULL);
	q->s.ssl = bt_peer_server(k->version);
	{
		APP_BEGIN(&q->as);
		if (k->glue) {
			BT_CHECK(ps_tls_conn_new(glue_as, NULL, NULL, 0, &q->as.pc) == 0);
			BT_CHECK(ps_tls_conn_new(glue_ac, SNI, NULL, 0, &q->ac.pc) == 0);
			if (k->resume)
				BT_CHECK(ps_tls_conn_set_session(q->ac.pc, k->up_der,
							      k->up_der_len) == 0);
		} else {
			q->as.ssl = mem_ssl(pure_as);
			SSL_set_accept_state(q->as.ssl);
			q->ac.ssl = mem_ssl(pure_ac);
			SSL_set_connect_state(q->ac.ssl);
			SSL_set_hostflags(q->ac.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			BT_CHECK(SSL_set_tlsext_host_name(q->ac.ssl, SNI) == 1);
			BT_CHECK(SSL_set1_host(q->ac.ssl, SNI) == 1);
			if (k->resume)
				BT_CHECK(SSL_set_session(q->ac.ssl, k->up_sess) == 1);
		}
		APP_END(&q->as);
	}
}

/* Hello held, upstream leg first (verified), then the client's leg. */
static void
quad_handshake(struct quad *q)
{
	long vr;

	(void)side_hs(&q->c);
	handshake(&q->ac, &q->s);
	{
		APP_BEGIN(&q->ac);
		vr = q->ac.pc != NULL ? ps_tls_conn_verify_result(q->ac.pc) :
		     SSL_get_verify_result(q->ac.ssl);
		APP_END(&q->ac);
	}
	if (vr != X509_V_OK)
		bt_die("upstream chain: %s", X509_verify_cert_error_string(vr));
	xfer(&q->c, &q->as);
	handshake(&q->c, &q->as);
}

/* The request to the server and the response back, through both legs. */
static void
quad_exchange(struct quad *q)
{
	uint8_t buf[4096];
	size_t n;

	side_write(&q->c, bt_req, BT_REQ_LEN);
	xfer(&q->c, &q->as);
	n = read_n(&q->as, buf, sizeof(buf), BT_REQ_LEN);
	side_write(&q->ac, buf, n);
	xfer(&q->ac, &q->s);
	(void)read_n(&q->s, buf, sizeof(buf), BT_REQ_LEN);
	side_write(&q->s, bt_rsp, BT_RSP_LEN);
	xfer(&q->s, &q->ac);
	n = read_n(&q->ac, buf, sizeof(buf), BT_RSP_LEN);
	side_write(&q->as, buf, n);
	xfer(&q->as, &q->c);
	(void)read_n(&q->c, buf, sizeof(buf), BT_RSP_LEN);
}

/* close_notify from the client, mirrored; the server's back, mirrored. */
static void
quad_close(struct quad *q)
{
	side_close(&q->c);
	xfer(&q->c, &q->as);
	read_close(&q->as);
	side_close(&q->ac);
	xfer(&q->ac, &q->s);
	read_close(&q->s);
	side_close(&q->s);
	xfer(&q->s, &q->ac);
	read_close(&q->ac);
	side_close(&q->as);
	xfer(&q->as, &q->c);
	read_close(&q->c);
}

static void
quad_free(struct quad *q)
{
	side_free(&q->c);
	side_free(&q->as);
	side_free(&q->ac);
	side_free(&q->s);
}

/* One interception; keep: save both legs' sessions for resumption. */
static void
ceil_one(struct ceil *k, bool keep)
{
	struct quad q;

	quad_open(k, &q);
	quad_handshake(&q);
	quad_exchange(&q);
	quad_close(&q);
	if (k->resume && (!SSL_session_reused(q.c.ssl) ||
			  !(q.ac.pc != NULL ? ps_tls_conn_session_reused(q.ac.pc) :
			    SSL_session_reused(q.ac.ssl))))
		bt_die("(a): a leg was not resumed");
	if (keep) {
		k->cli_sess = SSL_get1_session(q.c.ssl);
		BT_CHECK(k->cli_sess != NULL);
		if (q.ac.pc != NULL) {
			BT_CHECK(ps_tls_conn_get_session(q.ac.pc, &k->up_der, &k->up_der_len) == 0);
		} else {
			k->up_sess = SSL_get1_session(q.ac.ssl);
			BT_CHECK(k->up_sess != NULL);
		}
	}
	quad_free(&q);
}

/* See bench_tls.h. */
struct bt_rate
bt_rate_of(const struct bt_meas *m)
{
	struct bt_rate r;

	r.whole = m->n / m->cpu;
	/* The appliance's share of the wall time, applied to the CPU time. */
	r.app = m->n / (m->cpu * m->app / m->wall);
	return r;
}

/* (a), one kind of interception: its state between slices. */
static void
ceil_start(struct ceil *k, bool glue, int version, bool resume)
{
	int i;

	memset(k, 0, sizeof(*k));
	k->glue = glue;
	k->version = version;
	if (resume) {
		ceil_one(k, true);
		k->resume = true;
	}
	for (i = 0; i < 3; i++)	/* warm up */
		ceil_one(k, false);
}

static void
ceil_slice(struct ceil *k, double secs, struct bt_meas *m)
{
	struct bt_meas_mark mk;

	bt_meas_start(&mk);
	do {
		ceil_one(k, false);
		m->n++;
	} while (bt_cpu() - mk.cpu < secs);
	bt_meas_stop(m, &mk);
}

static void
ceil_end(struct ceil *k)
{
	SSL_SESSION_free(k->cli_sess);
	SSL_SESSION_free(k->up_sess);
	free(k->up_der);
}

/* (a) bulk: one interception established, then plaintext client -> server, no TCP. */
static void
ceil_bulk_start(struct ceil *k, struct quad *q, bool glue)
{
	memset(k, 0, sizeof(*k));
	k->glue = glue;
	k->version = TLS1_3_VERSION;
	quad_open(k, q);
	quad_handshake(q);
	quad_exchange(q);
}

/* Move bytes; m->n counts bits. */
static void
ceil_bulk_slice(struct quad *q, uint64_t bytes, struct bt_meas *m)
{
	static uint8_t chunk[BT_CHUNK], buf[BT_CHUNK + 256];
	struct bt_meas_mark mk;
	uint64_t moved = 0;
	long n;

	bt_meas_start(&mk);
	while (moved < bytes) {
		side_write(&q->c, chunk, sizeof(chunk));
		xfer(&q->c, &q->as);
		while ((n = side_read(&q->as, buf, sizeof(buf))) > 0) {
			side_write(&q->ac, buf, (size_t)n);
			xfer(&q->ac, &q->s);
			while ((n = side_read(&q->s, buf, sizeof(buf))) > 0)
				moved += (uint64_t)n;
			BT_CHECK(n == 0);
		}
		BT_CHECK(n == 0);
	}
	bt_meas_stop(m, &mk);
	m->n += (double)moved * 8;
}

/* ------------------------------------------------------------------ */

static void
row(const char *what, const struct bt_meas *m, const char *unit, const struct bt_rate *base)
{
	struct bt_rate r = bt_rate_of(m);
	double scale = strcmp(unit, "Gbit/s") == 0 ? 1e-9 : 1.0;
	int prec = scale < 1.0 ? 2 : 0;

	printf("%-48s %12.*f %12.*f  %-8s %5.0f %%\n", what, prec, r.whole * scale, prec,
	       r.app * scale, unit, 100.0 * r.app / base->app);
}

/*
 * Every comparison runs its members in turns (ROUNDS slices each), so
 * that what else the machine does meanwhile weighs on all of them alike.
 */
#define ROUNDS	8

int
main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	double secs = quick ? 0.3 : 2.0, slice = secs / ROUNDS;
	uint64_t bulk = quick ? (32ull << 20) : (256ull << 20);
	unsigned int nmem = quick ? 200 : 2000, i;
	struct bt_meas a_pure = {0}, a_glue = {0}, a_pure12r = {0}, a_glue12r = {0};
	struct bt_meas a_pure13r = {0}, a_glue13r = {0}, a_pbulk = {0}, a_gbulk = {0};
	struct bt_meas b_full = {0}, b_fullup = {0}, b_r12 = {0}, b_r13 = {0}, b_bulk = {0};
	struct bt_rate ra_pure, ra_pure12r, ra_pure13r, ra_pbulk;
	struct bt_stage_run *s1, *s2;
	struct ceil k1, k2;
	struct quad q1, q2;
	struct bt_world *w;
	struct bt_mem m;

	if (argc == 3 && strcmp(argv[1], "--resumed12") == 0 && atof(argv[2]) > 0) {
		/* One row alone, long enough for a profiler. */
		setup();
		w = bt_world_new();
		slice = atof(argv[2]) / ROUNDS;
		ceil_start(&k1, false, TLS1_2_VERSION, true);
		s1 = bt_stage_start(w, TLS1_2_VERSION, BT_RESUMED);
		for (i = 0; i < ROUNDS; i++) {
			ceil_slice(&k1, slice, &a_pure12r);
			bt_stage_slice(s1, slice, &b_r12);
		}
		ceil_end(&k1);
		bt_stage_end(s1);
		ra_pure12r = bt_rate_of(&a_pure12r);
		row("(a) OpenSSL, pure: resumed TLS 1.2 (IDs)", &a_pure12r, "icpt/s", &ra_pure12r);
		row("(b) stage: resumed TLS 1.2 (IDs), both legs", &b_r12, "icpt/s", &ra_pure12r);
		bt_world_free(w);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--bulk") == 0 && atoi(argv[2]) > 0) {
		/* Bulk alone, MB through each, for a profiler. */
		setup();
		w = bt_world_new();
		bulk = (uint64_t)atoi(argv[2]) << 20;
		ceil_bulk_start(&k1, &q1, false);
		s1 = bt_bulk_start(w);
		for (i = 0; i < ROUNDS; i++) {
			ceil_bulk_slice(&q1, bulk / ROUNDS, &a_pbulk);
			bt_bulk_slice(s1, bulk / ROUNDS, &b_bulk);
		}
		quad_free(&q1);
		bt_bulk_end(s1);
		ra_pbulk = bt_rate_of(&a_pbulk);
		row("(a) OpenSSL, pure: bulk (no TCP)", &a_pbulk, "Gbit/s", &ra_pbulk);
		row("(b) stage: bulk client->server, TLS 1.3", &b_bulk, "Gbit/s", &ra_pbulk);
		bt_world_free(w);
		return 0;
	}
	if (argc > 2 || (argc == 2 && !quick)) {
		fprintf(stderr, "usage: bench_tls [--quick | --resumed12 SECONDS | --bulk MB]\n");
		return 2;
	}
	setup();
	w = bt_world_new();

	/* Full TLS 1.3: (a) pure, (a) glue, (b) both legs full, (b) upstream resumed. */
	ceil_start(&k1, false, TLS1_3_VERSION, false);
	ceil_start(&k2, true, TLS1_3_VERSION, false);
	s1 = bt_stage_start(w, TLS1_3_VERSION, BT_FULL);
	s2 = bt_stage_start(w, TLS1_3_VERSION, BT_FULL_UP_RESUMED);
	for (i = 0; i < ROUNDS; i++) {
		ceil_slice(&k1, slice, &a_pure);
		ceil_slice(&k2, slice, &a_glue);
		bt_stage_slice(s1, slice, &b_full);
		bt_stage_slice(s2, slice, &b_fullup);
	}
	ceil_end(&k1);
	ceil_end(&k2);
	bt_stage_end(s1);
	bt_stage_end(s2);

	/* Resumed TLS 1.2 (session IDs), then TLS 1.3 (tickets). */
	ceil_start(&k1, false, TLS1_2_VERSION, true);
	ceil_start(&k2, true, TLS1_2_VERSION, true);
	s1 = bt_stage_start(w, TLS1_2_VERSION, BT_RESUMED);
	for (i = 0; i < ROUNDS; i++) {
		ceil_slice(&k1, slice, &a_pure12r);
		ceil_slice(&k2, slice, &a_glue12r);
		bt_stage_slice(s1, slice, &b_r12);
	}
	ceil_end(&k1);
	ceil_end(&k2);
	bt_stage_end(s1);
	ceil_start(&k1, false, TLS1_3_VERSION, true);
	ceil_start(&k2, true, TLS1_3_VERSION, true);
	s1 = bt_stage_start(w, TLS1_3_VERSION, BT_RESUMED);
	for (i = 0; i < ROUNDS; i++) {
		ceil_slice(&k1, slice, &a_pure13r);
		ceil_slice(&k2, slice, &a_glue13r);
		bt_stage_slice(s1, slice, &b_r13);
	}
	ceil_end(&k1);
	ceil_end(&k2);
	bt_stage_end(s1);

	/* Bulk, TLS 1.3. */
	ceil_bulk_start(&k1, &q1, false);
	ceil_bulk_start(&k2, &q2, true);
	s1 = bt_bulk_start(w);
	for (i = 0; i < ROUNDS; i++) {
		ceil_bulk_slice(&q1, bulk / ROUNDS, &a_pbulk);
		ceil_bulk_slice(&q2, bulk / ROUNDS, &a_gbulk);
		bt_bulk_slice(s1, bulk / ROUNDS, &b_bulk);
	}
	quad_free(&q1);
	quad_free(&q2);
	bt_bulk_end(s1);

	m = bt_run_memory(w, nmem);

	ra_pure = bt_rate_of(&a_pure);
	ra_pure12r = bt_rate_of(&a_pure12r);
	ra_pure13r = bt_rate_of(&a_pure13r);
	ra_pbulk = bt_rate_of(&a_pbulk);
	printf("TLS interception in memory, one core, %s, %.1f CPU-s per row in %d turns; "
	       "per CPU-second\n", OpenSSL_version(OPENSSL_VERSION), secs, ROUNDS);
	printf("whole loop: client and server peers included; appliance: its calls only\n");
	printf("%-48s %12s %12s  %-8s %s\n", "", "whole loop", "appliance", "", "vs (a) pure");
	row("(a) OpenSSL, pure: full TLS 1.3", &a_pure, "icpt/s", &ra_pure);
	row("(a) ps_tls_conn glue: full TLS 1.3", &a_glue, "icpt/s", &ra_pure);
	row("(b) stage: full TLS 1.3, both legs", &b_full, "icpt/s", &ra_pure);
	row("(b) stage: full client leg, upstream resumed", &b_fullup, "icpt/s", &ra_pure);
	row("(a) OpenSSL, pure: resumed TLS 1.2 (IDs)", &a_pure12r, "icpt/s", &ra_pure12r);
	row("(a) ps_tls_conn glue: resumed TLS 1.2", &a_glue12r, "icpt/s", &ra_pure12r);
	row("(b) stage: resumed TLS 1.2 (IDs), both legs", &b_r12, "icpt/s", &ra_pure12r);
	row("(a) OpenSSL, pure: resumed TLS 1.3 (tickets)", &a_pure13r, "icpt/s", &ra_pure13r);
	row("(a) ps_tls_conn glue: resumed TLS 1.3", &a_glue13r, "icpt/s", &ra_pure13r);
	row("(b) stage: resumed TLS 1.3 (tickets), both legs", &b_r13, "icpt/s", &ra_pure13r);
	row("(a) OpenSSL, pure: bulk (no TCP)", &a_pbulk, "Gbit/s", &ra_pbulk);
	row("(a) ps_tls_conn glue: bulk (no TCP)", &a_gbulk, "Gbit/s", &ra_pbulk);
	row("(b) stage: bulk client->server, TLS 1.3", &b_bulk, "Gbit/s", &ra_pbulk);
	printf("(c) idle intercepted session (TLS 1.3, N=%u): %.0f bytes malloc'd: upstream leg %.0f, "
	       "client leg %.0f, proxy endpoints %.0f, flow structs %.0f\n", m.n, m.appliance,
	       m.up_leg, m.cli_leg, m.proxy, m.structs);
	printf("    (not counted: shared caches grown %.0f bytes/session; the peers' ends %.0f "
	       "bytes/session)\n", m.shared, m.peers);

	bt_world_free(w);
	ps_tls_ctx_free(glue_as);
	ps_tls_ctx_free(glue_ac);
	ps_tls_icpt_fini(&bt_icpt);
	SSL_CTX_free(pure_as);
	SSL_CTX_free(pure_ac);
	SSL_CTX_free(peer_cli);
	SSL_CTX_free(peer_srv12);
	SSL_CTX_free(peer_srv13);
	X509_free(forged);
	EVP_PKEY_free(forged_key);
	ps_tls_forge_free(forge);
	ps_tls_ca_free(app_ca);
	X509_free(web_root);
	X509_free(leaf);
	X509_free(app_cert);
	EVP_PKEY_free(web_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(app_key);
	return 0;
}

