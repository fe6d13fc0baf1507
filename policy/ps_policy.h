/* SPDX-License-Identifier: BSD-3-Clause
 * The traffic policy: JSON text -> compiled, immutable struct ps_pol ->
 * a verdict per flow. No DPDK, no global state: a compiled policy may be
 * read by any number of threads at once (docs/policy.md).
 */
#ifndef PS_POLICY_H
#define PS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_POL_RULES_MAX	16384	/* rules per policy (bitset width) */
#define PS_POL_FILE_MAX		(64 << 20)	/* bytes of policy text */
#define PS_POL_ERRORS_MAX	64	/* messages kept by struct ps_pol_errors */
#define PS_POL_ERROR_LEN	512	/* bytes of one message, incl. NUL */
#define PS_POL_RULE_DEFAULT	UINT32_MAX	/* rule_id of the default verdict */
#define PS_POL_ALPN_MAX		16	/* ALPN names of one query used */
#define PS_POL_SAN_MAX		1024	/* DNS SAN names of one query used */
#define PS_POL_STARTTLS_MAX	20	/* settings.starttls_ports */
#define PS_POL_KNOWN_MAX	64	/* settings.known_servers */

enum ps_pol_action {
	PS_POL_DECRYPT,
	PS_POL_BYPASS,
	PS_POL_REJECT,		/* TLS alert, then close */
	PS_POL_DROP,
	PS_POL_UNDECIDED,	/* an earlier rule needs a field not yet known */
};

/* TLS versions offered, as a bit mask (struct ps_pol_query.tls_versions). */
#define PS_POL_TLS10	(1u << 0)
#define PS_POL_TLS11	(1u << 1)
#define PS_POL_TLS12	(1u << 2)
#define PS_POL_TLS13	(1u << 3)

/* Which fields of a query are known (struct ps_pol_query.known). */
#define PS_POL_F_SNI		(1u << 0)
#define PS_POL_F_SRC		(1u << 1)
#define PS_POL_F_DST		(1u << 2)
#define PS_POL_F_DST_PORT	(1u << 3)
#define PS_POL_F_VLAN		(1u << 4)
#define PS_POL_F_SEGMENT	(1u << 5)
#define PS_POL_F_ALPN		(1u << 6)
#define PS_POL_F_TLS_VERSION	(1u << 7)
#define PS_POL_F_CERT		(1u << 8)	/* the upstream certificate's fields are known */

struct ps_pol_addr {
	uint8_t family;		/* 4, 6, or 0: none */
	uint8_t bytes[16];	/* network order; IPv4 in bytes[0..3] */
};

/*
 * What is known about a flow. A field whose bit is clear in known is
 * "not known yet" (the SNI at the client SYN): a rule that tests it can
 * neither match nor be skipped, so the answer may be PS_POL_UNDECIDED.
 * A known field may be known to be absent: sni NULL (no SNI), vlan 0
 * (untagged), segment NULL, n_alpn 0, tls_versions 0, address family 0,
 * cert_cn NULL, n_cert_san 0.
 *
 * A flow without SNI (PS_POL_F_SNI known, sni NULL) is tested by "sni"
 * criteria against the certificate's names once PS_POL_F_CERT is known
 * (the DNS SANs, or the subject CN when there is no DNS SAN); before
 * that, an "sni" criterion is unknown for it (docs/policy.md).
 * Everything is borrowed for the duration of the call only.
 */
struct ps_pol_query {
	uint32_t known;			/* PS_POL_F_* */
	const char *sni;		/* any case, optional trailing dot */
	size_t sni_len;
	struct ps_pol_addr src;
	struct ps_pol_addr dst;
	uint16_t dst_port;
	uint16_t vlan;			/* 1..4094, 0: untagged */
	const char *segment;		/* ingress segment name */
	const char *const *alpn;	/* offered protocols, NUL-terminated */
	unsigned int n_alpn;		/* only the first PS_POL_ALPN_MAX count */
	uint32_t tls_versions;		/* PS_POL_TLS* offered */
	const char *cert_cn;		/* subject CN, NULL: none */
	const char *const *cert_san;	/* DNS names of the subjectAltName */
	unsigned int n_cert_san;	/* only the first PS_POL_SAN_MAX used */
	const char *cert_issuer_cn;	/* issuer CN, NULL: none */
	const char *cert_issuer;	/* issuer DN, one line RFC 2253 (OpenSSL XN_FLAG_RFC2253), NULL: none */
};

/* What to do when the upstream certificate does not verify. */
enum ps_pol_invalid {
	PS_POL_INVALID_DEFAULT,		/* not set: the appliance configuration decides */
	PS_POL_INVALID_REJECT,
	PS_POL_INVALID_RESIGN_UNTRUSTED,
	PS_POL_INVALID_BYPASS,
};

/*
 * The answer. Points into the policy (or is a static object for
 * PS_POL_UNDECIDED): valid as long as the policy. Flows copy it.
 */
struct ps_pol_verdict {
	uint32_t rule_id;	/* index in "rules", or PS_POL_RULE_DEFAULT */
	const char *rule;	/* the rule's name, "default" */
	enum ps_pol_action action;
	bool log;
	bool shadow;			/* a shadow rule: records, never acts */
	enum ps_pol_invalid on_invalid_cert;
	unsigned int profile;		/* index for ps_pol_profile(); 0 is "default" */
	bool tools_set;			/* false: the rule names no tool chain */
	unsigned int n_tools;
	const unsigned int *tools;	/* indexes for ps_pol_tool() */
};

