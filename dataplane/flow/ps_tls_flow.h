/* SPDX-License-Identifier: BSD-3-Clause
 * TLS interception of one flow: the stage of the flow proxy (ps_proxy.h)
 * that terminates the client's TLS and re-originates TLS to the server.
 *
 * Life of a flow (architecture brief, "Life of an intercepted flow"):
 *   1. HELLO: the client's first bytes are held and read as a ClientHello
 *      (ps_tls_hello.h). Anything else (not TLS, SSLv2, a malformed hello,
 *      a server that speaks first) is relayed untouched from its first byte.
 *   2. UPSTREAM: with the hello still held, connect to the server with the
 *      client's SNI and ALPN list, under the appliance's own modern profile;
 *      the server's chain is verified (the verdict is ours to act on).
 *   3. CLIENT: forge the leaf for the client from the server's certificate
 *      (ps_tls_forge.h, cached), then replay the held hello into the client
 *      leg, which answers with the forged leaf and the ALPN the server chose.
 *   4. ESTABLISHED: records are decrypted on one leg and re-encrypted on the
 *      other; the plaintext passes the tap (tool ports) on its way. Back-
 *      pressure: plaintext is read from a leg only while the other leg's
 *      pending records and the TCP send buffer have room.
 *   5. Close: a close_notify is mirrored as close_notify then FIN; a FIN
 *      without close_notify as a bare FIN; a TLS failure resets both sides.
 *
 * Pure library: no EAL. The shared part (struct ps_tls_icpt: the two
 * SSL_CTXs, the forger, the upstream session cache) is built once at start
 * and used read-only (or under its own locks) by every worker.
 */
#ifndef PS_TLS_FLOW_H
#define PS_TLS_FLOW_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ps_proxy.h"
#include "ps_session.h"
#include "ps_tls_conn.h"
#include "ps_tls_forge.h"
#include "ps_tls_hello.h"
#include "ps_webpki.h"

/* Counters of the TLS stage, per worker. X(NAME, counter name). */
#define PS_TLSF_COUNTERS(X)						\
	X(HELLO_TLS,		"hello_tls")				\
	X(PASS_NOT_TLS,		"pass_not_tls")				\
	X(PASS_BAD_HELLO,	"pass_bad_hello")			\
	X(PASS_SERVER_FIRST,	"pass_server_first")			\
	X(PASS_NO_HELLO,	"pass_client_closed_before_hello")	\
	X(UPGRADE_SMTP,		"starttls_smtp")			\
	X(UPGRADE_IMAP,		"starttls_imap")			\
	X(UPGRADE_POP3,		"stls_pop3")				\
	X(UPGRADE_FTP,		"auth_tls_ftp")				\
	X(UPGRADE_CONNECT,	"http_connect")				\
	X(UPGRADE_REFUSED,	"upgrade_refused_by_server")		\
	X(PREAMBLE_GAVE_UP,	"preamble_not_understood")		\
	X(PASS_CLIENT_CERT,	"pass_server_wants_client_cert")	\
	X(PASS_CLIENT_CERT_NONE, "pass_replayed_to_new_connection")	\
	X(PASS_REMEMBERED,	"pass_remembered_bypass")		\
	X(PINNED_REMEMBERED,	"client_refused_leaf_remembered")	\
	X(CLIENT_CERT_CONTINUED, "client_cert_requested_after_upgrade")	\
	X(UP_FULL,		"upstream_handshakes_full")		\
	X(UP_RESUMED,		"upstream_handshakes_resumed")		\
	X(UP_FAILED,		"upstream_handshakes_failed")		\
	X(VERIFY_FAILED,	"upstream_verify_failed")		\
	X(VERIFY_REJECTED,	"upstream_verify_rejected")		\
	X(VERIFY_RESIGNED,	"upstream_verify_resigned_untrusted")	\
	X(VERIFY_BYPASSED,	"upstream_verify_bypassed")		\
	X(DECIDED_AT_CERT,	"policy_decided_at_certificate")	\
	X(PROFILE_RECONNECT,	"upstream_reconnected_for_profile")	\
	X(FORGE_FAILED,		"forge_failed")				\
	X(KNOWN_KEY,		"known_key_sessions")			\
	X(POLICY_BYPASS,	"policy_bypassed")			\
	X(POLICY_REJECT,	"policy_rejected")			\
	X(POLICY_DROP,		"policy_dropped")			\
	X(CLI_FULL,		"client_handshakes_full")		\
	X(CLI_RESUMED,		"client_handshakes_resumed")		\
	X(CLI_FAILED,		"client_handshakes_failed")		\
	X(SESS_STORED,		"upstream_sessions_stored")		\
	X(SESS_OFFERED,		"upstream_sessions_offered")		\
	X(RECORD_FAILED,	"record_failures")			\
	X(TRUNCATED,		"closed_without_close_notify")		\
	X(INLINE_RESET,		"inline_tool_reset")			\
	X(DECRYPTED,		"sessions_decrypted")

