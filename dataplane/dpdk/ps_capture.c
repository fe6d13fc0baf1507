/* SPDX-License-Identifier: BSD-3-Clause
 * Packet capture for support cases (ps_capture.h, docs/control.md).
 *
 * Threads: the management thread arms and queries a capture (under
 * cap->lock); workers copy frames while cap->hot.armed points to the run
 * (no lock: they only read the run's filter and write their own counters
 * and ring); the run's writer thread owns the pcap file, drains the rings
 * and disarms. Disarming waits for every worker to pass a quiescent state
 * (dp->rcu) before the rings are drained for the last time, so no copy is
 * left behind and no worker holds the run when its results are read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "ps_capture.h"
#include "ps_dp.h"
#include "ps_pkt.h"

#define CAP_COUNT_DEFAULT	1000u
#define CAP_COUNT_MAX		100000u
#define CAP_SECONDS_DEFAULT	10u
#define CAP_SECONDS_MAX		300u
#define CAP_RING_SIZE		1024u		/* per worker */
#define CAP_POOL_SIZE		4095u		/* copies in flight, all workers */
#define CAP_SNAPLEN		65535u
#define CAP_BURST		64u
#define CAP_IDLE_NS		(1000 * 1000)	/* writer's nap when every ring is empty */

enum cap_end {
	CAP_END_NONE,
	CAP_END_COUNT,
	CAP_END_TIME,
	CAP_END_REQUEST,
	CAP_END_SHUTDOWN,
	CAP_END_WRITE_ERROR,
};

static const char *const cap_end_names[] = {
	[CAP_END_NONE] = "running",
	[CAP_END_COUNT] = "count",
	[CAP_END_TIME] = "time",
	[CAP_END_REQUEST] = "request",
	[CAP_END_SHUTDOWN] = "shutdown",
	[CAP_END_WRITE_ERROR] = "write_error",
};

/* A worker's counters of one run, on a line of their own. */
struct cap_wstat {
	uint64_t copied;
	uint64_t dropped;		/* ring full or pool empty */
} __rte_cache_aligned;

struct ps_capture_run {
	/* Read by workers while armed; written before arming only. */
	uint16_t port;			/* dp->ports index */
	uint8_t host_l3;		/* PS_L3_IPV4/6, or PS_L3_NONE: any host */
	bool has_l4port;
	uint16_t l4port;
	struct ps_ip_addr host;
	uint32_t count;
	struct rte_mempool *pool;
	struct rte_ring **ring;		/* [worker] */
	uint8_t **scratch;		/* [worker]: a multi-segment frame, linear */
	uint64_t taken;			/* copies queued, all workers (atomic) */
	struct cap_wstat w[PS_WORKERS_MAX];

	/* The writer's. */
	struct ps_capture_mgr *mgr;
	uint64_t id;
	uint32_t seconds;
	char port_name[PS_NAME_MAX];
	char host_text[INET6_ADDRSTRLEN];
	char path[PATH_MAX];
	pcap_t *pd;
	pcap_dumper_t *dumper;
	uint64_t tsc_hz, tsc0, wall0_ns;
	struct timespec t0;
	uint8_t *buf;			/* a frame made linear for pcap_dump() */
	uint64_t written;		/* atomic: read by the status command */
	uint64_t dropped;		/* final, once done */
	uint64_t elapsed_ms;		/* final, once done */
	int stop;			/* atomic: capture_stop, or shutdown */
	enum cap_end end;		/* atomic: CAP_END_NONE while running */
};

struct ps_capture_mgr {
	struct ps_capture hot;		/* first: dp->capture points here */
	struct ps_dp *dp;
	pthread_mutex_t lock;
	struct ps_capture_run *run;	/* the running or the last finished one */
	bool running;
	bool thread_live;		/* thread to join */
	pthread_t thread;
	uint64_t next_id;
	/* Made at the first capture, kept until exit. */
	struct rte_mempool *pool;
	struct rte_ring *ring[PS_WORKERS_MAX];
	uint8_t *scratch[PS_WORKERS_MAX];
	/* Totals since start (stats). */
	uint64_t started, refused_busy, frames_written, frames_dropped, write_errors;
};

