/* SPDX-License-Identifier: BSD-3-Clause
 * TCP endpoint tests over a simulated network: two endpoints joined by a
 * queue this file controls (delay, loss, duplication, reordering, targeted
 * drops) and a fake clock. Covers handshakes with lost segments,
 * simultaneous open and close, half-close, bulk transfer through a lossy
 * path compared byte for byte, back-pressure, wrap-around, window scaling,
 * SACK and NewReno recovery.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_tcp.h"

#define MS	1000ull
#define SEC	1000000ull

struct net_pkt {
	uint64_t at;
	int dst;
	struct ps_pkt p;
	uint8_t *data;
	struct net_pkt *next;
};

struct side {
	struct ps_tcp_cfg cfg;
	struct ps_tcp_stats st;
	struct ps_tcp_ep ep;
	uint32_t events;		/* accumulated */
	/* application */
	const uint8_t *tx;		/* bytes to send */
	size_t tx_len, tx_off;
	bool close_when_sent;
	bool closed;
	bool reading;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	/* what the endpoint sent, flags and lengths */
	unsigned int n_sent, n_syn, n_rst, n_fin, n_data;
	uint32_t last_wire_window;
	size_t max_mem;
	/* passive behaviour when a SYN reaches a CLOSED endpoint */
	enum { LISTEN_NO, LISTEN_ACCEPT, LISTEN_REFUSE, LISTEN_HOLD, LISTEN_SILENT } listen;
	bool opened;
	bool syn_held;
};

#define SIM_MAX	4

struct sim {
	struct side s[SIM_MAX];
	int n;				/* endpoints in use */
	int peer[SIM_MAX];		/* where each one's segments go */
	/* called after every delivery or timer run (a proxy between endpoints) */
	void (*hook)(struct sim *sim);
	uint64_t now;
	struct net_pkt *q;
	uint32_t rng;
	unsigned int loss_pm, dup_pm, reorder_pm;	/* per mille */
	uint64_t delay;
	/* drop the seg when it returns true */
	bool (*filter)(struct sim *sim, int from, const struct ps_tcp_seg *seg);
	unsigned int filter_state;
	unsigned int delivered;
};

static uint32_t
sim_rand(struct sim *sim)
{
	sim->rng ^= sim->rng << 13;
	sim->rng ^= sim->rng >> 17;
	sim->rng ^= sim->rng << 5;
	return sim->rng;
}

static void
sim_init(struct sim *sim)
{
	int i;

	memset(sim, 0, sizeof(*sim));
	sim->rng = 0x9e3779b9;
	sim->delay = 5 * MS;
	sim->now = 1 * SEC;
	sim->n = 2;
	sim->peer[0] = 1;
	sim->peer[1] = 0;
	for (i = 0; i < SIM_MAX; i++) {
		ps_tcp_cfg_defaults(&sim->s[i].cfg);
		sim->s[i].reading = true;
	}
}

static void
sim_start(struct sim *sim)
{
	int i;

	for (i = 0; i < sim->n; i++) {
		assert_int_equal(ps_tcp_cfg_check(&sim->s[i].cfg), 0);
		ps_tcp_init(&sim->s[i].ep, &sim->s[i].cfg, &sim->s[i].st, 0);
	}
}

static void
sim_enqueue(struct sim *sim, int dst, const struct ps_pkt *p, const uint8_t *data, uint64_t at)
{
	struct net_pkt *n = calloc(1, sizeof(*n)), **pp;

	assert_non_null(n);
	n->at = at;
	n->dst = dst;
	n->p = *p;
	if (p->payload_len > 0) {
		n->data = malloc(p->payload_len);
		assert_non_null(n->data);
		memcpy(n->data, data, p->payload_len);
	}
	/* sorted by time, FIFO among equals */
	for (pp = &sim->q; *pp != NULL && (*pp)->at <= at; pp = &(*pp)->next)
		;
	n->next = *pp;
	*pp = n;
}

static void
seg_to_pkt(const struct ps_tcp_seg *seg, struct ps_pkt *p)
{
	const struct ps_tcp_spec *t = &seg->tcp;

	memset(p, 0, sizeof(*p));
	p->has_l4 = true;
	p->seq = t->seq;
	p->ack = t->ack;
	p->tcp_flags = t->flags;
	p->window = t->window;
	p->has_mss = t->has_mss;
	p->mss = t->mss;
	p->has_wscale = t->has_wscale;
	p->wscale = t->wscale;
	p->sack_ok = t->sack_ok;
	p->has_ts = t->has_ts;
	p->ts_val = t->ts_val;
	p->ts_ecr = t->ts_ecr;
	p->n_sack = t->n_sack;
	memcpy(p->sack, t->sack, sizeof(p->sack));
	p->payload_len = seg->len;
}