enum ps_tlsf_counter {
#define PS_TLSF_ENUM(name, str) PS_TLSF_##name,
	PS_TLSF_COUNTERS(PS_TLSF_ENUM)
#undef PS_TLSF_ENUM
	PS_TLSF_MAX
};

struct ps_tls_flow_stats {
	uint64_t c[PS_TLSF_MAX];
	uint64_t plain_bytes[2];	/* decrypted: [0] client->server, [1] server->client */
	uint64_t verify_reason[PS_WEBPKI_N_REASONS];	/* failed upstream chains by first reason */
};

/* What a failed upstream verification does. */
enum ps_tls_verify_action {
	PS_TLS_VFAIL_REJECT,		/* alert to the client, close both */
	PS_TLS_VFAIL_RESIGN_UNTRUSTED,	/* forge with the untrusted CA: the client sees the problem */
	PS_TLS_VFAIL_BYPASS,		/* relay untouched: the client judges the real chain */
	PS_TLS_VFAIL_DEFAULT,		/* per flow: what the interception context says */
};

/* Known-key mode: one of the operator's own servers (see ps_tls_icpt_cfg). */
struct ps_tls_known {
	char sni[254];			/* exact (case-insensitive), "*.suffix", "" any */
	bool has_addr;
	uint8_t family;			/* 4 or 6 */
	uint8_t addr[16];
	X509 *cert;			/* the real leaf, its chain and key: owned */
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
};

/* Shared interception context, built once at start. */
struct ps_tls_icpt {
	struct ps_tls_ctx *cli_ctx;	/* server role, towards clients; cert hook set by us */
	struct ps_tls_ctx *up_ctx;	/* client role, towards servers; PS_TLS_VERIFY_REPORT */
	struct ps_tls_forge *forge;	/* trusted appliance CA */
	struct ps_tls_forge *forge_untrusted;	/* may be NULL: then failures are rejected */
	enum ps_tls_verify_action on_verify_fail;
	struct ps_tls_sess_cache *up_sessions;	/* may be NULL: no upstream resumption */
	struct ps_tls_sess_cache *bypass;	/* not interceptable, remembered; may be NULL */
	bool bypass_pinned;		/* remember clients that refuse the forged leaf */
	const struct ps_tls_known *known;	/* borrowed from the cfg */
	unsigned int n_known;
	struct ps_webpki_ctx *webpki;	/* browser-grade checks on upstream chains */
	int keylog_fd;			/* -1: off */
	pthread_mutex_t keylog_lock;
};

struct ps_tls_flow;

/*
 * Plaintext interface: the decrypted streams on their way from one leg to
 * the other, for the tool stage. Called on the flow's lcore. dir 0 is
 * client->server. All callbacks optional.
 */
enum ps_tls_decision {
	PS_TLS_DECIDE_DECRYPT,
	PS_TLS_DECIDE_BYPASS,		/* relay untouched from the first byte */
	PS_TLS_DECIDE_REJECT,		/* handshake_failure alert to the client, close */
	PS_TLS_DECIDE_DROP,		/* reset both sides */
	PS_TLS_DECIDE_LATER,		/* ask again with the server's certificate */
};

/* What the policy says of a flow (struct ps_tls_tap decide). */
struct ps_tls_policy_verdict {
	uint8_t decision;		/* enum ps_tls_decision */
	uint8_t on_invalid;		/* enum ps_tls_verify_action; DEFAULT: the context's */
	uint8_t profile;		/* upstream profile number: sessions never cross profiles */
	struct ps_tls_ctx *up_ctx;	/* upstream leg's context, NULL: the context's own */
	char rule[64];			/* the deciding rule, "" none */
	bool copy;			/* bypass: the relayed bytes go to the tap as they are */
};

