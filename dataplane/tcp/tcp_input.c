/* SPDX-License-Identifier: BSD-3-Clause
 * Segment arrival, RFC 9293 section 3.10.7, with the RFC 5961 defences
 * (challenge ACKs against blind RST, SYN and data injection), PAWS (RFC 7323
 * 5.3), acknowledgement processing with NewReno (RFC 5681, RFC 6582) and
 * SACK (RFC 2018), and out-of-order reassembly into the receive buffer.
 */
#include "tcp_priv.h"

/*
 * Negotiate from the peer's SYN (or SYN-ACK): an option is on when we
 * offer it and the peer sent it (RFC 7323 1.3 and 2.2, RFC 2018 2); the
 * send MSS is the peer's MSS option, or the default without one (RFC 9293
 * 3.7.1), clamped by ours.
 */
void
ps_tcp_syn_options(struct ps_tcp_ep *ep, const struct ps_pkt *syn)
{
	const struct ps_tcp_cfg *cfg = ep->cfg;
	uint32_t peer_mss;

	ep->flags &= ~(EPF_WSCALE | EPF_SACK | EPF_TS);
	ep->snd_wscale = 0;
	ep->rcv_wscale = 0;
	if (cfg->wscale_ok && syn->has_wscale) {
		ep->flags |= EPF_WSCALE;
		/* RFC 7323 2.3: a shift over 14 is used as 14 */
		ep->snd_wscale = syn->wscale > TCP_MAX_WIN_SHIFT ? TCP_MAX_WIN_SHIFT : syn->wscale;
		ep->rcv_wscale = cfg->wscale;
	}
	if (cfg->sack_ok && syn->sack_ok)
		ep->flags |= EPF_SACK;
	if (cfg->ts_ok && syn->has_ts) {
		ep->flags |= EPF_TS;
		ep->ts_recent = syn->ts_val;
	}
	if (syn->has_mss)
		peer_mss = syn->mss;
	else
		peer_mss = (ep->flags & EPF_IPV6) ? cfg->default_mss6 : cfg->default_mss;
	peer_mss = tcp_min32(peer_mss, ep->rcv_mss);
	ep->snd_mss = (uint16_t)tcp_max32(peer_mss, 64);
	ep->cwnd = tcp_max32(cfg->init_cwnd_segs, 1) * ep->snd_mss;
	ep->ssthresh = 0x3fffffff;
}

static void
tcp_ka_restart(struct ps_tcp_ep *ep, uint64_t now)
{
	ep->last_rcv = now;
	ep->ka_sent = 0;
	if (ep->cfg->keepalive_idle_us != 0)
		ep->ka_at = now + ep->cfg->keepalive_idle_us;
}

static void
tcp_established(struct ps_tcp_ep *ep, const struct ps_pkt *seg, uint64_t now,
		struct ps_tcp_out *out)
{
	ep->snd_una = ep->iss + 1;
	if (SEQ_LT(ep->snd_nxt, ep->snd_una))
		ep->snd_nxt = ep->snd_una;
	if (!(ep->flags & EPF_SYN_RTX))
		ps_tcp_rtt_sample(ep, now - ep->rtt_start);	/* Karn: only an unrepeated SYN */
	ep->snd_wl1 = seg->seq;
	ep->snd_wl2 = seg->ack;
	ep->rtx_count = 0;
	ep->rtx_at = 0;
	ep->state = (ep->flags & EPF_FIN_QUEUED) ? PS_TCP_ST_FIN_WAIT_1 : PS_TCP_ST_ESTABLISHED;
	out->events |= PS_TCP_EV_CONNECTED;
	tcp_count(ep, PS_TCP_CNT_CONNECTED);
	tcp_ka_restart(ep, now);
}

/* RFC 9293 3.10.7.3: SYN_SENT. */
static enum ps_tcp_drop
tcp_in_syn_sent(struct ps_tcp_ep *ep, const struct ps_pkt *seg, uint64_t now,
		struct ps_tcp_out *out)
{
	uint8_t fl = seg->tcp_flags;