static void
sim_collect(struct sim *sim, int from, struct ps_tcp_out *out)
{
	struct side *sd = &sim->s[from];
	uint8_t buf[65536];
	struct ps_pkt p;
	unsigned int i;
	uint64_t at;

	for (;;) {
		for (i = 0; i < out->n_segs; i++) {
			const struct ps_tcp_seg *seg = &out->segs[i];

			assert_true(seg->len <= sd->ep.snd_mss);
			ps_tcp_copy_payload(&sd->ep, seg, buf);
			sd->n_sent++;
			if (seg->tcp.flags & PS_TCP_SYN)
				sd->n_syn++;
			if (seg->tcp.flags & PS_TCP_RST)
				sd->n_rst++;
			if (seg->tcp.flags & PS_TCP_FIN)
				sd->n_fin++;
			if (seg->len > 0)
				sd->n_data++;
			if (seg->tcp.flags & PS_TCP_ACK)
				sd->last_wire_window = seg->tcp.window;
			if (sim->filter != NULL && sim->filter(sim, from, seg))
				continue;
			if (sim->loss_pm && sim_rand(sim) % 1000 < sim->loss_pm)
				continue;
			seg_to_pkt(seg, &p);
			at = sim->now + sim->delay;
			if (sim->reorder_pm && sim_rand(sim) % 1000 < sim->reorder_pm)
				at += 1 + sim_rand(sim) % (3 * MS);
			sim_enqueue(sim, sim->peer[from], &p, buf, at);
			if (sim->dup_pm && sim_rand(sim) % 1000 < sim->dup_pm)
				sim_enqueue(sim, sim->peer[from], &p, buf,
					    at + sim_rand(sim) % (2 * MS));
		}
		sd->events |= out->events;
		if (!out->more)
			break;
		ps_tcp_out_reset(out);
		ps_tcp_output(&sd->ep, sim->now, out);
	}
	ps_tcp_out_reset(out);
}

/* The application on one side: read everything, write what fits, close when done. */
static void
sim_app(struct sim *sim, int i)
{
	struct side *sd = &sim->s[i];
	struct ps_tcp_out out;
	uint32_t n;
	int w;
	size_t mem;

	ps_tcp_out_reset(&out);
	if (sd->reading) {
		while (ps_tcp_readable(&sd->ep) > 0) {
			if (sd->rx_len == sd->rx_cap) {
				sd->rx_cap = sd->rx_cap ? sd->rx_cap * 2 : 65536;
				sd->rx = realloc(sd->rx, sd->rx_cap);
				assert_non_null(sd->rx);
			}
			n = ps_tcp_read(&sd->ep, sd->rx + sd->rx_len,
					(uint32_t)(sd->rx_cap - sd->rx_len), sim->now, &out);
			sd->rx_len += n;
		}
	}
	if (sd->tx_off < sd->tx_len) {
		w = ps_tcp_write(&sd->ep, sd->tx + sd->tx_off,
				 (uint32_t)(sd->tx_len - sd->tx_off), sim->now, &out);
		if (w > 0)
			sd->tx_off += (size_t)w;
	}
	if (sd->close_when_sent && !sd->closed && sd->tx_off == sd->tx_len &&
	    ps_tcp_state(&sd->ep) != PS_TCP_ST_SYN_SENT &&
	    ps_tcp_state(&sd->ep) != PS_TCP_ST_SYN_RCVD &&
	    ps_tcp_state(&sd->ep) != PS_TCP_ST_CLOSED) {
		sd->closed = true;
		assert_int_equal(ps_tcp_close(&sd->ep, sim->now, &out), 0);
	}
	sim_collect(sim, i, &out);
	mem = ps_tcp_mem(&sd->ep);
	if (mem > sd->max_mem)
		sd->max_mem = mem;
	/* bounded: buffers never exceed their caps by more than a chunk each */
	assert_true(mem <= (size_t)sd->cfg.snd_buf + sd->cfg.rcv_buf + 2u * sd->cfg.chunk_size);
}

/*
 * A segment reaches endpoint n->dst. A CLOSED listening endpoint takes a
 * SYN as a passive open and accepts (or refuses) it at once; a CLOSED
 * intercepting one leaves the SYN to the hook.
 */
static void
sim_deliver(struct sim *sim, struct net_pkt *n, struct ps_tcp_out *out)
{
	struct side *sd = &sim->s[n->dst];

	if (ps_tcp_state(&sd->ep) == PS_TCP_ST_CLOSED && sd->listen != LISTEN_NO &&
	    (n->p.tcp_flags & (PS_TCP_SYN | PS_TCP_ACK)) == PS_TCP_SYN && !sd->opened) {
		sd->opened = true;
		assert_int_equal(ps_tcp_passive_syn(&sd->ep, &n->p, 0x80000000u + n->dst,
						    sim->now), 0);
		if (sd->listen == LISTEN_ACCEPT)
			assert_int_equal(ps_tcp_accept(&sd->ep, sim->now, out), 0);
		else if (sd->listen == LISTEN_REFUSE)
			assert_int_equal(ps_tcp_refuse(&sd->ep, sim->now, out), 0);
		else
			sd->syn_held = true;	/* LISTEN_HOLD: the hook decides */
		return;
	}
	if (sd->listen == LISTEN_SILENT)
		return;
	ps_tcp_input(&sd->ep, &n->p, n->data, sim->now, out);
}

/* Run until `until` or until nothing is pending. */
static void
sim_run(struct sim *sim, uint64_t until)
{
	struct ps_tcp_out out;
	uint64_t next, d;
	int i;

	ps_tcp_out_reset(&out);
	for (;;) {
		next = UINT64_MAX;
		if (sim->q != NULL)
			next = sim->q->at;
		for (i = 0; i < sim->n; i++) {
			d = ps_tcp_next_deadline(&sim->s[i].ep);
			if (d < next)
				next = d;
		}
		if (next > until) {
			if (until > sim->now)
				sim->now = until;
			break;
		}
		if (next < sim->now)
			next = sim->now;
		sim->now = next;
		while (sim->q != NULL && sim->q->at <= sim->now) {
			struct net_pkt *n = sim->q;

			sim->q = n->next;
			sim_deliver(sim, n, &out);
			sim->delivered++;
			sim_collect(sim, n->dst, &out);
			sim_app(sim, n->dst);
			if (sim->hook != NULL)
				sim->hook(sim);
			free(n->data);
			free(n);
		}
		for (i = 0; i < sim->n; i++) {
			if (ps_tcp_next_deadline(&sim->s[i].ep) <= sim->now) {
				ps_tcp_timer(&sim->s[i].ep, sim->now, &out);
				sim_collect(sim, i, &out);
				sim_app(sim, i);
				if (sim->hook != NULL)
					sim->hook(sim);
			}
		}
	}
}

