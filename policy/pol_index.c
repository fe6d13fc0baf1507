/* SPDX-License-Identifier: BSD-3-Clause
 * The policy's indexes. Each maps a key (a host name, a prefix, a port)
 * to the ascending list of rule ids that name it, so evaluation costs one
 * lookup per key of the query, never one test per rule.
 *
 * All are built the same way: collect (key, rule) pairs, sort, drop
 * duplicates, and store each key's rules as one run of a shared ids[].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pol_priv.h"

#define EMPTY	UINT32_MAX

static int
ipair_cmp(const void *a, const void *b)
{
	const struct pol_pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int
spair_cmp(const void *a, const void *b)
{
	const struct pol_pair *x = a, *y = b;
	int d = strcmp(x->skey, y->skey);

	if (d != 0)
		return d;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/*
 * Sorted pairs -> ids[] and, per integer key 0..n_keys-1, its run.
 * Duplicate (key, rule) pairs are stored once.
 */
static int
group_ints(const struct pol_pair *pairs, size_t n, struct pol_run *runs,
	   uint32_t **ids)
{
	size_t i, o = 0;

	*ids = malloc((n + 1) * sizeof(**ids));
	if (*ids == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (i > 0 && pairs[i].key == pairs[i - 1].key &&
		    pairs[i].rule == pairs[i - 1].rule)
			continue;
		if (i == 0 || pairs[i].key != pairs[i - 1].key)
			runs[pairs[i].key].start = (uint32_t)o;
		runs[pairs[i].key].count++;
		(*ids)[o++] = pairs[i].rule;
	}
	return 0;
}

/*
 * See pol_priv.h. Give each run of at least words/4 rules (runs are n
 * struct pol_run, stride bytes apart) a bitset in *bits.
 */
int
ps_pol_densify(uint64_t **bits, void *runs, size_t stride, size_t n,
	       const uint32_t *ids, uint32_t words)
{
	size_t i, k, n_dense = 0, o = 0;
	struct pol_run *run;
	uint64_t *b;

	*bits = NULL;
	for (i = 0; i < n; i++) {
		run = (struct pol_run *)((char *)runs + i * stride);
		if (run->count > 0 && (size_t)run->count * 4 >= words)
			n_dense++;
	}
	if (n_dense == 0)
		return 0;
	if (n_dense * words >= UINT32_MAX)
		return -E2BIG;
	*bits = calloc(n_dense * words, sizeof(**bits));
	if (*bits == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		run = (struct pol_run *)((char *)runs + i * stride);
		if (run->count == 0 || (size_t)run->count * 4 < words)
			continue;
		b = *bits + o;
		for (k = 0; k < run->count; k++) {
			uint32_t r = ids[run->start + k];

			b[r / 64] |= 1ull << (r % 64);
		}
		run->dense = (uint32_t)(o + 1);
		o += words;
	}
	return 0;
}

/* FNV-1a, 64 bits. */
static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* See pol_priv.h. pairs are reordered. */
int
ps_pol_map_build(struct pol_map *m, struct pol_pair *pairs, size_t n)
{
	size_t i, j, n_keys = 0, key_bytes = 0, size, o = 0, ko = 0;
	struct pol_map_ent *e;
	uint64_t h;

	memset(m, 0, sizeof(*m));
	if (n == 0)
		return 0;
	qsort(pairs, n, sizeof(*pairs), spair_cmp);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(pairs[i].skey, pairs[i - 1].skey) != 0) {
			n_keys++;
			key_bytes += strlen(pairs[i].skey) + 1;
		}
	}
	if (n_keys > UINT32_MAX / 4 || key_bytes >= UINT32_MAX || n >= UINT32_MAX)
		return -E2BIG;
	for (size = 16; size < n_keys * 2; size <<= 1)
		;
	m->tab = malloc(size * sizeof(*m->tab));
	m->keys = malloc(key_bytes);
	m->ids = malloc(n * sizeof(*m->ids));
	if (m->tab == NULL || m->keys == NULL || m->ids == NULL) {
		ps_pol_map_free(m);
		return -ENOMEM;
	}
	m->mask = (uint32_t)(size - 1);
	memset(m->tab, 0, size * sizeof(*m->tab));
	for (i = 0; i < size; i++)
		m->tab[i].koff = EMPTY;
	for (i = 0; i < n; i = j) {
		size_t klen = strlen(pairs[i].skey);

		h = hash(pairs[i].skey, klen);
		for (e = &m->tab[h & m->mask]; e->koff != EMPTY;
		     e = &m->tab[(size_t)(e - m->tab + 1) & m->mask])
			;
		e->hash = h;
		e->koff = (uint32_t)ko;
		e->klen = (uint32_t)klen;
		memcpy(m->keys + ko, pairs[i].skey, klen + 1);
		ko += klen + 1;
		e->run.start = (uint32_t)o;
		e->run.count = 0;
		for (j = i; j < n && strcmp(pairs[j].skey, pairs[i].skey) == 0; j++) {
			if (j > i && pairs[j].rule == pairs[j - 1].rule)
				continue;
			m->ids[o++] = pairs[j].rule;
			e->run.count++;
		}
	}
	return 0;
}

/* See pol_priv.h. The rules of key[0..klen), or NULL. */
const struct pol_run *
ps_pol_map_get(const struct pol_map *m, const char *key, size_t klen)
{
	const struct pol_map_ent *e;
	uint64_t h;
	size_t i;

	if (m->tab == NULL)
		return NULL;
	h = hash(key, klen);
	for (i = h & m->mask;; i = (i + 1) & m->mask) {
		e = &m->tab[i];
		if (e->koff == EMPTY)
			return NULL;
		if (e->hash == h && e->klen == klen &&
		    memcmp(m->keys + e->koff, key, klen) == 0)
			return &e->run;
	}
}

