/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: the per-flow TCP proxy, with real frames.
 *
 * A client endpoint and a server endpoint (the library's own, playing a real
 * client and a real server) exchange Ethernet frames through ps_proxy: every
 * frame is built, parsed and checksum-verified on the way, as the data plane
 * does. Time is simulated.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_pkt.h"
#include "ps_proxy.h"
#include "ps_tcp.h"

#define QMAX		4096
#define FRAME_MAX	2048
#define DELAY_US	500

enum dst { TO_PX_FROM_CLI, TO_PX_FROM_SRV, TO_CLI, TO_SRV };

struct frame {
	enum dst dst;
	uint64_t at;
	uint32_t len;
	uint8_t buf[FRAME_MAX];
};

struct host {
	struct ps_tcp_ep ep;
	struct ps_tcp_frame_spec tmpl;	/* its own frames */
	bool started;
	uint8_t *tx;
	size_t tx_len, tx_off;
	bool close_when_sent, closed;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	bool read_paused;
	uint32_t events;
};

struct net {
	uint64_t now;
	struct ps_tcp_cfg cfg;		/* the proxy's endpoints */
	struct ps_tcp_cfg host_cfg;	/* the client's and the server's */
	struct ps_tcp_stats stats;
	struct host cli, srv;
	struct ps_proxy px;
	bool px_open;
	struct ps_proxy_io io;
	struct ps_tcp_out out;
	uint8_t *scratch;
	struct frame *q;
	unsigned int qn;
	enum { SRV_LISTEN, SRV_REFUSE, SRV_SILENT } srv_mode;
	unsigned int frames_to_srv, frames_to_cli, bad_frames;
	unsigned int rst_to_cli;
	uint8_t zc_buf[FRAME_MAX];	/* zero-copy output buffer */
	bool zc_out;			/* a frame_get not yet put */
};

static const uint8_t CLI_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t SRV_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static void
queue(struct net *n, enum dst dst, const uint8_t *frame, uint32_t len)
{
	struct frame *f;

	assert_true(n->qn < QMAX);
	assert_true(len <= FRAME_MAX);
	f = &n->q[n->qn++];
	f->dst = dst;
	f->at = n->now + DELAY_US;
	f->len = len;
	memcpy(f->buf, frame, len);
}

/* The proxy's frames: check them as the wire would, then deliver. */
static void
px_emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	struct net *n = ctx;
	struct ps_pkt p;

	if (ps_pkt_parse(frame, len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(frame, &p) ||
	    (p.l3 == PS_L3_IPV4 && !ps_pkt_ip4_csum_ok(frame, &p))) {
		n->bad_frames++;
		return;
	}
	if (side == PS_SIDE_SRV) {
		/* Towards the server with the client's identity. */
		if (memcmp(p.src_mac, CLI_MAC, 6) || memcmp(p.dst_mac, SRV_MAC, 6) ||
		    memcmp(&p.src, &n->cli.tmpl.src, sizeof(p.src)) ||
		    p.sport != n->cli.tmpl.tcp.sport || p.dport != n->cli.tmpl.tcp.dport ||
		    p.n_vlans != n->cli.tmpl.eth.n_vlans ||
		    (p.n_vlans && p.vlan_tci[0] != n->cli.tmpl.eth.vlan_tci[0]))
			n->bad_frames++;
		n->frames_to_srv++;
		queue(n, TO_SRV, frame, len);
	} else {
		if (memcmp(p.src_mac, SRV_MAC, 6) || memcmp(p.dst_mac, CLI_MAC, 6) ||
		    memcmp(&p.src, &n->srv.tmpl.src, sizeof(p.src)) ||
		    p.sport != n->srv.tmpl.tcp.sport || p.dport != n->srv.tmpl.tcp.dport)
			n->bad_frames++;
		if (p.tcp_flags & PS_TCP_RST)
			n->rst_to_cli++;
		n->frames_to_cli++;
		queue(n, TO_CLI, frame, len);
	}
}

/* Zero-copy output: the proxy builds in zc_buf, then puts it. */
static uint8_t *
px_frame_get(void *ctx, enum ps_proxy_side side, uint32_t *cap)
{
	struct net *n = ctx;

	(void)side;
	assert_false(n->zc_out);
	n->zc_out = true;
	*cap = sizeof(n->zc_buf);
	return n->zc_buf;
}