	if (fl & PS_TCP_ACK) {
		if (SEQ_LEQ(seg->ack, ep->iss) || SEQ_GT(seg->ack, ep->snd_max)) {
			if (!(fl & PS_TCP_RST))
				ps_tcp_send_rst(ep, seg->ack, false, 0, out);
			return tcp_drop(ep, PS_TCP_DROP_SYN_SENT_BAD_ACK);
		}
	}
	if (fl & PS_TCP_RST) {
		if (!(fl & PS_TCP_ACK))
			return tcp_drop(ep, PS_TCP_DROP_SYN_SENT_NO_SYN);
		/* connection refused */
		tcp_count(ep, PS_TCP_CNT_RESETS_RCVD);
		ps_tcp_set_closed(ep, out, PS_TCP_EV_RESET, true);
		return PS_TCP_DROP_NONE;
	}
	if (!(fl & PS_TCP_SYN))
		return tcp_drop(ep, PS_TCP_DROP_SYN_SENT_NO_SYN);

	ep->irs = seg->seq;
	ep->rcv_nxt = seg->seq + 1;
	ep->rcv_read_seq = ep->rcv_nxt;
	ep->rcv_adv = ep->rcv_nxt + tcp_min32(ep->cfg->rcv_buf, 65535);
	ps_tcp_syn_options(ep, seg);
	/* RFC 7323 2.2: the window of a SYN is never scaled */
	ep->snd_wnd = seg->window;
	ep->max_sndwnd = ep->snd_wnd;
	if (fl & PS_TCP_ACK) {
		tcp_established(ep, seg, now, out);
		ep->flags |= EPF_ACK_NOW;
		ps_tcp_output(ep, now, out);
		return PS_TCP_DROP_NONE;
	}
	/* Simultaneous open (RFC 9293 3.5, figure 8): SYN-ACK with our ISN. */
	ep->state = PS_TCP_ST_SYN_RCVD;
	ep->snd_wl1 = seg->seq;
	ep->snd_wl2 = ep->iss;
	ps_tcp_send_syn(ep, now, out);
	ps_tcp_arm_rtx(ep, now);
	return PS_TCP_DROP_NONE;
}

/* SYN_RCVD before ps_tcp_accept(): nothing is answered. */
static enum ps_tcp_drop
tcp_in_held(struct ps_tcp_ep *ep, const struct ps_pkt *seg, struct ps_tcp_out *out)
{
	uint8_t fl = seg->tcp_flags;

	if ((fl & PS_TCP_RST) && seg->seq == ep->rcv_nxt) {
		tcp_count(ep, PS_TCP_CNT_RESETS_RCVD);
		ps_tcp_set_closed(ep, out, PS_TCP_EV_RESET, true);
		return PS_TCP_DROP_NONE;
	}
	if ((fl & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST)) == PS_TCP_SYN && seg->seq == ep->irs)
		tcp_count(ep, PS_TCP_CNT_DUP_SEGS);	/* the peer repeats its SYN */
	return tcp_drop(ep, PS_TCP_DROP_HELD);
}

/* Our FIN is acknowledged. */
static bool
tcp_fin_acked(const struct ps_tcp_ep *ep)
{
	return tcp_fin_sent(ep) && SEQ_GT(ep->snd_una, tcp_data_end(ep));
}

/* Fast retransmit and NewReno fast recovery entry, RFC 6582 section 3.2 step 2-3. */
static void
tcp_enter_recovery(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	uint32_t flight = ep->snd_max - ep->snd_una, n;

	ep->ssthresh = tcp_max32(flight / 2, 2u * ep->snd_mss);
	ep->recover = ep->snd_max;
	ep->flags |= EPF_RECOVERY;
	tcp_count(ep, PS_TCP_CNT_FAST_RETRANSMITS);
	n = ps_tcp_send_at(ep, ep->snd_una, ep->snd_mss, now, out);
	ep->rtx_hi = ep->snd_una + n;
	ep->cwnd = ep->ssthresh + 3u * ep->snd_mss;
}

