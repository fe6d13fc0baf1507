/* SPDX-License-Identifier: BSD-3-Clause
 * TCP endpoint lifecycle and application interface: configuration, opens,
 * reads and writes, close and abort, names. The protocol machinery lives in
 * tcp_input.c, tcp_output.c, tcp_timer.c, tcp_sack.c and tcp_buf.c.
 */
#include <errno.h>
#include <string.h>

#include "tcp_priv.h"

/* Fill *cfg with the documented defaults. */
void
ps_tcp_cfg_defaults(struct ps_tcp_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mss = 1460;
	cfg->mss6 = 1440;
	cfg->default_mss = 536;
	cfg->default_mss6 = 1220;
	cfg->wscale_ok = true;
	cfg->sack_ok = true;
	cfg->ts_ok = true;
	cfg->wscale = 7;
	cfg->snd_buf = 256 * 1024;
	cfg->rcv_buf = 256 * 1024;
	cfg->chunk_size = 4096;
	cfg->init_cwnd_segs = 10;
	cfg->rto_init_us = 1000000;
	cfg->rto_min_us = 200000;
	cfg->rto_max_us = 60000000;
	cfg->syn_retries = 5;
	cfg->data_retries = 8;
	cfg->keepalive_probes = 5;
	cfg->delack_us = 40000;
	cfg->keepalive_idle_us = 0;
	cfg->keepalive_intvl_us = 10000000;
	cfg->idle_timeout_us = 0;
	cfg->time_wait_us = 2000000;
	cfg->challenge_acks_per_s = 10;
	cfg->oow_ack_interval_us = 500000;
}

/* 0 when *cfg is consistent, -EINVAL otherwise. */
int
ps_tcp_cfg_check(const struct ps_tcp_cfg *cfg)
{
	uint32_t shift = cfg->wscale_ok ? cfg->wscale : 0;

	if (cfg->mss < 64 || cfg->mss6 < 64 || cfg->default_mss < 64 || cfg->default_mss6 < 64)
		return -EINVAL;
	if (cfg->wscale > TCP_MAX_WIN_SHIFT)
		return -EINVAL;
	/* the whole receive buffer must be advertisable, and below 2^30 (RFC 7323 2.3) */
	if (cfg->rcv_buf < 2u * cfg->mss || cfg->rcv_buf > (1u << 30) ||
	    cfg->rcv_buf > (65535u << shift))
		return -EINVAL;
	if (!cfg->wscale_ok && cfg->rcv_buf > 65535)
		return -EINVAL;
	if (cfg->snd_buf == 0 || cfg->snd_buf > (1u << 30))
		return -EINVAL;
	if (cfg->chunk_size < 256 || cfg->chunk_size > (1u << 20))
		return -EINVAL;
	if (cfg->rto_min_us == 0 || cfg->rto_min_us > cfg->rto_init_us ||
	    cfg->rto_init_us > cfg->rto_max_us || cfg->rto_max_us > 0x7fffffff)
		return -EINVAL;
	if (cfg->delack_us == 0 || cfg->delack_us > 500000)	/* RFC 9293 3.8.6.3 */
		return -EINVAL;
	if (cfg->keepalive_idle_us != 0 && cfg->keepalive_intvl_us == 0)
		return -EINVAL;
	if ((cfg->alloc == NULL) != (cfg->free == NULL))
		return -EINVAL;
	return 0;
}

/* Make *ep a CLOSED endpoint bound to cfg and stats (borrowed). */
void
ps_tcp_init(struct ps_tcp_ep *ep, const struct ps_tcp_cfg *cfg, struct ps_tcp_stats *stats,
	    unsigned int flags)
{
	memset(ep, 0, sizeof(*ep));
	ep->cfg = cfg;
	ep->stats = stats;
	ep->state = PS_TCP_ST_CLOSED;
	if (flags & PS_TCP_F_IPV6)
		ep->flags |= EPF_IPV6;
	ep->rcv_mss = (flags & PS_TCP_F_IPV6) ? cfg->mss6 : cfg->mss;
	ep->snd_mss = (uint16_t)tcp_min32(ep->rcv_mss, (flags & PS_TCP_F_IPV6) ?
					  cfg->default_mss6 : cfg->default_mss);
	ep->rto = cfg->rto_init_us;
	ep->cwnd = tcp_max32(cfg->init_cwnd_segs, 1) * ep->snd_mss;
	ep->ssthresh = 0x3fffffff;
}