/*
 * An inline tool between the two legs (struct ps_tls_tap pipe): the
 * plaintext of direction dir (0 client->server) is pushed into the tool
 * and what comes out of it goes on to the other leg. All with the tap's
 * arg. state(): 0 no tool (the legs are joined directly), 1 the tool's
 * leg is up or coming up, -1 it was reset (so is the flow).
 */
struct ps_tls_pipe {
	int (*state)(void *arg);
	uint32_t (*room)(void *arg, int dir);
	uint32_t (*push)(void *arg, int dir, const uint8_t *p, uint32_t n);
	uint32_t (*peek)(void *arg, int dir, const uint8_t **p);
	void (*consume)(void *arg, int dir, uint32_t n);
	void (*shutdown)(void *arg, int dir);
	bool (*eof)(void *arg, int dir);
};

struct ps_tls_tap {
	/*
	 * The policy: at the ClientHello h with cert NULL, and once more
	 * with the server's verified leaf when the first answer was
	 * PS_TLS_DECIDE_LATER (then the upstream handshake was made with the
	 * context's own profile). NULL callback: decrypt. Fills *v (zeroed
	 * by the caller).
	 */
	void (*decide)(void *arg, const struct ps_tls_client_hello *h, X509 *cert,
		       struct ps_tls_policy_verdict *v);
	void (*open)(void *arg, const struct ps_tls_flow *t);	/* both legs up */
	void (*data)(void *arg, int dir, const uint8_t *p, uint32_t n);
	void (*close)(void *arg, int dir, bool reset);		/* dir: the side that ended */
	const struct ps_tls_pipe *pipe;	/* NULL: no inline tool */
	void *arg;
};

enum ps_tls_flow_state {
	PS_TLSF_ST_HELLO,
	PS_TLSF_ST_PREAMBLE,		/* plaintext relayed, watching for an upgrade */
	PS_TLSF_ST_PASS,		/* relayed untouched */
	PS_TLSF_ST_UPSTREAM,
	PS_TLSF_ST_CLIENT,
	PS_TLSF_ST_ESTABLISHED,
	PS_TLSF_ST_DONE,		/* failed or closed: nothing more to move */
};

#define PS_TLSF_HEAD	9u	/* record header + handshake header: the hello's length */
#define PS_TLSF_LINE_MAX	512u	/* longest preamble line read (longer: ignored) */
#define PS_TLSF_PRE_MAX		(16u * 1024u)	/* preamble kept for the tools */
#define PS_TLSF_PRE_LIMIT	(64u * 1024u)	/* preamble read before giving up */

/* What the plaintext before the TLS was. */
enum ps_tls_upgrade {
	PS_TLSF_UP_NONE,		/* TLS from the first byte, or nothing detected */
	PS_TLSF_UP_SMTP,		/* STARTTLS / 220 */
	PS_TLSF_UP_IMAP,		/* TAG STARTTLS / TAG OK */
	PS_TLSF_UP_POP3,		/* STLS / +OK */
	PS_TLSF_UP_FTP,			/* AUTH TLS / 234 */
	PS_TLSF_UP_CONNECT,		/* CONNECT host:port HTTP/1.x / 200 */
};

struct ps_tls_flow {
	struct ps_proxy_stage stage;	/* install with ps_proxy_set_stage() */
	const struct ps_tls_icpt *ic;
	struct ps_tls_flow_stats *stats;
	const struct ps_tls_tap *tap;
	uint8_t state;			/* enum ps_tls_flow_state */
	uint8_t head_len;
	uint8_t head[PS_TLSF_HEAD];
	bool read_closed[2];		/* [side]: close_notify or FIN seen from that side */
	bool out_closed[2];		/* [dir]: an inline tool ended dir (its FIN came out) */
	bool fin_sent[2];
	bool tapped;			/* tap open called */
	bool copy;			/* passed by policy: relayed bytes to the tap as they are */
	bool decrypted;			/* both legs came up */
	bool hello_tls;			/* the first bytes were a TLS ClientHello */
	bool rejected;			/* refused by the appliance (upstream validation) */
	bool up_sess_stored;

