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

struct ps_pol_addr {
	uint8_t family;		/* 4, 6, or 0: none */
	uint8_t bytes[16];	/* network order; IPv4 in bytes[0..3] */
};

/*
 * What is known about a flow. A field whose bit is clear in known is
 * "not known yet" (the SNI at the client SYN): a rule that tests it can
 * neither match nor be skipped, so the answer may be PS_POL_UNDECIDED.
 * A known field may be known to be absent: sni NULL (no SNI), vlan 0
 * (untagged), segment NULL, n_alpn 0, tls_versions 0, address family 0.
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

/* Number of rules (the default excluded). */
unsigned int ps_pol_n_rules(const struct ps_pol *pol);

/* "decrypt", "bypass", "reject", "drop", "undecided". */
const char *ps_pol_action_name(enum ps_pol_action action);

#endif /* PS_POLICY_H */