/* In recovery: resend the next hole the peer's SACKs reveal (RFC 6675 style). */
static void
tcp_sack_rtx(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	uint32_t hole, n;

	if (!(ep->flags & EPF_SACK))
		return;
	if (!ps_tcp_sack_next_hole(ep, SEQ_GT(ep->rtx_hi, ep->snd_una) ? ep->rtx_hi : ep->snd_una,
				   &hole))
		return;
	n = ps_tcp_send_at(ep, hole, ep->snd_mss, now, out);
	if (n > 0) {
		ep->rtx_hi = hole + n;
		tcp_count(ep, PS_TCP_CNT_SACK_RETRANSMITS);
	}
}

/*
 * An acceptable ACK (RFC 9293 3.10.7.4 "fifth", ESTABLISHED and after):
 * advance snd_una, free acknowledged bytes, sample the RTT, grow or cut the
 * congestion window, update the send window.
 */
static void
tcp_ack(struct ps_tcp_ep *ep, const struct ps_pkt *seg, uint32_t len, uint64_t now,
	struct ps_tcp_out *out)
{
	uint32_t ack = seg->ack, wnd = (uint32_t)seg->window << ep->snd_wscale;
	uint32_t acked, n, mss = ep->snd_mss, flight;

	if ((ep->flags & EPF_SACK) && seg->n_sack > 0)
		ps_tcp_sack_update(ep, seg);
	if (SEQ_GT(ack, ep->snd_una)) {
		acked = ack - ep->snd_una;
		if ((ep->flags & EPF_RTT) && SEQ_GT(ack, ep->rtt_seq)) {
			ps_tcp_rtt_sample(ep, now - ep->rtt_start);
			ep->flags &= ~EPF_RTT;
		}
		if (SEQ_GT(ack, ep->snd_data_seq)) {
			n = tcp_min32(ack - ep->snd_data_seq, ep->snd_len);
			ps_tcp_buf_consume(ep->cfg, &ep->sndbuf, n, n == ep->snd_len);
			ep->snd_data_seq += n;
			ep->snd_len -= n;
		}
		ep->snd_una = ack;
		if (SEQ_LT(ep->snd_nxt, ep->snd_una))
			ep->snd_nxt = ep->snd_una;
		ep->rtx_count = 0;
		ps_tcp_sack_prune(ep);
		if (ep->flags & EPF_RECOVERY) {
			if (SEQ_GEQ(ack, ep->recover)) {
				/* full acknowledgement, RFC 6582 3.2 step 6 */
				flight = ep->snd_max - ep->snd_una;
				ep->cwnd = tcp_min32(ep->ssthresh, tcp_max32(flight, mss) + mss);
				ep->flags &= ~EPF_RECOVERY;
				ep->dupacks = 0;
			} else {
				/* partial acknowledgement, RFC 6582 3.2 step 5 */
				if (SEQ_GEQ(ep->snd_una, ep->rtx_hi)) {
					n = ps_tcp_send_at(ep, ep->snd_una, mss, now, out);
					ep->rtx_hi = ep->snd_una + n;
				}
				ep->cwnd = ep->cwnd > acked ? ep->cwnd - acked : 0;
				if (acked >= mss)
					ep->cwnd += mss;
				ep->cwnd = tcp_max32(ep->cwnd, mss);
				tcp_sack_rtx(ep, now, out);
			}
		} else {
			ep->dupacks = 0;
			if (ep->cwnd < ep->ssthresh)
				ep->cwnd += tcp_min32(acked, mss);	/* slow start, RFC 5681 3.1 */
			else
				ep->cwnd += tcp_max32(1, mss * mss / ep->cwnd);
			if (ep->cwnd > 0x3fffffff)
				ep->cwnd = 0x3fffffff;
		}
		/* RFC 6298 5.2, 5.3 */
		if (ep->snd_una == ep->snd_max) {
			if (!(ep->flags & EPF_PERSIST))
				ep->rtx_at = 0;
		} else if (!(ep->flags & EPF_PERSIST)) {
			ps_tcp_arm_rtx(ep, now);
		}
		if ((ep->flags & EPF_WANT_WRITE) && ep->snd_len < ep->cfg->snd_buf) {
			ep->flags &= ~EPF_WANT_WRITE;
			out->events |= PS_TCP_EV_WRITABLE;
		}
	} else if (ack == ep->snd_una && len == 0 &&
		   !(seg->tcp_flags & (PS_TCP_SYN | PS_TCP_FIN)) && wnd == ep->snd_wnd &&
		   wnd != 0 && SEQ_GT(ep->snd_max, ep->snd_una)) {
		/* duplicate ACK, RFC 5681 section 2 */
		tcp_count(ep, PS_TCP_CNT_DUP_ACKS);
		if (ep->dupacks < 255)
			ep->dupacks++;
		if (ep->flags & EPF_RECOVERY) {
			ep->cwnd += mss;	/* RFC 6582 3.2 step 4 */
			tcp_sack_rtx(ep, now, out);
		} else if (ep->dupacks == 3 && SEQ_GEQ(ack, ep->recover)) {
			tcp_enter_recovery(ep, now, out);
		}
	}
	/* Send window update, RFC 9293 3.10.7.4. */
	if (SEQ_LT(ep->snd_wl1, seg->seq) ||
	    (ep->snd_wl1 == seg->seq && SEQ_LEQ(ep->snd_wl2, ack))) {
		ep->snd_wnd = wnd;
		ep->snd_wl1 = seg->seq;
		ep->snd_wl2 = ack;
		if (wnd > ep->max_sndwnd)
			ep->max_sndwnd = wnd;
		if (wnd == 0) {
			if (!(ep->flags & EPF_PEER_ZWND))
				tcp_count(ep, PS_TCP_CNT_ZERO_WND_RCVD);
			ep->flags |= EPF_PEER_ZWND;
		} else {
			ep->flags &= ~EPF_PEER_ZWND;
			if (ep->flags & EPF_PERSIST) {
				/* the window opened: resend the refused probe byte first */
				ep->flags &= ~EPF_PERSIST;
				ep->rtx_count = 0;
				ep->rtx_at = 0;
				ep->snd_nxt = ep->snd_una;
			}
		}
	}
}

