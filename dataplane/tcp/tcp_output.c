/* SPDX-License-Identifier: BSD-3-Clause
 * Segment generation: SYN, ACK, RST, data and FIN descriptors appended to a
 * struct ps_tcp_out. Nothing here touches a frame: the caller builds it.
 */
#include <string.h>

#include "tcp_priv.h"

/* Next free descriptor, NULL (and out->more) when the array is full. */
struct ps_tcp_seg *
ps_tcp_out_slot(struct ps_tcp_out *out)
{
	struct ps_tcp_seg *seg;

	if (out->n_segs >= PS_TCP_OUT_SEGS) {
		out->more = true;
		return NULL;
	}
	seg = &out->segs[out->n_segs++];
	memset(seg, 0, sizeof(*seg));
	return seg;
}

/*
 * Window to advertise, as the wire field, and the right edge it stands for
 * (rcv_adv never moves left, RFC 9293 3.8.6). The right edge grows only by
 * min(buffer/2, MSS) steps: receiver-side silly window avoidance (RFC 9293
 * 3.8.6.2.2). SYN segments carry an unscaled window (RFC 7323 2.2).
 */
static uint16_t
tcp_rcv_window(struct ps_tcp_ep *ep, bool syn)
{
	uint32_t cap = ep->cfg->rcv_buf;
	uint32_t right = ep->rcv_read_seq + cap;
	uint32_t shift = syn ? 0 : ep->rcv_wscale;
	uint32_t step = tcp_min32(cap / 2, ep->rcv_mss);
	uint32_t wnd, wire;

	if (SEQ_GT(right, ep->rcv_adv) && right - ep->rcv_adv < step)
		right = ep->rcv_adv;
	wnd = SEQ_GT(right, ep->rcv_nxt) ? right - ep->rcv_nxt : 0;
	wire = tcp_min32(wnd >> shift, 65535);
	if (SEQ_GT(ep->rcv_nxt + (wire << shift), ep->rcv_adv))
		ep->rcv_adv = ep->rcv_nxt + (wire << shift);
	if (wire == 0 && !syn) {
		if (!(ep->flags & EPF_ZWND))
			tcp_count(ep, PS_TCP_CNT_ZERO_WND_SENT);
		ep->flags |= EPF_ZWND;
	} else {
		ep->flags &= ~EPF_ZWND;
	}
	return (uint16_t)wire;
}

static unsigned int
tcp_n_sack(const struct ps_tcp_ep *ep)
{
	unsigned int max = (ep->flags & EPF_TS) ? 3 : 4;

	if (!(ep->flags & EPF_SACK))
		return 0;
	return ep->n_ooo < max ? ep->n_ooo : max;
}

/* Option bytes of a non-SYN segment with an ACK. */
static uint32_t
tcp_opt_len(const struct ps_tcp_ep *ep)
{
	uint32_t len = (ep->flags & EPF_TS) ? TCP_TS_OPT_LEN : 0;
	unsigned int n = tcp_n_sack(ep);

	if (n > 0)
		len += 4 + 8 * n;
	return len;
}

/* Payload room in one segment: the peer's MSS minus our options (RFC 9293 3.7.1). */
static uint32_t
tcp_seg_room(const struct ps_tcp_ep *ep)
{
	uint32_t opt = tcp_opt_len(ep);

	return ep->snd_mss > opt + 1 ? ep->snd_mss - opt : 1;
}

