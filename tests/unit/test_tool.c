/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: the out-of-band tool conversation synthesizer.
 *
 * Every frame written is captured, parsed back with ps_pkt_parse() and
 * checksum-verified; a verifier replays the frames as a tool would (the
 * identity of each direction, handshake, sequence and acknowledgement
 * numbers, ACK pacing, FIN/RST) and rebuilds both byte streams by sequence
 * number, which must equal what was fed. One test writes a pcap file and,
 * when tshark is installed, lets it reassemble the client's stream; another
 * lets tcpdump verify every checksum when tcpdump is installed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_pkt.h"
#include "ps_tool.h"

#define FRAME_MAX	(PS_TOOL_FRAME_MAX(PS_TOOL_MSS_MAX))
#define STREAM_MAX	(1u << 21)
#define BIG		(1u << 20)	/* bytes each way in the random test */

static const uint8_t CLI_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t SRV_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t TOOL_DST[6] = { 0x02, 0xaa, 0, 0, 0, 0x10 };
static const uint8_t MARK_SRC[6] = { 0x02, 0xde, 0xc0, 0xde, 0, 0x01 };

/* ------------------------------------------------------------------ */
/* Capture: frames written through the io callbacks, in order.        */

struct frame {
	enum ps_tool_dir dir;
	uint32_t len;
	uint8_t *buf;
};

struct cap {
	struct frame *f;
	unsigned int n, n_max;
	uint8_t zc_buf[FRAME_MAX];	/* zero-copy buffer */
	bool zc_out;			/* a frame_get not yet put */
	unsigned int gets, puts_empty;
	unsigned int fail_null_every;	/* every Nth frame_get returns NULL */
	unsigned int fail_small_every;	/* every Nth frame_get offers 40 bytes */
	unsigned int injected_null, injected_small;
	uint8_t scratch[FRAME_MAX];
	struct ps_tool_stats stats;
	struct ps_tool_io io;
};

static void
cap_add(struct cap *cp, enum ps_tool_dir dir, const uint8_t *frame, uint32_t len)
{
	struct frame *f;

	if (cp->n == cp->n_max) {
		cp->n_max = cp->n_max == 0 ? 256 : 2 * cp->n_max;
		cp->f = realloc(cp->f, cp->n_max * sizeof(*cp->f));
		assert_non_null(cp->f);
	}
	f = &cp->f[cp->n++];
	f->dir = dir;
	f->len = len;
	f->buf = malloc(len);
	assert_non_null(f->buf);
	memcpy(f->buf, frame, len);
}

static uint8_t *
cap_frame_get(void *ctx, enum ps_tool_dir dir, uint32_t *cap)
{
	struct cap *cp = ctx;

	(void)dir;
	assert_false(cp->zc_out);
	cp->gets++;
	if (cp->fail_null_every != 0 && cp->gets % cp->fail_null_every == 0) {
		cp->injected_null++;
		return NULL;
	}
	*cap = sizeof(cp->zc_buf);
	if (cp->fail_small_every != 0 && cp->gets % cp->fail_small_every == 0) {
		cp->injected_small++;
		*cap = 40;
	}
	cp->zc_out = true;
	return cp->zc_buf;
}

static void
cap_frame_put(void *ctx, enum ps_tool_dir dir, uint32_t len)
{
	struct cap *cp = ctx;

	assert_true(cp->zc_out);
	cp->zc_out = false;
	if (len == 0) {
		cp->puts_empty++;
		return;
	}
	assert_true(len <= sizeof(cp->zc_buf));
	cap_add(cp, dir, cp->zc_buf, len);
}

static void
cap_emit(void *ctx, enum ps_tool_dir dir, const uint8_t *frame, uint32_t len)
{
	struct cap *cp = ctx;

	assert_ptr_equal(frame, cp->scratch);
	cap_add(cp, dir, frame, len);
}

/* zero_copy: frame_get/frame_put; else emit from scratch. */
static struct cap *
cap_new(bool zero_copy)
{
	struct cap *cp = calloc(1, sizeof(*cp));

	assert_non_null(cp);
	if (zero_copy) {
		cp->io.frame_get = cap_frame_get;
		cp->io.frame_put = cap_frame_put;
	} else {
		cp->io.emit = cap_emit;
		cp->io.scratch = cp->scratch;
		cp->io.scratch_len = sizeof(cp->scratch);
	}
	cp->io.ctx = cp;
	cp->io.stats = &cp->stats;
	return cp;
}

static void
cap_free(struct cap *cp)
{
	unsigned int i;

	for (i = 0; i < cp->n; i++)
		free(cp->f[i].buf);
	free(cp->f);
	free(cp);
}

/* Parse frame i (it must be a valid TCP frame with right checksums). */
static void
cap_parse(const struct cap *cp, unsigned int i, struct ps_pkt *p)
{
	const struct frame *f;

	assert_true(i < cp->n);
	f = &cp->f[i];
	assert_int_equal(ps_pkt_parse(f->buf, f->len, p), PS_PKT_OK);
	assert_true(p->has_l4);
	assert_int_equal(p->ip_proto, PS_IPPROTO_TCP);
	assert_false(p->is_frag);
	assert_int_equal(p->l3_end, f->len);	/* no padding, no junk */
	assert_true(ps_pkt_ip4_csum_ok(f->buf, p));
	assert_true(ps_pkt_l4_csum_ok(f->buf, p));
}

/* ------------------------------------------------------------------ */
/* Flow identities.                                                   */

static void
addr4(struct ps_ip_addr *a, uint8_t last)
{
	memset(a, 0, sizeof(*a));
	a->b[0] = 10;
	a->b[3] = last;
}

static void
addr6(struct ps_ip_addr *a, uint8_t last)
{
	memset(a, 0, sizeof(*a));
	a->b[0] = 0xfd;
	a->b[1] = 0x00;
	a->b[15] = last;
}

