/* SPDX-License-Identifier: BSD-3-Clause
 * The transparent TCP proxy of one intercepted connection: two TCP
 * endpoints, one facing the client (the appliance plays the server) and one
 * facing the server (the appliance plays the client), joined by a byte relay.
 * Pure library, no EAL: frames in, frames out through a callback, time
 * passed in.
 *
 * Sequence of the seed (architecture brief, "Life of an intercepted flow"):
 * the client's SYN opens the server side first (srv SYN_SENT, cli SYN_RCVD
 * held, nothing sent to the client); the server's SYN-ACK completes the
 * server side and only then is the client answered; a server RST or silence
 * (after the configured SYN retries) resets the client. Then bytes flow both
 * ways with back-pressure (bytes not yet accepted by one side stay in the
 * other side's receive buffer, closing its window), FIN and RST propagate,
 * and the proxy is done when both endpoints are CLOSED.
 *
 * Frames towards each side carry the other side's identity: same MACs, VLAN
 * tags, addresses and ports as the original connection.
 */
#ifndef PS_PROXY_H
#define PS_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_build.h"
#include "ps_pkt.h"
#include "ps_tcp.h"

/* Scratch a caller lends to every call: a payload and a frame. */
#define PS_PROXY_SCRATCH	(2 * 65536)

/* Side of a frame: PS_SIDE_CLI faces the client (segment side a). */
enum ps_proxy_side {
	PS_SIDE_CLI,
	PS_SIDE_SRV,
};

struct ps_proxy_io {
	/*
	 * Zero-copy output, when frame_get is set: frame_get returns a buffer
	 * of *cap bytes (set *cap) to build the next frame towards side in,
	 * or NULL to skip it (as a loss: TCP retransmits); frame_put sends
	 * the len bytes built there. Otherwise frames are built in scratch and
	 * handed to emit, valid during the call.
	 */
	uint8_t *(*frame_get)(void *ctx, enum ps_proxy_side side, uint32_t *cap);
	void (*frame_put)(void *ctx, enum ps_proxy_side side, uint32_t len);
	void (*emit)(void *ctx, enum ps_proxy_side side, const uint8_t *frame,
		     uint32_t len);
	void *ctx;
	uint8_t *scratch;		/* PS_PROXY_SCRATCH bytes */
	struct ps_tcp_out *out;		/* work area, any content */
};

#define PS_PROXY_F_CLI_DONE	0x01u	/* cli endpoint CLOSED */
#define PS_PROXY_F_SRV_DONE	0x02u
#define PS_PROXY_F_CLI_FIN	0x04u	/* close() issued on cli (server's FIN relayed) */
#define PS_PROXY_F_SRV_FIN	0x08u
#define PS_PROXY_F_ACCEPTED	0x10u	/* client answered */
#define PS_PROXY_F_RESET	0x20u	/* ended by RST or timeout */

struct ps_proxy;

/*
 * A stage between the two endpoints (e.g. TLS interception) replaces the
 * plain byte relay. run() is called on every round of the proxy's event
 * loop while the connection is not reset: after each input segment, timer
 * and event. It moves bytes with the ps_proxy_peek/consume/send/shutdown
 * calls below, which are valid only inside run(), and must make progress
 * only when it can (no busy loop: return when blocked, it is called again
 * when anything changes).
 */
struct ps_proxy_stage {
	void (*run)(struct ps_proxy *px, void *arg);
	void *arg;
};

struct ps_proxy {
	struct ps_tcp_ep cli;
	struct ps_tcp_ep srv;
	struct ps_tcp_frame_spec to_cli;	/* frame identity towards the client */
	struct ps_tcp_frame_spec to_srv;
	uint32_t flags;				/* PS_PROXY_F_* */
	uint64_t relayed[2];			/* bytes: [0] client->server, [1] server->client */
	const struct ps_proxy_stage *stage;	/* NULL: plain relay */

	/* Context of the current event-loop round, for the stage calls. */
	uint64_t run_now;
	const struct ps_proxy_io *run_io;
	uint32_t *run_ev;
};

/*
 * Open a proxy for the client's SYN (frame parsed as syn, which must be a
 * bare SYN with its L4 header). cfg and stats are borrowed for the proxy's
 * life (stats may be NULL). iss_cli/iss_srv: initial sequence numbers of the
 * two endpoints. Emits the SYN towards the server. Returns 0 or a negative
 * errno (-EINVAL: not a bare SYN).
 */
int ps_proxy_open(struct ps_proxy *px, const struct ps_tcp_cfg *cfg,
		  struct ps_tcp_stats *stats, const struct ps_pkt *syn,
		  uint32_t iss_cli, uint32_t iss_srv, uint64_t now,
		  const struct ps_proxy_io *io);

/*
 * A frame of the connection arrived from side (PS_SIDE_CLI: from the
 * client). p is its parse, frame its bytes. Returns NONE when the segment
 * was used, else the endpoint's drop reason.
 */