static void
px_frame_put(void *ctx, enum ps_proxy_side side, uint32_t len)
{
	struct net *n = ctx;

	assert_true(n->zc_out);
	n->zc_out = false;
	px_emit(n, side, n->zc_buf, len);
}

/* Send the segments of n->out made by host h as frames towards the proxy. */
static void
host_flush(struct net *n, struct host *h, enum dst dst)
{
	uint8_t payload[FRAME_MAX], frame[FRAME_MAX];

	for (;;) {
		bool more = n->out.more;
		uint16_t i;

		for (i = 0; i < n->out.n_segs; i++) {
			const struct ps_tcp_seg *seg = &n->out.segs[i];
			struct ps_tcp_frame_spec spec = h->tmpl;
			int len;

			if (seg->len > 0)
				ps_tcp_copy_payload(&h->ep, seg, payload);
			spec.tcp = seg->tcp;
			spec.tcp.sport = h->tmpl.tcp.sport;
			spec.tcp.dport = h->tmpl.tcp.dport;
			len = ps_build_tcp_frame(frame, sizeof(frame), &spec, payload, seg->len);
			assert_true(len > 0);
			queue(n, dst, frame, (uint32_t)len);
		}
		h->events |= n->out.events;
		ps_tcp_out_reset(&n->out);
		if (!more)
			break;
		ps_tcp_output(&h->ep, n->now, &n->out);
	}
}

static enum dst
dst_of(struct net *n, struct host *h)
{
	return h == &n->cli ? TO_PX_FROM_CLI : TO_PX_FROM_SRV;
}

/* The applications: write what is left, read what arrived, close at the end. */
static void
host_app(struct net *n, struct host *h)
{
	if (!h->started)
		return;
	while (h->tx_off < h->tx_len) {
		int w;

		ps_tcp_out_reset(&n->out);
		w = ps_tcp_write(&h->ep, h->tx + h->tx_off,
				 (uint32_t)(h->tx_len - h->tx_off), n->now, &n->out);
		host_flush(n, h, dst_of(n, h));
		if (w <= 0)
			break;
		h->tx_off += (size_t)w;
	}
	if (h->close_when_sent && !h->closed && h->tx_off == h->tx_len) {
		h->closed = true;
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_close(&h->ep, n->now, &n->out);
		host_flush(n, h, dst_of(n, h));
	}
	while (!h->read_paused && ps_tcp_readable(&h->ep) > 0) {
		uint32_t got;

		if (h->rx_len == h->rx_cap) {
			h->rx_cap = h->rx_cap ? h->rx_cap * 2 : 65536;
			h->rx = realloc(h->rx, h->rx_cap);
			assert_non_null(h->rx);
		}
		ps_tcp_out_reset(&n->out);
		got = ps_tcp_read(&h->ep, h->rx + h->rx_len,
				  (uint32_t)(h->rx_cap - h->rx_len), n->now, &n->out);
		host_flush(n, h, dst_of(n, h));
		h->rx_len += got;
		if (got == 0)
			break;
	}
}

