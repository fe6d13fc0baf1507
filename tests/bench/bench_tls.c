/* SPDX-License-Identifier: BSD-3-Clause
 * TLS interception benchmark, in memory, one core, no EAL, no network:
 *
 *   bench_tls [--quick]
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
 *     (mallinfo2), the peers' share removed.
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
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
#include "ps_tls_conn.h"
#include "ps_tls_flow.h"
#include "ps_tls_forge.h"

#define DAY		(24L * 3600L)
#define SNI		"server.test"
#define QMAX		8192u		/* frames in flight, a ring */
#define FRAME_MAX	2048u
#define DELAY_US	100u		/* simulated one-way delay of every hop */
#define WIRE_HIWAT	(256u * 1024u)	/* a peer's unsent TLS bytes before it stops writing */
#define RUN_LIMIT_US	(600ull * 1000000ull)
#define CHUNK		16384u

/* The appliance's modern profile, as ps_tls_conn.c sets it (the pure
 * variant of (a) must do the same work). */
#define PROFILE_TLS12	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
			"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
			"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define PROFILE_TLS13	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"		\
			"TLS_CHACHA20_POLY1305_SHA256"
#define PROFILE_GROUPS	"X25519:P-256:P-384"

/* "GET / HTTP/1.1\r\nHost: server.test\r\n\r\n" and a 64-byte answer. */
static const uint8_t req[] = "GET / HTTP/1.1\r\nHost: server.test\r\n\r\n";
static const uint8_t rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n"
			     "abcdefghijklmnopqrstuvwxyz";
#define REQ_LEN		(sizeof(req) - 1)
#define RSP_LEN		(sizeof(rsp) - 1)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_tls: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

