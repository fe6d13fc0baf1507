/* SPDX-License-Identifier: BSD-3-Clause
 * Out-of-band tool conversation synthesizer: the decrypted plaintext of one
 * flow, as an ordinary plaintext TCP connection between the original client
 * and server, for the tools on a tool-oob port (Suricata, Zeek, tcpdump,
 * Wireshark) to reassemble without special settings.
 *
 * A conversation is a three-way handshake, then MSS-sized segments in both
 * directions with exact sequence and acknowledgement numbers and the ACKs a
 * receiving stack would send (every second full segment, and at the end of
 * each burst, i.e. each ps_tool_data() call), then FIN or RST as the real
 * flow ended. Nothing is buffered or retransmitted: every call writes its
 * frames at once. No frame is ever answered, so there is no state machine
 * to speak of beyond "who has sent FIN".
 *
 * Frames are written through struct ps_tool_io, zero-copy into the caller's
 * buffers (an mbuf) or built in a scratch buffer and handed to emit.
 * A frame that could not be written (frame_get returned NULL, buffer too
 * small) is counted and skipped while sequence numbers still advance: the
 * tool sees a gap, exactly as after a capture loss, and its reassembly
 * carries on past it. See docs/tool.md.
 *
 * Pure library, no DPDK header, no allocation. A conversation belongs to the
 * lcore that owns its flow; any lcore may call these functions on the
 * conversations it owns.
 */
#ifndef PS_TOOL_H
#define PS_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_build.h"
#include "ps_pkt.h"

#define PS_TOOL_MSS4		1460	/* default MSS over IPv4 */
#define PS_TOOL_MSS6		1440	/* default MSS over IPv6 */
#define PS_TOOL_MSS_MIN		64	/* smaller configured values are raised to this */
#define PS_TOOL_MSS_MAX		9000	/* larger ones are lowered to this (jumbo tool ports) */
#define PS_TOOL_WINDOW		65535	/* advertised by both ends, no window scaling */
#define PS_TOOL_TTL		64

/* Bytes of headers of a synthesized frame, at most: Ethernet, 2 tags, IPv6, TCP+MSS. */
#define PS_TOOL_HDR_MAX		(PS_ETH_HLEN + PS_VLAN_MAX * PS_VLAN_HLEN + PS_IP6_HLEN + \
				 PS_TCP_HLEN + 4)
/* A buffer this large holds any frame of a conversation with that MSS. */
#define PS_TOOL_FRAME_MAX(mss)	(PS_TOOL_HDR_MAX + (uint32_t)(mss))

/* Direction of a segment. */
enum ps_tool_dir {
	PS_TOOL_C2S = 0,	/* client to server */
	PS_TOOL_S2C = 1,	/* server to client */
};

/*
 * Per-caller counters (usually one set per lcore and tool port).
 * X(NAME, counter name): the index is PS_TOOL_CNT_<NAME>.
 */
#define PS_TOOL_COUNTERS(X)						\
	X(CONVS,	"convs")	/* conversations opened */	\
	X(FRAMES,	"frames")	/* frames written */		\
	X(BYTES,	"bytes")	/* payload bytes in written frames */ \
	X(FRAMES_LOST,	"frames_lost")	/* no buffer, buffer too small or build error */ \
	X(BYTES_LOST,	"bytes_lost")	/* payload bytes of lost frames */ \
	X(RESETS,	"resets")	/* conversations ended by RST */ \
	X(LATE_DATA,	"late_data")	/* data after its side's FIN or the end: dropped */

enum ps_tool_counter {
#define PS_TOOL_CNT_ENUM(name, str) PS_TOOL_CNT_##name,
	PS_TOOL_COUNTERS(PS_TOOL_CNT_ENUM)
#undef PS_TOOL_CNT_ENUM
	PS_TOOL_CNT_MAX
};

struct ps_tool_stats {
	uint64_t cnt[PS_TOOL_CNT_MAX];
};

/*
 * One tool's presentation options, from the compiled config. Read during
 * ps_tool_open() only: a conversation keeps no pointer to it.
 */
struct ps_tool_cfg {
	uint16_t mss;			/* 0: PS_TOOL_MSS4 or PS_TOOL_MSS6 by address family */
	uint16_t dport_rewrite;		/* 0: keep; else the server's port in both directions
					 * (e.g. 443 -> 80 so tools parse HTTP) */
	bool has_vlan;			/* replace the flow's tags by one 802.1Q tag vlan_tci */
	uint16_t vlan_tci;
	bool has_dst_mac;		/* destination MAC of both directions */
	uint8_t dst_mac[PS_ETH_ALEN];
	bool has_src_mac;		/* source MAC of both directions: tells tools the
					 * traffic was decrypted */
	uint8_t src_mac[PS_ETH_ALEN];
};

/*
 * Output. Zero-copy when frame_get is set: frame_get returns a buffer of
 * *cap bytes (it sets *cap) for the next frame of direction dir, or NULL
 * when there is none (the frame is lost, see above); every non-NULL
 * frame_get is followed by exactly one frame_put, with len the frame's
 * length, or 0 when nothing was built in it (buffer too small) and the
 * buffer is the caller's again. Otherwise each frame is built in scratch
 * (scratch_len bytes, PS_TOOL_FRAME_MAX(mss) is enough) and handed to emit,
 * valid during that call only. dir lets a caller send the two directions
 * to different ports (tap style) or just ignore it.
 */