enum ps_tcp_drop ps_proxy_input(struct ps_proxy *px, enum ps_proxy_side side,
				const uint8_t *frame, const struct ps_pkt *p,
				uint64_t now, const struct ps_proxy_io *io);

/* Run the endpoints' timers due at now. */
void ps_proxy_timer(struct ps_proxy *px, uint64_t now,
		    const struct ps_proxy_io *io);

/* Earliest time ps_proxy_timer() has work, UINT64_MAX when none. */
uint64_t ps_proxy_deadline(const struct ps_proxy *px);

/* Both endpoints are CLOSED: the caller may ps_proxy_free() it. */
static inline bool
ps_proxy_done(const struct ps_proxy *px)
{
	return (px->flags & (PS_PROXY_F_CLI_DONE | PS_PROXY_F_SRV_DONE)) ==
	       (PS_PROXY_F_CLI_DONE | PS_PROXY_F_SRV_DONE);
}

/* Abort both sides (RST to each that is synchronized), e.g. at shutdown. */
void ps_proxy_abort(struct ps_proxy *px, uint64_t now,
		    const struct ps_proxy_io *io);

/*
 * Install (or remove, NULL) the stage of px; borrowed for the proxy's life.
 * Set it right after ps_proxy_open(), before any byte is relayed.
 */
static inline void
ps_proxy_set_stage(struct ps_proxy *px, const struct ps_proxy_stage *stage)
{
	px->stage = stage;
}

/*
 * Stage calls, inside ps_proxy_stage.run() only. "from" names the side whose
 * peer sent the bytes, "to" the side they go to.
 *
 * ps_proxy_peek(): the first contiguous run of bytes received from side's
 * peer and not consumed yet (its length; 0 when none); ps_proxy_consume()
 * releases n of them (the window reopens). ps_proxy_eof(): side's peer sent
 * FIN and every byte before it was consumed.
 */
uint32_t ps_proxy_peek(struct ps_proxy *px, enum ps_proxy_side from,
		       const uint8_t **data);
void ps_proxy_consume(struct ps_proxy *px, enum ps_proxy_side from, uint32_t n);
bool ps_proxy_eof(const struct ps_proxy *px, enum ps_proxy_side from);

/*
 * ps_proxy_room(): free send space towards side, bytes (0 once it is
 * closing or closed). ps_proxy_send() queues up to n bytes towards side
 * and sends what the windows allow; returns the bytes taken (counted in
 * px->relayed). ps_proxy_shutdown() closes towards side with a FIN after
 * what is queued (once; no-op later).
 */
uint32_t ps_proxy_room(const struct ps_proxy *px, enum ps_proxy_side to);
uint32_t ps_proxy_send(struct ps_proxy *px, enum ps_proxy_side to,
		       const uint8_t *data, uint32_t n);
void ps_proxy_shutdown(struct ps_proxy *px, enum ps_proxy_side to);

/* The plain relay of what side from's peer sent, FIN included (pass-through). */
void ps_proxy_relay(struct ps_proxy *px, enum ps_proxy_side from);

/*
 * A watcher of a plain relay: data() sees every run of bytes as it is
 * relayed (dir 0: client to server), end() the end of stream once it is
 * passed on.
 */
struct ps_proxy_tap {
	void (*data)(void *arg, int dir, const uint8_t *p, uint32_t n);
	void (*end)(void *arg, int dir);
	void *arg;
};

/* ps_proxy_relay() with tap (NULL: none) watching. */
void ps_proxy_relay_tapped(struct ps_proxy *px, enum ps_proxy_side from,
			   const struct ps_proxy_tap *tap);

/*
 * Give up the connection to the server (RST if synchronized) and open a
 * new one on the same addresses and ports with initial sequence number
 * iss; bytes sent towards the server from now on go over the new one.
 * What the old one had received is dropped. The client's side is not
 * touched.
 */
void ps_proxy_reconnect_server(struct ps_proxy *px, uint32_t iss);

/* Reset both connections (RST to each side that is synchronized). */
void ps_proxy_kill(struct ps_proxy *px);

/*
 * Run the stage (or relay) once more with nothing new from the network:
 * for events outside the two connections (an inline tool's leg moved).
 */
void ps_proxy_poke(struct ps_proxy *px, uint64_t now, const struct ps_proxy_io *io);

/*
 * Frames of the segments in io->out (made by a call on ep) with spec's
 * identity towards side, and of whatever ep has more to send; ep's events
 * are or'ed into *events. For other users of TCP endpoints (inline tool
 * legs) that emit through a struct ps_proxy_io like the proxy.
 */
void ps_proxy_emit(struct ps_tcp_ep *ep, struct ps_tcp_frame_spec *spec, enum ps_proxy_side side,
		   uint64_t now, const struct ps_proxy_io *io, uint32_t *events);

/* Release the endpoints' buffers; px itself is the caller's. */
void ps_proxy_free(struct ps_proxy *px);

#endif /* PS_PROXY_H */
