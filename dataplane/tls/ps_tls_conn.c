/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight TLS leg: OpenSSL over memory BIOs. See ps_tls_conn.h and
 * docs/tls-conn.md.
 *
 * Every SSL_* I/O call is preceded by err_clear() so that a failure
 * reason comes from this call only, and is followed by a classification
 * through SSL_get_error() before anything else touches the error queue.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ps_tls_conn.h"

/*
 * Empty this thread's OpenSSL error queue. ERR_clear_error() walks all of
 * the queue's slots even when it is empty, which on a bulk transfer (two
 * calls per record) costs more than the check.
 */
static inline void
err_clear(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/*
 * Modern profile: forward-secret (ECDHE) AEAD suites only. TLS 1.3 suites
 * are all AEAD and forward-secret with (EC)DHE key exchange.
 */
#define PS_TLS12_CIPHERS						\
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define PS_TLS13_SUITES							\
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define PS_TLS_GROUPS	"X25519:P-256:P-384"
/* Signature schemes: no SHA-1, no SHA-224, no PKCS#1 v1.5 below SHA-256. */
#define PS_TLS_SIGALGS							\
	"ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:ed448:"		\
	"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"	\
	"rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"	\
	"RSA+SHA256:RSA+SHA384:RSA+SHA512"

/*
 * A memory BIO keeps the largest size it ever held. Once drained, one
 * grown past this is replaced by a fresh one, so that an idle session
 * after a bulk transfer holds no large buffers.
 */
#define PS_TLS_BIO_KEEP	(16384u + 2048u)

/* Session ID context of the client leg's sessions (RFC 5246 section 7.4.1.2). */
static const unsigned char ps_tls_sid_ctx[] = "plainsight";

struct ps_tls_ctx {
	SSL_CTX *ssl_ctx;
	enum ps_tls_role role;
	enum ps_tls_verify_mode verify_mode;
	ps_tls_cert_select_fn *cert_select;
	void *cert_select_arg;
};

struct ps_tls_conn {
	struct ps_tls_ctx *ctx;
	SSL *ssl;
	BIO *rbio;		/* wire bytes from the peer, owned by ssl */
	BIO *wbio;		/* wire bytes for the peer, owned by ssl */
	void *user;
	uint8_t *alpn;		/* server role: accepted list, wire format */
	size_t alpn_len;
	long verify_err;	/* first chain error seen (client role) */
	bool hs_done;		/* the first handshake completed */
	bool reneg;		/* the peer tried to renegotiate */
	bool cert_requested;	/* client role: the server sent a CertificateRequest */
	bool failed;
	char sni[256];		/* client role: sent; server role: seen in the hello */
	char reason[PS_TLS_REASON_MAX];
};

static void
copy_str(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (cap == 0)
		return;
	n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * "what: <first OpenSSL error>" into buf, then clear the queue. The first
 * error is the root cause; the later ones are the call chain above it.
 */
static void
err_reason(char *buf, size_t cap, const char *what)
{
	char e[200];
	unsigned long code;

	code = ERR_get_error();
	if (code != 0) {
		ERR_error_string_n(code, e, sizeof(e));
		snprintf(buf, cap, "%s: %s", what, e);
	} else {
		snprintf(buf, cap, "%s", what);
	}
	err_clear();
}

static void
ctx_err(char *err, size_t err_len, const char *what)
{
	if (err != NULL && err_len > 0)
		err_reason(err, err_len, what);
	else
		err_clear();
}

/* A ProtocolNameList body: non-empty names, lengths adding up exactly. */
static bool
alpn_valid(const uint8_t *p, size_t len)
{
	size_t off = 0;

	if (len == 0 || len > 65535)
		return false;
	while (off < len) {
		if (p[off] == 0 || p[off] > len - off - 1)
			return false;
		off += 1u + p[off];
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Callbacks. Each finds its connection through SSL_get_app_data(). */

static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct ps_tls_conn *conn = SSL_get_app_data(ssl);

	(void)ret;
	/*
	 * Not while a client is still writing early data: OpenSSL reports
	 * "done" there too, before the ServerHello.
	 */
	if (conn != NULL && (where & SSL_CB_HANDSHAKE_DONE) && SSL_is_init_finished(ssl))
		conn->hs_done = true;
}

/*
 * Renegotiation refused, from either side (RFC 5746 does not make it
 * safe for an interceptor that forwards plaintext): once the first
 * handshake is complete, a ClientHello reaching the server or a
 * HelloRequest reaching the client (TLS <= 1.2; TLS 1.3 has neither, and
 * OpenSSL rejects them itself) fails the connection. SSL_OP_NO_RENEGOTIATION
 * alone would only answer with a warning alert and carry on.
 */
static void
msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
       SSL *ssl, void *arg)
{
	struct ps_tls_conn *conn = SSL_get_app_data(ssl);
	const uint8_t *p = buf;

	(void)version;
	(void)arg;
	if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 1 || conn == NULL)
		return;
	if (conn->ctx->role == PS_TLS_ROLE_CLIENT && p[0] == SSL3_MT_CERTIFICATE_REQUEST)
		conn->cert_requested = true;
	if (!conn->hs_done || SSL_version(ssl) >= TLS1_3_VERSION)
		return;
	if ((conn->ctx->role == PS_TLS_ROLE_SERVER && p[0] == SSL3_MT_CLIENT_HELLO) ||
	    (conn->ctx->role == PS_TLS_ROLE_CLIENT && p[0] == SSL3_MT_HELLO_REQUEST))
		conn->reneg = true;
}

static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ps_tls_conn *conn = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

	if (conn == NULL)
		return ok;
	if (!ok && conn->verify_err == X509_V_OK)
		conn->verify_err = X509_STORE_CTX_get_error(xs);
	return conn->ctx->verify_mode == PS_TLS_VERIFY_REPORT ? 1 : ok;
}

