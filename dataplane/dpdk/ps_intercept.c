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
	struct ps_inline *il;		/* its legs through its inline tools, in chain
					 * order (dec.n_inl of them), NULL none */
	bool il_gave_up;		/* no leg came up: joined directly */
	bool il_failed;			/* a leg died: the flow is reset */
	uint64_t start_ms;
	uint32_t tool_isn[2];		/* of its synthesized conversations: [0] client */
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

/* The worker's frames of x's leg j go out of that leg's pair's ports. */
static struct ps_inline *
il_use(struct ps_flow_tls *x, unsigned int j)
{
	const struct ps_inline_pair *ip = &x->w->dp->inl[x->dec.inl[j]];

	x->w->cur_il[0] = ip->port[0];
	x->w->cur_il[1] = ip->port[1];
	return &x->il[j];
}

/* Plaintext of dir at tap point p of x's chain to the tools there. */
static void tools_data(struct ps_flow_tls *x, uint64_t tools, int dir, const uint8_t *p,
		       uint32_t n);

/*
 * The out-of-band tools that see direction dir where it enters or leaves
 * the chain: client->server data entering it (from the client) is seen by
 * the tools listed before every inline tool, server->client data entering
 * it (from the server) likewise; data leaving the chain towards either
 * side by the tools listed after the last one. Server->client data
 * between two inline tools is seen by none (docs/tool.md).
 */
static uint64_t
tools_entering(const struct ps_flow_tls *x)
{
	return x->dec.tools_at[0];
}

static uint64_t
tools_leaving(const struct ps_flow_tls *x, int dir)
{
	uint64_t m = 0;
	unsigned int p;

	if (dir == 0)
		return x->dec.tools_at[x->dec.n_inl];
	for (p = 1; p <= x->dec.n_inl; p++)
		m |= x->dec.tools_at[p];
	return m;
}

/* Inline tool j is left out of the chain d: the rest closes up. */
static void
il_splice_decision(struct ps_decision *d, unsigned int j)
{
	uint8_t low = (uint8_t)(d->inl_fail_closed & ((1u << j) - 1));
	unsigned int k;

	for (k = j; k + 1 < d->n_inl; k++)
		d->inl[k] = d->inl[k + 1];
	/* The tools tapping before and after it now tap at the same point. */
	d->tools_at[j] |= d->tools_at[j + 1];
	for (k = j + 1; k < d->n_inl; k++)
		d->tools_at[k] = d->tools_at[k + 1];
	d->tools_at[d->n_inl] = 0;
	d->inl_fail_closed = (uint8_t)(low | ((d->inl_fail_closed >> 1) & ~((1u << j) - 1)));
	d->n_inl--;
}

/* x's leg j is left out (its tool never answered): the rest closes up. */
static void
il_splice(struct ps_flow_tls *x, unsigned int j)
{
	unsigned int k;

	ps_inline_free(&x->il[j]);
	for (k = j; k + 1 < x->dec.n_inl; k++)
		x->il[k] = x->il[k + 1];
	il_splice_decision(&x->dec, j);
}

/*
 * Bring x's chain up to date with its legs: a fail-open tool whose leg
 * never came up is left out (the rest closes up); any other dead leg fails
 * the chain, counted once against its tool.
 */
static void
il_settle(struct ps_flow_tls *x)
{
	unsigned int j;

	if (x->il == NULL || x->il_gave_up || x->il_failed)
		return;
	for (j = 0; j < x->dec.n_inl; j++) {
		if (!ps_inline_dead(&x->il[j]))
			continue;
		if (!(x->il[j].flags & PS_INLINE_F_UP) && !(x->dec.inl_fail_closed & (1u << j))) {
			x->w->stats.flow[PS_FLOW_INLINE_GAVE_UP]++;
			il_splice(x, j);
			j--;
			continue;
		}
		__atomic_fetch_add(&x->w->dp->inl[x->dec.inl[j]].resets, 1, __ATOMIC_RELAXED);
		x->il_failed = true;
		return;
	}
	if (x->dec.n_inl == 0)
		x->il_gave_up = true;
}

/* The chain's state for the TLS stage, settled first (see il_settle). */
static int
pipe_state(void *arg)
{
	struct ps_flow_tls *x = arg;

	il_settle(x);
	if (x->il == NULL || x->il_gave_up)
		return 0;
	return x->il_failed ? -1 : 1;
}

/* The leg dir's data enters the chain at, and the one it leaves from. */
static inline unsigned int
leg_in(const struct ps_flow_tls *x, int dir)
{
	return dir == 0 ? 0 : x->dec.n_inl - 1u;
}