/* The client->server identity of a flow, as ps_proxy's to_srv. */
static void
make_c2s(struct ps_tcp_frame_spec *s, uint8_t l3, uint8_t n_vlans)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->eth.src, CLI_MAC, 6);
	memcpy(s->eth.dst, SRV_MAC, 6);
	s->eth.n_vlans = n_vlans;
	if (n_vlans == 1) {
		s->eth.vlan_tpid[0] = PS_ETH_P_8021Q;
		s->eth.vlan_tci[0] = 100;
	} else if (n_vlans == 2) {
		s->eth.vlan_tpid[0] = PS_ETH_P_8021AD;
		s->eth.vlan_tci[0] = 300;
		s->eth.vlan_tpid[1] = PS_ETH_P_8021Q;
		s->eth.vlan_tci[1] = 7;
	}
	s->l3 = l3;
	if (l3 == PS_L3_IPV4) {
		addr4(&s->src, 1);
		addr4(&s->dst, 2);
	} else {
		addr6(&s->src, 1);
		addr6(&s->dst, 2);
		s->flow_label = 0x12345;
	}
	/* Whatever the proxy's spec holds besides the identity is ignored. */
	s->ttl = 3;
	s->tos = 0xb8;
	s->ip_id = 999;
	s->tcp.sport = 40000;
	s->tcp.dport = 443;
	s->tcp.seq = 77;
	s->tcp.flags = PS_TCP_RST;
	s->tcp.has_ts = true;
	s->tcp.sack_ok = true;
	s->tcp.has_wscale = true;
	s->tcp.wscale = 7;
}

/* What each direction must look like. */
struct ident {
	uint8_t src_mac[6], dst_mac[6];
	uint8_t n_vlans;
	uint16_t tpid[PS_VLAN_MAX], tci[PS_VLAN_MAX];
	uint8_t l3;
	struct ps_ip_addr src, dst;
	uint16_t sport, dport;
	uint32_t flow_label;
};

static void
make_idents(struct ident id[2], const struct ps_tcp_frame_spec *c2s,
	    const struct ps_tool_cfg *cfg)
{
	uint16_t srv_port = cfg->dport_rewrite != 0 ? cfg->dport_rewrite : c2s->tcp.dport;
	int d;

	memset(id, 0, 2 * sizeof(*id));
	for (d = 0; d < 2; d++) {
		memcpy(id[d].src_mac, d == 0 ? c2s->eth.src : c2s->eth.dst, 6);
		memcpy(id[d].dst_mac, d == 0 ? c2s->eth.dst : c2s->eth.src, 6);
		if (cfg->has_src_mac)
			memcpy(id[d].src_mac, cfg->src_mac, 6);
		if (cfg->has_dst_mac)
			memcpy(id[d].dst_mac, cfg->dst_mac, 6);
		if (cfg->has_vlan) {
			id[d].n_vlans = 1;
			id[d].tpid[0] = PS_ETH_P_8021Q;
			id[d].tci[0] = cfg->vlan_tci;
		} else {
			id[d].n_vlans = c2s->eth.n_vlans;
			memcpy(id[d].tpid, c2s->eth.vlan_tpid, sizeof(id[d].tpid));
			memcpy(id[d].tci, c2s->eth.vlan_tci, sizeof(id[d].tci));
		}
		id[d].l3 = c2s->l3;
		id[d].src = d == 0 ? c2s->src : c2s->dst;
		id[d].dst = d == 0 ? c2s->dst : c2s->src;
		id[d].sport = d == 0 ? c2s->tcp.sport : srv_port;
		id[d].dport = d == 0 ? srv_port : c2s->tcp.sport;
		id[d].flow_label = d == 0 ? c2s->flow_label : 0;
	}
}

/* ------------------------------------------------------------------ */
/* Verifier: what a tool reassembling the capture would conclude.     */

struct verifier {
	struct ident id[2];
	uint16_t mss;
	bool allow_gaps;		/* frames may be missing (loss test) */
	unsigned int pos;		/* frames checked so far */
	bool syn[2], fin[2], rst;
	uint32_t isn[2];
	uint32_t nxt[2];		/* next sequence number seen per direction */
	uint32_t acked[2];		/* highest ACK of a direction's bytes */
	bool have_id[2];
	uint16_t ip_id[2];
	uint8_t *stream[2];
	uint8_t *have[2];		/* 1 where a byte of the stream was seen */
	uint32_t stream_len[2];
	uint32_t payload[2];		/* payload bytes seen */
	unsigned int data_segs[2], pure_acks[2];
};

static struct verifier *
ver_new(const struct ps_tcp_frame_spec *c2s, const struct ps_tool_cfg *cfg, uint16_t mss)
{
	struct verifier *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	make_idents(v->id, c2s, cfg);
	v->mss = mss;
	v->stream[0] = calloc(1, STREAM_MAX);
	v->stream[1] = calloc(1, STREAM_MAX);
	v->have[0] = calloc(1, STREAM_MAX);
	v->have[1] = calloc(1, STREAM_MAX);
	assert_non_null(v->stream[0]);
	assert_non_null(v->stream[1]);
	assert_non_null(v->have[0]);
	assert_non_null(v->have[1]);
	return v;
}

static void
ver_free(struct verifier *v)
{
	free(v->stream[0]);
	free(v->stream[1]);
	free(v->have[0]);
	free(v->have[1]);
	free(v);
}

