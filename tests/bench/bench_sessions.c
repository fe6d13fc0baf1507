/* SPDX-License-Identifier: BSD-3-Clause
 * Session search micro-benchmark (not a test): 100,000 live records with
 * varied SNIs, certificates and addresses, searched as an operator would
 * with plainsight-ctl sessions, while a worker thread keeps refreshing
 * one record, as workers do on the packet path.
 *
 *   bench_sessions [LIVE [QUERIES]]
 *
 * For each search: milliseconds per query, records looked at per second,
 * records found, and how long the worker waited for the store's lock at
 * worst (and at the 99th percentile) while searches ran: the search must
 * answer well under a second and never stall a worker for long.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ps_session.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Record i: one of 100 domains, so a domain glob finds about 1%. 70% of
 * clients send an SNI; the certificate names the host (CN), the domain
 * and its wildcard (SANs) and a CDN name, so a search must look past the
 * SNI. 1 in 8 connections is IPv6.
 */
static void
fill(struct ps_sess_rec *r, unsigned int i)
{
	unsigned int d = rnd(100), h = rnd(10000);

	memset(r, 0, sizeof(*r));
	r->start_ms = 1700000000000ull + i;
	r->state = PS_SESS_DECRYPTED;
	r->family = i % 8 == 0 ? 6 : 4;
	if (r->family == 4) {
		r->cli_addr[0] = 10, r->cli_addr[1] = (uint8_t)(i >> 16);
		r->cli_addr[2] = (uint8_t)(i >> 8), r->cli_addr[3] = (uint8_t)i;
		r->srv_addr[0] = 198, r->srv_addr[1] = 51, r->srv_addr[2] = 100;
		r->srv_addr[3] = (uint8_t)d;
	} else {
		r->cli_addr[0] = 0x20, r->cli_addr[1] = 0x01, r->cli_addr[2] = 0x0d;
		r->cli_addr[3] = 0xb8, r->cli_addr[14] = (uint8_t)(i >> 8);
		r->cli_addr[15] = (uint8_t)i;
		memcpy(r->srv_addr, r->cli_addr, 8);
		r->srv_addr[15] = (uint8_t)d;
	}
	r->cli_port = (uint16_t)(1024 + i % 60000);
	r->srv_port = i % 10 == 0 ? 8443 : 443;
	snprintf(r->kind, sizeof(r->kind), "tls");
	if (i % 10 < 7)
		snprintf(r->sni, sizeof(r->sni), "h%u.d%u.example.com", h, d);
	snprintf(r->cert_cn, sizeof(r->cert_cn), "h%u.d%u.example.com", h, d);
	snprintf(r->cert_san, sizeof(r->cert_san),
		 "DNS:d%u.example.com,DNS:*.d%u.example.com,DNS:e%u.cdn.example.net,IP:192.0.2.%u",
		 d, d, h, d);
	snprintf(r->cert_sha256, sizeof(r->cert_sha256), "%064x", i);
	snprintf(r->cli_version, sizeof(r->cli_version), "TLSv1.3");
	snprintf(r->cli_cipher, sizeof(r->cli_cipher), "TLS_AES_128_GCM_SHA256");
	snprintf(r->rule, sizeof(r->rule), "rule-%u", d % 20);
	snprintf(r->action, sizeof(r->action), "%s", d % 4 == 0 ? "bypass" : "decrypt");
	r->verify_result = 0;
	r->bytes[0] = i * 7u, r->bytes[1] = i * 131u;
}

struct worker {
	struct ps_sess_store *store;
	struct ps_sess_live *l;
	struct ps_sess_rec rec;
	volatile int stop;
	uint64_t waits[64];		/* by log2 of ns */
	uint64_t max_ns, n;
};

/* A worker refreshing its session record, as fast as it can. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	while (!w->stop) {
		uint64_t t0 = now_ns(), dt;
		unsigned int b = 0;

		ps_sess_update(w->store, w->l, &w->rec);
		dt = now_ns() - t0;
		while (b < 63 && (1ull << (b + 1)) <= dt)
			b++;
		w->waits[b]++;
		w->n++;
		if (dt > w->max_ns)
			w->max_ns = dt;
	}
	return NULL;
}

/* Upper bound of the 99th percentile wait, from the log2 histogram. */
static uint64_t
p99_ns(const struct worker *w)
{
	uint64_t want = w->n - w->n / 100, seen = 0;
	unsigned int b;

	for (b = 0; b < 64; b++) {
		seen += w->waits[b];
		if (seen >= want)
			return 2ull << b;
	}
	return 0;
}