	/* PREAMBLE: lines of each direction, the upgrade under way. */
	bool starttls_port;		/* StartTLS commands are honoured on this flow */
	uint8_t upgrade;		/* enum ps_tls_upgrade detected (or pending) */
	bool pending;			/* upgrade asked, the server's answer awaited */
	bool cert_req_seen;		/* the server asked for a client certificate */
	bool connect_hdrs;		/* CONNECT request sent, its headers going on */
	bool connect_ok;		/* 200 seen, the response's headers going on */
	uint32_t lines[2];		/* complete lines seen per direction */
	uint32_t pre_bytes;		/* preamble bytes relayed */
	uint16_t line_len[2];
	char line[2][PS_TLSF_LINE_MAX];
	char imap_tag[32];
	char connect_host[256];		/* "host" of CONNECT host:port */
	uint8_t *pre;			/* [dir][len16][bytes]... for the tools, malloc'd */
	uint32_t pre_len;

	/* HELLO: the reader and the held bytes (freed once replayed). */
	struct ps_tls_hello_reader *rd;
	uint8_t *rd_msg;
	uint8_t *rd_raw;
	uint32_t held_off;		/* PASS: held bytes already sent upstream */

	/* What the hello said, kept for the session record and the legs. */
	char sni[PS_TLS_SNI_MAX + 1];
	uint8_t alpn[256];		/* client's ProtocolNameList body, cut at 255 bytes */
	uint16_t alpn_len;
	uint16_t client_max_version;
	enum ps_tls_leaf_type leaf_type;
	uint32_t sess_key_hash;		/* upstream session cache key (addresses, port, SNI) */
	uint8_t sess_key[64];
	uint8_t sess_key_len;
	uint8_t cli_addr[16];		/* for remembering pinning clients */
	uint8_t srv_addr[16];		/* for known servers by address */
	uint8_t family;			/* 4 or 6, 0 unknown */

	struct ps_tls_conn *cli;	/* client leg: we are the server */
	struct ps_tls_conn *up;		/* upstream leg: we are the client */
	STACK_OF(X509) *leaf_chain;	/* sent after the leaf (borrowed) */
	bool known_key;			/* the leaf is a known server's real one */
	X509 *leaf;			/* forged leaf shown to the client */
	EVP_PKEY *leaf_key;
	long verify_result;		/* upstream chain, X509_V_OK when valid (OpenSSL) */
	struct ps_webpki_result webpki;	/* and the WebPKI profile's verdict */
	uint64_t plain[2];		/* plaintext bytes: [0] client->server */
	char why[96];			/* close reason, for the session record */
	char rule[64];			/* policy rule that decided, "" none */
	uint8_t decision;		/* enum ps_tls_decision */
	uint8_t on_invalid;		/* enum ps_tls_verify_action for this flow */
	uint8_t profile;		/* upstream profile number (session cache key) */
	struct ps_tls_ctx *up_ctx;	/* upstream context (the policy's profile) */
	X509 *seen_cert;		/* server leaf of an attempt given up (for the record) */
	X509 *fp_cert;			/* the server leaf fp is of (a reference), or NULL */
	uint8_t fp[PS_TLS_FP_LEN];	/* its SHA-256: computed once, for forge and record */
	uint16_t srv_port;		/* for the bypass list */
	uint64_t sess_id;		/* its session record, 0 none: evidence of a bypass */
};

/*
 * Make t the TLS stage of px (does not install it: the caller calls
 * ps_proxy_set_stage(px, &t->stage)). ic, stats and tap are borrowed for
 * the flow's life (tap may be NULL). key/key_len: the upstream identity
 * for the session cache (server address and port, any encoding, at most
 * 48 bytes); the SNI is appended when known. 0 or -ENOMEM.
 */
int ps_tls_flow_init(struct ps_tls_flow *t, const struct ps_tls_icpt *ic,
		     struct ps_tls_flow_stats *stats, const struct ps_tls_tap *tap,
		     const uint8_t *key, size_t key_len);

/*
 * The flow's addresses (16 bytes each, IPv4 in the first 4; family 4 or
 * 6): the client's for remembering pinning clients, the server's for
 * known servers chosen by address.
 */
void ps_tls_flow_set_addrs(struct ps_tls_flow *t, uint8_t family, const uint8_t cli[16],
			   const uint8_t srv[16]);

/* The server's port (for the bypass list). */
static inline void
ps_tls_flow_set_srv_port(struct ps_tls_flow *t, uint16_t port)
{
	t->srv_port = port;
}