static void
ver_frame(struct verifier *v, const struct cap *cp, unsigned int i)
{
	const struct frame *f = &cp->f[i];
	enum ps_tool_dir d = f->dir;
	int o = 1 - (int)d;
	const struct ident *id = &v->id[d];
	struct ps_pkt p;
	uint32_t off, end;
	uint8_t fl;
	int k;

	cap_parse(cp, i, &p);

	/* Identity. */
	assert_memory_equal(p.src_mac, id->src_mac, 6);
	assert_memory_equal(p.dst_mac, id->dst_mac, 6);
	assert_int_equal(p.n_vlans, id->n_vlans);
	for (k = 0; k < id->n_vlans; k++) {
		assert_int_equal(p.vlan_tpid[k], id->tpid[k]);
		assert_int_equal(p.vlan_tci[k], id->tci[k]);
	}
	assert_int_equal(p.l3, id->l3);
	assert_memory_equal(&p.src, &id->src, sizeof(p.src));
	assert_memory_equal(&p.dst, &id->dst, sizeof(p.dst));
	assert_int_equal(p.sport, id->sport);
	assert_int_equal(p.dport, id->dport);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.tos, 0);
	if (p.l3 == PS_L3_IPV4) {
		assert_true(p.df);
		assert_int_equal(p.l3_hdr_len, PS_IP4_HLEN);
		if (v->have_id[d] && !v->allow_gaps)
			assert_int_equal(p.frag_id, (uint16_t)(v->ip_id[d] + 1));
		v->have_id[d] = true;
		v->ip_id[d] = (uint16_t)p.frag_id;
	} else {
		assert_int_equal(p.flow_label, id->flow_label);
		assert_int_equal(p.l3_hdr_len, PS_IP6_HLEN);
	}

	/* TCP header: no window scaling, SACK or timestamps; MSS on SYNs. */
	fl = p.tcp_flags;
	assert_int_equal(p.window, 65535);
	assert_int_equal(p.urg, 0);
	assert_false(p.has_wscale);
	assert_false(p.sack_ok);
	assert_false(p.has_ts);
	assert_int_equal(p.n_sack, 0);
	assert_int_equal(p.has_mss, (fl & PS_TCP_SYN) != 0);
	if (p.has_mss)
		assert_int_equal(p.mss, v->mss);
	assert_true(fl == PS_TCP_SYN || fl == (PS_TCP_SYN | PS_TCP_ACK) ||
		    fl == PS_TCP_ACK || fl == (PS_TCP_ACK | PS_TCP_PSH) ||
		    fl == (PS_TCP_FIN | PS_TCP_ACK) || fl == (PS_TCP_RST | PS_TCP_ACK));
	assert_false(v->rst);		/* nothing after a RST */
	assert_true(p.payload_len <= v->mss);

	if ((fl & PS_TCP_SYN) != 0) {
		assert_int_equal(p.payload_len, 0);
		if (d == PS_TOOL_C2S) {
			assert_false(v->syn[0]);
			assert_int_equal(fl, PS_TCP_SYN);
			assert_int_equal(p.ack, 0);
		} else {
			assert_true(v->syn[0]);
			assert_false(v->syn[1]);
			assert_int_equal(fl, PS_TCP_SYN | PS_TCP_ACK);
		}
		v->syn[d] = true;
		v->isn[d] = p.seq;
		v->nxt[d] = p.seq;
		v->acked[d] = p.seq;
	} else {
		assert_true(v->syn[0] && v->syn[1]);
		if (v->allow_gaps)
			assert_true((int32_t)(p.seq - v->nxt[d]) >= 0);
		else
			assert_int_equal(p.seq, v->nxt[d]);
	}
	if ((fl & PS_TCP_ACK) != 0) {
		/* Exactly what the other side has sent. */
		if (v->allow_gaps)
			assert_true((int32_t)(p.ack - v->nxt[o]) >= 0);
		else
			assert_int_equal(p.ack, v->nxt[o]);
		v->acked[o] = p.ack;
	}

	if (p.payload_len > 0) {
		assert_false(v->fin[d]);
		off = p.seq - (v->isn[d] + 1);
		assert_true(off < STREAM_MAX && STREAM_MAX - off >= p.payload_len);
		memcpy(v->stream[d] + off, f->buf + p.payload_off, p.payload_len);
		memset(v->have[d] + off, 1, p.payload_len);
		if (off + p.payload_len > v->stream_len[d])
			v->stream_len[d] = off + p.payload_len;
		v->payload[d] += p.payload_len;
		v->data_segs[d]++;
	} else if (fl == PS_TCP_ACK) {
		v->pure_acks[d]++;
	}
	if ((fl & PS_TCP_FIN) != 0) {
		assert_false(v->fin[d]);
		v->fin[d] = true;
	}
	if ((fl & PS_TCP_RST) != 0)
		v->rst = true;
	end = p.seq + p.payload_len + ((fl & (PS_TCP_SYN | PS_TCP_FIN)) != 0 ? 1 : 0);
	if ((int32_t)(end - v->nxt[d]) > 0)
		v->nxt[d] = end;
	/* ACK pacing: never more than two segments in flight. */
	if (!v->allow_gaps)
		assert_true(v->nxt[d] - v->acked[d] <= 2u * v->mss + 1);
}

/* Check the frames captured since the last call. */
static void
ver_run(struct verifier *v, const struct cap *cp)
{
	for (; v->pos < cp->n; v->pos++)
		ver_frame(v, cp, v->pos);
}

/* ------------------------------------------------------------------ */
/* Helpers.                                                           */

static uint32_t rng_state;

static uint32_t
rng(void)
{
	/* xorshift32: reproducible, no libc state */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static uint8_t *
random_bytes(uint32_t len)
{
	uint8_t *b = malloc(len);
	uint32_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)rng();
	return b;
}

/* Segments of a burst of len bytes, and the frames it must take. */
static unsigned int
segs_of(uint32_t len, uint16_t mss)
{
	return (len + mss - 1) / mss;
}

static unsigned int
frames_of(uint32_t len, uint16_t mss)
{
	unsigned int k = segs_of(len, mss);

	/* an ACK after each second segment, and after a lone last one */
	return k + (k + 1) / 2;
}

static void
flags_at(const struct cap *cp, unsigned int i, enum ps_tool_dir dir, uint8_t flags,
	 uint32_t seq, uint32_t ack)
{
	struct ps_pkt p;

	cap_parse(cp, i, &p);
	assert_int_equal(cp->f[i].dir, dir);
	assert_int_equal(p.tcp_flags, flags);
	assert_int_equal(p.seq, seq);
	assert_int_equal(p.ack, ack);
	assert_int_equal(p.payload_len, 0);
}

/* ------------------------------------------------------------------ */
/* Tests.                                                             */

