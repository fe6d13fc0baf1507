/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight TLS leg: OpenSSL glue over memory BIOs for one TLS connection,
 * used as a TLS server towards the client and as a TLS client towards the
 * server. Driven by byte streams, never by sockets: the flow feeds the
 * peer's wire bytes in (ps_tls_conn_feed), pulls the bytes to send out
 * (ps_tls_conn_pull_wire), and reads and writes plaintext. These four
 * calls are the seam a custom BIO may replace later.
 *
 * A struct ps_tls_ctx wraps one process-wide SSL_CTX, built once at start
 * (never per connection) and shared read-only by every worker; a struct
 * ps_tls_conn is owned by one flow on one lcore. No DPDK header, no
 * logging: key material never leaves OpenSSL. See docs/tls-conn.md.
 */
#ifndef PS_TLS_CONN_H
#define PS_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Longest reason string kept per connection, NUL included. */
#define PS_TLS_REASON_MAX	256u
/*
 * Wire bytes ps_tls_conn_feed() buffers ahead of OpenSSL: four full
 * records. Beyond this feed takes less than offered (back-pressure); run
 * the handshake or read plaintext to make room.
 */
#define PS_TLS_FEED_MAX		(4u * (16384u + 2048u + 5u))

enum ps_tls_role {
	PS_TLS_ROLE_SERVER,	/* towards the client: we accept */
	PS_TLS_ROLE_CLIENT,	/* towards the server: we connect */
};

/* Client role: what a failed verification of the server chain does. */
enum ps_tls_verify_mode {
	PS_TLS_VERIFY_REQUIRE,	/* abort the handshake (alert to the server) */
	PS_TLS_VERIFY_REPORT,	/* finish it; the caller reads the result and decides */
};

/* Result of every driving call. */
enum ps_tls_status {
	PS_TLS_ST_DONE,		/* handshake complete / bytes moved / shutdown complete */
	PS_TLS_ST_WANT,		/* needs the peer's wire bytes: feed, then call again */
	PS_TLS_ST_PAUSED,	/* server: the certificate hook asked to wait; call again */
	PS_TLS_ST_CLOSED,	/* the peer sent close_notify; no more plaintext */
	PS_TLS_ST_FAILED,	/* fatal and sticky; ps_tls_conn_reason() says why */
};

struct ps_tls_ctx;
struct ps_tls_conn;

/*
 * Server role certificate-selection hook, run from OpenSSL's ClientHello
 * callback: the hello is received but version, suites and ALPN are not
 * chosen yet. ps_tls_conn_sni() already works here. The hook may call
 * ps_tls_conn_use_cert() and ps_tls_conn_set_alpn() (e.g. with what the
 * upstream server selected). Return 0 to go on (no use_cert call: the
 * context's default certificate), -EAGAIN to pause the handshake
 * (ps_tls_conn_handshake() returns PS_TLS_ST_PAUSED and runs the hook
 * again when called again), or another negative errno to fail it. It may
 * run again for the second ClientHello after a HelloRetryRequest, so it
 * must be idempotent.
 */
typedef int (ps_tls_cert_select_fn)(struct ps_tls_conn *conn, void *arg);

/*
 * Configuration of one context. Zero means the default. Every pointer is
 * borrowed for the ps_tls_ctx_new() call only (objects are up-ref'd or
 * copied into the SSL_CTX).
 */
struct ps_tls_ctx_cfg {
	enum ps_tls_role role;
	int min_version;		/* TLS1_2_VERSION by default; below 1.2 refused */
	int max_version;		/* TLS1_3_VERSION by default */
	/*
	 * Profile overrides (OpenSSL cipher / ciphersuites / groups strings),
	 * for legacy servers on a per-rule profile. NULL: modern profile,
	 * forward-secret AEAD suites only.
	 */
	const char *cipher_list;	/* TLS <= 1.2 */
	const char *ciphersuites;	/* TLS 1.3 */
	const char *groups;
	/*
	 * Client role only, an operator's explicit choice for a legacy
	 * server: versions down to TLS 1.0 allowed (min_version), OpenSSL
	 * security level 0 and SHA-1 signatures accepted.
	 */
	bool legacy;