struct ps_tool_io {
	uint8_t *(*frame_get)(void *ctx, enum ps_tool_dir dir, uint32_t *cap);
	void (*frame_put)(void *ctx, enum ps_tool_dir dir, uint32_t len);
	void (*emit)(void *ctx, enum ps_tool_dir dir, const uint8_t *frame, uint32_t len);
	void *ctx;
	uint8_t *scratch;
	uint32_t scratch_len;
	struct ps_tool_stats *stats;	/* may be NULL */
};

#define PS_TOOL_F_OPEN		0x01u	/* handshake written */
#define PS_TOOL_F_FIN_C2S	0x02u	/* client sent FIN (bit 1 << (1 + dir)) */
#define PS_TOOL_F_FIN_S2C	0x04u	/* server sent FIN */
#define PS_TOOL_F_ACKP_C2S	0x08u	/* server owes the ACK of the client's FIN */
#define PS_TOOL_F_ACKP_S2C	0x10u	/* client owes the ACK of the server's FIN */
#define PS_TOOL_F_DONE		0x20u	/* final ACK or RST written: nothing more */
#define PS_TOOL_F_RESET		0x40u	/* ended by RST */

/*
 * One synthesized conversation, embedded in a flow. Fields are public for
 * embedding and tests only: use the functions. An all-zero conversation is
 * "not open": every call on it but ps_tool_open() does nothing.
 */
struct ps_tool_conv {
	struct ps_tcp_frame_spec spec[2];	/* frame identity per direction, ip_id: next */
	uint32_t seq[2];			/* next sequence number per direction */
	uint32_t unacked[2];			/* bytes of a direction the other has not ACKed */
	uint16_t mss;
	uint16_t flags;				/* PS_TOOL_F_* */
	uint32_t frames_lost;			/* frames of this conversation not written */
};

/*
 * Start a conversation and write its three-way handshake: SYN (client,
 * seq isn_c), SYN-ACK (server, seq isn_s), ACK (client), both SYNs with the
 * MSS option. c2s is the frame identity of the client->server direction:
 * client MAC, addresses and port as source, the server's as destination,
 * the flow's VLAN tags (ps_proxy's to_srv is exactly that); only eth, l3,
 * src, dst and the ports are used. The server->client identity is its
 * mirror. cfg applies the tool's options (see struct ps_tool_cfg). c2s and
 * cfg are read during the call only; *c is overwritten entirely. IPv4 frames
 * have TTL 64, DF and identifications counting up per direction from the
 * upper 16 bits of that side's ISN; IPv6 hop limit 64, client flow label
 * kept, server flow label 0. Returns 0, or -EINVAL when c2s is not IPv4
 * or IPv6 or has more than PS_VLAN_MAX tags (nothing written, *c not open).
 */
int
ps_tool_open(struct ps_tool_conv *c, const struct ps_tool_cfg *cfg,
	     const struct ps_tcp_frame_spec *c2s, uint32_t isn_c, uint32_t isn_s,
	     const struct ps_tool_io *io);

/*
 * len plaintext bytes sent by side dir, as one burst: segments of at most
 * MSS bytes (ACK, PSH on the last), each acknowledging everything the other
 * side has sent; the other side writes a pure ACK whenever more than one MSS
 * of this burst is unacknowledged (every second full segment, RFC 9293
 * section 3.8.6.3 / Linux __tcp_ack_snd_check()) and at the end of the burst,
 * so every byte is acknowledged when the call returns. data is read during
 * the call only. Nothing happens for len 0 or a conversation not open;
 * bytes after the end or after dir's own FIN are dropped (late_data).
 */
void
ps_tool_data(struct ps_tool_conv *c, enum ps_tool_dir dir, const uint8_t *data,
	     uint32_t len, const struct ps_tool_io *io);

/*
 * Side closer ended its byte stream (reset false) or aborted (reset true).
 *
 * FIN: writes closer's FIN. The other side's ACK of it is delayed, as a
 * receiving stack delays it: it rides on that side's next data (half-close:
 * the other side may go on sending, closer still ACKs its data) or on its
 * own FIN, or goes out alone at ps_tool_flush(). When the other side has
 * already sent its FIN, this is the second FIN: the first closer writes the
 * final ACK and the conversation is done. So close(C2S) then close(S2C)
 * right away gives FIN, FIN-ACK, ACK.
 *
 * RST: writes RST+ACK from closer at its next sequence number; the
 * conversation is done.
 *
 * Idempotent: a FIN from a side that already sent one, and anything after
 * the end, does nothing.
 */
void
ps_tool_close(struct ps_tool_conv *c, enum ps_tool_dir closer, bool reset,
	      const struct ps_tool_io *io);

/*
 * Write the pending ACK of a FIN, if any (see ps_tool_close()), e.g. from the
 * flow's timer when the other side stays open long after a half-close, or
 * before the flow is freed. Nothing when none is pending.
 */
void
ps_tool_flush(struct ps_tool_conv *c, const struct ps_tool_io *io);

/* The conversation ended: final ACK or RST written (or never opened: false). */
static inline bool
ps_tool_done(const struct ps_tool_conv *c)
{
	return (c->flags & PS_TOOL_F_DONE) != 0;
}

/* Static printable counter name; "invalid" when out of range. */
const char *
ps_tool_counter_name(enum ps_tool_counter cnt);

#endif /* PS_TOOL_H */