static void
test_handshake(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(true);
	struct verifier *v;
	struct ps_pkt p;

	(void)state;
	make_c2s(&c2s, PS_L3_IPV4, 2);
	assert_int_equal(ps_tool_open(&conv, &cfg, &c2s, 0x11223344, 0xa0b0c0d0, &cp->io), 0);
	assert_int_equal(cp->n, 3);
	assert_int_equal(conv.mss, PS_TOOL_MSS4);
	flags_at(cp, 0, PS_TOOL_C2S, PS_TCP_SYN, 0x11223344, 0);
	flags_at(cp, 1, PS_TOOL_S2C, PS_TCP_SYN | PS_TCP_ACK, 0xa0b0c0d0, 0x11223345);
	flags_at(cp, 2, PS_TOOL_C2S, PS_TCP_ACK, 0x11223345, 0xa0b0c0d1);
	cap_parse(cp, 0, &p);
	assert_true(p.has_mss);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.frag_id, 0x1122);	/* from the ISN's upper half */
	cap_parse(cp, 1, &p);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.frag_id, 0xa0b0);
	cap_parse(cp, 2, &p);
	assert_int_equal(p.frag_id, 0x1123);
	/* identity: QinQ tags kept, MACs and addresses mirrored */
	v = ver_new(&c2s, &cfg, PS_TOOL_MSS4);
	ver_run(v, cp);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_CONVS], 1);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_FRAMES], 3);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_FRAMES_LOST], 0);
	assert_false(ps_tool_done(&conv));
	ver_free(v);
	cap_free(cp);
}

/*
 * 1 MB each way in random bursts, directions interleaved; sequence numbers
 * wrap. Checks every frame, the ACK pacing per burst, and both streams.
 */
static void
random_streams(uint8_t l3, uint8_t n_vlans, const struct ps_tool_cfg *cfg, uint16_t mss,
	       bool zero_copy)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(zero_copy);
	struct verifier *v;
	uint8_t *src[2];
	uint32_t fed[2] = { 0, 0 }, len, r;
	unsigned int before, calls = 0;
	enum ps_tool_dir d;

	rng_state = 0x9e3779b9u ^ l3 ^ ((uint32_t)mss << 8);
	src[0] = random_bytes(BIG);
	src[1] = random_bytes(BIG);
	make_c2s(&c2s, l3, n_vlans);
	/* client ISN wraps during the test, the server's at the start */
	assert_int_equal(ps_tool_open(&conv, cfg, &c2s, 0xfff80000u, 0xffffffffu, &cp->io), 0);
	assert_int_equal(conv.mss, mss);
	v = ver_new(&c2s, cfg, mss);
	ver_run(v, cp);

	while (fed[0] < BIG || fed[1] < BIG) {
		d = fed[0] == BIG ? PS_TOOL_S2C : fed[1] == BIG ? PS_TOOL_C2S :
		    (rng() & 1) ? PS_TOOL_S2C : PS_TOOL_C2S;
		r = rng() % 8;
		if (r == 0)
			len = 0;
		else if (r < 3)
			len = 1 + rng() % 100;
		else if (r < 6)
			len = 1 + rng() % (3u * mss);
		else if (r < 7)
			len = mss * (1 + rng() % 4);
		else
			len = 1 + rng() % 40000;
		if (len > BIG - fed[d])
			len = BIG - fed[d];
		before = cp->n;
		ps_tool_data(&conv, d, src[d] + fed[d], len, &cp->io);
		fed[d] += len;
		calls++;
		assert_int_equal(cp->n - before, frames_of(len, mss));
		ver_run(v, cp);
		/* end of the burst: every byte of it is acknowledged */
		assert_int_equal(v->acked[d], v->nxt[d]);
		assert_int_equal(conv.seq[d], v->nxt[d]);
		if (len > 0) {
			/* the last frame is the other side's ACK */
			assert_int_equal(cp->f[cp->n - 1].dir, 1 - d);
		}
	}
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	ps_tool_close(&conv, PS_TOOL_S2C, false, &cp->io);
	assert_true(ps_tool_done(&conv));
	ver_run(v, cp);
	assert_true(v->fin[0] && v->fin[1]);
	assert_int_equal(v->acked[0], v->nxt[0]);
	assert_int_equal(v->acked[1], v->nxt[1]);
	assert_int_equal(v->stream_len[0], BIG);
	assert_int_equal(v->stream_len[1], BIG);
	assert_int_equal(v->payload[0], BIG);	/* no overlap, no retransmission */
	assert_int_equal(v->payload[1], BIG);
	assert_memory_equal(v->stream[0], src[0], BIG);
	assert_memory_equal(v->stream[1], src[1], BIG);
	assert_true(v->data_segs[0] >= BIG / mss);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_BYTES], 2ull * BIG);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_FRAMES], cp->n);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_FRAMES_LOST], 0);
	assert_int_equal(conv.frames_lost, 0);
	assert_true(calls > 100);
	ver_free(v);
	free(src[0]);
	free(src[1]);
	cap_free(cp);
}

static void
test_streams_ipv4(void **state)
{
	struct ps_tool_cfg cfg = { 0 };

	(void)state;
	random_streams(PS_L3_IPV4, 0, &cfg, PS_TOOL_MSS4, true);
}

static void
test_streams_ipv6(void **state)
{
	struct ps_tool_cfg cfg = { 0 };

	(void)state;
	random_streams(PS_L3_IPV6, 1, &cfg, PS_TOOL_MSS6, true);
}

/* Tool options: one new tag, server port 80, fixed MACs; IPv4 and IPv6. */
static void
test_options(void **state)
{
	struct ps_tool_cfg cfg = {
		.mss = 1200,
		.dport_rewrite = 80,
		.has_vlan = true,
		.vlan_tci = 0x2ffe,	/* PCP 1, VID 4094 */
		.has_dst_mac = true,
		.has_src_mac = true,
	};

	(void)state;
	memcpy(cfg.dst_mac, TOOL_DST, 6);
	memcpy(cfg.src_mac, MARK_SRC, 6);
	random_streams(PS_L3_IPV6, 2, &cfg, 1200, true);
	random_streams(PS_L3_IPV4, 0, &cfg, 1200, false);
	cfg.has_vlan = false;
	cfg.has_src_mac = false;
	cfg.mss = 536;
	random_streams(PS_L3_IPV4, 1, &cfg, 536, true);
}

