/* SPDX-License-Identifier: BSD-3-Clause
 * Intercepted connections on their owning worker: the flow table, the
 * per-flow TCP proxy (dataplane/flow/ps_proxy.c) and its timers.
 *
 * A client SYN to a selected server port opens a flow: the proxy opens the
 * server side first and answers the client only when the server answers.
 * Every later segment of the connection, from either side, goes to the
 * proxy instead of the bridge. Segments of selected ports without a flow
 * (connections older than the appliance, or bypassed when the table was
 * full) are bridged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_branch_prediction.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "ps_csum.h"
#include "ps_dp.h"
#include "ps_decide.h"
#include "ps_inline.h"
#include "ps_inline_tool.h"
#include "ps_intercept.h"
#include "ps_record.h"

struct ps_flow_tls;

/* A flow: user data of the worker's flow table. */
struct ps_flow_ctx {
	struct ps_timer timer;		/* first member: timer -> flow */
	struct ps_flow_handle self;
	uint64_t last_seen_us;
	uint16_t port[2];		/* ports[] index: [CLI] side a, [SRV] side b */
	struct ps_flow_tls *tls;	/* TLS stage, when interception is on */
	struct ps_proxy px;
};

/*
 * The TLS stage of a flow and its tool conversations, allocated when the
 * flow opens (TLS interception on), freed with it.
 */
struct ps_flow_tls {
	struct ps_tls_flow t;
	struct ps_tls_tap tap;
	struct ps_worker *w;
	struct ps_flow_ctx *f;
	struct ps_sess_live *sess;	/* its session record, once the hello is read */
	uint8_t sess_state;		/* stage state the record was last written at */
	struct ps_decision dec;		/* what the policy said, for the record */
	struct ps_inline *il;		/* its leg through an inline tool, NULL none */
	bool il_gave_up;		/* the leg never came up: joined directly */
	uint64_t start_ms;
	unsigned int n_tools;
	struct ps_tool_conv conv[];	/* one per out-of-band tool port */
};

/* Frames the proxy emits next belong to flow f: send them on its ports. */
static inline void
use_ports(struct ps_worker *w, const struct ps_flow_ctx *f)
{
	w->cur_port[PS_SIDE_CLI] = f->port[PS_SIDE_CLI];
	w->cur_port[PS_SIDE_SRV] = f->port[PS_SIDE_SRV];
}

/*
 * Frames are built straight into an mbuf (ps_proxy_io, ps_tool_io): the
 * worker holds it between the get and the put. NULL when the pool is dry.
 */
static uint8_t *
pending_get(struct ps_worker *w, uint32_t *cap)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

	if (unlikely(m == NULL))
		return NULL;
	w->px_pending = m;
	*cap = rte_pktmbuf_tailroom(m);
	return rte_pktmbuf_mtod(m, uint8_t *);
}

/* The held mbuf with len bytes built, or NULL (nothing built: freed). */
static struct rte_mbuf *
pending_put(struct ps_worker *w, uint32_t len)
{
	struct rte_mbuf *m = w->px_pending;

	w->px_pending = NULL;
	if (unlikely(m == NULL))
		return NULL;
	if (unlikely(len == 0 || rte_pktmbuf_append(m, (uint16_t)len) == NULL)) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	return m;
}

/* The proxy's frames towards a side of the flow being worked on. */
static uint8_t *
frame_get(void *ctx, enum ps_proxy_side side, uint32_t *cap)
{
	struct ps_worker *w = ctx;
	uint8_t *buf = pending_get(w, cap);

	(void)side;
	if (unlikely(buf == NULL))
		w->stats.flow[PS_FLOW_PROXY_TX_NOMBUF]++;	/* a loss: TCP retransmits */
	return buf;
}

static void
frame_put(void *ctx, enum ps_proxy_side side, uint32_t len)
{
	struct ps_worker *w = ctx;
	struct rte_mbuf *m = pending_put(w, len);

	if (m != NULL)
		ps_worker_tx(w, w->cur_port[side], m);
}

