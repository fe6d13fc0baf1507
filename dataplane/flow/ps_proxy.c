/* SPDX-License-Identifier: BSD-3-Clause
 * Transparent TCP proxy of one connection: the relay between two endpoints.
 * The recipe is the one of docs/tcp.md ("The flow proxy's recipe").
 */
#include <errno.h>
#include <string.h>

#include "ps_proxy.h"

#define PUMP_ROUNDS_MAX	8

static void pump(struct ps_proxy *px, uint64_t now, const struct ps_proxy_io *io,
		 uint32_t ev_cli, uint32_t ev_srv);

static inline struct ps_tcp_ep *
ep_of(struct ps_proxy *px, enum ps_proxy_side side)
{
	return side == PS_SIDE_CLI ? &px->cli : &px->srv;
}

/* See ps_proxy.h. */
void
ps_proxy_emit(struct ps_tcp_ep *ep, struct ps_tcp_frame_spec *spec, enum ps_proxy_side side,
	      uint64_t now, const struct ps_proxy_io *io, uint32_t *events)
{
	struct ps_tcp_out *out = io->out;
	const uint16_t sport = spec->tcp.sport, dport = spec->tcp.dport;
	uint8_t *payload = io->scratch;
	uint8_t *frame = io->scratch + PS_PROXY_SCRATCH / 2;

	for (;;) {
		bool more = out->more;
		uint16_t i;

		for (i = 0; i < out->n_segs; i++) {
			const struct ps_tcp_seg *seg = &out->segs[i];
			uint32_t cap = PS_PROXY_SCRATCH / 2;
			uint8_t *buf = frame;
			int hdr, len;

			spec->tcp = seg->tcp;
			spec->tcp.sport = sport;
			spec->tcp.dport = dport;
			spec->ip_id++;
			if (io->frame_get != NULL) {
				/* Build in place: the payload is copied once,
				 * straight behind the headers. */
				hdr = ps_build_tcp_hdr_len(spec);
				buf = io->frame_get(io->ctx, side, &cap);
				if (buf == NULL || hdr < 0 ||
				    (uint32_t)hdr + seg->len > cap)
					continue;
				if (seg->len > 0)
					ps_tcp_copy_payload(ep, seg, buf + hdr);
				len = ps_build_tcp_frame(buf, cap, spec, buf + hdr,
							 seg->len);
				io->frame_put(io->ctx, side, len > 0 ? (uint32_t)len : 0);
				continue;
			}
			if (seg->len > 0)
				ps_tcp_copy_payload(ep, seg, payload);
			len = ps_build_tcp_frame(buf, cap, spec, payload, seg->len);
			if (len > 0)
				io->emit(io->ctx, side, buf, (uint32_t)len);
		}
		*events |= out->events;
		ps_tcp_out_reset(out);
		if (!more)
			break;
		ps_tcp_output(ep, now, out);
	}
	spec->tcp.sport = sport;
	spec->tcp.dport = dport;
}

/*
 * Turn the segments of io->out (produced by a call on side's endpoint) into
 * frames, continue while the endpoint has more to send, collect its events.
 */
static void
flush(struct ps_proxy *px, enum ps_proxy_side side, uint64_t now,
      const struct ps_proxy_io *io, uint32_t *events)
{
	ps_proxy_emit(ep_of(px, side), side == PS_SIDE_CLI ? &px->to_cli : &px->to_srv, side,
		      now, io, events);
}

/* See ps_proxy.h. */
void
ps_proxy_poke(struct ps_proxy *px, uint64_t now, const struct ps_proxy_io *io)
{
	pump(px, now, io, 0, 0);
}

/*
 * Move what from's peer sent into to's send buffer, as much as to accepts;
 * the rest stays in from's receive buffer and closes its window. Then pass
 * on an end of stream once everything before it went across. tap (may be
 * NULL) sees what moved.
 */
