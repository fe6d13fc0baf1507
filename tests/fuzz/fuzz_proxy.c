/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the per-flow transparent TCP proxy (ps_proxy). The
 * proxy is opened from a fixed client SYN, then the input is a program of
 * operations on it, every segment a real frame built, parsed and fed as the
 * data plane does.
 *
 * Input (multi-byte operands big-endian, missing bytes read as 0):
 *
 *   hdr    u8   bit0 IPv6, bit1 one VLAN tag, bit2 bare SYN (no options),
 *               bit3 proxy offers no SACK and no timestamps, bit4 1 KiB
 *               chunks (else 4 KiB), bit5 keep-alive and idle timeout on,
 *               bit6 zero-copy output (frame_get/frame_put, every 7th
 *               frame_get fails as a lost frame)
 *   then operations until the input ends, ps_proxy_done() or 2000 steps:
 *   op     u8   op % 8:
 *     0, 6  segment from the client      (operands: SEG below)
 *     1, 7  segment from the server      (SEG)
 *     2     raw frame: side u8 (bit0: server), len u16 % 2048, len bytes;
 *           fed only when it parses OK and is TCP
 *     3     time: ms u16; now += ms * 1000, then the timers when due
 *     4     jump to ps_proxy_deadline() when there is one, run the timers
 *     5     abort: guard u8, ps_proxy_abort() when guard < 32
 *
 *   SEG    mode u8   bit0 seq absolute, else a delta from the endpoint's
 *                    rcv_nxt; bit1 ack absolute, else a delta from its
 *                    snd_max; bit2 timestamps absolute, else ts_val is a
 *                    delta from its ts_recent and ts_ecr a delta from the
 *                    last ts_val the proxy sent to that side
 *          flags u8  PS_TCP_* (SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...)
 *          seq u32, ack u32 (deltas as int32)
 *          window u16
 *          opts u8   bit0 MSS (+ u16), bit1 window scale (+ u8), bit2
 *                    SACK-permitted, bit3 timestamps (+ val u32, ecr u32),
 *                    bits4-6 SACK blocks % 5, each start u16 (delta from
 *                    snd_una) and length u16; blocks that do not fit in
 *                    the 40 option bytes are dropped
 *          len u16   payload bytes, % 1501; the bytes themselves are not in
 *                    the input: byte k of each direction's stream is a
 *                    fixed function of k (see stream_byte())
 *
 * The client's SYN: 198.18.0.1:40000 -> 198.18.0.2:443 (IPv6 fd00::1 ->
 * fd00::2), seq 0xffffff00 (the stream wraps after 255 bytes), MSS 1460,
 * SACK-permitted, timestamps (val 100), window scale 7. The proxy's ISNs:
 * 1000 towards the client, 0xfffff000 towards the server.
 *
 * Invariants (abort() on violation): every emitted frame parses OK, has
 * good IPv4 header and TCP checksums, carries the connection's MACs, tags,
 * addresses and ports in the direction of its side and at most 1500 bytes
 * of payload; every relayed byte is the byte of the other direction's
 * stream at that offset (until a raw frame from that side was fed); each
 * endpoint's ps_tcp_mem() stays <= snd_buf + rcv_buf + 2 chunks (so both
 * together <= 2 * (snd_buf + rcv_buf) + 4 chunks: with both directions
 * back-pressured, all four buffers can be full and start mid-chunk); the
 * relayed byte counters never decrease; after the timers ran, no deadline
 * is already due; after an abort the proxy is done; nothing is left after
 * ps_proxy_free() (and LeakSanitizer sees no leak).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_pkt.h"
#include "ps_proxy.h"
#include "ps_tcp.h"
#include "fuzz_reader.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define STEPS_MAX	2000
#define PAYLOAD_MAX	1500
#define FRAME_MAX	2048
#define RAW_MAX		2048
#define BUF_BYTES	(16u * 1024)

