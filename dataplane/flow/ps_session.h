/* SPDX-License-Identifier: BSD-3-Clause
 * Session records: one per intercepted flow whose first client bytes were
 * read (TLS or not), kept for live queries while the flow lives and, once
 * it ends, in a bounded ring of recent sessions and as one JSON line in
 * the session log and/or a syslog message (ps_syslog.h).
 *
 * The store is shared by every worker and the management thread, behind
 * one mutex: workers take it twice per session (open, close) and to
 * refresh a live record; the management thread takes it to answer a query
 * or drain closed records to the log. A record is plain data, copied in and
 * out under the lock, so no reader ever sees one half-written. Pure
 * library: no EAL; jansson for the JSON form.
 */
#ifndef PS_SESSION_H
#define PS_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ps_syslog.h"

/* What became of a flow. X(NAME, printable). */
#define PS_SESS_STATES(X)						\
	X(HANDSHAKE,	"handshake")	/* TLS hello read, legs not up yet */	\
	X(DECRYPTED,	"decrypted")	/* both legs up, plaintext to tools */	\
	X(PASSTHROUGH,	"passthrough")	/* not intercepted: relayed untouched */ \
	X(REJECTED,	"rejected")	/* refused (upstream certificate...) */	\
	X(FAILED,	"failed")	/* a handshake or record failed */

enum ps_sess_state {
#define PS_SESS_STATE_ENUM(name, str) PS_SESS_##name,
	PS_SESS_STATES(PS_SESS_STATE_ENUM)
#undef PS_SESS_STATE_ENUM
	PS_SESS_STATE_MAX
};

#define PS_SESS_NAME_MAX	254	/* SNI, subject CN: a DNS name and NUL */
#define PS_SESS_DN_MAX		256	/* subject / issuer one-line DN, cut */
#define PS_SESS_SAN_MAX		1024	/* "DNS:a,DNS:b,IP:1.2.3.4", cut */
#define PS_SESS_WHY_MAX		128

/*
 * A tool the session's plaintext went to, as the tool saw it: enough to
 * join a tool's alert (addresses, ports, sequence numbers) to the record.
 */
#define PS_SESS_TOOLS_MAX	6

enum ps_sess_tool_kind {
	PS_SESS_TOOL_OOB = 1,		/* a synthesized conversation on an out-of-band port */
	PS_SESS_TOOL_RECORDER,		/* the same, into the recording */
	PS_SESS_TOOL_INLINE,		/* the flow's own leg through an inline tool */
};

struct ps_sess_tool {
	char name[24];			/* tool port, or the inline pair's name */
	uint8_t kind;			/* enum ps_sess_tool_kind */
	uint8_t tap;			/* out-of-band: inline tools before it in the chain */
	uint16_t srv_port;		/* the server's port as the tool sees it */
	uint32_t isn[2];		/* [0] client, [1] server: initial sequence numbers */
};

struct ps_sess_rec {
	uint64_t id;			/* assigned by ps_sess_open(), never 0 */
	uint64_t start_ms;		/* wall clock, ms since the epoch */
	uint64_t end_ms;		/* 0 while live */
	uint8_t state;			/* enum ps_sess_state */
	bool live;

	/* The connection. */
	uint8_t family;			/* 4 or 6 */
	uint8_t cli_addr[16];
	uint8_t srv_addr[16];
	uint16_t cli_port;
	uint16_t srv_port;
	uint16_t vlan;			/* outermost VLAN ID, 0 untagged */
	char ingress[32];		/* name of the client-side port */
	char kind[24];			/* "tls", "not-tls", "smtp-starttls", "http-connect"... */
	char connect_host[256];		/* the host of an HTTP CONNECT, "" none */

	/* TLS, both legs. */
	char sni[PS_SESS_NAME_MAX];
	char alpn[32];			/* selected protocol */
	char cli_version[12];		/* "TLSv1.3" */
	char cli_cipher[48];
	char up_version[12];
	char up_cipher[48];
	bool cli_resumed;
	bool up_resumed;
	char leaf_type[12];		/* "forged-ec", "forged-rsa", "known-key" */

