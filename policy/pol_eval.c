/* SPDX-License-Identifier: BSD-3-Clause
 * Policy evaluation: first match over rules in file order, by bitsets.
 *
 * For each criterion some rule tests, the candidates are the rules that
 * do not test it (any[c]) plus the rules its index returns for the
 * query's value. A rule matches when it is a candidate of every
 * criterion, so the first match is the lowest bit of the intersection.
 * A criterion whose query field is not known yet keeps a second set, the
 * rules that may still match: if one of them comes before the first
 * definite match, the answer is "undecided" (docs/policy.md). Shadow
 * rules are one more bitset: the enforced and the shadow answers are the
 * lowest bits outside and inside it, from the same final sets.
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

/* Host name s[0..n), lower case, no trailing dot, against patterns nm. */
static void
cand_names(struct eval *e, const struct pol_names *nm, const char *s, size_t n)
{
	const char *dot;
	size_t i;

	or_run(e, nm->exact.ids, nm->exact.bits, ps_pol_map_get(&nm->exact, s, n));
	/* "*.a.b": exactly one non-empty label in front of a.b */
	dot = memchr(s, '.', n);
	if (dot != NULL && dot != s)
		or_run(e, nm->wild.ids, nm->wild.bits,
		       ps_pol_map_get(&nm->wild, dot + 1, n - (size_t)(dot + 1 - s)));
	/* ".a.b": a.b itself and every name ending in ".a.b" */
	if (nm->suffix.tab == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (i == 0 || s[i - 1] == '.')
			or_run(e, nm->suffix.ids, nm->suffix.bits,
			       ps_pol_map_get(&nm->suffix, s + i, n - i));
	}
}

/*
 * A certificate name (CN or DNS SAN) against patterns nm. It must be a
 * host name, or "*." and a host name (a wildcard certificate, matched as
 * written): anything else matches nothing.
 */
static void
cand_cert_name(struct eval *e, const struct pol_names *nm, const char *s)
{
	char name[POL_NAME_MAX + 3];
	size_t n, i, skip;

	if (s == NULL)
		return;
	n = strnlen(s, sizeof(name));
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(name))
		return;
	for (i = 0; i < n; i++)
		name[i] = ps_pol_lower(s[i]);
	skip = n > 2 && name[0] == '*' && name[1] == '.' ? 2 : 0;
	if (!ps_pol_host_ok(name + skip, n - skip))
		return;
	cand_names(e, nm, name, n);
}

/* The certificate's names for a flow without SNI: the SANs, else the CN. */
static void
cand_sni_cert(struct eval *e, const struct ps_pol_query *q)
{
	unsigned int i;

	if (q->n_cert_san == 0 || q->cert_san == NULL) {
		cand_cert_name(e, &e->pol->sni, q->cert_cn);
		return;
	}
	for (i = 0; i < q->n_cert_san && i < PS_POL_SAN_MAX; i++)
		cand_cert_name(e, &e->pol->sni, q->cert_san[i]);
}

/* s (NUL-terminated) lower case into the map m, if no longer than a key. */
static void
cand_lower(struct eval *e, const struct pol_map *m, const char *s)
{
	char low[POL_DN_MAX];
	size_t n, i;

	if (s == NULL || m->tab == NULL)
		return;
	n = strnlen(s, sizeof(low) + 1);
	if (n == 0 || n > sizeof(low))
		return;
	for (i = 0; i < n; i++)
		low[i] = ps_pol_lower(s[i]);
	or_run(e, m->ids, m->bits, ps_pol_map_get(m, low, n));
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
		if (q->sni == NULL) {
			cand_sni_cert(e, q);
			break;
		}
		n = q->sni_len;
		if (n > 0 && q->sni[n - 1] == '.')
			n--;
		if (n == 0 || n > POL_NAME_MAX)
			break;
		for (i = 0; i < n; i++)
			name[i] = ps_pol_lower(q->sni[i]);
		cand_names(e, &pol->sni, name, n);
		break;
	case POL_C_CERT_CN:
		cand_cert_name(e, &pol->cert_cn, q->cert_cn);
		break;
	case POL_C_CERT_SAN:
		for (i = 0; q->cert_san != NULL && i < q->n_cert_san &&
			    i < PS_POL_SAN_MAX; i++)
			cand_cert_name(e, &pol->cert_san, q->cert_san[i]);
		break;
	case POL_C_CERT_ISSUER:
		cand_lower(e, &pol->issuer_cn, q->cert_issuer_cn);
		cand_lower(e, &pol->issuer_dn, q->cert_issuer);
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
	default:	/* POL_C_VERSION */
		for (v = 0; v < 4; v++) {
			if (!(q->tls_versions & (1u << v)))
				continue;
			for (w = 0; w < pol->words; w++)
				e->cand[w] |= pol->ver[v][w];
		}
		break;
	}
}