#define CLI_SYN_SEQ	0xffffff00u
#define ISS_CLI		1000u
#define ISS_SRV		0xfffff000u

#define HDR_IPV6	0x01u
#define HDR_VLAN	0x02u
#define HDR_BARE_SYN	0x04u
#define HDR_NO_OPTS	0x08u
#define HDR_SMALL_CHUNK	0x10u
#define HDR_KEEPALIVE	0x20u
#define HDR_ZERO_COPY	0x40u	/* frames built in place (frame_get/frame_put);
				 * every 7th frame_get fails, as a lost frame */

#define SEG_SEQ_ABS	0x01u
#define SEG_ACK_ABS	0x02u
#define SEG_TS_ABS	0x04u

static const uint8_t CLI_MAC[PS_ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t SRV_MAC[PS_ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x02 };

struct fz {
	struct ps_tcp_cfg cfg;
	struct ps_tcp_stats stats;
	struct ps_proxy px;
	struct ps_proxy_io io;
	struct ps_tcp_out out;
	uint64_t now;
	/* the frames each peer sends: [PS_SIDE_CLI] the client's */
	struct ps_tcp_frame_spec tmpl[2];
	/* a raw frame from that side was fed: its stream is no longer ours */
	bool tainted[2];
	uint32_t last_tsval[2];		/* last ts_val the proxy sent towards side */
	uint64_t relayed[2];
	uint8_t payload[PAYLOAD_MAX];
	uint8_t frame[FRAME_MAX];
	uint8_t zc_buf[FRAME_MAX];	/* HDR_ZERO_COPY output buffer */
	bool zc_out;
	unsigned int zc_gets;
};

static uint8_t scratch[PS_PROXY_SCRATCH];

/* Byte k of the stream sent by side (both peers send a known stream). */
static inline uint8_t
stream_byte(enum ps_proxy_side from, uint32_t k)
{
	uint32_t v = k * 2654435761u + (from == PS_SIDE_CLI ? 0x5au : 0xa5u);

	return (uint8_t)(v >> 24 ^ v);
}

static inline enum ps_proxy_side
other(enum ps_proxy_side side)
{
	return side == PS_SIDE_CLI ? PS_SIDE_SRV : PS_SIDE_CLI;
}

static inline struct ps_tcp_ep *
ep_of(struct fz *f, enum ps_proxy_side side)
{
	return side == PS_SIDE_CLI ? &f->px.cli : &f->px.srv;
}

/*
 * A frame from the proxy towards side. It must look like the other peer's
 * own frame, and its data must be the other peer's stream at that offset.
 */
static void
px_emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	struct fz *f = ctx;
	/* towards the server: as the client sent it, and the reverse */
	const struct ps_tcp_frame_spec *id = &f->tmpl[other(side)];
	const struct ps_tcp_ep *ep = ep_of(f, side);
	struct ps_pkt p;
	uint32_t i, start;

	CHECK(side == PS_SIDE_CLI || side == PS_SIDE_SRV);
	CHECK(len <= FRAME_MAX);
	CHECK(ps_pkt_parse(frame, len, &p) == PS_PKT_OK);
	CHECK(p.l3 == id->l3 && p.has_l4 && p.ip_proto == PS_IPPROTO_TCP && !p.is_frag);
	CHECK(ps_pkt_ip4_csum_ok(frame, &p));
	CHECK(ps_pkt_l4_csum_ok(frame, &p));
	CHECK(memcmp(p.src_mac, id->eth.src, PS_ETH_ALEN) == 0);
	CHECK(memcmp(p.dst_mac, id->eth.dst, PS_ETH_ALEN) == 0);
	CHECK(p.n_vlans == id->eth.n_vlans);
	for (i = 0; i < p.n_vlans; i++)
		CHECK(p.vlan_tpid[i] == id->eth.vlan_tpid[i] &&
		      p.vlan_tci[i] == id->eth.vlan_tci[i]);
	CHECK(memcmp(&p.src, &id->src, sizeof(p.src)) == 0);
	CHECK(memcmp(&p.dst, &id->dst, sizeof(p.dst)) == 0);
	CHECK(p.sport == id->tcp.sport && p.dport == id->tcp.dport);
	CHECK(p.payload_len <= PAYLOAD_MAX);
	CHECK(p.payload_off + p.payload_len <= len);
	if (p.has_ts)
		f->last_tsval[side] = p.ts_val;
	if (p.payload_len == 0 || f->tainted[other(side)])
		return;
	/* data towards side is the other peer's stream, same offsets */
	CHECK(!(p.tcp_flags & (PS_TCP_SYN | PS_TCP_RST)));
	start = p.seq - (ep->iss + 1);
	for (i = 0; i < p.payload_len; i++)
		CHECK(frame[p.payload_off + i] == stream_byte(other(side), start + i));
}