#define CHECK(x) do {								\
		if (!(x))							\
			die("%s:%d: %s", __FILE__, __LINE__, #x);		\
	} while (0)

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double
mono(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double
cpu(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* Seconds (monotonic) spent inside the appliance's calls. */
static double app_t;

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
static struct ps_tls_icpt icpt;	/* (b), (c): the data plane's interception context */

static EVP_PKEY *
gen_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	CHECK(k != NULL);
	return k;
}

static void
add_ext(X509 *cert, X509 *issuer, const char *name, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf(NULL, &v3, name, value);
	CHECK(ext != NULL);
	CHECK(X509_add_ext(cert, ext, -1) == 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer (self-signed when NULL); a CA when san is NULL. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	CHECK(x != NULL);
	CHECK(X509_set_version(x, X509_VERSION_3) == 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -DAY) != NULL);
	CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 30 * DAY) != NULL);
	CHECK(X509_set_pubkey(x, key) == 1);
	name = X509_get_subject_name(x);
	CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					 -1, -1, 0) == 1);
	if (issuer == NULL) {
		issuer = x;
		issuer_key = key;
	}
	CHECK(X509_set_issuer_name(x, X509_get_subject_name(issuer)) == 1);
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
	CHECK(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	FILE *f;

	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	CHECK(f != NULL);
	if (cert != NULL)
		CHECK(PEM_write_X509(f, cert) == 1);
	if (key != NULL)
		CHECK(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
	CHECK(fclose(f) == 0);
}

/* The appliance's own profile on a raw SSL_CTX (pure variant of (a)). */
static SSL_CTX *
profile_ctx(const SSL_METHOD *m)
{
	SSL_CTX *c = SSL_CTX_new(m);

	CHECK(c != NULL);
	CHECK(SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1);
	CHECK(SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	CHECK(SSL_CTX_set_cipher_list(c, PROFILE_TLS12) == 1);
	CHECK(SSL_CTX_set_ciphersuites(c, PROFILE_TLS13) == 1);
	CHECK(SSL_CTX_set1_groups_list(c, PROFILE_GROUPS) == 1);
	return c;
}

static SSL_CTX *
peer_server_ctx(bool tls12_ids)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	CHECK(c != NULL);
	CHECK(SSL_CTX_use_certificate(c, leaf) == 1);
	CHECK(SSL_CTX_use_PrivateKey(c, leaf_key) == 1);
	if (tls12_ids) {
		CHECK(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) == 1);
		SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
		CHECK(SSL_CTX_set_session_id_context(c, (const unsigned char *)"srv", 3) == 1);
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

	CHECK(mkdtemp(dir) != NULL);
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	snprintf(web, sizeof(web), "%s/web.pem", dir);
	write_pem(crt, app_cert, NULL);
	write_pem(key, NULL, app_key);
	write_pem(web, web_root, NULL);
	if (ps_tls_ca_load(crt, key, NULL, &app_ca, err, sizeof(err)) < 0)
		die("ps_tls_ca_load: %s", err);
	if (ps_tls_forge_new(app_ca, 4096, &forge, err, sizeof(err)) < 0)
		die("ps_tls_forge_new: %s", err);
	CHECK(ps_tls_forge_get(forge, leaf, PS_TLS_LEAF_EC, &forged, &forged_key) == 0);

	/* (b), (c): the interception context as plainsight-dp builds it
	 * (conf_tls.c defaults: 20,000 sessions for 300 s). */
	memset(&ic, 0, sizeof(ic));
	ic.forge = forge;
	ic.on_verify_fail = PS_TLS_VFAIL_REJECT;
	ic.ca_file = web;
	ic.sess_entries = 20000;
	ic.sess_timeout_s = 300;
	if (ps_tls_icpt_init(&icpt, &ic, err, sizeof(err)) < 0)
		die("ps_tls_icpt_init: %s", err);

	/* (a) glue: the same two contexts, the forged leaf as the default
	 * certificate (no hook), the upstream leg reporting verification. */
	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_SERVER;
	cc.cert = forged;
	cc.chain = ps_tls_forge_chain(forge);
	cc.key = forged_key;
	if (ps_tls_ctx_new(&cc, &glue_as, err, sizeof(err)) < 0)
		die("glue server context: %s", err);
	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_CLIENT;
	cc.ca_certs = &web_root;
	cc.n_ca_certs = 1;
	cc.verify_mode = PS_TLS_VERIFY_REPORT;
	if (ps_tls_ctx_new(&cc, &glue_ac, err, sizeof(err)) < 0)
		die("glue client context: %s", err);
	SSL_CTX_sess_set_cache_size(ps_tls_ctx_ssl_ctx(glue_as), 20000);
	unlink(crt);
	unlink(key);
	unlink(web);
	CHECK(rmdir(dir) == 0);

	/* (a) pure: raw contexts with the same profile, no callbacks. */
	pure_as = profile_ctx(TLS_server_method());
	SSL_CTX_set_options(pure_as, SSL_OP_CIPHER_SERVER_PREFERENCE);
	CHECK(SSL_CTX_set_max_early_data(pure_as, 0) == 1);
	CHECK(SSL_CTX_set_num_tickets(pure_as, 1) == 1);
	CHECK(SSL_CTX_set_session_id_context(pure_as, (const unsigned char *)"plainsight", 10) == 1);
	CHECK(SSL_CTX_use_certificate(pure_as, forged) == 1);
	CHECK(SSL_CTX_use_PrivateKey(pure_as, forged_key) == 1);
	SSL_CTX_sess_set_cache_size(pure_as, 20000);
	pure_ac = profile_ctx(TLS_client_method());
	SSL_CTX_set_session_cache_mode(pure_ac, SSL_SESS_CACHE_OFF);
	CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(pure_ac), web_root) == 1);
	SSL_CTX_set_verify(pure_ac, SSL_VERIFY_PEER, NULL);

	/* The peers: OpenSSL defaults, the client verifying the forged chain. */
	peer_srv13 = peer_server_ctx(false);
	peer_srv12 = peer_server_ctx(true);
	peer_cli = SSL_CTX_new(TLS_client_method());
	CHECK(peer_cli != NULL);
	CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(peer_cli), app_cert) == 1);
	SSL_CTX_set_verify(peer_cli, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(peer_cli, SSL_SESS_CACHE_OFF);
}

static SSL *
mem_ssl(SSL_CTX *ctx)
{
	SSL *s = SSL_new(ctx);
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	CHECK(s != NULL && r != NULL && w != NULL);
	BIO_set_mem_eof_return(r, -1);	/* empty: retry, not EOF */
	BIO_set_mem_eof_return(w, -1);
	SSL_set_bio(s, r, w);
	return s;
}