/* An upstream TLS profile ("tls_profiles"); [0] is the appliance's own. */
struct ps_pol_profile {
	const char *name;
	uint32_t versions;		/* PS_POL_TLS* allowed, 0 for "default" */
	const char *ciphers;		/* NULL: not set */
	const char *ciphersuites;
	const char *groups;
};

/* A known server (settings.known_servers): its real certificate is shown. */
struct ps_pol_known {
	const char *sni;		/* NULL: any */
	bool has_addr;
	struct ps_pol_addr addr;
	const char *cert, *key, *passphrase_file;	/* key/passphrase NULL when absent */
};

/* A tool chain (settings.tools): data-plane port names, or "recorder". */
struct ps_pol_tool {
	const char *name;
	const char *const *ports;
	unsigned int n_ports;
	bool fail_closed;
};

/* The policy's global settings; each is "not set" unless its flag says so. */
struct ps_pol_settings {
	unsigned int n_starttls_ports;	/* 0 with has_starttls_ports: none */
	bool has_starttls_ports;
	uint16_t starttls_ports[PS_POL_STARTTLS_MAX];
	const char *ca_cert, *ca_key, *ca_passphrase_file;		/* NULL: not set */
	const char *untrusted_ca_cert, *untrusted_ca_key, *untrusted_ca_passphrase_file;
	bool has_known_servers;
	unsigned int n_known;
	const struct ps_pol_known *known;
	bool has_session_cache;
	unsigned int session_cache_entries, session_timeout_s;
	int overflow;			/* -1: not set, 0: bypass, 1: drop */
	int verify_failure;		/* -1: not set, 0: reject, 1: resign-untrusted */
	const char *log_file;		/* NULL: not set */
	const char *syslog_url;		/* NULL: not set; validated */
};

/* Messages of a failed compile, each one line without a newline. */
struct ps_pol_errors {
	unsigned int n;		/* kept in msg[] */
	unsigned int dropped;	/* found beyond PS_POL_ERRORS_MAX */
	char msg[PS_POL_ERRORS_MAX][PS_POL_ERROR_LEN];
};

struct ps_pol;

/*
 * Parse and compile policy text (JSON) of len bytes; name (a file name)
 * starts every message. On success *out is a new policy the caller frees
 * with ps_pol_free() and returns 0. On failure returns -EINVAL (invalid
 * policy: every problem found is in errs, which may be NULL), -ENOMEM or
 * -E2BIG; *out is untouched. Any thread; no shared state.
 */
int ps_pol_compile(const char *text, size_t len, const char *name,
		   struct ps_pol **out, struct ps_pol_errors *errs);

/* ps_pol_compile() on the file at path; an unreadable file is one message. */
int ps_pol_load(const char *path, struct ps_pol **out,
		struct ps_pol_errors *errs);

/* Free a compiled policy; NULL is a no-op. No reader may still use it. */
void ps_pol_free(struct ps_pol *pol);

/*
 * The first rule (in file order) whose every criterion matches q, or the
 * default verdict. Never NULL for a non-NULL pol and q. Reads pol only:
 * any number of threads may evaluate one policy at once.
 */
const struct ps_pol_verdict *ps_pol_eval(const struct ps_pol *pol,
					 const struct ps_pol_query *q);

/*
 * ps_pol_eval() that also reports shadow rules. In a policy that is not
 * wholly shadow, shadow rules never decide: the verdict returned is the
 * first matching non-shadow rule (or the default, or undecided), and
 * *shadow (when shadow is not NULL) is the first shadow rule that matches
 * before it, its undecided verdict when one before it needs an unknown
 * field, or NULL. In a wholly shadow policy every rule decides as usual
 * (each verdict has shadow set) and *shadow is NULL.
 * ps_pol_eval(pol, q) is ps_pol_eval_ex(pol, q, NULL). Reads pol only.
 */
const struct ps_pol_verdict *ps_pol_eval_ex(const struct ps_pol *pol,
					    const struct ps_pol_query *q,
					    const struct ps_pol_verdict **shadow);

/*
 * The verdict object of rule rule_id (0..ps_pol_n_rules() - 1), or the
 * default's for PS_POL_RULE_DEFAULT; NULL out of range.
 */
const struct ps_pol_verdict *ps_pol_rule(const struct ps_pol *pol,
					 uint32_t rule_id);

/* Number of rules (the default excluded). */
unsigned int ps_pol_n_rules(const struct ps_pol *pol);

/* "decrypt", "bypass", "reject", "drop", "undecided". */
const char *ps_pol_action_name(enum ps_pol_action action);

/* "default", "reject", "resign-untrusted", "bypass". */
const char *ps_pol_invalid_name(enum ps_pol_invalid inv);

/* True when the top-level "shadow" is true: no rule acts. */
bool ps_pol_is_shadow(const struct ps_pol *pol);

/* The policy's "version" as text, "" when absent. */
const char *ps_pol_version(const struct ps_pol *pol);

/* Lowercase hex SHA-256 of the exact policy text (64 characters). */
const char *ps_pol_hash(const struct ps_pol *pol);

/* The global settings (all "not set" when the policy has none); never NULL. */
const struct ps_pol_settings *ps_pol_settings(const struct ps_pol *pol);

/* TLS profiles: at least 1, [0] is "default" (the appliance's own). */
unsigned int ps_pol_n_profiles(const struct ps_pol *pol);
const struct ps_pol_profile *ps_pol_profile(const struct ps_pol *pol,
					    unsigned int i);

/* Tool chains of settings.tools, in file order; NULL out of range. */
unsigned int ps_pol_n_tools(const struct ps_pol *pol);
const struct ps_pol_tool *ps_pol_tool(const struct ps_pol *pol, unsigned int i);

#endif /* PS_POLICY_H */
