/* SPDX-License-Identifier: BSD-3-Clause
 * IPv4 fragmentation for egress: a datagram larger than the egress MTU
 * (typically one the bridge reassembled) is cut the way Linux's
 * ip_do_fragment() cuts it, so the far end sees what a Linux router on the
 * path would have sent. Pure C, no allocation: fragments are built one at
 * a time in a caller's scratch buffer. Any lcore.
 */
#ifndef PS_FRAG_H
#define PS_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "ps_pkt.h"

/*
 * Receives one fragment frame; frag is valid only during the call (the
 * scratch buffer is reused for the next one). A negative return aborts the
 * fragmentation and is returned by ps_ip4_fragment().
 */
typedef int (*ps_frag_emit_fn)(void *ctx, const uint8_t *frag, uint32_t frag_len);

/*
 * Fragment the IPv4 frame[0..len), parsed OK by ps_pkt_parse() into *p, so
 * that every fragment's IP total length is <= mtu, and hand each fragment
 * frame to emit(ctx, ...) in order.
 *
 * Every fragment repeats the L2 header (VLAN tags included); L2 padding is
 * dropped. Data is cut at multiples of 8 bytes, the last fragment takes
 * the rest. As in Linux: every fragment keeps the header length; the first
 * fragment of a datagram carries all options, later ones only those with
 * the copy bit set, the others overwritten with NOPs; ID, TOS, TTL and
 * protocol are kept; MF is set on all but the last fragment, and on the
 * last too when the input was itself a non-last fragment, whose offset is
 * kept as the base; DF is clear; the header checksum is recomputed.
 *
 * A datagram that already fits is emitted unchanged, as one frame.
 * scratch must hold l3_off + mtu bytes (the largest fragment).
 *
 * Returns the number of frames emitted, or -EINVAL (not IPv4, or mtu leaves
 * less than 8 data bytes), -EMSGSIZE (DF set and too big), -ENOSPC (scratch
 * too small; nothing emitted), or emit's negative return.
 */
int
ps_ip4_fragment(const uint8_t *frame, uint32_t len, const struct ps_pkt *p, uint16_t mtu,
		uint8_t *scratch, size_t scratch_len, ps_frag_emit_fn emit, void *ctx);

#endif /* PS_FRAG_H */
