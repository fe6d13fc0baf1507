/* SPDX-License-Identifier: BSD-3-Clause
 * The traffic policy in the data plane (ps_decide.c): the policies a
 * worker decides with, their live replacement, the three decision points
 * (client SYN, ClientHello, server certificate) and their hit counters.
 */
#ifndef PS_DECIDE_H
#define PS_DECIDE_H

#include <openssl/x509.h>

#include <jansson.h>

#include "ps_dp.h"

#define PS_PROFILES_MAX		32	/* distinct upstream TLS profiles since start */

/*
 * A compiled policy as the workers use it: the policy itself, bound to
 * this data plane (tool names to tool ports, TLS profiles to upstream
 * contexts), and its live settings. Immutable once published, except the
 * per-worker hit counters. Freed after a grace period once replaced.
 */
struct ps_policy_rt {
	struct ps_pol *pol;
	bool shadow;			/* wholly shadow: it records, never acts */
	uint64_t generation;		/* nth policy applied since start */
	uint64_t applied_ms;		/* wall clock */
	char path[PS_PATH_MAX];
	char version[80];		/* "GEN" or "GEN (VERSION)" */
	struct ps_tls_ctx **up_ctx;	/* per profile index, [0] NULL: the default */
	uint8_t *profile_num;		/* per profile index: dp-wide number */
	uint64_t *tool_ports;		/* per policy tool: bit i = dp->tool_port[i] */
	uint32_t *tool_inline;		/* per policy tool: bit i = inline pair dp->inl[i] */
	uint16_t starttls_ports[PS_STARTTLS_PORTS_MAX];
	unsigned int n_starttls_ports;
	enum ps_overflow_action overflow;
	int verify_failure;		/* enum ps_tls_verify_action, -1: the context's */
	unsigned int n_slots;		/* rules + the default */
	uint64_t *hits;			/* [worker][slot][0 enforced, 1 shadow] */
	bool copies;			/* a bypass verdict names out-of-band tools */
};

/* Inline tools in series on one flow, at most. */
#define PS_CHAIN_MAX	4

/* What a flow was told, kept with it for its session record. */
struct ps_decision {
	enum ps_pol_action action;	/* PS_POL_UNDECIDED: not final yet */
	const char *at;			/* "syn", "hello", "certificate" */
	char rule[64];
	bool log;
	uint64_t tools;			/* bit i: dp->tool_port[i] gets the conversation */
	/*
	 * The flow's tool chain, from the client towards the server: the
	 * inline tools it goes through in series, and where each out-of-band
	 * tool taps it. tools_at[p]: the ports listed after p inline tools
	 * (see docs/tool.md, "Tool chains"); their union is tools.
	 */
	uint64_t tools_at[PS_CHAIN_MAX + 1];
	int8_t inl[PS_CHAIN_MAX];	/* dp->inl indexes, in chain order */
	uint8_t n_inl;
	uint8_t inl_fail_closed;	/* bit j: inl[j] down blocks the flow (else around it) */
	char version[80];		/* policy_version of the record, "" none */
	char shadow_rule[64];		/* a shadow rule that would have decided, "" none */
	const char *shadow_action;	/* what it would have done, NULL none */
};

/*
 * Copies of traffic the appliance does not decrypt: the out-of-band tool
 * ports (bit i: dp->tool_port[i]) that get the bridged frame p (entered on
 * a net port of side `side`, segment `segment`) as it is, because the
 * policy bypasses its connection and the verdict names tools. 0: none (no
 * such rule, or the verdict needs more than addresses and ports). Hits are
 * not counted: this is asked per frame. Cheap when no rule copies.
 */
/*
 * What the policy is asked about a frame p that entered on a port of side
 * `side`: its connection as client -> server (addresses, ports, the outer
 * VLAN tag), whichever way the frame went.
 */
void ps_decide_flow_of(const struct ps_pkt *p, char side, struct ps_tcp_frame_spec *c2s);

uint64_t ps_decide_copy(struct ps_worker *w, const struct ps_pkt *p, char side,
			const char *segment);

/* The QSBR variable of dp's workers. After ps_workers_create(). 0 or -errno. */
int ps_policy_init(struct ps_dp *dp);
void ps_policy_fini(struct ps_dp *dp);

/*
 * Compile the policy at path and bind it to dp: tool names to tool ports,
 * TLS profiles to upstream contexts. Every problem into errs, settings
 * that only a restart changes as one line each into warnings (an array;
 * may be NULL). 0 with *out, or a negative errno. Management thread (or
 * main thread at start).
 */
int ps_policy_prepare(struct ps_dp *dp, const char *path, struct ps_policy_rt **out,
		      struct ps_pol_errors *errs, json_t *warnings);

/*
 * Make rt the live policy (or, for a wholly shadow one, the live shadow
 * policy), wait until no worker can still use the one it replaces, free
 * that. rt NULL: no policy (shadow: no shadow policy).
 */
void ps_policy_publish(struct ps_dp *dp, struct ps_policy_rt *rt, bool shadow);

/*
 * Before the workers exist: the policy's global settings override those
 * of the configuration (docs/policy.md). One line into err on failure.
 */
int ps_policy_settings_to_config(const struct ps_pol *pol, struct ps_config *cfg,
				 char *err, size_t errlen);

/* At the client's SYN: addresses, port, VLAN, segment. Worker. */
void ps_decide_syn(struct ps_worker *w, const struct ps_tcp_frame_spec *c2s,
		   const char *segment, struct ps_decision *d);

/*
 * At the ClientHello h, and (cert not NULL) at the server's certificate
 * when the hello left it undecided. Worker. Fills d and v.
 */
void ps_decide_tls(struct ps_worker *w, const struct ps_tcp_frame_spec *c2s,
		   const char *segment, const struct ps_tls_client_hello *h, X509 *cert,
		   struct ps_decision *d, struct ps_tls_policy_verdict *v);

/* Live settings: StartTLS on port, the flow-table overflow action. Worker. */
bool ps_policy_starttls(const struct ps_dp *dp, uint16_t port);
enum ps_overflow_action ps_policy_overflow(const struct ps_dp *dp);

/* The running policies, their rules and hit counters. Management thread. */
json_t *ps_policy_show(struct ps_dp *dp);

#endif /* PS_DECIDE_H */
