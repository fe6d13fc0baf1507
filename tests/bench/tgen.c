/* SPDX-License-Identifier: BSD-3-Clause
 * ps-tgen: an in-process TCP traffic source and sink for benchmarks over
 * net_memif (or any two DPDK ports), so the data plane is measured without
 * the kernel's veth path.
 *
 *   ps-tgen EAL-ARGS -- bulk|conns SECONDS [ROUNDS]
 *
 * Port 0 is cabled to the appliance's side a (clients, 198.18.0.1), port 1
 * to side b (the server, 198.18.0.2:80). Clients and the server are TCP
 * endpoints of plainsight's own library, polled on one lcore.
 *   bulk:  4 connections, clients write as fast as the windows allow; prints
 *          the payload rate the server received.
 *   conns: 32 connections in flight; each opens, sends 1 byte, and both
 *          sides close; prints completed connections per second.
 * ROUNDS (default 1) repeats the measurement, each round starting as a
 * restarted generator would: connections in flight forgotten, client
 * ports from the first again, so every round reuses the last one's
 * 4-tuples against the same data plane. One rate per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "ps_build.h"
#include "ps_csum.h"
#include "ps_pkt.h"
#include "ps_tcp.h"

#define NCONN		64
#define PORT_BASE	10000
#define PORT_SPAN	50000
#define SRV_PORT	80
#define BURST		32

struct conn {
	struct ps_tcp_ep cli, srv;
	uint16_t cport;
	bool used, srv_open;
};

static struct ps_tcp_cfg cfg;
static struct ps_tcp_stats st_cli, st_srv;	/* reported on stderr */
static uint64_t restarted;
static struct conn conns[NCONN];
static struct rte_mempool *pool;
static struct ps_tcp_out out;
static struct ps_tcp_frame_spec tmpl[2];	/* [0] client frames, [1] server frames */
static uint16_t next_port = PORT_BASE;
static uint64_t now_us, tsc_per_us, rx_bytes, completed;
static uint8_t payload[2048];
static struct rte_mbuf *txq[2][BURST];
static uint16_t txn[2];

static void
tx_flush(uint16_t port)
{
	uint16_t sent = 0;

	while (sent < txn[port]) {
		uint16_t n = rte_eth_tx_burst(port, 0, txq[port] + sent, txn[port] - sent);

		if (n == 0)
			break;
		sent += n;
	}
	if (sent < txn[port])
		rte_pktmbuf_free_bulk(txq[port] + sent, txn[port] - sent);
	txn[port] = 0;
}

/* Frames for the segments in out, made by ep (client: port 0). */
static void
send_out(struct ps_tcp_ep *ep, uint16_t port, uint16_t cport)
{
	for (;;) {
		bool more = out.more;
		uint16_t i;

		for (i = 0; i < out.n_segs; i++) {
			struct ps_tcp_frame_spec spec = tmpl[port];
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			int len;

			if (m == NULL)
				break;
			if (out.segs[i].len > 0)
				ps_tcp_copy_payload(ep, &out.segs[i], payload);
			spec.tcp = out.segs[i].tcp;
			spec.tcp.sport = port == 0 ? cport : SRV_PORT;
			spec.tcp.dport = port == 0 ? SRV_PORT : cport;
			len = ps_build_tcp_frame(rte_pktmbuf_mtod(m, uint8_t *),
						 rte_pktmbuf_tailroom(m), &spec, payload,
						 out.segs[i].len);
			if (len <= 0 || rte_pktmbuf_append(m, (uint16_t)len) == NULL) {
				rte_pktmbuf_free(m);
				continue;
			}
			txq[port][txn[port]++] = m;
			if (txn[port] == BURST)
				tx_flush(port);
		}
		ps_tcp_out_reset(&out);
		if (!more)
			break;
		ps_tcp_output(ep, now_us, &out);
	}
}

static void
conn_start(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->cport = next_port;
	next_port = (uint16_t)(PORT_BASE + (next_port - PORT_BASE + 1) % PORT_SPAN);
	ps_tcp_init(&c->cli, &cfg, &st_cli, 0);
	ps_tcp_init(&c->srv, &cfg, &st_srv, 0);
	ps_tcp_out_reset(&out);
	ps_tcp_connect(&c->cli, (uint32_t)rte_rand(), now_us, &out);
	send_out(&c->cli, 0, c->cport);
}

static struct conn *
conn_of(uint16_t cport)
{
	unsigned int i;

	for (i = 0; i < NCONN; i++)
		if (conns[i].used && conns[i].cport == cport)
			return &conns[i];
	return NULL;
}