static void
sim_free(struct sim *sim)
{
	struct net_pkt *n;
	int i;

	while ((n = sim->q) != NULL) {
		sim->q = n->next;
		free(n->data);
		free(n);
	}
	for (i = 0; i < SIM_MAX; i++) {
		ps_tcp_free(&sim->s[i].ep);
		free(sim->s[i].rx);
	}
}

/* Side 0 connects to side 1 (passive, accepted at once). */
static void
sim_connect(struct sim *sim, uint32_t iss0, uint32_t iss1)
{
	struct ps_tcp_out out;
	struct net_pkt *n;

	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_connect(&sim->s[0].ep, iss0, sim->now, &out), 0);
	assert_int_equal(ps_tcp_state(&sim->s[0].ep), PS_TCP_ST_SYN_SENT);
	sim_collect(sim, 0, &out);
	/* run until the SYN arrives at side 1 (retransmissions included) */
	while (sim->q == NULL) {
		sim_run(sim, ps_tcp_next_deadline(&sim->s[0].ep));
		assert_true(ps_tcp_state(&sim->s[0].ep) == PS_TCP_ST_SYN_SENT);
	}
	n = sim->q;
	sim->q = n->next;
	sim->now = n->at;
	assert_true(n->p.tcp_flags & PS_TCP_SYN);
	assert_int_equal(ps_tcp_passive_syn(&sim->s[1].ep, &n->p, iss1, sim->now), 0);
	assert_int_equal(ps_tcp_state(&sim->s[1].ep), PS_TCP_ST_SYN_RCVD);
	free(n->data);
	free(n);
	assert_int_equal(ps_tcp_accept(&sim->s[1].ep, sim->now, &out), 0);
	sim_collect(sim, 1, &out);
}

static uint8_t *
pattern(size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
	return b;
}

static void
test_handshake_and_close(void **state)
{
	struct sim sim;
	struct ps_tcp_out out;

	(void)state;
	sim_init(&sim);
	sim_start(&sim);
	sim_connect(&sim, 1000, 5000);
	sim_run(&sim, sim.now + 100 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_ESTABLISHED);
	assert_true(sim.s[0].events & PS_TCP_EV_CONNECTED);
	assert_true(sim.s[1].events & PS_TCP_EV_CONNECTED);
	assert_int_equal(sim.s[0].n_syn, 1);
	assert_int_equal(sim.s[1].n_syn, 1);
	/* options negotiated: scaling 7 both ways, SACK, timestamps */
	assert_int_equal(sim.s[0].ep.snd_wscale, 7);
	assert_int_equal(sim.s[1].ep.snd_wscale, 7);
	assert_int_equal(sim.s[0].ep.snd_mss, 1460);

	/* 0 closes: FIN_WAIT_1 → FIN_WAIT_2; 1 sees CLOSE_WAIT */
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_close(&sim.s[0].ep, sim.now, &out), 0);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_FIN_WAIT_1);
	assert_int_equal(ps_tcp_close(&sim.s[0].ep, sim.now, &out), -ENOTCONN);
	sim_collect(&sim, 0, &out);
	sim_run(&sim, sim.now + 100 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_FIN_WAIT_2);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSE_WAIT);
	assert_true(sim.s[1].events & PS_TCP_EV_PEER_FIN);
	assert_true(ps_tcp_peer_closed(&sim.s[1].ep));
	/* 1 closes: LAST_ACK → CLOSED; 0 goes through TIME_WAIT */
	assert_int_equal(ps_tcp_close(&sim.s[1].ep, sim.now, &out), 0);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_LAST_ACK);
	sim_collect(&sim, 1, &out);
	sim_run(&sim, sim.now + 100 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSED);
	assert_true(sim.s[1].events & PS_TCP_EV_CLOSED);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_TIME_WAIT);
	sim_run(&sim, sim.now + sim.s[0].cfg.time_wait_us - 200 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_TIME_WAIT);
	sim_run(&sim, sim.now + 200 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_CLOSED);
	assert_true(sim.s[0].events & PS_TCP_EV_CLOSED);
	assert_int_equal(sim.s[0].n_rst + sim.s[1].n_rst, 0);
	assert_int_equal(ps_tcp_mem(&sim.s[0].ep) + ps_tcp_mem(&sim.s[1].ep), 0);
	sim_free(&sim);
}

/* Drop the first segment with flags f from side `from`. */
static unsigned int drop_from, drop_flags, drop_count;

static bool
drop_first(struct sim *sim, int from, const struct ps_tcp_seg *seg)
{
	if ((unsigned int)from == drop_from && seg->tcp.flags == drop_flags &&
	    sim->filter_state < drop_count) {
		sim->filter_state++;
		return true;
	}
	return false;
}

static void
handshake_loss(uint8_t flags, unsigned int from, unsigned int count)
{
	struct sim sim;
	uint64_t t0;

	sim_init(&sim);
	sim_start(&sim);
	drop_from = from;
	drop_flags = flags;
	drop_count = count;
	sim.filter = drop_first;
	t0 = sim.now;
	sim_connect(&sim, 0xfffffff0u, 77);
	sim_run(&sim, t0 + 10 * SEC);
	assert_int_equal(sim.filter_state, count);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(sim.s[0].n_rst + sim.s[1].n_rst, 0);
	sim_free(&sim);
}