static struct ps_capture_mgr *
mgr_of(struct ps_dp *dp)
{
	return (struct ps_capture_mgr *)dp->capture;
}

/* ------------------------------------------------------------------ */
/* Workers. */

static bool
frame_matches(const struct ps_capture_run *run, unsigned int worker, const struct rte_mbuf *m)
{
	const uint8_t *frame;
	struct ps_pkt p;
	uint32_t len = rte_pktmbuf_pkt_len(m);

	if (run->host_l3 == PS_L3_NONE && !run->has_l4port)
		return true;
	if (likely(rte_pktmbuf_is_contiguous(m))) {
		frame = rte_pktmbuf_mtod(m, const uint8_t *);
	} else {
		if (len > PS_SCRATCH_SIZE)
			len = PS_SCRATCH_SIZE;
		frame = rte_pktmbuf_read(m, 0, len, run->scratch[worker]);
	}
	if (frame == NULL || ps_pkt_parse(frame, len, &p) != PS_PKT_OK)
		return false;
	if (run->host_l3 != PS_L3_NONE &&
	    (p.l3 != run->host_l3 || (memcmp(&p.src, &run->host, sizeof(p.src)) != 0 &&
				      memcmp(&p.dst, &run->host, sizeof(p.dst)) != 0)))
		return false;
	if (run->has_l4port &&
	    (!p.has_l4 || (p.ip_proto != PS_IPPROTO_TCP && p.ip_proto != PS_IPPROTO_UDP) ||
	     (p.sport != run->l4port && p.dport != run->l4port)))
		return false;
	return true;
}

void
ps_capture_frames(struct ps_capture_run *run, unsigned int worker, uint16_t port,
		  struct rte_mbuf *const *pkts, uint16_t n)
{
	struct cap_wstat *ws = &run->w[worker];
	uint16_t i;

	if (port != run->port)
		return;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *c;

		/* Enough queued for the count: nothing more to copy. */
		if (__atomic_load_n(&run->taken, __ATOMIC_RELAXED) >= run->count)
			return;
		if (!frame_matches(run, worker, pkts[i]))
			continue;
		c = rte_pktmbuf_copy(pkts[i], run->pool, 0, UINT32_MAX);
		if (c == NULL) {
			ws->dropped++;
			continue;
		}
		*(uint64_t *)rte_mbuf_to_priv(c) = rte_get_tsc_cycles();
		if (rte_ring_sp_enqueue(run->ring[worker], c) != 0) {
			rte_pktmbuf_free(c);
			ws->dropped++;
			continue;
		}
		ws->copied++;
		__atomic_fetch_add(&run->taken, 1, __ATOMIC_RELAXED);
	}
}

/* ------------------------------------------------------------------ */
/* The writer thread. */

static uint64_t
mono_ns_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000000000u +
	       (uint64_t)now.tv_nsec - (uint64_t)t0->tv_nsec;
}

