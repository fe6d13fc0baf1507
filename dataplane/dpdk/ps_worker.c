/* SPDX-License-Identifier: BSD-3-Clause
 * Worker lcore: the poll loop and the transparent bridge.
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

#include "ps_dp.h"
#include "ps_frag.h"
#include "ps_pkt.h"

#define PS_TXBUF_SIZE	64

static const char *const bridge_event_names[] = {
#define PS_X(name, str) [PS_BRIDGE_##name] = str,
	PS_BRIDGE_EVENTS(PS_X)
#undef PS_X
};

const char *
ps_bridge_event_name(enum ps_bridge_event ev)
{
	if ((unsigned int)ev >= PS_BRIDGE_EVENT_MAX)
		return "unknown";
	return bridge_event_names[ev];
}

/* Frames queued for one egress port and queue. */
struct txbuf {
	struct ps_worker *w;
	uint16_t egress;		/* index into dp->ports */
	uint16_t port_id;
	uint16_t queue;
	uint16_t n;
	struct rte_mbuf *pkts[PS_TXBUF_SIZE];
};

static void
txbuf_flush(struct txbuf *tb)
{
	struct ps_port_counters *pc = &tb->w->stats.port[tb->egress];
	uint16_t sent, i;

	if (tb->n == 0)
		return;
	sent = rte_eth_tx_burst(tb->port_id, tb->queue, tb->pkts, tb->n);
	for (i = 0; i < sent; i++)
		pc->tx_bytes += rte_pktmbuf_pkt_len(tb->pkts[i]);
	pc->tx_pkts += sent;
	if (unlikely(sent < tb->n)) {
		pc->tx_dropped += (uint64_t)(tb->n - sent);
		tb->w->stats.bridge[PS_BRIDGE_TX_RING_FULL] += (uint64_t)(tb->n - sent);
		rte_pktmbuf_free_bulk(&tb->pkts[sent], tb->n - sent);
	}
	tb->n = 0;
}

static inline void
txbuf_add(struct txbuf *tb, struct rte_mbuf *m)
{
	m->ol_flags = 0;	/* no offload requests: bytes go out as they are */
	tb->pkts[tb->n++] = m;
	if (tb->n == PS_TXBUF_SIZE)
		txbuf_flush(tb);
}

static int
emit_fragment(void *ctx, const uint8_t *frag, uint32_t len)
{
	struct txbuf *tb = ctx;
	struct rte_mbuf *m;
	char *dst;

	m = rte_pktmbuf_alloc(tb->w->pool);
	if (m == NULL)
		return -ENOMEM;
	dst = rte_pktmbuf_append(m, (uint16_t)len);
	if (dst == NULL || len > UINT16_MAX) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(dst, frag, len);
	txbuf_add(tb, m);
	tb->w->stats.bridge[PS_BRIDGE_FRAGMENTS_OUT]++;
	return 0;
}

/*
 * Forward one frame to tb's port. Takes ownership of m.
 */
static void
bridge_one(struct ps_worker *w, struct txbuf *tb, struct rte_mbuf *m)
{
	const struct ps_config *cfg = w->dp->cfg;
	const uint16_t mtu = w->dp->ports[tb->egress].cfg->mtu;
	const uint8_t *frame;
	enum ps_pkt_reason r;
	struct ps_pkt p;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	int rc;

	if (likely(rte_pktmbuf_is_contiguous(m))) {
		frame = rte_pktmbuf_mtod(m, const uint8_t *);
	} else {
		w->stats.bridge[PS_BRIDGE_MULTISEG_LINEARIZED]++;
		if (len > PS_SCRATCH_SIZE)
			len = PS_SCRATCH_SIZE;
		frame = rte_pktmbuf_read(m, 0, len, w->linear);
	}

	r = ps_pkt_parse(frame, len, &p);
	w->stats.pkt_reason[r]++;
	if (unlikely(r != PS_PKT_OK)) {
		if (cfg->malformed == PS_MALFORMED_DROP) {
			w->stats.bridge[PS_BRIDGE_MALFORMED_DROPPED]++;
			rte_pktmbuf_free(m);
			return;
		}
		w->stats.bridge[PS_BRIDGE_MALFORMED_FORWARDED]++;
		txbuf_add(tb, m);
		return;
	}

	if (likely(p.l3 == PS_L3_NONE || p.l3_end - p.l3_off <= mtu)) {
		txbuf_add(tb, m);
		return;
	}

	/* Larger than the egress MTU: only kernel-reassembled IPv4 gets here
	 * on a correctly cabled segment. */
	if (p.l3 != PS_L3_IPV4 || p.df) {
		w->stats.bridge[PS_BRIDGE_OVERSIZE_DF_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	rc = ps_ip4_fragment(frame, len, &p, mtu, w->fragbuf,
			     PS_SCRATCH_SIZE, emit_fragment, tb);
	if (rc < 0)
		w->stats.bridge[PS_BRIDGE_FRAG_NO_MBUF]++;
	else
		w->stats.bridge[PS_BRIDGE_FRAGMENTED]++;
	rte_pktmbuf_free(m);
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
	struct txbuf tb;
	unsigned int i;
	uint16_t n, k;

	tb.w = w;
	tb.queue = (uint16_t)w->id;
	tb.n = 0;
	RTE_LOG(INFO, USER1, "worker %u on lcore %u polls %u rx queue(s)\n",
		w->id, w->lcore, w->n_rxq);

	while (!__atomic_load_n(&dp->quit, __ATOMIC_RELAXED)) {
		bool busy = false;

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

			if (in->bridge_to < 0) {
				drain_tool_port(w, pkts, n);
				continue;
			}
			tb.egress = (uint16_t)in->bridge_to;
			tb.port_id = dp->ports[in->bridge_to].port_id;
			for (k = 0; k < n; k++)
				bridge_one(w, &tb, pkts[k]);
			txbuf_flush(&tb);
		}
		w->stats.polls++;
		if (busy)
			w->stats.busy_polls++;
		else
			rte_pause();
	}
	RTE_LOG(INFO, USER1, "worker %u stopped\n", w->id);
	return 0;
}

int
ps_workers_create(struct ps_dp *dp)
{
	unsigned int i;

	dp->n_workers = dp->cfg->n_workers;
	for (i = 0; i < dp->n_workers; i++) {
		unsigned int lcore = dp->cfg->workers[i];
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
	}
	return 0;
err:
	ps_workers_free(dp);
	return -ENOMEM;
}

void
ps_workers_free(struct ps_dp *dp)
{
	unsigned int i;

	for (i = 0; i < PS_WORKERS_MAX; i++) {
		if (dp->workers[i] == NULL)
			continue;
		rte_free(dp->workers[i]->linear);
		rte_free(dp->workers[i]->fragbuf);
		rte_free(dp->workers[i]);
		dp->workers[i] = NULL;
	}
}
