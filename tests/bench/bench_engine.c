/* SPDX-License-Identifier: BSD-3-Clause
 * Engine benchmark: the cost of the TCP proxy itself, without EAL, NICs or
 * the kernel. A client and a server (the same TCP library) exchange real
 * frames (built, parsed, checksummed) in memory, once directly and once
 * through ps_proxy, on one core, in one run:
 *
 *   bench_engine [MB] [CONNECTIONS]
 *
 * Reported: relayed throughput and new connections per second for both
 * runs, and what the proxy run costs per byte and per connection beyond
 * the direct one (that difference is the appliance's work). Also the size
 * of an idle proxied flow.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_flow_table.h"
#include "ps_pkt.h"
#include "ps_proxy.h"
#include "ps_tcp.h"
#include "ps_timer.h"

#define QCAP		8192
#define FRAME_MAX	2048

enum hop { TO_PX_CLI, TO_PX_SRV, TO_CLI, TO_SRV };

struct qframe {
	uint8_t hop;
	uint16_t len;
	uint8_t buf[FRAME_MAX];
};

struct bench {
	bool via_proxy;
	uint64_t now;
	struct ps_tcp_cfg cfg;
	struct ps_tcp_ep cli, srv;
	struct ps_tcp_frame_spec cli_spec, srv_spec;
	bool srv_started;
	struct ps_proxy px;
	bool px_open;
	struct ps_proxy_io io;
	struct ps_tcp_out out, px_out;
	uint8_t *scratch;
	struct qframe *q;
	unsigned int head, tail;
	uint64_t rx_bytes;
};

static void
push(struct bench *b, enum hop hop, const uint8_t *frame, uint32_t len)
{
	struct qframe *f;

	if (b->tail - b->head >= QCAP || len > FRAME_MAX) {
		fprintf(stderr, "bench: queue overflow\n");
		exit(1);
	}
	f = &b->q[b->tail++ % QCAP];
	f->hop = (uint8_t)hop;
	f->len = (uint16_t)len;
	memcpy(f->buf, frame, len);
}

static void
px_emit(void *ctx, enum ps_proxy_side side, const uint8_t *frame, uint32_t len)
{
	push(ctx, side == PS_SIDE_SRV ? TO_SRV : TO_CLI, frame, len);
}

static void
host_flush(struct bench *b, struct ps_tcp_ep *ep, const struct ps_tcp_frame_spec *tmpl,
	   enum hop hop)
{
	uint8_t payload[FRAME_MAX], frame[FRAME_MAX];

	for (;;) {
		bool more = b->out.more;
		uint16_t i;

		for (i = 0; i < b->out.n_segs; i++) {
			struct ps_tcp_frame_spec spec = *tmpl;
			int len;

			if (b->out.segs[i].len > 0)
				ps_tcp_copy_payload(ep, &b->out.segs[i], payload);
			spec.tcp = b->out.segs[i].tcp;
			spec.tcp.sport = tmpl->tcp.sport;
			spec.tcp.dport = tmpl->tcp.dport;
			len = ps_build_tcp_frame(frame, sizeof(frame), &spec, payload,
						 b->out.segs[i].len);
			if (len > 0)
				push(b, hop, frame, (uint32_t)len);
		}
		ps_tcp_out_reset(&b->out);
		if (!more)
			break;
		ps_tcp_output(ep, b->now, &b->out);
	}
}

static enum hop
cli_hop(const struct bench *b)
{
	return b->via_proxy ? TO_PX_CLI : TO_SRV;
}

static enum hop
srv_hop(const struct bench *b)
{
	return b->via_proxy ? TO_PX_SRV : TO_CLI;
}

static void
deliver(struct bench *b, struct qframe *f)
{
	struct ps_pkt p;

	if (ps_pkt_parse(f->buf, f->len, &p) != PS_PKT_OK || !ps_pkt_l4_csum_ok(f->buf, &p)) {
		fprintf(stderr, "bench: bad frame\n");
		exit(1);
	}
	switch (f->hop) {
	case TO_PX_CLI:
		if (!b->px_open) {
			ps_proxy_open(&b->px, &b->cfg, NULL, &p, 11, 22, b->now, &b->io);
			b->px_open = true;
		} else {
			ps_proxy_input(&b->px, PS_SIDE_CLI, f->buf, &p, b->now, &b->io);
		}
		break;
	case TO_PX_SRV:
		ps_proxy_input(&b->px, PS_SIDE_SRV, f->buf, &p, b->now, &b->io);
		break;
	case TO_CLI:
		ps_tcp_out_reset(&b->out);
		ps_tcp_input(&b->cli, &p, f->buf + p.payload_off, b->now, &b->out);
		host_flush(b, &b->cli, &b->cli_spec, cli_hop(b));
		break;
	case TO_SRV:
		ps_tcp_out_reset(&b->out);
		if (!b->srv_started) {
			ps_tcp_passive_syn(&b->srv, &p, 33, b->now);
			ps_tcp_accept(&b->srv, b->now, &b->out);
			b->srv_started = true;
		} else {
			ps_tcp_input(&b->srv, &p, f->buf + p.payload_off, b->now, &b->out);
		}
		host_flush(b, &b->srv, &b->srv_spec, srv_hop(b));
		/* The server application reads everything at once. */
		while (ps_tcp_readable(&b->srv) > 0) {
			const uint8_t *d;
			uint32_t n = ps_tcp_peek(&b->srv, &d);

			ps_tcp_out_reset(&b->out);
			ps_tcp_consume(&b->srv, n, b->now, &b->out);
			host_flush(b, &b->srv, &b->srv_spec, srv_hop(b));
			b->rx_bytes += n;
		}
		break;
	}
}