static void
test_handshake_lost_syn(void **state)
{
	(void)state;
	handshake_loss(PS_TCP_SYN, 0, 2);
}

static void
test_handshake_lost_synack(void **state)
{
	(void)state;
	handshake_loss(PS_TCP_SYN | PS_TCP_ACK, 1, 2);
}

static void
test_handshake_lost_ack(void **state)
{
	struct sim sim;

	(void)state;
	/* the third segment of the handshake is lost; the SYN-ACK is resent */
	handshake_loss(PS_TCP_ACK, 0, 1);
	/* and when the client sends data at once, the data ACK completes it */
	sim_init(&sim);
	sim_start(&sim);
	drop_from = 0;
	drop_flags = PS_TCP_ACK;
	drop_count = 1;
	sim.filter = drop_first;
	sim.s[0].tx = (const uint8_t *)"hello";
	sim.s[0].tx_len = 5;
	sim_connect(&sim, 1, 2);
	sim_run(&sim, sim.now + 200 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(sim.s[1].rx_len, 5);
	assert_memory_equal(sim.s[1].rx, "hello", 5);
	assert_int_equal(sim.s[1].n_syn, 1);
	sim_free(&sim);
}

static void
test_simultaneous_open(void **state)
{
	struct sim sim;
	struct ps_tcp_out out;

	(void)state;
	sim_init(&sim);
	sim_start(&sim);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_connect(&sim.s[0].ep, 100, sim.now, &out), 0);
	sim_collect(&sim, 0, &out);
	assert_int_equal(ps_tcp_connect(&sim.s[1].ep, 900, sim.now, &out), 0);
	sim_collect(&sim, 1, &out);
	/* both SYNs cross: SYN_SENT → SYN_RCVD → ESTABLISHED (RFC 9293 figure 8) */
	sim_run(&sim, sim.now + sim.delay);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_SYN_RCVD);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_SYN_RCVD);
	sim_run(&sim, sim.now + 100 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_ESTABLISHED);
	assert_true(sim.s[0].ep.snd_wscale == 7 && sim.s[1].ep.snd_wscale == 7);
	sim.s[0].tx = (const uint8_t *)"ping";
	sim.s[0].tx_len = 4;
	sim_app(&sim, 0);
	sim_run(&sim, sim.now + 100 * MS);
	assert_int_equal(sim.s[1].rx_len, 4);
	sim_free(&sim);
}

static void
test_simultaneous_close(void **state)
{
	struct sim sim;
	struct ps_tcp_out out;

	(void)state;
	sim_init(&sim);
	sim_start(&sim);
	sim_connect(&sim, 5, 6);
	sim_run(&sim, sim.now + 100 * MS);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_close(&sim.s[0].ep, sim.now, &out), 0);
	sim_collect(&sim, 0, &out);
	assert_int_equal(ps_tcp_close(&sim.s[1].ep, sim.now, &out), 0);
	sim_collect(&sim, 1, &out);
	/* FINs cross: FIN_WAIT_1 → CLOSING → TIME_WAIT on both sides */
	sim_run(&sim, sim.now + sim.delay);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_CLOSING);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSING);
	sim_run(&sim, sim.now + sim.delay);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_TIME_WAIT);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_TIME_WAIT);
	sim_run(&sim, sim.now + 3 * SEC);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_CLOSED);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSED);
	sim_free(&sim);
}

static void
test_half_close(void **state)
{
	struct sim sim;
	uint8_t *data = pattern(300000, 3);

	(void)state;
	sim_init(&sim);
	sim_start(&sim);
	sim.s[0].close_when_sent = true;	/* sends nothing, closes at once */
	sim.s[1].tx = data;
	sim.s[1].tx_len = 300000;
	sim_connect(&sim, 10, 20);
	sim_run(&sim, sim.now + 50 * MS);
	/* 0 is in FIN_WAIT_2 and keeps receiving; 1 in CLOSE_WAIT keeps sending */
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_FIN_WAIT_2);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSE_WAIT);
	assert_true(ps_tcp_write(&sim.s[0].ep, data, 1, sim.now, &(struct ps_tcp_out){0}) ==
		    -EPIPE);
	sim_run(&sim, sim.now + 5 * SEC);
	assert_int_equal(sim.s[0].rx_len, 300000);
	assert_memory_equal(sim.s[0].rx, data, 300000);
	sim.s[1].close_when_sent = true;
	sim_app(&sim, 1);
	sim_run(&sim, sim.now + 200 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSED);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_TIME_WAIT);
	sim_free(&sim);
	free(data);
}