static void
deliver(struct net *n, struct frame *f)
{
	struct ps_pkt p;

	assert_int_equal(ps_pkt_parse(f->buf, f->len, &p), PS_PKT_OK);
	switch (f->dst) {
	case TO_PX_FROM_CLI:
		if (!n->px_open) {
			assert_int_equal(ps_proxy_open(&n->px, &n->cfg, &n->stats, &p,
						       1000, 0xfffff000u, n->now, &n->io), 0);
			n->px_open = true;
		} else {
			(void)ps_proxy_input(&n->px, PS_SIDE_CLI, f->buf, &p, n->now, &n->io);
		}
		break;
	case TO_PX_FROM_SRV:
		(void)ps_proxy_input(&n->px, PS_SIDE_SRV, f->buf, &p, n->now, &n->io);
		break;
	case TO_CLI:
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_input(&n->cli.ep, &p, f->buf + p.payload_off, n->now, &n->out);
		host_flush(n, &n->cli, TO_PX_FROM_CLI);
		break;
	case TO_SRV:
		if (!n->srv.started) {
			struct ps_tcp_spec rst;

			if (n->srv_mode == SRV_SILENT)
				return;
			if (n->srv_mode == SRV_REFUSE) {
				struct ps_tcp_frame_spec spec = n->srv.tmpl;
				uint8_t frame[FRAME_MAX];
				int len;

				if (!ps_tcp_rst_reply(&p, &rst))
					return;
				spec.tcp = rst;
				len = ps_build_tcp_frame(frame, sizeof(frame), &spec, NULL, 0);
				assert_true(len > 0);
				queue(n, TO_PX_FROM_SRV, frame, (uint32_t)len);
				return;
			}
			/* A listening server: accept at once. */
			assert_int_equal(ps_tcp_passive_syn(&n->srv.ep, &p, 777777, n->now), 0);
			ps_tcp_out_reset(&n->out);
			assert_int_equal(ps_tcp_accept(&n->srv.ep, n->now, &n->out), 0);
			host_flush(n, &n->srv, TO_PX_FROM_SRV);
			n->srv.started = true;
			return;
		}
		ps_tcp_out_reset(&n->out);
		(void)ps_tcp_input(&n->srv.ep, &p, f->buf + p.payload_off, n->now, &n->out);
		host_flush(n, &n->srv, TO_PX_FROM_SRV);
		break;
	}
}

static void
net_init_zc(struct net *n, uint8_t l3, bool vlan, bool zero_copy);

static void
net_init(struct net *n, uint8_t l3, bool vlan)
{
	net_init_zc(n, l3, vlan, false);
}

static void
net_init_zc(struct net *n, uint8_t l3, bool vlan, bool zero_copy)
{
	struct ps_tcp_frame_spec *c = &n->cli.tmpl, *s = &n->srv.tmpl;

	memset(n, 0, sizeof(*n));
	ps_tcp_cfg_defaults(&n->cfg);
	n->cfg.snd_buf = 64 * 1024;
	n->cfg.rcv_buf = 64 * 1024;
	n->cfg.wscale = 2;
	assert_int_equal(ps_tcp_cfg_check(&n->cfg), 0);
	n->host_cfg = n->cfg;
	n->q = calloc(QMAX, sizeof(*n->q));
	n->scratch = malloc(PS_PROXY_SCRATCH);
	assert_non_null(n->q);
	assert_non_null(n->scratch);
	n->io.emit = px_emit;
	if (zero_copy) {
		n->io.frame_get = px_frame_get;
		n->io.frame_put = px_frame_put;
	}
	n->io.ctx = n;
	n->io.scratch = n->scratch;
	n->io.out = &n->out;
	n->now = 1000000;

	memcpy(c->eth.src, CLI_MAC, 6);
	memcpy(c->eth.dst, SRV_MAC, 6);
	if (vlan) {
		c->eth.n_vlans = 1;
		c->eth.vlan_tpid[0] = PS_ETH_P_8021Q;
		c->eth.vlan_tci[0] = 100;
	}
	c->l3 = l3;
	c->ttl = 64;
	if (l3 == PS_L3_IPV4) {
		c->src.b[0] = 198, c->src.b[1] = 18, c->src.b[3] = 1;
		c->dst.b[0] = 198, c->dst.b[1] = 18, c->dst.b[3] = 2;
	} else {
		c->src.b[0] = 0xfd, c->src.b[15] = 1;
		c->dst.b[0] = 0xfd, c->dst.b[15] = 2;
	}
	c->tcp.sport = 40000;
	c->tcp.dport = 443;
	*s = *c;
	memcpy(s->eth.src, SRV_MAC, 6);
	memcpy(s->eth.dst, CLI_MAC, 6);
	s->src = c->dst;
	s->dst = c->src;
	s->tcp.sport = 443;
	s->tcp.dport = 40000;
	ps_tcp_init(&n->cli.ep, &n->host_cfg, NULL, l3 == PS_L3_IPV6 ? PS_TCP_F_IPV6 : 0);
	ps_tcp_init(&n->srv.ep, &n->host_cfg, NULL, l3 == PS_L3_IPV6 ? PS_TCP_F_IPV6 : 0);
}

