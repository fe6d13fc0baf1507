/* SPDX-License-Identifier: BSD-3-Clause
 * SACK, RFC 2018. Sending side: a scoreboard of the ranges above snd_una
 * the peer reported, used to skip them when retransmitting. Receiving side:
 * the out-of-order islands of the reassembly buffer, most recently updated
 * first, which are also the SACK blocks we send (RFC 2018 section 4).
 */
#include <errno.h>
#include <string.h>

#include "tcp_priv.h"

static void
sb_insert(struct ps_tcp_ep *ep, uint32_t l, uint32_t r)
{
	struct ps_tcp_range keep[PS_TCP_SB_MAX + 1];
	unsigned int i, n = 0, pos;

	for (i = 0; i < ep->n_sb; i++) {
		struct ps_tcp_range *s = &ep->sb[i];

		if (SEQ_LT(s->end, l) || SEQ_GT(s->start, r)) {
			keep[n++] = *s;
			continue;
		}
		if (SEQ_LT(s->start, l))
			l = s->start;
		if (SEQ_GT(s->end, r))
			r = s->end;
	}
	for (pos = 0; pos < n && SEQ_LT(keep[pos].start, l); pos++)
		;
	memmove(&keep[pos + 1], &keep[pos], (n - pos) * sizeof(keep[0]));
	keep[pos].start = l;
	keep[pos].end = r;
	n++;
	if (n > PS_TCP_SB_MAX)
		n = PS_TCP_SB_MAX;	/* forget the highest range */
	memcpy(ep->sb, keep, n * sizeof(keep[0]));
	ep->n_sb = (uint8_t)n;
}

/*
 * Merge the SACK blocks of an acceptable ACK into the scoreboard
 * (RFC 2018 section 5). Blocks outside (snd_una, snd_max] are ignored.
 */
void
ps_tcp_sack_update(struct ps_tcp_ep *ep, const struct ps_pkt *seg)
{
	unsigned int i;

	for (i = 0; i < seg->n_sack && i < PS_TCP_SACK_MAX; i++) {
		uint32_t l = seg->sack[i][0], r = seg->sack[i][1];

		if (!SEQ_LT(l, r) || SEQ_LEQ(r, ep->snd_una) || SEQ_GT(r, ep->snd_max))
			continue;
		if (SEQ_LT(l, ep->snd_una))
			l = ep->snd_una;
		sb_insert(ep, l, r);
	}
}

/* Drop what snd_una has passed. */
void
ps_tcp_sack_prune(struct ps_tcp_ep *ep)
{
	unsigned int i, n = 0;

	for (i = 0; i < ep->n_sb; i++) {
		if (SEQ_LEQ(ep->sb[i].end, ep->snd_una))
			continue;
		ep->sb[n] = ep->sb[i];
		if (SEQ_LT(ep->sb[n].start, ep->snd_una))
			ep->sb[n].start = ep->snd_una;
		n++;
	}
	ep->n_sb = (uint8_t)n;
}

/* True when seq was SACKed; *end is then the end of its range. */
bool
ps_tcp_sacked(const struct ps_tcp_ep *ep, uint32_t seq, uint32_t *end)
{
	unsigned int i;

	for (i = 0; i < ep->n_sb; i++) {
		if (SEQ_GEQ(seq, ep->sb[i].start) && SEQ_LT(seq, ep->sb[i].end)) {
			*end = ep->sb[i].end;
			return true;
		}
	}
	return false;
}

/* Start of the first SACKed range above seq in *start; false when none. */
bool
ps_tcp_sack_next_start(const struct ps_tcp_ep *ep, uint32_t seq, uint32_t *start)
{
	unsigned int i;

	for (i = 0; i < ep->n_sb; i++) {
		if (SEQ_GT(ep->sb[i].start, seq)) {
			*start = ep->sb[i].start;
			return true;
		}
	}
	return false;
}

/*
 * First sequence number at or above from that is neither acked nor SACKed
 * and lies below a SACKed range: a hole the peer reported (RFC 6675 2).
 */
bool
ps_tcp_sack_next_hole(const struct ps_tcp_ep *ep, uint32_t from, uint32_t *hole)
{
	uint32_t end;

	if (ep->n_sb == 0)
		return false;
	if (SEQ_LT(from, ep->snd_una))
		from = ep->snd_una;
	while (ps_tcp_sacked(ep, from, &end))
		from = end;
	if (SEQ_GEQ(from, ep->sb[ep->n_sb - 1].end))
		return false;
	*hole = from;
	return true;
}

/*
 * Record received out-of-order bytes [start, end) as an island, merged with
 * the islands it touches and moved first (most recent). Returns 0, -ENOSPC
 * when it would make more than PS_TCP_OOO_MAX islands (nothing changed).
 */
int
ps_tcp_ooo_insert(struct ps_tcp_ep *ep, uint32_t start, uint32_t end)
{
	struct ps_tcp_range keep[PS_TCP_OOO_MAX];
	unsigned int i, n = 0;

	for (i = 0; i < ep->n_ooo; i++) {
		struct ps_tcp_range *o = &ep->ooo[i];

		if (SEQ_LT(o->end, start) || SEQ_GT(o->start, end)) {
			if (n == PS_TCP_OOO_MAX - 1)
				return -ENOSPC;
			keep[n++] = *o;
			continue;
		}
		if (SEQ_LT(o->start, start))
			start = o->start;
		if (SEQ_GT(o->end, end))
			end = o->end;
	}
	ep->ooo[0].start = start;
	ep->ooo[0].end = end;
	memcpy(&ep->ooo[1], keep, n * sizeof(keep[0]));
	ep->n_ooo = (uint8_t)(n + 1);
	return 0;
}

/*
 * After rcv_nxt advanced: absorb the islands it reached. Returns the new
 * rcv_nxt (also stored).
 */
uint32_t
ps_tcp_ooo_merge(struct ps_tcp_ep *ep)
{
	bool again = true;
	unsigned int i;

	while (again) {
		again = false;
		for (i = 0; i < ep->n_ooo; i++) {
			if (SEQ_GT(ep->ooo[i].start, ep->rcv_nxt))
				continue;
			if (SEQ_GT(ep->ooo[i].end, ep->rcv_nxt))
				ep->rcv_nxt = ep->ooo[i].end;
			memmove(&ep->ooo[i], &ep->ooo[i + 1],
				(ep->n_ooo - i - 1) * sizeof(ep->ooo[0]));
			ep->n_ooo--;
			again = true;
			break;
		}
	}
	return ep->rcv_nxt;
}

/* Put up to max SACK blocks (our islands, most recent first) into tcp. */
void
ps_tcp_sack_blocks(const struct ps_tcp_ep *ep, struct ps_tcp_spec *tcp, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < ep->n_ooo && i < max && i < PS_TCP_SACK_MAX; i++) {
		tcp->sack[i][0] = ep->ooo[i].start;
		tcp->sack[i][1] = ep->ooo[i].end;
	}
	tcp->n_sack = (uint8_t)i;
}