static void
app(struct conn *c, bool bulk)
{
	static const uint8_t data[65536];

	/* Server: read everything, close after the client did. */
	while (ps_tcp_readable(&c->srv) > 0) {
		const uint8_t *d;
		uint32_t n = ps_tcp_peek(&c->srv, &d);

		ps_tcp_out_reset(&out);
		ps_tcp_consume(&c->srv, n, now_us, &out);
		send_out(&c->srv, 1, c->cport);
		rx_bytes += n;
	}
	if (c->srv_open && ps_tcp_peer_closed(&c->srv) &&
	    ps_tcp_state(&c->srv) == PS_TCP_ST_CLOSE_WAIT) {
		ps_tcp_out_reset(&out);
		ps_tcp_close(&c->srv, now_us, &out);
		send_out(&c->srv, 1, c->cport);
	}
	if (ps_tcp_state(&c->cli) != PS_TCP_ST_ESTABLISHED)
		return;
	if (bulk) {
		ps_tcp_out_reset(&out);
		ps_tcp_write(&c->cli, data, sizeof(data), now_us, &out);
		send_out(&c->cli, 0, c->cport);
	} else if (ps_tcp_writable(&c->cli) == cfg.snd_buf) {
		ps_tcp_out_reset(&out);
		ps_tcp_write(&c->cli, data, 1, now_us, &out);
		ps_tcp_close(&c->cli, now_us, &out);
		send_out(&c->cli, 0, c->cport);
	}
}

static void
rx_port(uint16_t port)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n, i;

	n = rte_eth_rx_burst(port, 0, pkts, BURST);
	for (i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		struct ps_pkt p;
		struct conn *c;

		if (ps_pkt_parse(f, rte_pktmbuf_data_len(pkts[i]), &p) != PS_PKT_OK ||
		    !p.has_l4 || p.ip_proto != PS_IPPROTO_TCP) {
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		c = conn_of(port == 0 ? p.dport : p.sport);
		if (c != NULL) {
			ps_tcp_out_reset(&out);
			if (port == 1 && (p.tcp_flags & (PS_TCP_SYN | PS_TCP_ACK | PS_TCP_RST)) ==
			    PS_TCP_SYN && (!c->srv_open || ps_tcp_syn_is_new(&c->srv, &p))) {
				/* A listening server: a new SYN for the port gets a
				 * fresh endpoint, whatever became of the last one. */
				ps_tcp_free(&c->srv);
				ps_tcp_init(&c->srv, &cfg, &st_srv, 0);
				if (ps_tcp_passive_syn(&c->srv, &p, (uint32_t)rte_rand(),
						       now_us) == 0) {
					ps_tcp_accept(&c->srv, now_us, &out);
					c->srv_open = true;
				}
			} else {
				ps_tcp_input(port == 0 ? &c->cli : &c->srv, &p,
					     f + p.payload_off, now_us, &out);
			}
			send_out(port == 0 ? &c->cli : &c->srv, port, c->cport);
		}
		rte_pktmbuf_free(pkts[i]);
	}
}

/* The generator's own endpoints' non-zero counters, on stderr. */
static void
report(const char *who, const struct ps_tcp_stats *st)
{
	unsigned int i;

	for (i = 0; i < PS_TCP_CNT_MAX; i++)
		if (st->cnt[i] != 0)
			fprintf(stderr, "ps-tgen: %s %s %" PRIu64 "\n", who,
				ps_tcp_counter_name((enum ps_tcp_counter)i), st->cnt[i]);
	for (i = 0; i < PS_TCP_DROP_MAX; i++)
		if (st->drop[i] != 0)
			fprintf(stderr, "ps-tgen: %s %s %" PRIu64 "\n", who,
				ps_tcp_drop_name((enum ps_tcp_drop)i), st->drop[i]);
}

static int
port_init(uint16_t port)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, 1024, 0, NULL, pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, 1024, 0, NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	return rc;
}

