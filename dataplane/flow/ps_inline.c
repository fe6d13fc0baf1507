/* SPDX-License-Identifier: BSD-3-Clause
 * A decrypted flow's leg through an inline tool: two TCP endpoints joined
 * by the tool instead of by the appliance (ps_inline.h).
 */
#include <errno.h>
#include <string.h>

#include "ps_inline.h"

static inline struct ps_tcp_ep *
ep_in(struct ps_inline *il, int dir)
{
	return dir == 0 ? &il->ta : &il->tb;	/* where dir's bytes go in */
}

static inline struct ps_tcp_ep *
ep_out(struct ps_inline *il, int dir)
{
	return dir == 0 ? &il->tb : &il->ta;	/* where they come out */
}

static bool
synced(const struct ps_tcp_ep *ep)
{
	enum ps_tcp_state st = ps_tcp_state(ep);

	return st != PS_TCP_ST_CLOSED && st != PS_TCP_ST_SYN_SENT && st != PS_TCP_ST_SYN_RCVD;
}

/* Frames of what ep (ta: out of A, tb: out of B) made; leg state from its events. */
static void
emit(struct ps_inline *il, struct ps_tcp_ep *ep, uint64_t now, const struct ps_proxy_io *io)
{
	uint32_t ev = 0;

	if (ep == &il->ta)
		ps_proxy_emit(ep, &il->a_spec, PS_SIDE_CLI, now, io, &ev);
	else
		ps_proxy_emit(ep, &il->b_spec, PS_SIDE_SRV, now, io, &ev);
	if (ev & (PS_TCP_EV_RESET | PS_TCP_EV_TIMED_OUT))
		il->flags |= PS_INLINE_F_RESET;
	if (!(il->flags & PS_INLINE_F_UP) && synced(&il->ta) && synced(&il->tb))
		il->flags |= PS_INLINE_F_UP;
}

int
ps_inline_open(struct ps_inline *il, const struct ps_tcp_cfg *cfg, struct ps_tcp_stats *stats,
	       const struct ps_tcp_frame_spec *c2s, const struct ps_tcp_frame_spec *s2c,
	       uint32_t iss_a, uint32_t iss_b, uint64_t now, const struct ps_proxy_io *io)
{
	unsigned int f = c2s->l3 == PS_L3_IPV6 ? PS_TCP_F_IPV6 : 0;
	int rc;

	memset(il, 0, sizeof(*il));
	il->a_spec = *c2s;
	il->b_spec = *s2c;
	il->a_spec.ip_id = (uint16_t)(iss_a >> 16);
	il->b_spec.ip_id = (uint16_t)(iss_b >> 16);
	il->iss_b = iss_b;
	ps_tcp_init(&il->ta, cfg, stats, f);
	ps_tcp_init(&il->tb, cfg, stats, f);
	ps_tcp_out_reset(io->out);
	rc = ps_tcp_connect(&il->ta, iss_a, now, io->out);
	emit(il, &il->ta, now, io);
	return rc;
}

enum ps_tcp_drop
ps_inline_input(struct ps_inline *il, bool at_b, const uint8_t *frame, const struct ps_pkt *p,
		uint64_t now, const struct ps_proxy_io *io)
{
	struct ps_tcp_ep *ep = at_b ? &il->tb : &il->ta;
	enum ps_tcp_drop d;

	if (at_b && ps_tcp_state(&il->tb) == PS_TCP_ST_CLOSED && !(il->flags & PS_INLINE_F_UP) &&
	    (p->tcp_flags & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST | PS_TCP_FIN)) == PS_TCP_SYN) {
		/* ta's SYN, through the tool: tb answers it at once. */
		if (ps_tcp_passive_syn(&il->tb, p, il->iss_b, now) < 0)
			return PS_TCP_DROP_CLOSED;
		ps_tcp_out_reset(io->out);
		(void)ps_tcp_accept(&il->tb, now, io->out);
		emit(il, &il->tb, now, io);
		return PS_TCP_DROP_NONE;
	}
	if (!at_b && (p->tcp_flags & (PS_TCP_SYN | PS_TCP_ACK)) == (PS_TCP_SYN | PS_TCP_ACK)) {
		/* The tool may route, not bridge: take its hop's TTL. */
		il->b_spec.ttl = p->ttl;
	}
	ps_tcp_out_reset(io->out);
	d = ps_tcp_input(ep, p, p->payload_len > 0 ? frame + p->payload_off : NULL, now, io->out);
	emit(il, ep, now, io);
	return d;
}