	/* The server's certificate and what its validation said. */
	char cert_cn[PS_SESS_NAME_MAX];
	char cert_subject[PS_SESS_DN_MAX];
	char cert_issuer[PS_SESS_DN_MAX];
	char cert_san[PS_SESS_SAN_MAX];
	char cert_sha256[65];		/* hex */
	long verify_result;		/* X509_V_OK (0) when valid, -1 unknown */
	char verify_reason[PS_SESS_WHY_MAX];

	uint64_t bytes[2];		/* plaintext (or relayed) bytes: [0] c->s, [1] s->c */
	char close_reason[PS_SESS_WHY_MAX];
	char rule[64];			/* policy rule that decided, "" none */
	char action[12];		/* policy action taken: "decrypt", "bypass", "reject", "drop", "" none */
	char decided_at[12];		/* "syn", "hello", "certificate", "" none */
	char policy_version[80];	/* "GEN" or "GEN (VERSION)", "" no policy */
	char shadow_rule[64];		/* shadow rule that would have decided, "" none */
	char shadow_action[12];		/* what it would have done */
	bool no_log;			/* the rule says: do not log */
	uint8_t n_tools;
	struct ps_sess_tool tools[PS_SESS_TOOLS_MAX];	/* in chain order */
};

/* An address prefix of a query; host bits are cleared by ps_sess_prefix_parse(). */
struct ps_sess_prefix {
	uint8_t family;			/* 0: any address, 4 or 6 */
	uint8_t len;			/* bits: 0..32 or 0..128 */
	uint8_t addr[16];
};

/*
 * A query: every criterion set must match. Globs are fnmatch(3),
 * case-insensitive; strings are NULL for "any".
 */
struct ps_sess_filter {
	uint64_t id;			/* 0: any */
	const char *host;		/* SNI, subject CN or any DNS SAN: how operators search */
	const char *sni;		/* SNI only */
	const char *cert;		/* subject CN or any DNS SAN only */
	const char *kind;		/* exact: "tls", "smtp-starttls", "http-connect", ... */
	const char *action;		/* exact: "decrypt", "bypass", "reject", "drop" */
	const char *rule;		/* exact rule name */
	struct ps_sess_prefix src;	/* client address */
	struct ps_sess_prefix dst;	/* server address */
	uint16_t srv_port;		/* 0: any */
	bool live_only;
	bool closed_only;
	unsigned int limit;		/* 0: all */
};

struct ps_sess_live;

struct ps_sess_store {
	pthread_mutex_t lock;
	unsigned int waiting;		/* workers blocked on the lock (atomic) */
	uint64_t next_id;
	struct ps_sess_live *live;	/* doubly linked list */
	uint64_t n_live;
	struct ps_sess_rec *ring;	/* closed sessions, most recent keep */
	unsigned int keep;
	uint64_t n_closed;		/* ever closed: ring[n % keep] is the next slot */
	uint64_t n_logged;		/* closed records written to the log */
	uint64_t log_dropped;		/* overwritten before they were logged */
	uint64_t log_errors;
	FILE *log;			/* NULL: no session log */

	/* Written by the draining thread only, but log_reopen. */
	char *log_path;			/* NULL: no session log */
	uint64_t log_size;		/* bytes in the current file */
	uint64_t log_rotate_bytes;	/* 0: no rotation by size */
	unsigned int log_keep;		/* rotated files: FILE.1 (newest) .. FILE.N */
	uint64_t log_rotations;
	unsigned int log_reopen;	/* set by ps_sess_log_reopen() (atomic) */
	struct ps_syslog *syslog;	/* NULL: no syslog */
	char *syslog_url;
};

