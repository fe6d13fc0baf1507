/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-dp process state: ports, workers and the shared stop flag.
 * Only dataplane/dpdk/ includes DPDK headers.
 */
#ifndef PS_DP_H
#define PS_DP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "ps_flow_table.h"
#include "ps_proxy.h"
#include "ps_tcp.h"
#include "ps_timer.h"
#include "ps_tls_flow.h"
#include "ps_tool.h"

#include "ps_config.h"
#include "ps_policy.h"
#include "ps_stats.h"

struct ps_policy_rt;
struct ps_profile_ctx;

#define PS_INLINE_PAIRS_MAX	(PS_PORTS_MAX / 2)

/*
 * An inline tool: a pair of tool-inline ports, A (side a, towards the
 * client) and B. Its health comes from heartbeat frames sent through it
 * both ways by worker 0 and seen back by any worker (atomics).
 */
struct ps_inline_pair {
	char name[PS_NAME_MAX];		/* the pair's name */
	uint16_t port[2];		/* ports[] index: [0] A, [1] B */
	uint64_t seen_us[2];		/* a heartbeat came in at [0] A, [1] B */
	uint64_t next_hb_us;		/* worker 0 only */
	uint64_t hb_seq;
	uint8_t up;			/* 1 healthy, 0 down */
	uint64_t changes;		/* health state changes */
	uint64_t flows;			/* legs opened through it */
	uint64_t resets;		/* legs reset by it */
	uint64_t bytes[2];		/* plaintext out of it: [0] client->server */
};

#define PS_RXQ_PER_WORKER_MAX	(PS_PORTS_MAX * 4)
#define PS_SCRATCH_SIZE		(64 * 1024 + 256)

struct ps_dp;
struct ps_recorder;
struct ps_capture;

struct ps_dp_port {
	uint16_t port_id;		/* DPDK port id */
	const struct ps_port_cfg *cfg;
	int bridge_to;			/* index of the egress port, or -1 */
	uint16_t n_rxq;
	uint16_t n_txq;
	bool rss;			/* symmetric RSS configured */
	char driver[32];
};

/* Frames queued for one egress port on the worker's own tx queue. */
#define PS_TXBUF_SIZE	64

struct ps_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[PS_TXBUF_SIZE];
};

struct ps_rxq_ref {
	uint16_t port;			/* index into dp->ports */
	uint16_t queue;
};

struct ps_worker {
	unsigned int id;		/* 0 .. n_workers-1, also its tx queue */
	unsigned int lcore;
	struct ps_dp *dp;
	struct rte_mempool *pool;
	unsigned int n_rxq;
	struct ps_rxq_ref rxq[PS_RXQ_PER_WORKER_MAX];
	uint8_t *linear;		/* copy of a multi-segment frame */
	uint8_t *fragbuf;		/* one fragment being built */
	struct ps_txbuf tx[PS_PORTS_MAX];
	struct ps_flow_table *flows;	/* flows this worker owns */
	struct ps_timer_wheel *timers;
	struct ps_tcp_stats tcp_stats;	/* its endpoints' counters */
	struct ps_proxy_io io;		/* frames out of its proxies */
	uint8_t *px_scratch;
	struct ps_tcp_out *px_out;
	uint16_t cur_port[2];		/* egress of the flow being worked on */
	struct rte_mbuf *px_pending;	/* frame being built by a proxy */
	struct ps_tls_flow_stats tls_stats;	/* its TLS stages' counters */
	struct ps_tool_io tool_io;	/* frames towards tool ports */
	struct ps_tool_stats tool_stats;
	uint16_t cur_tool;		/* tool port (ports[] index) being written */
	struct ps_tool_stats tool_before;	/* tool_stats before the current call */
	struct ps_tool_stats tool_port_stats[PS_PORTS_MAX + 1];	/* per dp->tool_port[] */
	uint8_t *tool_scratch;
	struct ps_proxy_io il_io;	/* frames of inline tool legs */
	uint16_t cur_il[2];		/* their ports: [0] A, [1] B */
	struct rte_ring *rec_ring;	/* frames to the recorder thread (SPSC) */
	struct rte_ring *inbox[PS_WORKERS_MAX];	/* from worker i (SPSC) */
	uint64_t now_us;
	struct ps_worker_stats stats;
};