static void
relay(struct ps_proxy *px, enum ps_proxy_side from, uint64_t now,
      const struct ps_proxy_io *io, uint32_t ev[2], const struct ps_proxy_tap *tap)
{
	const int dir = from == PS_SIDE_CLI ? 0 : 1;
	enum ps_proxy_side to = from == PS_SIDE_CLI ? PS_SIDE_SRV : PS_SIDE_CLI;
	struct ps_tcp_ep *a = ep_of(px, from), *b = ep_of(px, to);
	uint32_t fin_flag = to == PS_SIDE_SRV ? PS_PROXY_F_SRV_FIN : PS_PROXY_F_CLI_FIN;

	while (ps_tcp_readable(a) > 0) {
		const uint8_t *data;
		uint32_t n = ps_tcp_peek(a, &data);
		int w;

		ps_tcp_out_reset(io->out);
		w = ps_tcp_write(b, data, n, now, io->out);
		flush(px, to, now, io, &ev[to]);
		if (w <= 0)
			break;
		if (tap != NULL)
			tap->data(tap->arg, dir, data, (uint32_t)w);
		ps_tcp_out_reset(io->out);
		(void)ps_tcp_consume(a, (uint32_t)w, now, io->out);
		flush(px, from, now, io, &ev[from]);
		px->relayed[from] += (uint64_t)w;
		if ((uint32_t)w < n)
			break;
	}
	if (!(px->flags & fin_flag) && ps_tcp_peer_closed(a) &&
	    ps_tcp_readable(a) == 0 && ps_tcp_state(b) != PS_TCP_ST_CLOSED) {
		px->flags |= fin_flag;
		ps_tcp_out_reset(io->out);
		(void)ps_tcp_close(b, now, io->out);
		flush(px, to, now, io, &ev[to]);
		if (tap != NULL && tap->end != NULL)
			tap->end(tap->arg, dir);
	}
}

/*
 * React to the endpoints' events until nothing new happens: complete the
 * client's handshake when the server's is, carry resets across, relay.
 */
static void
pump(struct ps_proxy *px, uint64_t now, const struct ps_proxy_io *io,
     uint32_t ev_cli, uint32_t ev_srv)
{
	const uint32_t gone = PS_TCP_EV_RESET | PS_TCP_EV_TIMED_OUT;
	uint32_t ev[2] = { ev_cli, ev_srv };
	unsigned int round;

	for (round = 0; round < PUMP_ROUNDS_MAX; round++) {
		uint32_t seen[2] = { ev[PS_SIDE_CLI], ev[PS_SIDE_SRV] };

		ev[PS_SIDE_CLI] = ev[PS_SIDE_SRV] = 0;
		if (!(px->flags & PS_PROXY_F_ACCEPTED) &&
		    (seen[PS_SIDE_SRV] & PS_TCP_EV_CONNECTED) &&
		    ps_tcp_state(&px->cli) == PS_TCP_ST_SYN_RCVD) {
			px->flags |= PS_PROXY_F_ACCEPTED;
			ps_tcp_out_reset(io->out);
			(void)ps_tcp_accept(&px->cli, now, io->out);
			flush(px, PS_SIDE_CLI, now, io, &ev[PS_SIDE_CLI]);
		}
		if (seen[PS_SIDE_SRV] & gone) {
			/* The server refused, went silent or reset: so does
			 * the client's connection (the server's reachability
			 * is what the client sees). */
			px->flags |= PS_PROXY_F_RESET;
			ps_tcp_out_reset(io->out);
			if (px->flags & PS_PROXY_F_ACCEPTED)
				ps_tcp_abort(&px->cli, now, io->out);
			else
				(void)ps_tcp_refuse(&px->cli, now, io->out);
			flush(px, PS_SIDE_CLI, now, io, &ev[PS_SIDE_CLI]);
		}
		if (seen[PS_SIDE_CLI] & gone) {
			px->flags |= PS_PROXY_F_RESET;
			ps_tcp_out_reset(io->out);
			ps_tcp_abort(&px->srv, now, io->out);
			flush(px, PS_SIDE_SRV, now, io, &ev[PS_SIDE_SRV]);
		}
		if (!(px->flags & PS_PROXY_F_RESET)) {
			if (px->stage != NULL) {
				px->run_now = now;
				px->run_io = io;
				px->run_ev = ev;
				px->stage->run(px, px->stage->arg);
				px->run_io = NULL;
				px->run_ev = NULL;
			} else {
				relay(px, PS_SIDE_CLI, now, io, ev, NULL);
				relay(px, PS_SIDE_SRV, now, io, ev, NULL);
			}
		}
		if ((ev[PS_SIDE_CLI] | ev[PS_SIDE_SRV]) == 0)
			break;
	}
	if (ps_tcp_state(&px->cli) == PS_TCP_ST_CLOSED)
		px->flags |= PS_PROXY_F_CLI_DONE;
	if (ps_tcp_state(&px->srv) == PS_TCP_ST_CLOSED)
		px->flags |= PS_PROXY_F_SRV_DONE;
}

