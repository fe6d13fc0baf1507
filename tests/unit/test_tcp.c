/* SPDX-License-Identifier: BSD-3-Clause
 * TCP endpoint tests with crafted segments, one endpoint at a time: each
 * RFC 9293 transition, the RFC 5961 defences, retransmission timing and
 * backoff, reassembly and SACK generation, windows, timers, memory.
 * The peer is this file: its ISN is PEER_ISN, ours ISS.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_tcp.h"

#define MS		1000ull
#define SEC		1000000ull
#define PEER_ISN	5000u
#define ISS		1000u
#define T0		(10 * SEC)

static struct ps_tcp_cfg cfg;
static struct ps_tcp_stats st;
static struct ps_tcp_out out;
static uint8_t buf[1 << 20];

static struct ps_pkt
seg(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win)
{
	struct ps_pkt p;

	memset(&p, 0, sizeof(p));
	p.has_l4 = true;
	p.seq = seq;
	p.ack = ack;
	p.tcp_flags = flags;
	p.window = win;
	return p;
}

static enum ps_tcp_drop
in(struct ps_tcp_ep *ep, struct ps_pkt p, const void *data, uint32_t len, uint64_t now)
{
	ps_tcp_out_reset(&out);
	p.payload_len = len;
	return ps_tcp_input(ep, &p, data, now, &out);
}

static void
timer(struct ps_tcp_ep *ep, uint64_t now)
{
	ps_tcp_out_reset(&out);
	ps_tcp_timer(ep, now, &out);
}

static int
setup(void **state)
{
	(void)state;
	ps_tcp_cfg_defaults(&cfg);
	cfg.ts_ok = false;	/* most tests read plain segments; PAWS tests turn it on */
	memset(&st, 0, sizeof(st));
	return 0;
}

static struct ps_pkt
peer_syn(void)
{
	struct ps_pkt syn = seg(PEER_ISN, 0, PS_TCP_SYN, 65535);

	syn.has_mss = true;
	syn.mss = 1000;
	syn.has_wscale = true;
	syn.wscale = 2;
	syn.sack_ok = true;
	return syn;
}

/* Passive open accepted; peer window 4000 << 2 = 16000. */
static void
est_passive(struct ps_tcp_ep *ep)
{
	struct ps_pkt syn = peer_syn();

	ps_tcp_init(ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(ep, &syn, ISS, T0), 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_accept(ep, T0, &out), 0);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(in(ep, seg(PEER_ISN + 1, ISS + 1, PS_TCP_ACK, 4000), NULL, 0, T0 + 10 * MS),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_state(ep), PS_TCP_ST_ESTABLISHED);
	assert_true(out.events & PS_TCP_EV_CONNECTED);
	assert_int_equal(out.n_segs, 0);
}

static void
test_sizeof(void **state)
{
	(void)state;
	print_message("  sizeof(struct ps_tcp_ep) = %zu, sizeof(struct ps_tcp_out) = %zu\n",
		      sizeof(struct ps_tcp_ep), sizeof(struct ps_tcp_out));
	assert_true(sizeof(struct ps_tcp_ep) <= 512);
}

static void
test_cfg_check(void **state)
{
	struct ps_tcp_cfg c;

	(void)state;
	ps_tcp_cfg_defaults(&c);
	assert_int_equal(ps_tcp_cfg_check(&c), 0);
	c.wscale = 15;
	assert_int_equal(ps_tcp_cfg_check(&c), -EINVAL);
	ps_tcp_cfg_defaults(&c);
	c.wscale = 1;			/* 256 KiB not advertisable with shift 1 */
	assert_int_equal(ps_tcp_cfg_check(&c), -EINVAL);
	ps_tcp_cfg_defaults(&c);
	c.rto_min_us = 2 * c.rto_init_us;
	assert_int_equal(ps_tcp_cfg_check(&c), -EINVAL);
	ps_tcp_cfg_defaults(&c);
	c.delack_us = 600000;		/* RFC 9293 3.8.6.3: under 0.5 s */
	assert_int_equal(ps_tcp_cfg_check(&c), -EINVAL);
}

static void
test_passive_held_accept(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt syn = peer_syn(), bad = seg(1, 2, PS_TCP_SYN | PS_TCP_ACK, 100);
	const struct ps_tcp_spec *t;

	(void)state;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &bad, ISS, T0), -EINVAL);
	assert_int_equal(ps_tcp_accept(&ep, T0, &out), -EINVAL);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), -EISCONN);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_SYN_RCVD);
	/* held: the repeated SYN and anything else get no answer */
	assert_int_equal(in(&ep, syn, NULL, 0, T0 + SEC), PS_TCP_DROP_HELD);
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, ISS + 1, PS_TCP_ACK, 10), NULL, 0, T0 + SEC),
			 PS_TCP_DROP_HELD);
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(ps_tcp_next_deadline(&ep), UINT64_MAX);
	timer(&ep, T0 + 100 * SEC);
	assert_int_equal(out.n_segs, 0);
	/* accept: SYN-ACK with the options the peer offered */
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_accept(&ep, T0 + 2 * SEC, &out), 0);
	assert_int_equal(out.n_segs, 1);
	t = &out.segs[0].tcp;
	assert_int_equal(t->flags, PS_TCP_SYN | PS_TCP_ACK);
	assert_int_equal(t->seq, ISS);
	assert_int_equal(t->ack, PEER_ISN + 1);
	assert_true(t->has_mss && t->mss == 1460);
	assert_true(t->has_wscale && t->wscale == 7);
	assert_true(t->sack_ok);
	assert_false(t->has_ts);
	assert_int_equal(t->window, 65535);	/* unscaled in a SYN */
	assert_int_equal(ep.snd_mss, 1000);	/* peer's MSS, under our cap */
	assert_int_equal(ps_tcp_next_deadline(&ep), T0 + 2 * SEC + SEC);
	/* the peer's repeated SYN now means our SYN-ACK was lost: send it again */
	assert_int_equal(in(&ep, syn, NULL, 0, T0 + 2 * SEC + 100 * MS), PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_SYN | PS_TCP_ACK);
	/* a bad ACK in SYN_RCVD gets a RST (RFC 9293 3.10.7.4) */
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, ISS + 7, PS_TCP_ACK, 10), NULL, 0, T0 + 3 * SEC),
			 PS_TCP_DROP_SYN_RCVD_BAD_ACK);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(out.segs[0].tcp.seq, ISS + 7);
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, ISS + 1, PS_TCP_ACK, 10), NULL, 0, T0 + 3 * SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ep.snd_wnd, 40);	/* scaled by the peer's shift 2 */
	ps_tcp_free(&ep);
}