static void
write_one(struct ps_capture_run *run, struct rte_mbuf *m)
{
	struct pcap_pkthdr h;
	uint64_t tsc = *(uint64_t *)rte_mbuf_to_priv(m);
	uint64_t d = tsc > run->tsc0 ? tsc - run->tsc0 : 0;
	uint64_t ns = run->wall0_ns + d / run->tsc_hz * 1000000000u +
		      d % run->tsc_hz * 1000000000u / run->tsc_hz;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *data;

	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(ns / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(ns % 1000000000u / 1000u);
	h.len = len;
	h.caplen = len < CAP_SNAPLEN ? len : CAP_SNAPLEN;
	data = rte_pktmbuf_read(m, 0, h.caplen, run->buf);
	if (data == NULL)
		return;
	pcap_dump((u_char *)run->dumper, &h, data);
	__atomic_store_n(&run->written, run->written + 1, __ATOMIC_RELAXED);
}

/* Write (up to the count) or discard what the rings hold. Returns frames taken. */
static unsigned int
drain(struct ps_capture_run *run, unsigned int n_workers)
{
	struct rte_mbuf *ms[CAP_BURST];
	unsigned int i, k, n, total = 0;

	for (i = 0; i < n_workers; i++) {
		n = rte_ring_sc_dequeue_burst(run->ring[i], (void **)ms, CAP_BURST, NULL);
		for (k = 0; k < n; k++) {
			if (run->written < run->count)
				write_one(run, ms[k]);
			rte_pktmbuf_free(ms[k]);
		}
		total += n;
	}
	return total;
}

static void *
writer_main(void *arg)
{
	struct ps_capture_run *run = arg;
	struct ps_capture_mgr *mgr = run->mgr;
	struct ps_dp *dp = mgr->dp;
	const uint64_t limit_ns = (uint64_t)run->seconds * 1000000000u;
	enum cap_end end = CAP_END_NONE;
	unsigned int i;

	__atomic_store_n(&mgr->hot.armed, run, __ATOMIC_RELEASE);
	while (end == CAP_END_NONE) {
		unsigned int got = drain(run, dp->n_workers);

		if (run->written >= run->count)
			end = CAP_END_COUNT;
		else if (__atomic_load_n(&run->stop, __ATOMIC_RELAXED))
			end = CAP_END_REQUEST;
		else if (__atomic_load_n(&dp->quit, __ATOMIC_RELAXED))
			end = CAP_END_SHUTDOWN;
		else if (mono_ns_since(&run->t0) >= limit_ns)
			end = CAP_END_TIME;
		else if (got == 0)
			nanosleep(&(struct timespec){ .tv_nsec = CAP_IDLE_NS }, NULL);
	}
	__atomic_store_n(&mgr->hot.armed, NULL, __ATOMIC_RELEASE);
	/* No worker may still be copying into the rings: then the last drain. */
	rte_rcu_qsbr_synchronize(dp->rcu, RTE_QSBR_THRID_INVALID);
	while (drain(run, dp->n_workers) > 0)
		;
	if (pcap_dump_flush(run->dumper) != 0)
		end = CAP_END_WRITE_ERROR;
	pcap_dump_close(run->dumper);	/* closes the file */
	run->dumper = NULL;
	pcap_close(run->pd);
	run->pd = NULL;
	run->dropped = 0;
	for (i = 0; i < dp->n_workers; i++)
		run->dropped += run->w[i].dropped;
	run->elapsed_ms = mono_ns_since(&run->t0) / 1000000u;

	pthread_mutex_lock(&mgr->lock);
	mgr->frames_written += run->written;
	mgr->frames_dropped += run->dropped;
	if (end == CAP_END_WRITE_ERROR)
		mgr->write_errors++;
	__atomic_store_n(&run->end, end, __ATOMIC_RELEASE);
	mgr->running = false;
	pthread_mutex_unlock(&mgr->lock);
	RTE_LOG(INFO, USER1, "capture %lu: %lu frames written to %s (%lu dropped), ended by %s\n",
		(unsigned long)run->id, (unsigned long)run->written, run->path,
		(unsigned long)run->dropped, cap_end_names[end]);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Management thread. */

static json_t *
cap_error(const char *msg, bool bad_request)
{
	return json_pack("{s:b, s:s, s:b}", "ok", 0, "error", msg, "bad_request", bad_request);
}

/* The capture mempool and rings, at the first capture. mgr->lock held. */
static int
resources(struct ps_capture_mgr *mgr)
{
	struct ps_dp *dp = mgr->dp;
	unsigned int i;

	if (mgr->pool == NULL) {
		/* Cache 0: copies are allocated by workers and freed by the
		 * writer, which is not an lcore. The private area holds the
		 * time the frame was seen. */
		mgr->pool = rte_pktmbuf_pool_create("ps_capture", CAP_POOL_SIZE, 0,
						    RTE_ALIGN(sizeof(uint64_t), RTE_MBUF_PRIV_ALIGN),
						    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		if (mgr->pool == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < dp->n_workers; i++) {
		char name[RTE_RING_NAMESIZE];

		if (mgr->ring[i] != NULL)
			continue;
		snprintf(name, sizeof(name), "ps_cap_%02u", (uint8_t)i);
		mgr->ring[i] = rte_ring_create(name, CAP_RING_SIZE,
					       (int)rte_lcore_to_socket_id(dp->workers[i]->lcore),
					       RING_F_SP_ENQ | RING_F_SC_DEQ);
		mgr->scratch[i] = rte_malloc("ps_cap_scratch", PS_SCRATCH_SIZE, 0);
		if (mgr->ring[i] == NULL || mgr->scratch[i] == NULL)
			return -ENOMEM;
	}
	return 0;
}

static void
run_free(struct ps_capture_run *run)
{
	if (run == NULL)
		return;
	if (run->dumper != NULL)
		pcap_dump_close(run->dumper);
	if (run->pd != NULL)
		pcap_close(run->pd);
	free(run->buf);
	rte_free(run);
}

/* Request fields into run; NULL, or the message of a bad request. */
static const char *
parse_start(struct ps_dp *dp, json_t *req, struct ps_capture_run *run, char *msg, size_t len)
{
	const char *port = json_string_value(json_object_get(req, "port"));
	json_t *host = json_object_get(req, "host");
	json_t *l4 = json_object_get(req, "tcp_port");
	json_t *count = json_object_get(req, "count");
	json_t *secs = json_object_get(req, "seconds");
	const char *path = json_string_value(json_object_get(req, "path"));
	int idx;

	idx = port != NULL ? ps_config_port_index(dp->cfg, port) : -1;
	if (idx < 0) {
		snprintf(msg, len, "unknown port \"%s\"", port != NULL ? port : "");
		return msg;
	}
	run->port = (uint16_t)idx;
	snprintf(run->port_name, sizeof(run->port_name), "%s", port);
	run->host_l3 = PS_L3_NONE;
	if (host != NULL && !json_is_null(host)) {
		const char *h = json_string_value(host);

		if (h != NULL && inet_pton(AF_INET, h, run->host.b) == 1)
			run->host_l3 = PS_L3_IPV4;
		else if (h != NULL && inet_pton(AF_INET6, h, run->host.b) == 1)
			run->host_l3 = PS_L3_IPV6;
		else
			return "host: expected an IPv4 or IPv6 address";
		snprintf(run->host_text, sizeof(run->host_text), "%s", h);
	}
	if (l4 != NULL && !json_is_null(l4)) {
		if (!json_is_integer(l4) || json_integer_value(l4) < 1 ||
		    json_integer_value(l4) > 65535)
			return "tcp_port: expected 1..65535";
		run->has_l4port = true;
		run->l4port = (uint16_t)json_integer_value(l4);
	}
	run->count = CAP_COUNT_DEFAULT;
	if (count != NULL) {
		if (!json_is_integer(count) || json_integer_value(count) < 1 ||
		    json_integer_value(count) > CAP_COUNT_MAX)
			return "count: expected 1..100000";
		run->count = (uint32_t)json_integer_value(count);
	}
	run->seconds = CAP_SECONDS_DEFAULT;
	if (secs != NULL) {
		if (!json_is_integer(secs) || json_integer_value(secs) < 1 ||
		    json_integer_value(secs) > CAP_SECONDS_MAX)
			return "seconds: expected 1..300";
		run->seconds = (uint32_t)json_integer_value(secs);
	}
	if (path == NULL || path[0] != '/')
		return "path: expected an absolute path";
	if (strlen(path) >= sizeof(run->path))
		return "path: too long";
	snprintf(run->path, sizeof(run->path), "%s", path);
	return NULL;
}

/*
 * The file: created here, never overwritten, never through a symbolic
 * link, private to its owner (frames carry whatever the wire carried).
 */
static const char *
open_file(struct ps_capture_run *run, char *msg, size_t len)
{
	FILE *f;
	int fd;

	fd = open(run->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			snprintf(msg, len, "%s exists: a capture never overwrites a file",
				 run->path);
		else
			snprintf(msg, len, "%s: cannot create: %s", run->path, strerror(errno));
		return msg;
	}
	(void)fchmod(fd, 0600);
	f = fdopen(fd, "wb");
	run->pd = pcap_open_dead(DLT_EN10MB, CAP_SNAPLEN);
	if (f == NULL || run->pd == NULL)
		goto fail;
	run->dumper = pcap_dump_fopen(run->pd, f);
	if (run->dumper == NULL)
		goto fail;
	return NULL;
fail:
	if (f != NULL)
		fclose(f);
	else
		close(fd);
	(void)unlink(run->path);
	snprintf(msg, len, "%s: cannot start the pcap file", run->path);
	return msg;
}

static json_t *
cmd_start(struct ps_capture_mgr *mgr, json_t *req)
{
	struct ps_dp *dp = mgr->dp;
	struct ps_capture_run *run;
	struct timespec wall;
	const char *bad;
	char msg[PATH_MAX + 128];
	json_t *reply;
	unsigned int i;

	pthread_mutex_lock(&mgr->lock);
	if (mgr->running) {
		const struct ps_capture_run *cur = mgr->run;

		mgr->refused_busy++;
		snprintf(msg, sizeof(msg), "a capture is already running (id %lu, port %s, "
			 "to %s): one at a time", (unsigned long)cur->id, cur->port_name,
			 cur->path);
		reply = cap_error(msg, false);
		goto out;
	}
	if (mgr->thread_live) {
		pthread_join(mgr->thread, NULL);	/* finished: returns at once */
		mgr->thread_live = false;
	}
	run = rte_zmalloc("ps_capture_run", sizeof(*run), RTE_CACHE_LINE_SIZE);
	if (run == NULL) {
		reply = cap_error("out of memory", false);
		goto out;
	}
	bad = parse_start(dp, req, run, msg, sizeof(msg));
	if (bad != NULL) {
		rte_free(run);
		reply = cap_error(bad, true);
		goto out;
	}
	run->buf = malloc(CAP_SNAPLEN);
	if (run->buf == NULL || resources(mgr) < 0) {
		run_free(run);
		reply = cap_error("cannot allocate the capture buffers (EAL memory)", false);
		goto out;
	}
	bad = open_file(run, msg, sizeof(msg));
	if (bad != NULL) {
		run_free(run);
		reply = cap_error(bad, false);
		goto out;
	}
	run->mgr = mgr;
	run->pool = mgr->pool;
	run->ring = mgr->ring;
	run->scratch = mgr->scratch;
	run->id = ++mgr->next_id;
	run->tsc_hz = rte_get_tsc_hz();
	if (run->tsc_hz == 0)
		run->tsc_hz = 1;
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_MONOTONIC, &run->t0);
	run->tsc0 = rte_get_tsc_cycles();
	run->wall0_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
	/* An earlier run drained its rings after its quiescent wait: they
	 * are empty, and whatever is there would not be this run's. */
	for (i = 0; i < dp->n_workers; i++) {
		struct rte_mbuf *old;

		while (rte_ring_sc_dequeue(mgr->ring[i], (void **)&old) == 0)
			rte_pktmbuf_free(old);
	}
	if (pthread_create(&mgr->thread, NULL, writer_main, run) != 0) {
		(void)unlink(run->path);
		run_free(run);
		reply = cap_error("cannot start the capture thread", false);
		goto out;
	}
	run_free(mgr->run);		/* the previous, finished one */
	mgr->run = run;
	mgr->running = true;
	mgr->thread_live = true;
	mgr->started++;
	reply = json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)run->id);
out:
	pthread_mutex_unlock(&mgr->lock);
	return reply;
}

static json_t *
cmd_status(struct ps_capture_mgr *mgr)
{
	const struct ps_capture_run *run;
	enum cap_end end;
	json_t *r;
	uint64_t dropped = 0;
	unsigned int i;

	pthread_mutex_lock(&mgr->lock);
	run = mgr->run;
	if (run == NULL) {
		pthread_mutex_unlock(&mgr->lock);
		return json_pack("{s:b, s:s}", "ok", 1, "state", "idle");
	}
	end = __atomic_load_n(&run->end, __ATOMIC_ACQUIRE);
	if (end == CAP_END_NONE) {
		for (i = 0; i < mgr->dp->n_workers; i++)
			dropped += __atomic_load_n(&run->w[i].dropped, __ATOMIC_RELAXED);
	} else {
		dropped = run->dropped;
	}
	r = json_pack("{s:b, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}",
		      "ok", 1, "id", (json_int_t)run->id,
		      "state", end == CAP_END_NONE ? "running" : "done",
		      "port", run->port_name, "path", run->path,
		      "count", (json_int_t)run->count, "seconds", (json_int_t)run->seconds,
		      "written", (json_int_t)__atomic_load_n(&run->written, __ATOMIC_RELAXED),
		      "dropped", (json_int_t)dropped, "ended_by", cap_end_names[end]);
	json_object_set_new(r, "host", run->host_l3 != PS_L3_NONE ?
			    json_string(run->host_text) : json_null());
	json_object_set_new(r, "tcp_port", run->has_l4port ?
			    json_integer(run->l4port) : json_null());
	if (end != CAP_END_NONE)
		json_object_set_new(r, "elapsed_ms", json_integer((json_int_t)run->elapsed_ms));
	pthread_mutex_unlock(&mgr->lock);
	return r;
}

static json_t *
cmd_stop(struct ps_capture_mgr *mgr, json_t *req)
{
	json_t *id = json_object_get(req, "id");
	json_t *r;

	pthread_mutex_lock(&mgr->lock);
	if (!mgr->running) {
		r = cap_error("no capture is running", false);
	} else if (id != NULL && (json_int_t)mgr->run->id != json_integer_value(id)) {
		r = cap_error("another capture is running (not that id)", false);
	} else {
		__atomic_store_n(&mgr->run->stop, 1, __ATOMIC_RELAXED);
		r = json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)mgr->run->id);
	}
	pthread_mutex_unlock(&mgr->lock);
	return r;
}