/* ------------------------------------------------------------------ */
/* Stage calls: valid inside ps_proxy_stage.run(), with the round's context. */

uint32_t
ps_proxy_peek(struct ps_proxy *px, enum ps_proxy_side from, const uint8_t **data)
{
	struct ps_tcp_ep *a = ep_of(px, from);

	if (ps_tcp_readable(a) == 0)
		return 0;
	return ps_tcp_peek(a, data);
}

void
ps_proxy_consume(struct ps_proxy *px, enum ps_proxy_side from, uint32_t n)
{
	if (n == 0)
		return;
	ps_tcp_out_reset(px->run_io->out);
	(void)ps_tcp_consume(ep_of(px, from), n, px->run_now, px->run_io->out);
	flush(px, from, px->run_now, px->run_io, &px->run_ev[from]);
}

bool
ps_proxy_eof(const struct ps_proxy *px, enum ps_proxy_side from)
{
	const struct ps_tcp_ep *a = from == PS_SIDE_CLI ? &px->cli : &px->srv;

	return ps_tcp_peer_closed(a) && ps_tcp_readable(a) == 0;
}

uint32_t
ps_proxy_room(const struct ps_proxy *px, enum ps_proxy_side to)
{
	const struct ps_tcp_ep *b = to == PS_SIDE_CLI ? &px->cli : &px->srv;
	uint32_t fin_flag = to == PS_SIDE_SRV ? PS_PROXY_F_SRV_FIN : PS_PROXY_F_CLI_FIN;

	if ((px->flags & fin_flag) || ps_tcp_state(b) == PS_TCP_ST_CLOSED)
		return 0;
	return ps_tcp_writable(b);
}

uint32_t
ps_proxy_send(struct ps_proxy *px, enum ps_proxy_side to, const uint8_t *data,
	      uint32_t n)
{
	int w;

	if (n == 0 || ps_proxy_room(px, to) == 0)
		return 0;
	ps_tcp_out_reset(px->run_io->out);
	w = ps_tcp_write(ep_of(px, to), data, n, px->run_now, px->run_io->out);
	flush(px, to, px->run_now, px->run_io, &px->run_ev[to]);
	if (w <= 0)
		return 0;
	px->relayed[to == PS_SIDE_SRV ? 0 : 1] += (uint64_t)w;
	return (uint32_t)w;
}

void
ps_proxy_shutdown(struct ps_proxy *px, enum ps_proxy_side to)
{
	uint32_t fin_flag = to == PS_SIDE_SRV ? PS_PROXY_F_SRV_FIN : PS_PROXY_F_CLI_FIN;
	struct ps_tcp_ep *b = ep_of(px, to);

	if ((px->flags & fin_flag) || ps_tcp_state(b) == PS_TCP_ST_CLOSED)
		return;
	px->flags |= fin_flag;
	ps_tcp_out_reset(px->run_io->out);
	(void)ps_tcp_close(b, px->run_now, px->run_io->out);
	flush(px, to, px->run_now, px->run_io, &px->run_ev[to]);
}

void
ps_proxy_relay(struct ps_proxy *px, enum ps_proxy_side from)
{
	relay(px, from, px->run_now, px->run_io, px->run_ev, NULL);
}

void
ps_proxy_relay_tapped(struct ps_proxy *px, enum ps_proxy_side from,
		      const struct ps_proxy_tap *tap)
{
	relay(px, from, px->run_now, px->run_io, px->run_ev, tap);
}