/* StartTLS commands are honoured on this flow (a StartTLS port). */
static inline void
ps_tls_flow_set_starttls(struct ps_tls_flow *t, bool on)
{
	t->starttls_port = on;
}

/* Release everything t holds; t itself is the caller's. Idempotent. */
void ps_tls_flow_free(struct ps_tls_flow *t);

/*
 * Fill the TLS part of a session record from t: kind, state, SNI, ALPN,
 * both legs' versions, ciphers and resumption, the server's certificate
 * (names, issuer, SHA-256) and its validation, plaintext bytes, close
 * reason. The connection part (addresses, times, id) is the caller's.
 */
void ps_tls_flow_describe(const struct ps_tls_flow *t, struct ps_sess_rec *r);

/* Printable state name. */
const char *ps_tls_flow_state_name(enum ps_tls_flow_state st);
const char *ps_tlsf_counter_name(enum ps_tlsf_counter c);

/*
 * Upstream session cache: serialized sessions keyed by server address,
 * port and SNI, shared by all workers (a lock), bounded (entries), each
 * valid for timeout_s. NULL-safe free.
 */
struct ps_tls_sess_cache;
int ps_tls_sess_cache_new(unsigned int entries, unsigned int timeout_s,
			  struct ps_tls_sess_cache **out);
void ps_tls_sess_cache_free(struct ps_tls_sess_cache *c);

/*
 * The bypass list: servers (or client and server pairs) relayed untouched
 * without an attempt, learnt from flows or added by the operator.
 */
struct ps_tls_bypass_entry {
	uint8_t family;			/* 4 or 6 */
	uint8_t srv_addr[16];		/* IPv4 in the first 4 bytes */
	uint16_t srv_port;
	char sni[PS_TLS_SNI_MAX + 1];	/* "" none */
	bool has_client;		/* only for this client (a pinning one) */
	uint8_t cli_addr[16];
	char reason[64];
	uint64_t session_id;		/* evidence: the session that taught it, 0 none */
	uint64_t expires_s;		/* listed: seconds left */
};

/* Up to max live entries into out; how many. Any thread. */
unsigned int ps_tls_bypass_list(const struct ps_tls_icpt *ic, struct ps_tls_bypass_entry *out,
				unsigned int max);
/* Add (or renew) b for ttl_s (0: the configured TTL). -ENOTSUP: no bypass list. */
int ps_tls_bypass_add(const struct ps_tls_icpt *ic, const struct ps_tls_bypass_entry *b,
		      unsigned int ttl_s);
/* Remove the entry with b's address, port, SNI and client. -ENOENT: none. */
int ps_tls_bypass_del(const struct ps_tls_icpt *ic, const struct ps_tls_bypass_entry *b);

/*
 * Build the interception context's two SSL_CTXs on top of the given
 * forgers (borrowed; forge_untrusted may be NULL): the client leg with
 * the forged-leaf hook, a session cache of sess_entries for sess_timeout_s
 * (TLS 1.2 session IDs and TLS 1.3 tickets), the upstream leg trusting
 * the system store when trust_system and/or ca_file (PEM bundle). 0 or a
 * negative errno with a reason in err.
 */
struct ps_tls_icpt_cfg {
	struct ps_tls_forge *forge;
	struct ps_tls_forge *forge_untrusted;
	enum ps_tls_verify_action on_verify_fail;
	bool trust_system;
	const char *ca_file;
	unsigned int sess_entries;	/* client-leg and upstream caches; 0: no resumption */
	unsigned int sess_timeout_s;
	const char *keylog_file;	/* NSS key log of both legs; NULL: off */
	unsigned int bypass_ttl_s;	/* remember non-interceptable servers; 0: never */
	const struct ps_tls_known *known;	/* known-key servers, borrowed for ic's life */
	unsigned int n_known;
	bool bypass_pinned;		/* and clients refusing the leaf (alert) */
	X509 *const *own_cas;		/* the appliance's CAs: a server chain through them is refused */
	size_t n_own_cas;
};
int ps_tls_icpt_init(struct ps_tls_icpt *ic, const struct ps_tls_icpt_cfg *cfg,
		     char *err, size_t errlen);
void ps_tls_icpt_fini(struct ps_tls_icpt *ic);

#endif /* PS_TLS_FLOW_H */
