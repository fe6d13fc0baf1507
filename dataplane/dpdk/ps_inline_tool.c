/* SPDX-License-Identifier: BSD-3-Clause
 * Inline tools: pairs of tool-inline ports with a tool (an IPS, a DLP box)
 * wired between them. Decrypted flows get a TCP leg through the tool
 * (dataplane/flow/ps_inline.h, opened by ps_intercept.c); this file keeps
 * the pairs, takes in what arrives at their ports, and watches each
 * tool's health with heartbeats.
 *
 * Heartbeats: every heartbeat_ms (the pair's side "a" port in the
 * configuration) worker 0 sends one frame out of each port of each pair
 * (EtherType 0x88b5, a locally administered unicast destination that a
 * bridging tool floods through). A tool is up while both directions came
 * back within heartbeat_misses intervals; down otherwise, and up again once
 * they do. Changes are logged and counted.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "ps_inline_tool.h"
#include "ps_intercept.h"

#define HB_LEN		60u
static const uint8_t hb_dst[6] = { 0x02, 0x70, 0x73, 0x68, 0x62, 0x01 };
static const uint8_t hb_magic[4] = { 'P', 'S', 'H', 'B' };

int
ps_inline_tools_init(struct ps_dp *dp)
{
	const struct ps_config *cfg = dp->cfg;
	unsigned int i;

	dp->n_inl = 0;
	dp->n_segments = 0;
	for (i = 0; i < cfg->n_ports; i++) {
		const struct ps_port_cfg *pc = &cfg->ports[i];

		if (pc->role == PS_ROLE_NET && pc->side == 'a')
			dp->segments[dp->n_segments++] = (uint16_t)i;
		if (pc->role != PS_ROLE_TOOL_INLINE || pc->side != 'a' ||
		    dp->n_inl >= PS_INLINE_PAIRS_MAX)
			continue;
		struct ps_inline_pair *ip = &dp->inl[dp->n_inl++];

		memset(ip, 0, sizeof(*ip));
		snprintf(ip->name, sizeof(ip->name), "%s", pc->group);
		ip->port[0] = (uint16_t)i;
		ip->port[1] = (uint16_t)pc->peer;
		ip->up = 1;	/* until heartbeats say otherwise */
	}
	/* A leg through a tool gives up quickly when the tool is not there:
	 * 2 SYN retries (3 s), then the flow goes around it or is blocked. */
	dp->il_tcp_cfg = dp->tcp_cfg;
	dp->il_tcp_cfg.syn_retries = 2;
	return 0;
}

int
ps_inline_pair_of_port(const struct ps_dp *dp, unsigned int idx)
{
	unsigned int i;

	for (i = 0; i < dp->n_inl; i++)
		if (dp->inl[i].port[0] == idx || dp->inl[i].port[1] == idx)
			return (int)i;
	return -1;
}

static void
hb_send(struct ps_worker *w, unsigned int pair, unsigned int side)
{
	struct ps_inline_pair *ip = &w->dp->inl[pair];
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	uint8_t *f;
	uint64_t seq = ip->hb_seq;

	if (m == NULL)
		return;
	f = (uint8_t *)rte_pktmbuf_append(m, HB_LEN);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(f, 0, HB_LEN);
	memcpy(f, hb_dst, 6);
	memcpy(f + 6, hb_dst, 6);
	f[11] = (uint8_t)(0x10 | side);		/* source: locally administered, ours */
	f[12] = PS_INLINE_HB_ETHERTYPE >> 8;
	f[13] = PS_INLINE_HB_ETHERTYPE & 0xff;
	memcpy(f + 14, hb_magic, 4);
	f[18] = (uint8_t)pair;
	f[19] = (uint8_t)side;
	memcpy(f + 20, &seq, sizeof(seq));
	ps_worker_tx(w, ip->port[side], m);
	w->stats.flow[PS_FLOW_INLINE_HEARTBEATS_SENT]++;
}

void
ps_inline_tools_tick(struct ps_worker *w)
{
	struct ps_dp *dp = w->dp;
	unsigned int i;

	for (i = 0; i < dp->n_inl; i++) {
		struct ps_inline_pair *ip = &dp->inl[i];
		const struct ps_port_cfg *pc = &dp->cfg->ports[ip->port[0]];
		const uint64_t period = (uint64_t)pc->hb_ms * 1000;
		uint64_t a, b, limit = (uint64_t)pc->hb_misses * period;
		uint8_t up;

		if (w->now_us < ip->next_hb_us)
			continue;
		if (ip->next_hb_us == 0) {
			/* First round: count the silence from now. */
			__atomic_store_n(&ip->seen_us[0], w->now_us, __ATOMIC_RELAXED);
			__atomic_store_n(&ip->seen_us[1], w->now_us, __ATOMIC_RELAXED);
		}
		ip->next_hb_us = w->now_us + period;
		ip->hb_seq++;
		hb_send(w, i, 0);
		hb_send(w, i, 1);
		a = __atomic_load_n(&ip->seen_us[0], __ATOMIC_RELAXED);
		b = __atomic_load_n(&ip->seen_us[1], __ATOMIC_RELAXED);
		up = w->now_us - a <= limit && w->now_us - b <= limit;
		if (up != __atomic_load_n(&ip->up, __ATOMIC_RELAXED)) {
			__atomic_store_n(&ip->up, up, __ATOMIC_RELAXED);
			__atomic_fetch_add(&ip->changes, 1, __ATOMIC_RELAXED);
			RTE_LOG(NOTICE, USER1, "inline tool %s is %s\n", ip->name,
				up ? "up: heartbeats pass through it again" :
				"down: heartbeats do not pass through it");
		}
	}
}