void
ps_inline_timer(struct ps_inline *il, uint64_t now, const struct ps_proxy_io *io)
{
	if (ps_tcp_next_deadline(&il->ta) <= now) {
		ps_tcp_out_reset(io->out);
		ps_tcp_timer(&il->ta, now, io->out);
		emit(il, &il->ta, now, io);
	}
	if (ps_tcp_next_deadline(&il->tb) <= now) {
		ps_tcp_out_reset(io->out);
		ps_tcp_timer(&il->tb, now, io->out);
		emit(il, &il->tb, now, io);
	}
}

uint64_t
ps_inline_deadline(const struct ps_inline *il)
{
	uint64_t a = ps_tcp_next_deadline(&il->ta), b = ps_tcp_next_deadline(&il->tb);

	return a < b ? a : b;
}

uint32_t
ps_inline_room(const struct ps_inline *il, int dir)
{
	const struct ps_tcp_ep *ep = dir == 0 ? &il->ta : &il->tb;

	if (!ps_inline_up(il) || (il->flags & (dir == 0 ? PS_INLINE_F_FIN0 : PS_INLINE_F_FIN1)))
		return 0;
	return ps_tcp_writable(ep);
}

uint32_t
ps_inline_push(struct ps_inline *il, int dir, const uint8_t *p, uint32_t n, uint64_t now,
	       const struct ps_proxy_io *io)
{
	struct ps_tcp_ep *ep = ep_in(il, dir);
	int w;

	if (n == 0 || ps_inline_room(il, dir) == 0)
		return 0;
	ps_tcp_out_reset(io->out);
	w = ps_tcp_write(ep, p, n, now, io->out);
	emit(il, ep, now, io);
	return w > 0 ? (uint32_t)w : 0;
}

uint32_t
ps_inline_peek(const struct ps_inline *il, int dir, const uint8_t **p)
{
	const struct ps_tcp_ep *ep = dir == 0 ? &il->tb : &il->ta;

	if (ps_inline_dead(il) || ps_tcp_readable(ep) == 0)
		return 0;
	return ps_tcp_peek(ep, p);
}

void
ps_inline_consume(struct ps_inline *il, int dir, uint32_t n, uint64_t now,
		  const struct ps_proxy_io *io)
{
	struct ps_tcp_ep *ep = ep_out(il, dir);

	if (n == 0)
		return;
	ps_tcp_out_reset(io->out);
	(void)ps_tcp_consume(ep, n, now, io->out);
	emit(il, ep, now, io);
	il->moved[dir] += n;
}

void
ps_inline_shutdown(struct ps_inline *il, int dir, uint64_t now, const struct ps_proxy_io *io)
{
	uint32_t flag = dir == 0 ? PS_INLINE_F_FIN0 : PS_INLINE_F_FIN1;
	struct ps_tcp_ep *ep = ep_in(il, dir);

	if ((il->flags & flag) || !synced(ep))
		return;
	il->flags |= flag;
	ps_tcp_out_reset(io->out);
	(void)ps_tcp_close(ep, now, io->out);
	emit(il, ep, now, io);
}

bool
ps_inline_eof(const struct ps_inline *il, int dir)
{
	const struct ps_tcp_ep *ep = dir == 0 ? &il->tb : &il->ta;

	return ps_tcp_peer_closed(ep) && ps_tcp_readable(ep) == 0;
}

bool
ps_inline_done(const struct ps_inline *il)
{
	return ps_tcp_state(&il->ta) == PS_TCP_ST_CLOSED &&
	       ps_tcp_state(&il->tb) == PS_TCP_ST_CLOSED;
}

void
ps_inline_abort(struct ps_inline *il, uint64_t now, const struct ps_proxy_io *io)
{
	il->flags |= PS_INLINE_F_RESET;
	ps_tcp_out_reset(io->out);
	ps_tcp_abort(&il->ta, now, io->out);
	emit(il, &il->ta, now, io);
	ps_tcp_out_reset(io->out);
	if (ps_tcp_state(&il->tb) == PS_TCP_ST_SYN_RCVD)
		(void)ps_tcp_refuse(&il->tb, now, io->out);
	else
		ps_tcp_abort(&il->tb, now, io->out);
	emit(il, &il->tb, now, io);
}

void
ps_inline_free(struct ps_inline *il)
{
	ps_tcp_free(&il->ta);
	ps_tcp_free(&il->tb);
}