/* The client peer: verifies the name, offers sess when not NULL. */
static SSL *
peer_client(int version, SSL_SESSION *sess)
{
	SSL *s = mem_ssl(peer_cli);

	SSL_set_connect_state(s);
	CHECK(SSL_set_tlsext_host_name(s, SNI) == 1);
	CHECK(SSL_set1_host(s, SNI) == 1);
	CHECK(SSL_set_max_proto_version(s, version) == 1);
	if (version == TLS1_2_VERSION)
		SSL_set_options(s, SSL_OP_NO_TICKET);	/* resumption by session ID */
	if (sess != NULL)
		CHECK(SSL_set_session(s, sess) == 1);
	return s;
}

static SSL *
peer_server(int version)
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

#define APP_BEGIN(s)	double t0_ = (s)->app ? mono() : 0.0
#define APP_END(s)	do { if ((s)->app) app_t += mono() - t0_; } while (0)

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
			CHECK(k > 0);
			off += k;
		}
	} else {
		CHECK(BIO_write(SSL_get_rbio(s->ssl), d, (int)n) == (int)n);
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
	CHECK(ok);
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
			die("handshake failed: %s / %s", side_why(c), side_why(s));
		if (rc == 1 && rs == 1)
			return;
	}
	die("handshake did not complete");
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
			die("read %zu of %zu bytes (%ld): %s", got, want, r, side_why(s));
		got += (size_t)r;
	}
	return got;
}

