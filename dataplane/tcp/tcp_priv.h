/* SPDX-License-Identifier: BSD-3-Clause
 * TCP endpoint internals shared by the tcp_*.c files and their tests.
 */
#ifndef PS_TCP_PRIV_H
#define PS_TCP_PRIV_H

#include "ps_tcp.h"

/* Sequence space arithmetic, RFC 9293 section 3.4 (modulo 2^32). */
#define SEQ_LT(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b)	((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)

/* ps_tcp_ep.flags */
#define EPF_WSCALE	0x0001u	/* window scaling negotiated */
#define EPF_SACK	0x0002u	/* SACK negotiated */
#define EPF_TS		0x0004u	/* timestamps negotiated */
#define EPF_HELD	0x0008u	/* SYN_RCVD, SYN-ACK not sent yet */
#define EPF_FIN_QUEUED	0x0010u	/* close() called: FIN after the send buffer */
#define EPF_RCV_FIN	0x0020u	/* peer's FIN received in order */
#define EPF_FIN_PENDING	0x0040u	/* peer's FIN received out of order at rcv_fin_seq */
#define EPF_ACK_NOW	0x0080u	/* an ACK must go out */
#define EPF_PERSIST	0x0100u	/* rtx_at is the persist timer */
#define EPF_RTT		0x0200u	/* timing the segment at rtt_seq */
#define EPF_RECOVERY	0x0400u	/* NewReno fast recovery, RFC 6582 */
#define EPF_WANT_WRITE	0x0800u	/* a write was short: report WRITABLE */
#define EPF_IPV6	0x1000u
#define EPF_ZWND	0x2000u	/* our last advertised window was 0 */
#define EPF_PEER_ZWND	0x4000u	/* the peer's last window was 0 */
#define EPF_SYN_RTX	0x8000u	/* the SYN was retransmitted (Karn) */
#define EPF_SACK_PERM_RX 0x10000u /* peer's SYN offered SACK */
#define EPF_WS_RX	0x20000u	/* peer's SYN offered window scaling */
#define EPF_TS_RX	0x40000u	/* peer's SYN offered timestamps */
#define EPF_ACTIVE	0x80000u	/* we sent the first SYN */

#define TCP_MAX_WIN_SHIFT	14	/* RFC 7323 section 2.3 */
#define TCP_TS_OPT_LEN		12	/* NOP NOP TS */

static inline uint32_t
tcp_min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static inline uint32_t
tcp_max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static inline void
tcp_count(struct ps_tcp_ep *ep, enum ps_tcp_counter c)
{
	if (ep->stats != NULL)
		ep->stats->cnt[c]++;
}

static inline enum ps_tcp_drop
tcp_drop(struct ps_tcp_ep *ep, enum ps_tcp_drop d)
{
	if (ep->stats != NULL)
		ep->stats->drop[d]++;
	return d;
}

/* Sequence number one past the last byte written by the application. */
static inline uint32_t
tcp_data_end(const struct ps_tcp_ep *ep)
{
	return ep->snd_data_seq + ep->snd_len;
}

/* True once our FIN has been sent (it then sits at tcp_data_end()). */
static inline bool
tcp_fin_sent(const struct ps_tcp_ep *ep)
{
	return (ep->flags & EPF_FIN_QUEUED) && SEQ_GT(ep->snd_max, tcp_data_end(ep));
}

/* The current RTO with backoff applied, RFC 6298 section 5.5. */
uint32_t
ps_tcp_rto_cur(const struct ps_tcp_ep *ep);

/* tcp_buf.c: chunk chains. off is relative to the first byte in use. */
int
ps_tcp_buf_write(const struct ps_tcp_cfg *cfg, struct ps_tcp_buf *b, uint32_t off,
		 const uint8_t *src, uint32_t n);
void
ps_tcp_buf_read(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b, uint32_t off,
		uint8_t *dst, uint32_t n);
uint32_t
ps_tcp_buf_peek(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b, const uint8_t **p);
void
ps_tcp_buf_consume(const struct ps_tcp_cfg *cfg, struct ps_tcp_buf *b, uint32_t n,
		   bool now_empty);
void
ps_tcp_buf_release(const struct ps_tcp_cfg *cfg, struct ps_tcp_buf *b);
size_t
ps_tcp_buf_mem(const struct ps_tcp_cfg *cfg, const struct ps_tcp_buf *b);

/* tcp_output.c */
struct ps_tcp_seg *
ps_tcp_out_slot(struct ps_tcp_out *out);
void
ps_tcp_send_syn(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);
void
ps_tcp_send_ack(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);
void
ps_tcp_send_oow_ack(struct ps_tcp_ep *ep, uint32_t seglen, uint64_t now,
		    struct ps_tcp_out *out);
void
ps_tcp_send_challenge_ack(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);
void
ps_tcp_send_rst(struct ps_tcp_ep *ep, uint32_t seq, bool with_ack, uint32_t ack,
		struct ps_tcp_out *out);
uint32_t
ps_tcp_send_at(struct ps_tcp_ep *ep, uint32_t seq, uint32_t max_len, uint64_t now,
	       struct ps_tcp_out *out);
void
ps_tcp_send_probe(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out);

/* tcp_timer.c */
void
ps_tcp_rtt_sample(struct ps_tcp_ep *ep, uint64_t rtt);
void
ps_tcp_arm_rtx(struct ps_tcp_ep *ep, uint64_t now);
void
ps_tcp_enter_time_wait(struct ps_tcp_ep *ep, uint64_t now);
void
ps_tcp_set_closed(struct ps_tcp_ep *ep, struct ps_tcp_out *out, uint32_t events,
		  bool drop_buffers);
void
ps_tcp_fail(struct ps_tcp_ep *ep, uint64_t now, struct ps_tcp_out *out, uint32_t events);

/* tcp_sack.c */
void
ps_tcp_sack_update(struct ps_tcp_ep *ep, const struct ps_pkt *seg);
void
ps_tcp_sack_prune(struct ps_tcp_ep *ep);
bool
ps_tcp_sacked(const struct ps_tcp_ep *ep, uint32_t seq, uint32_t *end);
bool
ps_tcp_sack_next_start(const struct ps_tcp_ep *ep, uint32_t seq, uint32_t *start);
bool
ps_tcp_sack_next_hole(const struct ps_tcp_ep *ep, uint32_t from, uint32_t *hole);
int
ps_tcp_ooo_insert(struct ps_tcp_ep *ep, uint32_t start, uint32_t end);
uint32_t
ps_tcp_ooo_merge(struct ps_tcp_ep *ep);
void
ps_tcp_sack_blocks(const struct ps_tcp_ep *ep, struct ps_tcp_spec *tcp, unsigned int max);

/* tcp_input.c */
void
ps_tcp_syn_options(struct ps_tcp_ep *ep, const struct ps_pkt *syn);

#endif /* PS_TCP_PRIV_H */
