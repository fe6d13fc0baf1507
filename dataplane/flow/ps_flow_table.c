/* SPDX-License-Identifier: BSD-3-Clause
 * Per-lcore flow table: fixed slab + open-addressing index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ps_flow_table.h"

#define USER_ALIGN	16u

struct bucket {
	uint32_t slot1;			/* slot + 1; 0 = empty */
	uint32_t hash;
};

struct entry {
	struct ps_flow_key key;
	uint32_t hash;			/* as given at insert */
	uint32_t gen;			/* odd while in use */
	uint32_t next_free;
};

struct ps_flow_table {
	uint32_t max_flows;
	uint32_t n_flows;
	uint32_t mask;			/* buckets - 1 */
	uint32_t free_head;		/* UINT32_MAX: none */
	uint32_t user_size;		/* rounded to USER_ALIGN */
	struct bucket *buckets;
	struct entry *entries;
	uint8_t *user;
};

static inline uint32_t
mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	return h;
}

uint32_t
ps_flow_key_hash(const struct ps_flow_key *key)
{
	const uint8_t *b = (const uint8_t *)key;
	uint32_t h = 0x9e3779b9U;
	size_t i;

	for (i = 0; i + 4 <= sizeof(*key); i += 4) {
		uint32_t w;

		memcpy(&w, b + i, 4);
		h = mix32(h ^ w) + 0x85ebca6bU;
	}
	return mix32(h);
}

bool
ps_flow_key_from_pkt(const struct ps_pkt *p, uint8_t seg, char side,
		     struct ps_flow_key *key)
{
	unsigned int i;

	if (p->l3 == PS_L3_NONE || !p->has_l4 ||
	    (p->ip_proto != PS_IPPROTO_TCP && p->ip_proto != PS_IPPROTO_UDP))
		return false;
	memset(key, 0, sizeof(*key));
	if (side == 'b') {
		key->cli = p->dst;
		key->srv = p->src;
		key->cli_port = p->dport;
		key->srv_port = p->sport;
	} else {
		key->cli = p->src;
		key->srv = p->dst;
		key->cli_port = p->sport;
		key->srv_port = p->dport;
	}
	for (i = 0; i < p->n_vlans && i < PS_VLAN_MAX; i++)
		key->vlan[i] = p->vlan_tci[i] & 0x0fff;
	key->l3 = p->l3;
	key->ip_proto = p->ip_proto;
	key->segment = seg;
	return true;
}

int
ps_flow_table_create(uint32_t max_flows, uint32_t user_size,
		     struct ps_flow_table **out)
{
	struct ps_flow_table *t;
	uint32_t nb = 2, i;

	if (max_flows == 0 || max_flows > (1u << 28))
		return -EINVAL;
	while (nb < 2 * (uint64_t)max_flows)
		nb <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->max_flows = max_flows;
	t->mask = nb - 1;
	t->user_size = (user_size + USER_ALIGN - 1) & ~(USER_ALIGN - 1);
	t->buckets = calloc(nb, sizeof(*t->buckets));
	t->entries = calloc(max_flows, sizeof(*t->entries));
	if (t->user_size > 0)
		t->user = aligned_alloc(USER_ALIGN, (size_t)t->user_size * max_flows);
	if (t->buckets == NULL || t->entries == NULL ||
	    (t->user_size > 0 && t->user == NULL)) {
		ps_flow_table_free(t);
		return -ENOMEM;
	}
	for (i = 0; i < max_flows; i++)
		t->entries[i].next_free = i + 1 < max_flows ? i + 1 : UINT32_MAX;
	t->free_head = 0;
	*out = t;
	return 0;
}

void
ps_flow_table_free(struct ps_flow_table *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t->entries);
	free(t->user);
	free(t);
}

static inline void *
user_of(struct ps_flow_table *t, uint32_t slot)
{
	return t->user != NULL ? t->user + (size_t)slot * t->user_size : (void *)t;
}