static void
test_refuse_and_held_rst(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt syn = peer_syn();

	(void)state;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_refuse(&ep, T0, &out), 0);
	assert_int_equal(out.n_segs, 1);
	/* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST | PS_TCP_ACK);
	assert_int_equal(out.segs[0].tcp.seq, 0);
	assert_int_equal(out.segs[0].tcp.ack, PEER_ISN + 1);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_true(out.events & PS_TCP_EV_CLOSED);
	assert_int_equal(ps_tcp_refuse(&ep, T0, &out), -EINVAL);

	/* the client gives up while held: its RST closes us */
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_int_equal(in(&ep, seg(PEER_ISN + 9, 0, PS_TCP_RST, 0), NULL, 0, T0),
			 PS_TCP_DROP_HELD);
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, 0, PS_TCP_RST, 0), NULL, 0, T0),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_true(out.events & PS_TCP_EV_RESET);
	assert_int_equal(out.n_segs, 0);
}

static void
test_connect_syn_retries(void **state)
{
	struct ps_tcp_ep ep;
	const struct ps_tcp_spec *t;
	uint64_t now = T0, expect = SEC;
	int i;

	(void)state;
	cfg.ts_ok = true;
	ps_tcp_init(&ep, &cfg, &st, 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_connect(&ep, ISS, now, &out), 0);
	assert_int_equal(ps_tcp_connect(&ep, ISS, now, &out), -EISCONN);
	assert_int_equal(out.n_segs, 1);
	t = &out.segs[0].tcp;
	assert_int_equal(t->flags, PS_TCP_SYN);
	assert_int_equal(t->seq, ISS);
	assert_true(t->has_mss && t->has_wscale && t->sack_ok && t->has_ts);
	assert_int_equal(t->ts_ecr, 0);
	/* RFC 6298: 1 s, then doubling; syn_retries = 5 retransmissions */
	for (i = 0; i < 5; i++) {
		now += expect;
		assert_int_equal(ps_tcp_next_deadline(&ep), now);
		timer(&ep, now - 1);
		assert_int_equal(out.n_segs, 0);
		timer(&ep, now);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].tcp.flags, PS_TCP_SYN);
		assert_int_equal(out.segs[0].tcp.seq, ISS);
		expect *= 2;
	}
	now += expect;
	assert_int_equal(ps_tcp_next_deadline(&ep), now);
	timer(&ep, now);
	assert_true(out.events & PS_TCP_EV_TIMED_OUT);
	assert_true(out.events & PS_TCP_EV_CLOSED);
	/* Nothing to reset: the peer never answered (RFC 9293 3.10.5). */
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_int_equal(st.cnt[PS_TCP_CNT_TIMEOUTS], 1);
}

static void
test_connect_refused_and_bad_acks(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt sa;

	(void)state;
	ps_tcp_init(&ep, &cfg, &st, 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_connect(&ep, ISS, T0, &out), 0);
	/* SYN-ACK acking something else: RST <SEQ=SEG.ACK>, stay */
	assert_int_equal(in(&ep, seg(PEER_ISN, ISS + 5, PS_TCP_SYN | PS_TCP_ACK, 100), NULL, 0, T0),
			 PS_TCP_DROP_SYN_SENT_BAD_ACK);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(out.segs[0].tcp.seq, ISS + 5);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_SYN_SENT);
	/* RST without an acceptable ACK: ignored */
	assert_int_equal(in(&ep, seg(0, 0, PS_TCP_RST, 0), NULL, 0, T0),
			 PS_TCP_DROP_SYN_SENT_NO_SYN);
	assert_int_equal(in(&ep, seg(0, ISS + 2, PS_TCP_RST | PS_TCP_ACK, 0), NULL, 0, T0),
			 PS_TCP_DROP_SYN_SENT_BAD_ACK);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_SYN_SENT);
	/* a plain ACK-less segment */
	assert_int_equal(in(&ep, seg(0, 0, 0, 0), NULL, 0, T0), PS_TCP_DROP_SYN_SENT_NO_SYN);
	/* connection refused: RST+ACK of our SYN */
	assert_int_equal(in(&ep, seg(0, ISS + 1, PS_TCP_RST | PS_TCP_ACK, 0), NULL, 0, T0),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_true(out.events & PS_TCP_EV_RESET);
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(in(&ep, seg(0, 0, PS_TCP_ACK, 0), NULL, 0, T0), PS_TCP_DROP_CLOSED);

	/* write before the connection exists: sent once established */
	ps_tcp_init(&ep, &cfg, &st, 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_connect(&ep, ISS, T0, &out), 0);
	assert_int_equal(ps_tcp_write(&ep, (const uint8_t *)"early", 5, T0, &out), 5);
	assert_int_equal(out.n_segs, 1);	/* just the SYN */
	sa = seg(PEER_ISN, ISS + 1, PS_TCP_SYN | PS_TCP_ACK, 8000);
	sa.has_mss = true;
	sa.mss = 1200;
	assert_int_equal(in(&ep, sa, NULL, 0, T0 + 20 * MS), PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].len, 5);
	assert_int_equal(out.segs[0].tcp.ack, PEER_ISN + 1);
	assert_int_equal(out.segs[0].tcp.seq, ISS + 1);
	ps_tcp_copy_payload(&ep, &out.segs[0], buf);
	assert_memory_equal(buf, "early", 5);
	assert_int_equal(ep.snd_wscale, 0);	/* no wscale in the SYN-ACK */
	assert_int_equal(ep.snd_mss, 1200);
	assert_int_equal(ep.srtt, 20 * MS);	/* RTT of the SYN */
	ps_tcp_free(&ep);
}

static void
test_synack_retries(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt syn = peer_syn();
	uint64_t now = T0;
	int i;

	(void)state;
	cfg.syn_retries = 2;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, now), 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_accept(&ep, now, &out), 0);
	for (i = 0; i < 2; i++) {
		now = ps_tcp_next_deadline(&ep);
		timer(&ep, now);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].tcp.flags, PS_TCP_SYN | PS_TCP_ACK);
	}
	assert_int_equal(now, T0 + 3 * SEC);
	now = ps_tcp_next_deadline(&ep);
	assert_int_equal(now, T0 + 7 * SEC);
	timer(&ep, now);
	assert_true(out.events & PS_TCP_EV_TIMED_OUT);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(out.segs[0].tcp.seq, ISS + 1);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
}

static void
test_mss_defaults(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt syn = peer_syn();

	(void)state;
	syn.has_mss = false;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_int_equal(ep.snd_mss, 536);		/* RFC 9293 3.7.1 */
	ps_tcp_init(&ep, &cfg, &st, PS_TCP_F_IPV6);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_int_equal(ep.snd_mss, 1220);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_accept(&ep, T0, &out), 0);
	assert_int_equal(out.segs[0].tcp.mss, 1440);	/* our IPv6 MSS */
	syn.has_mss = true;
	syn.mss = 9000;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_int_equal(ep.snd_mss, 1460);		/* clamped by our cap */
	syn.wscale = 20;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_int_equal(ep.snd_wscale, 14);		/* RFC 7323 2.3 */
}

