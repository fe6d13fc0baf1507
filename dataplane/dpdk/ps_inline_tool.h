/* SPDX-License-Identifier: BSD-3-Clause
 * Inline tools in the data plane (ps_inline_tool.c): the tool-inline port
 * pairs, their heartbeats and health, and the frames that enter at their
 * ports (the legs of decrypted flows, ps_intercept.c).
 */
#ifndef PS_INLINE_TOOL_H
#define PS_INLINE_TOOL_H

#include <jansson.h>

#include "ps_dp.h"

#define PS_INLINE_HB_ETHERTYPE	0x88b5	/* IEEE local experimental */

/* The pairs of dp->cfg, the segments, the legs' TCP settings. After tcp_cfg. */
int ps_inline_tools_init(struct ps_dp *dp);

/* The pair of tool-inline port idx, -1 when it is not one. */
int ps_inline_pair_of_port(const struct ps_dp *dp, unsigned int idx);

/* Worker 0, every loop: heartbeats out when due, health from what came back. */
void ps_inline_tools_tick(struct ps_worker *w);

/*
 * A frame entered at tool-inline port idx (from_inbox: handed over by the
 * worker that received it). Takes m: a heartbeat is noted, a segment of a
 * flow's leg goes to the flow (on its owner), anything else is dropped
 * and counted.
 */
void ps_inline_rx(struct ps_worker *w, unsigned int idx, struct rte_mbuf *m, bool from_inbox);

/* The pairs, their health and counters (plainsight-ctl tools). */
json_t *ps_inline_tools_json(const struct ps_dp *dp);

#endif /* PS_INLINE_TOOL_H */