/* The emit path writes the very frames the zero-copy path writes. */
static void
test_emit_same_frames(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { .dport_rewrite = 8080 };
	struct ps_tool_conv conv[2];
	struct cap *cp[2] = { cap_new(true), cap_new(false) };
	uint8_t *data;
	unsigned int i, k;

	(void)state;
	rng_state = 12345;
	data = random_bytes(10000);
	make_c2s(&c2s, PS_L3_IPV4, 1);
	for (k = 0; k < 2; k++) {
		ps_tool_open(&conv[k], &cfg, &c2s, 1000, 2000, &cp[k]->io);
		ps_tool_data(&conv[k], PS_TOOL_C2S, data, 300, &cp[k]->io);
		ps_tool_data(&conv[k], PS_TOOL_S2C, data, 10000, &cp[k]->io);
		ps_tool_close(&conv[k], PS_TOOL_S2C, false, &cp[k]->io);
		ps_tool_data(&conv[k], PS_TOOL_C2S, data + 300, 2000, &cp[k]->io);
		ps_tool_close(&conv[k], PS_TOOL_C2S, false, &cp[k]->io);
	}
	assert_int_equal(cp[0]->n, cp[1]->n);
	assert_true(cp[0]->n > 15);
	for (i = 0; i < cp[0]->n; i++) {
		assert_int_equal(cp[0]->f[i].dir, cp[1]->f[i].dir);
		assert_int_equal(cp[0]->f[i].len, cp[1]->f[i].len);
		assert_memory_equal(cp[0]->f[i].buf, cp[1]->f[i].buf, cp[0]->f[i].len);
	}
	/* emit without a scratch large enough: lost, counted */
	cp[1]->io.scratch_len = 100;
	ps_tool_open(&conv[1], &cfg, &c2s, 1000, 2000, &cp[1]->io);
	i = cp[1]->n;
	ps_tool_data(&conv[1], PS_TOOL_C2S, data, 2000, &cp[1]->io);
	assert_int_equal(cp[1]->n, i + 1);	/* the pure ACK fits, the 2 segments do not */
	assert_int_equal(conv[1].frames_lost, 2);
	assert_int_equal(cp[1]->stats.cnt[PS_TOOL_CNT_BYTES_LOST], 2000);
	free(data);
	cap_free(cp[0]);
	cap_free(cp[1]);
}

/* Full close started by either side: FIN, FIN-ACK, ACK; idempotent. */
static void
test_fin(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp;
	uint32_t seq[2];
	unsigned int n;
	int closer, other;

	(void)state;
	for (closer = 0; closer < 2; closer++) {
		other = 1 - closer;
		cp = cap_new(true);
		make_c2s(&c2s, closer == 0 ? PS_L3_IPV4 : PS_L3_IPV6, 0);
		ps_tool_open(&conv, &cfg, &c2s, 5000, 9000, &cp->io);
		ps_tool_data(&conv, PS_TOOL_C2S, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18,
			     &cp->io);
		ps_tool_data(&conv, PS_TOOL_S2C, (const uint8_t *)"HTTP/1.0 200 OK\r\n\r\n", 19,
			     &cp->io);
		seq[0] = 5001 + 18;
		seq[1] = 9001 + 19;
		n = cp->n;
		ps_tool_close(&conv, (enum ps_tool_dir)closer, false, &cp->io);
		assert_int_equal(cp->n, n + 1);	/* the ACK of the FIN waits */
		assert_false(ps_tool_done(&conv));
		ps_tool_close(&conv, (enum ps_tool_dir)closer, false, &cp->io);
		assert_int_equal(cp->n, n + 1);
		ps_tool_close(&conv, (enum ps_tool_dir)other, false, &cp->io);
		assert_int_equal(cp->n, n + 3);
		assert_true(ps_tool_done(&conv));
		flags_at(cp, n, (enum ps_tool_dir)closer, PS_TCP_FIN | PS_TCP_ACK,
			 seq[closer], seq[other]);
		flags_at(cp, n + 1, (enum ps_tool_dir)other, PS_TCP_FIN | PS_TCP_ACK,
			 seq[other], seq[closer] + 1);
		flags_at(cp, n + 2, (enum ps_tool_dir)closer, PS_TCP_ACK,
			 seq[closer] + 1, seq[other] + 1);
		/* nothing after the end */
		ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
		ps_tool_close(&conv, PS_TOOL_S2C, true, &cp->io);
		ps_tool_flush(&conv, &cp->io);
		ps_tool_data(&conv, PS_TOOL_S2C, (const uint8_t *)"x", 1, &cp->io);
		assert_int_equal(cp->n, n + 3);
		assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_LATE_DATA], 1);
		assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_RESETS], 0);
		cap_free(cp);
	}
}

/* ps_tool_flush() sends the delayed ACK of a FIN: FIN, ACK, FIN, ACK. */
static void
test_flush(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(true);
	unsigned int n;

	(void)state;
	make_c2s(&c2s, PS_L3_IPV4, 0);
	ps_tool_open(&conv, &cfg, &c2s, 100, 200, &cp->io);
	ps_tool_flush(&conv, &cp->io);	/* nothing pending */
	assert_int_equal(cp->n, 3);
	ps_tool_close(&conv, PS_TOOL_S2C, false, &cp->io);
	n = cp->n;
	ps_tool_flush(&conv, &cp->io);
	assert_int_equal(cp->n, n + 1);
	flags_at(cp, n, PS_TOOL_C2S, PS_TCP_ACK, 101, 202);
	ps_tool_flush(&conv, &cp->io);
	assert_int_equal(cp->n, n + 1);
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	assert_int_equal(cp->n, n + 3);
	flags_at(cp, n + 1, PS_TOOL_C2S, PS_TCP_FIN | PS_TCP_ACK, 101, 202);
	flags_at(cp, n + 2, PS_TOOL_S2C, PS_TCP_ACK, 202, 102);
	assert_true(ps_tool_done(&conv));
	cap_free(cp);
}

/*
 * Half-close: the client's FIN, then the server goes on sending (its first
 * segment acknowledges the FIN, the client ACKs past its FIN), the client's
 * late data is dropped, then the server's FIN and the final ACK.
 */