static void
bulk(uint32_t iss0, uint32_t iss1, size_t len0, size_t len1, unsigned int loss,
     unsigned int dup, unsigned int reorder, uint64_t limit)
{
	struct sim sim;
	uint8_t *d0 = pattern(len0, 11), *d1 = pattern(len1, 12);

	sim_init(&sim);
	sim.s[0].cfg.snd_buf = 128 * 1024;
	sim.s[1].cfg.rcv_buf = 96 * 1024;
	sim_start(&sim);
	sim.s[0].tx = d0;
	sim.s[0].tx_len = len0;
	sim.s[1].tx = d1;
	sim.s[1].tx_len = len1;
	sim.s[0].close_when_sent = true;
	sim.s[1].close_when_sent = true;
	sim.loss_pm = loss;
	sim.dup_pm = dup;
	sim.reorder_pm = reorder;
	sim.delay = 10 * MS;
	sim_connect(&sim, iss0, iss1);
	sim_run(&sim, sim.now + limit);
	assert_int_equal(sim.s[1].rx_len, len0);
	assert_int_equal(sim.s[0].rx_len, len1);
	assert_memory_equal(sim.s[1].rx, d0, len0);
	assert_memory_equal(sim.s[0].rx, d1, len1);
	assert_true(ps_tcp_peer_closed(&sim.s[0].ep) && ps_tcp_peer_closed(&sim.s[1].ep));
	if (loss > 0) {
		assert_true(sim.s[0].st.cnt[PS_TCP_CNT_RETRANSMITS] > 0);
		assert_true(sim.s[1].st.cnt[PS_TCP_CNT_OOO_SEGS] > 0);
	}
	if (dup > 0)
		assert_true(sim.s[1].st.cnt[PS_TCP_CNT_DUP_SEGS] > 0);
	/* memory stayed within the caps and everything is released */
	assert_true(sim.s[1].max_mem <= 96 * 1024 + 256 * 1024 + 2 * 4096);
	assert_int_equal(ps_tcp_mem(&sim.s[0].ep), 0);
	assert_int_equal(ps_tcp_mem(&sim.s[1].ep), 0);
	print_message("  bulk %zu+%zu bytes: %u segments delivered, retransmits %llu/%llu, "
		      "fast %llu, sack %llu, rto %llu\n", len0, len1, sim.delivered,
		      (unsigned long long)sim.s[0].st.cnt[PS_TCP_CNT_RETRANSMITS],
		      (unsigned long long)sim.s[1].st.cnt[PS_TCP_CNT_RETRANSMITS],
		      (unsigned long long)sim.s[0].st.cnt[PS_TCP_CNT_FAST_RETRANSMITS],
		      (unsigned long long)sim.s[0].st.cnt[PS_TCP_CNT_SACK_RETRANSMITS],
		      (unsigned long long)sim.s[0].st.cnt[PS_TCP_CNT_RTO_TIMEOUTS]);
	sim_free(&sim);
	free(d0);
	free(d1);
}

static void
test_bulk_clean(void **state)
{
	(void)state;
	bulk(1, 2, 2 * 1024 * 1024, 100000, 0, 0, 0, 60 * SEC);
}

static void
test_bulk_lossy(void **state)
{
	(void)state;
	/* 2% loss, 2% duplication, 5% reordering, both directions */
	bulk(123456, 654321, 4 * 1024 * 1024, 1024 * 1024, 20, 20, 50, 600 * SEC);
}

static void
test_bulk_wraparound(void **state)
{
	(void)state;
	/* both ISNs just below 2^32: every sequence comparison wraps */
	bulk(0xffffff00u, 0xfffffffeu, 1024 * 1024, 1024 * 1024, 10, 0, 20, 300 * SEC);
}

static void
test_window_scaling_asymmetric(void **state)
{
	struct sim sim;
	uint8_t *d = pattern(500000, 5);

	(void)state;
	sim_init(&sim);
	sim.s[0].cfg.wscale = 2;
	sim.s[0].cfg.rcv_buf = 200000;
	sim.s[1].cfg.wscale = 9;
	sim.s[1].cfg.rcv_buf = 1 << 20;
	sim_start(&sim);
	sim.s[0].tx = d;
	sim.s[0].tx_len = 500000;
	sim.s[1].tx = d;
	sim.s[1].tx_len = 500000;
	sim_connect(&sim, 7, 8);
	sim_run(&sim, sim.now + 30 * MS);
	/* each side scales the peer's window by the peer's shift */
	assert_int_equal(sim.s[0].ep.snd_wscale, 9);
	assert_int_equal(sim.s[1].ep.snd_wscale, 2);
	assert_int_equal(sim.s[0].ep.rcv_wscale, 2);
	sim_run(&sim, sim.now + 20 * SEC);
	assert_int_equal(sim.s[1].rx_len, 500000);
	assert_int_equal(sim.s[0].rx_len, 500000);
	assert_memory_equal(sim.s[1].rx, d, 500000);
	assert_memory_equal(sim.s[0].rx, d, 500000);
	/* side 1 advertises up to 1 MiB: with shift 9 the wire field is 2048 */
	assert_true(sim.s[0].ep.max_sndwnd > 65535);
	assert_true(sim.s[1].last_wire_window <= (1u << 20) >> 9);
	sim_free(&sim);
	free(d);

	/* one side without scaling: neither scales (RFC 7323 1.3) */
	sim_init(&sim);
	sim.s[1].cfg.wscale_ok = false;
	sim.s[1].cfg.rcv_buf = 65535;
	sim_start(&sim);
	sim_connect(&sim, 7, 8);
	sim_run(&sim, sim.now + 30 * MS);
	assert_int_equal(sim.s[0].ep.snd_wscale, 0);
	assert_int_equal(sim.s[0].ep.rcv_wscale, 0);
	assert_int_equal(sim.s[1].ep.snd_wscale, 0);
	sim_free(&sim);
}