/* Clear an output. */
void
ps_tcp_out_reset(struct ps_tcp_out *out)
{
	out->events = 0;
	out->readable = 0;
	out->n_segs = 0;
	out->more = false;
}

static void
tcp_open_common(struct ps_tcp_ep *ep, uint32_t iss, uint64_t now)
{
	ep->iss = iss;
	ep->snd_una = iss;
	ep->snd_nxt = iss;
	ep->snd_max = iss;
	ep->snd_data_seq = iss + 1;
	ep->recover = iss;
	ep->rtx_hi = iss;
	ep->ts_off = iss;	/* RFC 7323 5.4: a per-connection offset */
	ep->rtt_start = now;
	ep->last_rcv = now;
	ep->chal_at = now;
}

/* Active open: SYN out, SYN_SENT. Returns 0 or -EISCONN. */
int
ps_tcp_connect(struct ps_tcp_ep *ep, uint32_t iss, uint64_t now, struct ps_tcp_out *out)
{
	if (ep->state != PS_TCP_ST_CLOSED || ep->iss != 0 || ep->snd_max != 0)
		return -EISCONN;
	tcp_open_common(ep, iss, now);
	ep->flags |= EPF_ACTIVE;
	ep->state = PS_TCP_ST_SYN_SENT;
	ps_tcp_send_syn(ep, now, out);
	ps_tcp_arm_rtx(ep, now);
	return 0;
}

/* Passive open, first half: record the peer's SYN, answer nothing. */
int
ps_tcp_passive_syn(struct ps_tcp_ep *ep, const struct ps_pkt *syn, uint32_t iss, uint64_t now)
{
	if (ep->state != PS_TCP_ST_CLOSED || ep->snd_max != 0 || ep->iss != 0)
		return -EISCONN;
	if ((syn->tcp_flags & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST | PS_TCP_FIN)) != PS_TCP_SYN)
		return -EINVAL;
	tcp_open_common(ep, iss, now);
	ep->irs = syn->seq;
	ep->rcv_nxt = syn->seq + 1;
	ep->rcv_read_seq = ep->rcv_nxt;
	ep->rcv_adv = ep->rcv_nxt;
	ps_tcp_syn_options(ep, syn);
	ep->snd_wnd = syn->window;	/* RFC 7323 2.2: unscaled in a SYN */
	ep->max_sndwnd = ep->snd_wnd;
	ep->snd_wl1 = syn->seq;
	ep->snd_wl2 = iss;
	ep->state = PS_TCP_ST_SYN_RCVD;
	ep->flags |= EPF_HELD;
	return 0;
}

/* Passive open, second half: SYN-ACK out. */
int
ps_tcp_accept(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	if (ep->state != PS_TCP_ST_SYN_RCVD || !(ep->flags & EPF_HELD))
		return -EINVAL;
	ep->flags &= ~EPF_HELD;
	ep->rtt_start = now;
	ps_tcp_send_syn(ep, now, out);
	ps_tcp_arm_rtx(ep, now);
	return 0;
}

/* A SYN that starts a new connection on ep's 4-tuple (see ps_tcp.h). */
bool
ps_tcp_syn_is_new(const struct ps_tcp_ep *ep, const struct ps_pkt *syn)
{
	switch (ep->state) {
	case PS_TCP_ST_CLOSED:
	case PS_TCP_ST_TIME_WAIT:
		return true;
	case PS_TCP_ST_SYN_RCVD:
		return (ep->flags & EPF_HELD) && syn->seq != ep->irs;
	default:
		return false;
	}
}

/* Refuse a held SYN: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 3.10.7.1). */
int
ps_tcp_refuse(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	(void)now;
	if (ep->state != PS_TCP_ST_SYN_RCVD || !(ep->flags & EPF_HELD))
		return -EINVAL;
	ps_tcp_send_rst(ep, 0, true, ep->rcv_nxt, out);
	ps_tcp_set_closed(ep, out, 0, true);
	return 0;
}

/* Queue bytes for sending; see ps_tcp.h. */
int
ps_tcp_write(struct ps_tcp_ep *ep, const uint8_t *data, uint32_t len, uint64_t now,
	     struct ps_tcp_out *out)
{
	uint32_t n;