struct ps_dp {
	const struct ps_config *cfg;
	struct ps_dp_port ports[PS_PORTS_MAX];
	unsigned int n_ports;
	int16_t port_index[RTE_MAX_ETHPORTS];	/* DPDK port id -> ports[] index */
	uint8_t intercept[65536 / 8];	/* bitmap of selected TCP server ports */
	uint64_t tsc_per_us;
	bool rss_dispatch;		/* NICs already deliver flows to owners */
	struct ps_tcp_cfg tcp_cfg;	/* every proxied endpoint's settings */
	/* TLS interception (cfg->tls.enabled): shared by every worker. */
	bool tls_on;
	bool checking;			/* --check: load and verify, write nothing */
	struct ps_tls_ca *ca, *ca_untrusted;
	struct ps_tls_forge *forge, *forge_untrusted;
	struct ps_tls_icpt icpt;
	struct ps_tls_known known[PS_KNOWN_SERVERS_MAX];
	unsigned int n_known;
	/* Session records of intercepted flows, shared (ps_session.h). */
	struct ps_sess_store sessions;
	bool sessions_on;
	/*
	 * The traffic policy (NULL: decrypt everything selected). Workers
	 * read it without locks; the management thread swaps it and frees
	 * the old one once every worker has passed a quiescent state (QSBR).
	 */
	struct ps_policy_rt *policy;
	struct ps_policy_rt *shadow_policy;	/* NULL: none; records only */
	struct rte_rcu_qsbr *rcu;
	pthread_mutex_t policy_lock;	/* one writer at a time */
	uint64_t policy_generation;
	/* Upstream TLS contexts of the policies' profiles, by content; kept
	 * until exit (connections borrow them), at most PS_PROFILES_MAX. */
	struct ps_profile_ctx *profiles;
	unsigned int n_profiles;
	/* Inline tools (tool-inline port pairs) and their legs' TCP settings. */
	struct ps_inline_pair inl[PS_INLINE_PAIRS_MAX];
	unsigned int n_inl;
	struct ps_tcp_cfg il_tcp_cfg;
	uint16_t segments[PS_PORTS_MAX];	/* ports[] index of each segment's side a */
	unsigned int n_segments;
	/* Out-of-band tool ports: ports[] index and settings of each. */
	unsigned int n_tools;
	uint16_t tool_port[PS_PORTS_MAX + 1];	/* PS_TOOL_PORT_RECORDER: the recorder */
	struct ps_tool_cfg tool_cfg[PS_PORTS_MAX + 1];
	struct ps_recorder *recorder;	/* NULL: no recording */
	struct ps_capture *capture;	/* packet capture (ps_capture.h) */
	struct ps_worker *workers[PS_WORKERS_MAX];
	unsigned int n_workers;
	struct rte_mempool *pool;
	volatile int quit;		/* set by the signal handler */
	time_t started;
};

/*
 * Configure and start every port of dp->cfg with one tx queue per worker and
 * up to one rx queue per worker, and spread the rx queues over the workers.
 * Called once by the main lcore after EAL init. On error writes one line into
 * err and returns a negative errno; ports already started are left to
 * ps_ports_stop().
 */
int ps_ports_start(struct ps_dp *dp, char *err, size_t errlen);

/* Stop and close every port. Main lcore, after the workers returned. */
void ps_ports_stop(struct ps_dp *dp);

/*
 * Allocate the workers of dp->cfg (per-lcore memory on the lcore's socket).
 * Returns 0 or a negative errno.
 */
int ps_workers_create(struct ps_dp *dp);

void ps_workers_free(struct ps_dp *dp);

/*
 * lcore entry point of a worker: polls its rx queues until dp->quit is set.
 * arg is the struct ps_worker. Returns 0.
 */
int ps_worker_main(void *arg);

/* m's frame as contiguous bytes (*len of them): its data or a copy. Worker only. */
const uint8_t *ps_worker_frame(struct ps_worker *w, struct rte_mbuf *m, uint32_t *len);

/*
 * Software dispatch: hand m (a segment of a flow owned by worker owner)
 * to its owner's inbox; a full inbox drops it (counted). Worker only.
 */
void ps_worker_hand_over(struct ps_worker *w, unsigned int owner, struct rte_mbuf *m);

/* Queue m for transmission on port egress (a ports[] index). Worker only. */
void ps_worker_tx(struct ps_worker *w, uint16_t egress, struct rte_mbuf *m);

/*
 * Load the appliance CA(s) and build the shared TLS context from
 * dp->cfg->tls (nothing when the section is absent), and the tool-port
 * settings. Before EAL init is fine: no DPDK call. One line into err on
 * failure. ps_tls_stop() releases it all (safe after a failed start).
 */
int ps_tls_start(struct ps_dp *dp, char *err, size_t errlen);
void ps_tls_stop(struct ps_dp *dp);

/*
 * Load the policy at path and make it the live one (NULL path: none, every
 * selected flow is decrypted; a wholly shadow policy goes to the shadow
 * slot). Workers see it at their next decision; the old one is freed once
 * no worker can still use it. On error the running policy stays; errs
 * (may be NULL) gets every problem, warnings (may be NULL) the settings
 * that wait for a restart. Main thread at start, then the management
 * thread only.
 */
int ps_policy_apply(struct ps_dp *dp, const char *path, struct ps_pol_errors *errs,
		    json_t *warnings);

/* Wall clock, ms since the epoch (session records, policy times). */
static inline uint64_t
ps_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The policy a worker decides with; call between two quiescent states. */
static inline const struct ps_policy_rt *
ps_policy_current(const struct ps_dp *dp)
{
	return __atomic_load_n(&dp->policy, __ATOMIC_ACQUIRE);
}

/* Management thread: serves the control socket until dp->quit is set. */
struct ps_mgmt;

int ps_mgmt_start(struct ps_dp *dp, const char *path, struct ps_mgmt **out,
		  char *err, size_t errlen);
void ps_mgmt_stop(struct ps_mgmt *m);

#endif /* PS_DP_H */
