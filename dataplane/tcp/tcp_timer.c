/* SPDX-License-Identifier: BSD-3-Clause
 * Timers as deadlines: retransmission (RFC 6298), SYN retries, persist
 * (RFC 9293 3.8.6.1), delayed ACK (RFC 9293 3.8.6.3), keep-alive (RFC 9293
 * 3.8.4), idle timeout and TIME_WAIT. The caller's timer wheel calls
 * ps_tcp_timer() at ps_tcp_next_deadline().
 */
#include "tcp_priv.h"

/* RTO with exponential backoff (RFC 6298 5.5), bounded by rto_max (2.5). */
uint32_t
ps_tcp_rto_cur(const struct ps_tcp_ep *ep)
{
	uint64_t rto = (uint64_t)ep->rto << (ep->rtx_count < 20 ? ep->rtx_count : 20);

	return rto > ep->cfg->rto_max_us ? ep->cfg->rto_max_us : (uint32_t)rto;
}

/* One RTT measurement, RFC 6298 section 2 (G taken as 1 ms). */
void
ps_tcp_rtt_sample(struct ps_tcp_ep *ep, uint64_t rtt)
{
	const struct ps_tcp_cfg *cfg = ep->cfg;
	uint32_t r = rtt > 0x7fffffff ? 0x7fffffff : (uint32_t)rtt;
	uint32_t delta;
	uint64_t rto;

	if (ep->srtt == 0) {
		ep->srtt = r > 0 ? r : 1;
		ep->rttvar = r / 2;
	} else {
		delta = ep->srtt > r ? ep->srtt - r : r - ep->srtt;
		ep->rttvar = (uint32_t)(((uint64_t)ep->rttvar * 3 + delta) / 4);
		ep->srtt = (uint32_t)(((uint64_t)ep->srtt * 7 + r) / 8);
		if (ep->srtt == 0)
			ep->srtt = 1;
	}
	rto = (uint64_t)ep->srtt + tcp_max32(1000, 4 * ep->rttvar);
	if (rto < cfg->rto_min_us)
		rto = cfg->rto_min_us;
	if (rto > cfg->rto_max_us)
		rto = cfg->rto_max_us;
	ep->rto = (uint32_t)rto;
}

/* (Re)start the retransmission timer (RFC 6298 5.1, 5.3). */
void
ps_tcp_arm_rtx(struct ps_tcp_ep *ep, uint64_t now)
{
	ep->flags &= ~EPF_PERSIST;
	ep->rtx_at = now + ps_tcp_rto_cur(ep);
}

/* TIME_WAIT for cfg->time_wait_us (RFC 9293 3.6.1, shortened). */
void
ps_tcp_enter_time_wait(struct ps_tcp_ep *ep, uint64_t now)
{
	ep->state = PS_TCP_ST_TIME_WAIT;
	ep->flags &= ~(EPF_PERSIST | EPF_RTT);
	ep->rtx_at = now + ep->cfg->time_wait_us;
	if (ep->rtx_at == 0)
		ep->rtx_at = 1;
	ep->delack_at = 0;
	ep->ka_at = 0;
}

/*
 * Enter CLOSED, stop every timer and report events | CLOSED. drop_buffers:
 * also free both buffers (reset, abort); an orderly close keeps the
 * received bytes readable.
 */
void
ps_tcp_set_closed(struct ps_tcp_ep *ep, struct ps_tcp_out *out, uint32_t events,
		  bool drop_buffers)
{
	if (ep->state != PS_TCP_ST_CLOSED)
		tcp_count(ep, PS_TCP_CNT_CLOSED);
	ep->state = PS_TCP_ST_CLOSED;
	ep->flags &= ~(EPF_PERSIST | EPF_RTT | EPF_ACK_NOW | EPF_HELD | EPF_RECOVERY);
	ep->rtx_at = 0;
	ep->delack_at = 0;
	ep->ka_at = 0;
	if (drop_buffers) {
		unsigned int i, n = 0;

		/* segments queued earlier in this call would point into freed data */
		for (i = 0; i < out->n_segs; i++)
			if (out->segs[i].tcp.flags & PS_TCP_RST)
				out->segs[n++] = out->segs[i];
		out->n_segs = (uint16_t)n;
		out->more = false;
		ps_tcp_buf_release(ep->cfg, &ep->sndbuf);
		ps_tcp_buf_release(ep->cfg, &ep->rcvbuf);
		ep->snd_data_seq += ep->snd_len;
		ep->snd_len = 0;
		ep->rcv_read_seq = ep->rcv_nxt - ((ep->flags & EPF_RCV_FIN) ? 1 : 0);
		ep->n_ooo = 0;
		ep->n_sb = 0;
	}
	out->events |= events | PS_TCP_EV_CLOSED;
}