	switch (ep->state) {
	case PS_TCP_ST_SYN_SENT:
	case PS_TCP_ST_SYN_RCVD:
	case PS_TCP_ST_ESTABLISHED:
	case PS_TCP_ST_CLOSE_WAIT:
		if (!(ep->flags & EPF_FIN_QUEUED))
			break;
		/* fall through */
	default:
		return -EPIPE;
	}
	if (len > 0x7fffffff)
		len = 0x7fffffff;
	n = tcp_min32(len, ep->cfg->snd_buf - ep->snd_len);
	if (n < len)
		ep->flags |= EPF_WANT_WRITE;
	if (n > 0) {
		if (ps_tcp_buf_write(ep->cfg, &ep->sndbuf, ep->snd_len, data, n) < 0)
			return -ENOMEM;
		ep->snd_len += n;
	}
	ps_tcp_output(ep, now, out);
	return (int)n;
}

/* Free send space. */
uint32_t
ps_tcp_writable(const struct ps_tcp_ep *ep)
{
	return ep->cfg->snd_buf - ep->snd_len;
}

/* In-order bytes not read yet (the FIN's sequence number excluded). */
uint32_t
ps_tcp_readable(const struct ps_tcp_ep *ep)
{
	uint32_t end = ep->rcv_nxt - ((ep->flags & EPF_RCV_FIN) ? 1 : 0);

	if (ep->state == PS_TCP_ST_SYN_SENT || !SEQ_GT(end, ep->rcv_read_seq))
		return 0;
	return end - ep->rcv_read_seq;
}

/* Zero-copy view of the first contiguous readable bytes. */
uint32_t
ps_tcp_peek(const struct ps_tcp_ep *ep, const uint8_t **data)
{
	uint32_t n = ps_tcp_readable(ep), k;

	*data = NULL;
	if (n == 0)
		return 0;
	k = ps_tcp_buf_peek(ep->cfg, &ep->rcvbuf, data);
	return tcp_min32(n, k);
}

static bool
tcp_receiving(const struct ps_tcp_ep *ep)
{
	return ep->state == PS_TCP_ST_ESTABLISHED || ep->state == PS_TCP_ST_FIN_WAIT_1 ||
	       ep->state == PS_TCP_ST_FIN_WAIT_2;
}

/* Mark n bytes read; window update when it opened enough (RFC 9293 3.8.6.2.2). */
int
ps_tcp_consume(struct ps_tcp_ep *ep, uint32_t n, uint64_t now, struct ps_tcp_out *out)
{
	uint32_t avail = ps_tcp_readable(ep), right, step;

	if (n > avail)
		return -EINVAL;
	if (n == 0)
		return 0;
	ps_tcp_buf_consume(ep->cfg, &ep->rcvbuf, n, n == avail && ep->n_ooo == 0);
	ep->rcv_read_seq += n;
	if (!tcp_receiving(ep) || (ep->flags & EPF_RCV_FIN))
		return (int)n;
	right = ep->rcv_read_seq + ep->cfg->rcv_buf;
	step = tcp_min32(ep->cfg->rcv_buf / 2, 2u * ep->rcv_mss);
	if ((ep->flags & EPF_ZWND))
		step = tcp_min32(ep->cfg->rcv_buf / 2, ep->rcv_mss);
	if (SEQ_GT(right, ep->rcv_adv) && right - ep->rcv_adv >= step)
		ps_tcp_send_ack(ep, now, out);
	return (int)n;
}

/* Copy and consume up to cap readable bytes. */
uint32_t
ps_tcp_read(struct ps_tcp_ep *ep, uint8_t *dst, uint32_t cap, uint64_t now,
	    struct ps_tcp_out *out)
{
	uint32_t n = tcp_min32(cap, ps_tcp_readable(ep));

	if (n == 0)
		return 0;
	ps_tcp_buf_read(ep->cfg, &ep->rcvbuf, 0, dst, n);
	ps_tcp_consume(ep, n, now, out);
	return n;
}

/* The peer's FIN is in. */
bool
ps_tcp_peer_closed(const struct ps_tcp_ep *ep)
{
	return (ep->flags & EPF_RCV_FIN) != 0;
}

/* Copy a segment's payload out of the send buffer. */
void
ps_tcp_copy_payload(const struct ps_tcp_ep *ep, const struct ps_tcp_seg *seg, uint8_t *dst)
{
	uint32_t off = seg->tcp.seq - ep->snd_data_seq;

	if (seg->len == 0)
		return;
	if (off > ep->snd_len || seg->len > ep->snd_len - off) {
		memset(dst, 0, seg->len);	/* stale descriptor: never read out of bounds */
		return;
	}
	ps_tcp_buf_read(ep->cfg, &ep->sndbuf, off, dst, seg->len);
}