/* ---- tool ports: the decrypted conversation, synthesized ---- */

static uint8_t *
tool_frame_get(void *ctx, enum ps_tool_dir dir, uint32_t *cap)
{
	(void)dir;
	return pending_get(ctx, cap);	/* NULL: counted by the tool layer as lost */
}

static void
tool_frame_put(void *ctx, enum ps_tool_dir dir, uint32_t len)
{
	struct ps_worker *w = ctx;
	struct rte_mbuf *m = pending_put(w, len);

	(void)dir;
	if (m == NULL)
		return;
	if (w->cur_tool == PS_TOOL_PORT_RECORDER)
		(void)ps_record_enqueue(w, m);
	else
		ps_worker_tx(w, w->cur_tool, m);
}

/* ---- inline tools: the flow's leg through one ---- */

static uint8_t *
il_frame_get(void *ctx, enum ps_proxy_side side, uint32_t *cap)
{
	(void)side;
	return pending_get(ctx, cap);	/* NULL: a loss, TCP retransmits */
}

static void
il_frame_put(void *ctx, enum ps_proxy_side side, uint32_t len)
{
	struct ps_worker *w = ctx;
	struct rte_mbuf *m = pending_put(w, len);

	if (m != NULL)
		ps_worker_tx(w, w->cur_il[side == PS_SIDE_CLI ? 0 : 1], m);
}

/* The worker's frames of x's leg go out of x's pair's ports. */
static struct ps_inline *
il_use(struct ps_flow_tls *x)
{
	const struct ps_inline_pair *ip = &x->w->dp->inl[x->dec.inline_pair];

	x->w->cur_il[0] = ip->port[0];
	x->w->cur_il[1] = ip->port[1];
	return x->il;
}

static int
pipe_state(void *arg)
{
	struct ps_flow_tls *x = arg;
	struct ps_inline_pair *ip;

	if (x->il == NULL || x->il_gave_up)
		return 0;
	if (!ps_inline_dead(x->il))
		return 1;
	ip = &x->w->dp->inl[x->dec.inline_pair];
	if (!(x->il->flags & PS_INLINE_F_UP) && !x->dec.inline_fail_closed) {
		/* The tool never answered and may be left out: around it. */
		x->il_gave_up = true;
		x->w->stats.flow[PS_FLOW_INLINE_GAVE_UP]++;
		return 0;
	}
	__atomic_fetch_add(&ip->resets, 1, __ATOMIC_RELAXED);
	return -1;
}

static uint32_t
pipe_room(void *arg, int dir)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_room(x->il, dir);
}

static uint32_t
pipe_push(void *arg, int dir, const uint8_t *p, uint32_t n)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_push(il_use(x), dir, p, n, x->w->now_us, &x->w->il_io);
}

static uint32_t
pipe_peek(void *arg, int dir, const uint8_t **p)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_peek(x->il, dir, p);
}

static void
pipe_consume(void *arg, int dir, uint32_t n)
{
	struct ps_flow_tls *x = arg;

	ps_inline_consume(il_use(x), dir, n, x->w->now_us, &x->w->il_io);
	__atomic_fetch_add(&x->w->dp->inl[x->dec.inline_pair].bytes[dir], n, __ATOMIC_RELAXED);
}

static void
pipe_shutdown(void *arg, int dir)
{
	struct ps_flow_tls *x = arg;

	ps_inline_shutdown(il_use(x), dir, x->w->now_us, &x->w->il_io);
}

static bool
pipe_eof(void *arg, int dir)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_eof(x->il, dir);
}

static const struct ps_tls_pipe pipe_ops = {
	.state = pipe_state,
	.room = pipe_room,
	.push = pipe_push,
	.peek = pipe_peek,
	.consume = pipe_consume,
	.shutdown = pipe_shutdown,
	.eof = pipe_eof,
};