static uint8_t *
px_frame_get(void *ctx, enum ps_proxy_side side, uint32_t *cap)
{
	struct fz *f = ctx;

	(void)side;
	if (f->zc_out)
		abort();	/* a get without its put */
	if (++f->zc_gets % 7 == 0)
		return NULL;
	f->zc_out = true;
	*cap = sizeof(f->zc_buf);
	return f->zc_buf;
}

static void
px_frame_put(void *ctx, enum ps_proxy_side side, uint32_t len)
{
	struct fz *f = ctx;

	if (!f->zc_out)
		abort();
	f->zc_out = false;
	if (len > 0)
		px_emit(f, side, f->zc_buf, len);
}

static void
check_proxy(struct fz *f)
{
	const struct ps_tcp_cfg *c = &f->cfg;
	size_t cap = (size_t)c->snd_buf + c->rcv_buf + 2u * c->chunk_size;
	size_t cli = ps_tcp_mem(&f->px.cli), srv = ps_tcp_mem(&f->px.srv);

	/* each buffer may start mid-chunk: one partial chunk at each end */
	CHECK(cli <= cap && srv <= cap);
	CHECK(f->px.relayed[0] >= f->relayed[0] && f->px.relayed[1] >= f->relayed[1]);
	f->relayed[0] = f->px.relayed[0];
	f->relayed[1] = f->px.relayed[1];
	CHECK(ps_tcp_state(&f->px.cli) < PS_TCP_ST_MAX && ps_tcp_state(&f->px.srv) < PS_TCP_ST_MAX);
}

static void
feed(struct fz *f, enum ps_proxy_side from, const uint8_t *frame, uint32_t len)
{
	struct ps_pkt p;

	if (ps_pkt_parse(frame, len, &p) != PS_PKT_OK || !p.has_l4 || p.ip_proto != PS_IPPROTO_TCP)
		return;
	(void)ps_proxy_input(&f->px, from, frame, &p, f->now, &f->io);
}