static inline unsigned int
leg_out(const struct ps_flow_tls *x, int dir)
{
	return dir == 0 ? x->dec.n_inl - 1u : 0;
}

static uint32_t
pipe_room(void *arg, int dir)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_room(&x->il[leg_in(x, dir)], dir);
}

static uint32_t
pipe_push(void *arg, int dir, const uint8_t *p, uint32_t n)
{
	struct ps_flow_tls *x = arg;
	uint32_t k = ps_inline_push(il_use(x, leg_in(x, dir)), dir, p, n, x->w->now_us,
				    &x->w->il_io);

	tools_data(x, tools_entering(x), dir, p, k);
	return k;
}

static uint32_t
pipe_peek(void *arg, int dir, const uint8_t **p)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_peek(&x->il[leg_out(x, dir)], dir, p);
}

static void
pipe_consume(void *arg, int dir, uint32_t n)
{
	struct ps_flow_tls *x = arg;
	unsigned int j = leg_out(x, dir);

	ps_inline_consume(il_use(x, j), dir, n, x->w->now_us, &x->w->il_io);
	__atomic_fetch_add(&x->w->dp->inl[x->dec.inl[j]].bytes[dir], n, __ATOMIC_RELAXED);
}

static void
pipe_shutdown(void *arg, int dir)
{
	struct ps_flow_tls *x = arg;

	ps_inline_shutdown(il_use(x, leg_in(x, dir)), dir, x->w->now_us, &x->w->il_io);
}

