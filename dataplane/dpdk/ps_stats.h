/* SPDX-License-Identifier: BSD-3-Clause
 * Data-plane counters. Each worker owns one struct ps_worker_stats and is the
 * only writer; the management thread reads them without locks (aligned 64-bit
 * loads are atomic on the supported targets) and sums over workers.
 *
 * One X-macro list per family gives the enum, the storage and the names, so a
 * new drop reason is one line here and shows up in `plainsight-ctl stats`.
 */
#ifndef PS_STATS_H
#define PS_STATS_H

#include <stdint.h>

#include <rte_common.h>

#include "ps_config.h"
#include "ps_pkt.h"

/* What the bridge did with a packet, beyond the parser's verdict. */
#define PS_BRIDGE_EVENTS(X)						\
	X(MALFORMED_FORWARDED, "malformed_forwarded")			\
	X(MALFORMED_DROPPED, "malformed_dropped")			\
	X(TX_RING_FULL, "tx_ring_full")					\
	X(OVERSIZE_DF_DROPPED, "oversize_df_dropped")			\
	X(OVERSIZE_TRUNCATED, "oversize_truncated_dropped")		\
	X(FRAGMENTED, "refragmented_datagrams")			\
	X(FRAGMENTS_OUT, "refragmented_fragments_out")			\
	X(FRAG_NO_MBUF, "refragment_no_mbuf")				\
	X(TOOL_PORT_RX_DROPPED, "tool_port_rx_dropped")		\
	X(MULTISEG_LINEARIZED, "multiseg_linearized")

enum ps_bridge_event {
#define PS_X(name, str) PS_BRIDGE_##name,
	PS_BRIDGE_EVENTS(PS_X)
#undef PS_X
	PS_BRIDGE_EVENT_MAX
};

/* Name of a bridge event counter, as shown by `plainsight-ctl stats`. */
const char *ps_bridge_event_name(enum ps_bridge_event ev);

/* Intercepted flows and dispatch between workers. */
#define PS_FLOW_EVENTS(X)						\
	X(OPENED, "flows_opened")					\
	X(CLOSED, "flows_closed")					\
	X(RESET, "flows_reset")						\
	X(IDLE_EXPIRED, "flows_idle_expired")				\
	X(TABLE_FULL_BYPASSED, "table_full_bypassed")			\
	X(TABLE_FULL_DROPPED, "table_full_dropped")			\
	X(MIDSTREAM_BYPASSED, "midstream_bypassed")			\
	X(DISPATCHED_OUT, "dispatched_out")				\
	X(DISPATCHED_IN, "dispatched_in")				\
	X(DISPATCH_RING_FULL, "dispatch_ring_full")			\
	X(INLINE_NO_FLOW, "inline_tool_segments_without_flow")		\
	X(INLINE_OPENED, "inline_tool_legs_opened")			\
	X(INLINE_SKIPPED_DOWN, "inline_tool_down_bypassed")		\
	X(INLINE_BLOCKED_DOWN, "inline_tool_down_blocked")		\
	X(INLINE_GAVE_UP, "inline_tool_leg_failed_bypassed")		\
	X(INLINE_HEARTBEATS_SENT, "inline_tool_heartbeats_sent")	\
	X(INLINE_HEARTBEATS_SEEN, "inline_tool_heartbeats_seen")	\
	X(BAD_CHECKSUM, "bad_checksum_dropped")				\
	X(SEGMENT_REFUSED, "segments_refused_by_tcp")			\
	X(OPEN_FAILED, "open_failed")					\
	X(POLICY_BYPASSED, "policy_bypassed_at_syn")			\
	X(POLICY_DROPPED, "policy_dropped_at_syn")			\
	X(RECORD_DROPPED, "record_frames_dropped")			\
	X(BYPASS_COPIED, "bypassed_frames_copied")			\
	X(BYPASS_COPY_LOST, "bypassed_copies_lost")			\
	X(PROXY_TX_NOMBUF, "proxy_tx_nombuf")

enum ps_flow_event {
#define PS_X(name, str) PS_FLOW_##name,
	PS_FLOW_EVENTS(PS_X)
#undef PS_X
	PS_FLOW_EVENT_MAX
};

/* Name of a flow event counter, as shown by `plainsight-ctl stats`. */
const char *ps_flow_event_name(enum ps_flow_event ev);

struct ps_port_counters {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t tx_dropped;	/* not accepted by the egress queue */
};

struct ps_worker_stats {
	uint64_t polls;
	uint64_t busy_polls;
	uint64_t busy_cycles;	/* TSC cycles of the busy polls, start to end */
	struct ps_port_counters port[PS_PORTS_MAX];
	uint64_t pkt_reason[PS_PKT_REASON_MAX];		/* parser verdicts */
	uint64_t bridge[PS_BRIDGE_EVENT_MAX];
	uint64_t flow[PS_FLOW_EVENT_MAX];
	uint32_t flows_active;
} __rte_cache_aligned;

#endif /* PS_STATS_H */