json_t *
ps_capture_cmd(struct ps_dp *dp, json_t *req, const char *cmd)
{
	struct ps_capture_mgr *mgr = mgr_of(dp);

	if (mgr == NULL)
		return cap_error("capture is not available", false);
	if (strcmp(cmd, "start") == 0)
		return cmd_start(mgr, req);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(mgr);
	if (strcmp(cmd, "stop") == 0)
		return cmd_stop(mgr, req);
	return cap_error("unknown command (expected capture_start, capture_status or "
			 "capture_stop)", true);
}

json_t *
ps_capture_stats_add(struct ps_dp *dp, json_t *reply)
{
	struct ps_capture_mgr *mgr = mgr_of(dp);

	if (mgr == NULL || reply == NULL)
		return reply;
	pthread_mutex_lock(&mgr->lock);
	json_object_set_new(reply, "capture", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		"started", (json_int_t)mgr->started,
		"running", (json_int_t)(mgr->running ? 1 : 0),
		"refused_busy", (json_int_t)mgr->refused_busy,
		"frames_written", (json_int_t)mgr->frames_written,
		"frames_dropped", (json_int_t)mgr->frames_dropped,
		"write_errors", (json_int_t)mgr->write_errors));
	pthread_mutex_unlock(&mgr->lock);
	return reply;
}