/* Both legs are up: x's flow gets its leg through its inline tool. */
static void
il_open(struct ps_flow_tls *x)
{
	struct ps_worker *w = x->w;

	if (x->dec.inline_pair < 0 || x->il != NULL)
		return;
	x->il = malloc(sizeof(*x->il));
	if (x->il == NULL) {
		x->il_gave_up = true;	/* out of memory: as a tool that never answered */
		return;
	}
	il_use(x);
	if (ps_inline_open(x->il, &w->dp->il_tcp_cfg, &w->tcp_stats, &x->f->px.to_srv,
			   &x->f->px.to_cli, (uint32_t)rte_rand(), (uint32_t)rte_rand(), w->now_us,
			   &w->il_io) < 0) {
		ps_inline_free(x->il);
		free(x->il);
		x->il = NULL;
		x->il_gave_up = true;
		return;
	}
	x->tap.pipe = &pipe_ops;
	__atomic_fetch_add(&w->dp->inl[x->dec.inline_pair].flows, 1, __ATOMIC_RELAXED);
	w->stats.flow[PS_FLOW_INLINE_OPENED]++;
}

/* The policy at the ClientHello, and at the certificate when it needs it. */
static void
tap_decide(void *arg, const struct ps_tls_client_hello *h, X509 *cert, struct ps_tls_policy_verdict *v)
{
	struct ps_flow_tls *x = arg;
	struct ps_worker *w = x->w;

	ps_decide_tls(w, &x->f->px.to_srv, w->dp->ports[x->f->port[PS_SIDE_CLI]].cfg->group,
		      h, cert, &x->dec, v);
	if (x->dec.inline_pair >= 0 && (v->decision == PS_TLS_DECIDE_DECRYPT ||
					v->decision == PS_TLS_DECIDE_LATER) &&
	    !__atomic_load_n(&w->dp->inl[x->dec.inline_pair].up, __ATOMIC_RELAXED)) {
		/* Its inline tool is down (heartbeats do not pass). */
		if (x->dec.inline_fail_closed) {
			w->stats.flow[PS_FLOW_INLINE_BLOCKED_DOWN]++;
			v->decision = PS_TLS_DECIDE_REJECT;
			snprintf(v->rule, sizeof(v->rule), "%.40s (inline tool down)", x->dec.rule);
		} else {
			w->stats.flow[PS_FLOW_INLINE_SKIPPED_DOWN]++;
			x->dec.inline_pair = -1;
		}
	}
}

/*
 * Tool port i of the worker's tool list is written next: frames go there,
 * and what the call counts is also counted for that port (tool_done()).
 */
static inline void
tool_use(struct ps_worker *w, unsigned int i)
{
	w->cur_tool = w->dp->tool_port[i];
	w->tool_before = w->tool_stats;
}

static inline void
tool_done(struct ps_worker *w, unsigned int i)
{
	unsigned int c;

	for (c = 0; c < PS_TOOL_CNT_MAX; c++)
		w->tool_port_stats[i].cnt[c] += w->tool_stats.cnt[c] - w->tool_before.cnt[c];
}

static void
tap_open(void *arg, const struct ps_tls_flow *t)
{
	struct ps_flow_tls *x = arg;
	struct ps_worker *w = x->w;
	unsigned int i;

	(void)t;
	il_open(x);
	for (i = 0; i < x->n_tools; i++) {
		if (!(x->dec.tools & (UINT64_C(1) << i)))
			continue;	/* not in this rule's tool chain */
		tool_use(w, i);
		(void)ps_tool_open(&x->conv[i], &w->dp->tool_cfg[i], &x->f->px.to_srv,
				   (uint32_t)rte_rand(), (uint32_t)rte_rand(), &w->tool_io);
		tool_done(w, i);
	}
}