static void
test_data_segments_and_mss(void **state)
{
	struct ps_tcp_ep ep;
	unsigned int i;

	(void)state;
	est_passive(&ep);
	for (i = 0; i < 5000; i++)
		buf[i] = (uint8_t)i;
	ps_tcp_out_reset(&out);
	/* peer window 16000, IW 10 * 1000: 5000 bytes go out as 5 x 1000 */
	assert_int_equal(ps_tcp_write(&ep, buf, 5000, T0 + SEC, &out), 5000);
	assert_int_equal(out.n_segs, 5);
	for (i = 0; i < 5; i++) {
		uint8_t b[1000];

		assert_int_equal(out.segs[i].len, 1000);
		assert_int_equal(out.segs[i].tcp.seq, ISS + 1 + 1000 * i);
		assert_int_equal(out.segs[i].tcp.ack, PEER_ISN + 1);
		ps_tcp_copy_payload(&ep, &out.segs[i], b);
		assert_memory_equal(b, buf + 1000 * i, 1000);
	}
	assert_true(out.segs[4].tcp.flags & PS_TCP_PSH);
	/* the window is the limit: 16000 bytes in flight at most */
	assert_int_equal(ps_tcp_write(&ep, buf, 40000, T0 + SEC, &out), 40000);
	assert_int_equal(ep.snd_nxt - ep.snd_una, 10000);	/* initial cwnd */
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, ISS + 1 + 10000, PS_TCP_ACK, 4000), NULL, 0,
			    T0 + SEC + 10 * MS), PS_TCP_DROP_NONE);
	/* slow start: one MSS more per ACK (RFC 5681 3.1) */
	assert_int_equal(ep.cwnd, 11000);
	assert_int_equal(ep.snd_nxt - ep.snd_una, 11000);
	for (i = 1; i <= 6; i++)
		in(&ep, seg(PEER_ISN + 1, ISS + 1 + 10000 + 1000 * i, PS_TCP_ACK, 4000), NULL, 0,
		   T0 + SEC + (10 + i) * MS);
	/* now the peer's window is the limit */
	assert_true(ep.cwnd > 16000);
	assert_int_equal(ep.snd_nxt - ep.snd_una, 16000);
	assert_int_equal(ep.snd_len, 45000 - 16000);
	ps_tcp_free(&ep);
}

static void
test_rto_backoff_karn(void **state)
{
	struct ps_tcp_ep ep;
	uint64_t now = T0 + SEC, rto, srtt;
	int i;

	(void)state;
	cfg.data_retries = 3;
	est_passive(&ep);
	/* handshake RTT 10 ms: RTO = max(rto_min, 10 + 4 * 5) = 200 ms */
	assert_int_equal(ep.srtt, 10 * MS);
	rto = 200 * MS;
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 100, now, &out), 100);
	assert_int_equal(out.n_segs, 1);
	for (i = 0; i < 3; i++) {
		now += rto;
		assert_int_equal(ps_tcp_next_deadline(&ep), now);
		timer(&ep, now);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].tcp.seq, ISS + 1);
		assert_int_equal(out.segs[0].len, 100);
		rto *= 2;
	}
	assert_int_equal(st.cnt[PS_TCP_CNT_RTO_TIMEOUTS], 3);
	assert_int_equal(st.cnt[PS_TCP_CNT_RETRANSMITS], 3);
	assert_int_equal(ep.cwnd, 1000);	/* loss window, RFC 5681 3.1 */
	/* ACK of the retransmitted segment: Karn, no RTT sample */
	srtt = ep.srtt;
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, ISS + 101, PS_TCP_ACK, 4000), NULL, 0, now + 5 * MS),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ep.srtt, srtt);
	assert_int_equal(ps_tcp_next_deadline(&ep), UINT64_MAX);
	/* a fresh segment is timed: 30 ms sample, RFC 6298 2.3 */
	now += SEC;
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 100, now, &out), 100);
	assert_int_equal(ps_tcp_next_deadline(&ep), now + 200 * MS);	/* backoff cleared */
	assert_int_equal(in(&ep, seg(PEER_ISN + 1, ISS + 201, PS_TCP_ACK, 4000), NULL, 0, now + 30 * MS),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ep.srtt, (7 * 10 * MS + 30 * MS) / 8);
	/* retry limit: 3 timeouts, the 4th expiry gives up with a RST */
	now += SEC;
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 100, now, &out), 100);
	for (i = 0; i < 3; i++) {
		now = ps_tcp_next_deadline(&ep);
		timer(&ep, now);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].len, 100);
	}
	now = ps_tcp_next_deadline(&ep);
	timer(&ep, now);
	assert_true(out.events & PS_TCP_EV_TIMED_OUT);
	assert_true(out.events & PS_TCP_EV_CLOSED);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(out.segs[0].tcp.seq, ISS + 301);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_int_equal(ps_tcp_mem(&ep), 0);
	assert_int_equal(ps_tcp_write(&ep, buf, 1, now, &out), -EPIPE);
}

static void
reach(struct ps_tcp_ep *ep, enum ps_tcp_state want, uint32_t *snd, uint32_t *rcv);

static void
test_fast_retransmit_karn(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv, srtt;
	uint64_t now = T0 + SEC;
	int i;

	(void)state;
	cfg.sack_ok = false;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 5000, now, &out), 5000);
	assert_int_equal(out.n_segs, 5);
	/* the first segment is lost: three duplicate ACKs */
	for (i = 0; i < 3; i++) {
		assert_int_equal(in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), NULL, 0, now + 10 * MS),
				 PS_TCP_DROP_NONE);
		assert_int_equal(out.n_segs, i == 2 ? 1 : 0);
	}
	/* fast retransmit of exactly the missing segment, before any RTO */
	assert_int_equal(out.segs[0].tcp.seq, snd);
	assert_int_equal(out.segs[0].len, 1000);
	assert_int_equal(st.cnt[PS_TCP_CNT_FAST_RETRANSMITS], 1);
	assert_int_equal(ep.ssthresh, 2500);		/* max(flight / 2, 2 MSS) */
	assert_int_equal(ep.cwnd, 2500 + 3 * 1000);
	/* the ACK of everything comes late: Karn, the timed segment was resent */
	srtt = ep.srtt;
	assert_int_equal(in(&ep, seg(rcv, snd + 5000, PS_TCP_ACK, 4000), NULL, 0, now + 3 * SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ep.srtt, srtt);
	assert_int_equal(ep.cwnd, 2000);		/* recovery over: min(ssthresh, flight + MSS) */
	assert_int_equal(st.cnt[PS_TCP_CNT_RTO_TIMEOUTS], 0);
	ps_tcp_free(&ep);
}