/* A segment from the peer on side from, numbers absolute or relative. */
static void
op_segment(struct fz *f, enum ps_proxy_side from, struct reader *r)
{
	const struct ps_tcp_ep *ep = ep_of(f, from);
	struct ps_tcp_frame_spec spec = f->tmpl[from];
	struct ps_tcp_spec *t = &spec.tcp;
	uint8_t mode = rd8(r), opts;
	uint32_t seq, ack, len, i, irs, dstart;
	int flen;

	t->flags = rd8(r);
	seq = rd32(r);
	ack = rd32(r);
	t->seq = (mode & SEG_SEQ_ABS) ? seq : ep->rcv_nxt + seq;
	t->ack = (mode & SEG_ACK_ABS) ? ack : ep->snd_max + ack;
	t->window = rd16(r);
	opts = rd8(r);
	if (opts & 0x01) {
		t->has_mss = true;
		t->mss = rd16(r);
	}
	if (opts & 0x02) {
		t->has_wscale = true;
		t->wscale = rd8(r);
	}
	t->sack_ok = (opts & 0x04) != 0;
	if (opts & 0x08) {
		uint32_t val = rd32(r), ecr = rd32(r);

		t->has_ts = true;
		t->ts_val = (mode & SEG_TS_ABS) ? val : ep->ts_recent + val;
		t->ts_ecr = (mode & SEG_TS_ABS) ? ecr : f->last_tsval[from] + ecr;
	}
	t->n_sack = (uint8_t)(((opts >> 4) & 7) % (PS_TCP_SACK_MAX + 1));
	for (i = 0; i < t->n_sack; i++) {
		t->sack[i][0] = ep->snd_una + rd16(r);
		t->sack[i][1] = t->sack[i][0] + rd16(r);
	}
	len = rd16(r) % (PAYLOAD_MAX + 1);

	/* the stream offset of the first byte: SYN takes the sequence number before */
	dstart = t->seq + ((t->flags & PS_TCP_SYN) ? 1u : 0u);
	if (from == PS_SIDE_CLI)
		irs = CLI_SYN_SEQ;
	else if (ps_tcp_state(ep) == PS_TCP_ST_SYN_SENT && (t->flags & PS_TCP_SYN))
		irs = t->seq;
	else
		irs = ep->irs;
	for (i = 0; i < len; i++)
		f->payload[i] = stream_byte(from, dstart - (irs + 1) + i);

	/* options past 40 bytes: give up SACK blocks until they fit */
	for (;;) {
		flen = ps_build_tcp_frame(f->frame, sizeof(f->frame), &spec, f->payload, len);
		if (flen > 0 || t->n_sack == 0)
			break;
		t->n_sack--;
	}
	CHECK(flen > 0);
	feed(f, from, f->frame, (uint32_t)flen);
}

static void
op_raw(struct fz *f, struct reader *r)
{
	enum ps_proxy_side from = (rd8(r) & 1) ? PS_SIDE_SRV : PS_SIDE_CLI;
	uint32_t len = rd16(r) % RAW_MAX, i;

	for (i = 0; i < len && r->n > 0; i++)
		f->frame[i] = rd8(r);
	f->tainted[from] = true;
	feed(f, from, f->frame, i);
}

static void
run_timers(struct fz *f)
{
	if (ps_proxy_deadline(&f->px) > f->now)
		return;
	ps_proxy_timer(&f->px, f->now, &f->io);
	/* a worker must not spin: what was due has been done */
	CHECK(ps_proxy_deadline(&f->px) > f->now);
}

static void
fz_init(struct fz *f, uint8_t hdr)
{
	struct ps_tcp_frame_spec *c = &f->tmpl[PS_SIDE_CLI], *s = &f->tmpl[PS_SIDE_SRV];

	ps_tcp_cfg_defaults(&f->cfg);
	f->cfg.snd_buf = BUF_BYTES;
	f->cfg.rcv_buf = BUF_BYTES;
	if (hdr & HDR_NO_OPTS) {
		f->cfg.sack_ok = false;
		f->cfg.ts_ok = false;
	}
	if (hdr & HDR_SMALL_CHUNK)
		f->cfg.chunk_size = 1024;
	if (hdr & HDR_KEEPALIVE) {
		f->cfg.keepalive_idle_us = 5000000;
		f->cfg.keepalive_intvl_us = 1000000;
		f->cfg.idle_timeout_us = 60000000;
	}
	f->cfg.syn_retries = 2;
	f->cfg.data_retries = 3;
	CHECK(ps_tcp_cfg_check(&f->cfg) == 0);

	f->io.emit = px_emit;
	if (hdr & HDR_ZERO_COPY) {
		f->io.frame_get = px_frame_get;
		f->io.frame_put = px_frame_put;
	}
	f->io.ctx = f;
	f->io.scratch = scratch;
	f->io.out = &f->out;
	f->now = 1000000;

	memcpy(c->eth.src, CLI_MAC, PS_ETH_ALEN);
	memcpy(c->eth.dst, SRV_MAC, PS_ETH_ALEN);
	if (hdr & HDR_VLAN) {
		c->eth.n_vlans = 1;
		c->eth.vlan_tpid[0] = PS_ETH_P_8021Q;
		c->eth.vlan_tci[0] = 100;
	}
	c->ttl = 64;
	c->df = true;
	if (hdr & HDR_IPV6) {
		c->l3 = PS_L3_IPV6;
		c->src.b[0] = 0xfd, c->src.b[15] = 1;
		c->dst.b[0] = 0xfd, c->dst.b[15] = 2;
	} else {
		c->l3 = PS_L3_IPV4;
		c->src.b[0] = 198, c->src.b[1] = 18, c->src.b[3] = 1;
		c->dst.b[0] = 198, c->dst.b[1] = 18, c->dst.b[3] = 2;
	}
	c->tcp.sport = 40000;
	c->tcp.dport = 443;
	*s = *c;
	memcpy(s->eth.src, SRV_MAC, PS_ETH_ALEN);
	memcpy(s->eth.dst, CLI_MAC, PS_ETH_ALEN);
	s->src = c->dst;
	s->dst = c->src;
	s->tcp.sport = 443;
	s->tcp.dport = 40000;
}

