/* SPDX-License-Identifier: BSD-3-Clause
 * bench_tls: what its two files share. bench_tls.c makes the PKI and the
 * contexts, measures the OpenSSL ceiling (a) and prints the report;
 * bench_tls_stage.c runs the plainsight stage in memory (b) and measures
 * idle sessions (c). See bench_tls.c for what is measured and how.
 */
#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ps_tls_flow.h"

#define BT_CHUNK	16384u		/* plaintext per write in the bulk runs */

/* The exchange of every interception (both files use both). */
/* "GET / HTTP/1.1\r\nHost: server.test\r\n\r\n" */
static const uint8_t bt_req[] = "GET / HTTP/1.1\r\nHost: server.test\r\n\r\n";
/* "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabc...z", 64 bytes */
static const uint8_t bt_rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n"
				"abcdefghijklmnopqrstuvwxyz";
#define BT_REQ_LEN	(sizeof(bt_req) - 1)
#define BT_RSP_LEN	(sizeof(bt_rsp) - 1)

static inline void bt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Print why, and OpenSSL's error queue, and exit: a benchmark that went wrong stops. */
static inline void
bt_die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_tls: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

#define BT_CHECK(x) do {							\
		if (!(x))							\
			bt_die("%s:%d: %s", __FILE__, __LINE__, #x);		\
	} while (0)

/* Seconds (monotonic) spent inside the appliance's calls, ever growing. */
extern double bt_app_t;

static inline double
bt_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time (vDSO, cheap enough around every appliance call). */
static inline double
bt_mono(void)
{
	return bt_clock(CLOCK_MONOTONIC);
}

/* This thread's CPU time: what the rates are per. */
static inline double
bt_cpu(void)
{
	return bt_clock(CLOCK_THREAD_CPUTIME_ID);
}

/* The data plane's interception context (conf_tls.c defaults), built by bench_tls.c. */
extern struct ps_tls_icpt bt_icpt;

/*
 * The client peer over memory BIOs: TLS up to version (TLS 1.2: session
 * IDs, no tickets), SNI and host name check "server.test", trusting the
 * appliance CA; offers sess when not NULL. The server peer: ECDSA P-256
 * leaf of the test root; TLS 1.2: session IDs only. Caller frees.
 */
SSL *bt_peer_client(int version, SSL_SESSION *sess);
SSL *bt_peer_server(int version);

/* A measurement, accumulated over slices: events (or bits) and seconds. */
struct bt_meas {
	double n;
	double cpu;		/* this thread's CPU */
	double wall;
	double app;		/* wall time inside the appliance's calls */
};

struct bt_meas_mark {
	double cpu, wall, app;
};

static inline void
bt_meas_start(struct bt_meas_mark *mk)
{
	mk->cpu = bt_cpu();
	mk->wall = bt_mono();
	mk->app = bt_app_t;
}

static inline void
bt_meas_stop(struct bt_meas *m, const struct bt_meas_mark *mk)
{
	m->cpu += bt_cpu() - mk->cpu;
	m->wall += bt_mono() - mk->wall;
	m->app += bt_app_t - mk->app;
}

/* Per CPU-second: of the whole loop, and of the appliance's share of it. */
struct bt_rate {
	double whole;
	double app;
};

struct bt_rate bt_rate_of(const struct bt_meas *m);

/* (b) */
enum bt_stage_mode {
	BT_FULL,		/* full handshakes on both legs (a new server each time) */
	BT_FULL_UP_RESUMED,	/* the client's full, the upstream leg from the cache */
	BT_RESUMED,		/* both legs resumed */
};

struct bt_world;

/* The simulated network and the proxy's configuration (plainsight-dp's); NULL-safe free. */
struct bt_world *bt_world_new(void);
void bt_world_free(struct bt_world *w);

/*
 * Interceptions of one kind in slices: start primes the caches (and the
 * client's session), each slice runs interceptions for secs CPU seconds
 * into m (n: interceptions), end checks the stage's counters against the
 * count (full or resumed on each leg, as the mode says) and frees. A run
 * that fails exits.
 */
struct bt_stage_run;
struct bt_stage_run *bt_stage_start(struct bt_world *w, int version, enum bt_stage_mode mode);
void bt_stage_slice(struct bt_stage_run *r, double secs, struct bt_meas *m);
void bt_stage_end(struct bt_stage_run *r);

/*
 * Bulk: one TLS 1.3 flow established by start; each slice sends bytes of
 * plaintext client -> server through it into m (n: bits); end frees.
 */
struct bt_stage_run *bt_bulk_start(struct bt_world *w);
void bt_bulk_slice(struct bt_stage_run *r, uint64_t bytes, struct bt_meas *m);
void bt_bulk_end(struct bt_stage_run *r);

/* (c) */
struct bt_mem {
	double appliance;	/* bytes per idle session: both legs, stage, proxy endpoints */
	double up_leg;		/* of which the upstream leg (SSL, BIOs, session, server chain) */
	double cli_leg;		/* the client leg (SSL, BIOs, session) */
	double proxy;		/* the proxy's two TCP endpoints and what the stage holds */
	double structs;		/* struct ps_proxy + struct ps_tls_flow */
	double peers;		/* the client's and server's ends, for reference */
	double shared;		/* left after the sessions are freed: caches (session, forge) */
	unsigned int n;
};

/* n TLS 1.3 sessions established and idle, then freed piece by piece. */
struct bt_mem bt_run_memory(struct bt_world *w, unsigned int n);

#endif /* BENCH_TLS_H */