/* Orderly close, RFC 9293 3.10.4. */
int
ps_tcp_close(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	if (ep->flags & EPF_FIN_QUEUED)
		return -ENOTCONN;
	switch (ep->state) {
	case PS_TCP_ST_SYN_SENT:
		ps_tcp_set_closed(ep, out, 0, true);
		return 0;
	case PS_TCP_ST_SYN_RCVD:
		if (ep->flags & EPF_HELD)
			return ps_tcp_refuse(ep, now, out);
		ep->flags |= EPF_FIN_QUEUED;	/* FIN_WAIT_1 once established */
		return 0;
	case PS_TCP_ST_ESTABLISHED:
		ep->state = PS_TCP_ST_FIN_WAIT_1;
		break;
	case PS_TCP_ST_CLOSE_WAIT:
		ep->state = PS_TCP_ST_LAST_ACK;
		break;
	default:
		return -ENOTCONN;
	}
	ep->flags |= EPF_FIN_QUEUED;
	ps_tcp_output(ep, now, out);
	return 0;
}

/* Abort, RFC 9293 3.10.5. */
void
ps_tcp_abort(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out)
{
	switch (ep->state) {
	case PS_TCP_ST_CLOSED:
		return;
	case PS_TCP_ST_SYN_SENT:
	case PS_TCP_ST_TIME_WAIT:
		ps_tcp_set_closed(ep, out, 0, true);
		return;
	default:
		ps_tcp_fail(ep, now, out, 0);
		return;
	}
}

/* Release both buffers. */
void
ps_tcp_free(struct ps_tcp_ep *ep)
{
	ps_tcp_buf_release(ep->cfg, &ep->sndbuf);
	ps_tcp_buf_release(ep->cfg, &ep->rcvbuf);
}

/* RST for a segment without a connection, RFC 9293 3.10.7.1. */
bool
ps_tcp_rst_reply(const struct ps_pkt *seg, struct ps_tcp_spec *rst)
{
	uint32_t seglen = seg->payload_len;

	if (seg->tcp_flags & PS_TCP_RST)
		return false;
	memset(rst, 0, sizeof(*rst));
	rst->sport = seg->dport;
	rst->dport = seg->sport;
	if (seg->tcp_flags & PS_TCP_ACK) {
		rst->seq = seg->ack;
		rst->flags = PS_TCP_RST;
		return true;
	}
	seglen += ((seg->tcp_flags & PS_TCP_SYN) ? 1 : 0) + ((seg->tcp_flags & PS_TCP_FIN) ? 1 : 0);
	rst->seq = 0;
	rst->ack = seg->seq + seglen;
	rst->flags = PS_TCP_RST | PS_TCP_ACK;
	return true;
}

/* Chunk bytes held by both buffers. */
size_t
ps_tcp_mem(const struct ps_tcp_ep *ep)
{
	return ps_tcp_buf_mem(ep->cfg, &ep->sndbuf) + ps_tcp_buf_mem(ep->cfg, &ep->rcvbuf);
}

static const char *const tcp_state_names[] = {
#define PS_TCP_STATE_STR(name, str) str,
	PS_TCP_STATES(PS_TCP_STATE_STR)
#undef PS_TCP_STATE_STR
};

static const char *const tcp_drop_names[] = {
#define PS_TCP_DROP_STR(name, str) str,
	PS_TCP_DROPS(PS_TCP_DROP_STR)
#undef PS_TCP_DROP_STR
};

static const char *const tcp_counter_names[] = {
#define PS_TCP_CNT_STR(name, str) str,
	PS_TCP_COUNTERS(PS_TCP_CNT_STR)
#undef PS_TCP_CNT_STR
};

/* Printable state name. */
const char *
ps_tcp_state_name(enum ps_tcp_state st)
{
	if ((unsigned int)st >= PS_TCP_ST_MAX)
		return "invalid";
	return tcp_state_names[st];
}

/* Counter name of a drop reason. */
const char *
ps_tcp_drop_name(enum ps_tcp_drop d)
{
	if ((unsigned int)d >= PS_TCP_DROP_MAX)
		return "invalid";
	return tcp_drop_names[d];
}

/* Counter name. */
const char *
ps_tcp_counter_name(enum ps_tcp_counter c)
{
	if ((unsigned int)c >= PS_TCP_CNT_MAX)
		return "invalid";
	return tcp_counter_names[c];
}