/* What ps_sess_log_setup() adds to the session log. */
struct ps_sess_log_opts {
	uint64_t rotate_bytes;		/* 0: no rotation by size */
	unsigned int keep;		/* rotated files kept (0 is taken as 1) */
	const char *syslog_url;		/* "udp://IP:PORT", "tcp://[IPv6]:PORT"; NULL or "": none */
	unsigned int syslog_facility;	/* 0..23 */
	size_t syslog_queue;		/* TCP queue bytes, 0: PS_SYSLOG_QUEUE_MAX */
};

/*
 * Set up s for keep closed records; log_path (NULL: none) is opened for
 * appending, mode 0640, created if missing. 0 or a negative errno with a
 * reason in err.
 */
int ps_sess_store_init(struct ps_sess_store *s, unsigned int keep, const char *log_path,
		       char *err, size_t errlen);

/* Drain what is pending to the log, close it, free everything. */
void ps_sess_store_fini(struct ps_sess_store *s);

/*
 * A session begins: rec (its id is ignored) is copied into a new live
 * record; returns a handle for the updates below, NULL when out of memory
 * (the session then simply has no record). Any worker.
 */
struct ps_sess_live *ps_sess_open(struct ps_sess_store *s, const struct ps_sess_rec *rec);

/* The id of a live session (for tools and logs). */
uint64_t ps_sess_id(const struct ps_sess_live *l);

/* Replace the live record's content with rec (the id is kept). */
void ps_sess_update(struct ps_sess_store *s, struct ps_sess_live *l,
		    const struct ps_sess_rec *rec);

/* The session ended: rec becomes the closed record; l is freed. */
void ps_sess_close(struct ps_sess_store *s, struct ps_sess_live *l,
		   const struct ps_sess_rec *rec);

/*
 * Records matching f, most recent first (live ones, then closed ones), as
 * a JSON array (new reference), NULL when out of memory. The lock is held
 * for a bounded slice of the store at a time, never for a whole search or
 * any JSON: a session that ends while a long search runs may be missing
 * from the answer; none appears twice, and closed records are those closed
 * before the search began.
 */
json_t *ps_sess_query(struct ps_sess_store *s, const struct ps_sess_filter *f);

/*
 * After ps_sess_store_init(), before the first drain: rotation by size and
 * a syslog collector. 0 or a negative errno with a reason in err.
 */
int ps_sess_log_setup(struct ps_sess_store *s, const struct ps_sess_log_opts *o,
		      char *err, size_t errlen);

/*
 * Append closed records not logged yet as JSON lines and send them over
 * syslog (records whose rule says no log go nowhere); rotate the file by
 * size or reopen it when asked, between two records; keep a syslog
 * connection going. Returns how many records were taken. One thread only
 * (the management thread): it never blocks on the network.
 */
unsigned int ps_sess_log_drain(struct ps_sess_store *s);

/*
 * Ask the next drain to reopen the log file by its name (after logrotate
 * renamed it). Async-signal-safe: meant for a SIGHUP handler.
 */
void ps_sess_log_reopen(struct ps_sess_store *s);

/*
 * The store's counters as a JSON object (new reference): live and closed
 * records, the log file's and syslog's. The draining thread only.
 */
json_t *ps_sess_log_stats(const struct ps_sess_store *s);

/* A record as a JSON object (new reference). */
json_t *ps_sess_rec_json(const struct ps_sess_rec *r);

/* True when r matches f (live/closed, limit aside). */
bool ps_sess_match(const struct ps_sess_rec *r, const struct ps_sess_filter *f);

/*
 * Parse "ADDRESS" or "ADDRESS/LENGTH" (IPv4 or IPv6) into out, clearing
 * host bits: "10.1.2.3/8" is 10.0.0.0/8, a bare address is a host. 0 or
 * -EINVAL.
 */
int ps_sess_prefix_parse(const char *text, struct ps_sess_prefix *out);

const char *ps_sess_state_name(enum ps_sess_state st);

#endif /* PS_SESSION_H */
