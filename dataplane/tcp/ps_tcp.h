/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight TCP endpoint: one side of a TCP connection terminated by the
 * appliance, as a pure state machine (RFC 9293).
 *
 * The engine reads no clock, opens no socket, includes no DPDK header and
 * keeps no global mutable state. Every call takes the current time `now`
 * (microseconds, any monotonic origin) and appends what the caller must do
 * to a struct ps_tcp_out: segments to transmit (descriptors the caller turns
 * into frames with ps_build_tcp_frame()), bytes newly readable, events.
 * Timers are deadlines: call ps_tcp_timer() when ps_tcp_next_deadline() is
 * reached. Input segments are struct ps_pkt as parsed by ps_pkt_parse(),
 * with their payload passed separately.
 *
 * The endpoint struct is public so the caller can embed it (a flow holds two);
 * its fields are private: use the functions. One endpoint is used by one
 * lcore at a time; distinct endpoints are independent. See docs/tcp.md.
 */
#ifndef PS_TCP_H
#define PS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_build.h"
#include "ps_pkt.h"

/* Endpoint states, RFC 9293 section 3.3.2. X(NAME, printable name). */
#define PS_TCP_STATES(X)					\
	X(CLOSED,	"CLOSED")				\
	X(SYN_SENT,	"SYN_SENT")				\
	X(SYN_RCVD,	"SYN_RCVD")				\
	X(ESTABLISHED,	"ESTABLISHED")				\
	X(FIN_WAIT_1,	"FIN_WAIT_1")				\
	X(FIN_WAIT_2,	"FIN_WAIT_2")				\
	X(CLOSE_WAIT,	"CLOSE_WAIT")				\
	X(CLOSING,	"CLOSING")				\
	X(LAST_ACK,	"LAST_ACK")				\
	X(TIME_WAIT,	"TIME_WAIT")

enum ps_tcp_state {
#define PS_TCP_STATE_ENUM(name, str) PS_TCP_ST_##name,
	PS_TCP_STATES(PS_TCP_STATE_ENUM)
#undef PS_TCP_STATE_ENUM
	PS_TCP_ST_MAX
};

/*
 * Why ps_tcp_input() did not accept a segment (or part of it). X(NAME,
 * counter name); the enum value is PS_TCP_DROP_<NAME>, NONE means accepted.
 */
#define PS_TCP_DROPS(X)							\
	X(NONE,			"none")					\
	X(CLOSED,		"closed")	/* no connection: answer with ps_tcp_rst_reply() */ \
	X(HELD,			"syn_held")	/* SYN_RCVD before ps_tcp_accept() */ \
	X(SYN_SENT_BAD_ACK,	"syn_sent_bad_ack")			\
	X(SYN_SENT_NO_SYN,	"syn_sent_no_syn")			\
	X(SYN_RCVD_BAD_ACK,	"syn_rcvd_bad_ack")			\
	X(PAWS,			"paws")					\
	X(OUT_OF_WINDOW,	"out_of_window")			\
	X(RST_OUT_OF_WINDOW,	"rst_out_of_window")			\
	X(RST_CHALLENGED,	"rst_challenged")			\
	X(SYN_CHALLENGED,	"syn_challenged")			\
	X(NO_ACK,		"no_ack")				\
	X(ACK_UNSENT,		"ack_unsent")				\
	X(ACK_TOO_OLD,		"ack_too_old")				\
	X(OOO_FULL,		"ooo_full")				\
	X(NO_MEM,		"no_mem")				\
	X(AFTER_FIN,		"data_after_fin")

enum ps_tcp_drop {
#define PS_TCP_DROP_ENUM(name, str) PS_TCP_DROP_##name,
	PS_TCP_DROPS(PS_TCP_DROP_ENUM)
#undef PS_TCP_DROP_ENUM
	PS_TCP_DROP_MAX
};

