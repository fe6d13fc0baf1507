/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: per-lcore flow table and timer wheel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_flow_table.h"
#include "ps_timer.h"

static struct ps_flow_key
mkkey(uint32_t cli, uint32_t srv, uint16_t cport, uint16_t sport)
{
	struct ps_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.cli.b, &cli, 4);
	memcpy(k.srv.b, &srv, 4);
	k.cli_port = cport;
	k.srv_port = sport;
	k.l3 = PS_L3_IPV4;
	k.ip_proto = PS_IPPROTO_TCP;
	return k;
}

/* Both directions of a TCP connection key to the same flow. */
static void
test_key_both_directions(void **state)
{
	struct ps_pkt fwd, rev;
	struct ps_flow_key kf, kr;

	(void)state;
	memset(&fwd, 0, sizeof(fwd));
	fwd.l3 = PS_L3_IPV4;
	fwd.ip_proto = PS_IPPROTO_TCP;
	fwd.has_l4 = true;
	fwd.src.b[0] = 198, fwd.src.b[1] = 18, fwd.src.b[3] = 1;
	fwd.dst.b[0] = 198, fwd.dst.b[1] = 18, fwd.dst.b[3] = 2;
	fwd.sport = 40000;
	fwd.dport = 443;
	fwd.n_vlans = 1;
	fwd.vlan_tci[0] = (5 << 13) | 100;	/* priority does not matter */
	rev = fwd;
	rev.src = fwd.dst;
	rev.dst = fwd.src;
	rev.sport = fwd.dport;
	rev.dport = fwd.sport;
	rev.vlan_tci[0] = 100;

	assert_true(ps_flow_key_from_pkt(&fwd, 3, 'a', &kf));
	assert_true(ps_flow_key_from_pkt(&rev, 3, 'b', &kr));
	assert_memory_equal(&kf, &kr, sizeof(kf));
	assert_int_equal(ps_flow_key_hash(&kf), ps_flow_key_hash(&kr));
	assert_int_equal(kf.cli_port, 40000);
	assert_int_equal(kf.srv_port, 443);
	assert_int_equal(kf.vlan[0], 100);
	assert_int_equal(kf.segment, 3);

	/* Another segment or VLAN is another flow. */
	assert_true(ps_flow_key_from_pkt(&rev, 4, 'b', &kr));
	assert_memory_not_equal(&kf, &kr, sizeof(kf));

	/* No ports, no flow: ICMP and non-first fragments. */
	fwd.ip_proto = PS_IPPROTO_ICMP;
	assert_false(ps_flow_key_from_pkt(&fwd, 0, 'a', &kf));
	fwd.ip_proto = PS_IPPROTO_TCP;
	fwd.has_l4 = false;
	assert_false(ps_flow_key_from_pkt(&fwd, 0, 'a', &kf));
}

static void
test_insert_lookup_remove(void **state)
{
	struct ps_flow_table *t;
	struct ps_flow_handle h, h2;
	struct ps_flow_key k = mkkey(1, 2, 1000, 443);
	uint32_t hash = ps_flow_key_hash(&k);
	uint64_t *u;
	int err;

	(void)state;
	assert_int_equal(ps_flow_table_create(4, sizeof(uint64_t), &t), 0);
	assert_null(ps_flow_lookup(t, &k, hash, NULL));
	u = ps_flow_insert(t, &k, hash, &h, &err);
	assert_non_null(u);
	assert_int_equal(err, 0);
	assert_int_equal(*u, 0);
	*u = 0xfeed;
	assert_null(ps_flow_insert(t, &k, hash, NULL, &err));
	assert_int_equal(err, -EEXIST);
	u = ps_flow_lookup(t, &k, hash, &h2);
	assert_non_null(u);
	assert_int_equal(*u, 0xfeed);
	assert_int_equal(h.slot, h2.slot);
	assert_int_equal(h.gen, h2.gen);
	assert_memory_equal(ps_flow_key_of(t, h), &k, sizeof(k));
	assert_int_equal(ps_flow_count(t), 1);

	assert_int_equal(ps_flow_remove(t, h), 0);
	assert_null(ps_flow_lookup(t, &k, hash, NULL));
	assert_int_equal(ps_flow_remove(t, h), -ENOENT);	/* stale */
	assert_null(ps_flow_get(t, h));
	assert_int_equal(ps_flow_count(t), 0);

	/* The slot is reused with a new generation: the old handle stays dead. */
	u = ps_flow_insert(t, &k, hash, &h2, &err);
	assert_non_null(u);
	assert_int_equal(*u, 0);	/* zeroed again */
	assert_int_equal(h2.slot, h.slot);
	assert_int_not_equal(h2.gen, h.gen);
	assert_null(ps_flow_get(t, h));
	assert_non_null(ps_flow_get(t, h2));
	ps_flow_table_free(t);
}