/* Give up on the connection: RST to the peer, then CLOSED with events. */
void
ps_tcp_fail(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out, uint32_t events)
{
	(void)now;
	/* No RST from SYN_SENT: the peer never answered, there is nothing to
	 * reset (RFC 9293 3.10.5, ABORT in SYN-SENT deletes the TCB). */
	if (ep->state == PS_TCP_ST_SYN_RCVD && (ep->flags & EPF_HELD))
		ps_tcp_send_rst(ep, 0, true, ep->rcv_nxt, out);
	else if (ep->state != PS_TCP_ST_CLOSED && ep->state != PS_TCP_ST_TIME_WAIT &&
		 ep->state != PS_TCP_ST_SYN_SENT)
		ps_tcp_send_rst(ep, ep->snd_max, false, 0, out);
	if (events & PS_TCP_EV_TIMED_OUT)
		tcp_count(ep, PS_TCP_CNT_TIMEOUTS);
	ps_tcp_set_closed(ep, out, events, true);
}

/* Retransmission timeout in a synchronized state, RFC 6298 5.4-5.7, RFC 5681 3.1. */
static void
tcp_rto_expired(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	uint32_t flight = ep->snd_max - ep->snd_una;

	if (ep->rtx_count >= ep->cfg->data_retries) {
		ps_tcp_fail(ep, now, out, PS_TCP_EV_TIMED_OUT);
		return;
	}
	tcp_count(ep, PS_TCP_CNT_RTO_TIMEOUTS);
	ep->rtx_count++;
	ep->ssthresh = tcp_max32(flight / 2, 2u * ep->snd_mss);
	ep->cwnd = ep->snd_mss;
	ep->recover = ep->snd_max;	/* RFC 6582 section 3.2 step 4 */
	ep->flags &= ~(EPF_RECOVERY | EPF_RTT);
	ep->dupacks = 0;
	ep->n_sb = 0;			/* the peer may have reneged: RFC 2018 section 8 */
	ep->snd_nxt = ep->snd_una;	/* go back: ps_tcp_output() resends from here */
	ep->rtx_hi = ep->snd_una;
	ps_tcp_arm_rtx(ep, now);
	ps_tcp_output(ep, now, out);
}

/* Persist timer: probe the zero window with one byte (RFC 9293 3.8.6.1). */
static void
tcp_persist_expired(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	uint32_t n;

	/*
	 * Probing goes on while the peer answers (RFC 9293 3.8.6.1 MUST-38);
	 * data_retries probes in a row without any answer mean it is gone.
	 */
	if (ep->ka_sent >= ep->cfg->data_retries) {
		ps_tcp_fail(ep, now, out, PS_TCP_EV_TIMED_OUT);
		return;
	}
	ep->ka_sent++;
	tcp_count(ep, PS_TCP_CNT_PERSIST_PROBES);
	if (ep->rtx_count < 16)
		ep->rtx_count++;
	if (SEQ_LT(ep->snd_una, ep->snd_max)) {
		ps_tcp_send_at(ep, ep->snd_una, 1, now, out);
	} else if (SEQ_LT(ep->snd_nxt, tcp_data_end(ep))) {
		n = ps_tcp_send_at(ep, ep->snd_nxt, 1, now, out);
		if (n == 0) {
			/* new byte: ps_tcp_send_at() only resends, so send it here */
			ep->snd_max = ep->snd_nxt + 1;
			n = ps_tcp_send_at(ep, ep->snd_nxt, 1, now, out);
			if (n == 0)
				ep->snd_max = ep->snd_nxt;
			else
				ep->snd_nxt += n;
		}
	}
	ep->flags |= EPF_PERSIST;
	ep->rtx_at = now + ps_tcp_rto_cur(ep);
}

