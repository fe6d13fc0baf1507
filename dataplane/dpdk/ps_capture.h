/* SPDX-License-Identifier: BSD-3-Clause
 * Packet capture for support cases (plainsight-ctl capture): the frames a
 * port receives and sends, or those of one host or port, written to a
 * classic pcap file by the data plane, as dpdk-dumpcap would.
 *
 * One capture at a time. While one is armed, workers copy matching frames
 * into a capture mempool and onto their own single-producer ring; a
 * writer thread drains the rings into the file and disarms after the
 * frame count or the time limit. A full ring or an empty pool drops the
 * copy (counted), never the frame, and never blocks a worker. With no
 * capture armed, a worker pays one load and one predictable branch per
 * burst received and per frame sent. See docs/control.md "capture".
 */
#ifndef PS_CAPTURE_H
#define PS_CAPTURE_H

#include <stdint.h>

#include <jansson.h>
#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

struct ps_dp;
struct ps_capture_run;

/* What workers read; the rest of the state is private to ps_capture.c. */
struct ps_capture {
	struct ps_capture_run *armed;	/* NULL: nothing captures */
};

/*
 * Allocate the capture state of dp into dp->capture (the mempool and
 * rings are made at the first capture, so an appliance that never
 * captures pays nothing). After ps_workers_create(). 0 or -ENOMEM.
 */
int ps_capture_init(struct ps_dp *dp);

/*
 * Stop a running capture (its file is completed) and free everything.
 * Main thread, after the management thread and the workers stopped, before
 * ps_workers_free() and ps_policy_fini() (the writer waits on dp->rcu).
 * NULL-safe, and safe after a failed ps_capture_init().
 */
void ps_capture_fini(struct ps_dp *dp);

/*
 * A control-socket command: cmd is the part after "capture_" ("start",
 * "status", "stop"), req the request (borrowed). Returns the reply (new
 * reference). Management thread only.
 */
json_t *ps_capture_cmd(struct ps_dp *dp, json_t *req, const char *cmd);

/*
 * Add the capture counters to a stats reply (as "capture") and return it.
 * Management thread.
 */
json_t *ps_capture_stats_add(struct ps_dp *dp, json_t *reply);

/* Copy the matching frames of pkts[0..n), seen on port (a dp->ports index). */
void ps_capture_frames(struct ps_capture_run *run, unsigned int worker, uint16_t port,
		       struct rte_mbuf *const *pkts, uint16_t n);

/*
 * The worker's hook, once per burst received and once per frame sent:
 * frames of port (dp->ports index) go to the armed capture, if any. The
 * frames stay the caller's. Worker lcore; cap may not be NULL.
 */
static inline void
ps_capture_hook(struct ps_capture *cap, unsigned int worker, uint16_t port,
		struct rte_mbuf *const *pkts, uint16_t n)
{
	struct ps_capture_run *run = __atomic_load_n(&cap->armed, __ATOMIC_ACQUIRE);

	if (unlikely(run != NULL))
		ps_capture_frames(run, worker, port, pkts, n);
}

#endif /* PS_CAPTURE_H */