/* See pol_priv.h. */
void
ps_pol_map_free(struct pol_map *m)
{
	free(m->tab);
	free(m->keys);
	free(m->ids);
	free(m->bits);
	memset(m, 0, sizeof(*m));
}

/* ---- prefixes ---- */

/* See pol_priv.h. pfx[i] (of bits-bit addresses) names rules[i]. */
int
ps_pol_trie_build(struct pol_trie *t, const struct pol_cidr *const *pfx,
		  const uint32_t *rules, size_t n, unsigned int bits)
{
	struct pol_pair *pairs;
	struct pol_run *runs;
	size_t i, cap;
	uint32_t node;
	unsigned int b;
	int rc = -ENOMEM;

	memset(t, 0, sizeof(*t));
	if (n == 0)
		return 0;
	if (n > UINT32_MAX / (bits + 1))
		return -E2BIG;
	cap = 1024;
	t->nodes = calloc(cap, sizeof(*t->nodes));
	pairs = malloc(n * sizeof(*pairs));
	if (t->nodes == NULL || pairs == NULL)
		goto out;
	t->n_nodes = 1;
	for (i = 0; i < n; i++) {
		node = 0;
		for (b = 0; b < pfx[i]->len; b++) {
			unsigned int bit = (pfx[i]->bytes[b / 8] >> (7 - b % 8)) & 1;

			if (t->nodes[node].child[bit] == 0) {
				if (t->n_nodes == cap) {
					struct pol_node *nn;

					nn = realloc(t->nodes, 2 * cap * sizeof(*nn));
					if (nn == NULL)
						goto out;
					memset(nn + cap, 0, cap * sizeof(*nn));
					t->nodes = nn;
					cap *= 2;
				}
				t->nodes[node].child[bit] = t->n_nodes++;
			}
			node = t->nodes[node].child[bit];
		}
		pairs[i].key = node;
		pairs[i].rule = rules[i];
	}
	qsort(pairs, n, sizeof(*pairs), ipair_cmp);
	runs = calloc(t->n_nodes, sizeof(*runs));
	if (runs == NULL)
		goto out;
	rc = group_ints(pairs, n, runs, &t->ids);
	for (i = 0; i < t->n_nodes; i++)
		t->nodes[i].run = runs[i];
	free(runs);
out:
	free(pairs);
	if (rc < 0)
		ps_pol_trie_free(t);
	return rc;
}

/* See pol_priv.h. */
void
ps_pol_trie_free(struct pol_trie *t)
{
	free(t->nodes);
	free(t->ids);
	free(t->bits);
	memset(t, 0, sizeof(*t));
}

/* ---- integer ranges (ports, VLANs) ---- */

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The interval holding v: the last bound <= v. bound[0] <= v required. */
static uint32_t
interval_of(const struct pol_ranges *r, uint32_t v)
{
	uint32_t lo = 0, hi = r->n_bound - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (r->bound[mid] <= v)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * See pol_priv.h. rg[i] names rules[i]. Each range covers the elementary
 * intervals between its bounds; a range adds its rule to each of them.
 */
int
ps_pol_ranges_build(struct pol_ranges *r, const struct pol_range *rg,
		    const uint32_t *rules, size_t n)
{
	struct pol_pair *pairs = NULL;
	size_t i, np = 0, cap = 0, nb = 0;
	uint32_t a, z, k;
	int rc = -ENOMEM;

	memset(r, 0, sizeof(*r));
	if (n == 0)
		return 0;
	r->bound = malloc(2 * n * sizeof(*r->bound));
	if (r->bound == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		r->bound[nb++] = rg[i].lo;
		r->bound[nb++] = (uint32_t)rg[i].hi + 1;
	}
	qsort(r->bound, nb, sizeof(*r->bound), u32_cmp);
	r->n_bound = 0;
	for (i = 0; i < nb; i++) {
		if (i == 0 || r->bound[i] != r->bound[i - 1])
			r->bound[r->n_bound++] = r->bound[i];
	}
	r->runs = calloc(r->n_bound, sizeof(*r->runs));
	if (r->runs == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		a = interval_of(r, rg[i].lo);
		z = interval_of(r, (uint32_t)rg[i].hi + 1);
		if (np + (z - a) > cap) {
			struct pol_pair *p2;

			cap = 2 * (np + (z - a)) + 16;
			p2 = realloc(pairs, cap * sizeof(*pairs));
			if (p2 == NULL)
				goto out;
			pairs = p2;
		}
		for (k = a; k < z; k++) {
			pairs[np].key = k;
			pairs[np++].rule = rules[i];
		}
	}
	qsort(pairs, np, sizeof(*pairs), ipair_cmp);
	rc = group_ints(pairs, np, r->runs, &r->ids);
out:
	free(pairs);
	if (rc < 0)
		ps_pol_ranges_free(r);
	return rc;
}

/* See pol_priv.h. The rules whose ranges hold v, or NULL. */
const struct pol_run *
ps_pol_ranges_get(const struct pol_ranges *r, uint32_t v)
{
	uint32_t k;

	if (r->n_bound == 0 || v < r->bound[0] || v >= r->bound[r->n_bound - 1])
		return NULL;
	k = interval_of(r, v);
	return &r->runs[k];
}

/* See pol_priv.h. */
void
ps_pol_ranges_free(struct pol_ranges *r)
{
	free(r->bound);
	free(r->runs);
	free(r->ids);
	free(r->bits);
	memset(r, 0, sizeof(*r));
}