/* Open the proxy from the client's SYN. */
static void
fz_open(struct fz *f, uint8_t hdr)
{
	struct ps_tcp_frame_spec spec = f->tmpl[PS_SIDE_CLI];
	struct ps_pkt p;
	int len;

	spec.tcp.seq = CLI_SYN_SEQ;
	spec.tcp.flags = PS_TCP_SYN;
	spec.tcp.window = 65535;
	if (!(hdr & HDR_BARE_SYN)) {
		spec.tcp.has_mss = true;
		spec.tcp.mss = 1460;
		spec.tcp.sack_ok = true;
		spec.tcp.has_ts = true;
		spec.tcp.ts_val = 100;
		spec.tcp.has_wscale = true;
		spec.tcp.wscale = 7;
	}
	len = ps_build_tcp_frame(f->frame, sizeof(f->frame), &spec, NULL, 0);
	CHECK(len > 0);
	CHECK(ps_pkt_parse(f->frame, (uint32_t)len, &p) == PS_PKT_OK);
	CHECK(ps_proxy_open(&f->px, &f->cfg, &f->stats, &p, ISS_CLI, ISS_SRV, f->now, &f->io) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	struct fz *f;
	unsigned int steps = 0;
	uint8_t hdr;

	if (size == 0)
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return 0;
	hdr = rd8(&r);
	fz_init(f, hdr);
	fz_open(f, hdr);
	check_proxy(f);

	while (r.n > 0 && steps++ < STEPS_MAX && !ps_proxy_done(&f->px)) {
		uint8_t op = rd8(&r);

		switch (op % 8) {
		case 0:
		case 6:
			op_segment(f, PS_SIDE_CLI, &r);
			break;
		case 1:
		case 7:
			op_segment(f, PS_SIDE_SRV, &r);
			break;
		case 2:
			op_raw(f, &r);
			break;
		case 3:
			f->now += (uint64_t)rd16(&r) * 1000;
			run_timers(f);
			break;
		case 4: {
			uint64_t d = ps_proxy_deadline(&f->px);

			if (d != UINT64_MAX && d > f->now)
				f->now = d;
			run_timers(f);
			break;
		}
		case 5:
			if (rd8(&r) < 32) {
				ps_proxy_abort(&f->px, f->now, &f->io);
				CHECK(ps_proxy_done(&f->px));
			}
			break;
		}
		check_proxy(f);
	}
	ps_proxy_free(&f->px);
	CHECK(ps_tcp_mem(&f->px.cli) == 0 && ps_tcp_mem(&f->px.srv) == 0);
	free(f);
	return 0;
}