static void
net_free(struct net *n)
{
	if (n->px_open)
		ps_proxy_free(&n->px);
	ps_tcp_free(&n->cli.ep);
	ps_tcp_free(&n->srv.ep);
	free(n->q);
	free(n->scratch);
	free(n->cli.rx);
	free(n->srv.rx);
}

static void
net_connect(struct net *n)
{
	ps_tcp_out_reset(&n->out);
	assert_int_equal(ps_tcp_connect(&n->cli.ep, 5000, n->now, &n->out), 0);
	host_flush(n, &n->cli, TO_PX_FROM_CLI);
	n->cli.started = true;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Run until nothing is queued and no timer is due before until. */
static void
net_run(struct net *n, uint64_t until)
{
	while (n->now < until) {
		uint64_t next = until;
		unsigned int i;

		for (i = 0; i < n->qn; i++)
			next = min_u64(next, n->q[i].at);
		next = min_u64(next, ps_tcp_next_deadline(&n->cli.ep));
		next = min_u64(next, ps_tcp_next_deadline(&n->srv.ep));
		if (n->px_open)
			next = min_u64(next, ps_proxy_deadline(&n->px));
		if (next < n->now)
			next = n->now;
		n->now = next;
		if (n->now >= until)
			break;
		/* Due frames, in order. */
		for (i = 0; i < n->qn;) {
			if (n->q[i].at <= n->now) {
				struct frame f = n->q[i];

				memmove(&n->q[i], &n->q[i + 1], (n->qn - i - 1) * sizeof(*n->q));
				n->qn--;
				deliver(n, &f);
				i = 0;
				continue;
			}
			i++;
		}
		if (ps_tcp_next_deadline(&n->cli.ep) <= n->now) {
			ps_tcp_out_reset(&n->out);
			ps_tcp_timer(&n->cli.ep, n->now, &n->out);
			host_flush(n, &n->cli, TO_PX_FROM_CLI);
		}
		if (ps_tcp_next_deadline(&n->srv.ep) <= n->now) {
			ps_tcp_out_reset(&n->out);
			ps_tcp_timer(&n->srv.ep, n->now, &n->out);
			host_flush(n, &n->srv, TO_PX_FROM_SRV);
		}
		if (n->px_open && ps_proxy_deadline(&n->px) <= n->now)
			ps_proxy_timer(&n->px, n->now, &n->io);
		host_app(n, &n->cli);
		host_app(n, &n->srv);
	}
}

static uint8_t *
pattern(size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
	return b;
}

/* The server side opens first; the client is answered only after it. */
static void
test_handshake_order(void **state)
{
	struct net n;

	(void)state;
	net_init(&n, PS_L3_IPV4, true);
	net_connect(&n);
	/* Deliver the client's SYN only: the proxy sends a SYN to the server
	 * and nothing to the client. */
	n.now = n.q[0].at;
	net_run(&n, n.now + 1);
	assert_true(n.px_open);
	assert_int_equal(n.frames_to_cli, 0);
	assert_int_equal(n.frames_to_srv, 1);
	assert_int_equal(ps_tcp_state(&n.px.srv), PS_TCP_ST_SYN_SENT);
	assert_int_equal(ps_tcp_state(&n.px.cli), PS_TCP_ST_SYN_RCVD);
	net_run(&n, n.now + 100000);
	assert_int_equal(ps_tcp_state(&n.cli.ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_state(&n.srv.ep), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_state(&n.px.cli), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(ps_tcp_state(&n.px.srv), PS_TCP_ST_ESTABLISHED);
	assert_int_equal(n.bad_frames, 0);
	net_free(&n);
}

static void
relay_both_ways(uint8_t l3, bool vlan, size_t up, size_t down, bool zero_copy)
{
	struct net n;

	net_init_zc(&n, l3, vlan, zero_copy);
	n.cli.tx = pattern(up, 1);
	n.cli.tx_len = up;
	n.cli.close_when_sent = true;
	n.srv.tx = pattern(down, 2);
	n.srv.tx_len = down;
	n.srv.close_when_sent = true;
	net_connect(&n);
	net_run(&n, n.now + 60 * 1000000ull);
	assert_int_equal(n.bad_frames, 0);
	assert_int_equal(n.srv.rx_len, up);
	assert_int_equal(n.cli.rx_len, down);
	assert_memory_equal(n.srv.rx, n.cli.tx, up);
	assert_memory_equal(n.cli.rx, n.srv.tx, down);
	assert_int_equal(n.px.relayed[PS_SIDE_CLI], up);
	assert_int_equal(n.px.relayed[PS_SIDE_SRV], down);
	/* FINs crossed; both proxy endpoints end CLOSED (TIME_WAIT is short). */
	assert_true(ps_proxy_done(&n.px));
	assert_false(n.px.flags & PS_PROXY_F_RESET);
	free(n.cli.tx);
	free(n.srv.tx);
	net_free(&n);
}

static void
test_relay_ipv4_vlan(void **state)
{
	(void)state;
	relay_both_ways(PS_L3_IPV4, true, 1000000, 300000, false);
}

/* The same with frames built in place (the data plane's way). */
static void
test_relay_zero_copy(void **state)
{
	(void)state;
	relay_both_ways(PS_L3_IPV4, true, 1000000, 300000, true);
	relay_both_ways(PS_L3_IPV6, false, 300000, 1000000, true);
}

static void
test_relay_ipv6(void **state)
{
	(void)state;
	relay_both_ways(PS_L3_IPV6, false, 200000, 700000, false);
}

static void
test_server_refuses(void **state)
{
	struct net n;

	(void)state;
	net_init(&n, PS_L3_IPV4, false);
	n.srv_mode = SRV_REFUSE;
	net_connect(&n);
	net_run(&n, n.now + 1000000);
	assert_int_equal(n.rst_to_cli, 1);
	assert_int_equal(ps_tcp_state(&n.cli.ep), PS_TCP_ST_CLOSED);
	assert_true(n.cli.events & PS_TCP_EV_RESET);
	assert_true(ps_proxy_done(&n.px));
	assert_int_equal(n.bad_frames, 0);
	net_free(&n);
}

static void
test_server_silent(void **state)
{
	struct net n;

	(void)state;
	net_init(&n, PS_L3_IPV4, false);
	/* The proxy gives up on the server after 2 retries; the client would
	 * retry 5 times: it learns of the failure from the proxy's RST. */
	n.cfg.syn_retries = 2;
	n.srv_mode = SRV_SILENT;
	net_connect(&n);
	net_run(&n, n.now + 30 * 1000000ull);
	assert_int_equal(n.frames_to_srv, 3);	/* SYN + 2 retries */
	assert_int_equal(n.rst_to_cli, 1);
	assert_true(ps_proxy_done(&n.px));
	assert_int_equal(n.bad_frames, 0);
	net_free(&n);
}

/* A server that does not read: the client's data stops at bounded buffers. */
static void
test_backpressure(void **state)
{
	struct net n;
	size_t mem;

	(void)state;
	net_init(&n, PS_L3_IPV4, false);
	n.cli.tx = pattern(2000000, 3);
	n.cli.tx_len = 2000000;
	n.srv.read_paused = true;
	net_connect(&n);
	net_run(&n, n.now + 20 * 1000000ull);
	assert_true(n.cli.tx_off < n.cli.tx_len);
	mem = ps_tcp_mem(&n.px.cli) + ps_tcp_mem(&n.px.srv);
	/* Two endpoints of 64 KiB send + 64 KiB receive, plus a chunk each. */
	assert_true(mem <= 4 * (64 * 1024 + n.cfg.chunk_size));
	n.srv.read_paused = false;
	n.cli.close_when_sent = true;
	net_run(&n, n.now + 60 * 1000000ull);
	assert_int_equal(n.srv.rx_len, 2000000);
	assert_memory_equal(n.srv.rx, n.cli.tx, 2000000);
	free(n.cli.tx);
	net_free(&n);
}

/* The client aborts mid-transfer: the server is reset. */
static void
test_client_abort(void **state)
{
	struct net n;

	(void)state;
	net_init(&n, PS_L3_IPV4, false);
	n.srv.tx = pattern(500000, 4);
	n.srv.tx_len = 500000;
	n.cli.read_paused = true;
	net_connect(&n);
	net_run(&n, n.now + 2 * 1000000ull);
	ps_tcp_out_reset(&n.out);
	ps_tcp_abort(&n.cli.ep, n.now, &n.out);
	host_flush(&n, &n.cli, TO_PX_FROM_CLI);
	net_run(&n, n.now + 2 * 1000000ull);
	assert_true(n.srv.events & PS_TCP_EV_RESET);
	assert_int_equal(ps_tcp_state(&n.srv.ep), PS_TCP_ST_CLOSED);
	assert_true(ps_proxy_done(&n.px));
	assert_true(n.px.flags & PS_PROXY_F_RESET);
	free(n.srv.tx);
	net_free(&n);
}

static void
test_open_refuses_non_syn(void **state)
{
	struct net n;
	struct ps_pkt p;

	(void)state;
	net_init(&n, PS_L3_IPV4, false);
	memset(&p, 0, sizeof(p));
	p.l3 = PS_L3_IPV4;
	p.ip_proto = PS_IPPROTO_TCP;
	p.has_l4 = true;
	p.tcp_flags = PS_TCP_SYN | PS_TCP_ACK;
	assert_int_equal(ps_proxy_open(&n.px, &n.cfg, NULL, &p, 1, 2, n.now, &n.io), -EINVAL);
	p.tcp_flags = PS_TCP_ACK;
	assert_int_equal(ps_proxy_open(&n.px, &n.cfg, NULL, &p, 1, 2, n.now, &n.io), -EINVAL);
	p.ip_proto = PS_IPPROTO_UDP;
	p.tcp_flags = PS_TCP_SYN;
	assert_int_equal(ps_proxy_open(&n.px, &n.cfg, NULL, &p, 1, 2, n.now, &n.io), -EINVAL);
	assert_int_equal(n.frames_to_srv, 0);
	net_free(&n);
}

/* ps_build_tcp_hdr_len() says where ps_build_tcp_frame() puts the payload,
 * and a payload already there is used in place. */
static void
test_hdr_len_in_place(void **state)
{
	struct ps_tcp_frame_spec spec;
	uint8_t a[FRAME_MAX], b[FRAME_MAX], payload[100];
	int hdr, la, lb;

	(void)state;
	memset(&spec, 0, sizeof(spec));
	memset(payload, 0x5a, sizeof(payload));
	spec.eth.n_vlans = 2;
	spec.eth.vlan_tpid[0] = PS_ETH_P_8021AD;
	spec.eth.vlan_tpid[1] = PS_ETH_P_8021Q;
	spec.l3 = PS_L3_IPV4;
	spec.ttl = 64;
	spec.tcp.flags = PS_TCP_ACK;
	spec.tcp.has_ts = true;
	spec.tcp.n_sack = 2;
	hdr = ps_build_tcp_hdr_len(&spec);
	assert_int_equal(hdr, 14 + 8 + 20 + 20 + 12 + 20);	/* TS 12, 2 SACK 20 */
	la = ps_build_tcp_frame(a, sizeof(a), &spec, payload, sizeof(payload));
	assert_int_equal(la, hdr + (int)sizeof(payload));
	memcpy(b + hdr, payload, sizeof(payload));
	lb = ps_build_tcp_frame(b, sizeof(b), &spec, b + hdr, sizeof(payload));
	assert_int_equal(lb, la);
	assert_memory_equal(a, b, (size_t)la);

	spec.eth.n_vlans = 0;
	spec.l3 = PS_L3_IPV6;
	spec.tcp.has_ts = false;
	spec.tcp.n_sack = 0;
	assert_int_equal(ps_build_tcp_hdr_len(&spec), 14 + 40 + 20);
	spec.l3 = PS_L3_NONE;
	assert_int_equal(ps_build_tcp_hdr_len(&spec), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_order),
		cmocka_unit_test(test_relay_ipv4_vlan),
		cmocka_unit_test(test_relay_ipv6),
		cmocka_unit_test(test_relay_zero_copy),
		cmocka_unit_test(test_server_refuses),
		cmocka_unit_test(test_server_silent),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_client_abort),
		cmocka_unit_test(test_open_refuses_non_syn),
		cmocka_unit_test(test_hdr_len_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