void
ps_proxy_reconnect_server(struct ps_proxy *px, uint32_t iss)
{
	const struct ps_proxy_io *io = px->run_io;
	uint64_t now = px->run_now;
	const struct ps_tcp_cfg *cfg = px->srv.cfg;
	struct ps_tcp_stats *stats = px->srv.stats;
	unsigned int flags = px->to_srv.l3 == PS_L3_IPV6 ? PS_TCP_F_IPV6 : 0;

	ps_tcp_out_reset(io->out);
	ps_tcp_abort(&px->srv, now, io->out);
	flush(px, PS_SIDE_SRV, now, io, &px->run_ev[PS_SIDE_SRV]);
	ps_tcp_free(&px->srv);
	ps_tcp_init(&px->srv, cfg, stats, flags);
	px->flags &= ~(PS_PROXY_F_SRV_FIN | PS_PROXY_F_SRV_DONE);
	px->to_srv.ip_id = (uint16_t)(iss >> 16);
	ps_tcp_out_reset(io->out);
	(void)ps_tcp_connect(&px->srv, iss, now, io->out);
	flush(px, PS_SIDE_SRV, now, io, &px->run_ev[PS_SIDE_SRV]);
}

void
ps_proxy_kill(struct ps_proxy *px)
{
	const struct ps_proxy_io *io = px->run_io;
	uint64_t now = px->run_now;

	px->flags |= PS_PROXY_F_RESET;
	ps_tcp_out_reset(io->out);
	if (ps_tcp_state(&px->cli) == PS_TCP_ST_SYN_RCVD &&
	    !(px->flags & PS_PROXY_F_ACCEPTED))
		(void)ps_tcp_refuse(&px->cli, now, io->out);
	else
		ps_tcp_abort(&px->cli, now, io->out);
	flush(px, PS_SIDE_CLI, now, io, &px->run_ev[PS_SIDE_CLI]);
	ps_tcp_out_reset(io->out);
	ps_tcp_abort(&px->srv, now, io->out);
	flush(px, PS_SIDE_SRV, now, io, &px->run_ev[PS_SIDE_SRV]);
}

int
ps_proxy_open(struct ps_proxy *px, const struct ps_tcp_cfg *cfg,
	      struct ps_tcp_stats *stats, const struct ps_pkt *syn,
	      uint32_t iss_cli, uint32_t iss_srv, uint64_t now,
	      const struct ps_proxy_io *io)
{
	struct ps_tcp_frame_spec *c = &px->to_cli, *s = &px->to_srv;
	uint32_t ev = 0;
	unsigned int i;
	int rc;

	if (syn->l3 == PS_L3_NONE || !syn->has_l4 ||
	    syn->ip_proto != PS_IPPROTO_TCP ||
	    (syn->tcp_flags & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST | PS_TCP_FIN)) !=
	    PS_TCP_SYN)
		return -EINVAL;
	memset(px, 0, sizeof(*px));

	/* Towards the server: the client's own identity. */
	memcpy(s->eth.src, syn->src_mac, PS_ETH_ALEN);
	memcpy(s->eth.dst, syn->dst_mac, PS_ETH_ALEN);
	s->eth.n_vlans = syn->n_vlans;
	for (i = 0; i < syn->n_vlans && i < PS_VLAN_MAX; i++) {
		s->eth.vlan_tpid[i] = syn->vlan_tpid[i];
		s->eth.vlan_tci[i] = syn->vlan_tci[i];
	}
	s->l3 = syn->l3;
	s->src = syn->src;
	s->dst = syn->dst;
	s->ttl = syn->ttl;
	s->tos = syn->tos;
	s->df = syn->df;
	s->flow_label = syn->flow_label;
	s->ip_id = (uint16_t)(iss_srv >> 16);
	s->tcp.sport = syn->sport;
	s->tcp.dport = syn->dport;

	/* Towards the client: the server's, mirrored. TTL and TOS are taken
	 * from the server's SYN-ACK when it comes. */
	*c = *s;
	memcpy(c->eth.src, syn->dst_mac, PS_ETH_ALEN);
	memcpy(c->eth.dst, syn->src_mac, PS_ETH_ALEN);
	c->src = syn->dst;
	c->dst = syn->src;
	c->ttl = 64;
	c->df = true;
	c->ip_id = (uint16_t)(iss_cli >> 16);
	c->tcp.sport = syn->dport;
	c->tcp.dport = syn->sport;

	ps_tcp_init(&px->cli, cfg, stats, syn->l3 == PS_L3_IPV6 ? PS_TCP_F_IPV6 : 0);
	ps_tcp_init(&px->srv, cfg, stats, syn->l3 == PS_L3_IPV6 ? PS_TCP_F_IPV6 : 0);
	rc = ps_tcp_passive_syn(&px->cli, syn, iss_cli, now);
	if (rc < 0)
		return rc;
	ps_tcp_out_reset(io->out);
	rc = ps_tcp_connect(&px->srv, iss_srv, now, io->out);
	flush(px, PS_SIDE_SRV, now, io, &ev);
	return rc;
}

