/* SPDX-License-Identifier: BSD-3-Clause
 * Out-of-band tool conversation synthesizer (see ps_tool.h, docs/tool.md).
 */
#include <errno.h>
#include <string.h>

#include "ps_build.h"
#include "ps_pkt.h"
#include "ps_tool.h"

static const char *const tool_counter_names[] = {
#define PS_TOOL_CNT_STR(name, str) str,
	PS_TOOL_COUNTERS(PS_TOOL_CNT_STR)
#undef PS_TOOL_CNT_STR
};

static inline uint16_t
tool_fin_flag(enum ps_tool_dir dir)
{
	return (uint16_t)(PS_TOOL_F_FIN_C2S << dir);
}

static inline uint16_t
tool_ackp_flag(enum ps_tool_dir dir)
{
	return (uint16_t)(PS_TOOL_F_ACKP_C2S << dir);
}

static inline enum ps_tool_dir
tool_other(enum ps_tool_dir dir)
{
	return dir == PS_TOOL_C2S ? PS_TOOL_S2C : PS_TOOL_C2S;
}

static inline void
tool_count(const struct ps_tool_io *io, enum ps_tool_counter cnt, uint64_t n)
{
	if (io->stats != NULL)
		io->stats->cnt[cnt] += n;
}

static void
tool_lost(struct ps_tool_conv *c, const struct ps_tool_io *io, uint32_t len)
{
	c->frames_lost++;
	tool_count(io, PS_TOOL_CNT_FRAMES_LOST, 1);
	tool_count(io, PS_TOOL_CNT_BYTES_LOST, len);
}

/*
 * Write one segment from dir at its next sequence number; the caller
 * advances seq[]. A segment with ACK acknowledges everything the other side
 * has sent, so it also settles whatever ACK that side was owed. The IPv4
 * identification advances even for a lost frame, as on a real sender.
 */
static void
tool_send(struct ps_tool_conv *c, enum ps_tool_dir dir, uint8_t flags,
	  const uint8_t *payload, uint32_t len, const struct ps_tool_io *io)
{
	struct ps_tcp_frame_spec *s = &c->spec[dir];
	enum ps_tool_dir other = tool_other(dir);
	uint8_t *buf;
	uint32_t cap;
	int hdr, n;

	s->tcp.seq = c->seq[dir];
	s->tcp.ack = (flags & PS_TCP_ACK) != 0 ? c->seq[other] : 0;
	s->tcp.flags = flags;
	s->tcp.has_mss = (flags & PS_TCP_SYN) != 0;
	if ((flags & PS_TCP_ACK) != 0) {
		c->unacked[other] = 0;
		c->flags &= (uint16_t)~tool_ackp_flag(other);
	}

	if (io->frame_get != NULL) {
		cap = 0;
		buf = io->frame_get(io->ctx, dir, &cap);
		if (buf == NULL) {
			n = -ENOBUFS;
		} else {
			/* Build in place: the payload is copied once, straight
			 * behind the headers. */
			hdr = ps_build_tcp_hdr_len(s);
			if (hdr < 0 || (uint64_t)hdr + len > cap) {
				n = -ENOSPC;
			} else {
				if (len > 0)
					memcpy(buf + hdr, payload, len);
				n = ps_build_tcp_frame(buf, cap, s, buf + hdr, len);
			}
			io->frame_put(io->ctx, dir, n > 0 ? (uint32_t)n : 0);
		}
	} else if (io->emit != NULL && io->scratch != NULL) {
		n = ps_build_tcp_frame(io->scratch, io->scratch_len, s, payload, len);
		if (n > 0)
			io->emit(io->ctx, dir, io->scratch, (uint32_t)n);
	} else {
		n = -ENOBUFS;
	}
	s->ip_id++;

	if (n <= 0) {
		tool_lost(c, io, len);
		return;
	}
	tool_count(io, PS_TOOL_CNT_FRAMES, 1);
	tool_count(io, PS_TOOL_CNT_BYTES, len);
}

/* A pure ACK from dir. */
static inline void
tool_ack(struct ps_tool_conv *c, enum ps_tool_dir dir, const struct ps_tool_io *io)
{
	tool_send(c, dir, PS_TCP_ACK, NULL, 0, io);
}