/* Common fields of a segment we send in a synchronized state. */
static void
tcp_seg_fill(struct ps_tcp_ep *ep, struct ps_tcp_seg *seg, uint32_t seq, uint8_t flags,
	     uint64_t now)
{
	struct ps_tcp_spec *t = &seg->tcp;

	t->seq = seq;
	t->flags = flags;
	if (flags & PS_TCP_ACK) {
		t->ack = ep->rcv_nxt;
		t->window = tcp_rcv_window(ep, false);
		ps_tcp_sack_blocks(ep, t, tcp_n_sack(ep));
		ep->last_ack_sent = ep->rcv_nxt;
		ep->flags &= ~EPF_ACK_NOW;
		ep->delack_at = 0;
		ep->rcv_unacked = 0;
	}
	if (ep->flags & EPF_TS) {
		/* RFC 7323 section 3: a 1 ms clock, offset per connection (5.4) */
		t->has_ts = true;
		t->ts_val = (uint32_t)(now / 1000) + ep->ts_off;
		t->ts_ecr = ep->ts_recent;
	}
	tcp_count(ep, PS_TCP_CNT_SEGS_OUT);
}

/*
 * SYN (SYN_SENT) or SYN-ACK (SYN_RCVD) with our options: those we offer
 * when we open, only those the peer offered when we answer (RFC 7323 1.3,
 * RFC 2018 section 2).
 */
void
ps_tcp_send_syn(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	const struct ps_tcp_cfg *cfg = ep->cfg;
	struct ps_tcp_seg *seg = ps_tcp_out_slot(out);
	struct ps_tcp_spec *t;
	bool offer = ep->flags & EPF_ACTIVE;

	if (seg == NULL)
		return;
	t = &seg->tcp;
	t->seq = ep->iss;
	t->flags = PS_TCP_SYN;
	t->window = (uint16_t)tcp_min32(cfg->rcv_buf, 65535);
	t->has_mss = true;
	t->mss = ep->rcv_mss;
	if (offer ? cfg->wscale_ok : (ep->flags & EPF_WSCALE) != 0) {
		t->has_wscale = true;
		t->wscale = cfg->wscale;
	}
	t->sack_ok = offer ? cfg->sack_ok : (ep->flags & EPF_SACK) != 0;
	if (offer ? cfg->ts_ok : (ep->flags & EPF_TS) != 0) {
		t->has_ts = true;
		t->ts_val = (uint32_t)(now / 1000) + ep->ts_off;
		t->ts_ecr = ep->ts_recent;
	}
	if (ep->state == PS_TCP_ST_SYN_RCVD) {
		t->flags |= PS_TCP_ACK;
		t->ack = ep->rcv_nxt;
		ep->last_ack_sent = ep->rcv_nxt;
		ep->rcv_adv = ep->rcv_nxt + t->window;
	}
	if (SEQ_LT(ep->snd_max, ep->iss + 1))
		ep->snd_max = ep->iss + 1;
	ep->snd_nxt = ep->iss + 1;
	tcp_count(ep, PS_TCP_CNT_SEGS_OUT);
}

/* A bare ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 9293 3.10.7.4). */
void
ps_tcp_send_ack(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	struct ps_tcp_seg *seg = ps_tcp_out_slot(out);

	if (seg == NULL)
		return;
	tcp_seg_fill(ep, seg, ep->snd_nxt, PS_TCP_ACK, now);
}

/*
 * Challenge ACK (RFC 5961 sections 3.2, 4.2, 5.2), at most
 * cfg->challenge_acks_per_s per second (RFC 5961 section 7).
 */
void
ps_tcp_send_challenge_ack(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	if (now - ep->chal_at >= 1000000 || now < ep->chal_at) {
		ep->chal_at = now;
		ep->chal_count = 0;
	}
	if (ep->chal_count >= ep->cfg->challenge_acks_per_s) {
		tcp_count(ep, PS_TCP_CNT_CHALLENGE_ACKS_LIMITED);
		return;
	}
	ep->chal_count++;
	tcp_count(ep, PS_TCP_CNT_CHALLENGE_ACKS);
	ps_tcp_send_ack(ep, now, out);
}

/*
 * The ACK that answers a segment failing PAWS or the window check. A
 * segment with data or FIN is always answered (the peer needs the
 * acknowledgement); a bare ACK at most once per cfg->oow_ack_interval_us,
 * as Linux does: two endpoints that disagree about a connection (one of
 * them from an earlier incarnation of its 4-tuple) would otherwise answer
 * each other's ACKs forever.
 */