/* One measurement: a second of warm-up, then secs measured; prints the rate. */
static void
run_round(bool bulk, double secs)
{
	uint64_t start, end, measure_from = 0, bytes_from = 0, done_from = 0;
	double dt;
	int i;

	/* A generator restart: what was in flight is forgotten, ports start over. */
	for (i = 0; i < NCONN; i++) {
		if (conns[i].used) {
			ps_tcp_free(&conns[i].cli);
			ps_tcp_free(&conns[i].srv);
			conns[i].used = false;
		}
	}
	next_port = PORT_BASE;
	start = rte_get_tsc_cycles();
	end = start + (uint64_t)((secs + 1) * rte_get_tsc_hz());
	for (i = 0; i < (bulk ? 4 : 32); i++) {
		now_us = rte_get_tsc_cycles() / tsc_per_us;
		conn_start(&conns[i]);
	}
	tx_flush(0);
	while (rte_get_tsc_cycles() < end) {
		uint64_t t = rte_get_tsc_cycles();

		now_us = t / tsc_per_us;
		if (measure_from == 0 && t > start + rte_get_tsc_hz()) {
			measure_from = t;	/* one second of warm-up */
			bytes_from = rx_bytes;
			done_from = completed;
		}
		rx_port(0);
		rx_port(1);
		for (i = 0; i < NCONN; i++) {
			struct conn *c = &conns[i];

			if (!c->used)
				continue;
			ps_tcp_out_reset(&out);
			if (ps_tcp_next_deadline(&c->cli) <= now_us) {
				ps_tcp_timer(&c->cli, now_us, &out);
				send_out(&c->cli, 0, c->cport);
			}
			if (ps_tcp_next_deadline(&c->srv) <= now_us) {
				ps_tcp_timer(&c->srv, now_us, &out);
				send_out(&c->srv, 1, c->cport);
			}
			app(c, bulk);
			if (!bulk && ps_tcp_state(&c->srv) == PS_TCP_ST_CLOSED && c->srv_open &&
			    (ps_tcp_state(&c->cli) == PS_TCP_ST_CLOSED ||
			     ps_tcp_state(&c->cli) == PS_TCP_ST_TIME_WAIT)) {
				ps_tcp_free(&c->cli);
				ps_tcp_free(&c->srv);
				completed++;
				conn_start(c);
			} else if (ps_tcp_state(&c->cli) == PS_TCP_ST_CLOSED &&
				   ps_tcp_state(&c->srv) != PS_TCP_ST_ESTABLISHED) {
				/* failed (reset, timeout): start over */
				restarted++;
				ps_tcp_free(&c->cli);
				ps_tcp_free(&c->srv);
				conn_start(c);
			}
		}
		tx_flush(0);
		tx_flush(1);
	}
	dt = (double)(rte_get_tsc_cycles() - measure_from) / rte_get_tsc_hz();
	if (bulk)
		printf("%.2f\n", (double)(rx_bytes - bytes_from) * 8 / dt / 1e9);
	else
		printf("%.0f\n", (double)(completed - done_from) / dt);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	int n, i, round, rounds = 1;
	bool bulk;
	double secs;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "ps-tgen: EAL initialisation failed\n");
		return 1;
	}
	argc -= n;
	argv += n;
	if ((argc != 3 && argc != 4) ||
	    (strcmp(argv[1], "bulk") != 0 && strcmp(argv[1], "conns") != 0) ||
	    (secs = atof(argv[2])) <= 0 || (argc == 4 && (rounds = atoi(argv[3])) < 1)) {
		fprintf(stderr, "usage: ps-tgen EAL-ARGS -- bulk|conns SECONDS [ROUNDS]\n");
		return 2;
	}
	bulk = strcmp(argv[1], "bulk") == 0;
	if (rte_eth_dev_count_avail() < 2) {
		fprintf(stderr, "ps-tgen: needs two ports\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("tgen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL || port_init(0) < 0 || port_init(1) < 0) {
		fprintf(stderr, "ps-tgen: port setup failed\n");
		return 1;
	}
	ps_tcp_cfg_defaults(&cfg);
	cfg.time_wait_us = 1000;
	tsc_per_us = rte_get_tsc_hz() / 1000000;
	for (i = 0; i < 2; i++) {
		struct ps_tcp_frame_spec *t = &tmpl[i];

		t->eth.src[0] = 0x02, t->eth.src[5] = (uint8_t)(1 + i);
		t->eth.dst[0] = 0x02, t->eth.dst[5] = (uint8_t)(2 - i);
		t->l3 = PS_L3_IPV4;
		t->ttl = 64;
		t->src.b[0] = 198, t->src.b[1] = 18, t->src.b[3] = (uint8_t)(1 + i);
		t->dst.b[0] = 198, t->dst.b[1] = 18, t->dst.b[3] = (uint8_t)(2 - i);
	}
	/* Wait for the memif links. */
	for (i = 0; i < 100; i++) {
		struct rte_eth_link l0, l1;

		rte_eth_link_get_nowait(0, &l0);
		rte_eth_link_get_nowait(1, &l1);
		if (l0.link_status && l1.link_status)
			break;
		rte_delay_ms(100);
	}
	for (round = 0; round < rounds; round++)
		run_round(bulk, secs);
	report("client", &st_cli);
	report("server", &st_srv);
	if (restarted != 0)
		fprintf(stderr, "ps-tgen: %" PRIu64 " connections failed and were started again\n",
			restarted);
	rte_eth_dev_stop(0);
	rte_eth_dev_stop(1);
	rte_eal_cleanup();
	return 0;
}