/* Event counters. X(NAME, counter name): PS_TCP_CNT_<NAME>. */
#define PS_TCP_COUNTERS(X)						\
	X(SEGS_IN,		"segs_in")				\
	X(SEGS_OUT,		"segs_out")				\
	X(RETRANSMITS,		"retransmits")	/* segments sent again */ \
	X(FAST_RETRANSMITS,	"fast_retransmits")			\
	X(SACK_RETRANSMITS,	"sack_retransmits")			\
	X(RTO_TIMEOUTS,		"rto_timeouts")				\
	X(OOO_SEGS,		"ooo_segs")				\
	X(DUP_SEGS,		"dup_segs")				\
	X(DUP_ACKS,		"dup_acks")				\
	X(ZERO_WND_SENT,	"zero_wnd_sent")			\
	X(ZERO_WND_RCVD,	"zero_wnd_rcvd")			\
	X(PERSIST_PROBES,	"persist_probes")			\
	X(CHALLENGE_ACKS,	"challenge_acks")			\
	X(CHALLENGE_ACKS_LIMITED, "challenge_acks_limited")		\
	X(OOW_ACKS_LIMITED,	"invalid_acks_unanswered") /* ACK loop guard */ \
	X(KEEPALIVE_PROBES,	"keepalive_probes")			\
	X(RESETS_SENT,		"resets_sent")				\
	X(RESETS_RCVD,		"resets_rcvd")				\
	X(TIMEOUTS,		"timeouts")	/* retry limit or idle */ \
	X(CONNECTED,		"connected")				\
	X(CLOSED,		"closed")

enum ps_tcp_counter {
#define PS_TCP_CNT_ENUM(name, str) PS_TCP_CNT_##name,
	PS_TCP_COUNTERS(PS_TCP_CNT_ENUM)
#undef PS_TCP_CNT_ENUM
	PS_TCP_CNT_MAX
};

/* Counters, usually one per lcore shared by all its endpoints. */
struct ps_tcp_stats {
	uint64_t cnt[PS_TCP_CNT_MAX];
	uint64_t drop[PS_TCP_DROP_MAX];
};

/* Events reported in ps_tcp_out.events. */
#define PS_TCP_EV_CONNECTED	0x01u	/* reached ESTABLISHED */
#define PS_TCP_EV_READABLE	0x02u	/* new in-order bytes: ps_tcp_read() */
#define PS_TCP_EV_PEER_FIN	0x04u	/* peer's FIN in order: no more bytes after the readable ones */
#define PS_TCP_EV_RESET		0x08u	/* peer's RST accepted (in SYN_SENT: refused) */
#define PS_TCP_EV_TIMED_OUT	0x10u	/* retry limit, keep-alive or idle timeout: RST sent */
#define PS_TCP_EV_CLOSED	0x20u	/* now CLOSED: ps_tcp_free() may be called */
#define PS_TCP_EV_WRITABLE	0x40u	/* send space freed after a ps_tcp_write() that
					 * accepted less than asked */
#define PS_TCP_EV_FIN_ACKED	0x80u	/* our FIN was acknowledged */

/* ps_tcp_init() flags */
#define PS_TCP_F_IPV6		0x01u	/* IPv6 MSS cap and default */