/* The peer's FIN has arrived in order (RFC 9293 3.10.7.4 "eighth"). */
static void
tcp_peer_fin(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	ep->rcv_nxt++;
	ep->flags |= EPF_RCV_FIN | EPF_ACK_NOW;
	ep->flags &= ~EPF_FIN_PENDING;
	out->events |= PS_TCP_EV_PEER_FIN;
	switch (ep->state) {
	case PS_TCP_ST_ESTABLISHED:
		ep->state = PS_TCP_ST_CLOSE_WAIT;
		break;
	case PS_TCP_ST_FIN_WAIT_1:
		ep->state = PS_TCP_ST_CLOSING;	/* simultaneous close */
		break;
	case PS_TCP_ST_FIN_WAIT_2:
		ps_tcp_enter_time_wait(ep, now);
		break;
	default:
		break;
	}
}

/*
 * Segment text and FIN (RFC 9293 3.10.7.4 "seventh", "eighth"): trim to
 * the window, append in-order bytes and absorb the islands they reach, or
 * keep out-of-order bytes as an island (bounded by PS_TCP_OOO_MAX). ACK
 * policy: immediately on reordering, gaps and FIN (RFC 5681 4.2), else every
 * second full segment or at the delayed-ACK deadline (RFC 9293 3.8.6.3).
 */
