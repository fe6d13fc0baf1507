/* SPDX-License-Identifier: BSD-3-Clause
 * Policy micro-benchmark (not a test): 5,000 rules and a 100,000-name
 * list, compile time and evaluations per second over 1M queries.
 *
 *   bench_policy [RULES [LIST_NAMES [EVALS]]]
 *
 * Rules mix every criterion: exact, wildcard and suffix names, IPv4 and
 * IPv6 prefixes, ports and ranges, VLANs, ALPN. The big list sits in rule
 * RULES/2, so queries for its names must go past half the rules, and most
 * queries fall through to the default: the worst case for first match.
 *
 * A second run adds certificate criteria (cert_san, cert_cn, cert_issuer)
 * and makes every seventh rule a shadow rule, evaluated with
 * ps_pol_eval_ex() on queries that know the certificate.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ps_policy.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct text {
	char *p;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
			break;
		t->cap *= 2;
		t->p = realloc(t->p, t->cap);
		if (t->p == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	t->len += (size_t)n;
}

static void
make_policy(struct text *t, unsigned int rules, unsigned int names, bool cert)
{
	unsigned int i;

	add(t, "{\"lists\":{\"big\":[");
	for (i = 0; i < names; i++)
		add(t, "%s\"host%u.site%u.example\"", i ? "," : "", i, i % 997);
	add(t, "]},\"rules\":[");
	for (i = 0; i < rules; i++) {
		add(t, "%s{\"name\":\"r%u\",\"action\":\"%s\",\"shadow\":%s,\"match\":{",
		    i ? "," : "", i, i % 2 ? "decrypt" : "bypass",
		    cert && i % 7 == 0 ? "true" : "false");
		if (cert && i % 5 == 1)
			add(t, "\"cert_san\":[\".san%u.example\"],", i);
		else if (cert && i % 5 == 3)
			add(t, "\"cert_issuer\":[\"CA %u\",\"CN=CA %u,O=Example\"],", i % 50, i % 50);
		else if (cert && i % 5 == 4)
			add(t, "\"cert_cn\":[\"*.cn%u.example\"],", i);
		if (i == rules / 2) {
			add(t, "\"sni\":[\"@big\"]}}");
			continue;
		}
		switch (i % 5) {
		case 0:
			add(t, "\"sni\":[\"svc%u.example\",\"*.w%u.example\"],"
			    "\"dst_port\":[443]", i, i);
			break;
		case 1:
			add(t, "\"sni\":[\".s%u.example\"],\"alpn\":[\"h2\"]", i);
			break;
		case 2:
			add(t, "\"dst\":[\"10.%u.%u.0/24\"],\"dst_port\":[\"8000-8100\"]",
			    (i >> 8) & 255, i & 255);
			break;
		case 3:
			add(t, "\"dst\":[\"2001:db8:%x::/48\"],\"vlan\":[%u]", i, 1 + i % 4000);
			break;
		default:
			add(t, "\"src\":[\"172.%u.%u.0/24\"],\"sni\":[\"x%u.example\"]",
			    16 + (i >> 8) % 16, i & 255, i);
			break;
		}
		add(t, "}}");
	}
	add(t, "],\"default\":{\"action\":\"bypass\"}}");
}

/* Compile one policy and time evals evaluations of queries qs[nq]. */
static int
run(unsigned int rules, unsigned int names, unsigned int evals, bool cert,
    struct ps_pol_query *qs, unsigned int nq)
{
	struct text t = { malloc(1 << 20), 0, 1 << 20 };
	const struct ps_pol_verdict *v, *sv;
	unsigned int i, hits[5] = { 0 }, shadowed = 0;
	struct ps_pol_errors *errs;
	struct ps_pol *pol;
	double t0, t1;