static bool
pipe_eof(void *arg, int dir)
{
	struct ps_flow_tls *x = arg;

	return ps_inline_eof(&x->il[leg_out(x, dir)], dir);
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

/*
 * Between two inline tools of a chain: what came out of leg `from` for
 * dir goes into leg `to`, as far as it has room, tapped for the tools
 * listed between them (client->server), and its end becomes to's end.
 */
static void
il_move(struct ps_flow_tls *x, unsigned int from, unsigned int to, int dir)
{
	struct ps_inline *a = &x->il[from], *b = &x->il[to];
	uint32_t fin = dir == 0 ? PS_INLINE_F_FIN0 : PS_INLINE_F_FIN1;
	const uint8_t *p;
	uint32_t n, room, k;

	while ((n = ps_inline_peek(a, dir, &p)) > 0 && (room = ps_inline_room(b, dir)) > 0) {
		k = ps_inline_push(il_use(x, to), dir, p, n < room ? n : room, x->w->now_us,
				   &x->w->il_io);
		if (k == 0)
			break;
		if (dir == 0)
			tools_data(x, x->dec.tools_at[to], dir, p, k);
		ps_inline_consume(il_use(x, from), dir, k, x->w->now_us, &x->w->il_io);
		__atomic_fetch_add(&x->w->dp->inl[x->dec.inl[from]].bytes[dir], k,
				   __ATOMIC_RELAXED);
	}
	if (!(b->flags & fin) && ps_inline_up(b) && ps_inline_eof(a, dir))
		ps_inline_shutdown(il_use(x, to), dir, x->w->now_us, &x->w->il_io);
}

/* Move data along x's chain of inline tools, both ways. */
static void
il_pump(struct ps_flow_tls *x)
{
	unsigned int j;

	if (x->il == NULL || x->il_gave_up)
		return;
	for (j = 0; j + 1 < x->dec.n_inl; j++)
		il_move(x, j, j + 1, 0);
	for (j = x->dec.n_inl - 1u; j > 0 && j < x->dec.n_inl; j--)
		il_move(x, j, j - 1, 1);
}

/* The earliest deadline of x's legs. */
static uint64_t
il_deadline(const struct ps_flow_tls *x)
{
	uint64_t at = UINT64_MAX;
	unsigned int j;

	for (j = 0; x->il != NULL && j < x->dec.n_inl; j++)
		if (ps_inline_deadline(&x->il[j]) < at)
			at = ps_inline_deadline(&x->il[j]);
	return at;
}

/* Both legs are up: x's flow gets its legs through its inline tools. */
static void
il_open(struct ps_flow_tls *x)
{
	struct ps_worker *w = x->w;
	unsigned int j;

	if (x->dec.n_inl == 0 || x->il != NULL)
		return;
	x->il = calloc(x->dec.n_inl, sizeof(*x->il));
	if (x->il == NULL) {
		x->il_gave_up = true;	/* out of memory: as tools that never answered */
		return;
	}
	for (j = 0; j < x->dec.n_inl; j++) {
		if (ps_inline_open(il_use(x, j), &w->dp->il_tcp_cfg, &w->tcp_stats,
				   &x->f->px.to_srv, &x->f->px.to_cli, (uint32_t)rte_rand(),
				   (uint32_t)rte_rand(), w->now_us, &w->il_io) < 0) {
			while (j-- > 0) {
				ps_inline_abort(il_use(x, j), w->now_us, &w->il_io);
				ps_inline_free(&x->il[j]);
			}
			free(x->il);
			x->il = NULL;
			x->il_gave_up = true;
			return;
		}
		__atomic_fetch_add(&w->dp->inl[x->dec.inl[j]].flows, 1, __ATOMIC_RELAXED);
		w->stats.flow[PS_FLOW_INLINE_OPENED]++;
	}
	x->tap.pipe = &pipe_ops;
}

/* The policy at the ClientHello, and at the certificate when it needs it. */
static void
tap_decide(void *arg, const struct ps_tls_client_hello *h, X509 *cert, struct ps_tls_policy_verdict *v)
{
	struct ps_flow_tls *x = arg;
	struct ps_worker *w = x->w;
	unsigned int j;

	ps_decide_tls(w, &x->f->px.to_srv, w->dp->ports[x->f->port[PS_SIDE_CLI]].cfg->group,
		      h, cert, &x->dec, v);
	if (v->decision != PS_TLS_DECIDE_DECRYPT && v->decision != PS_TLS_DECIDE_LATER)
		return;
	for (j = 0; j < x->dec.n_inl; j++) {
		if (__atomic_load_n(&w->dp->inl[x->dec.inl[j]].up, __ATOMIC_RELAXED))
			continue;
		/* An inline tool of its chain is down (heartbeats do not pass). */
		if (x->dec.inl_fail_closed & (1u << j)) {
			w->stats.flow[PS_FLOW_INLINE_BLOCKED_DOWN]++;
			v->decision = PS_TLS_DECIDE_REJECT;
			snprintf(v->rule, sizeof(v->rule), "%.40s (inline tool down)", x->dec.rule);
			return;
		}
		w->stats.flow[PS_FLOW_INLINE_SKIPPED_DOWN]++;
		il_splice_decision(&x->dec, j);
		j--;
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
	struct ps_tool_cfg cfg;
	unsigned int i;

	(void)t;
	if (x->dec.action != PS_POL_BYPASS)
		il_open(x);	/* a bypassed flow's copy goes to out-of-band tools only */
	/* One pair of sequence numbers for all its conversations: a join key. */
	x->tool_isn[0] = (uint32_t)rte_rand();
	x->tool_isn[1] = (uint32_t)rte_rand();
	for (i = 0; i < x->n_tools; i++) {
		if (!(x->dec.tools & (UINT64_C(1) << i)))
			continue;	/* not in this rule's tool chain */
		cfg = w->dp->tool_cfg[i];
		if (x->dec.action == PS_POL_BYPASS)
			cfg.dport_rewrite = 0;	/* still TLS: its own port */
		tool_use(w, i);
		(void)ps_tool_open(&x->conv[i], &cfg, &x->f->px.to_srv,
				   x->tool_isn[0], x->tool_isn[1], &w->tool_io);
		tool_done(w, i);
	}
}

static void
tools_data(struct ps_flow_tls *x, uint64_t tools, int dir, const uint8_t *p, uint32_t n)
{
	struct ps_worker *w = x->w;
	unsigned int i;

	tools &= x->dec.tools;
	while (tools != 0 && n > 0) {
		i = (unsigned int)__builtin_ctzll(tools);
		tools &= tools - 1;
		if (i >= x->n_tools)
			break;
		tool_use(w, i);
		ps_tool_data(&x->conv[i], dir == 0 ? PS_TOOL_C2S : PS_TOOL_S2C, p, n,
			     &w->tool_io);
		tool_done(w, i);
	}
}

/*
 * Plaintext the TLS stage passes on to the other leg: straight from the
 * first leg (no inline tool: every tool of the flow), or as it leaves
 * the chain of inline tools.
 */
static void
tap_data(void *arg, int dir, const uint8_t *p, uint32_t n)
{
	struct ps_flow_tls *x = arg;

	if (x->tap.pipe == NULL || x->il_gave_up)
		tools_data(x, x->dec.tools, dir, p, n);
	else
		tools_data(x, tools_leaving(x, dir), dir, p, n);
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

/* The tools x's plaintext went to, in chain order, as they saw it. */
static void
sess_tools(const struct ps_worker *w, const struct ps_flow_tls *x, struct ps_sess_rec *r)
{
	const struct ps_dp *dp = w->dp;
	unsigned int p, i;
	bool inl = x->il != NULL && !x->il_gave_up;

	for (p = 0; p <= (inl ? x->dec.n_inl : 0u); p++) {
		uint64_t at = inl ? x->dec.tools_at[p] : x->dec.tools;

		for (i = 0; i < x->n_tools && r->n_tools < PS_SESS_TOOLS_MAX; i++) {
			struct ps_sess_tool *t = &r->tools[r->n_tools];

			if (!(at & (UINT64_C(1) << i)) || !(x->conv[i].flags & PS_TOOL_F_OPEN))
				continue;
			r->n_tools++;
			t->kind = dp->tool_port[i] == PS_TOOL_PORT_RECORDER ?
				  PS_SESS_TOOL_RECORDER : PS_SESS_TOOL_OOB;
			snprintf(t->name, sizeof(t->name), "%s",
				 t->kind == PS_SESS_TOOL_RECORDER ? "recorder" :
				 dp->cfg->ports[dp->tool_port[i]].name);
			t->tap = (uint8_t)p;
			t->srv_port = dp->tool_cfg[i].dport_rewrite != 0 &&
				      x->dec.action != PS_POL_BYPASS ?
				      dp->tool_cfg[i].dport_rewrite : r->srv_port;
			t->isn[0] = x->tool_isn[0];
			t->isn[1] = x->tool_isn[1];
		}
		if (inl && p < x->dec.n_inl && r->n_tools < PS_SESS_TOOLS_MAX) {
			struct ps_sess_tool *t = &r->tools[r->n_tools++];

			t->kind = PS_SESS_TOOL_INLINE;
			snprintf(t->name, sizeof(t->name), "%s", dp->inl[x->dec.inl[p]].name);
			t->srv_port = r->srv_port;
		}
	}
}

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
	sess_tools(w, x, r);
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
	x->dec.tools = w->dp->n_tools >= 64 ? UINT64_MAX : (UINT64_C(1) << w->dp->n_tools) - 1;
	x->dec.tools_at[0] = x->dec.tools;
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
		for (i = 0; i < x->dec.n_inl; i++) {
			if (!ps_inline_done(&x->il[i]))
				ps_inline_abort(il_use(x, i), w->now_us, &w->il_io);
			ps_inline_free(&x->il[i]);
		}
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
	if (f->tls != NULL && il_deadline(f->tls) < at)
		at = il_deadline(f->tls);
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
	if (f->tls != NULL && il_deadline(f->tls) <= w->now_us) {
		struct ps_flow_tls *x = f->tls;
		unsigned int j;

		for (j = 0; j < x->dec.n_inl; j++)
			if (ps_inline_deadline(&x->il[j]) <= w->now_us)
				ps_inline_timer(il_use(x, j), w->now_us, &w->il_io);
		il_pump(x);
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

		ps_decide_flow_of(p, 'a', &c2s);
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
		/* Out of memory: as a full table (fail closed by default). */
		return ps_policy_overflow(w->dp) == PS_OVERFLOW_DROP ? PS_ICPT_DROP :
		       PS_ICPT_BRIDGE;
	}
	if (f->tls != NULL && d.at != NULL) {
		/* Decided at the SYN: the record says so until the hello decides. */
		d.tools = f->tls->dec.tools;
		d.tools_at[0] = d.tools;
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
	if (f != NULL && side == 'a' && is_bare_syn(p) && ps_tcp_syn_is_new(&f->px.cli, p)) {
		/* The client reuses the 4-tuple of a connection whose client
		 * side is over (RFC 6191), or starts again while its first
		 * SYN is still held: the old flow gives way. */
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
	unsigned int j;

	f = ps_flow_lookup(w->flows, key, hash, &h);
	if (f == NULL || (x = f->tls) == NULL || x->il == NULL || x->il_gave_up)
		return PS_ICPT_DROP;
	for (j = 0; j < x->dec.n_inl && x->dec.inl[j] != pair; j++)
		;
	if (j == x->dec.n_inl)
		return PS_ICPT_DROP;	/* not (or no longer) on this tool's leg */
	if (!ps_pkt_l4_csum_ok(frame, p)) {
		w->stats.flow[PS_FLOW_BAD_CHECKSUM]++;
		rte_pktmbuf_free(m);
		return PS_ICPT_CONSUMED;
	}
	use_ports(w, f);
	(void)ps_inline_input(il_use(x, j), w->dp->inl[pair].port[1] == idx, frame, p, w->now_us,
			      &w->il_io);
	/* What came out of the tool (or its reset) moves the chain and the flow on. */
	il_pump(x);
	ps_proxy_poke(&f->px, w->now_us, &w->io);
	flow_settle(w, f);
	rte_pktmbuf_free(m);
	return PS_ICPT_CONSUMED;
}