struct ps_tcp_cfg {
	uint16_t mss;			/* our MSS over IPv4: advertised and cap on what we send (1460) */
	uint16_t mss6;			/* the same over IPv6 (1440) */
	uint16_t default_mss;		/* peer sent no MSS option, IPv4 (536, RFC 9293 3.7.1) */
	uint16_t default_mss6;		/* IPv6 (1220, RFC 8200 section 8.3) */
	bool wscale_ok;			/* offer window scaling (RFC 7323 section 2) */
	bool sack_ok;			/* offer SACK (RFC 2018) */
	bool ts_ok;			/* offer timestamps (RFC 7323 section 3) */
	uint8_t wscale;			/* our shift when scaling is on, 0..14 (7) */
	uint32_t snd_buf;		/* send buffer cap, bytes (256 KiB) */
	uint32_t rcv_buf;		/* receive buffer cap = largest window, bytes (256 KiB) */
	uint32_t chunk_size;		/* buffer allocation unit, bytes (4096) */
	uint32_t init_cwnd_segs;	/* initial window in segments (10, RFC 6928) */
	uint32_t rto_init_us;		/* RFC 6298 2.1 (1 s) */
	uint32_t rto_min_us;		/* (200 ms) */
	uint32_t rto_max_us;		/* (60 s) */
	uint8_t syn_retries;		/* SYN or SYN-ACK retransmissions before giving up (5) */
	uint8_t data_retries;		/* consecutive RTOs before giving up (8) */
	uint8_t keepalive_probes;	/* unanswered probes before giving up (5) */
	uint32_t delack_us;		/* delayed ACK timer, <= 500 ms (40 ms) */
	uint32_t keepalive_idle_us;	/* idle time before the first probe, 0 = off (0) */
	uint32_t keepalive_intvl_us;	/* between probes (10 s) */
	uint64_t idle_timeout_us;	/* abort after this long without a received segment, 0 = off (0) */
	uint32_t time_wait_us;		/* TIME_WAIT duration (2 s: short, the appliance owns no port) */
	uint32_t challenge_acks_per_s;	/* RFC 5961 section 7 limit, per endpoint (10) */
	uint32_t oow_ack_interval_us;	/* least time between two ACKs that answer a bare ACK
					 * failing PAWS or the window check (500 ms) */
	/* Buffer chunk allocator; NULL alloc means malloc/free. */
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	void *alloc_ctx;
};

/*
 * One segment to transmit. tcp holds everything but the ports (left 0 for
 * the caller): seq, ack, flags, window (already scaled for the wire) and
 * options. len payload bytes follow; copy them with ps_tcp_copy_payload().
 */
struct ps_tcp_seg {
	struct ps_tcp_spec tcp;
	uint32_t len;
};

#define PS_TCP_OUT_SEGS	16

/*
 * What the caller must do after a call. Every function taking an out
 * appends to it: clear it with ps_tcp_out_reset() before a batch of calls
 * on one endpoint (an out belongs to one endpoint: when a call resets or
 * aborts the connection, the segments it holds other than RSTs are removed).
 * When segs[] fills up, more is set: send what is there, reset, and call
 * ps_tcp_output() for the rest.
 */
struct ps_tcp_out {
	uint32_t events;		/* PS_TCP_EV_* */
	uint32_t readable;		/* bytes that became readable */
	uint16_t n_segs;
	bool more;
	struct ps_tcp_seg segs[PS_TCP_OUT_SEGS];
};

/* Private: a chain of chunks holding a byte range (see tcp_buf.c). */
struct ps_tcp_chunk;
struct ps_tcp_buf {
	struct ps_tcp_chunk *head;
	struct ps_tcp_chunk *tail;
	uint32_t head_off;		/* first byte in use in head */
	uint32_t span;			/* bytes the chunks cover from head_off */
};

struct ps_tcp_range {
	uint32_t start, end;		/* sequence numbers, end exclusive */
};

#define PS_TCP_OOO_MAX	4	/* receive: out-of-order islands kept */
#define PS_TCP_SB_MAX	4	/* send: SACKed ranges remembered */

/* A TCP endpoint. Fields are private. */
struct ps_tcp_ep {
	const struct ps_tcp_cfg *cfg;
	struct ps_tcp_stats *stats;
	void *user;			/* the caller's, never touched */

	uint8_t state;			/* enum ps_tcp_state */
	uint8_t snd_wscale;		/* shift applied to the peer's window */
	uint8_t rcv_wscale;		/* shift applied to ours */
	uint8_t rtx_count;		/* consecutive timeouts (backoff exponent) */
	uint8_t ka_sent;
	uint8_t dupacks;
	uint8_t n_ooo;
	uint8_t n_sb;
	uint32_t flags;			/* EPF_* in tcp_priv.h */
	uint16_t snd_mss;		/* peer's MSS clamped by ours */
	uint16_t rcv_mss;		/* ours, as advertised */
	uint16_t rcv_seg_max;		/* largest payload received */
	uint16_t chal_count;

	/* Send sequence space, RFC 9293 section 3.3.1. */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_sndwnd;
	uint32_t snd_data_seq;		/* sequence number of sndbuf's first byte */
	uint32_t snd_len;		/* bytes in sndbuf (unacked + unsent) */
	uint32_t cwnd, ssthresh, recover, rtx_hi;
	uint32_t srtt, rttvar, rto;	/* microseconds, RFC 6298 */
	uint32_t rtt_seq;

