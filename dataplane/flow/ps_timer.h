/* SPDX-License-Identifier: BSD-3-Clause
 * Per-lcore hashed timer wheel. Pure library, no EAL, no allocation after
 * creation: timers are intrusive (embedded in the flow), arming and
 * cancelling are O(1), and advancing costs one slot visit per elapsed tick
 * plus one visit per armed timer per wheel revolution.
 *
 * Time is whatever monotonic microsecond clock the caller passes in.
 */
#ifndef PS_TIMER_H
#define PS_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct ps_timer {
	struct ps_timer *next;
	struct ps_timer **pprev;	/* NULL when not armed */
	uint64_t expiry_tick;
};

struct ps_timer_wheel;

/* Called for each expired timer, already disarmed; it may re-arm it. */
typedef void (*ps_timer_fn)(void *ctx, struct ps_timer *t);

/*
 * Create a wheel of n_slots (rounded up to a power of two) ticks of tick_us
 * microseconds, starting at now_us. Returns 0 and *out, or -EINVAL/-ENOMEM.
 */
int ps_timer_wheel_create(uint64_t tick_us, uint32_t n_slots, uint64_t now_us,
			  struct ps_timer_wheel **out);

void ps_timer_wheel_free(struct ps_timer_wheel *w);

static inline void
ps_timer_init(struct ps_timer *t)
{
	t->next = NULL;
	t->pprev = NULL;
	t->expiry_tick = 0;
}

static inline bool
ps_timer_armed(const struct ps_timer *t)
{
	return t->pprev != NULL;
}

/*
 * Arm (or re-arm) t to fire at the first tick at or after expiry_us. A time
 * in the past fires on the next advance.
 */
void ps_timer_arm(struct ps_timer_wheel *w, struct ps_timer *t,
		  uint64_t expiry_us);

/* Disarm t; harmless when it is not armed. */
void ps_timer_cancel(struct ps_timer_wheel *w, struct ps_timer *t);

/*
 * Fire every timer due at now_us, at most max_fire of them (the rest fire on
 * the next call, so one call never stalls the worker). Returns the number
 * fired.
 */
unsigned int ps_timer_advance(struct ps_timer_wheel *w, uint64_t now_us,
			      unsigned int max_fire, ps_timer_fn fn, void *ctx);

/* Number of armed timers. */
uint32_t ps_timer_count(const struct ps_timer_wheel *w);

#endif /* PS_TIMER_H */