static void
tap_data(void *arg, int dir, const uint8_t *p, uint32_t n)
{
	struct ps_flow_tls *x = arg;
	struct ps_worker *w = x->w;
	unsigned int i;

	for (i = 0; i < x->n_tools; i++) {
		if (!(x->dec.tools & (UINT64_C(1) << i)))
			continue;
		tool_use(w, i);
		ps_tool_data(&x->conv[i], dir == 0 ? PS_TOOL_C2S : PS_TOOL_S2C, p, n,
			     &w->tool_io);
		tool_done(w, i);
	}
}

static void
tap_close(void *arg, int dir, bool reset)
{
	struct ps_flow_tls *x = arg;
	struct ps_worker *w = x->w;
	unsigned int i;

	for (i = 0; i < x->n_tools; i++) {
		if (!(x->dec.tools & (UINT64_C(1) << i)))
			continue;
		tool_use(w, i);
		ps_tool_close(&x->conv[i], dir == 0 ? PS_TOOL_C2S : PS_TOOL_S2C, reset,
			      &w->tool_io);
		tool_done(w, i);
	}
}

/* ---- session records ---- */

static void
sess_fill(struct ps_worker *w, const struct ps_flow_ctx *f, struct ps_sess_rec *r)
{
	const struct ps_tcp_frame_spec *c2s = &f->px.to_srv;
	const struct ps_flow_tls *x = f->tls;

	memset(r, 0, sizeof(*r));
	r->start_ms = x->start_ms;
	r->family = c2s->l3 == PS_L3_IPV6 ? 6 : 4;
	memcpy(r->cli_addr, c2s->src.b, sizeof(r->cli_addr));
	memcpy(r->srv_addr, c2s->dst.b, sizeof(r->srv_addr));
	r->cli_port = c2s->tcp.sport;
	r->srv_port = c2s->tcp.dport;
	r->vlan = c2s->eth.n_vlans > 0 ? (uint16_t)(c2s->eth.vlan_tci[0] & 0xfff) : 0;
	snprintf(r->ingress, sizeof(r->ingress), "%s",
		 w->dp->ports[f->port[PS_SIDE_CLI]].cfg->name);
	ps_tls_flow_describe(&x->t, r);
	r->no_log = !x->dec.log;
	if (x->dec.at != NULL) {
		snprintf(r->decided_at, sizeof(r->decided_at), "%s", x->dec.at);
		snprintf(r->policy_version, sizeof(r->policy_version), "%s", x->dec.version);
		if (x->dec.action != PS_POL_UNDECIDED)
			snprintf(r->action, sizeof(r->action), "%s",
				 ps_pol_action_name(x->dec.action));
		if (x->dec.shadow_action != NULL) {
			snprintf(r->shadow_rule, sizeof(r->shadow_rule), "%s", x->dec.shadow_rule);
			snprintf(r->shadow_action, sizeof(r->shadow_action), "%s",
				 x->dec.shadow_action);
		}
	}
	if (r->state == PS_SESS_PASSTHROUGH) {
		r->bytes[0] = f->px.relayed[0];
		r->bytes[1] = f->px.relayed[1];
	}
}

/* Open or refresh f's session record when its stage moved on. */
static void
sess_track(struct ps_worker *w, struct ps_flow_ctx *f)
{
	struct ps_flow_tls *x = f->tls;
	struct ps_sess_rec rec;

	if (x == NULL || !w->dp->sessions_on || x->t.state == x->sess_state)
		return;
	sess_fill(w, f, &rec);
	if (x->sess == NULL) {
		x->sess = ps_sess_open(&w->dp->sessions, &rec);
		if (x->sess != NULL)
			x->t.sess_id = ps_sess_id(x->sess);
	}
	else
		ps_sess_update(&w->dp->sessions, x->sess, &rec);
	x->sess_state = x->t.state;
}