static void
run(struct ps_sess_store *s, const char *label, const struct ps_sess_filter *f,
    unsigned int queries, uint64_t n_live)
{
	struct worker w;
	pthread_t t;
	uint64_t t0, ns;
	size_t found = 0;
	unsigned int q;

	memset(&w, 0, sizeof(w));
	w.store = s;
	fill(&w.rec, 0);
	w.l = ps_sess_open(s, &w.rec);
	if (w.l == NULL || pthread_create(&t, NULL, worker_main, &w) != 0) {
		fprintf(stderr, "bench_sessions: cannot start the worker\n");
		exit(1);
	}
	t0 = now_ns();
	for (q = 0; q < queries; q++) {
		json_t *a;

		if (f == NULL) {
			/* The baseline: what the worker waits with no search at all. */
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
			continue;
		}
		a = ps_sess_query(s, f);

		if (a == NULL) {
			fprintf(stderr, "bench_sessions: out of memory\n");
			exit(1);
		}
		found = json_array_size(a);
		json_decref(a);
	}
	ns = now_ns() - t0;
	w.stop = 1;
	pthread_join(t, NULL);
	ps_sess_close(s, w.l, &w.rec);
	printf("%-34s %8.2f ms/query %7.1f M records/s %6zu found   worker lock wait: "
	       "max %7.1f us, p99 < %6.1f us\n", label, (double)ns / queries / 1e6,
	       (double)n_live * queries / ((double)ns / 1e9) / 1e6, found,
	       (double)w.max_ns / 1e3, (double)p99_ns(&w) / 1e3);
}

int
main(int argc, char **argv)
{
	unsigned int n_live = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 10) : 100000;
	unsigned int queries = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 10) : 20;
	struct ps_sess_filter f;
	struct ps_sess_store s;
	struct ps_sess_rec r;
	char err[256];
	unsigned int i;
	uint64_t t0;

	if (n_live == 0 || queries == 0 ||
	    ps_sess_store_init(&s, 10000, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "usage: bench_sessions [LIVE [QUERIES]]\n");
		return 2;
	}
	t0 = now_ns();
	for (i = 1; i <= n_live; i++) {
		fill(&r, i);
		if (ps_sess_open(&s, &r) == NULL) {
			fprintf(stderr, "bench_sessions: out of memory at %u records\n", i);
			return 1;
		}
	}
	printf("%u live records (%zu bytes each) opened in %.1f ms; %u queries each\n",
	       n_live, sizeof(r), (double)(now_ns() - t0) / 1e6, queries);

	run(&s, "no search (10 ms sleeps instead)", NULL, queries, n_live);
	memset(&f, 0, sizeof(f));
	f.live_only = true;
	f.host = "*.d42.example.com";
	f.limit = 1000;
	run(&s, "host *.d42.example.com, limit 1000", &f, queries, n_live);
	f.limit = 0;
	run(&s, "host *.d42.example.com, no limit", &f, queries, n_live);
	f.limit = 50;
	run(&s, "host *.d42.example.com, limit 50", &f, queries, n_live);
	f.limit = 1000;
	f.host = "h77*.d4?.example.com";
	run(&s, "host h77*.d4?.example.com (fnmatch)", &f, queries, n_live);
	f.host = "*nowhere*";
	run(&s, "host *nowhere* (no match)", &f, queries, n_live);
	f.host = NULL;
	f.sni = "h1234.d42.example.com";
	run(&s, "sni h1234.d42.example.com", &f, queries, n_live);
	f.sni = NULL;
	(void)ps_sess_prefix_parse("2001:db8::/32", &f.src);
	f.srv_port = 8443;
	run(&s, "src 2001:db8::/32, port 8443", &f, queries, n_live);
	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	run(&s, "everything, limit 1000", &f, queries, n_live);
	ps_sess_store_fini(&s);
	return 0;
}