static void
test_backpressure(void **state)
{
	struct sim sim;
	size_t len = 2 * 1024 * 1024;
	uint8_t *d = pattern(len, 9);
	uint64_t probes;

	(void)state;
	sim_init(&sim);
	sim.s[0].cfg.snd_buf = 64 * 1024;
	sim.s[1].cfg.rcv_buf = 32 * 1024;
	sim_start(&sim);
	sim.s[0].tx = d;
	sim.s[0].tx_len = len;
	sim.s[1].reading = false;	/* a receiver that does not read */
	sim_connect(&sim, 1, 1);
	sim_run(&sim, sim.now + 5 * SEC);
	/* receiver full: window 0; sender full: write() accepts nothing */
	/* (the last bytes below one window-scale unit go in one-byte probes) */
	assert_true(ps_tcp_readable(&sim.s[1].ep) > 32 * 1024 - 128);
	assert_int_equal(sim.s[1].last_wire_window, 0);
	assert_true(sim.s[1].st.cnt[PS_TCP_CNT_ZERO_WND_SENT] > 0);
	assert_true(sim.s[0].st.cnt[PS_TCP_CNT_ZERO_WND_RCVD] > 0);
	assert_int_equal(ps_tcp_writable(&sim.s[0].ep), 0);
	assert_int_equal(ps_tcp_write(&sim.s[0].ep, d, 100, sim.now, &(struct ps_tcp_out){0}), 0);
	assert_int_equal(sim.s[0].tx_off, 64 * 1024 + ps_tcp_readable(&sim.s[1].ep));
	assert_true(sim.s[0].max_mem <= 64 * 1024 + 4096);
	assert_true(sim.s[1].max_mem <= 32 * 1024 + 4096);
	/* persist probes back off: over 60 s only a handful */
	probes = sim.s[0].st.cnt[PS_TCP_CNT_PERSIST_PROBES];
	assert_true(probes >= 2);
	sim_run(&sim, sim.now + 60 * SEC);
	assert_true(sim.s[0].st.cnt[PS_TCP_CNT_PERSIST_PROBES] > probes);
	/* the last few bytes of window, then 0.2 0.4 ... 25.6 s: backoff */
	assert_true(sim.s[0].st.cnt[PS_TCP_CNT_PERSIST_PROBES] <= probes + 4 + 9);
	assert_true(sim.s[0].ep.rtx_count >= 7);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_readable(&sim.s[1].ep), 32 * 1024);
	/* the reader wakes up: the window update restarts the flow */
	sim.s[1].reading = true;
	sim_app(&sim, 1);
	sim_run(&sim, sim.now + 30 * SEC);
	assert_true(sim.s[0].events & PS_TCP_EV_WRITABLE);
	assert_int_equal(sim.s[1].rx_len, len);
	assert_memory_equal(sim.s[1].rx, d, len);
	sim_free(&sim);
	free(d);
}

/* Drop data segments number k and k+2 (counted from the first data segment). */
static unsigned int drop_seq_k;

static bool
drop_data_k(struct sim *sim, int from, const struct ps_tcp_seg *seg)
{
	if (from != 0 || seg->len == 0)
		return false;
	sim->filter_state++;
	return sim->filter_state == drop_seq_k || sim->filter_state == drop_seq_k + 2;
}

static void
recovery(bool sack)
{
	struct sim sim;
	uint8_t *d = pattern(60000, 4);

	sim_init(&sim);
	sim.s[0].cfg.sack_ok = sack;
	sim.s[1].cfg.sack_ok = sack;
	sim_start(&sim);
	sim_connect(&sim, 1, 2);
	sim_run(&sim, sim.now + 100 * MS);
	drop_seq_k = 2;
	sim.filter = drop_data_k;
	sim.s[0].tx = d;
	sim.s[0].tx_len = 30 * 1448;	/* 30 full segments: enough dup ACKs */
	sim_app(&sim, 0);
	sim_run(&sim, sim.now + 900 * MS);	/* less than the RTO */
	assert_int_equal(sim.s[1].rx_len, 30 * 1448);
	assert_memory_equal(sim.s[1].rx, d, 30 * 1448);
	assert_int_equal(sim.s[0].st.cnt[PS_TCP_CNT_RTO_TIMEOUTS], 0);
	assert_int_equal(sim.s[0].st.cnt[PS_TCP_CNT_FAST_RETRANSMITS], 1);
	/* exactly the two lost segments were sent again, nothing SACKed */
	assert_int_equal(sim.s[0].st.cnt[PS_TCP_CNT_RETRANSMITS], 2);
	if (sack)
		assert_int_equal(sim.s[0].st.cnt[PS_TCP_CNT_SACK_RETRANSMITS], 1);
	else
		assert_int_equal(sim.s[0].st.cnt[PS_TCP_CNT_SACK_RETRANSMITS], 0);
	assert_true(sim.s[1].st.cnt[PS_TCP_CNT_OOO_SEGS] > 3);
	assert_false(sim.s[0].ep.flags & 0x0400u);	/* recovery over */
	sim_free(&sim);
	free(d);
}

static void
test_fast_retransmit_sack(void **state)
{
	(void)state;
	recovery(true);
}

static void
test_newreno_partial_ack(void **state)
{
	(void)state;
	recovery(false);
}

static void
test_abort_resets_peer(void **state)
{
	struct sim sim;
	struct ps_tcp_out out;

	(void)state;
	sim_init(&sim);
	sim_start(&sim);
	sim_connect(&sim, 1, 2);
	sim_run(&sim, sim.now + 100 * MS);
	ps_tcp_out_reset(&out);
	ps_tcp_abort(&sim.s[0].ep, sim.now, &out);
	assert_int_equal(out.n_segs, 1);
	assert_true(out.segs[0].tcp.flags & PS_TCP_RST);
	assert_true(out.events & PS_TCP_EV_CLOSED);
	sim_collect(&sim, 0, &out);
	sim_run(&sim, sim.now + 100 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSED);
	assert_true(sim.s[1].events & PS_TCP_EV_RESET);
	sim_free(&sim);
}