	/* Server role: default certificate, from PEM files or objects. */
	const char *cert_file;		/* PEM: leaf, then its chain */
	const char *key_file;		/* PEM private key; refused with group/other access */
	X509 *cert;			/* alternative to cert_file */
	STACK_OF(X509) *chain;		/* intermediates for cert, may be NULL */
	EVP_PKEY *key;			/* alternative to key_file */
	ps_tls_cert_select_fn *cert_select;	/* NULL: always the default certificate */
	void *cert_select_arg;

	/* Client role: trust for the server chain. At least one source. */
	const char *ca_file;		/* PEM bundle */
	const char *ca_dir;		/* hashed directory (c_rehash) */
	X509 *const *ca_certs;		/* in-memory anchors */
	size_t n_ca_certs;
	bool default_verify_paths;	/* also the system trust store */
	enum ps_tls_verify_mode verify_mode;
};

/*
 * Build a context for cfg->role. Server: TLS 1.2 + 1.3, AEAD
 * forward-secret suites with server preference, no compression, no
 * renegotiation, no 0-RTT (max_early_data 0), one TLS 1.3 ticket per
 * handshake, the certificate and key checked against each other. Client:
 * the same profile, peer verification against the configured anchors.
 * On failure returns a negative errno and, when err is not NULL, writes
 * a reason (never key material) into err[err_len]. Call once at start,
 * from the main thread; the context is then read-only and shared.
 */
int
ps_tls_ctx_new(const struct ps_tls_ctx_cfg *cfg, struct ps_tls_ctx **out,
	       char *err, size_t err_len);

/* Free ctx after every connection made from it is freed. NULL-safe. */
void
ps_tls_ctx_free(struct ps_tls_ctx *ctx);

/* The underlying SSL_CTX (borrowed), for settings not wrapped here. */
SSL_CTX *
ps_tls_ctx_ssl_ctx(struct ps_tls_ctx *ctx);

/*
 * New connection of ctx's role. sni (client role only, NULL for none):
 * sent as server_name and used for the host name check of the server
 * chain (SAN, then CN; no partial wildcards); without it the chain is
 * verified but no name is checked. alpn/alpn_len: a ProtocolNameList
 * body (RFC 7301 section 3.1: length-prefixed names, as
 * struct ps_tls_client_hello.alpn carries it), copied; client role: the
 * list offered, server role: the protocols accepted in preference order
 * (no match with the client's offer: no_application_protocol alert).
 * NULL/0: no ALPN. Returns 0, -EINVAL (bad SNI or ALPN list) or -ENOMEM.
 * Lcore of the flow that will own it.
 */
int
ps_tls_conn_new(struct ps_tls_ctx *ctx, const char *sni, const uint8_t *alpn,
		size_t alpn_len, struct ps_tls_conn **out);

/* Free conn (no alert is sent; call ps_tls_conn_shutdown() first). NULL-safe. */
void
ps_tls_conn_free(struct ps_tls_conn *conn);

/*
 * Hand len wire bytes received from the peer to conn. Returns how many
 * were taken: all of them unless PS_TLS_FEED_MAX bytes already wait
 * (then drive conn and feed the rest). Nothing is processed until the
 * next driving call. Once conn failed, every byte is taken and dropped.
 * Borrows data for the call only. Lcore of the owner of conn, as for
 * every ps_tls_conn_* call.
 */
size_t
ps_tls_conn_feed(struct ps_tls_conn *conn, const uint8_t *data, size_t len);

/*
 * Move up to cap bytes that must be sent to the peer into buf; returns
 * the count (0: nothing pending). Call after every driving call, failed
 * ones included (they may leave an alert to send).
 */
size_t
ps_tls_conn_pull_wire(struct ps_tls_conn *conn, uint8_t *buf, size_t cap);

