/* SPDX-License-Identifier: BSD-3-Clause
 * Worker lcore: the poll loop, the transparent bridge, and the dispatch of
 * selected connections to the worker that owns them (ps_intercept.c).
 *
 * Every frame entering a segment's net port leaves on the other side of the
 * segment byte for byte. The parser runs on every frame (its verdicts are
 * counted per reason, and later stages key flows on its output) but the bridge
 * never rewrites a frame. The one exception is forced by the kernel path: an
 * af_packet port hands the appliance IPv4 datagrams that the kernel already
 * reassembled; those are cut again at the egress MTU exactly as the sender's
 * stack cut them, so what leaves is what entered.
 */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_cycles.h>

#include "ps_capture.h"
#include "ps_decide.h"
#include "ps_dp.h"
#include "ps_frag.h"
#include "ps_inline_tool.h"
#include "ps_intercept.h"
#include "ps_pkt.h"
#include "ps_record.h"

static const char *const bridge_event_names[] = {
#define PS_X(name, str) [PS_BRIDGE_##name] = str,
	PS_BRIDGE_EVENTS(PS_X)
#undef PS_X
};

static const char *const flow_event_names[] = {
#define PS_X(name, str) [PS_FLOW_##name] = str,
	PS_FLOW_EVENTS(PS_X)
#undef PS_X
};

const char *
ps_bridge_event_name(enum ps_bridge_event ev)
{
	if ((unsigned int)ev >= PS_BRIDGE_EVENT_MAX)
		return "unknown";
	return bridge_event_names[ev];
}

const char *
ps_flow_event_name(enum ps_flow_event ev)
{
	if ((unsigned int)ev >= PS_FLOW_EVENT_MAX)
		return "unknown";
	return flow_event_names[ev];
}

static void
tx_flush(struct ps_worker *w, uint16_t egress)
{
	struct ps_txbuf *tb = &w->tx[egress];
	struct ps_port_counters *pc = &w->stats.port[egress];
	uint16_t sent, i;

	if (tb->n == 0)
		return;
	sent = rte_eth_tx_burst(w->dp->ports[egress].port_id, (uint16_t)w->id,
				tb->pkts, tb->n);
	for (i = 0; i < sent; i++)
		pc->tx_bytes += rte_pktmbuf_pkt_len(tb->pkts[i]);
	pc->tx_pkts += sent;
	if (unlikely(sent < tb->n)) {
		pc->tx_dropped += (uint64_t)(tb->n - sent);
		w->stats.bridge[PS_BRIDGE_TX_RING_FULL] += (uint64_t)(tb->n - sent);
		rte_pktmbuf_free_bulk(&tb->pkts[sent], tb->n - sent);
	}
	tb->n = 0;
}

static void
tx_flush_all(struct ps_worker *w)
{
	unsigned int i;

	for (i = 0; i < w->dp->n_ports; i++)
		tx_flush(w, (uint16_t)i);
}

void
ps_worker_tx(struct ps_worker *w, uint16_t egress, struct rte_mbuf *m)
{
	struct ps_txbuf *tb = &w->tx[egress];

	m->ol_flags = 0;	/* no offload requests: bytes go out as they are */
	ps_capture_hook(w->dp->capture, w->id, egress, &m, 1);	/* capture: sent */
	tb->pkts[tb->n++] = m;
	if (tb->n == PS_TXBUF_SIZE)
		tx_flush(w, egress);
}

struct frag_ctx {
	struct ps_worker *w;
	uint16_t egress;
};

static int
emit_fragment(void *ctx, const uint8_t *frag, uint32_t len)
{
	struct frag_ctx *fc = ctx;
	struct rte_mbuf *m;
	char *dst;

	if (len > UINT16_MAX)
		return -EMSGSIZE;
	m = rte_pktmbuf_alloc(fc->w->pool);
	if (m == NULL)
		return -ENOMEM;
	dst = rte_pktmbuf_append(m, (uint16_t)len);
	if (dst == NULL) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(dst, frag, len);
	ps_worker_tx(fc->w, fc->egress, m);
	fc->w->stats.bridge[PS_BRIDGE_FRAGMENTS_OUT]++;
	return 0;
}