/* A heartbeat of ours came in at idx: the tool passed it. */
static bool
hb_seen(struct ps_worker *w, unsigned int idx, const uint8_t *f, uint32_t len)
{
	int pair;

	if (len < 28 || f[12] != (PS_INLINE_HB_ETHERTYPE >> 8) ||
	    f[13] != (PS_INLINE_HB_ETHERTYPE & 0xff) || memcmp(f + 14, hb_magic, 4) != 0)
		return false;
	pair = ps_inline_pair_of_port(w->dp, idx);
	if (pair >= 0 && f[18] == (uint8_t)pair) {
		struct ps_inline_pair *ip = &w->dp->inl[pair];
		unsigned int at = ip->port[1] == idx ? 1 : 0;

		/* Sent out of the other port, came in here. */
		if (f[19] == 1 - at) {
			__atomic_store_n(&ip->seen_us[at], w->now_us, __ATOMIC_RELAXED);
			w->stats.flow[PS_FLOW_INLINE_HEARTBEATS_SEEN]++;
		}
	}
	return true;
}

void
ps_inline_rx(struct ps_worker *w, unsigned int idx, struct rte_mbuf *m, bool from_inbox)
{
	struct ps_dp *dp = w->dp;
	const struct ps_dp_port *in = &dp->ports[idx];
	/* At B the frames are ta's, the client's direction; at A, tb's. */
	const char key_side = in->cfg->side == 'b' ? 'a' : 'b';
	int fwd_owner = -1;
	const uint8_t *frame;
	struct ps_pkt p;
	uint32_t len;
	unsigned int s;

	frame = ps_worker_frame(w, m, &len);
	if (hb_seen(w, idx, frame, len)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (ps_pkt_parse(frame, len, &p) != PS_PKT_OK || p.l3 == PS_L3_NONE || !p.has_l4 ||
	    p.ip_proto != PS_IPPROTO_TCP)
		goto drop;
	/* The leg carries the flow's own identity: find the flow's segment. */
	for (s = 0; s < dp->n_segments; s++) {
		struct ps_flow_key key;
		uint32_t hash;

		if (!ps_flow_key_from_pkt(&p, (uint8_t)dp->segments[s], key_side, &key))
			continue;
		hash = ps_flow_key_hash(&key);
		if (!from_inbox && dp->n_workers > 1 && !dp->rss_dispatch &&
		    hash % dp->n_workers != w->id) {
			if (fwd_owner < 0)
				fwd_owner = (int)(hash % dp->n_workers);
			continue;
		}
		if (ps_intercept_inline(w, m, frame, &p, idx, &key, hash) == PS_ICPT_CONSUMED)
			return;
	}
	if (fwd_owner >= 0) {
		ps_worker_hand_over(w, (unsigned int)fwd_owner, m);
		return;
	}
drop:
	w->stats.flow[PS_FLOW_INLINE_NO_FLOW]++;
	rte_pktmbuf_free(m);
}

json_t *
ps_inline_tools_json(const struct ps_dp *dp)
{
	json_t *arr = json_array();
	unsigned int i;

	for (i = 0; arr != NULL && i < dp->n_inl; i++) {
		const struct ps_inline_pair *ip = &dp->inl[i];
		struct rte_eth_stats es[2];
		unsigned int k;
		json_t *t;

		/* Frames through the tool, heartbeats included, from its ports. */
		for (k = 0; k < 2; k++)
			if (rte_eth_stats_get(dp->ports[ip->port[k]].port_id, &es[k]) != 0)
				memset(&es[k], 0, sizeof(es[k]));
		t = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			"name", ip->name,
			"port_a", dp->cfg->ports[ip->port[0]].name,
			"port_b", dp->cfg->ports[ip->port[1]].name,
			"health", __atomic_load_n(&ip->up, __ATOMIC_RELAXED) ? "up" : "down",
			"health_changes", (json_int_t)__atomic_load_n(&ip->changes, __ATOMIC_RELAXED),
			"flows", (json_int_t)__atomic_load_n(&ip->flows, __ATOMIC_RELAXED),
			"resets", (json_int_t)__atomic_load_n(&ip->resets, __ATOMIC_RELAXED),
			"bytes_client_to_server",
			(json_int_t)__atomic_load_n(&ip->bytes[0], __ATOMIC_RELAXED),
			"bytes_server_to_client",
			(json_int_t)__atomic_load_n(&ip->bytes[1], __ATOMIC_RELAXED));
		if (t == NULL)
			continue;
		json_object_set_new(t, "frames_into_tool",
				    json_integer((json_int_t)(es[0].opackets + es[1].opackets)));
		json_object_set_new(t, "frames_out_of_tool",
				    json_integer((json_int_t)(es[0].ipackets + es[1].ipackets)));
		json_object_set_new(t, "frames_dropped_at_ports",
				    json_integer((json_int_t)(es[0].imissed + es[1].imissed +
							      es[0].oerrors + es[1].oerrors)));
		json_array_append_new(arr, t);
	}
	return arr != NULL ? arr : json_array();
}