	/* Receive sequence space. */
	uint32_t irs, rcv_nxt, rcv_adv;
	uint32_t rcv_read_seq;		/* sequence number of rcvbuf's first byte */
	uint32_t rcv_fin_seq;
	uint32_t rcv_unacked;		/* bytes received since our last ACK */
	uint32_t ts_recent, last_ack_sent, ts_off;

	uint64_t rtt_start;
	uint64_t rtx_at;		/* RTO, SYN, persist or TIME_WAIT deadline; 0 = off */
	uint64_t delack_at;
	uint64_t ka_at;			/* next keep-alive probe */
	uint64_t last_rcv;		/* time of the last accepted segment */
	uint64_t chal_at;		/* start of the challenge ACK second */
	uint64_t oow_ack_at;		/* last ACK answering an invalid bare ACK */

	struct ps_tcp_range ooo[PS_TCP_OOO_MAX];	/* most recent first */
	struct ps_tcp_range sb[PS_TCP_SB_MAX];		/* sorted by start */
	struct ps_tcp_buf sndbuf;
	struct ps_tcp_buf rcvbuf;
};

/* Fill *cfg with the defaults documented above. */
void
ps_tcp_cfg_defaults(struct ps_tcp_cfg *cfg);

/* 0 when *cfg is usable, -EINVAL otherwise (buffer caps vs window scale, MSS, RTO order). */
int
ps_tcp_cfg_check(const struct ps_tcp_cfg *cfg);

/*
 * Make *ep a CLOSED endpoint. Borrows cfg (must outlive ep, passed
 * ps_tcp_cfg_check()) and stats (may be NULL: no counting; may be shared by
 * the endpoints of one lcore). flags: PS_TCP_F_*. Allocates nothing.
 */
void
ps_tcp_init(struct ps_tcp_ep *ep, const struct ps_tcp_cfg *cfg, struct ps_tcp_stats *stats,
	    unsigned int flags);

/* Clear an output before a batch of calls. */
void
ps_tcp_out_reset(struct ps_tcp_out *out);

/*
 * Active open from CLOSED with initial sequence number iss (the caller's
 * choice, RFC 9293 3.4.1 / RFC 6528): emits the SYN, state SYN_SENT.
 * Returns 0, -EISCONN when ep is not CLOSED.
 */
int
ps_tcp_connect(struct ps_tcp_ep *ep, uint32_t iss, uint64_t now, struct ps_tcp_out *out);

/*
 * Passive open, first half: record the peer's SYN (syn: a parsed segment
 * with SYN and without ACK/RST/FIN; its payload is ignored) and our iss,
 * without answering. State SYN_RCVD, held: retransmitted SYNs are absorbed
 * until ps_tcp_accept() or ps_tcp_refuse(). Returns 0, -EISCONN when not
 * CLOSED, -EINVAL when syn is not a bare SYN.
 */
int
ps_tcp_passive_syn(struct ps_tcp_ep *ep, const struct ps_pkt *syn, uint32_t iss, uint64_t now);