static void
sess_end(struct ps_worker *w, struct ps_flow_ctx *f)
{
	struct ps_flow_tls *x = f->tls;
	struct ps_sess_rec rec;

	if (x == NULL || x->sess == NULL)
		return;
	sess_fill(w, f, &rec);
	rec.end_ms = ps_wall_ms();
	if (rec.close_reason[0] == '\0')
		snprintf(rec.close_reason, sizeof(rec.close_reason), "%s",
			 (f->px.flags & PS_PROXY_F_RESET) ? "reset" : "closed");
	ps_sess_close(&w->dp->sessions, x->sess, &rec);
	x->sess = NULL;
}

/* The TLS stage of a new flow f (whose proxy is open). 0 or -ENOMEM. */
static int
tls_attach(struct ps_worker *w, struct ps_flow_ctx *f, const struct ps_pkt *syn)
{
	unsigned int n_tools = w->dp->n_tools;
	struct ps_flow_tls *x;
	uint8_t key[sizeof(syn->dst) + 2];

	x = calloc(1, sizeof(*x) + n_tools * sizeof(x->conv[0]));
	if (x == NULL)
		return -ENOMEM;
	x->w = w;
	x->f = f;
	x->n_tools = n_tools;
	x->sess_state = PS_TLSF_ST_HELLO;	/* no record until the hello is read */
	x->start_ms = ps_wall_ms();
	x->tap.decide = tap_decide;
	x->tap.open = tap_open;
	x->tap.data = tap_data;
	x->tap.close = tap_close;
	x->tap.arg = x;
	/* The upstream session cache key: the server's address and port. */
	memcpy(key, &syn->dst, sizeof(syn->dst));
	key[sizeof(syn->dst)] = (uint8_t)(syn->dport >> 8);
	key[sizeof(syn->dst) + 1] = (uint8_t)syn->dport;
	(void)ps_tls_flow_init(&x->t, &w->dp->icpt, &w->tls_stats, &x->tap, key, sizeof(key));
	ps_tls_flow_set_addrs(&x->t, syn->l3 == PS_L3_IPV6 ? 6 : 4, syn->src.b, syn->dst.b);
	ps_tls_flow_set_srv_port(&x->t, syn->dport);
	x->dec.log = true;
	x->dec.inline_pair = -1;
	x->dec.tools = w->dp->n_tools >= 64 ? UINT64_MAX : (UINT64_C(1) << w->dp->n_tools) - 1;
	ps_tls_flow_set_starttls(&x->t, ps_policy_starttls(w->dp, syn->dport));
	f->tls = x;
	ps_proxy_set_stage(&f->px, &x->t.stage);
	return 0;
}

static void
tls_detach(struct ps_worker *w, struct ps_flow_ctx *f)
{
	struct ps_flow_tls *x = f->tls;
	unsigned int i;

	if (x == NULL)
		return;
	sess_end(w, f);
	ps_tls_flow_free(&x->t);
	if (x->il != NULL) {
		if (!ps_inline_done(x->il))
			ps_inline_abort(il_use(x), w->now_us, &w->il_io);
		ps_inline_free(x->il);
		free(x->il);
		x->il = NULL;
	}
	for (i = 0; i < x->n_tools; i++) {
		tool_use(w, i);
		ps_tool_flush(&x->conv[i], &w->tool_io);
		tool_done(w, i);
	}
	free(x);
	f->tls = NULL;
}