void
ps_tcp_send_oow_ack(struct ps_tcp_ep *ep, uint32_t seglen, uint64_t now,
		    struct ps_tcp_out *out)
{
	if (seglen == 0) {
		if (ep->oow_ack_at != 0 && now - ep->oow_ack_at < ep->cfg->oow_ack_interval_us &&
		    now >= ep->oow_ack_at) {
			tcp_count(ep, PS_TCP_CNT_OOW_ACKS_LIMITED);
			return;
		}
		ep->oow_ack_at = now;
	}
	ps_tcp_send_ack(ep, now, out);
}

/* RST with seq (and ack when with_ack), no options, window 0. */
void
ps_tcp_send_rst(struct ps_tcp_ep *ep, uint32_t seq, bool with_ack, uint32_t ack,
		struct ps_tcp_out *out)
{
	struct ps_tcp_seg *seg = ps_tcp_out_slot(out);

	if (seg == NULL)
		return;
	seg->tcp.seq = seq;
	seg->tcp.flags = PS_TCP_RST;
	if (with_ack) {
		seg->tcp.flags |= PS_TCP_ACK;
		seg->tcp.ack = ack;
	}
	tcp_count(ep, PS_TCP_CNT_SEGS_OUT);
	tcp_count(ep, PS_TCP_CNT_RESETS_SENT);
}

/*
 * Send again at most max_len bytes from seq, stopping before the next
 * SACKed range and at the end of what was sent; the FIN goes along when it
 * was sent and is reached. Does not move snd_nxt. Returns the sequence
 * space covered (0: nothing was sent).
 */
uint32_t
ps_tcp_send_at(struct ps_tcp_ep *ep, uint32_t seq, uint32_t max_len, uint64_t now,
	       struct ps_tcp_out *out)
{
	uint32_t end = tcp_data_end(ep), len = 0, lim;
	struct ps_tcp_seg *seg;
	bool fin;

	if (SEQ_LT(seq, ep->snd_una) || SEQ_GEQ(seq, ep->snd_max))
		return 0;
	if (SEQ_LT(seq, end)) {
		len = tcp_min32(end - seq, tcp_min32(max_len, tcp_seg_room(ep)));
		if (ps_tcp_sack_next_start(ep, seq, &lim) && SEQ_GT(seq + len, lim))
			len = lim - seq;
		if (SEQ_GT(seq + len, ep->snd_max))
			len = ep->snd_max - seq;
	}
	fin = tcp_fin_sent(ep) && seq + len == end;
	if (len == 0 && !fin)
		return 0;
	seg = ps_tcp_out_slot(out);
	if (seg == NULL)
		return 0;
	tcp_seg_fill(ep, seg, seq, (uint8_t)(PS_TCP_ACK | (fin ? PS_TCP_FIN : 0) |
					     (len > 0 ? PS_TCP_PSH : 0)), now);
	seg->len = len;
	tcp_count(ep, PS_TCP_CNT_RETRANSMITS);
	ep->flags &= ~EPF_RTT;		/* Karn's rule: no sample from this */
	return len + (fin ? 1 : 0);
}

/* Keep-alive probe: an old sequence number that forces an ACK (RFC 9293 3.8.4). */
void
ps_tcp_send_probe(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	struct ps_tcp_seg *seg = ps_tcp_out_slot(out);

	if (seg == NULL)
		return;
	tcp_seg_fill(ep, seg, ep->snd_una - 1, PS_TCP_ACK, now);
}