/* Drive a fresh endpoint into state st_want; returns our next seq and rcv_nxt. */
static void
reach(struct ps_tcp_ep *ep, enum ps_tcp_state want, uint32_t *snd, uint32_t *rcv)
{
	uint64_t now = T0 + SEC;

	if (want == PS_TCP_ST_SYN_RCVD) {
		struct ps_pkt syn = peer_syn();

		ps_tcp_init(ep, &cfg, &st, 0);
		assert_int_equal(ps_tcp_passive_syn(ep, &syn, ISS, T0), 0);
		ps_tcp_out_reset(&out);
		assert_int_equal(ps_tcp_accept(ep, T0, &out), 0);
		*snd = ISS + 1;
		*rcv = PEER_ISN + 1;
		return;
	}
	est_passive(ep);
	*snd = ISS + 1;
	*rcv = PEER_ISN + 1;
	ps_tcp_out_reset(&out);
	switch (want) {
	case PS_TCP_ST_ESTABLISHED:
		break;
	case PS_TCP_ST_FIN_WAIT_1:
	case PS_TCP_ST_FIN_WAIT_2:
	case PS_TCP_ST_CLOSING:
	case PS_TCP_ST_TIME_WAIT:
		assert_int_equal(ps_tcp_close(ep, now, &out), 0);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].tcp.flags, PS_TCP_FIN | PS_TCP_ACK);
		*snd += 1;
		if (want == PS_TCP_ST_FIN_WAIT_2 || want == PS_TCP_ST_TIME_WAIT)
			in(ep, seg(*rcv, *snd, PS_TCP_ACK, 4000), NULL, 0, now);
		if (want == PS_TCP_ST_CLOSING || want == PS_TCP_ST_TIME_WAIT) {
			in(ep, seg(*rcv, ISS + 1, PS_TCP_ACK | PS_TCP_FIN, 4000), NULL, 0, now);
			*rcv += 1;
		}
		break;
	case PS_TCP_ST_CLOSE_WAIT:
	case PS_TCP_ST_LAST_ACK:
		in(ep, seg(*rcv, *snd, PS_TCP_ACK | PS_TCP_FIN, 4000), NULL, 0, now);
		assert_true(out.events & PS_TCP_EV_PEER_FIN);
		*rcv += 1;
		if (want == PS_TCP_ST_LAST_ACK) {
			ps_tcp_out_reset(&out);
			assert_int_equal(ps_tcp_close(ep, now, &out), 0);
			*snd += 1;
		}
		break;
	default:
		fail();
	}
	assert_int_equal(ps_tcp_state(ep), want);
}

static const enum ps_tcp_state sync_states[] = {
	PS_TCP_ST_SYN_RCVD, PS_TCP_ST_ESTABLISHED, PS_TCP_ST_FIN_WAIT_1, PS_TCP_ST_FIN_WAIT_2,
	PS_TCP_ST_CLOSE_WAIT, PS_TCP_ST_CLOSING, PS_TCP_ST_LAST_ACK, PS_TCP_ST_TIME_WAIT,
};

/* Which SYNs start a new connection on an endpoint's 4-tuple (RFC 6191). */
static void
test_syn_is_new(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt syn = peer_syn(), other = peer_syn();
	uint32_t snd, rcv;
	unsigned int i;

	(void)state;
	other.seq = PEER_ISN + 100000;
	ps_tcp_init(&ep, &cfg, &st, 0);
	assert_true(ps_tcp_syn_is_new(&ep, &syn));		/* CLOSED */
	/* held: the same SYN again is a repeat, another ISN a new attempt */
	assert_int_equal(ps_tcp_passive_syn(&ep, &syn, ISS, T0), 0);
	assert_false(ps_tcp_syn_is_new(&ep, &syn));
	assert_true(ps_tcp_syn_is_new(&ep, &other));
	/* answered: the peer may be told, so it is challenged instead */
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_accept(&ep, T0, &out), 0);
	assert_false(ps_tcp_syn_is_new(&ep, &other));
	ps_tcp_free(&ep);
	for (i = 0; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
		reach(&ep, sync_states[i], &snd, &rcv);
		assert_int_equal(ps_tcp_syn_is_new(&ep, &other),
				 sync_states[i] == PS_TCP_ST_TIME_WAIT);
		ps_tcp_free(&ep);
	}
}

static void
test_state_transitions(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
		reach(&ep, sync_states[i], &snd, &rcv);
		assert_string_equal(ps_tcp_state_name(ps_tcp_state(&ep)),
				    ps_tcp_state_name(sync_states[i]));
		ps_tcp_free(&ep);
	}
	/* CLOSING → TIME_WAIT when our FIN is acked */
	reach(&ep, PS_TCP_ST_CLOSING, &snd, &rcv);
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), NULL, 0, T0 + 2 * SEC);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_TIME_WAIT);
	assert_true(out.events & PS_TCP_EV_FIN_ACKED);
	/* LAST_ACK → CLOSED */
	reach(&ep, PS_TCP_ST_LAST_ACK, &snd, &rcv);
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), NULL, 0, T0 + 2 * SEC);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_true(out.events & PS_TCP_EV_CLOSED);
	/* FIN_WAIT_1 with FIN+ACK of our FIN at once → TIME_WAIT */
	reach(&ep, PS_TCP_ST_FIN_WAIT_1, &snd, &rcv);
	in(&ep, seg(rcv, snd, PS_TCP_ACK | PS_TCP_FIN, 4000), NULL, 0, T0 + 2 * SEC);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_TIME_WAIT);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 1);
	/* TIME_WAIT: a repeated FIN is acked again and restarts the timer */
	in(&ep, seg(rcv, snd, PS_TCP_ACK | PS_TCP_FIN, 4000), NULL, 0, T0 + 3 * SEC);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_ACK);
	assert_int_equal(ps_tcp_next_deadline(&ep), T0 + 3 * SEC + cfg.time_wait_us);
	timer(&ep, T0 + 3 * SEC + cfg.time_wait_us);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_true(out.events & PS_TCP_EV_CLOSED);
	/* SYN_SENT close: just abandoned */
	ps_tcp_init(&ep, &cfg, &st, 0);
	ps_tcp_out_reset(&out);
	ps_tcp_connect(&ep, ISS, T0, &out);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_close(&ep, T0, &out), 0);
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	/* SYN_RCVD close: FIN once established */
	reach(&ep, PS_TCP_ST_SYN_RCVD, &snd, &rcv);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_close(&ep, T0, &out), 0);
	assert_int_equal(out.n_segs, 0);
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), NULL, 0, T0 + 5 * MS);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_FIN_WAIT_1);
	assert_int_equal(out.n_segs, 1);
	assert_true(out.segs[0].tcp.flags & PS_TCP_FIN);
}