static void
drain(struct bench *b)
{
	while (b->head != b->tail) {
		struct qframe *f = &b->q[b->head++ % QCAP];

		b->now += 1;	/* a microsecond per frame: timers stay quiet */
		deliver(b, f);
	}
}

static void
bench_reset(struct bench *b, bool via_proxy)
{
	if (b->px_open)
		ps_proxy_free(&b->px);
	ps_tcp_free(&b->cli);
	ps_tcp_free(&b->srv);
	b->via_proxy = via_proxy;
	b->px_open = false;
	b->srv_started = false;
	b->head = b->tail = 0;
	ps_tcp_init(&b->cli, &b->cfg, NULL, 0);
	ps_tcp_init(&b->srv, &b->cfg, NULL, 0);
}

static void
bench_connect(struct bench *b)
{
	ps_tcp_out_reset(&b->out);
	ps_tcp_connect(&b->cli, 44, b->now, &b->out);
	host_flush(b, &b->cli, &b->cli_spec, cli_hop(b));
	drain(b);
}

static double
secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bulk client -> server; returns Gbit/s of payload. */
static double
run_bulk(struct bench *b, bool via_proxy, uint64_t bytes)
{
	static uint8_t chunk[65536];
	double t0, t1;

	bench_reset(b, via_proxy);
	bench_connect(b);
	b->rx_bytes = 0;
	t0 = secs();
	while (b->rx_bytes < bytes) {
		ps_tcp_out_reset(&b->out);
		ps_tcp_write(&b->cli, chunk, sizeof(chunk), b->now, &b->out);
		host_flush(b, &b->cli, &b->cli_spec, cli_hop(b));
		drain(b);
	}
	t1 = secs();
	return (double)b->rx_bytes * 8 / (t1 - t0) / 1e9;
}