/* Bucket index holding key, or the first empty bucket of its probe run. */
static uint32_t
probe(const struct ps_flow_table *t, const struct ps_flow_key *key,
      uint32_t hash, bool *found)
{
	uint32_t i = hash & t->mask;

	for (;;) {
		const struct bucket *b = &t->buckets[i];

		if (b->slot1 == 0) {
			*found = false;
			return i;
		}
		if (b->hash == hash &&
		    memcmp(&t->entries[b->slot1 - 1].key, key, sizeof(*key)) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & t->mask;
	}
}

void *
ps_flow_lookup(struct ps_flow_table *t, const struct ps_flow_key *key,
	       uint32_t hash, struct ps_flow_handle *h)
{
	bool found;
	uint32_t i = probe(t, key, hash, &found);
	uint32_t slot;

	if (!found)
		return NULL;
	slot = t->buckets[i].slot1 - 1;
	if (h != NULL) {
		h->slot = slot;
		h->gen = t->entries[slot].gen;
	}
	return user_of(t, slot);
}

void *
ps_flow_insert(struct ps_flow_table *t, const struct ps_flow_key *key,
	       uint32_t hash, struct ps_flow_handle *h, int *err)
{
	struct entry *e;
	bool found;
	uint32_t i, slot;
	void *u;

	i = probe(t, key, hash, &found);
	if (found) {
		*err = -EEXIST;
		return NULL;
	}
	if (t->free_head == UINT32_MAX) {
		*err = -ENOSPC;
		return NULL;
	}
	slot = t->free_head;
	e = &t->entries[slot];
	t->free_head = e->next_free;
	e->key = *key;
	e->hash = hash;
	e->gen++;			/* even -> odd: live */
	t->buckets[i].slot1 = slot + 1;
	t->buckets[i].hash = hash;
	t->n_flows++;
	u = user_of(t, slot);
	if (t->user != NULL)
		memset(u, 0, t->user_size);
	if (h != NULL) {
		h->slot = slot;
		h->gen = e->gen;
	}
	*err = 0;
	return u;
}

static bool
live(const struct ps_flow_table *t, struct ps_flow_handle h)
{
	return h.slot < t->max_flows && (h.gen & 1) != 0 &&
	       t->entries[h.slot].gen == h.gen;
}

int
ps_flow_remove(struct ps_flow_table *t, struct ps_flow_handle h)
{
	struct entry *e;
	bool found;
	uint32_t i, j;

	if (!live(t, h))
		return -ENOENT;
	e = &t->entries[h.slot];
	i = probe(t, &e->key, e->hash, &found);
	if (!found)
		return -ENOENT;	/* cannot happen for a live handle */

	/* Backward-shift deletion keeps every probe run unbroken. */
	t->buckets[i].slot1 = 0;
	for (j = (i + 1) & t->mask; t->buckets[j].slot1 != 0;
	     j = (j + 1) & t->mask) {
		uint32_t home = t->buckets[j].hash & t->mask;
		bool movable = i <= j ? (home <= i || home > j)
				      : (home <= i && home > j);

		if (movable) {
			t->buckets[i] = t->buckets[j];
			t->buckets[j].slot1 = 0;
			i = j;
		}
	}
	e->gen++;			/* odd -> even: dead, stale handles fail */
	e->next_free = t->free_head;
	t->free_head = h.slot;
	t->n_flows--;
	return 0;
}

void *
ps_flow_get(struct ps_flow_table *t, struct ps_flow_handle h)
{
	return live(t, h) ? user_of(t, h.slot) : NULL;
}

const struct ps_flow_key *
ps_flow_key_of(struct ps_flow_table *t, struct ps_flow_handle h)
{
	return live(t, h) ? &t->entries[h.slot].key : NULL;
}

uint32_t
ps_flow_count(const struct ps_flow_table *t)
{
	return t->n_flows;
}

uint32_t
ps_flow_capacity(const struct ps_flow_table *t)
{
	return t->max_flows;
}