enum ps_tcp_drop
ps_proxy_input(struct ps_proxy *px, enum ps_proxy_side side,
	       const uint8_t *frame, const struct ps_pkt *p, uint64_t now,
	       const struct ps_proxy_io *io)
{
	uint32_t ev = 0;
	enum ps_tcp_drop d;

	if (side == PS_SIDE_SRV &&
	    (p->tcp_flags & (PS_TCP_SYN | PS_TCP_ACK)) == (PS_TCP_SYN | PS_TCP_ACK)) {
		px->to_cli.ttl = p->ttl;
		px->to_cli.tos = p->tos;
		px->to_cli.df = p->l3 == PS_L3_IPV4 ? p->df : true;
		px->to_cli.flow_label = p->flow_label;
	}
	ps_tcp_out_reset(io->out);
	d = ps_tcp_input(ep_of(px, side), p, p->payload_len > 0 ?
			 frame + p->payload_off : NULL, now, io->out);
	flush(px, side, now, io, &ev);
	pump(px, now, io, side == PS_SIDE_CLI ? ev : 0, side == PS_SIDE_SRV ? ev : 0);
	return d;
}

void
ps_proxy_timer(struct ps_proxy *px, uint64_t now, const struct ps_proxy_io *io)
{
	uint32_t ev_cli = 0, ev_srv = 0;

	if (ps_tcp_next_deadline(&px->cli) <= now) {
		ps_tcp_out_reset(io->out);
		ps_tcp_timer(&px->cli, now, io->out);
		flush(px, PS_SIDE_CLI, now, io, &ev_cli);
	}
	if (ps_tcp_next_deadline(&px->srv) <= now) {
		ps_tcp_out_reset(io->out);
		ps_tcp_timer(&px->srv, now, io->out);
		flush(px, PS_SIDE_SRV, now, io, &ev_srv);
	}
	pump(px, now, io, ev_cli, ev_srv);
}

uint64_t
ps_proxy_deadline(const struct ps_proxy *px)
{
	uint64_t a = ps_tcp_next_deadline(&px->cli);
	uint64_t b = ps_tcp_next_deadline(&px->srv);

	return a < b ? a : b;
}

void
ps_proxy_abort(struct ps_proxy *px, uint64_t now, const struct ps_proxy_io *io)
{
	uint32_t ev = 0;

	px->flags |= PS_PROXY_F_RESET;
	ps_tcp_out_reset(io->out);
	if (ps_tcp_state(&px->cli) == PS_TCP_ST_SYN_RCVD &&
	    !(px->flags & PS_PROXY_F_ACCEPTED))
		(void)ps_tcp_refuse(&px->cli, now, io->out);
	else
		ps_tcp_abort(&px->cli, now, io->out);
	flush(px, PS_SIDE_CLI, now, io, &ev);
	ps_tcp_out_reset(io->out);
	ps_tcp_abort(&px->srv, now, io->out);
	flush(px, PS_SIDE_SRV, now, io, &ev);
	px->flags |= PS_PROXY_F_CLI_DONE | PS_PROXY_F_SRV_DONE;
}

void
ps_proxy_free(struct ps_proxy *px)
{
	ps_tcp_free(&px->cli);
	ps_tcp_free(&px->srv);
}