static enum ps_tcp_drop
tcp_rcv_data(struct ps_tcp_ep *ep, const struct ps_pkt *seg, const uint8_t *data, uint32_t len,
	     uint64_t now, struct ps_tcp_out *out)
{
	const struct ps_tcp_cfg *cfg = ep->cfg;
	bool fin = seg->tcp_flags & PS_TCP_FIN;
	uint32_t seq = seg->seq, d, old, had_ooo;

	if (ep->flags & EPF_RCV_FIN)
		return PS_TCP_DROP_NONE;
	if (SEQ_LT(seq, ep->rcv_nxt)) {
		d = ep->rcv_nxt - seq;
		if (d >= len) {
			if (!(fin && d == len)) {
				fin = false;
				tcp_count(ep, PS_TCP_CNT_DUP_SEGS);
				ep->flags |= EPF_ACK_NOW;
			}
			len = 0;
		} else {
			data += d;
			len -= d;
		}
		seq = ep->rcv_nxt;
	}
	if (SEQ_GT(seq + len, ep->rcv_adv)) {
		len = SEQ_GT(ep->rcv_adv, seq) ? ep->rcv_adv - seq : 0;
		fin = false;
		ep->flags |= EPF_ACK_NOW;
	}
	if (len == 0 && !fin)
		return PS_TCP_DROP_NONE;
	if (len > ep->rcv_seg_max)
		ep->rcv_seg_max = (uint16_t)tcp_min32(len, 65535);

	if (seq != ep->rcv_nxt) {
		/* out of order: keep as an island, dup ACK now */
		tcp_count(ep, PS_TCP_CNT_OOO_SEGS);
		ep->flags |= EPF_ACK_NOW;
		if (len > 0) {
			if (ps_tcp_buf_write(cfg, &ep->rcvbuf, seq - ep->rcv_read_seq, data, len) < 0)
				return tcp_drop(ep, PS_TCP_DROP_NO_MEM);
			if (ps_tcp_ooo_insert(ep, seq, seq + len) < 0)
				return tcp_drop(ep, PS_TCP_DROP_OOO_FULL);
		}
		if (fin && !(ep->flags & EPF_FIN_PENDING)) {
			ep->flags |= EPF_FIN_PENDING;
			ep->rcv_fin_seq = seq + len;
		}
		return PS_TCP_DROP_NONE;
	}

	if (len > 0 &&
	    ps_tcp_buf_write(cfg, &ep->rcvbuf, seq - ep->rcv_read_seq, data, len) < 0)
		return tcp_drop(ep, PS_TCP_DROP_NO_MEM);
	old = ep->rcv_nxt;
	ep->rcv_nxt += len;
	had_ooo = ep->n_ooo;
	ps_tcp_ooo_merge(ep);
	if (had_ooo > 0)
		ep->flags |= EPF_ACK_NOW;	/* fills (part of) a gap */
	if (ep->rcv_nxt != old) {
		out->readable += ep->rcv_nxt - old;
		out->events |= PS_TCP_EV_READABLE;
	}
	if (fin && seq + len != ep->rcv_nxt)
		fin = false;			/* data past the FIN: not believable */
	if ((ep->flags & EPF_FIN_PENDING) && ep->rcv_fin_seq == ep->rcv_nxt)
		fin = true;
	if (fin) {
		tcp_peer_fin(ep, now, out);
		return PS_TCP_DROP_NONE;
	}
	if (len > 0 && !(ep->flags & EPF_ACK_NOW)) {
		ep->rcv_unacked += len;
		if (ep->rcv_unacked >= 2u * ep->rcv_seg_max)
			ep->flags |= EPF_ACK_NOW;
		else if (ep->delack_at == 0)
			ep->delack_at = now + cfg->delack_us;
	}
	return PS_TCP_DROP_NONE;
}

/* Acceptability test, RFC 9293 3.10.7.4 "first" (the four cases). */
static bool
tcp_acceptable(const struct ps_tcp_ep *ep, uint32_t seq, uint32_t seglen)
{
	uint32_t rwnd = SEQ_GT(ep->rcv_adv, ep->rcv_nxt) ? ep->rcv_adv - ep->rcv_nxt : 0;
	uint32_t nxt = ep->rcv_nxt;

	if (seglen == 0) {
		if (rwnd == 0)
			return seq == nxt;
		return SEQ_GEQ(seq, nxt) && SEQ_LT(seq, nxt + rwnd);
	}
	if (rwnd == 0)
		return false;
	return (SEQ_GEQ(seq, nxt) && SEQ_LT(seq, nxt + rwnd)) ||
	       (SEQ_GEQ(seq + seglen - 1, nxt) && SEQ_LT(seq + seglen - 1, nxt + rwnd));
}