	errs = malloc(sizeof(*errs));
	if (t.p == NULL || errs == NULL)
		return 1;
	make_policy(&t, rules, names, cert);
	t0 = now();
	if (ps_pol_compile(t.p, t.len, "bench.json", &pol, errs) != 0) {
		fprintf(stderr, "%s\n", errs->n ? errs->msg[0] : "compile failed");
		return 1;
	}
	t1 = now();
	printf("%spolicy: %u rules, %u-name list, %zu bytes of JSON\n",
	       cert ? "certificate criteria and shadow rules: " : "", rules, names, t.len);
	printf("compile: %.1f ms\n", (t1 - t0) * 1e3);
	t0 = now();
	for (i = 0; i < evals; i++) {
		v = ps_pol_eval_ex(pol, &qs[i & (nq - 1)], cert ? &sv : NULL);
		hits[v->rule_id == PS_POL_RULE_DEFAULT ? 4 : v->action]++;
		shadowed += cert && sv != NULL;
	}
	t1 = now();
	printf("eval: %u evaluations in %.3f s: %.0f evaluations/s (%.0f ns each)\n",
	       evals, t1 - t0, evals / (t1 - t0), (t1 - t0) * 1e9 / evals);
	printf("verdicts: %u decrypt, %u bypass, %u default, %u with a shadow match\n",
	       hits[PS_POL_DECRYPT], hits[PS_POL_BYPASS], hits[4], shadowed);
	ps_pol_free(pol);
	free(t.p);
	free(errs);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned int rules = argc > 1 ? (unsigned int)atoi(argv[1]) : 5000;
	unsigned int names = argc > 2 ? (unsigned int)atoi(argv[2]) : 100000;
	unsigned int evals = argc > 3 ? (unsigned int)atoi(argv[3]) : 1000000;
	static const char *const alpn[] = { "h2", "http/1.1" };
	struct ps_pol_query *qs;
	char (*sni)[64], (*san)[64], (*cn)[64], (*iss)[32];
	const char **sans;
	unsigned int i, nq = 4096;

	qs = calloc(nq, sizeof(*qs));
	sni = calloc(nq, sizeof(*sni));
	san = calloc(nq, sizeof(*san));
	cn = calloc(nq, sizeof(*cn));
	iss = calloc(nq, sizeof(*iss));
	sans = calloc(nq, sizeof(*sans));
	if (qs == NULL || sni == NULL || san == NULL || cn == NULL || iss == NULL ||
	    sans == NULL)
		return 1;

	/* a mix: list names, rule names, wildcards, suffixes, misses */
	for (i = 0; i < nq; i++) {
		struct ps_pol_query *q = &qs[i];
		unsigned int r = rnd(rules);

		q->known = 0xffffffffu;
		switch (rnd(5)) {
		case 0:
			snprintf(sni[i], sizeof(sni[i]), "host%u.site%u.example",
				 r * 20 % names, r * 20 % names % 997);
			break;
		case 1:
			snprintf(sni[i], sizeof(sni[i]), "svc%u.example", r);
			break;
		case 2:
			snprintf(sni[i], sizeof(sni[i]), "a.w%u.example", r);
			break;
		case 3:
			snprintf(sni[i], sizeof(sni[i]), "deep.er.s%u.example", r);
			break;
		default:
			snprintf(sni[i], sizeof(sni[i]), "miss%u.other.example", r);
			break;
		}
		q->sni = sni[i];
		q->sni_len = strlen(sni[i]);
		q->dst.family = 4;
		q->dst.bytes[0] = 10;
		q->dst.bytes[1] = (uint8_t)rnd(20);
		q->dst.bytes[2] = (uint8_t)rnd(256);
		q->dst.bytes[3] = 1;
		q->src.family = 4;
		q->src.bytes[0] = 192;
		q->dst_port = rnd(2) ? 443 : 8080;
		q->vlan = (uint16_t)rnd(4000);
		q->alpn = alpn;
		q->n_alpn = 1 + rnd(2);
		q->tls_versions = PS_POL_TLS12 | PS_POL_TLS13;
		/* certificate fields, read by the second run only */
		snprintf(san[i], sizeof(san[i]), "www.san%u.example", rnd(rules));
		snprintf(cn[i], sizeof(cn[i]), "a.cn%u.example", rnd(rules));
		snprintf(iss[i], sizeof(iss[i]), "CA %u", rnd(100));
		sans[i] = san[i];
		q->cert_san = &sans[i];
		q->n_cert_san = 1;
		q->cert_cn = cn[i];
		q->cert_issuer_cn = iss[i];
		q->cert_issuer = "CN=CA 7,O=Example";
	}
	if (run(rules, names, evals, false, qs, nq) != 0 ||
	    run(rules, names, evals, true, qs, nq) != 0)
		return 1;
	free(qs);
	free(sni);
	free(san);
	free(cn);
	free(iss);
	free(sans);
	return 0;
}