static void
test_half_close(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(true);
	struct verifier *v;
	struct ps_pkt p;
	uint8_t *data;
	unsigned int n;

	(void)state;
	rng_state = 777;
	data = random_bytes(5000);
	make_c2s(&c2s, PS_L3_IPV4, 1);
	ps_tool_open(&conv, &cfg, &c2s, 1, 0x80000000u, &cp->io);
	v = ver_new(&c2s, &cfg, PS_TOOL_MSS4);
	ps_tool_data(&conv, PS_TOOL_C2S, data, 700, &cp->io);
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	n = cp->n;
	ps_tool_data(&conv, PS_TOOL_S2C, data, 5000, &cp->io);
	assert_int_equal(cp->n, n + frames_of(5000, PS_TOOL_MSS4));
	cap_parse(cp, n, &p);
	assert_int_equal(cp->f[n].dir, PS_TOOL_S2C);
	assert_int_equal(p.ack, 2 + 700 + 1);	/* data and FIN */
	cap_parse(cp, cp->n - 1, &p);
	assert_int_equal(cp->f[cp->n - 1].dir, PS_TOOL_C2S);
	assert_int_equal(p.seq, 2 + 700 + 1);
	assert_int_equal(p.ack, 0x80000001u + 5000);
	n = cp->n;
	ps_tool_data(&conv, PS_TOOL_C2S, data, 10, &cp->io);
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	assert_int_equal(cp->n, n);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_LATE_DATA], 10);
	ps_tool_close(&conv, PS_TOOL_S2C, false, &cp->io);
	assert_int_equal(cp->n, n + 2);
	flags_at(cp, n, PS_TOOL_S2C, PS_TCP_FIN | PS_TCP_ACK, 0x80000001u + 5000, 703);
	flags_at(cp, n + 1, PS_TOOL_C2S, PS_TCP_ACK, 703, 0x80000001u + 5001);
	assert_true(ps_tool_done(&conv));
	ver_run(v, cp);
	assert_int_equal(v->stream_len[0], 700);
	assert_int_equal(v->stream_len[1], 5000);
	assert_memory_equal(v->stream[0], data, 700);
	assert_memory_equal(v->stream[1], data, 5000);
	ver_free(v);
	free(data);
	cap_free(cp);
}

/* RST from either side, established or after a FIN from either side. */
static void
test_rst(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp;
	struct verifier *v;
	uint32_t seq[2];
	unsigned int n;
	int rster, finner;

	(void)state;
	for (rster = 0; rster < 2; rster++) {
		/* finner 2: no FIN before the RST */
		for (finner = 0; finner < 3; finner++) {
			cp = cap_new(true);
			make_c2s(&c2s, PS_L3_IPV6, 0);
			ps_tool_open(&conv, &cfg, &c2s, 0xfffffff0u, 42, &cp->io);
			v = ver_new(&c2s, &cfg, PS_TOOL_MSS6);
			ps_tool_data(&conv, PS_TOOL_C2S, (const uint8_t *)"hello", 5, &cp->io);
			ps_tool_data(&conv, PS_TOOL_S2C, (const uint8_t *)"world!", 6, &cp->io);
			seq[0] = 0xfffffff1u + 5;
			seq[1] = 43 + 6;
			if (finner < 2) {
				ps_tool_close(&conv, (enum ps_tool_dir)finner, false, &cp->io);
				seq[finner]++;
			}
			n = cp->n;
			ps_tool_close(&conv, (enum ps_tool_dir)rster, true, &cp->io);
			assert_int_equal(cp->n, n + 1);
			flags_at(cp, n, (enum ps_tool_dir)rster, PS_TCP_RST | PS_TCP_ACK,
				 seq[rster], seq[1 - rster]);
			assert_true(ps_tool_done(&conv));
			assert_true((conv.flags & PS_TOOL_F_RESET) != 0);
			ps_tool_close(&conv, (enum ps_tool_dir)(1 - rster), true, &cp->io);
			ps_tool_close(&conv, (enum ps_tool_dir)(1 - rster), false, &cp->io);
			ps_tool_flush(&conv, &cp->io);
			ps_tool_data(&conv, PS_TOOL_C2S, (const uint8_t *)"x", 1, &cp->io);
			assert_int_equal(cp->n, n + 1);
			assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_RESETS], 1);
			ver_run(v, cp);
			assert_true(v->rst);
			assert_int_equal(v->stream_len[0], 5);
			assert_int_equal(v->stream_len[1], 6);
			ver_free(v);
			cap_free(cp);
		}
	}
}

/*
 * frame_get failures: NULL buffers and buffers too small. They are counted,
 * the sequence numbers advance over them (the tool sees a gap), and every
 * frame that is written is right.
 */
static void
test_frame_loss(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(true);
	struct verifier *v;
	struct ps_pkt p;
	uint8_t *data;
	uint32_t fed = 0, len, i;
	uint64_t seen, present;

	(void)state;
	rng_state = 4242;
	data = random_bytes(200000);
	cp->fail_null_every = 7;
	cp->fail_small_every = 11;
	make_c2s(&c2s, PS_L3_IPV4, 0);
	ps_tool_open(&conv, &cfg, &c2s, 10, 20, &cp->io);
	/* the handshake may not lose frames here: gets 1..3 */
	assert_int_equal(cp->n, 3);
	v = ver_new(&c2s, &cfg, PS_TOOL_MSS4);
	v->allow_gaps = true;
	while (fed < 200000) {
		len = 1 + rng() % 9000;
		if (len > 200000 - fed)
			len = 200000 - fed;
		ps_tool_data(&conv, PS_TOOL_C2S, data + fed, len, &cp->io);
		ps_tool_data(&conv, PS_TOOL_S2C, data + fed, len, &cp->io);
		fed += len;
	}
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	ps_tool_close(&conv, PS_TOOL_S2C, false, &cp->io);
	ver_run(v, cp);

	assert_true(cp->injected_null > 10);
	assert_true(cp->injected_small > 10);
	assert_int_equal(cp->puts_empty, cp->injected_small);
	assert_int_equal(conv.frames_lost, cp->injected_null + cp->injected_small);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_FRAMES_LOST], conv.frames_lost);
	assert_int_equal(cp->stats.cnt[PS_TOOL_CNT_FRAMES], cp->n);
	assert_int_equal(cp->n + conv.frames_lost, cp->gets);
	/* what was written is in place; what was lost is the rest */
	assert_true(v->payload[0] < 200000 && v->payload[1] < 200000);
	seen = (uint64_t)v->payload[0] + v->payload[1];
	assert_int_equal(seen, cp->stats.cnt[PS_TOOL_CNT_BYTES]);
	assert_int_equal(seen + cp->stats.cnt[PS_TOOL_CNT_BYTES_LOST], 400000);
	present = 0;
	for (i = 0; i < 200000; i++) {
		if (v->have[0][i]) {
			assert_int_equal(v->stream[0][i], data[i]);
			present++;
		}
		if (v->have[1][i]) {
			assert_int_equal(v->stream[1][i], data[i]);
			present++;
		}
	}
	assert_int_equal(present, seen);	/* no byte twice */
	/* the sequence space is whole: the end is where it would be */
	assert_int_equal(conv.seq[0], 11 + 200000 + 1);
	assert_int_equal(conv.seq[1], 21 + 200000 + 1);
	for (i = 0; i < cp->n; i++) {
		cap_parse(cp, i, &p);
		if ((p.tcp_flags & PS_TCP_ACK) != 0 && cp->f[i].dir == PS_TOOL_C2S &&
		    (p.tcp_flags & PS_TCP_FIN) != 0)
			assert_int_equal(p.seq, 11 + 200000);
	}
	ver_free(v);
	free(data);
	cap_free(cp);
}