/*
 * Identity of one direction: the flow's L2 (tags replaced, MACs overridden
 * as the tool asks), addresses and ports, TTL 64 and DF as a Linux sender,
 * IPv4 identification starting from id.
 */
static void
tool_spec_init(struct ps_tcp_frame_spec *s, const struct ps_tool_cfg *cfg,
	       const struct ps_tcp_frame_spec *c2s, enum ps_tool_dir dir, uint16_t id)
{
	const bool fwd = dir == PS_TOOL_C2S;
	uint16_t srv_port = cfg->dport_rewrite != 0 ? cfg->dport_rewrite : c2s->tcp.dport;

	memset(s, 0, sizeof(*s));
	s->eth = c2s->eth;
	if (!fwd) {
		memcpy(s->eth.dst, c2s->eth.src, PS_ETH_ALEN);
		memcpy(s->eth.src, c2s->eth.dst, PS_ETH_ALEN);
	}
	if (cfg->has_vlan) {
		s->eth.n_vlans = 1;
		s->eth.vlan_tpid[0] = PS_ETH_P_8021Q;
		s->eth.vlan_tci[0] = cfg->vlan_tci;
		s->eth.vlan_tpid[1] = 0;
		s->eth.vlan_tci[1] = 0;
	}
	if (cfg->has_dst_mac)
		memcpy(s->eth.dst, cfg->dst_mac, PS_ETH_ALEN);
	if (cfg->has_src_mac)
		memcpy(s->eth.src, cfg->src_mac, PS_ETH_ALEN);

	s->l3 = c2s->l3;
	s->src = fwd ? c2s->src : c2s->dst;
	s->dst = fwd ? c2s->dst : c2s->src;
	s->ttl = PS_TOOL_TTL;
	s->tos = 0;
	s->df = true;
	s->ip_id = id;
	s->flow_label = fwd ? c2s->flow_label & 0xfffffu : 0;

	s->tcp.sport = fwd ? c2s->tcp.sport : srv_port;
	s->tcp.dport = fwd ? srv_port : c2s->tcp.sport;
	s->tcp.window = PS_TOOL_WINDOW;
}

int
ps_tool_open(struct ps_tool_conv *c, const struct ps_tool_cfg *cfg,
	     const struct ps_tcp_frame_spec *c2s, uint32_t isn_c, uint32_t isn_s,
	     const struct ps_tool_io *io)
{
	uint32_t mss;

	memset(c, 0, sizeof(*c));
	if ((c2s->l3 != PS_L3_IPV4 && c2s->l3 != PS_L3_IPV6) ||
	    c2s->eth.n_vlans > PS_VLAN_MAX)
		return -EINVAL;

	mss = cfg->mss;
	if (mss == 0)
		mss = c2s->l3 == PS_L3_IPV4 ? PS_TOOL_MSS4 : PS_TOOL_MSS6;
	if (mss < PS_TOOL_MSS_MIN)
		mss = PS_TOOL_MSS_MIN;
	if (mss > PS_TOOL_MSS_MAX)
		mss = PS_TOOL_MSS_MAX;
	c->mss = (uint16_t)mss;
	tool_spec_init(&c->spec[PS_TOOL_C2S], cfg, c2s, PS_TOOL_C2S, (uint16_t)(isn_c >> 16));
	tool_spec_init(&c->spec[PS_TOOL_S2C], cfg, c2s, PS_TOOL_S2C, (uint16_t)(isn_s >> 16));
	c->spec[PS_TOOL_C2S].tcp.mss = c->mss;
	c->spec[PS_TOOL_S2C].tcp.mss = c->mss;
	c->flags = PS_TOOL_F_OPEN;
	tool_count(io, PS_TOOL_CNT_CONVS, 1);

	/* RFC 9293 section 3.5, figure 6: SYN, SYN-ACK, ACK; each SYN takes
	 * one sequence number. */
	c->seq[PS_TOOL_C2S] = isn_c;
	tool_send(c, PS_TOOL_C2S, PS_TCP_SYN, NULL, 0, io);
	c->seq[PS_TOOL_C2S] = isn_c + 1;
	c->seq[PS_TOOL_S2C] = isn_s;
	tool_send(c, PS_TOOL_S2C, PS_TCP_SYN | PS_TCP_ACK, NULL, 0, io);
	c->seq[PS_TOOL_S2C] = isn_s + 1;
	tool_ack(c, PS_TOOL_C2S, io);
	return 0;
}