static void
test_full_table(void **state)
{
	struct ps_flow_table *t;
	struct ps_flow_key k;
	uint32_t i;
	int err;

	(void)state;
	assert_int_equal(ps_flow_table_create(100, 8, &t), 0);
	for (i = 0; i < 100; i++) {
		k = mkkey(i, 7, 1, 2);
		assert_non_null(ps_flow_insert(t, &k, ps_flow_key_hash(&k), NULL, &err));
	}
	k = mkkey(1000, 7, 1, 2);
	assert_null(ps_flow_insert(t, &k, ps_flow_key_hash(&k), NULL, &err));
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(ps_flow_count(t), 100);
	assert_int_equal(ps_flow_capacity(t), 100);
	assert_int_equal(ps_flow_table_create(0, 8, &t) , -EINVAL);
	ps_flow_table_free(t);
}

/*
 * Random inserts and removals against a shadow array, with a constant hash
 * for a third of the keys so probe runs are long and wrap around the index:
 * backward-shift deletion must never lose a key.
 */
static void
test_churn_against_shadow(void **state)
{
	enum { N = 512, OPS = 200000 };
	struct ps_flow_table *t;
	struct ps_flow_handle hs[N];
	bool present[N] = { false };
	uint32_t live = 0, i, seed = 12345;

	(void)state;
	assert_int_equal(ps_flow_table_create(N, sizeof(uint32_t), &t), 0);
	for (i = 0; i < OPS; i++) {
		uint32_t id, hash;
		struct ps_flow_key k;
		uint32_t *u;
		int err;

		seed = seed * 1103515245u + 12345u;
		id = (seed >> 8) % N;
		k = mkkey(id, 9, (uint16_t)id, 80);
		hash = id % 3 == 0 ? 0xffffffffu : ps_flow_key_hash(&k);
		if (present[id]) {
			u = ps_flow_lookup(t, &k, hash, NULL);
			assert_non_null(u);
			assert_int_equal(*u, id);
			assert_int_equal(ps_flow_remove(t, hs[id]), 0);
			present[id] = false;
			live--;
		} else {
			assert_null(ps_flow_lookup(t, &k, hash, NULL));
			u = ps_flow_insert(t, &k, hash, &hs[id], &err);
			assert_non_null(u);
			*u = id;
			present[id] = true;
			live++;
		}
		assert_int_equal(ps_flow_count(t), live);
	}
	for (i = 0; i < N; i++) {
		struct ps_flow_key k = mkkey(i, 9, (uint16_t)i, 80);
		uint32_t hash = i % 3 == 0 ? 0xffffffffu : ps_flow_key_hash(&k);

		assert_true((ps_flow_lookup(t, &k, hash, NULL) != NULL) == present[i]);
	}
	ps_flow_table_free(t);
}

struct fired {
	unsigned int n;
	struct ps_timer *order[16];
	uint64_t at[16];
	uint64_t now;
};

static void
on_fire(void *ctx, struct ps_timer *t)
{
	struct fired *f = ctx;

	if (f->n < 16) {
		f->order[f->n] = t;
		f->at[f->n] = f->now;
	}
	f->n++;
}

static void
test_timer_basic(void **state)
{
	struct ps_timer_wheel *w;
	struct ps_timer a, b, c;
	struct fired f = { 0 };

	(void)state;
	/* 1 ms ticks, 8 slots: 8 ms per revolution. */
	assert_int_equal(ps_timer_wheel_create(1000, 8, 0, &w), 0);
	ps_timer_init(&a);
	ps_timer_init(&b);
	ps_timer_init(&c);
	ps_timer_arm(w, &a, 3000);
	ps_timer_arm(w, &b, 3000 + 8000 * 2);	/* same slot, two revolutions on */
	ps_timer_arm(w, &c, 5000);
	assert_int_equal(ps_timer_count(w), 3);

	f.now = 2999;
	assert_int_equal(ps_timer_advance(w, f.now, 100, on_fire, &f), 0);
	f.now = 3000;
	assert_int_equal(ps_timer_advance(w, f.now, 100, on_fire, &f), 1);
	assert_ptr_equal(f.order[0], &a);
	assert_false(ps_timer_armed(&a));

	ps_timer_cancel(w, &c);
	ps_timer_cancel(w, &c);		/* twice is harmless */
	f.now = 18999;
	assert_int_equal(ps_timer_advance(w, f.now, 100, on_fire, &f), 0);
	f.now = 19000;
	assert_int_equal(ps_timer_advance(w, f.now, 100, on_fire, &f), 1);
	assert_ptr_equal(f.order[1], &b);
	assert_int_equal(ps_timer_count(w), 0);

	/* A deadline in the past fires on the next advance. */
	ps_timer_arm(w, &c, 10);
	f.now = 19001;
	assert_int_equal(ps_timer_advance(w, f.now, 100, on_fire, &f), 1);
	ps_timer_wheel_free(w);
}