/* Passive open, second half: emit the SYN-ACK. Returns 0, -EINVAL when not held. */
int
ps_tcp_accept(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/* Refuse a held SYN: emit RST+ACK (RFC 9293 3.10.7.1), state CLOSED. Returns 0 or -EINVAL. */
int
ps_tcp_refuse(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/*
 * Whether syn (a bare SYN for ep's 4-tuple) starts a new connection rather
 * than belonging to the one ep has: ep is CLOSED or in TIME_WAIT (RFC 6191),
 * or holds an unanswered SYN with another initial sequence number (the peer
 * gave that attempt up; nothing of it was acknowledged). A SYN in any other
 * state is the peer's business with ep: ps_tcp_input() challenges it.
 */
bool
ps_tcp_syn_is_new(const struct ps_tcp_ep *ep, const struct ps_pkt *syn);

/*
 * Process one received segment. Borrows seg and payload (seg->payload_len
 * bytes, may be NULL when 0; the other ps_pkt offsets are not used). Returns
 * NONE when the segment was used, else why it was dropped (counted).
 */
enum ps_tcp_drop
ps_tcp_input(struct ps_tcp_ep *ep, const struct ps_pkt *seg, const uint8_t *payload,
	     uint64_t now, struct ps_tcp_out *out);

/* Run the timers due at now; harmless when none is. */
void
ps_tcp_timer(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/* Earliest time ps_tcp_timer() has work, UINT64_MAX when none. */
uint64_t
ps_tcp_next_deadline(const struct ps_tcp_ep *ep);

/* Send what the windows allow (after out->more). */
void
ps_tcp_output(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/*
 * Queue up to len bytes (copied) for sending and send what the windows
 * allow. Data written before the connection is established waits for it.
 * Returns the bytes accepted (0 when the send buffer is full: wait for
 * PS_TCP_EV_WRITABLE), -EPIPE after close/in CLOSED, TIME_WAIT, -ENOMEM.
 */
int
ps_tcp_write(struct ps_tcp_ep *ep, const uint8_t *data, uint32_t len, uint64_t now,
	     struct ps_tcp_out *out);

/* Free send space, bytes. */
uint32_t
ps_tcp_writable(const struct ps_tcp_ep *ep);

/* In-order bytes not read yet. */
uint32_t
ps_tcp_readable(const struct ps_tcp_ep *ep);

/*
 * Zero-copy read: *data points at the first contiguous run of readable
 * bytes (valid until the next call that changes ep); returns its length.
 */
uint32_t
ps_tcp_peek(const struct ps_tcp_ep *ep, const uint8_t **data);

/*
 * Mark n readable bytes consumed (n <= ps_tcp_readable()); may emit a window
 * update (RFC 9293 3.8.6.2.2). Returns n, or -EINVAL.
 */
int
ps_tcp_consume(struct ps_tcp_ep *ep, uint32_t n, uint64_t now, struct ps_tcp_out *out);

/* Copy up to cap readable bytes into dst and consume them. Returns the count. */
uint32_t
ps_tcp_read(struct ps_tcp_ep *ep, uint8_t *dst, uint32_t cap, uint64_t now,
	    struct ps_tcp_out *out);

/* True once the peer's FIN is in: after the readable bytes, end of stream. */
bool
ps_tcp_peer_closed(const struct ps_tcp_ep *ep);

/*
 * Copy the payload of seg (from an out of this ep) into dst (seg->len
 * bytes). Valid until the next call other than this one and the read-only
 * queries on this ep.
 */
void
ps_tcp_copy_payload(const struct ps_tcp_ep *ep, const struct ps_tcp_seg *seg, uint8_t *dst);

/*
 * Orderly close (RFC 9293 3.10.4): FIN after the queued bytes. In SYN_SENT
 * the open is simply abandoned; a held SYN is refused. Returns 0, -ENOTCONN
 * when already closing or CLOSED.
 */
int
ps_tcp_close(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/* Abort (RFC 9293 3.10.5): RST when synchronized, drop buffers, CLOSED. */
void
ps_tcp_abort(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/* Release the buffers (any state). The struct itself is the caller's. */
void
ps_tcp_free(struct ps_tcp_ep *ep);

/*
 * The RST answering a segment that has no connection (RFC 9293 3.10.7.1),
 * in *rst (ports swapped from seg). Returns false when seg is itself a RST.
 */
bool
ps_tcp_rst_reply(const struct ps_pkt *seg, struct ps_tcp_spec *rst);

/* Bytes currently held by the endpoint's buffers (chunk payload). */
size_t
ps_tcp_mem(const struct ps_tcp_ep *ep);

static inline enum ps_tcp_state
ps_tcp_state(const struct ps_tcp_ep *ep)
{
	return (enum ps_tcp_state)ep->state;
}

/* Static printable names; "invalid" when out of range. */
const char *
ps_tcp_state_name(enum ps_tcp_state st);
const char *
ps_tcp_drop_name(enum ps_tcp_drop d);
const char *
ps_tcp_counter_name(enum ps_tcp_counter c);

#endif /* PS_TCP_H */