/* Connections: open, one byte, close from both sides, until both CLOSED. */
static double
run_conns(struct bench *b, bool via_proxy, unsigned int n)
{
	static const uint8_t one = 'x';
	double t0, t1;
	unsigned int i;

	b->rx_bytes = 0;
	t0 = secs();
	for (i = 0; i < n; i++) {
		bench_reset(b, via_proxy);
		bench_connect(b);
		ps_tcp_out_reset(&b->out);
		ps_tcp_write(&b->cli, &one, 1, b->now, &b->out);
		ps_tcp_close(&b->cli, b->now, &b->out);
		host_flush(b, &b->cli, &b->cli_spec, cli_hop(b));
		drain(b);
		ps_tcp_out_reset(&b->out);
		ps_tcp_close(&b->srv, b->now, &b->out);
		host_flush(b, &b->srv, &b->srv_spec, srv_hop(b));
		drain(b);
		/* Count only what really happened: the byte arrived, both
		 * applications' sides are closed. */
		if (ps_tcp_state(&b->srv) != PS_TCP_ST_CLOSED ||
		    (ps_tcp_state(&b->cli) != PS_TCP_ST_TIME_WAIT &&
		     ps_tcp_state(&b->cli) != PS_TCP_ST_CLOSED)) {
			fprintf(stderr, "bench: connection %u ended in %s/%s\n", i,
				ps_tcp_state_name(ps_tcp_state(&b->cli)),
				ps_tcp_state_name(ps_tcp_state(&b->srv)));
			exit(1);
		}
	}
	t1 = secs();
	if (b->rx_bytes != n) {
		fprintf(stderr, "bench: %llu of %u bytes arrived\n",
			(unsigned long long)b->rx_bytes, n);
		exit(1);
	}
	return n / (t1 - t0);
}

int
main(int argc, char **argv)
{
	uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
	unsigned int conns = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 10) : 100000;
	struct bench *b = calloc(1, sizeof(*b));
	struct ps_tcp_frame_spec *c, *s;
	double d_gbps, p_gbps, d_cps, p_cps;

	if (b == NULL || mb == 0 || conns == 0) {
		fprintf(stderr, "usage: bench_engine [MB] [CONNECTIONS]\n");
		return 2;
	}
	b->q = calloc(QCAP, sizeof(*b->q));
	b->scratch = malloc(PS_PROXY_SCRATCH);
	if (b->q == NULL || b->scratch == NULL)
		return 1;
	ps_tcp_cfg_defaults(&b->cfg);
	b->io.emit = px_emit;
	b->io.ctx = b;
	b->io.scratch = b->scratch;
	b->io.out = &b->px_out;
	c = &b->cli_spec;
	s = &b->srv_spec;
	c->eth.src[5] = 1;
	c->eth.dst[5] = 2;
	c->l3 = PS_L3_IPV4;
	c->ttl = 64;
	c->src.b[0] = 198, c->src.b[1] = 18, c->src.b[3] = 1;
	c->dst.b[0] = 198, c->dst.b[1] = 18, c->dst.b[3] = 2;
	c->tcp.sport = 40000;
	c->tcp.dport = 443;
	*s = *c;
	s->eth.src[5] = 2;
	s->eth.dst[5] = 1;
	s->src = c->dst;
	s->dst = c->src;
	s->tcp.sport = 443;
	s->tcp.dport = 40000;

	d_gbps = run_bulk(b, false, mb << 20);
	p_gbps = run_bulk(b, true, mb << 20);
	d_cps = run_conns(b, false, conns);
	p_cps = run_conns(b, true, conns);
	bench_reset(b, false);

	printf("engine, one core, %llu MB, %u connections\n", (unsigned long long)mb, conns);
	printf("%-36s %12s %12s\n", "", "direct", "via proxy");
	printf("%-36s %12.2f %12.2f\n", "payload throughput (Gbit/s)", d_gbps, p_gbps);
	printf("%-36s %12.0f %12.0f\n", "connections/s (open, 1 B, close)", d_cps, p_cps);
	/* The proxy run does the direct run's work plus the appliance's. */
	printf("%-36s %12.2f\n", "proxy alone: Gbit/s per core",
	       1.0 / (1.0 / p_gbps - 1.0 / d_gbps));
	printf("%-36s %12.0f\n", "proxy alone: new connections/s/core",
	       1.0 / (1.0 / p_cps - 1.0 / d_cps));
	printf("%-36s %12zu bytes\n", "idle proxied flow (struct ps_proxy)",
	       sizeof(struct ps_proxy));
	free(b->q);
	free(b->scratch);
	free(b);
	return 0;
}