int
ps_intercept_init(struct ps_worker *w)
{
	const struct ps_config *cfg = w->dp->cfg;

	if (ps_flow_table_create(RTE_MAX(cfg->max_flows / w->dp->n_workers, 1u),
				 sizeof(struct ps_flow_ctx), &w->flows) < 0)
		return -ENOMEM;
	/* 1 ms ticks, 4096 slots: one revolution every 4 s. */
	if (ps_timer_wheel_create(1000, 4096, w->now_us, &w->timers) < 0)
		return -ENOMEM;
	w->px_scratch = rte_malloc("ps_px_scratch", PS_PROXY_SCRATCH,
				   RTE_CACHE_LINE_SIZE);
	w->px_out = rte_malloc("ps_px_out", sizeof(*w->px_out), RTE_CACHE_LINE_SIZE);
	if (w->px_scratch == NULL || w->px_out == NULL)
		return -ENOMEM;
	w->io.frame_get = frame_get;
	w->io.frame_put = frame_put;
	w->io.ctx = w;
	w->io.scratch = w->px_scratch;
	w->io.out = w->px_out;
	w->tool_scratch = rte_malloc("ps_tool_scratch", PS_TOOL_FRAME_MAX(PS_TOOL_MSS_MAX),
				     RTE_CACHE_LINE_SIZE);
	if (w->tool_scratch == NULL)
		return -ENOMEM;
	w->tool_io.frame_get = tool_frame_get;
	w->tool_io.frame_put = tool_frame_put;
	w->tool_io.ctx = w;
	w->tool_io.scratch = w->tool_scratch;
	w->tool_io.scratch_len = PS_TOOL_FRAME_MAX(PS_TOOL_MSS_MAX);
	w->tool_io.stats = &w->tool_stats;
	w->il_io.frame_get = il_frame_get;
	w->il_io.frame_put = il_frame_put;
	w->il_io.ctx = w;
	w->il_io.scratch = w->px_scratch;
	w->il_io.out = w->px_out;
	return 0;
}

void
ps_intercept_fini(struct ps_worker *w)
{
	ps_timer_wheel_free(w->timers);
	w->timers = NULL;
	ps_flow_table_free(w->flows);
	w->flows = NULL;
	rte_free(w->px_scratch);
	rte_free(w->px_out);
	rte_free(w->tool_scratch);
}

static void
flow_free(struct ps_worker *w, struct ps_flow_ctx *f, enum ps_flow_event why)
{
	ps_timer_cancel(w->timers, &f->timer);
	tls_detach(w, f);
	ps_proxy_free(&f->px);
	(void)ps_flow_remove(w->flows, f->self);
	w->stats.flow[why]++;
}

/* After any work on f: free it when done, else arm its next deadline. */
static void
flow_settle(struct ps_worker *w, struct ps_flow_ctx *f)
{
	uint64_t idle = (uint64_t)w->dp->cfg->flow_idle_timeout_s * 1000000;
	uint64_t at = f->last_seen_us + idle;
	uint64_t px_at;

	sess_track(w, f);
	if (ps_proxy_done(&f->px)) {
		flow_free(w, f, (f->px.flags & PS_PROXY_F_RESET) ?
			  PS_FLOW_RESET : PS_FLOW_CLOSED);
		return;
	}
	px_at = ps_proxy_deadline(&f->px);
	if (px_at < at)
		at = px_at;
	if (f->tls != NULL && f->tls->il != NULL && ps_inline_deadline(f->tls->il) < at)
		at = ps_inline_deadline(f->tls->il);
	ps_timer_arm(w->timers, &f->timer, at);
}

static void
on_timer(void *ctx, struct ps_timer *tm)
{
	struct ps_worker *w = ctx;
	struct ps_flow_ctx *f = (struct ps_flow_ctx *)tm;
	uint64_t idle = (uint64_t)w->dp->cfg->flow_idle_timeout_s * 1000000;

	use_ports(w, f);
	if (w->now_us - f->last_seen_us >= idle) {
		/* Idle for too long: reset both sides, forget the flow. */
		ps_proxy_abort(&f->px, w->now_us, &w->io);
		flow_free(w, f, PS_FLOW_IDLE_EXPIRED);
		return;
	}
	ps_proxy_timer(&f->px, w->now_us, &w->io);
	if (f->tls != NULL && f->tls->il != NULL &&
	    ps_inline_deadline(f->tls->il) <= w->now_us) {
		ps_inline_timer(il_use(f->tls), w->now_us, &w->il_io);
		ps_proxy_poke(&f->px, w->now_us, &w->io);
	}
	flow_settle(w, f);
}