void
ps_tool_data(struct ps_tool_conv *c, enum ps_tool_dir dir, const uint8_t *data,
	     uint32_t len, const struct ps_tool_io *io)
{
	enum ps_tool_dir other = tool_other(dir);
	uint32_t off, n;
	uint8_t flags;

	if (len == 0 || (c->flags & PS_TOOL_F_OPEN) == 0)
		return;
	if ((c->flags & (PS_TOOL_F_DONE | tool_fin_flag(dir))) != 0) {
		tool_count(io, PS_TOOL_CNT_LATE_DATA, len);
		return;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < c->mss ? len - off : c->mss;
		/* PSH on the last segment of a write, as Linux does. */
		flags = PS_TCP_ACK | (off + n == len ? PS_TCP_PSH : 0);
		tool_send(c, dir, flags, data + off, n, io);
		c->seq[dir] += n;
		c->unacked[dir] += n;
		/* RFC 9293 section 3.8.6.3: an ACK for at least every second
		 * full-sized segment; Linux acks once more than one MSS is
		 * unacknowledged (__tcp_ack_snd_check()). */
		if (c->unacked[dir] > c->mss)
			tool_ack(c, other, io);
	}
	/* End of the burst: the delayed ACK fires. Tools in IDS mode inspect
	 * only acknowledged data, so nothing is left unacknowledged. */
	if (c->unacked[dir] > 0)
		tool_ack(c, other, io);
}

void
ps_tool_close(struct ps_tool_conv *c, enum ps_tool_dir closer, bool reset,
	      const struct ps_tool_io *io)
{
	enum ps_tool_dir other = tool_other(closer);

	if ((c->flags & PS_TOOL_F_OPEN) == 0 || (c->flags & PS_TOOL_F_DONE) != 0)
		return;
	if (reset) {
		/* ABORT in a synchronized state: RST at SND.NXT (RFC 9293
		 * section 3.10.5), with ACK as Linux's
		 * tcp_send_active_reset() sends it. */
		tool_send(c, closer, PS_TCP_RST | PS_TCP_ACK, NULL, 0, io);
		c->flags |= PS_TOOL_F_DONE | PS_TOOL_F_RESET;
		c->flags &= (uint16_t)~(PS_TOOL_F_ACKP_C2S | PS_TOOL_F_ACKP_S2C);
		tool_count(io, PS_TOOL_CNT_RESETS, 1);
		return;
	}
	if ((c->flags & tool_fin_flag(closer)) != 0)
		return;
	/* The FIN acknowledges the other side's FIN too, when it came first. */
	tool_send(c, closer, PS_TCP_FIN | PS_TCP_ACK, NULL, 0, io);
	c->seq[closer]++;
	c->flags |= tool_fin_flag(closer);
	if ((c->flags & tool_fin_flag(other)) != 0) {
		/* Second FIN: the first closer's final ACK. */
		tool_ack(c, other, io);
		c->flags |= PS_TOOL_F_DONE;
		return;
	}
	/* The ACK of this FIN is delayed: it rides on the other side's next
	 * segment, or goes out at ps_tool_flush(). */
	c->flags |= tool_ackp_flag(closer);
}

void
ps_tool_flush(struct ps_tool_conv *c, const struct ps_tool_io *io)
{
	if ((c->flags & PS_TOOL_F_OPEN) == 0 || (c->flags & PS_TOOL_F_DONE) != 0)
		return;
	if ((c->flags & PS_TOOL_F_ACKP_C2S) != 0)
		tool_ack(c, PS_TOOL_S2C, io);
	if ((c->flags & PS_TOOL_F_ACKP_S2C) != 0)
		tool_ack(c, PS_TOOL_C2S, io);
}

const char *
ps_tool_counter_name(enum ps_tool_counter cnt)
{
	if ((unsigned int)cnt >= PS_TOOL_CNT_MAX)
		return "invalid";
	return tool_counter_names[cnt];
}