static bool
tcp_may_send_data(const struct ps_tcp_ep *ep)
{
	switch (ep->state) {
	case PS_TCP_ST_ESTABLISHED:
	case PS_TCP_ST_CLOSE_WAIT:
	case PS_TCP_ST_FIN_WAIT_1:
	case PS_TCP_ST_CLOSING:
	case PS_TCP_ST_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/*
 * Send what the send window (RFC 9293 3.8.6) and the congestion window
 * (RFC 5681) allow, from snd_nxt: after a timeout snd_nxt is behind snd_max
 * and the loop retransmits, skipping SACKed ranges. Then arms the
 * retransmission or persist timer and flushes a pending ACK.
 */
void
ps_tcp_output(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	uint32_t end, win, usable, avail, room, len, lim, sacked_end;
	struct ps_tcp_seg *seg;
	bool fin, rtx;

	while (tcp_may_send_data(ep)) {
		end = tcp_data_end(ep);
		if (SEQ_LT(ep->snd_nxt, ep->snd_una))
			ep->snd_nxt = ep->snd_una;
		rtx = SEQ_LT(ep->snd_nxt, ep->snd_max);
		if (rtx && ps_tcp_sacked(ep, ep->snd_nxt, &sacked_end)) {
			ep->snd_nxt = SEQ_GT(sacked_end, ep->snd_max) ? ep->snd_max : sacked_end;
			continue;
		}
		win = tcp_min32(ep->snd_wnd, ep->cwnd);
		usable = SEQ_GT(ep->snd_una + win, ep->snd_nxt) ?
			 ep->snd_una + win - ep->snd_nxt : 0;
		avail = SEQ_LT(ep->snd_nxt, end) ? end - ep->snd_nxt : 0;
		room = tcp_seg_room(ep);
		len = tcp_min32(avail, tcp_min32(usable, room));
		if (rtx && len > 0) {
			if (ps_tcp_sack_next_start(ep, ep->snd_nxt, &lim) &&
			    SEQ_GT(ep->snd_nxt + len, lim))
				len = lim - ep->snd_nxt;
		}
		fin = (ep->flags & EPF_FIN_QUEUED) && ep->snd_nxt + len == end &&
		      SEQ_LEQ(ep->snd_nxt, end);
		if (len == 0 && !fin)
			break;
		/* Sender silly window avoidance, RFC 9293 3.8.6.2.1. */
		if (!fin && !rtx && len < room && len < avail && ep->snd_max != ep->snd_una &&
		    len < ep->max_sndwnd / 2)
			break;
		seg = ps_tcp_out_slot(out);
		if (seg == NULL)
			return;
		tcp_seg_fill(ep, seg, ep->snd_nxt,
			     (uint8_t)(PS_TCP_ACK | (fin ? PS_TCP_FIN : 0) |
				       (len > 0 && ep->snd_nxt + len == end ? PS_TCP_PSH : 0)),
			     now);
		seg->len = len;
		if (rtx) {
			tcp_count(ep, PS_TCP_CNT_RETRANSMITS);
			ep->flags &= ~EPF_RTT;
		} else if (!(ep->flags & EPF_RTT) && len > 0) {
			ep->flags |= EPF_RTT;
			ep->rtt_seq = ep->snd_nxt;
			ep->rtt_start = now;
		}
		ep->snd_nxt += len + (fin ? 1 : 0);
		if (SEQ_GT(ep->snd_nxt, ep->snd_max))
			ep->snd_max = ep->snd_nxt;
		if (ep->rtx_at == 0)
			ps_tcp_arm_rtx(ep, now);
	}
	/* Zero window with data waiting and nothing in flight: persist (RFC 9293 3.8.6.1). */
	if (tcp_may_send_data(ep) && ep->snd_wnd == 0 && ep->rtx_at == 0 &&
	    SEQ_LT(ep->snd_nxt, tcp_data_end(ep))) {
		ep->flags |= EPF_PERSIST;
		ep->rtx_at = now + ps_tcp_rto_cur(ep);
	}
	if (ep->flags & EPF_ACK_NOW)
		ps_tcp_send_ack(ep, now, out);
}