/*
 * Whether q knows the field of criterion c. A flow without SNI is tested
 * on the certificate's names, so its "sni" waits for the certificate.
 */
static bool
known(const struct ps_pol_query *q, unsigned int c)
{
	if (!(q->known & pol_crit_field(c)))
		return false;
	return c != POL_C_SNI || q->sni != NULL || (q->known & PS_POL_F_CERT);
}

/*
 * The first rule of def (sure matches) and may (possible ones, when
 * unknown) within mask (or outside it, inv true; NULL: every rule):
 * *sure is the first sure match, and the result the first rule that
 * decides, sure or not; UINT32_MAX: none.
 */
static uint32_t
first_in(const uint64_t *def, const uint64_t *may, bool unknown,
	 const uint64_t *mask, bool inv, size_t words, uint32_t *sure)
{
	uint64_t m, dw, mw;
	uint32_t d = UINT32_MAX, p = UINT32_MAX;
	size_t w;

	for (w = 0; w < words && d == UINT32_MAX; w++) {
		m = mask == NULL ? ~0ull : inv ? ~mask[w] : mask[w];
		dw = def[w] & m;
		mw = unknown ? may[w] & m : 0;
		if (mw != 0 && p == UINT32_MAX)
			p = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(mw));
		if (dw != 0)
			d = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(dw));
	}
	*sure = d;
	return p < d ? p : d;
}

/* See ps_policy.h. */
const struct ps_pol_verdict *
ps_pol_eval_ex(const struct ps_pol *pol, const struct ps_pol_query *q,
	       const struct ps_pol_verdict **shadow)
{
	uint64_t def[POL_WORDS_MAX + 1], may[POL_WORDS_MAX + 1], left;
	uint32_t d, first, sd, sfirst;
	const struct ps_pol_verdict *v;
	struct eval e;
	unsigned int c;
	size_t w, words = pol->words;
	bool unknown = false;

	if (shadow != NULL)
		*shadow = NULL;
	e.pol = pol;
	memcpy(def, pol->all, words * sizeof(uint64_t));
	for (c = 0; c < POL_C_N; c++) {
		if (!(pol->used & (1u << c)))
			continue;
		if (!known(q, c)) {
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
	/* the enforced answer: shadow rules (if any) left out */
	first = first_in(def, may, unknown, pol->shadow, true, words, &d);
	if (first == UINT32_MAX)
		v = &pol->dflt;
	else
		v = first < d ? &pol->pending[first] : &pol->verdicts[first];
	if (pol->shadow == NULL || shadow == NULL)
		return v;
	/* the shadow answer counts only before the enforced rule */
	sfirst = first_in(def, may, unknown, pol->shadow, false, words, &sd);
	if (sfirst < first)
		*shadow = sfirst < sd ? &pol->pending[sfirst] : &pol->verdicts[sfirst];
	return v;
}

/* See ps_policy.h. */
const struct ps_pol_verdict *
ps_pol_eval(const struct ps_pol *pol, const struct ps_pol_query *q)
{
	return ps_pol_eval_ex(pol, q, NULL);
}