/* Empty data, a conversation never opened, bad identities, MSS limits. */
static void
test_edges(void **state)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { 0 };
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(true);
	struct ps_pkt p;
	uint8_t data[20000];

	(void)state;
	memset(data, 'a', sizeof(data));
	memset(&conv, 0, sizeof(conv));
	ps_tool_data(&conv, PS_TOOL_C2S, data, 10, &cp->io);
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	ps_tool_close(&conv, PS_TOOL_C2S, true, &cp->io);
	ps_tool_flush(&conv, &cp->io);
	assert_int_equal(cp->gets, 0);
	assert_false(ps_tool_done(&conv));

	make_c2s(&c2s, PS_L3_NONE, 0);
	assert_int_equal(ps_tool_open(&conv, &cfg, &c2s, 1, 2, &cp->io), -EINVAL);
	make_c2s(&c2s, PS_L3_IPV4, 0);
	c2s.eth.n_vlans = 3;
	assert_int_equal(ps_tool_open(&conv, &cfg, &c2s, 1, 2, &cp->io), -EINVAL);
	ps_tool_data(&conv, PS_TOOL_C2S, data, 10, &cp->io);
	assert_int_equal(cp->gets, 0);

	make_c2s(&c2s, PS_L3_IPV4, 0);
	assert_int_equal(ps_tool_open(&conv, &cfg, &c2s, 1, 2, &cp->io), 0);
	ps_tool_data(&conv, PS_TOOL_C2S, data, 0, &cp->io);
	ps_tool_data(&conv, PS_TOOL_S2C, NULL, 0, &cp->io);
	assert_int_equal(cp->gets, 3);

	/* MSS limits, and exact-MSS bursts: 2 segments, 1 ACK */
	cfg.mss = 10;
	ps_tool_open(&conv, &cfg, &c2s, 1, 2, &cp->io);
	assert_int_equal(conv.mss, PS_TOOL_MSS_MIN);
	cfg.mss = 60000;
	ps_tool_open(&conv, &cfg, &c2s, 1, 2, &cp->io);
	assert_int_equal(conv.mss, PS_TOOL_MSS_MAX);
	cap_parse(cp, cp->n - 2, &p);
	assert_int_equal(p.mss, PS_TOOL_MSS_MAX);
	ps_tool_data(&conv, PS_TOOL_C2S, data, 2 * PS_TOOL_MSS_MAX, &cp->io);
	cap_parse(cp, cp->n - 3, &p);
	assert_int_equal(p.payload_len, PS_TOOL_MSS_MAX);
	assert_int_equal(p.tcp_flags, PS_TCP_ACK);
	cap_parse(cp, cp->n - 2, &p);
	assert_int_equal(p.payload_len, PS_TOOL_MSS_MAX);
	assert_int_equal(p.tcp_flags, PS_TCP_ACK | PS_TCP_PSH);
	cap_parse(cp, cp->n - 1, &p);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.ack, 2 + 2 * PS_TOOL_MSS_MAX);

	assert_string_equal(ps_tool_counter_name(PS_TOOL_CNT_FRAMES_LOST), "frames_lost");
	assert_string_equal(ps_tool_counter_name(PS_TOOL_CNT_MAX), "invalid");
	cap_free(cp);
}

/* ------------------------------------------------------------------ */
/* pcap files for real tools.                                         */

static void
put_le32(FILE *fp, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	assert_int_equal(fwrite(b, 1, 4, fp), 4);
}

static void
put_le16(FILE *fp, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	assert_int_equal(fwrite(b, 1, 2, fp), 2);
}

/* Classic pcap (little-endian, microseconds, LINKTYPE_ETHERNET). */
static void
pcap_write(const char *path, const struct cap *cp)
{
	FILE *fp = fopen(path, "wb");
	unsigned int i;

	assert_non_null(fp);
	put_le32(fp, 0xa1b2c3d4u);
	put_le16(fp, 2);
	put_le16(fp, 4);
	put_le32(fp, 0);		/* thiszone */
	put_le32(fp, 0);		/* sigfigs */
	put_le32(fp, 65535);		/* snaplen */
	put_le32(fp, 1);		/* Ethernet */
	for (i = 0; i < cp->n; i++) {
		put_le32(fp, 1700000000u + i / 10000);
		put_le32(fp, (i % 10000) * 100);
		put_le32(fp, cp->f[i].len);
		put_le32(fp, cp->f[i].len);
		assert_int_equal(fwrite(cp->f[i].buf, 1, cp->f[i].len, fp), cp->f[i].len);
	}
	assert_int_equal(fclose(fp), 0);
}