static void
test_rst_every_state(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
		enum ps_tcp_state s = sync_states[i];

		/* out of window: ignored silently */
		reach(&ep, s, &snd, &rcv);
		assert_int_equal(in(&ep, seg(rcv + 1000000, 0, PS_TCP_RST, 0), NULL, 0, T0 + 2 * SEC),
				 PS_TCP_DROP_RST_OUT_OF_WINDOW);
		assert_int_equal(out.n_segs, 0);
		assert_int_equal(ps_tcp_state(&ep), s);
		assert_int_equal(in(&ep, seg(rcv - 1, 0, PS_TCP_RST, 0), NULL, 0, T0 + 2 * SEC),
				 PS_TCP_DROP_RST_OUT_OF_WINDOW);
		/* in window, not exact: challenge ACK (RFC 5961 3.2) */
		assert_int_equal(in(&ep, seg(rcv + 10, 0, PS_TCP_RST, 0), NULL, 0, T0 + 2 * SEC),
				 PS_TCP_DROP_RST_CHALLENGED);
		assert_int_equal(ps_tcp_state(&ep), s);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].tcp.flags, PS_TCP_ACK);
		assert_int_equal(out.segs[0].tcp.ack, rcv);
		assert_int_equal(out.segs[0].tcp.seq, snd);
		/* exact: reset */
		assert_int_equal(in(&ep, seg(rcv, 0, PS_TCP_RST, 0), NULL, 0, T0 + 2 * SEC),
				 PS_TCP_DROP_NONE);
		assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
		assert_true(out.events & PS_TCP_EV_RESET);
		assert_true(out.events & PS_TCP_EV_CLOSED);
		assert_int_equal(out.n_segs, 0);
		assert_int_equal(ps_tcp_mem(&ep), 0);
	}
}

static void
test_syn_challenge_and_limit(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	unsigned int i, n = 0;

	(void)state;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* a SYN in window and one out of window: challenge ACKs, state kept */
	assert_int_equal(in(&ep, seg(rcv + 5, 0, PS_TCP_SYN, 100), NULL, 0, T0 + 2 * SEC),
			 PS_TCP_DROP_SYN_CHALLENGED);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_ACK);
	assert_int_equal(out.segs[0].tcp.ack, rcv);
	assert_int_equal(in(&ep, seg(rcv - 100000, 0, PS_TCP_SYN, 100), NULL, 0, T0 + 2 * SEC),
			 PS_TCP_DROP_SYN_CHALLENGED);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_ESTABLISHED);
	/* rate limit: 10 per second (2 used above) */
	for (i = 0; i < 20; i++) {
		in(&ep, seg(rcv + 7, 0, PS_TCP_RST, 0), NULL, 0, T0 + 2 * SEC + i);
		n += out.n_segs;
	}
	assert_int_equal(n, 8);
	assert_int_equal(st.cnt[PS_TCP_CNT_CHALLENGE_ACKS_LIMITED], 12);
	in(&ep, seg(rcv + 7, 0, PS_TCP_RST, 0), NULL, 0, T0 + 3 * SEC + 1);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_ESTABLISHED);
	ps_tcp_free(&ep);
}

static void
test_ack_validation(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;

	(void)state;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 3000, T0 + SEC, &out), 3000);
	/* ACK of bytes never sent: ACK back, segment dropped (RFC 9293, RFC 5961 5.2) */
	assert_int_equal(in(&ep, seg(rcv, snd + 5000, PS_TCP_ACK, 4000), "abc", 3, T0 + SEC),
			 PS_TCP_DROP_ACK_UNSENT);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv);
	assert_int_equal(ps_tcp_readable(&ep), 0);
	/* ACK far below snd_una - max window: challenge ACK, data refused */
	assert_int_equal(in(&ep, seg(rcv, snd - 100000, PS_TCP_ACK, 4000), "abc", 3, T0 + SEC),
			 PS_TCP_DROP_ACK_TOO_OLD);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(ps_tcp_readable(&ep), 0);
	/* an old but plausible ACK: the data is taken */
	assert_int_equal(in(&ep, seg(rcv, snd - 10, PS_TCP_ACK, 4000), "abc", 3, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_readable(&ep), 3);
	/* a segment without ACK in a synchronized state */
	assert_int_equal(in(&ep, seg(rcv + 3, 0, 0, 4000), "d", 1, T0 + SEC), PS_TCP_DROP_NO_ACK);
	ps_tcp_free(&ep);
}

static void
test_out_of_window_and_dups(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;

	(void)state;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* beyond the window (256 KiB): ACK, nothing kept */
	assert_int_equal(in(&ep, seg(rcv + 300000, snd, PS_TCP_ACK, 4000), "xyz", 3, T0 + SEC),
			 PS_TCP_DROP_OUT_OF_WINDOW);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv);
	assert_int_equal(ps_tcp_readable(&ep), 0);
	assert_int_equal(ep.n_ooo, 0);
	/* straddling the right edge: trimmed to the window */
	assert_int_equal(in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), "hello", 5, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_readable(&ep), 5);
	/* wholly old: a duplicate, ACKed at once */
	assert_int_equal(in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), "hello", 5, T0 + SEC),
			 PS_TCP_DROP_OUT_OF_WINDOW);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 5);
	assert_true(st.cnt[PS_TCP_CNT_DUP_SEGS] >= 1);
	/* overlapping the old bytes: only the new part counts */
	assert_int_equal(in(&ep, seg(rcv + 3, snd, PS_TCP_ACK, 4000), "lo world", 8, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(ps_tcp_read(&ep, buf, sizeof(buf), T0 + SEC, &out), 11);
	assert_memory_equal(buf, "hello world", 11);
	ps_tcp_free(&ep);
}

static void
test_reassembly_and_sack_blocks(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	const struct ps_tcp_spec *t;
	unsigned int i;
	uint8_t data[4000];

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* [2000,2500) then [1000,1500): two islands, dup ACKs with SACK, newest first */
	assert_int_equal(in(&ep, seg(rcv + 2000, snd, PS_TCP_ACK, 4000), data + 2000, 500, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 1);
	t = &out.segs[0].tcp;
	assert_int_equal(t->ack, rcv);
	assert_int_equal(t->n_sack, 1);
	assert_int_equal(t->sack[0][0], rcv + 2000);
	assert_int_equal(t->sack[0][1], rcv + 2500);
	assert_int_equal(in(&ep, seg(rcv + 1000, snd, PS_TCP_ACK, 4000), data + 1000, 500, T0 + SEC),
			 PS_TCP_DROP_NONE);
	t = &out.segs[0].tcp;
	assert_int_equal(t->n_sack, 2);
	assert_int_equal(t->sack[0][0], rcv + 1000);
	assert_int_equal(t->sack[1][0], rcv + 2000);
	/* overlapping [1400,2100) joins both islands into one */
	assert_int_equal(in(&ep, seg(rcv + 1400, snd, PS_TCP_ACK, 4000), data + 1400, 700, T0 + SEC),
			 PS_TCP_DROP_NONE);
	t = &out.segs[0].tcp;
	assert_int_equal(t->n_sack, 1);
	assert_int_equal(t->sack[0][0], rcv + 1000);
	assert_int_equal(t->sack[0][1], rcv + 2500);
	assert_int_equal(ps_tcp_readable(&ep), 0);
	/* a duplicate island */
	assert_int_equal(in(&ep, seg(rcv + 1000, snd, PS_TCP_ACK, 4000), data + 1000, 500, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_true(st.cnt[PS_TCP_CNT_OOO_SEGS] >= 4);
	/* the gap [0,1200) fills: everything up to 2500 readable, ACK at once */
	assert_int_equal(in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), data, 1200, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 2500);
	assert_int_equal(out.segs[0].tcp.n_sack, 0);
	assert_int_equal(out.readable, 2500);
	assert_int_equal(ps_tcp_read(&ep, buf, sizeof(buf), T0 + SEC, &out), 2500);
	assert_memory_equal(buf, data, 2500);
	/* islands are bounded: a 5th separate one is refused */
	for (i = 0; i < 4; i++)
		assert_int_equal(in(&ep, seg(rcv + 3000 + 100 * i, snd, PS_TCP_ACK, 4000), "ab", 2,
				    T0 + SEC), PS_TCP_DROP_NONE);
	assert_int_equal(in(&ep, seg(rcv + 3500, snd, PS_TCP_ACK, 4000), "ab", 2, T0 + SEC),
			 PS_TCP_DROP_OOO_FULL);
	assert_int_equal(out.segs[0].tcp.n_sack, 4);
	ps_tcp_free(&ep);
	assert_int_equal(ps_tcp_mem(&ep), 0);
}

static void
test_fin_out_of_order(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;

	(void)state;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* "world"+FIN before "hello": no PEER_FIN until the gap fills */
	assert_int_equal(in(&ep, seg(rcv + 5, snd, PS_TCP_ACK | PS_TCP_FIN, 4000), "world", 5,
			    T0 + SEC), PS_TCP_DROP_NONE);
	assert_false(out.events & PS_TCP_EV_PEER_FIN);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), "hello", 5, T0 + SEC),
			 PS_TCP_DROP_NONE);
	assert_true(out.events & PS_TCP_EV_PEER_FIN);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSE_WAIT);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 11);
	assert_int_equal(ps_tcp_readable(&ep), 10);
	assert_true(ps_tcp_peer_closed(&ep));
	/* data after the FIN is refused */
	assert_int_equal(in(&ep, seg(rcv + 11, snd, PS_TCP_ACK, 4000), "zz", 2, T0 + SEC),
			 PS_TCP_DROP_AFTER_FIN);
	assert_int_equal(ps_tcp_read(&ep, buf, 100, T0 + SEC, &out), 10);
	assert_memory_equal(buf, "helloworld", 10);
	ps_tcp_free(&ep);
}