/*
 * The appliance between endpoints 1 (towards the client 0, passive) and 2
 * (towards the server 3, active), as the flow proxy will drive them: open
 * the server side on the client's SYN, answer the client only when the
 * server answered, relay with back-pressure, carry FIN and RST across.
 */
static void
proxy_relay(struct sim *sim, int from, int to)
{
	struct ps_tcp_ep *a = &sim->s[from].ep, *b = &sim->s[to].ep;
	struct ps_tcp_out out;
	const uint8_t *p;
	uint32_t n;
	int w;

	ps_tcp_out_reset(&out);
	while ((n = ps_tcp_peek(a, &p)) > 0) {
		w = ps_tcp_write(b, p, n, sim->now, &out);
		sim_collect(sim, to, &out);
		if (w <= 0)
			break;
		assert_int_equal(ps_tcp_consume(a, (uint32_t)w, sim->now, &out), w);
		sim_collect(sim, from, &out);
	}
	if (ps_tcp_peer_closed(a) && ps_tcp_readable(a) == 0 && !sim->s[to].closed &&
	    (ps_tcp_state(b) == PS_TCP_ST_ESTABLISHED || ps_tcp_state(b) == PS_TCP_ST_CLOSE_WAIT)) {
		sim->s[to].closed = true;
		assert_int_equal(ps_tcp_close(b, sim->now, &out), 0);
		sim_collect(sim, to, &out);
	}
}

static void
proxy_hook(struct sim *sim)
{
	struct side *cli = &sim->s[1], *srv = &sim->s[2];
	struct ps_tcp_out out;

	ps_tcp_out_reset(&out);
	if (cli->syn_held && !srv->opened) {
		srv->opened = true;
		assert_int_equal(ps_tcp_connect(&srv->ep, 0xfffff000u, sim->now, &out), 0);
		sim_collect(sim, 2, &out);
	}
	if (cli->syn_held && (srv->events & PS_TCP_EV_CONNECTED)) {
		cli->syn_held = false;
		assert_int_equal(ps_tcp_accept(&cli->ep, sim->now, &out), 0);
		sim_collect(sim, 1, &out);
	}
	if ((srv->events & (PS_TCP_EV_RESET | PS_TCP_EV_TIMED_OUT)) &&
	    ps_tcp_state(&cli->ep) != PS_TCP_ST_CLOSED) {
		if (cli->syn_held)
			assert_int_equal(ps_tcp_refuse(&cli->ep, sim->now, &out), 0);
		else
			ps_tcp_abort(&cli->ep, sim->now, &out);
		cli->syn_held = false;
		sim_collect(sim, 1, &out);
	}
	if ((cli->events & (PS_TCP_EV_RESET | PS_TCP_EV_TIMED_OUT)) &&
	    ps_tcp_state(&srv->ep) != PS_TCP_ST_CLOSED) {
		ps_tcp_abort(&srv->ep, sim->now, &out);
		sim_collect(sim, 2, &out);
	}
	proxy_relay(sim, 1, 2);
	proxy_relay(sim, 2, 1);
}

static void
proxy_init(struct sim *sim, int server_listen)
{
	sim_init(sim);
	sim->n = 4;
	sim->peer[0] = 1;
	sim->peer[1] = 0;
	sim->peer[2] = 3;
	sim->peer[3] = 2;
	sim->s[1].listen = LISTEN_HOLD;
	sim->s[3].listen = server_listen;
	sim->s[1].reading = false;	/* the proxy reads */
	sim->s[2].reading = false;
	sim->hook = proxy_hook;
}

static void
proxy_connect(struct sim *sim)
{
	struct ps_tcp_out out;

	sim_start(sim);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_connect(&sim->s[0].ep, 42, sim->now, &out), 0);
	sim_collect(sim, 0, &out);
}

static bool
drop_first_server_synack(struct sim *sim, int from, const struct ps_tcp_seg *seg)
{
	if (from == 3 && (seg->tcp.flags & PS_TCP_SYN) && sim->filter_state == 0) {
		sim->filter_state++;
		return true;
	}
	return false;
}

static void
test_proxy_relay(void **state)
{
	struct sim sim;
	size_t l0 = 1024 * 1024, l3 = 512 * 1024;
	uint8_t *d0 = pattern(l0, 21), *d3 = pattern(l3, 22);
	uint64_t t0;
	int i;

	(void)state;
	proxy_init(&sim, LISTEN_ACCEPT);
	sim.filter = drop_first_server_synack;
	sim.s[0].tx = d0;
	sim.s[0].tx_len = l0;
	sim.s[3].tx = d3;
	sim.s[3].tx_len = l3;
	sim.s[0].close_when_sent = true;
	sim.s[3].close_when_sent = true;
	t0 = sim.now;
	proxy_connect(&sim);
	/* the server's SYN-ACK is lost: the client hears nothing meanwhile */
	sim_run(&sim, t0 + 500 * MS);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_SYN_RCVD);
	assert_int_equal(ps_tcp_state(&sim.s[2].ep), PS_TCP_ST_SYN_SENT);
	assert_int_equal(ps_tcp_state(&sim.s[3].ep), PS_TCP_ST_SYN_RCVD);
	assert_int_equal(sim.s[1].n_sent, 0);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_SYN_SENT);
	/* the server side retransmits at 1 s, then the client is answered */
	sim_run(&sim, t0 + 1100 * MS);
	for (i = 0; i < 4; i++)
		assert_true(ps_tcp_state(&sim.s[i].ep) >= PS_TCP_ST_ESTABLISHED);
	assert_int_equal(sim.s[1].n_syn, 1);
	/* bulk both ways through a lossy path on both sides */
	sim.loss_pm = 20;
	sim.dup_pm = 10;
	sim.reorder_pm = 30;
	sim_run(&sim, t0 + 300 * SEC);
	assert_int_equal(sim.s[3].rx_len, l0);
	assert_memory_equal(sim.s[3].rx, d0, l0);
	assert_int_equal(sim.s[0].rx_len, l3);
	assert_memory_equal(sim.s[0].rx, d3, l3);
	/* FINs crossed the appliance; everything is closed and released */
	for (i = 0; i < 4; i++) {
		assert_int_equal(ps_tcp_state(&sim.s[i].ep), PS_TCP_ST_CLOSED);
		assert_int_equal(ps_tcp_mem(&sim.s[i].ep), 0);
	}
	sim_free(&sim);
	free(d0);
	free(d3);
}