static void
test_timer_rearm_and_budget(void **state)
{
	struct ps_timer_wheel *w;
	struct ps_timer t[10];
	struct fired f = { 0 };
	unsigned int i;

	(void)state;
	assert_int_equal(ps_timer_wheel_create(1000, 64, 0, &w), 0);
	for (i = 0; i < 10; i++) {
		ps_timer_init(&t[i]);
		ps_timer_arm(w, &t[i], 5000);
	}
	/* Re-arming moves the timer; it fires once, at the new time. */
	ps_timer_arm(w, &t[0], 9000);
	assert_int_equal(ps_timer_count(w), 10);

	f.now = 5000;
	assert_int_equal(ps_timer_advance(w, f.now, 4, on_fire, &f), 4);
	assert_int_equal(ps_timer_advance(w, f.now, 4, on_fire, &f), 4);
	assert_int_equal(ps_timer_advance(w, f.now, 4, on_fire, &f), 1);
	assert_int_equal(ps_timer_advance(w, f.now, 4, on_fire, &f), 0);
	f.now = 9000;
	assert_int_equal(ps_timer_advance(w, f.now, 4, on_fire, &f), 1);
	assert_int_equal(f.n, 10);
	assert_int_equal(ps_timer_count(w), 0);
	ps_timer_wheel_free(w);
	assert_int_equal(ps_timer_wheel_create(0, 8, 0, &w), -EINVAL);
	ps_timer_wheel_free(NULL);
}

/* Many random timers: each fires exactly once, never early, within a tick. */
struct rnd_ctx {
	struct ps_timer *base;
	const uint64_t *due;
	unsigned int *count;
	uint64_t now;
	unsigned int early, late;
};

static void
on_fire_rnd(void *ctx, struct ps_timer *t)
{
	struct rnd_ctx *c = ctx;
	size_t i = (size_t)(t - c->base);

	c->count[i]++;
	if (c->now < c->due[i])
		c->early++;
	if (c->now >= c->due[i] + 500 + 700)	/* one tick + one step */
		c->late++;
}

static void
test_timer_random(void **state)
{
	enum { N = 2000 };
	struct ps_timer_wheel *w;
	struct ps_timer *t = calloc(N, sizeof(*t));
	uint64_t *due = calloc(N, sizeof(*due));
	unsigned int *count = calloc(N, sizeof(*count));
	struct rnd_ctx c = { t, due, count, 0, 0, 0 };
	uint32_t seed = 99, i;

	(void)state;
	assert_non_null(t);
	assert_non_null(due);
	assert_non_null(count);
	assert_int_equal(ps_timer_wheel_create(500, 256, 0, &w), 0);
	for (i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		due[i] = (seed >> 4) % 1000000;	/* up to 1 s: many revolutions */
		ps_timer_init(&t[i]);
		ps_timer_arm(w, &t[i], due[i]);
	}
	for (c.now = 0; c.now <= 1001000; c.now += 700)
		ps_timer_advance(w, c.now, N, on_fire_rnd, &c);
	for (i = 0; i < N; i++)
		assert_int_equal(count[i], 1);
	assert_int_equal(c.early, 0);
	assert_int_equal(c.late, 0);
	assert_int_equal(ps_timer_count(w), 0);
	ps_timer_wheel_free(w);
	free(t);
	free(due);
	free(count);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_both_directions),
		cmocka_unit_test(test_insert_lookup_remove),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_churn_against_shadow),
		cmocka_unit_test(test_timer_basic),
		cmocka_unit_test(test_timer_rearm_and_budget),
		cmocka_unit_test(test_timer_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