static void
test_delayed_ack(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	uint64_t now = T0 + SEC;

	(void)state;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* one full segment: no ACK yet, the delayed-ACK timer runs */
	assert_int_equal(in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), buf, 1000, now), PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(ps_tcp_next_deadline(&ep), now + 40 * MS);
	timer(&ep, now + 39 * MS);
	assert_int_equal(out.n_segs, 0);
	timer(&ep, now + 40 * MS);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 1000);
	/* two full segments: ACK on the second */
	assert_int_equal(in(&ep, seg(rcv + 1000, snd, PS_TCP_ACK, 4000), buf, 1000, now + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 0);
	assert_int_equal(in(&ep, seg(rcv + 2000, snd, PS_TCP_ACK, 4000), buf, 1000, now + SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 3000);
	assert_int_equal(ps_tcp_next_deadline(&ep), UINT64_MAX);
	/* data we send carries the ACK: the pending one is cancelled */
	assert_int_equal(in(&ep, seg(rcv + 3000, snd, PS_TCP_ACK, 4000), buf, 100, now + 2 * SEC),
			 PS_TCP_DROP_NONE);
	assert_int_equal(out.n_segs, 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 10, now + 2 * SEC, &out), 10);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.ack, rcv + 3100);
	assert_int_equal(ep.delack_at, 0);
	ps_tcp_free(&ep);
}

static void
test_window_update_on_read(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv, i;
	uint64_t now = T0 + SEC;

	(void)state;
	cfg.rcv_buf = 8192;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* our scale is 7: 8192 bytes = 64 units */
	for (i = 0; i < 8; i++)
		in(&ep, seg(rcv + 1000 * i, snd, PS_TCP_ACK, 4000), buf, 1000, now);
	in(&ep, seg(rcv + 8000, snd, PS_TCP_ACK, 4000), buf, 192, now);
	assert_int_equal(ps_tcp_readable(&ep), 8192);
	ps_tcp_out_reset(&out);
	timer(&ep, now + SEC);
	assert_int_equal(out.segs[0].tcp.window, 0);
	assert_true(st.cnt[PS_TCP_CNT_ZERO_WND_SENT] >= 1);
	/* beyond a zero window: refused, ACKed */
	assert_int_equal(in(&ep, seg(rcv + 8192, snd, PS_TCP_ACK, 4000), buf, 1, now),
			 PS_TCP_DROP_OUT_OF_WINDOW);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.window, 0);
	/* reading a little: no update (silly window avoidance) */
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_read(&ep, buf, 100, now, &out), 100);
	assert_int_equal(out.n_segs, 0);
	/* reading an MSS worth: window update */
	assert_int_equal(ps_tcp_read(&ep, buf, 2000, now, &out), 2000);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.window, 2100 >> 7);
	/* everything read: buffers released */
	assert_int_equal(ps_tcp_read(&ep, buf, sizeof(buf), now, &out), 8192 - 2100);
	assert_int_equal(ps_tcp_mem(&ep), 0);
	ps_tcp_free(&ep);
}

