/* SPDX-License-Identifier: BSD-3-Clause
 * The leg of one decrypted flow through an inline tool (an IPS, a DLP
 * box: a bump in the wire between two tool ports, A and B).
 *
 * The appliance opens its own plaintext TCP connection through the tool,
 * with the flow's own identity (MACs, VLAN tags, addresses, ports): an
 * active endpoint "ta" behind port A plays the client, and a passive one
 * "tb" behind port B plays the server. ta's SYN goes out of A, through
 * the tool, and comes in at B, where tb takes it and answers; so the tool
 * sees an ordinary TCP connection being set up, then:
 *
 *   client->server plaintext: pushed into ta, comes out of tb (dir 0)
 *   server->client plaintext: pushed into tb, comes out of ta (dir 1)
 *
 * What comes out is what the tool let through, changed or not: only that
 * goes on to be re-encrypted. A RST from the tool (or a leg that times
 * out) resets the leg, and the caller resets the flow. Back-pressure is
 * TCP's own: push takes what the sender's buffer has room for; what comes
 * out stays in the receiver's buffer, closing its window, until consumed.
 *
 * Pure library, no EAL: frames out through a struct ps_proxy_io (side
 * PS_SIDE_CLI means "out of port A", PS_SIDE_SRV "out of port B").
 */
#ifndef PS_INLINE_H
#define PS_INLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_proxy.h"

#define PS_INLINE_F_UP		0x01u	/* both endpoints established */
#define PS_INLINE_F_RESET	0x02u	/* reset or timed out: the leg is dead */
#define PS_INLINE_F_FIN0	0x04u	/* FIN pushed into ta (client->server ended) */
#define PS_INLINE_F_FIN1	0x08u	/* FIN pushed into tb */

struct ps_inline {
	struct ps_tcp_ep ta;			/* behind port A: plays the client */
	struct ps_tcp_ep tb;			/* behind port B: plays the server */
	struct ps_tcp_frame_spec a_spec;	/* ta's frames: the client's identity */
	struct ps_tcp_frame_spec b_spec;	/* tb's frames: the server's identity */
	uint32_t iss_b;
	uint32_t flags;				/* PS_INLINE_F_* */
	uint64_t moved[2];			/* bytes out of the tool, per direction */
};

/*
 * Open the leg: ta sends its SYN out of A with the identity c2s (the
 * flow's frames towards the server) and tb will answer with s2c (towards
 * the client). cfg/stats are borrowed for the leg's life. 0 or -errno.
 */
int ps_inline_open(struct ps_inline *il, const struct ps_tcp_cfg *cfg, struct ps_tcp_stats *stats,
		   const struct ps_tcp_frame_spec *c2s, const struct ps_tcp_frame_spec *s2c,
		   uint32_t iss_a, uint32_t iss_b, uint64_t now, const struct ps_proxy_io *io);

/*
 * A frame of the leg came back in: at_b true when it entered at port B
 * (it went through the tool from A: ta's segments), false at port A.
 * Returns NONE when used, else the endpoint's drop reason.
 */
enum ps_tcp_drop ps_inline_input(struct ps_inline *il, bool at_b, const uint8_t *frame,
				 const struct ps_pkt *p, uint64_t now,
				 const struct ps_proxy_io *io);

void ps_inline_timer(struct ps_inline *il, uint64_t now, const struct ps_proxy_io *io);
uint64_t ps_inline_deadline(const struct ps_inline *il);

/* Data of direction dir (0 client->server, 1 server->client). */
uint32_t ps_inline_room(const struct ps_inline *il, int dir);
uint32_t ps_inline_push(struct ps_inline *il, int dir, const uint8_t *p, uint32_t n,
			uint64_t now, const struct ps_proxy_io *io);
uint32_t ps_inline_peek(const struct ps_inline *il, int dir, const uint8_t **p);
void ps_inline_consume(struct ps_inline *il, int dir, uint32_t n, uint64_t now,
		       const struct ps_proxy_io *io);
/* No more data of dir: a FIN into the tool after what is queued. */
void ps_inline_shutdown(struct ps_inline *il, int dir, uint64_t now,
			const struct ps_proxy_io *io);
/* The FIN of dir came out of the tool and every byte before it was consumed. */
bool ps_inline_eof(const struct ps_inline *il, int dir);

static inline bool
ps_inline_up(const struct ps_inline *il)
{
	return (il->flags & (PS_INLINE_F_UP | PS_INLINE_F_RESET)) == PS_INLINE_F_UP;
}

static inline bool
ps_inline_dead(const struct ps_inline *il)
{
	return (il->flags & PS_INLINE_F_RESET) != 0;
}

/* Both endpoints CLOSED. */
bool ps_inline_done(const struct ps_inline *il);

/* Reset both endpoints (RST into the tool from each synchronized one). */
void ps_inline_abort(struct ps_inline *il, uint64_t now, const struct ps_proxy_io *io);
void ps_inline_free(struct ps_inline *il);

#endif /* PS_INLINE_H */
