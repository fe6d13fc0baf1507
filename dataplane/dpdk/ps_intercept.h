/* SPDX-License-Identifier: BSD-3-Clause
 * Intercepted connections on their owning worker (see ps_intercept.c).
 */
#ifndef PS_INTERCEPT_H
#define PS_INTERCEPT_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "ps_flow_table.h"
#include "ps_pkt.h"

struct ps_worker;

/* What became of a segment handed to ps_intercept_segment(). */
enum {
	PS_ICPT_CONSUMED,	/* the proxy took it; the mbuf is freed */
	PS_ICPT_BRIDGE,		/* not terminated: the caller bridges it */
	PS_ICPT_DROP,		/* the caller drops it (counted here) */
};

#define PS_TIMER_BUDGET	64	/* flow timers fired per poll, at most */

/* Allocate the worker's flow table, timer wheel and proxy scratch. */
int ps_intercept_init(struct ps_worker *w);

/* Free them (flows still open are dropped without a word on the wire). */
void ps_intercept_fini(struct ps_worker *w);

/*
 * A selected TCP segment (frame parsed as p, checked OK) that entered on net
 * port in_idx, on the worker that owns its flow; key and hash are its flow
 * key (ps_flow_key_from_pkt) and ps_flow_key_hash(key). Returns PS_ICPT_*;
 * with PS_ICPT_CONSUMED the mbuf is gone.
 */
/*
 * A segment of an inline tool's leg that entered at tool-inline port idx,
 * with the key of the flow it may belong to. PS_ICPT_CONSUMED (mbuf gone)
 * when that flow has a leg through this tool; PS_ICPT_DROP otherwise (the
 * caller keeps the mbuf).
 */
int ps_intercept_inline(struct ps_worker *w, struct rte_mbuf *m, const uint8_t *frame,
			const struct ps_pkt *p, unsigned int idx, const struct ps_flow_key *key,
			uint32_t hash);

int ps_intercept_segment(struct ps_worker *w, struct rte_mbuf *m,
			 const uint8_t *frame, const struct ps_pkt *p,
			 unsigned int in_idx, const struct ps_flow_key *key,
			 uint32_t hash);

/* Run the flow timers due at w->now_us. */
void ps_intercept_timers(struct ps_worker *w);

#endif /* PS_INTERCEPT_H */