static void
test_zero_window_persist(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	uint64_t now = T0 + SEC, at;
	int i;

	(void)state;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	/* the peer closes its window */
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 0), NULL, 0, now);
	assert_int_equal(ep.snd_wnd, 0);
	assert_int_equal(st.cnt[PS_TCP_CNT_ZERO_WND_RCVD], 1);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, (const uint8_t *)"abcdef", 6, now, &out), 6);
	assert_int_equal(out.n_segs, 0);
	/* persist: one-byte probes with backoff (200, 400, 800 ms) */
	at = now + 200 * MS;
	for (i = 0; i < 3; i++) {
		assert_int_equal(ps_tcp_next_deadline(&ep), at);
		timer(&ep, at);
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].len, 1);
		assert_int_equal(out.segs[0].tcp.seq, snd);
		/* refused: ACK with window 0 */
		in(&ep, seg(rcv, snd, PS_TCP_ACK, 0), NULL, 0, at + 5 * MS);
		assert_int_equal(out.n_segs, 0);
		at += (200 * MS) << (i + 1);
	}
	assert_int_equal(st.cnt[PS_TCP_CNT_PERSIST_PROBES], 3);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_ESTABLISHED);
	/* the window opens: the rest goes out */
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 100), NULL, 0, at);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.seq, snd);
	assert_int_equal(out.segs[0].len, 6);
	in(&ep, seg(rcv, snd + 6, PS_TCP_ACK, 100), NULL, 0, at + 10 * MS);
	assert_int_equal(ps_tcp_next_deadline(&ep), UINT64_MAX);
	assert_int_equal(ps_tcp_mem(&ep), 0);
	ps_tcp_free(&ep);

	/* a peer that closed its window and vanished: data_retries probes, then RST */
	cfg.data_retries = 3;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 3000, now, &out), 3000);
	/* the window shrinks to 0 under data in flight: probed, not timed out */
	in(&ep, seg(rcv, snd + 1000, PS_TCP_ACK, 0), NULL, 0, now + 10 * MS);
	for (i = 0; i < 3; i++) {
		timer(&ep, ps_tcp_next_deadline(&ep));
		assert_int_equal(out.n_segs, 1);
		assert_int_equal(out.segs[0].len, 1);
		assert_int_equal(out.segs[0].tcp.seq, snd + 1000);
	}
	assert_int_equal(st.cnt[PS_TCP_CNT_RTO_TIMEOUTS], 0);
	timer(&ep, ps_tcp_next_deadline(&ep));
	assert_true(out.events & PS_TCP_EV_TIMED_OUT);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
}

static void
test_keepalive_and_idle(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv;
	uint64_t now = T0 + 10 * MS;
	int i;

	(void)state;
	cfg.keepalive_idle_us = 10 * SEC;
	cfg.keepalive_intvl_us = 1 * SEC;
	cfg.keepalive_probes = 3;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	assert_int_equal(ps_tcp_next_deadline(&ep), now + 10 * SEC);
	timer(&ep, now + 10 * SEC);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.seq, snd - 1);	/* RFC 9293 3.8.4 */
	assert_int_equal(out.segs[0].len, 0);
	/* answered: the idle period starts again */
	now += 10 * SEC + 5 * MS;
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), NULL, 0, now);
	assert_int_equal(ps_tcp_next_deadline(&ep), now + 10 * SEC);
	/* unanswered: 3 probes a second apart, then give up */
	now += 10 * SEC;
	for (i = 0; i < 3; i++) {
		timer(&ep, now);
		assert_int_equal(out.n_segs, 1);
		now += SEC;
	}
	timer(&ep, now);
	assert_true(out.events & PS_TCP_EV_TIMED_OUT);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
	assert_int_equal(st.cnt[PS_TCP_CNT_KEEPALIVE_PROBES], 4);

	/* idle timeout */
	cfg.keepalive_idle_us = 0;
	cfg.idle_timeout_us = 30 * SEC;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	now = T0 + 10 * MS;
	assert_int_equal(ps_tcp_next_deadline(&ep), now + 30 * SEC);
	in(&ep, seg(rcv, snd, PS_TCP_ACK, 4000), NULL, 0, now + 20 * SEC);
	assert_int_equal(ps_tcp_next_deadline(&ep), now + 50 * SEC);
	timer(&ep, now + 50 * SEC);
	assert_true(out.events & PS_TCP_EV_TIMED_OUT);
	assert_int_equal(ps_tcp_state(&ep), PS_TCP_ST_CLOSED);
}

/* Timestamps on: the peer's SYN carries TSval 1000; the SYN-ACK is in out. */
static void
accept_with_ts(struct ps_tcp_ep *ep, uint64_t now)
{
	struct ps_pkt syn = peer_syn();

	cfg.ts_ok = true;
	syn.has_ts = true;
	syn.ts_val = 1000;
	ps_tcp_init(ep, &cfg, &st, 0);
	assert_int_equal(ps_tcp_passive_syn(ep, &syn, ISS, now), 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_accept(ep, now, &out), 0);
}

static void
test_timestamps_paws(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt p;
	uint64_t now = T0;

	(void)state;
	accept_with_ts(&ep, now);
	assert_true(out.segs[0].tcp.has_ts);
	assert_int_equal(out.segs[0].tcp.ts_ecr, 1000);
	assert_int_equal(out.segs[0].tcp.ts_val, (uint32_t)(now / 1000) + ISS);
	p = seg(PEER_ISN + 1, ISS + 1, PS_TCP_ACK, 4000);
	p.has_ts = true;
	p.ts_val = 1010;
	assert_int_equal(in(&ep, p, NULL, 0, now + 10 * MS), PS_TCP_DROP_NONE);
	assert_int_equal(ep.ts_recent, 1010);
	/* data segments are 12 bytes shorter: 1000 - NOP NOP TS */
	ps_tcp_out_reset(&out);
	ps_tcp_write(&ep, buf, 3000, now + SEC, &out);
	assert_int_equal(out.segs[0].len, 988);
	assert_int_equal(out.segs[0].tcp.ts_ecr, 1010);
	/* an older timestamp: PAWS drop (RFC 7323 5.3), ACK back */
	p.ts_val = 1005;
	assert_int_equal(in(&ep, p, "old", 3, now + SEC), PS_TCP_DROP_PAWS);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(ps_tcp_readable(&ep), 0);
	/* a newer one is taken and echoed */
	p.ts_val = 0x80000000u;	/* wraps: still "newer" than 1010 by less than 2^31 */
	p.ts_val = 1020;
	assert_int_equal(in(&ep, p, "new", 3, now + SEC), PS_TCP_DROP_NONE);
	assert_int_equal(ep.ts_recent, 1020);
	assert_int_equal(ps_tcp_readable(&ep), 3);
	ps_tcp_free(&ep);
}

/*
 * ACK loop guard: an endpoint answers bare ACKs that fail PAWS or fall
 * outside its window at most once per oow_ack_interval_us; segments with
 * data are always answered.
 */