static void
test_proxy_server_refuses(void **state)
{
	struct sim sim;

	(void)state;
	proxy_init(&sim, LISTEN_REFUSE);
	proxy_connect(&sim);
	sim_run(&sim, sim.now + SEC);
	assert_true(sim.s[2].events & PS_TCP_EV_RESET);
	assert_true(sim.s[0].events & PS_TCP_EV_RESET);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_CLOSED);
	assert_int_equal(ps_tcp_state(&sim.s[1].ep), PS_TCP_ST_CLOSED);
	assert_int_equal(sim.s[1].n_syn, 0);	/* never answered with a SYN-ACK */
	assert_int_equal(sim.s[1].n_rst, 1);
	sim_free(&sim);
}

static void
test_proxy_server_silent(void **state)
{
	struct sim sim;
	uint64_t t0;

	(void)state;
	proxy_init(&sim, LISTEN_SILENT);
	sim.s[2].cfg.syn_retries = 2;
	t0 = sim.now;
	proxy_connect(&sim);
	sim_run(&sim, t0 + 6 * SEC);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_SYN_SENT);
	assert_int_equal(sim.s[2].n_syn, 3);
	/* 1 + 2 + 4 s: the server side gives up and the client is reset */
	sim_run(&sim, t0 + 7 * SEC + 100 * MS);
	assert_true(sim.s[2].events & PS_TCP_EV_TIMED_OUT);
	assert_true(sim.s[0].events & PS_TCP_EV_RESET);
	assert_int_equal(ps_tcp_state(&sim.s[0].ep), PS_TCP_ST_CLOSED);
	sim_free(&sim);
}

static void
test_proxy_backpressure_and_abort(void **state)
{
	struct sim sim;
	size_t len = 4 * 1024 * 1024;
	uint8_t *d = pattern(len, 23);
	size_t off;
	int i;

	(void)state;
	proxy_init(&sim, LISTEN_ACCEPT);
	for (i = 0; i < 4; i++) {
		sim.s[i].cfg.snd_buf = 64 * 1024;
		sim.s[i].cfg.rcv_buf = 64 * 1024;
	}
	sim.s[3].reading = false;	/* a slow server */
	sim.s[0].tx = d;
	sim.s[0].tx_len = len;
	proxy_connect(&sim);
	sim_run(&sim, sim.now + 20 * SEC);
	/* the server's window closed, then the appliance's, then the client's */
	off = sim.s[0].tx_off;
	assert_true(off < 5 * 64 * 1024 + 1);
	assert_int_equal(ps_tcp_writable(&sim.s[0].ep), 0);
	assert_true(sim.s[1].max_mem + sim.s[2].max_mem <= 2 * 64 * 1024 + 4 * 4096);
	sim_run(&sim, sim.now + 20 * SEC);
	/* stalled: only one-byte probes into window-scale rounding remainders */
	assert_true(sim.s[0].tx_off - off < 256);
	/* the server reads again: everything arrives */
	sim.s[3].reading = true;
	sim_app(&sim, 3);
	sim_run(&sim, sim.now + 60 * SEC);
	assert_int_equal(sim.s[3].rx_len, len);
	assert_memory_equal(sim.s[3].rx, d, len);
	/* the server aborts: the client is reset through the appliance */
	{
		struct ps_tcp_out out;

		ps_tcp_out_reset(&out);
		ps_tcp_abort(&sim.s[3].ep, sim.now, &out);
		sim_collect(&sim, 3, &out);
	}
	sim_run(&sim, sim.now + SEC);
	assert_true(sim.s[2].events & PS_TCP_EV_RESET);
	assert_true(sim.s[0].events & PS_TCP_EV_RESET);
	for (i = 0; i < 4; i++)
		assert_int_equal(ps_tcp_state(&sim.s[i].ep), PS_TCP_ST_CLOSED);
	sim_free(&sim);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_close),
		cmocka_unit_test(test_handshake_lost_syn),
		cmocka_unit_test(test_handshake_lost_synack),
		cmocka_unit_test(test_handshake_lost_ack),
		cmocka_unit_test(test_simultaneous_open),
		cmocka_unit_test(test_simultaneous_close),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_bulk_clean),
		cmocka_unit_test(test_bulk_lossy),
		cmocka_unit_test(test_bulk_wraparound),
		cmocka_unit_test(test_window_scaling_asymmetric),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_fast_retransmit_sack),
		cmocka_unit_test(test_newreno_partial_ack),
		cmocka_unit_test(test_abort_resets_peer),
		cmocka_unit_test(test_proxy_relay),
		cmocka_unit_test(test_proxy_server_refuses),
		cmocka_unit_test(test_proxy_server_silent),
		cmocka_unit_test(test_proxy_backpressure_and_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