/* Synchronized states and SYN_RCVD after the SYN-ACK. */
static enum ps_tcp_drop
tcp_in_sync(struct ps_tcp_ep *ep, const struct ps_pkt *seg, const uint8_t *payload,
	    uint32_t len, uint64_t now, struct ps_tcp_out *out)
{
	uint8_t fl = seg->tcp_flags;
	uint32_t seglen = len + ((fl & PS_TCP_SYN) ? 1 : 0) + ((fl & PS_TCP_FIN) ? 1 : 0);
	uint32_t max_wnd;
	enum ps_tcp_drop r = PS_TCP_DROP_NONE;

	if (ep->state == PS_TCP_ST_SYN_RCVD && (fl & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST)) ==
	    PS_TCP_SYN && seg->seq == ep->irs) {
		/* the peer repeats its SYN: our SYN-ACK was lost */
		tcp_count(ep, PS_TCP_CNT_DUP_SEGS);
		ps_tcp_send_syn(ep, now, out);
		return PS_TCP_DROP_NONE;
	}
	/* RFC 5961 4.2: a SYN, whatever its sequence number, gets a challenge ACK. */
	if ((fl & PS_TCP_SYN) && !(fl & PS_TCP_RST)) {
		ps_tcp_send_challenge_ack(ep, now, out);
		return tcp_drop(ep, PS_TCP_DROP_SYN_CHALLENGED);
	}
	/* PAWS, RFC 7323 5.3 R1 (not for RST). */
	if ((ep->flags & EPF_TS) && seg->has_ts && !(fl & PS_TCP_RST) &&
	    SEQ_LT(seg->ts_val, ep->ts_recent)) {
		ps_tcp_send_oow_ack(ep, seglen, now, out);
		return tcp_drop(ep, PS_TCP_DROP_PAWS);
	}
	if (!tcp_acceptable(ep, seg->seq, seglen)) {
		if (fl & PS_TCP_RST)
			return tcp_drop(ep, PS_TCP_DROP_RST_OUT_OF_WINDOW);
		if (seg->seq == ep->rcv_nxt && (fl & PS_TCP_ACK)) {
			/* zero window: keep the ACK, drop the text (RFC 9293 3.10.7.4) */
			len = 0;
			fl &= (uint8_t)~PS_TCP_FIN;
			ep->flags |= EPF_ACK_NOW;
			r = tcp_drop(ep, PS_TCP_DROP_OUT_OF_WINDOW);
		} else {
			if (SEQ_LEQ(seg->seq + seglen, ep->rcv_nxt))
				tcp_count(ep, PS_TCP_CNT_DUP_SEGS);
			if (ep->state == PS_TCP_ST_TIME_WAIT && (fl & PS_TCP_FIN))
				ps_tcp_enter_time_wait(ep, now);	/* RFC 9293 3.10.7.4 */
			ps_tcp_send_oow_ack(ep, seglen, now, out);
			return tcp_drop(ep, PS_TCP_DROP_OUT_OF_WINDOW);
		}
	}
	/* RST, RFC 5961 3.2: exact → reset, in window → challenge ACK. */
	if (fl & PS_TCP_RST) {
		if (seg->seq != ep->rcv_nxt) {
			ps_tcp_send_challenge_ack(ep, now, out);
			return tcp_drop(ep, PS_TCP_DROP_RST_CHALLENGED);
		}
		tcp_count(ep, PS_TCP_CNT_RESETS_RCVD);
		ps_tcp_set_closed(ep, out, PS_TCP_EV_RESET, true);
		return PS_TCP_DROP_NONE;
	}
	if (!(fl & PS_TCP_ACK))
		return tcp_drop(ep, PS_TCP_DROP_NO_ACK);

	/* RFC 7323 4.3 R3: remember the timestamp to echo. */
	if ((ep->flags & EPF_TS) && seg->has_ts && SEQ_GEQ(seg->ts_val, ep->ts_recent) &&
	    SEQ_LEQ(seg->seq, ep->last_ack_sent))
		ep->ts_recent = seg->ts_val;

	if (ep->state == PS_TCP_ST_SYN_RCVD) {
		if (!SEQ_GT(seg->ack, ep->snd_una) || SEQ_GT(seg->ack, ep->snd_max)) {
			ps_tcp_send_rst(ep, seg->ack, false, 0, out);
			return tcp_drop(ep, PS_TCP_DROP_SYN_RCVD_BAD_ACK);
		}
		ep->snd_wnd = (uint32_t)seg->window << ep->snd_wscale;
		ep->max_sndwnd = tcp_max32(ep->max_sndwnd, ep->snd_wnd);
		tcp_established(ep, seg, now, out);
	}
	/* RFC 5961 5.2: (SND.UNA - MAX.SND.WND) <= SEG.ACK <= SND.NXT */
	if (SEQ_GT(seg->ack, ep->snd_max)) {
		ps_tcp_send_ack(ep, now, out);
		return tcp_drop(ep, PS_TCP_DROP_ACK_UNSENT);
	}
	max_wnd = tcp_max32(ep->max_sndwnd, 1);
	if (SEQ_LT(seg->ack, ep->snd_una - max_wnd)) {
		ps_tcp_send_challenge_ack(ep, now, out);
		return tcp_drop(ep, PS_TCP_DROP_ACK_TOO_OLD);
	}
	tcp_ka_restart(ep, now);
	tcp_ack(ep, seg, len, now, out);
	if (ep->state == PS_TCP_ST_CLOSED)
		return r;

	if (tcp_fin_acked(ep)) {
		switch (ep->state) {
		case PS_TCP_ST_FIN_WAIT_1:
			ep->state = PS_TCP_ST_FIN_WAIT_2;
			out->events |= PS_TCP_EV_FIN_ACKED;
			break;
		case PS_TCP_ST_CLOSING:
			out->events |= PS_TCP_EV_FIN_ACKED;
			ps_tcp_enter_time_wait(ep, now);
			break;
		case PS_TCP_ST_LAST_ACK:
			ps_tcp_set_closed(ep, out, PS_TCP_EV_FIN_ACKED, false);
			return r;
		default:
			break;
		}
	}

	if (len > 0 || (fl & PS_TCP_FIN)) {
		switch (ep->state) {
		case PS_TCP_ST_ESTABLISHED:
		case PS_TCP_ST_FIN_WAIT_1:
		case PS_TCP_ST_FIN_WAIT_2: {
			struct ps_pkt s = *seg;

			s.tcp_flags = fl;
			r = tcp_rcv_data(ep, &s, payload, len, now, out);
			break;
		}
		default:
			/* after the peer's FIN: only retransmissions are expected */
			ep->flags |= EPF_ACK_NOW;
			if (ep->state == PS_TCP_ST_TIME_WAIT)
				ps_tcp_enter_time_wait(ep, now);
			if (SEQ_GT(seg->seq + len, ep->rcv_nxt - 1))
				r = tcp_drop(ep, PS_TCP_DROP_AFTER_FIN);
			break;
		}
	}
	ps_tcp_output(ep, now, out);
	return r;
}

/*
 * Process one received segment (see ps_tcp.h): dispatch on the state.
 */
enum ps_tcp_drop
ps_tcp_input(struct ps_tcp_ep *ep, const struct ps_pkt *seg, const uint8_t *payload,
	     uint64_t now, struct ps_tcp_out *out)
{
	uint32_t len = payload != NULL ? seg->payload_len : 0;

	tcp_count(ep, PS_TCP_CNT_SEGS_IN);
	switch (ep->state) {
	case PS_TCP_ST_CLOSED:
		return tcp_drop(ep, PS_TCP_DROP_CLOSED);
	case PS_TCP_ST_SYN_SENT:
		return tcp_in_syn_sent(ep, seg, now, out);
	case PS_TCP_ST_SYN_RCVD:
		if (ep->flags & EPF_HELD)
			return tcp_in_held(ep, seg, out);
		break;
	default:
		break;
	}
	if (len > (1u << 30))
		len = 0;
	return tcp_in_sync(ep, seg, payload, len, now, out);
}