static void
test_invalid_ack_rate_limit(void **state)
{
	struct ps_tcp_ep ep;
	struct ps_pkt p, w;
	uint64_t now = T0;
	uint64_t limited;
	unsigned int i;

	(void)state;
	accept_with_ts(&ep, now);
	p = seg(PEER_ISN + 1, ISS + 1, PS_TCP_ACK, 4000);
	p.has_ts = true;
	p.ts_val = 1010;
	assert_int_equal(in(&ep, p, NULL, 0, now + 10 * MS), PS_TCP_DROP_NONE);
	limited = st.cnt[PS_TCP_CNT_OOW_ACKS_LIMITED];
	/* a peer from another incarnation: older timestamps, bare ACKs */
	p.ts_val = 5;
	assert_int_equal(in(&ep, p, NULL, 0, now + SEC), PS_TCP_DROP_PAWS);
	assert_int_equal(out.n_segs, 1);
	for (i = 0; i < 100; i++) {
		assert_int_equal(in(&ep, p, NULL, 0, now + SEC + i * MS), PS_TCP_DROP_PAWS);
		assert_int_equal(out.n_segs, 0);
	}
	assert_int_equal(st.cnt[PS_TCP_CNT_OOW_ACKS_LIMITED] - limited, 100);
	/* out of window, too: the same budget */
	w = seg(PEER_ISN + 1 + 10000000, ISS + 1, PS_TCP_ACK, 4000);
	w.has_ts = true;
	w.ts_val = 1020;
	assert_int_equal(in(&ep, w, NULL, 0, now + SEC + 200 * MS), PS_TCP_DROP_OUT_OF_WINDOW);
	assert_int_equal(out.n_segs, 0);
	/* data is always answered */
	assert_int_equal(in(&ep, p, "x", 1, now + SEC + 201 * MS), PS_TCP_DROP_PAWS);
	assert_int_equal(out.n_segs, 1);
	/* the interval over: one more answer */
	assert_int_equal(in(&ep, w, NULL, 0, now + SEC + cfg.oow_ack_interval_us),
			 PS_TCP_DROP_OUT_OF_WINDOW);
	assert_int_equal(out.n_segs, 1);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_ACK);
	ps_tcp_free(&ep);
}

static void
test_rst_reply(void **state)
{
	struct ps_pkt p = seg(100, 0, PS_TCP_SYN, 10);
	struct ps_tcp_spec r;

	(void)state;
	p.sport = 1234;
	p.dport = 443;
	assert_true(ps_tcp_rst_reply(&p, &r));
	assert_int_equal(r.flags, PS_TCP_RST | PS_TCP_ACK);
	assert_int_equal(r.seq, 0);
	assert_int_equal(r.ack, 101);
	assert_int_equal(r.sport, 443);
	assert_int_equal(r.dport, 1234);
	p = seg(100, 777, PS_TCP_ACK, 10);
	p.payload_len = 10;
	assert_true(ps_tcp_rst_reply(&p, &r));
	assert_int_equal(r.flags, PS_TCP_RST);
	assert_int_equal(r.seq, 777);
	p.tcp_flags = PS_TCP_RST;
	assert_false(ps_tcp_rst_reply(&p, &r));
}

static int n_alloc, n_free;

static void *
count_alloc(void *ctx, size_t sz)
{
	(void)ctx;
	n_alloc++;
	return malloc(sz);
}

static void
count_free(void *ctx, void *p)
{
	(void)ctx;
	n_free++;
	free(p);
}

static void
test_allocator_lazy_buffers(void **state)
{
	struct ps_tcp_ep ep;
	uint32_t snd, rcv, acked = 0;

	(void)state;
	cfg.alloc = count_alloc;
	cfg.free = count_free;
	n_alloc = n_free = 0;
	reach(&ep, PS_TCP_ST_ESTABLISHED, &snd, &rcv);
	assert_int_equal(n_alloc, 0);	/* an established idle endpoint holds nothing */
	assert_int_equal(ps_tcp_mem(&ep), 0);
	ps_tcp_out_reset(&out);
	assert_int_equal(ps_tcp_write(&ep, buf, 100000, T0 + SEC, &out), 100000);
	assert_int_equal(ps_tcp_mem(&ep), 25 * 4096);
	/* the buffer shrinks as ACKs arrive */
	while (acked < 100000) {
		acked += 4000;
		in(&ep, seg(rcv, snd + acked, PS_TCP_ACK, 4000), NULL, 0, T0 + SEC + acked);
		assert_true(ps_tcp_mem(&ep) <= 100000 - acked + 2 * 4096);
	}
	assert_int_equal(ps_tcp_mem(&ep), 0);
	assert_int_equal(n_alloc, n_free);
	/* receive side: out-of-order bytes, then abort releases everything */
	in(&ep, seg(rcv + 50000, snd + acked, PS_TCP_ACK, 4000), buf, 1000, T0 + 2 * SEC);
	assert_true(ps_tcp_mem(&ep) > 0);
	ps_tcp_out_reset(&out);
	ps_tcp_abort(&ep, T0 + 2 * SEC, &out);
	assert_int_equal(out.segs[0].tcp.flags, PS_TCP_RST);
	assert_int_equal(ps_tcp_mem(&ep), 0);
	assert_int_equal(n_alloc, n_free);
	ps_tcp_free(&ep);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(ps_tcp_state_name(PS_TCP_ST_TIME_WAIT), "TIME_WAIT");
	assert_string_equal(ps_tcp_state_name(PS_TCP_ST_MAX), "invalid");
	assert_string_equal(ps_tcp_drop_name(PS_TCP_DROP_PAWS), "paws");
	assert_string_equal(ps_tcp_drop_name(PS_TCP_DROP_MAX), "invalid");
	assert_string_equal(ps_tcp_counter_name(PS_TCP_CNT_CHALLENGE_ACKS), "challenge_acks");
	assert_string_equal(ps_tcp_counter_name(PS_TCP_CNT_MAX), "invalid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sizeof, setup),
		cmocka_unit_test_setup(test_cfg_check, setup),
		cmocka_unit_test_setup(test_passive_held_accept, setup),
		cmocka_unit_test_setup(test_refuse_and_held_rst, setup),
		cmocka_unit_test_setup(test_syn_is_new, setup),
		cmocka_unit_test_setup(test_connect_syn_retries, setup),
		cmocka_unit_test_setup(test_connect_refused_and_bad_acks, setup),
		cmocka_unit_test_setup(test_synack_retries, setup),
		cmocka_unit_test_setup(test_mss_defaults, setup),
		cmocka_unit_test_setup(test_data_segments_and_mss, setup),
		cmocka_unit_test_setup(test_rto_backoff_karn, setup),
		cmocka_unit_test_setup(test_fast_retransmit_karn, setup),
		cmocka_unit_test_setup(test_state_transitions, setup),
		cmocka_unit_test_setup(test_rst_every_state, setup),
		cmocka_unit_test_setup(test_syn_challenge_and_limit, setup),
		cmocka_unit_test_setup(test_ack_validation, setup),
		cmocka_unit_test_setup(test_out_of_window_and_dups, setup),
		cmocka_unit_test_setup(test_reassembly_and_sack_blocks, setup),
		cmocka_unit_test_setup(test_fin_out_of_order, setup),
		cmocka_unit_test_setup(test_delayed_ack, setup),
		cmocka_unit_test_setup(test_window_update_on_read, setup),
		cmocka_unit_test_setup(test_zero_window_persist, setup),
		cmocka_unit_test_setup(test_keepalive_and_idle, setup),
		cmocka_unit_test_setup(test_timestamps_paws, setup),
		cmocka_unit_test_setup(test_invalid_ack_rate_limit, setup),
		cmocka_unit_test_setup(test_rst_reply, setup),
		cmocka_unit_test_setup(test_allocator_lazy_buffers, setup),
		cmocka_unit_test_setup(test_names, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