/*
 * Copy the host_name of a server_name extension body (RFC 6066 section 3)
 * into conn->sni; leaves it empty when malformed (OpenSSL will say so).
 */
static void
sni_from_ext(struct ps_tls_conn *conn, const unsigned char *p, size_t len)
{
	size_t list, n;

	conn->sni[0] = '\0';
	if (len < 5)
		return;
	list = (size_t)p[0] << 8 | p[1];
	if (list != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name)
		return;
	n = (size_t)p[3] << 8 | p[4];
	if (n == 0 || n > len - 5 || n >= sizeof(conn->sni) || memchr(p + 5, 0, n) != NULL)
		return;
	memcpy(conn->sni, p + 5, n);
	conn->sni[n] = '\0';
}

static int
client_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct ps_tls_ctx *ctx = arg;
	struct ps_tls_conn *conn = SSL_get_app_data(ssl);
	const unsigned char *ext;
	size_t ext_len;
	int rc;

	if (conn == NULL || ctx->cert_select == NULL)
		return SSL_CLIENT_HELLO_SUCCESS;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) == 1)
		sni_from_ext(conn, ext, ext_len);
	else
		conn->sni[0] = '\0';
	rc = ctx->cert_select(conn, ctx->cert_select_arg);
	if (rc == 0)
		return SSL_CLIENT_HELLO_SUCCESS;
	if (rc == -EAGAIN)
		return SSL_CLIENT_HELLO_RETRY;
	*al = SSL_AD_HANDSHAKE_FAILURE;
	return SSL_CLIENT_HELLO_ERROR;
}