/* ------------------------------------------------------------------ */
/* Start and stop. */

int
ps_capture_init(struct ps_dp *dp)
{
	struct ps_capture_mgr *mgr;

	mgr = rte_zmalloc("ps_capture", sizeof(*mgr), RTE_CACHE_LINE_SIZE);
	if (mgr == NULL)
		return -ENOMEM;
	mgr->dp = dp;
	pthread_mutex_init(&mgr->lock, NULL);
	dp->capture = &mgr->hot;
	return 0;
}

void
ps_capture_fini(struct ps_dp *dp)
{
	struct ps_capture_mgr *mgr;
	unsigned int i;

	if (dp == NULL || dp->capture == NULL)
		return;
	mgr = mgr_of(dp);
	pthread_mutex_lock(&mgr->lock);
	if (mgr->running)
		__atomic_store_n(&mgr->run->stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mgr->lock);
	if (mgr->thread_live)
		pthread_join(mgr->thread, NULL);
	run_free(mgr->run);
	for (i = 0; i < PS_WORKERS_MAX; i++) {
		rte_ring_free(mgr->ring[i]);
		rte_free(mgr->scratch[i]);
	}
	rte_mempool_free(mgr->pool);
	pthread_mutex_destroy(&mgr->lock);
	dp->capture = NULL;
	rte_free(mgr);
}