static void
read_close(struct side *s)
{
	uint8_t b[64];

	if (side_read(s, b, sizeof(b)) != -2)
		die("close_notify expected: %s", side_why(s));
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
	q->c.ssl = peer_client(k->version, k->resume ? k->cli_sess : NULL);
	q->s.ssl = peer_server(k->version);
	{
		APP_BEGIN(&q->as);
		if (k->glue) {
			CHECK(ps_tls_conn_new(glue_as, NULL, NULL, 0, &q->as.pc) == 0);
			CHECK(ps_tls_conn_new(glue_ac, SNI, NULL, 0, &q->ac.pc) == 0);
			if (k->resume)
				CHECK(ps_tls_conn_set_session(q->ac.pc, k->up_der,
							      k->up_der_len) == 0);
		} else {
			q->as.ssl = mem_ssl(pure_as);
			SSL_set_accept_state(q->as.ssl);
			q->ac.ssl = mem_ssl(pure_ac);
			SSL_set_connect_state(q->ac.ssl);
			SSL_set_hostflags(q->ac.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			CHECK(SSL_set_tlsext_host_name(q->ac.ssl, SNI) == 1);
			CHECK(SSL_set1_host(q->ac.ssl, SNI) == 1);
			if (k->resume)
				CHECK(SSL_set_session(q->ac.ssl, k->up_sess) == 1);
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
		die("upstream chain: %s", X509_verify_cert_error_string(vr));
	xfer(&q->c, &q->as);
	handshake(&q->c, &q->as);
}

/* The request to the server and the response back, through both legs. */
static void
quad_exchange(struct quad *q)
{
	uint8_t buf[4096];
	size_t n;

	side_write(&q->c, req, REQ_LEN);
	xfer(&q->c, &q->as);
	n = read_n(&q->as, buf, sizeof(buf), REQ_LEN);
	side_write(&q->ac, buf, n);
	xfer(&q->ac, &q->s);
	(void)read_n(&q->s, buf, sizeof(buf), REQ_LEN);
	side_write(&q->s, rsp, RSP_LEN);
	xfer(&q->s, &q->ac);
	n = read_n(&q->ac, buf, sizeof(buf), RSP_LEN);
	side_write(&q->as, buf, n);
	xfer(&q->as, &q->c);
	(void)read_n(&q->c, buf, sizeof(buf), RSP_LEN);
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
		die("(a): a leg was not resumed");
	if (keep) {
		k->cli_sess = SSL_get1_session(q.c.ssl);
		CHECK(k->cli_sess != NULL);
		if (q.ac.pc != NULL) {
			CHECK(ps_tls_conn_get_session(q.ac.pc, &k->up_der, &k->up_der_len) == 0);
		} else {
			k->up_sess = SSL_get1_session(q.ac.ssl);
			CHECK(k->up_sess != NULL);
		}
	}
	quad_free(&q);
}

struct rate {
	double whole;		/* per CPU-second, the whole loop */
	double app;		/* per CPU-second of the appliance's share */
	unsigned long n;
};

static struct rate
rate_of(unsigned long n, double cpu_s, double wall_s, double app_s)
{
	struct rate r;
	double share = app_s / wall_s;

	r.n = n;
	r.whole = n / cpu_s;
	r.app = n / (cpu_s * share);
	return r;
}

static struct rate
run_ceil(bool glue, int version, bool resume, double secs)
{
	struct ceil k = { .glue = glue, .version = version };
	double c0, w0;
	unsigned long n = 0;
	struct rate r;
	int i;

	if (resume) {
		ceil_one(&k, true);
		k.resume = true;
	}
	for (i = 0; i < 3; i++)	/* warm up */
		ceil_one(&k, false);
	app_t = 0;
	c0 = cpu();
	w0 = mono();
	do {
		ceil_one(&k, false);
		n++;
	} while (cpu() - c0 < secs);
	r = rate_of(n, cpu() - c0, mono() - w0, app_t);
	SSL_SESSION_free(k.cli_sess);
	SSL_SESSION_free(k.up_sess);
	free(k.up_der);
	return r;
}

/* Bulk plaintext client -> server through the four ends, no TCP. */
static struct rate
run_ceil_bulk(bool glue, uint64_t bytes)
{
	static uint8_t chunk[CHUNK], buf[CHUNK + 256];
	struct ceil k = { .glue = glue, .version = TLS1_3_VERSION };
	uint64_t moved = 0;
	double c0, w0;
	struct quad q;
	struct rate r;
	long n;

	quad_open(&k, &q);
	quad_handshake(&q);
	quad_exchange(&q);
	app_t = 0;
	c0 = cpu();
	w0 = mono();
	while (moved < bytes) {
		side_write(&q.c, chunk, sizeof(chunk));
		xfer(&q.c, &q.as);
		while ((n = side_read(&q.as, buf, sizeof(buf))) > 0) {
			side_write(&q.ac, buf, (size_t)n);
			xfer(&q.ac, &q.s);
			while ((n = side_read(&q.s, buf, sizeof(buf))) > 0)
				moved += (uint64_t)n;
			CHECK(n == 0);
		}
		CHECK(n == 0);
	}
	r = rate_of(1, cpu() - c0, mono() - w0, app_t);
	r.whole *= (double)moved * 8 / 1e9;
	r.app *= (double)moved * 8 / 1e9;
	quad_free(&q);
	return r;
}

/* ------------------------------------------------------------------ */
/* (b) The stage: ps_proxy + ps_tls_flow between two TCP+TLS peers. */

struct buf {
	uint8_t *p;
	size_t len, off, cap;	/* bytes [off, len) are pending */
};

static void
buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n) {
		if (b->off > 0) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->cap - b->len < n) {
			b->cap = (b->len + n) * 2;
			b->p = realloc(b->p, b->cap);
			CHECK(b->p != NULL);
		}
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static size_t
buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

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

struct world {
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
queue(struct world *w, enum dst dst, const uint8_t *frame, uint32_t len)
{
	struct frame *f;

	CHECK(w->qn < QMAX && len <= FRAME_MAX);
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
host_flush(struct world *w, struct peer *h)
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
			CHECK(len > 0);
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
host_push(struct world *w, struct peer *h)
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
	uint8_t b[CHUNK + 512];
	int r;

	while ((r = BIO_read(SSL_get_wbio(h->ssl), b, sizeof(b))) > 0)
		buf_add(&h->wire, b, (size_t)r);
}

/* The TLS application of a peer: handshake, read, its message, close_notify. */
static void
host_tls(struct world *w, struct peer *h)
{
	static const uint8_t chunk[CHUNK];
	uint8_t b[CHUNK];
	const uint8_t *msg = h->is_cli ? req : rsp;
	size_t msg_len = h->is_cli ? REQ_LEN : RSP_LEN, n;
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
	if (h->tx_off < msg_len && (h->is_cli || h->rx_len >= REQ_LEN)) {
		ERR_clear_error();
		CHECK(SSL_write_ex(h->ssl, msg, msg_len, &n) == 1);
		h->tx_off = msg_len;
		ssl_drain(h);
	}
	while (h->is_cli && w->bulk_left > 0 && buf_pending(&h->wire) < WIRE_HIWAT) {
		size_t k = w->bulk_left < CHUNK ? (size_t)w->bulk_left : CHUNK;

		ERR_clear_error();
		CHECK(SSL_write_ex(h->ssl, chunk, k, &n) == 1);
		w->bulk_left -= k;
		ssl_drain(h);
	}
	if ((h->is_cli && h->close_after && h->rx_len >= RSP_LEN) ||
	    (!h->is_cli && (h->got_notify || h->peer_fin))) {
		ERR_clear_error();
		(void)SSL_shutdown(h->ssl);
		h->sent_notify = true;
		ssl_drain(h);
	}
}

static void
host_app(struct world *w, struct peer *h)
{
	uint8_t b[CHUNK];

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
		CHECK(BIO_write(SSL_get_rbio(h->ssl), b, (int)got) == (int)got);
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
app_frame_in(struct world *w, struct sess *s, enum ps_proxy_side side, const struct frame *f)
{
	struct ps_pkt p;
	uint32_t iss_cli, iss_srv;
	double t0 = mono();

	/* What the worker does with a frame of an intercepted flow. */
	if (ps_pkt_parse(f->buf, f->len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(f->buf, &p))
		die("bad frame towards the proxy");
	if (side == PS_SIDE_CLI && !s->px_open) {
		s->px = malloc(sizeof(*s->px));
		s->tf = malloc(sizeof(*s->tf));
		CHECK(s->px != NULL && s->tf != NULL);
		iss_cli = ++w->iss;
		iss_srv = ++w->iss;
		CHECK(ps_proxy_open(s->px, &w->cfg, &w->tstats, &p, iss_cli, iss_srv,
				    w->now, &w->io) == 0);
		CHECK(ps_tls_flow_init(s->tf, &icpt, &w->fstats, NULL, s->key,
				       sizeof(s->key)) == 0);
		ps_proxy_set_stage(s->px, &s->tf->stage);
		s->px_open = true;
	} else {
		(void)ps_proxy_input(s->px, side, f->buf, &p, w->now, &w->io);
	}
	app_t += mono() - t0;
}

static void
host_frame_in(struct world *w, struct peer *h, const struct frame *f)
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
		CHECK(ps_tcp_passive_syn(&h->ep, &p, ++w->iss, w->now) == 0);
		CHECK(ps_tcp_accept(&h->ep, w->now, &w->out) == 0);
		h->started = true;
	} else {
		(void)ps_tcp_input(&h->ep, &p, f->buf + p.payload_off, w->now, &w->out);
	}
	host_flush(w, h);
	h->dirty = true;
}

static void
deliver(struct world *w, struct sess *s, const struct frame *f)
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

typedef bool (sess_pred)(const struct world *w, const struct sess *s);

/* Run s until pred holds with nothing in flight, or (pred NULL) until time until. */
static void
run(struct world *w, struct sess *s, sess_pred *pred, uint64_t until)
{
	uint64_t limit = w->now + RUN_LIMIT_US;
	static struct frame fc;

	for (;;) {
		uint64_t next = pred == NULL ? until : UINT64_MAX;

		if (pred != NULL && w->qn == 0 && pred(w, s))
			return;
		if (w->qn > 0)
			next = min_u64(next, w->q[w->qh].at);
		next = min_u64(next, ps_tcp_next_deadline(&s->cli.ep));
		next = min_u64(next, ps_tcp_next_deadline(&s->srv.ep));
		if (s->px_open) {
			double t0 = mono();

			next = min_u64(next, ps_proxy_deadline(s->px));
			app_t += mono() - t0;
		}
		if (next == UINT64_MAX || next > limit)
			die("(b): the flow stalled (stage %s, why \"%s\", proxy flags 0x%x)",
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
			double t0 = mono();

			if (ps_proxy_deadline(s->px) <= w->now)
				ps_proxy_timer(s->px, w->now, &w->io);
			app_t += mono() - t0;
		}
		if (s->cli.dirty)
			host_app(w, &s->cli);
		if (s->srv.dirty)
			host_app(w, &s->srv);
	}
}

static bool
pred_closed(const struct world *w, const struct sess *s)
{
	(void)w;
	return s->px_open && ps_proxy_done(s->px) && s->cli.closed && s->srv.closed;
}

static bool
pred_exchanged(const struct world *w, const struct sess *s)
{
	(void)w;
	return s->cli.rx_len >= RSP_LEN && s->srv.rx_len >= REQ_LEN;
}

static const uint64_t *bulk_target;

static bool
pred_bulk(const struct world *w, const struct sess *s)
{
	(void)w;
	return s->srv.rx_len >= *bulk_target;
}

static void
world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	/* plainsight-dp's endpoints: defaults, 256 KB buffers, MSS of a 1500 MTU. */
	ps_tcp_cfg_defaults(&w->cfg);
	w->cfg.snd_buf = w->cfg.rcv_buf = 256 * 1024;
	while (w->cfg.wscale < 14 && (w->cfg.rcv_buf >> w->cfg.wscale) > 65535)
		w->cfg.wscale++;
	CHECK(ps_tcp_cfg_check(&w->cfg) == 0);
	w->q = calloc(QMAX, sizeof(*w->q));
	w->scratch = malloc(PS_PROXY_SCRATCH);
	CHECK(w->q != NULL && w->scratch != NULL);
	w->io.emit = px_emit;
	w->io.ctx = w;
	w->io.scratch = w->scratch;
	w->io.out = &w->px_out;
	w->now = 1000000;
}

static void
world_fini(struct world *w)
{
	free(w->q);
	free(w->scratch);
}

/*
 * A new session: client 198.18.0.1:port -> server 198.18.0.2:443, key:
 * the upstream identity for the appliance's session cache.
 */
static void
sess_init(struct world *w, struct sess *s, int version, SSL_SESSION *cli_sess,
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
	s->cli.ssl = peer_client(version, cli_sess);
	s->srv.ssl = peer_server(version);
}

static void
sess_connect(struct world *w, struct sess *s)
{
	ps_tcp_out_reset(&w->out);
	CHECK(ps_tcp_connect(&s->cli.ep, ++w->iss, w->now, &w->out) == 0);
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
	double t0 = mono();

	if (s->px_open) {
		ps_tls_flow_free(s->tf);
		ps_proxy_free(s->px);
	}
	free(s->tf);
	free(s->px);
	s->tf = NULL;
	s->px = NULL;
	s->px_open = false;
	app_t += mono() - t0;
}

static void
sess_free(struct sess *s)
{
	sess_free_appliance(s);
	peer_free(&s->cli);
	peer_free(&s->srv);
}

static void
expect_clean(const struct world *w, const struct sess *s)
{
	if (!s->cli.hs_done || s->cli.failed || !s->srv.hs_done || s->srv.failed ||
	    w->bad_frames > 0 || (s->px->flags & PS_PROXY_F_RESET))
		die("(b): interception failed (client %d/%d, server %d/%d, stage \"%s\")",
		    s->cli.hs_done, s->cli.failed, s->srv.hs_done, s->srv.failed, s->tf->why);
}

enum stage_mode {
	FULL,			/* full handshakes on both legs (a new server each time) */
	FULL_UP_RESUMED,	/* the client's full, the upstream leg from the cache */
	RESUMED,		/* both legs resumed */
};

static uint32_t key_serial;

/* One interception, opened, exchanged, closed both ways; returns the client's session when keep. */
static SSL_SESSION *
stage_one(struct world *w, int version, enum stage_mode mode, SSL_SESSION *cli_sess, bool keep)
{
	SSL_SESSION *kept = NULL;
	uint32_t key = mode == FULL ? ++key_serial : 0;
	struct sess s;

	sess_init(w, &s, version, mode == RESUMED ? cli_sess : NULL, key,
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
cnt(const struct world *w, enum ps_tlsf_counter c)
{
	return w->fstats.c[c];
}

static struct rate
run_stage(struct world *w, int version, enum stage_mode mode, double secs)
{
	SSL_SESSION *sess = NULL;
	uint64_t cli0, up0;
	double c0, w0;
	unsigned long n = 0;
	struct rate r;
	int i;

	/* Warm up; the last one leaves both legs' sessions in the caches. */
	for (i = 0; i < 3; i++) {
		SSL_SESSION_free(sess);
		sess = stage_one(w, version, mode == RESUMED ? FULL_UP_RESUMED : mode, NULL, true);
	}
	cli0 = cnt(w, mode == RESUMED ? PS_TLSF_CLI_RESUMED : PS_TLSF_CLI_FULL);
	up0 = cnt(w, mode == FULL ? PS_TLSF_UP_FULL : PS_TLSF_UP_RESUMED);
	app_t = 0;
	c0 = cpu();
	w0 = mono();
	do {
		(void)stage_one(w, version, mode, sess, false);
		n++;
	} while (cpu() - c0 < secs);
	r = rate_of(n, cpu() - c0, mono() - w0, app_t);
	SSL_SESSION_free(sess);
	/* Count only what really happened. */
	if (cnt(w, mode == RESUMED ? PS_TLSF_CLI_RESUMED : PS_TLSF_CLI_FULL) - cli0 != n ||
	    cnt(w, mode == FULL ? PS_TLSF_UP_FULL : PS_TLSF_UP_RESUMED) - up0 != n)
		die("(b): %lu interceptions but counters say client %llu, upstream %llu", n,
		    (unsigned long long)(cnt(w, mode == RESUMED ? PS_TLSF_CLI_RESUMED :
					     PS_TLSF_CLI_FULL) - cli0),
		    (unsigned long long)(cnt(w, mode == FULL ? PS_TLSF_UP_FULL :
					     PS_TLSF_UP_RESUMED) - up0));
	return r;
}

/* Bulk plaintext client -> server through one established intercepted flow. */
static struct rate
run_stage_bulk(struct world *w, uint64_t bytes)
{
	uint64_t target;
	double c0, w0;
	struct sess s;
	struct rate r;

	sess_init(w, &s, TLS1_3_VERSION, NULL, ++key_serial, 9999);
	s.cli.close_after = false;
	sess_connect(w, &s);
	run(w, &s, pred_exchanged, 0);
	expect_clean(w, &s);
	target = s.srv.rx_len + bytes;
	bulk_target = &target;
	w->bulk_left = bytes;
	s.cli.dirty = true;
	app_t = 0;
	c0 = cpu();
	w0 = mono();
	run(w, &s, pred_bulk, 0);
	r = rate_of(1, cpu() - c0, mono() - w0, app_t);
	r.whole *= (double)bytes * 8 / 1e9;
	r.app *= (double)bytes * 8 / 1e9;
	expect_clean(w, &s);
	if (w->fstats.plain_bytes[0] < bytes)
		die("(b) bulk: the stage decrypted less than was sent");
	sess_free(&s);
	return r;
}

/* ------------------------------------------------------------------ */
/* (c) Memory of idle intercepted sessions. */

struct mem {
	double appliance;	/* bytes per idle session: both legs, stage, proxy endpoints */
	double up_leg;		/* of which the upstream leg (SSL, BIOs, session, server chain) */
	double cli_leg;		/* the client leg (SSL, BIOs, session) */
	double proxy;		/* the proxy's two TCP endpoints and what the stage holds */
	double structs;		/* struct ps_proxy + struct ps_tls_flow */
	double peers;		/* the client's and server's ends, for reference */
	double shared;		/* left after the sessions are freed: caches (session, forge) */
	unsigned int n;
};

static size_t
in_use(void)
{
	return mallinfo2().uordblks;
}

static struct mem
run_memory(struct world *w, unsigned int n)
{
	struct sess *ss = calloc(n, sizeof(*ss));
	size_t m0, m1, m2, m_up, m_cli, m_px, m3;
	struct mem r;
	unsigned int i;

	CHECK(ss != NULL);
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
			die("(c): session %u is %s", i, ps_tls_flow_state_name(s->tf->state));
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

/* ------------------------------------------------------------------ */

static void
row(const char *what, const struct rate *r, const char *unit, const struct rate *base)
{
	char ratio[32] = "";

	if (base != NULL)
		snprintf(ratio, sizeof(ratio), "%5.0f %%", 100.0 * r->app / base->app);
	printf("%-48s %12.0f %12.0f  %-8s %s\n", what, r->whole, r->app, unit, ratio);
}

static void
row_gbps(const char *what, const struct rate *r, const struct rate *base)
{
	char ratio[32] = "";

	if (base != NULL)
		snprintf(ratio, sizeof(ratio), "%5.0f %%", 100.0 * r->app / base->app);
	printf("%-48s %12.2f %12.2f  %-8s %s\n", what, r->whole, r->app, "Gbit/s", ratio);
}

int
main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	double secs = quick ? 0.3 : 2.0;
	uint64_t bulk = quick ? (32ull << 20) : (256ull << 20);
	unsigned int nmem = quick ? 200 : 2000;
	struct rate a_pure, a_glue, a_pure12r, a_glue12r, a_pure13r, a_glue13r, a_pbulk, a_gbulk;
	struct rate b_full, b_fullup, b_r12, b_r13, b_bulk;
	struct world w;
	struct mem m;

	if (argc > 2 || (argc == 2 && !quick)) {
		fprintf(stderr, "usage: bench_tls [--quick]\n");
		return 2;
	}
	setup();
	world_init(&w);

	a_pure = run_ceil(false, TLS1_3_VERSION, false, secs);
	a_glue = run_ceil(true, TLS1_3_VERSION, false, secs);
	a_pure12r = run_ceil(false, TLS1_2_VERSION, true, secs);
	a_glue12r = run_ceil(true, TLS1_2_VERSION, true, secs);
	a_pure13r = run_ceil(false, TLS1_3_VERSION, true, secs);
	a_glue13r = run_ceil(true, TLS1_3_VERSION, true, secs);
	a_pbulk = run_ceil_bulk(false, bulk);
	a_gbulk = run_ceil_bulk(true, bulk);

	b_full = run_stage(&w, TLS1_3_VERSION, FULL, secs);
	b_fullup = run_stage(&w, TLS1_3_VERSION, FULL_UP_RESUMED, secs);
	b_r12 = run_stage(&w, TLS1_2_VERSION, RESUMED, secs);
	b_r13 = run_stage(&w, TLS1_3_VERSION, RESUMED, secs);
	b_bulk = run_stage_bulk(&w, bulk);

	m = run_memory(&w, nmem);

	printf("TLS interception in memory, one core, %s (%.1f CPU-s per row); per CPU-second\n",
	       OpenSSL_version(OPENSSL_VERSION), secs);
	printf("whole loop: client and server peers included; appliance: its calls only\n");
	printf("%-48s %12s %12s  %-8s %s\n", "", "whole loop", "appliance", "", "vs (a) pure");
	row("(a) OpenSSL, pure: full TLS 1.3", &a_pure, "icpt/s", &a_pure);
	row("(a) ps_tls_conn glue: full TLS 1.3", &a_glue, "icpt/s", &a_pure);
	row("(a) OpenSSL, pure: resumed TLS 1.2 (IDs)", &a_pure12r, "icpt/s", &a_pure12r);
	row("(a) ps_tls_conn glue: resumed TLS 1.2", &a_glue12r, "icpt/s", &a_pure12r);
	row("(a) OpenSSL, pure: resumed TLS 1.3 (tickets)", &a_pure13r, "icpt/s", &a_pure13r);
	row("(a) ps_tls_conn glue: resumed TLS 1.3", &a_glue13r, "icpt/s", &a_pure13r);
	row_gbps("(a) OpenSSL, pure: bulk (no TCP)", &a_pbulk, &a_pbulk);
	row_gbps("(a) ps_tls_conn glue: bulk (no TCP)", &a_gbulk, &a_pbulk);
	row("(b) stage: full TLS 1.3, both legs", &b_full, "icpt/s", &a_pure);
	row("(b) stage: full client leg, upstream resumed", &b_fullup, "icpt/s", NULL);
	row("(b) stage: resumed TLS 1.2 (IDs), both legs", &b_r12, "icpt/s", &a_pure12r);
	row("(b) stage: resumed TLS 1.3 (tickets), both legs", &b_r13, "icpt/s", &a_pure13r);
	row_gbps("(b) stage: bulk client->server, TLS 1.3", &b_bulk, &a_pbulk);
	printf("(c) idle intercepted session (TLS 1.3, N=%u): %.0f bytes malloc'd: upstream leg %.0f, "
	       "client leg %.0f, proxy endpoints %.0f, flow structs %.0f\n", m.n, m.appliance,
	       m.up_leg, m.cli_leg, m.proxy, m.structs);
	printf("    (not counted: shared caches grown %.0f bytes/session; the peers' ends %.0f "
	       "bytes/session)\n", m.shared, m.peers);

	world_fini(&w);
	ps_tls_ctx_free(glue_as);
	ps_tls_ctx_free(glue_ac);
	ps_tls_icpt_fini(&icpt);
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