static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	       const unsigned char *in, unsigned int inlen, void *arg)
{
	struct ps_tls_conn *conn = SSL_get_app_data(ssl);
	unsigned char *sel;

	(void)arg;
	if (conn == NULL || conn->alpn == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	/* Server preference: the first of our protocols the client offers. */
	if (SSL_select_next_proto(&sel, outlen, conn->alpn, (unsigned int)conn->alpn_len,
				  in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;	/* no_application_protocol */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* ------------------------------------------------------------------ */
/* Contexts. */

static int
key_file_private(const char *path, char *err, size_t err_len)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (err != NULL)
			snprintf(err, err_len, "key file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		if (err != NULL)
			snprintf(err, err_len,
				 "key file %s is accessible by group or others (mode %03o): "
				 "refused, chmod 600 it", path, (unsigned int)(st.st_mode & 0777));
		return -EPERM;
	}
	return 0;
}

static int
ctx_server_cert(SSL_CTX *sc, const struct ps_tls_ctx_cfg *cfg, char *err, size_t err_len)
{
	int rc;

	if (cfg->cert_file != NULL) {
		if (SSL_CTX_use_certificate_chain_file(sc, cfg->cert_file) != 1) {
			ctx_err(err, err_len, "loading the certificate chain");
			return -EINVAL;
		}
	} else if (cfg->cert != NULL) {
		if (SSL_CTX_use_certificate(sc, cfg->cert) != 1 ||
		    (cfg->chain != NULL && SSL_CTX_set1_chain(sc, cfg->chain) != 1)) {
			ctx_err(err, err_len, "using the certificate");
			return -EINVAL;
		}
	}
	if (cfg->key_file != NULL) {
		rc = key_file_private(cfg->key_file, err, err_len);
		if (rc < 0)
			return rc;
		if (SSL_CTX_use_PrivateKey_file(sc, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
			ctx_err(err, err_len, "loading the private key");
			return -EINVAL;
		}
	} else if (cfg->key != NULL) {
		if (SSL_CTX_use_PrivateKey(sc, cfg->key) != 1) {
			ctx_err(err, err_len, "using the private key");
			return -EINVAL;
		}
	}
	if ((cfg->cert_file != NULL || cfg->cert != NULL) !=
	    (cfg->key_file != NULL || cfg->key != NULL)) {
		if (err != NULL)
			snprintf(err, err_len, "a certificate needs its key and vice versa");
		return -EINVAL;
	}
	if (cfg->cert_file == NULL && cfg->cert == NULL && cfg->cert_select == NULL) {
		if (err != NULL)
			snprintf(err, err_len, "server context without a certificate or hook");
		return -EINVAL;
	}
	if ((cfg->cert_file != NULL || cfg->cert != NULL) && SSL_CTX_check_private_key(sc) != 1) {
		ctx_err(err, err_len, "certificate and key do not match");
		return -EINVAL;
	}
	return 0;
}

static int
ctx_client_trust(SSL_CTX *sc, const struct ps_tls_ctx_cfg *cfg, char *err, size_t err_len)
{
	X509_STORE *store = SSL_CTX_get_cert_store(sc);
	size_t i;

	if (cfg->ca_file == NULL && cfg->ca_dir == NULL && cfg->n_ca_certs == 0 &&
	    !cfg->default_verify_paths) {
		if (err != NULL)
			snprintf(err, err_len, "client context without trust anchors");
		return -EINVAL;
	}
	if ((cfg->ca_file != NULL || cfg->ca_dir != NULL) &&
	    SSL_CTX_load_verify_locations(sc, cfg->ca_file, cfg->ca_dir) != 1) {
		ctx_err(err, err_len, "loading the CA file/dir");
		return -EINVAL;
	}
	for (i = 0; i < cfg->n_ca_certs; i++) {
		if (cfg->ca_certs[i] == NULL || X509_STORE_add_cert(store, cfg->ca_certs[i]) != 1) {
			ctx_err(err, err_len, "adding a CA certificate");
			return -EINVAL;
		}
	}
	if (cfg->default_verify_paths && SSL_CTX_set_default_verify_paths(sc) != 1) {
		ctx_err(err, err_len, "loading the system trust store");
		return -EINVAL;
	}
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, verify_cb);
	return 0;
}

int
ps_tls_ctx_new(const struct ps_tls_ctx_cfg *cfg, struct ps_tls_ctx **out,
	       char *err, size_t err_len)
{
	struct ps_tls_ctx *ctx;
	SSL_CTX *sc;
	int minv, maxv, rc = -EINVAL;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (cfg == NULL || out == NULL)
		return -EINVAL;
	minv = cfg->min_version != 0 ? cfg->min_version : TLS1_2_VERSION;
	maxv = cfg->max_version != 0 ? cfg->max_version : TLS1_3_VERSION;
	if (minv < (cfg->legacy && cfg->role == PS_TLS_ROLE_CLIENT ? TLS1_VERSION : TLS1_2_VERSION) ||
	    maxv > TLS1_3_VERSION || minv > maxv) {
		if (err != NULL)
			snprintf(err, err_len, "versions outside TLS %s .. 1.3",
				 cfg->legacy ? "1.0" : "1.2");
		return -EINVAL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	ctx->role = cfg->role;
	ctx->verify_mode = cfg->verify_mode;
	ctx->cert_select = cfg->cert_select;
	ctx->cert_select_arg = cfg->cert_select_arg;
	err_clear();
	sc = SSL_CTX_new(cfg->role == PS_TLS_ROLE_SERVER ? TLS_server_method() :
			 TLS_client_method());
	if (sc == NULL) {
		ctx_err(err, err_len, "SSL_CTX_new");
		rc = -ENOMEM;
		goto err_free;
	}
	ctx->ssl_ctx = sc;
	if (SSL_CTX_set_min_proto_version(sc, minv) != 1 ||
	    SSL_CTX_set_max_proto_version(sc, maxv) != 1) {
		ctx_err(err, err_len, "setting the protocol versions");
		goto err_free;
	}
	SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* No partial writes: a memory BIO takes every record of a write. */
	SSL_CTX_set_mode(sc, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(sc, cfg->cipher_list != NULL ? cfg->cipher_list :
				    PS_TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(sc, cfg->ciphersuites != NULL ? cfg->ciphersuites :
				     PS_TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(sc, cfg->groups != NULL ? cfg->groups : PS_TLS_GROUPS) != 1 ||
	    (!cfg->legacy && SSL_CTX_set1_sigalgs_list(sc, PS_TLS_SIGALGS) != 1)) {
		ctx_err(err, err_len, "setting the cipher profile");
		goto err_free;
	}
	if (cfg->legacy)
		SSL_CTX_set_security_level(sc, 0);
	SSL_CTX_set_info_callback(sc, info_cb);
	SSL_CTX_set_msg_callback(sc, msg_cb);

	if (cfg->role == PS_TLS_ROLE_SERVER) {
		SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE);
		/* No 0-RTT: tickets never allow early data, and early data is never read. */
		if (SSL_CTX_set_max_early_data(sc, 0) != 1 ||
		    SSL_CTX_set_num_tickets(sc, 1) != 1 ||
		    SSL_CTX_set_session_id_context(sc, ps_tls_sid_ctx,
						   sizeof(ps_tls_sid_ctx) - 1) != 1) {
			ctx_err(err, err_len, "setting the server options");
			goto err_free;
		}
		rc = ctx_server_cert(sc, cfg, err, err_len);
		if (rc < 0)
			goto err_free;
		SSL_CTX_set_client_hello_cb(sc, client_hello_cb, ctx);
		SSL_CTX_set_alpn_select_cb(sc, alpn_select_cb, NULL);
	} else {
		/* Sessions are kept by the caller (serialized), not in the context. */
		SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
		rc = ctx_client_trust(sc, cfg, err, err_len);
		if (rc < 0)
			goto err_free;
	}
	*out = ctx;
	return 0;
err_free:
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
	err_clear();
	return rc;
}

void
ps_tls_ctx_free(struct ps_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

SSL_CTX *
ps_tls_ctx_ssl_ctx(struct ps_tls_ctx *ctx)
{
	return ctx->ssl_ctx;
}

/* ------------------------------------------------------------------ */
/* Connections. */

int
ps_tls_conn_set_alpn(struct ps_tls_conn *conn, const uint8_t *alpn, size_t alpn_len)
{
	uint8_t *copy = NULL;

	if (conn->ctx->role != PS_TLS_ROLE_SERVER)
		return -EINVAL;
	if (alpn != NULL && alpn_len > 0) {
		if (!alpn_valid(alpn, alpn_len))
			return -EINVAL;
		copy = malloc(alpn_len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, alpn, alpn_len);
	}
	free(conn->alpn);
	conn->alpn = copy;
	conn->alpn_len = copy != NULL ? alpn_len : 0;
	return 0;
}

int
ps_tls_conn_set_max_version(struct ps_tls_conn *conn, int version)
{
	int rc;

	if (conn->hs_done || SSL_in_before(conn->ssl) != 1 ||
	    (version != TLS1_2_VERSION && version != TLS1_3_VERSION) ||
	    version < SSL_CTX_get_min_proto_version(conn->ctx->ssl_ctx) ||
	    version > SSL_CTX_get_max_proto_version(conn->ctx->ssl_ctx))
		return -EINVAL;
	rc = SSL_set_max_proto_version(conn->ssl, version) == 1 ? 0 : -EINVAL;
	err_clear();
	return rc;
}

int
ps_tls_conn_new(struct ps_tls_ctx *ctx, const char *sni, const uint8_t *alpn,
		size_t alpn_len, struct ps_tls_conn **out)
{
	struct ps_tls_conn *conn;
	size_t sni_len;
	int rc = -ENOMEM;

	if (ctx == NULL || out == NULL)
		return -EINVAL;
	if (alpn != NULL && alpn_len > 0 && !alpn_valid(alpn, alpn_len))
		return -EINVAL;
	if (sni != NULL) {
		sni_len = strlen(sni);
		if (ctx->role != PS_TLS_ROLE_CLIENT || sni_len == 0 || sni_len > 253)
			return -EINVAL;
	}
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return -ENOMEM;
	conn->ctx = ctx;
	conn->verify_err = X509_V_OK;
	err_clear();
	conn->ssl = SSL_new(ctx->ssl_ctx);
	conn->rbio = BIO_new(BIO_s_mem());
	conn->wbio = BIO_new(BIO_s_mem());
	if (conn->ssl == NULL || conn->rbio == NULL || conn->wbio == NULL)
		goto err_free;
	/* An empty read BIO means "retry later", never EOF: the stream goes on. */
	BIO_set_mem_eof_return(conn->rbio, -1);
	SSL_set_bio(conn->ssl, conn->rbio, conn->wbio);	/* ssl owns both now */
	SSL_set_app_data(conn->ssl, conn);
	if (ctx->role == PS_TLS_ROLE_SERVER) {
		SSL_set_accept_state(conn->ssl);
		rc = ps_tls_conn_set_alpn(conn, alpn, alpn_len);
		if (rc < 0)
			goto err_free;
	} else {
		SSL_set_connect_state(conn->ssl);
		rc = -EINVAL;
		if (sni != NULL) {
			copy_str(conn->sni, sizeof(conn->sni), sni);
			SSL_set_hostflags(conn->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set_tlsext_host_name(conn->ssl, sni) != 1 ||
			    SSL_set1_host(conn->ssl, sni) != 1)
				goto err_free;
		}
		/* SSL_set_alpn_protos() returns 0 on success. */
		if (alpn != NULL && alpn_len > 0 &&
		    SSL_set_alpn_protos(conn->ssl, alpn, (unsigned int)alpn_len) != 0)
			goto err_free;
	}
	*out = conn;
	return 0;
err_free:
	if (conn->ssl != NULL) {
		SSL_free(conn->ssl);	/* frees the BIOs once set */
	} else {
		BIO_free(conn->rbio);
		BIO_free(conn->wbio);
	}
	free(conn->alpn);
	free(conn);
	err_clear();
	return rc;
}

void
ps_tls_conn_free(struct ps_tls_conn *conn)
{
	if (conn == NULL)
		return;
	SSL_free(conn->ssl);
	free(conn->alpn);
	free(conn);
}

/*
 * A new empty memory BIO to replace bio with, when bio holds nothing but
 * keeps more than keep bytes of grown memory; NULL otherwise (or without
 * memory: bio stays).
 */
static BIO *
empty_bio_for(BIO *bio, size_t keep)
{
	BUF_MEM *bm;
	BIO *b;

	if (BIO_ctrl_pending(bio) != 0 || BIO_get_mem_ptr(bio, &bm) != 1 || bm == NULL ||
	    bm->max <= keep || (b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	BIO_set_mem_eof_return(b, -1);	/* empty means "retry later", never EOF */
	return b;
}

/* Replace the leg's drained memory BIOs that keep more than keep bytes. */
static void
bio_replace_drained(struct ps_tls_conn *conn, size_t keep)
{
	BIO *b;

	if ((b = empty_bio_for(conn->wbio, keep)) != NULL) {
		SSL_set0_wbio(conn->ssl, b);	/* frees the old one */
		conn->wbio = b;
	}
	if ((b = empty_bio_for(conn->rbio, keep)) != NULL) {
		SSL_set0_rbio(conn->ssl, b);	/* frees the old one */
		conn->rbio = b;
	}
	err_clear();
}

/* Replace drained, oversized memory BIOs (see PS_TLS_BIO_KEEP). */
static void
bio_trim(struct ps_tls_conn *conn)
{
	bio_replace_drained(conn, PS_TLS_BIO_KEEP);
}

/* See ps_tls_conn.h. */
void
ps_tls_conn_release(struct ps_tls_conn *conn)
{
	(void)SSL_free_buffers(conn->ssl);	/* a no-op while a record is partial */
	bio_replace_drained(conn, 0);
}

static enum ps_tls_status
conn_fail(struct ps_tls_conn *conn, const char *what)
{
	size_t n;

	if (!conn->failed) {
		conn->failed = true;
		err_reason(conn->reason, sizeof(conn->reason), what);
		if (conn->verify_err != X509_V_OK) {
			n = strlen(conn->reason);
			snprintf(conn->reason + n, sizeof(conn->reason) - n, " (%s)",
				 X509_verify_cert_error_string(conn->verify_err));
		}
	}
	err_clear();
	return PS_TLS_ST_FAILED;
}

/* Classify the return value of the SSL_* call just made. */
static enum ps_tls_status
conn_status(struct ps_tls_conn *conn, int ret)
{
	int e = SSL_get_error(conn->ssl, ret);

	if (conn->reneg)
		return conn_fail(conn, "peer attempted renegotiation");
	switch (e) {
	case SSL_ERROR_NONE:
		return PS_TLS_ST_DONE;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:	/* not with a memory BIO, but harmless */
		return PS_TLS_ST_WANT;
	case SSL_ERROR_WANT_CLIENT_HELLO_CB:
	case SSL_ERROR_WANT_X509_LOOKUP:
		return PS_TLS_ST_PAUSED;
	case SSL_ERROR_ZERO_RETURN:
		return PS_TLS_ST_CLOSED;
	case SSL_ERROR_SYSCALL:
		return conn_fail(conn, "TLS stream ended");
	default:
		return conn_fail(conn, "TLS failure");
	}
}

size_t
ps_tls_conn_feed(struct ps_tls_conn *conn, const uint8_t *data, size_t len)
{
	size_t pending, n;

	if (conn->failed || len == 0)
		return len;	/* discarded: nothing more will be read */
	pending = BIO_ctrl_pending(conn->rbio);
	if (pending >= PS_TLS_FEED_MAX)
		return 0;
	n = len < PS_TLS_FEED_MAX - pending ? len : PS_TLS_FEED_MAX - pending;
	if (BIO_write(conn->rbio, data, (int)n) != (int)n) {
		conn_fail(conn, "out of memory buffering wire bytes");
		return len;
	}
	return n;
}

size_t
ps_tls_conn_pull_wire(struct ps_tls_conn *conn, uint8_t *buf, size_t cap)
{
	int n;

	if (cap == 0)
		return 0;
	n = BIO_read(conn->wbio, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	bio_trim(conn);
	return n > 0 ? (size_t)n : 0;
}

size_t
ps_tls_conn_wire_pending(const struct ps_tls_conn *conn)
{
	return BIO_ctrl_pending(conn->wbio);
}

enum ps_tls_status
ps_tls_conn_handshake(struct ps_tls_conn *conn)
{
	int ret;

	if (conn->failed)
		return PS_TLS_ST_FAILED;
	if (conn->hs_done)
		return PS_TLS_ST_DONE;
	err_clear();
	ret = SSL_do_handshake(conn->ssl);
	if (ret == 1) {
		conn->hs_done = true;
		return PS_TLS_ST_DONE;
	}
	return conn_status(conn, ret);
}

enum ps_tls_status
ps_tls_conn_read_plain(struct ps_tls_conn *conn, uint8_t *buf, size_t cap, size_t *n)
{
	enum ps_tls_status st;
	size_t got = 0;
	int ret;

	*n = 0;
	if (conn->failed)
		return PS_TLS_ST_FAILED;
	if (cap == 0)
		return PS_TLS_ST_WANT;
	err_clear();
	ret = SSL_read_ex(conn->ssl, buf, cap, &got);
	if (ret == 1 && !conn->reneg) {
		*n = got;
		return PS_TLS_ST_DONE;
	}
	st = conn_status(conn, ret);
	return st == PS_TLS_ST_DONE ? PS_TLS_ST_WANT : st;
}

enum ps_tls_status
ps_tls_conn_write_plain(struct ps_tls_conn *conn, const uint8_t *data, size_t len, size_t *n)
{
	enum ps_tls_status st;
	size_t put = 0;
	int ret;

	*n = 0;
	if (conn->failed)
		return PS_TLS_ST_FAILED;
	if (len == 0)
		return PS_TLS_ST_DONE;
	err_clear();
	ret = SSL_write_ex(conn->ssl, data, len, &put);
	if (ret == 1 && !conn->reneg) {
		*n = put;
		return PS_TLS_ST_DONE;
	}
	st = conn_status(conn, ret);
	/* A peer close_notify does not stop our direction (half-close). */
	return st == PS_TLS_ST_DONE ? PS_TLS_ST_WANT : st;
}

enum ps_tls_status
ps_tls_conn_shutdown(struct ps_tls_conn *conn)
{
	int ret, e;

	if (conn->failed)
		return PS_TLS_ST_FAILED;
	if (!conn->hs_done)
		return PS_TLS_ST_DONE;
	err_clear();
	ret = SSL_shutdown(conn->ssl);
	if (ret == 1)
		return PS_TLS_ST_DONE;
	if (ret == 0)
		return PS_TLS_ST_WANT;
	e = SSL_get_error(conn->ssl, ret);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return PS_TLS_ST_WANT;
	return conn_status(conn, ret);
}

const char *
ps_tls_conn_reason(const struct ps_tls_conn *conn)
{
	return conn->reason;
}

enum ps_tls_role
ps_tls_conn_role(const struct ps_tls_conn *conn)
{
	return conn->ctx->role;
}

bool
ps_tls_conn_handshake_done(const struct ps_tls_conn *conn)
{
	return conn->hs_done;
}

int
ps_tls_conn_version(const struct ps_tls_conn *conn)
{
	return conn->hs_done ? SSL_version(conn->ssl) : 0;
}

const char *
ps_tls_conn_version_name(const struct ps_tls_conn *conn)
{
	return conn->hs_done ? SSL_get_version(conn->ssl) : "";
}

const char *
ps_tls_conn_cipher(const struct ps_tls_conn *conn)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(conn->ssl);

	return conn->hs_done && c != NULL ? SSL_CIPHER_get_name(c) : "";
}

bool
ps_tls_conn_alpn(const struct ps_tls_conn *conn, const uint8_t **proto, size_t *len)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	SSL_get0_alpn_selected(conn->ssl, &p, &n);
	*proto = p;
	*len = n;
	return p != NULL && n > 0;
}

const char *
ps_tls_conn_sni(const struct ps_tls_conn *conn)
{
	const char *s;

	if (conn->ctx->role == PS_TLS_ROLE_SERVER) {
		s = SSL_get_servername(conn->ssl, TLSEXT_NAMETYPE_host_name);
		if (s != NULL)
			return s;
	}
	return conn->sni[0] != '\0' ? conn->sni : NULL;
}

X509 *
ps_tls_conn_peer_cert(const struct ps_tls_conn *conn)
{
	return SSL_get0_peer_certificate(conn->ssl);
}

long
ps_tls_conn_verify_result(const struct ps_tls_conn *conn)
{
	if (conn->verify_err != X509_V_OK)
		return conn->verify_err;
	return SSL_get_verify_result(conn->ssl);
}

const char *
ps_tls_conn_verify_reason(const struct ps_tls_conn *conn)
{
	return X509_verify_cert_error_string(ps_tls_conn_verify_result(conn));
}

bool
ps_tls_conn_session_reused(const struct ps_tls_conn *conn)
{
	return conn->hs_done && SSL_session_reused(conn->ssl) == 1;
}

int
ps_tls_session_i2d(const SSL_SESSION *sess, uint8_t **der, size_t *len)
{
	unsigned char *buf, *p;
	int n;

	n = i2d_SSL_SESSION(sess, NULL);
	if (n <= 0) {
		err_clear();
		return -EINVAL;
	}
	buf = malloc((size_t)n);
	if (buf == NULL)
		return -ENOMEM;
	p = buf;
	if (i2d_SSL_SESSION(sess, &p) != n) {
		free(buf);
		err_clear();
		return -EINVAL;
	}
	*der = buf;
	*len = (size_t)n;
	return 0;
}

int
ps_tls_session_d2i(const uint8_t *der, size_t len, SSL_SESSION **out)
{
	const unsigned char *p = der;
	SSL_SESSION *s;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return -EINVAL;
	s = d2i_SSL_SESSION(NULL, &p, (long)len);
	if (s == NULL) {
		err_clear();
		return -EINVAL;
	}
	*out = s;
	return 0;
}

int
ps_tls_conn_get_session(const struct ps_tls_conn *conn, uint8_t **der, size_t *len)
{
	SSL_SESSION *s;
	int rc;

	if (conn->ctx->role != PS_TLS_ROLE_CLIENT)
		return -EINVAL;
	s = SSL_get1_session(conn->ssl);
	if (s == NULL)
		return -EAGAIN;
	rc = SSL_SESSION_is_resumable(s) == 1 ? ps_tls_session_i2d(s, der, len) : -EAGAIN;
	SSL_SESSION_free(s);
	return rc;
}

int
ps_tls_conn_set_session(struct ps_tls_conn *conn, const uint8_t *der, size_t len)
{
	SSL_SESSION *s;
	int rc;

	if (conn->ctx->role != PS_TLS_ROLE_CLIENT || conn->hs_done)
		return -EINVAL;
	rc = ps_tls_session_d2i(der, len, &s);
	if (rc < 0)
		return rc;
	rc = SSL_set_session(conn->ssl, s) == 1 ? 0 : -EINVAL;
	SSL_SESSION_free(s);
	err_clear();
	return rc;
}

int
ps_tls_conn_get_session_obj(const struct ps_tls_conn *conn, SSL_SESSION **out)
{
	SSL_SESSION *s;

	if (conn->ctx->role != PS_TLS_ROLE_CLIENT)
		return -EINVAL;
	s = SSL_get1_session(conn->ssl);
	if (s == NULL)
		return -EAGAIN;
	if (SSL_SESSION_is_resumable(s) != 1) {
		SSL_SESSION_free(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

int
ps_tls_conn_set_session_obj(struct ps_tls_conn *conn, SSL_SESSION *s)
{
	int rc;

	if (conn->ctx->role != PS_TLS_ROLE_CLIENT || conn->hs_done || s == NULL)
		return -EINVAL;
	rc = SSL_set_session(conn->ssl, s) == 1 ? 0 : -EINVAL;
	err_clear();
	return rc;
}

int
ps_tls_conn_use_cert(struct ps_tls_conn *conn, X509 *cert, STACK_OF(X509) *chain,
		     EVP_PKEY *key)
{
	int rc = 0;

	if (conn->ctx->role != PS_TLS_ROLE_SERVER || cert == NULL || key == NULL)
		return -EINVAL;
	/* SSL_use_PrivateKey() checks key against cert: no second check. */
	if (SSL_use_certificate(conn->ssl, cert) != 1 ||
	    SSL_use_PrivateKey(conn->ssl, key) != 1 ||
	    SSL_set1_chain(conn->ssl, chain) != 1)
		rc = -EINVAL;
	err_clear();
	return rc;
}

SSL *
ps_tls_conn_ssl(struct ps_tls_conn *conn)
{
	return conn->ssl;
}

void
ps_tls_conn_set_user(struct ps_tls_conn *conn, void *user)
{
	conn->user = user;
}

void *
ps_tls_conn_user(const struct ps_tls_conn *conn)
{
	return conn->user;
}

bool
ps_tls_conn_cert_requested(const struct ps_tls_conn *conn)
{
	return conn->cert_requested;
}