static bool
have_program(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* GET /secret HTTP/1.1, Host: example.test */
static const char req[] = "GET /secret HTTP/1.1\r\nHost: example.test\r\n\r\n";
/* HTTP/1.1 200 OK, Content-Length: 100000 */
static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";

/* A conversation worth reassembling: HTTP over a rewritten port, big body. */
static struct cap *
http_conversation(uint8_t l3, uint8_t **body_out, uint32_t body_len)
{
	struct ps_tcp_frame_spec c2s;
	struct ps_tool_cfg cfg = { .dport_rewrite = 80, .has_src_mac = true };
	struct ps_tool_conv conv;
	struct cap *cp = cap_new(true);
	uint8_t *body;

	rng_state = 2024;
	body = random_bytes(body_len);
	memcpy(cfg.src_mac, MARK_SRC, 6);
	make_c2s(&c2s, l3, 1);
	ps_tool_open(&conv, &cfg, &c2s, 0xfffff000u, 0x12345678u, &cp->io);
	ps_tool_data(&conv, PS_TOOL_C2S, (const uint8_t *)req, sizeof(req) - 1, &cp->io);
	ps_tool_data(&conv, PS_TOOL_S2C, (const uint8_t *)hdr, sizeof(hdr) - 1, &cp->io);
	ps_tool_data(&conv, PS_TOOL_S2C, body, body_len, &cp->io);
	ps_tool_data(&conv, PS_TOOL_C2S, body, 5000, &cp->io);
	ps_tool_close(&conv, PS_TOOL_C2S, false, &cp->io);
	ps_tool_close(&conv, PS_TOOL_S2C, false, &cp->io);
	*body_out = body;
	return cp;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * tshark's "follow,tcp,raw" prints the payload of each segment as a hex
 * line: the client's (node 0) as is, the server's indented by a tab.
 * Fills both streams, returns false when tshark failed.
 */
static bool
tshark_follow(const char *pcap, uint8_t *out[2], uint32_t len[2], uint32_t cap)
{
	char cmd[512], line[8192];
	FILE *fp;
	bool in_data = false;
	size_t i;
	int d;

	snprintf(cmd, sizeof(cmd), "timeout 120 tshark -n -r '%s' -q -z follow,tcp,raw,0 2>/dev/null", pcap);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	len[0] = len[1] = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "Node 1:", 7) == 0) {
			in_data = true;
			continue;
		}
		if (!in_data)
			continue;
		if (line[0] == '=')
			break;
		d = line[0] == '\t';
		for (i = (size_t)d; hexval(line[i]) >= 0 && hexval(line[i + 1]) >= 0; i += 2) {
			assert_true(len[d] < cap);
			out[d][len[d]++] = (uint8_t)(hexval(line[i]) << 4 | hexval(line[i + 1]));
		}
	}
	return pclose(fp) == 0 && in_data;
}

/* tshark's expert analysis finds no warning or error (lost segments, ACKs
 * of unseen data, retransmissions, window problems, bad checksums). */
static bool
tshark_no_warnings(const char *pcap)
{
	char cmd[512], line[1024];
	FILE *fp;
	bool clean = true;

	snprintf(cmd, sizeof(cmd),
		 "timeout 120 tshark -n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
		 "-r '%s' -q -z expert,warn 2>/dev/null", pcap);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "Warns", 5) == 0 || strncmp(line, "Errors", 6) == 0) {
			fprintf(stderr, "tshark: %s", line);
			clean = false;
		}
	}
	return pclose(fp) == 0 && clean;
}

/*
 * The pcap of an HTTP conversation (IPv4 and IPv6) read by tshark, when it
 * is installed: TCP reassembly gives back both byte streams, and the expert
 * analysis has nothing to say.
 */
static void
test_pcap_tshark(void **state)
{
	char dir[] = "/tmp/ps_tool_XXXXXX", path[64];
	uint8_t *body, *got[2];
	uint32_t len[2];
	struct cap *cp;
	bool follow_ok, clean;
	int k;

	(void)state;
	if (!have_program("tshark"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/conv.pcap", dir);
	got[0] = malloc(200000);
	got[1] = malloc(200000);
	assert_non_null(got[0]);
	assert_non_null(got[1]);
	for (k = 0; k < 2; k++) {
		cp = http_conversation(k == 0 ? PS_L3_IPV4 : PS_L3_IPV6, &body, 100000);
		pcap_write(path, cp);
		cap_free(cp);
		follow_ok = tshark_follow(path, got, len, 200000);
		clean = tshark_no_warnings(path);
		unlink(path);
		assert_true(follow_ok);
		assert_true(clean);
		assert_int_equal(len[0], sizeof(req) - 1 + 5000);
		assert_memory_equal(got[0], req, sizeof(req) - 1);
		assert_memory_equal(got[0] + sizeof(req) - 1, body, 5000);
		assert_int_equal(len[1], sizeof(hdr) - 1 + 100000);
		assert_memory_equal(got[1], hdr, sizeof(hdr) - 1);
		assert_memory_equal(got[1] + sizeof(hdr) - 1, body, 100000);
		free(body);
	}
	rmdir(dir);
	free(got[0]);
	free(got[1]);
}

/*
 * tcpdump verifies the IP and TCP checksums of every frame with -vv; count
 * its verdicts, for IPv4 and IPv6.
 */
static void
test_pcap_tcpdump(void **state)
{
	char dir[] = "/tmp/ps_tool_XXXXXX", path[64], cmd[256], line[4096];
	uint8_t *body;
	unsigned int correct, incorrect, frames, k;
	struct cap *cp;
	FILE *fp;

	(void)state;
	if (!have_program("tcpdump"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/conv.pcap", dir);
	for (k = 0; k < 2; k++) {
		cp = http_conversation(k == 0 ? PS_L3_IPV4 : PS_L3_IPV6, &body, 30000);
		frames = cp->n;
		pcap_write(path, cp);
		cap_free(cp);
		free(body);
		snprintf(cmd, sizeof(cmd), "tcpdump -r '%s' -nn -vv 2>/dev/null", path);
		fp = popen(cmd, "r");
		assert_non_null(fp);
		correct = incorrect = 0;
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strstr(line, "(correct)") != NULL)
				correct++;
			if (strstr(line, "incorrect") != NULL || strstr(line, "bad cksum") != NULL)
				incorrect++;
		}
		assert_int_equal(pclose(fp), 0);
		unlink(path);
		assert_int_equal(incorrect, 0);
		assert_int_equal(correct, frames);
	}
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_streams_ipv4),
		cmocka_unit_test(test_streams_ipv6),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_emit_same_frames),
		cmocka_unit_test(test_fin),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_rst),
		cmocka_unit_test(test_frame_loss),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_pcap_tshark),
		cmocka_unit_test(test_pcap_tcpdump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
