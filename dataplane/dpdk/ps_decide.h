/* SPDX-License-Identifier: BSD-3-Clause
 * The traffic policy in the data plane (ps_decide.c).
 */
#ifndef PS_DECIDE_H
#define PS_DECIDE_H

#include "ps_dp.h"

/* The QSBR variable of dp's workers. After ps_workers_create(). 0 or -errno. */
int ps_policy_init(struct ps_dp *dp);
void ps_policy_fini(struct ps_dp *dp);

/*
 * At the client's SYN: what the policy says with addresses, port, VLAN and
 * segment known. UNDECIDED: a rule needs the ClientHello. DECRYPT when no
 * policy is loaded. Worker.
 */
enum ps_pol_action ps_decide_syn(const struct ps_dp *dp, const struct ps_tcp_frame_spec *c2s,
				 const char *segment);

/*
 * At the ClientHello h: the full decision; the deciding rule's name into
 * rule[rule_len] ("" without a policy), whether to log the session into
 * *log (true without a policy). Worker.
 */
enum ps_pol_action ps_decide_hello(const struct ps_dp *dp, const struct ps_tcp_frame_spec *c2s,
				   const char *segment, const struct ps_tls_client_hello *h,
				   char *rule, size_t rule_len, bool *log);

#endif /* PS_DECIDE_H */
