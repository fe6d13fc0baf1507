/* SPDX-License-Identifier: BSD-3-Clause
 * Hashed timer wheel (Varghese & Lauck, scheme 6): a timer sits in slot
 * expiry_tick mod n_slots; a slot visit fires only the timers whose tick has
 * come, the others wait for a later revolution.
 */
#include <errno.h>
#include <stdlib.h>

#include "ps_timer.h"

struct ps_timer_wheel {
	uint64_t tick_us;
	uint64_t cur_tick;		/* last tick processed */
	uint32_t mask;
	uint32_t n_armed;
	struct ps_timer **slots;
};

int
ps_timer_wheel_create(uint64_t tick_us, uint32_t n_slots, uint64_t now_us,
		      struct ps_timer_wheel **out)
{
	struct ps_timer_wheel *w;
	uint32_t n = 1;

	if (tick_us == 0 || n_slots == 0 || n_slots > (1u << 24))
		return -EINVAL;
	while (n < n_slots)
		n <<= 1;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->slots = calloc(n, sizeof(*w->slots));
	if (w->slots == NULL) {
		free(w);
		return -ENOMEM;
	}
	w->tick_us = tick_us;
	w->mask = n - 1;
	w->cur_tick = now_us / tick_us;
	*out = w;
	return 0;
}

void
ps_timer_wheel_free(struct ps_timer_wheel *w)
{
	if (w == NULL)
		return;
	free(w->slots);
	free(w);
}

static void
unlink_timer(struct ps_timer *t)
{
	*t->pprev = t->next;
	if (t->next != NULL)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
}

void
ps_timer_arm(struct ps_timer_wheel *w, struct ps_timer *t, uint64_t expiry_us)
{
	uint64_t tick = (expiry_us + w->tick_us - 1) / w->tick_us;
	struct ps_timer **head;

	if (ps_timer_armed(t))
		unlink_timer(t);
	else
		w->n_armed++;
	if (tick < w->cur_tick)
		tick = w->cur_tick;
	t->expiry_tick = tick;
	head = &w->slots[tick & w->mask];
	t->next = *head;
	if (*head != NULL)
		(*head)->pprev = &t->next;
	t->pprev = head;
	*head = t;
}

void
ps_timer_cancel(struct ps_timer_wheel *w, struct ps_timer *t)
{
	if (!ps_timer_armed(t))
		return;
	unlink_timer(t);
	w->n_armed--;
}

unsigned int
ps_timer_advance(struct ps_timer_wheel *w, uint64_t now_us,
		 unsigned int max_fire, ps_timer_fn fn, void *ctx)
{
	uint64_t now_tick = now_us / w->tick_us;
	unsigned int fired = 0;

	/* cur_tick is the last tick processed; it is visited again on the
	 * next call, so a timer armed for the past still fires then. */
	for (;;) {
		struct ps_timer **pp = &w->slots[w->cur_tick & w->mask];
		struct ps_timer *t;

		while ((t = *pp) != NULL) {
			if (t->expiry_tick > w->cur_tick) {
				pp = &t->next;	/* a later revolution */
				continue;
			}
			if (fired == max_fire)
				return fired;	/* resume this slot next call */
			unlink_timer(t);
			w->n_armed--;
			fired++;
			fn(ctx, t);	/* may re-arm t, even into this slot */
		}
		if (w->cur_tick >= now_tick)
			break;
		if (w->n_armed == 0) {
			w->cur_tick = now_tick;
			break;
		}
		w->cur_tick++;
	}
	return fired;
}

uint32_t
ps_timer_count(const struct ps_timer_wheel *w)
{
	return w->n_armed;
}
