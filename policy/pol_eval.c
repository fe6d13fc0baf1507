/* SPDX-License-Identifier: BSD-3-Clause
 * Policy evaluation: first match over rules in file order, by bitsets.
 *
 * For each criterion some rule tests, the candidates are the rules that
 * do not test it (any[c]) plus the rules its index returns for the
 * query's value. A rule matches when it is a candidate of every
 * criterion, so the first match is the lowest bit of the intersection.
 * A criterion whose query field is not known yet keeps a second set, the
 * rules that may still match: if one of them comes before the first
 * definite match, the answer is "undecided" (docs/policy.md).
 *
 * Reads the policy only; all scratch state is on the caller's stack.
 */
#include <string.h>

#include "pol_priv.h"

struct eval {
	const struct ps_pol *pol;
	uint64_t cand[POL_WORDS_MAX + 1];	/* candidates of one criterion */
};

/* Add the rules of run (ids, or its bitset in bits) to e->cand. */
static void
or_run(struct eval *e, const uint32_t *ids, const uint64_t *bits,
       const struct pol_run *run)
{
	uint64_t *b = e->cand;
	uint32_t i, r;
	size_t w;

	if (run == NULL || run->count == 0)
		return;
	if (run->dense != 0) {
		bits += run->dense - 1;
		for (w = 0; w < e->pol->words; w++)
			b[w] |= bits[w];
		return;
	}
	for (i = 0; i < run->count; i++) {
		r = ids[run->start + i];
		b[r / 64] |= 1ull << (r % 64);
	}
}

/* Host name s[0..n), lower case, no trailing dot. */
static void
cand_sni(struct eval *e, const char *s, size_t n)
{
	const struct ps_pol *pol = e->pol;
	const char *dot;
	size_t i;

	or_run(e, pol->sni_exact.ids, pol->sni_exact.bits,
	       ps_pol_map_get(&pol->sni_exact, s, n));
	/* "*.a.b": exactly one non-empty label in front of a.b */
	dot = memchr(s, '.', n);
	if (dot != NULL && dot != s)
		or_run(e, pol->sni_wild.ids, pol->sni_wild.bits,
		       ps_pol_map_get(&pol->sni_wild, dot + 1,
				      n - (size_t)(dot + 1 - s)));
	/* ".a.b": a.b itself and every name ending in ".a.b" */
	if (pol->sni_suffix.tab == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (i == 0 || s[i - 1] == '.')
			or_run(e, pol->sni_suffix.ids, pol->sni_suffix.bits,
			       ps_pol_map_get(&pol->sni_suffix, s + i, n - i));
	}
}

static void
cand_addr(struct eval *e, const struct pol_trie *tries,
	  const struct ps_pol_addr *a)
{
	const struct pol_trie *t;
	uint32_t node = 0;
	unsigned int b, bits;

	if (a->family != 4 && a->family != 6)
		return;
	t = &tries[a->family == 4 ? 0 : 1];
	if (t->nodes == NULL)
		return;
	bits = a->family == 4 ? 32 : 128;
	/* every prefix on the path holds the address, the shortest first */
	for (b = 0;; b++) {
		or_run(e, t->ids, t->bits, &t->nodes[node].run);
		if (b == bits)
			break;
		node = t->nodes[node].child[(a->bytes[b / 8] >> (7 - b % 8)) & 1];
		if (node == 0)
			break;
	}
}

/* The candidates of criterion c for a query that knows its field. */
static void
candidates(struct eval *e, unsigned int c, const struct ps_pol_query *q)
{
	const struct ps_pol *pol = e->pol;
	char name[POL_NAME_MAX + 1];
	size_t n, i, w;
	unsigned int v;

	memcpy(e->cand, pol->any[c], pol->words * sizeof(uint64_t));
	switch (c) {
	case POL_C_SNI:
		if (q->sni == NULL)
			break;
		n = q->sni_len;
		if (n > 0 && q->sni[n - 1] == '.')
			n--;
		if (n == 0 || n > POL_NAME_MAX)
			break;
		for (i = 0; i < n; i++) {
			char ch = q->sni[i];

			name[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
		}
		cand_sni(e, name, n);
		break;
	case POL_C_SRC:
		cand_addr(e, pol->src, &q->src);
		break;
	case POL_C_DST:
		cand_addr(e, pol->dst, &q->dst);
		break;
	case POL_C_PORT:
		or_run(e, pol->port.ids, pol->port.bits,
		       ps_pol_ranges_get(&pol->port, q->dst_port));
		break;
	case POL_C_VLAN:
		if (q->vlan != 0)
			or_run(e, pol->vlan.ids, pol->vlan.bits,
			       ps_pol_ranges_get(&pol->vlan, q->vlan));
		break;
	case POL_C_SEGMENT:
		if (q->segment != NULL)
			or_run(e, pol->segment.ids, pol->segment.bits,
			       ps_pol_map_get(&pol->segment, q->segment,
					      strlen(q->segment)));
		break;
	case POL_C_ALPN:
		for (i = 0; i < q->n_alpn && i < PS_POL_ALPN_MAX; i++) {
			if (q->alpn != NULL && q->alpn[i] != NULL)
				or_run(e, pol->alpn.ids, pol->alpn.bits,
				       ps_pol_map_get(&pol->alpn, q->alpn[i],
						      strlen(q->alpn[i])));
		}
		break;
	default:
		for (v = 0; v < 4; v++) {
			if (!(q->tls_versions & (1u << v)))
				continue;
			for (w = 0; w < pol->words; w++)
				e->cand[w] |= pol->ver[v][w];
		}
		break;
	}
}

/* Index of the lowest set bit of b, or UINT32_MAX. */
static uint32_t
first_bit(const uint64_t *b, size_t words)
{
	size_t w;

	for (w = 0; w < words; w++) {
		if (b[w] != 0)
			return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b[w]));
	}
	return UINT32_MAX;
}

/* See ps_policy.h. */
const struct ps_pol_verdict *
ps_pol_eval(const struct ps_pol *pol, const struct ps_pol_query *q)
{
	uint64_t def[POL_WORDS_MAX + 1], may[POL_WORDS_MAX + 1], left;
	uint32_t d, m;
	struct eval e;
	unsigned int c;
	size_t w, words = pol->words;
	bool unknown = false;

	e.pol = pol;
	memcpy(def, pol->all, words * sizeof(uint64_t));
	for (c = 0; c < POL_C_N; c++) {
		if (!(pol->used & (1u << c)))
			continue;
		if (!(q->known & (1u << c))) {
			/* only rules that do not test c are sure to match */
			if (!unknown)
				memcpy(may, def, words * sizeof(uint64_t));
			unknown = true;
			for (w = 0; w < words; w++)
				def[w] &= pol->any[c][w];
			continue;
		}
		candidates(&e, c, q);
		left = 0;
		for (w = 0; w < words; w++) {
			def[w] &= e.cand[w];
			left |= def[w];
			if (unknown) {
				may[w] &= e.cand[w];
				left |= may[w];
			}
		}
		/* no rule left: the default, whatever the other criteria say */
		if (left == 0)
			return &pol->dflt;
	}
	d = first_bit(def, words);
	if (unknown) {
		m = first_bit(may, words);
		if (m < d)
			return &pol->pending[m];
	}
	return d == UINT32_MAX ? &pol->dflt : &pol->verdicts[d];
}