void
ps_intercept_timers(struct ps_worker *w)
{
	ps_timer_advance(w->timers, w->now_us, PS_TIMER_BUDGET, on_timer, w);
}

static inline bool
is_bare_syn(const struct ps_pkt *p)
{
	return (p->tcp_flags & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST | PS_TCP_FIN)) ==
	       PS_TCP_SYN;
}

/* A client's SYN without a flow: open one, or apply the overflow rule. */
static int
flow_open(struct ps_worker *w, struct rte_mbuf *m, const uint8_t *frame,
	  const struct ps_pkt *p, unsigned int in_idx,
	  const struct ps_flow_key *key, uint32_t hash)
{
	const struct ps_dp_port *in = &w->dp->ports[in_idx];
	struct ps_decision d = { .at = NULL };
	struct ps_flow_handle h;
	struct ps_flow_ctx *f;
	int err, rc;

	if (!ps_pkt_l4_csum_ok(frame, p)) {
		w->stats.flow[PS_FLOW_BAD_CHECKSUM]++;
		return PS_ICPT_DROP;
	}
	if (ps_policy_current(w->dp) != NULL) {
		/* The policy with what the SYN tells: a bypass never terminates. */
		struct ps_tcp_frame_spec c2s;

		memset(&c2s, 0, sizeof(c2s));
		c2s.l3 = p->l3;
		c2s.src = p->src;
		c2s.dst = p->dst;
		c2s.tcp.dport = p->dport;
		c2s.eth.n_vlans = p->n_vlans > 0 ? 1 : 0;
		c2s.eth.vlan_tci[0] = p->n_vlans > 0 ? p->vlan_tci[0] : 0;
		c2s.tcp.sport = p->sport;
		ps_decide_syn(w, &c2s, in->cfg->group, &d);
		switch (d.action) {
		case PS_POL_BYPASS:
			w->stats.flow[PS_FLOW_POLICY_BYPASSED]++;
			return PS_ICPT_BRIDGE;
		case PS_POL_DROP:
			w->stats.flow[PS_FLOW_POLICY_DROPPED]++;
			return PS_ICPT_DROP;
		default:
			break;	/* decrypt, reject, or decided at the ClientHello */
		}
	}
	f = ps_flow_insert(w->flows, key, hash, &h, &err);
	if (f == NULL) {
		if (ps_policy_overflow(w->dp) == PS_OVERFLOW_DROP) {
			w->stats.flow[PS_FLOW_TABLE_FULL_DROPPED]++;
			return PS_ICPT_DROP;
		}
		w->stats.flow[PS_FLOW_TABLE_FULL_BYPASSED]++;
		return PS_ICPT_BRIDGE;
	}
	f->self = h;
	f->port[PS_SIDE_CLI] = (uint16_t)in_idx;
	f->port[PS_SIDE_SRV] = (uint16_t)in->bridge_to;
	f->last_seen_us = w->now_us;
	f->tls = NULL;
	ps_timer_init(&f->timer);
	use_ports(w, f);
	rc = ps_proxy_open(&f->px, &w->dp->tcp_cfg, &w->tcp_stats, p,
			   (uint32_t)rte_rand(), (uint32_t)rte_rand(),
			   w->now_us, &w->io);
	if (rc == 0 && w->dp->tls_on)
		rc = tls_attach(w, f, p);
	if (rc < 0) {
		if (ps_tcp_state(&f->px.srv) != PS_TCP_ST_CLOSED)
			ps_proxy_abort(&f->px, w->now_us, &w->io);
		tls_detach(w, f);
		ps_proxy_free(&f->px);
		(void)ps_flow_remove(w->flows, h);
		w->stats.flow[PS_FLOW_OPEN_FAILED]++;
		return PS_ICPT_BRIDGE;
	}
	if (f->tls != NULL && d.at != NULL) {
		/* Decided at the SYN: the record says so until the hello decides. */
		d.tools = f->tls->dec.tools;
		f->tls->dec = d;
	}
	w->stats.flow[PS_FLOW_OPENED]++;
	flow_settle(w, f);
	rte_pktmbuf_free(m);
	return PS_ICPT_CONSUMED;
}