static void
tcp_rtx_timer(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	ep->rtx_at = 0;
	switch (ep->state) {
	case PS_TCP_ST_TIME_WAIT:
		ps_tcp_set_closed(ep, out, 0, false);
		return;
	case PS_TCP_ST_SYN_SENT:
	case PS_TCP_ST_SYN_RCVD:
		if (ep->flags & EPF_HELD)
			return;
		if (ep->rtx_count >= ep->cfg->syn_retries) {
			ps_tcp_fail(ep, now, out, PS_TCP_EV_TIMED_OUT);
			return;
		}
		ep->rtx_count++;
		ep->flags |= EPF_SYN_RTX;
		tcp_count(ep, PS_TCP_CNT_RETRANSMITS);
		ps_tcp_send_syn(ep, now, out);
		ps_tcp_arm_rtx(ep, now);
		return;
	case PS_TCP_ST_CLOSED:
		return;
	default:
		break;
	}
	/* a zero window (even one that shrank under data in flight) is probed, not timed out */
	if (ep->snd_wnd == 0 && SEQ_LT(ep->snd_una, tcp_data_end(ep))) {
		tcp_persist_expired(ep, now, out);
		return;
	}
	if (ep->flags & EPF_PERSIST) {
		ep->flags &= ~EPF_PERSIST;
		ep->rtx_count = 0;
		ps_tcp_output(ep, now, out);
		return;
	}
	if (SEQ_LT(ep->snd_una, ep->snd_max))
		tcp_rto_expired(ep, now, out);
}

static bool
tcp_keepalive_state(const struct ps_tcp_ep *ep)
{
	return ep->state == PS_TCP_ST_ESTABLISHED || ep->state == PS_TCP_ST_CLOSE_WAIT;
}

/*
 * Run the timers due at now (retransmission/SYN/persist/TIME_WAIT, delayed
 * ACK, keep-alive, idle timeout) and send what they produce.
 */
void
ps_tcp_timer(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	const struct ps_tcp_cfg *cfg = ep->cfg;

	if (ep->state == PS_TCP_ST_CLOSED)
		return;
	if (cfg->idle_timeout_us != 0 && ep->state != PS_TCP_ST_TIME_WAIT &&
	    now >= ep->last_rcv + cfg->idle_timeout_us) {
		ps_tcp_fail(ep, now, out, PS_TCP_EV_TIMED_OUT);
		return;
	}
	if (ep->rtx_at != 0 && now >= ep->rtx_at) {
		tcp_rtx_timer(ep, now, out);
		if (ep->state == PS_TCP_ST_CLOSED)
			return;
	}
	if (ep->delack_at != 0 && now >= ep->delack_at) {
		ep->delack_at = 0;
		ps_tcp_send_ack(ep, now, out);
	}
	if (ep->ka_at != 0 && now >= ep->ka_at) {
		if (!tcp_keepalive_state(ep) || cfg->keepalive_idle_us == 0) {
			ep->ka_at = 0;
		} else if (ep->ka_sent >= cfg->keepalive_probes) {
			ps_tcp_fail(ep, now, out, PS_TCP_EV_TIMED_OUT);
			return;
		} else {
			ep->ka_sent++;
			tcp_count(ep, PS_TCP_CNT_KEEPALIVE_PROBES);
			ps_tcp_send_probe(ep, now, out);
			ep->ka_at = now + cfg->keepalive_intvl_us;
		}
	}
}

/* Earliest deadline among the armed timers, UINT64_MAX when none. */
uint64_t
ps_tcp_next_deadline(const struct ps_tcp_ep *ep)
{
	uint64_t d = UINT64_MAX;

	if (ep->state == PS_TCP_ST_CLOSED)
		return d;
	if (ep->rtx_at != 0 && ep->rtx_at < d)
		d = ep->rtx_at;
	if (ep->delack_at != 0 && ep->delack_at < d)
		d = ep->delack_at;
	if (ep->ka_at != 0 && ep->ka_at < d)
		d = ep->ka_at;
	if (ep->cfg->idle_timeout_us != 0 && ep->state != PS_TCP_ST_TIME_WAIT &&
	    ep->last_rcv + ep->cfg->idle_timeout_us < d)
		d = ep->last_rcv + ep->cfg->idle_timeout_us;
	return d;
}