/* Wire bytes waiting for ps_tls_conn_pull_wire(). */
size_t
ps_tls_conn_wire_pending(const struct ps_tls_conn *conn);

/*
 * Drive the handshake with the bytes fed so far. DONE once complete (and
 * on every later call), WANT when the peer must speak next, PAUSED (server
 * role) while the certificate hook waits, FAILED with a reason: a protocol
 * error, a failed verification in PS_TLS_VERIFY_REQUIRE mode, a peer
 * alert, garbage. Never blocks.
 */
enum ps_tls_status
ps_tls_conn_handshake(struct ps_tls_conn *conn);

/*
 * Decrypt up to cap bytes of the peer's plaintext into buf; *n gets the
 * count. DONE with *n > 0; WANT with *n == 0 (feed more); CLOSED after
 * the peer's close_notify; FAILED. Drives the handshake when it is not
 * complete, and processes post-handshake messages (TLS 1.3 tickets, key
 * updates); a renegotiation attempt by the peer fails the connection.
 * Pull the wire afterwards: reading may produce bytes to send.
 */
enum ps_tls_status
ps_tls_conn_read_plain(struct ps_tls_conn *conn, uint8_t *buf, size_t cap, size_t *n);

/*
 * Encrypt len bytes of plaintext for the peer; *n gets how many were
 * taken (all of them once the handshake is complete: the write BIO grows,
 * the caller applies back-pressure through ps_tls_conn_wire_pending()).
 * DONE, WANT (handshake not complete yet: *n == 0), FAILED.
 */
enum ps_tls_status
ps_tls_conn_write_plain(struct ps_tls_conn *conn, const uint8_t *data, size_t len, size_t *n);

/*
 * Send close_notify (once) and report whether the peer's arrived too:
 * DONE when both have, WANT when only ours has (feed the peer's reply and
 * call again, or just close TCP), FAILED. Before the handshake is
 * complete nothing is sent and DONE is returned.
 */
enum ps_tls_status
ps_tls_conn_shutdown(struct ps_tls_conn *conn);

/*
 * Why conn failed ("" when it has not): the first OpenSSL error of the
 * failing call (ERR_error_string_n), with the certificate verification
 * reason appended when verification failed, or our own reason
 * ("peer attempted renegotiation"). Valid until conn is freed.
 */
const char *
ps_tls_conn_reason(const struct ps_tls_conn *conn);

enum ps_tls_role
ps_tls_conn_role(const struct ps_tls_conn *conn);

bool
ps_tls_conn_handshake_done(const struct ps_tls_conn *conn);

/* Negotiated protocol: TLS1_2_VERSION, TLS1_3_VERSION; 0 before the handshake. */
int
ps_tls_conn_version(const struct ps_tls_conn *conn);

/* "TLSv1.3" etc. and the IANA-less OpenSSL cipher name; static strings, "" before. */
const char *
ps_tls_conn_version_name(const struct ps_tls_conn *conn);
const char *
ps_tls_conn_cipher(const struct ps_tls_conn *conn);

/* Selected ALPN protocol (not NUL-terminated, inside conn); false when none. */
bool
ps_tls_conn_alpn(const struct ps_tls_conn *conn, const uint8_t **proto, size_t *len);

/* Server role: the SNI the client sent (NULL when none). Client role: the SNI we sent. */
const char *
ps_tls_conn_sni(const struct ps_tls_conn *conn);

/* The peer's leaf certificate (borrowed, valid while conn is), NULL when none. */
X509 *
ps_tls_conn_peer_cert(const struct ps_tls_conn *conn);

/*
 * Client role: the verification result of the server chain
 * (X509_V_OK when it verified) and its reason string ("ok" then).
 * The first error seen while building the chain is kept.
 */
long
ps_tls_conn_verify_result(const struct ps_tls_conn *conn);
const char *
ps_tls_conn_verify_reason(const struct ps_tls_conn *conn);

/*
 * Client role: the server asked for a client certificate (TLS 1.2 or 1.3
 * CertificateRequest, during or after the handshake). The appliance has
 * none to give: such a server cannot be intercepted.
 */