/*
 * Forward one frame, already parsed as p (verdict r), to egress. Takes
 * ownership of m.
 */
static void
bridge_one(struct ps_worker *w, uint16_t egress, struct rte_mbuf *m,
	   const uint8_t *frame, uint32_t len, enum ps_pkt_reason r,
	   const struct ps_pkt *p)
{
	const uint16_t mtu = w->dp->ports[egress].cfg->mtu;
	struct frag_ctx fc = { w, egress };
	int rc;

	if (unlikely(r != PS_PKT_OK)) {
		if (w->dp->cfg->malformed == PS_MALFORMED_DROP) {
			w->stats.bridge[PS_BRIDGE_MALFORMED_DROPPED]++;
			rte_pktmbuf_free(m);
			return;
		}
		w->stats.bridge[PS_BRIDGE_MALFORMED_FORWARDED]++;
		ps_worker_tx(w, egress, m);
		return;
	}
	if (likely(p->l3 == PS_L3_NONE || p->l3_end - p->l3_off <= mtu)) {
		ps_worker_tx(w, egress, m);
		return;
	}
	/* Larger than the egress MTU: only kernel-reassembled IPv4 gets here
	 * on a correctly cabled segment. */
	if (p->l3 != PS_L3_IPV4 || p->df) {
		w->stats.bridge[PS_BRIDGE_OVERSIZE_DF_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	rc = ps_ip4_fragment(frame, len, p, mtu, w->fragbuf, PS_SCRATCH_SIZE,
			     emit_fragment, &fc);
	if (rc < 0)
		w->stats.bridge[PS_BRIDGE_FRAG_NO_MBUF]++;
	else
		w->stats.bridge[PS_BRIDGE_FRAGMENTED]++;
	rte_pktmbuf_free(m);
}

const uint8_t *
ps_worker_frame(struct ps_worker *w, struct rte_mbuf *m, uint32_t *len)
{
	*len = rte_pktmbuf_pkt_len(m);
	if (likely(rte_pktmbuf_is_contiguous(m)))
		return rte_pktmbuf_mtod(m, const uint8_t *);
	w->stats.bridge[PS_BRIDGE_MULTISEG_LINEARIZED]++;
	if (*len > PS_SCRATCH_SIZE)
		*len = PS_SCRATCH_SIZE;
	return rte_pktmbuf_read(m, 0, *len, w->linear);
}

/* Is p a TCP segment of a connection the intercept selector picks? */
static inline bool
selected(const struct ps_dp *dp, const struct ps_pkt *p, char side)
{
	uint16_t srv_port;

	if (p->l3 == PS_L3_NONE || !p->has_l4 || p->ip_proto != PS_IPPROTO_TCP)
		return false;
	srv_port = side == 'b' ? p->sport : p->dport;
	return (dp->intercept[srv_port >> 3] >> (srv_port & 7)) & 1;
}

/* See ps_dp.h. */
void
ps_worker_hand_over(struct ps_worker *w, unsigned int owner, struct rte_mbuf *m)
{
	struct rte_ring *ring = w->dp->workers[owner]->inbox[w->id];

	if (rte_ring_sp_enqueue(ring, m) == 0) {
		w->stats.flow[PS_FLOW_DISPATCHED_OUT]++;
		return;
	}
	/* Dropped, not bridged: the connection may be terminated by its
	 * owner, and a raw segment must not reach the other side. TCP
	 * retransmits it. */
	w->stats.flow[PS_FLOW_DISPATCH_RING_FULL]++;
	rte_pktmbuf_free(m);
}

/* Segment index of a net port: the index of its side-a port. */
static inline uint8_t
segment_of(const struct ps_dp_port *in, unsigned int idx)
{
	return (uint8_t)(in->cfg->side == 'a' ? idx : in->cfg->peer);
}

/*
 * A frame the policy bypasses, as it is, to the out-of-band tool ports of
 * mask (bit i: dp->tool_port[i]). A copy without an mbuf is counted lost.
 */
static void
copy_bypassed(struct ps_worker *w, struct rte_mbuf *m, uint64_t mask)
{
	unsigned int i;

	while (mask != 0) {
		struct rte_mbuf *c;

		i = (unsigned int)__builtin_ctzll(mask);
		mask &= mask - 1;
		c = rte_pktmbuf_copy(m, w->pool, 0, UINT32_MAX);
		if (c == NULL) {
			w->stats.flow[PS_FLOW_BYPASS_COPY_LOST]++;
			w->tool_port_stats[i].cnt[PS_TOOL_CNT_FRAMES_LOST]++;
			continue;
		}
		w->stats.flow[PS_FLOW_BYPASS_COPIED]++;
		w->tool_port_stats[i].cnt[PS_TOOL_CNT_FRAMES]++;
		w->tool_port_stats[i].cnt[PS_TOOL_CNT_BYTES] += rte_pktmbuf_pkt_len(c);
		if (w->dp->tool_port[i] == PS_TOOL_PORT_RECORDER)
			(void)ps_record_enqueue(w, c);
		else
			ps_worker_tx(w, w->dp->tool_port[i], c);
	}
}

/*
 * Handle one frame that entered on net port idx. from_inbox: it was handed
 * over by another worker, which already decided this worker owns it.
 */
static void
handle_net(struct ps_worker *w, unsigned int idx, struct rte_mbuf *m,
	   bool from_inbox)
{
	struct ps_dp *dp = w->dp;
	const struct ps_dp_port *in = &dp->ports[idx];
	const uint8_t *frame;
	enum ps_pkt_reason r;
	struct ps_pkt p;
	uint32_t len;

	frame = ps_worker_frame(w, m, &len);
	r = ps_pkt_parse(frame, len, &p);
	if (!from_inbox)
		w->stats.pkt_reason[r]++;
	if (r == PS_PKT_OK && selected(dp, &p, in->cfg->side)) {
		struct ps_flow_key key;
		uint32_t hash;

		/* The key and its hash serve both the owner's choice and the
		 * flow lookup: computed once. */
		if (!ps_flow_key_from_pkt(&p, segment_of(in, idx), in->cfg->side, &key))
			goto bridge;
		hash = ps_flow_key_hash(&key);
		if (!from_inbox && dp->n_workers > 1 && !dp->rss_dispatch) {
			unsigned int owner = hash % dp->n_workers;

			if (owner != w->id) {
				ps_worker_hand_over(w, owner, m);
				return;
			}
		}
		switch (ps_intercept_segment(w, m, frame, &p, idx, &key, hash)) {
		case PS_ICPT_CONSUMED:
			return;
		case PS_ICPT_DROP:
			rte_pktmbuf_free(m);
			return;
		default:
			break;
		}
	}
bridge:
	if (r == PS_PKT_OK) {
		uint64_t copy = ps_decide_copy(w, &p, in->cfg->side, in->cfg->group);

		if (unlikely(copy != 0))
			copy_bypassed(w, m, copy);
	}
	bridge_one(w, (uint16_t)in->bridge_to, m, frame, len, r, &p);
}

static bool
poll_inboxes(struct ps_worker *w, struct rte_mbuf **pkts, uint16_t burst)
{
	struct ps_dp *dp = w->dp;
	bool busy = false;
	unsigned int i, n, k;

	for (i = 0; i < dp->n_workers; i++) {
		if (w->inbox[i] == NULL)
			continue;
		n = rte_ring_sc_dequeue_burst(w->inbox[i], (void **)pkts, burst,
					      NULL);
		if (n == 0)
			continue;
		busy = true;
		w->stats.flow[PS_FLOW_DISPATCHED_IN] += n;
		for (k = 0; k < n; k++) {
			int16_t idx = dp->port_index[pkts[k]->port];

			if (dp->ports[idx].cfg->role == PS_ROLE_TOOL_INLINE)
				ps_inline_rx(w, (unsigned int)idx, pkts[k], true);
			else
				handle_net(w, (unsigned int)idx, pkts[k], true);
		}
	}
	return busy;
}

static void
drain_tool_port(struct ps_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	w->stats.bridge[PS_BRIDGE_TOOL_PORT_RX_DROPPED] += n;
	rte_pktmbuf_free_bulk(pkts, n);
}

int
ps_worker_main(void *arg)
{
	struct ps_worker *w = arg;
	struct ps_dp *dp = w->dp;
	const uint16_t burst = (uint16_t)RTE_MIN(dp->cfg->burst, 256u);
	struct rte_mbuf *pkts[256];
	unsigned int i;
	uint16_t n, k;

	RTE_LOG(INFO, USER1, "worker %u on lcore %u polls %u rx queue(s)\n",
		w->id, w->lcore, w->n_rxq);
	/* A reader of the policy: quiescent once per loop, between decisions. */
	(void)rte_rcu_qsbr_thread_register(dp->rcu, w->id);
	rte_rcu_qsbr_thread_online(dp->rcu, w->id);

	while (!__atomic_load_n(&dp->quit, __ATOMIC_RELAXED)) {
		uint64_t t0 = rte_get_tsc_cycles();
		bool busy = false;

		w->now_us = t0 / dp->tsc_per_us;
		for (i = 0; i < w->n_rxq; i++) {
			const struct ps_rxq_ref *rq = &w->rxq[i];
			const struct ps_dp_port *in = &dp->ports[rq->port];
			struct ps_port_counters *pc = &w->stats.port[rq->port];

			n = rte_eth_rx_burst(in->port_id, rq->queue, pkts, burst);
			if (n == 0)
				continue;
			busy = true;
			pc->rx_pkts += n;
			for (k = 0; k < n; k++)
				pc->rx_bytes += rte_pktmbuf_pkt_len(pkts[k]);
			ps_capture_hook(dp->capture, w->id, rq->port, pkts, n);	/* capture: received */
			if (in->cfg->role == PS_ROLE_TOOL_INLINE) {
				for (k = 0; k < n; k++)
					ps_inline_rx(w, rq->port, pkts[k], false);
				continue;
			}
			if (in->bridge_to < 0) {
				drain_tool_port(w, pkts, n);
				continue;
			}
			for (k = 0; k < n; k++)
				handle_net(w, rq->port, pkts[k], false);
		}
		if (poll_inboxes(w, pkts, burst))
			busy = true;
		if (w->id == 0 && dp->n_inl > 0)
			ps_inline_tools_tick(w);
		tx_flush_all(w);
		ps_intercept_timers(w);
		w->stats.flows_active = ps_flow_count(w->flows);
		w->stats.polls++;
		if (busy) {
			w->stats.busy_polls++;
			w->stats.busy_cycles += rte_get_tsc_cycles() - t0;
		} else {
			rte_pause();
		}
		rte_rcu_qsbr_quiescent(dp->rcu, w->id);
	}
	rte_rcu_qsbr_thread_offline(dp->rcu, w->id);
	(void)rte_rcu_qsbr_thread_unregister(dp->rcu, w->id);
	RTE_LOG(INFO, USER1, "worker %u stopped\n", w->id);
	return 0;
}

int
ps_workers_create(struct ps_dp *dp)
{
	const struct ps_config *cfg = dp->cfg;
	uint64_t now_us;
	unsigned int i, j, p;

	dp->tsc_per_us = rte_get_tsc_hz() / 1000000;
	if (dp->tsc_per_us == 0)
		dp->tsc_per_us = 1;
	now_us = rte_get_tsc_cycles() / dp->tsc_per_us;
	for (i = 0; i < cfg->n_intercept_ports; i++) {
		uint16_t port = cfg->intercept_ports[i];

		dp->intercept[port >> 3] |= (uint8_t)(1u << (port & 7));
	}
	for (p = 0; p < RTE_MAX_ETHPORTS; p++)
		dp->port_index[p] = -1;

	/* Proxied endpoints: MSS from the smallest net port MTU. */
	ps_tcp_cfg_defaults(&dp->tcp_cfg);
	{
		unsigned int mtu = 65535;

		for (p = 0; p < cfg->n_ports; p++)
			if (cfg->ports[p].role == PS_ROLE_NET)
				mtu = RTE_MIN(mtu, (unsigned int)cfg->ports[p].mtu);
		dp->tcp_cfg.mss = (uint16_t)RTE_MAX(mtu, 576u) - 40;
		dp->tcp_cfg.mss6 = (uint16_t)RTE_MAX(mtu, 1280u) - 60;
	}
	dp->tcp_cfg.syn_retries = (uint8_t)cfg->tcp_syn_retries;
	dp->tcp_cfg.data_retries = (uint8_t)cfg->tcp_data_retries;
	dp->tcp_cfg.snd_buf = cfg->tcp_snd_buf_kb * 1024;
	dp->tcp_cfg.rcv_buf = cfg->tcp_rcv_buf_kb * 1024;
	dp->tcp_cfg.time_wait_us = cfg->tcp_time_wait_ms * 1000;
	/* The whole receive buffer must be advertisable. */
	while (dp->tcp_cfg.wscale < 14 &&
	       (dp->tcp_cfg.rcv_buf >> dp->tcp_cfg.wscale) > 65535)
		dp->tcp_cfg.wscale++;
	if (ps_tcp_cfg_check(&dp->tcp_cfg) < 0)
		return -EINVAL;
	(void)ps_inline_tools_init(dp);

	dp->n_workers = cfg->n_workers;
	for (i = 0; i < dp->n_workers; i++) {
		unsigned int lcore = cfg->workers[i];
		int socket = (int)rte_lcore_to_socket_id(lcore);
		struct ps_worker *w;

		w = rte_zmalloc_socket("ps_worker", sizeof(*w),
				       RTE_CACHE_LINE_SIZE, socket);
		if (w == NULL)
			goto err;
		dp->workers[i] = w;
		w->id = i;
		w->lcore = lcore;
		w->dp = dp;
		w->pool = dp->pool;
		w->linear = rte_malloc_socket("ps_linear", PS_SCRATCH_SIZE,
					      RTE_CACHE_LINE_SIZE, socket);
		w->fragbuf = rte_malloc_socket("ps_fragbuf", PS_SCRATCH_SIZE,
					       RTE_CACHE_LINE_SIZE, socket);
		if (w->linear == NULL || w->fragbuf == NULL)
			goto err;
		/* Each worker owns max_flows / W flows (at least one). */
		w->now_us = now_us;
		if (ps_intercept_init(w) < 0)
			goto err;
	}
	/* One single-producer single-consumer ring per ordered worker pair. */
	for (i = 0; dp->n_workers > 1 && i < dp->n_workers; i++) {
		for (j = 0; j < dp->n_workers; j++) {
			char name[RTE_RING_NAMESIZE];

			if (i == j)
				continue;
			/* i, j < PS_WORKERS_MAX (16): two digits each */
			snprintf(name, sizeof(name), "ps_dsp_%02u_%02u",
				 (uint8_t)j, (uint8_t)i);
			dp->workers[i]->inbox[j] = rte_ring_create(name, 1024,
				(int)rte_lcore_to_socket_id(dp->workers[i]->lcore),
				RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (dp->workers[i]->inbox[j] == NULL)
				goto err;
		}
	}
	return 0;
err:
	ps_workers_free(dp);
	return -ENOMEM;
}

void
ps_workers_free(struct ps_dp *dp)
{
	unsigned int i, j;

	for (i = 0; i < PS_WORKERS_MAX; i++) {
		struct ps_worker *w = dp->workers[i];

		if (w == NULL)
			continue;
		for (j = 0; j < PS_WORKERS_MAX; j++) {
			struct rte_mbuf *m;

			if (w->inbox[j] == NULL)
				continue;
			while (rte_ring_sc_dequeue(w->inbox[j], (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(w->inbox[j]);
		}
		ps_intercept_fini(w);
		rte_free(w->linear);
		rte_free(w->fragbuf);
		rte_free(w);
		dp->workers[i] = NULL;
	}
}