int
ps_intercept_segment(struct ps_worker *w, struct rte_mbuf *m,
		     const uint8_t *frame, const struct ps_pkt *p,
		     unsigned int in_idx, const struct ps_flow_key *key,
		     uint32_t hash)
{
	const char side = w->dp->ports[in_idx].cfg->side;
	struct ps_flow_handle h;
	struct ps_flow_ctx *f;

	f = ps_flow_lookup(w->flows, key, hash, &h);
	if (f != NULL && side == 'a' && is_bare_syn(p) &&
	    (ps_tcp_state(&f->px.cli) == PS_TCP_ST_CLOSED ||
	     ps_tcp_state(&f->px.cli) == PS_TCP_ST_TIME_WAIT)) {
		/* The client reuses the 4-tuple of a connection whose client
		 * side is over (RFC 6191): the old flow gives way. */
		use_ports(w, f);
		ps_proxy_abort(&f->px, w->now_us, &w->io);
		flow_free(w, f, PS_FLOW_CLOSED);
		f = NULL;
	}
	if (f == NULL) {
		/* Only a client's SYN opens a flow. */
		if (side != 'a' || !is_bare_syn(p)) {
			w->stats.flow[PS_FLOW_MIDSTREAM_BYPASSED]++;
			return PS_ICPT_BRIDGE;
		}
		return flow_open(w, m, frame, p, in_idx, key, hash);
	}

	/* A terminated connection: nothing of it is bridged any more. */
	if (!ps_pkt_l4_csum_ok(frame, p)) {
		w->stats.flow[PS_FLOW_BAD_CHECKSUM]++;
		return PS_ICPT_DROP;
	}
	f->last_seen_us = w->now_us;
	use_ports(w, f);
	if (ps_proxy_input(&f->px, side == 'a' ? PS_SIDE_CLI : PS_SIDE_SRV,
			   frame, p, w->now_us, &w->io) != PS_TCP_DROP_NONE)
		w->stats.flow[PS_FLOW_SEGMENT_REFUSED]++;
	flow_settle(w, f);
	rte_pktmbuf_free(m);
	return PS_ICPT_CONSUMED;
}

int
ps_intercept_inline(struct ps_worker *w, struct rte_mbuf *m, const uint8_t *frame,
		    const struct ps_pkt *p, unsigned int idx, const struct ps_flow_key *key,
		    uint32_t hash)
{
	struct ps_flow_handle h;
	struct ps_flow_ctx *f;
	struct ps_flow_tls *x;
	int pair = ps_inline_pair_of_port(w->dp, idx);

	f = ps_flow_lookup(w->flows, key, hash, &h);
	if (f == NULL || (x = f->tls) == NULL || x->il == NULL || x->dec.inline_pair != pair)
		return PS_ICPT_DROP;
	if (!ps_pkt_l4_csum_ok(frame, p)) {
		w->stats.flow[PS_FLOW_BAD_CHECKSUM]++;
		rte_pktmbuf_free(m);
		return PS_ICPT_CONSUMED;
	}
	use_ports(w, f);
	(void)ps_inline_input(il_use(x), w->dp->inl[pair].port[1] == idx, frame, p, w->now_us,
			      &w->il_io);
	/* What came out of the tool (or its reset) moves the flow on. */
	ps_proxy_poke(&f->px, w->now_us, &w->io);
	flow_settle(w, f);
	rte_pktmbuf_free(m);
	return PS_ICPT_CONSUMED;
}