bool
ps_tls_conn_cert_requested(const struct ps_tls_conn *conn);

/* True when the handshake resumed a session. */
bool
ps_tls_conn_session_reused(const struct ps_tls_conn *conn);

/*
 * Client role, resumption. ps_tls_conn_get_session() serializes the
 * connection's current session into a malloc'd buffer (*der, *len; free
 * with free()) for a cache; -EAGAIN when there is no resumable session
 * yet (TLS 1.3 tickets arrive after the handshake: read plaintext first).
 * ps_tls_conn_set_session() offers a serialized session in the next
 * handshake; call before the first driving call. -EINVAL on bad bytes.
 */
int
ps_tls_conn_get_session(const struct ps_tls_conn *conn, uint8_t **der, size_t *len);
int
ps_tls_conn_set_session(struct ps_tls_conn *conn, const uint8_t *der, size_t len);

/*
 * The same with session objects, for a cache shared by threads of one
 * process (no encoding: decoding a session costs more than a resumed
 * handshake saves). get: a new reference in *out, -EAGAIN when none is
 * resumable yet. set: s borrowed (OpenSSL takes its own reference); a
 * session may be offered by several connections at once.
 */
int
ps_tls_conn_get_session_obj(const struct ps_tls_conn *conn, SSL_SESSION **out);
int
ps_tls_conn_set_session_obj(struct ps_tls_conn *conn, SSL_SESSION *s);

/*
 * i2d/d2i for a cache that stores bytes (no crypto, safe under a lock).
 * ps_tls_session_i2d() mallocs *der; ps_tls_session_d2i() returns a new
 * reference in *out. 0 or a negative errno.
 */
int
ps_tls_session_i2d(const SSL_SESSION *sess, uint8_t **der, size_t *len);
int
ps_tls_session_d2i(const uint8_t *der, size_t len, SSL_SESSION **out);

/*
 * Server role, from the certificate hook only: present cert (with the
 * intermediates in chain, may be NULL) and key for this connection.
 * Borrowed; OpenSSL takes its own references. 0, -EINVAL (mismatch).
 */
int
ps_tls_conn_use_cert(struct ps_tls_conn *conn, X509 *cert, STACK_OF(X509) *chain,
		     EVP_PKEY *key);

/*
 * Before the handshake starts: lower the highest protocol version this
 * leg negotiates to version (TLS1_2_VERSION or TLS1_3_VERSION; never
 * below the context's lowest). A server-role leg lowered to TLS 1.2
 * answers a TLS 1.3 client with TLS 1.2 and without the RFC 8446
 * downgrade sentinel, as a TLS 1.2-only server does, and still answers
 * TLS_FALLBACK_SCSV below its new maximum with inappropriate_fallback.
 * 0, -EINVAL (started, or a version outside the context's range).
 */
int
ps_tls_conn_set_max_version(struct ps_tls_conn *conn, int version);

/*
 * Server role, before the ClientHello is processed (at creation or from
 * the hook): replace the accepted ALPN list (copied; NULL/0: no ALPN).
 * 0, -EINVAL, -ENOMEM.
 */
int
ps_tls_conn_set_alpn(struct ps_tls_conn *conn, const uint8_t *alpn, size_t alpn_len);

/* The underlying SSL (borrowed), for what this layer does not wrap. */
SSL *
ps_tls_conn_ssl(struct ps_tls_conn *conn);

/*
 * The connection is idle: give back OpenSSL's record buffers (16 KB each
 * way once used) and the wire buffers that are drained. Each comes back,
 * allocated again, with the next record. Most sessions are idle most of
 * the time.
 */
void ps_tls_conn_release(struct ps_tls_conn *conn);

/* Opaque per-connection user pointer, e.g. the flow (for the hook). */
void
ps_tls_conn_set_user(struct ps_tls_conn *conn, void *user);
void *
ps_tls_conn_user(const struct ps_tls_conn *conn);

#endif /* PS_TLS_CONN_H */
