/* SPDX-License-Identifier: BSD-3-Clause
 * Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Byte order: every 16-bit and 32-bit value this module takes or returns is
 * a host-order integer equal to the big-endian field in the packet, the same
 * convention as struct ps_pkt: read fields with ps_get_be16()/ps_get_be32()
 * and store a result with ps_put_be16(). ps_csum_partial() reads raw bytes
 * and returns its sum in that same convention, so partial sums, pseudo-header
 * sums and host-order values (ports, lengths) add up directly.
 *
 * A "sum" (uint32_t) is an unfolded ones-complement accumulation; fold it
 * with ps_csum_fold() to get the checksum field. To verify, sum the covered
 * bytes including the checksum field: the data is intact when
 * ps_csum_fold(sum) == 0.
 *
 * Pure functions: any lcore.
 */
#ifndef PS_CSUM_H
#define PS_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_pkt.h"

/*
 * Add the 16-bit big-endian words of buf[0..len) to sum. Any alignment; an
 * odd last byte is padded with a zero byte after it. When chaining calls,
 * every buffer but the last must have an even length.
 */
uint32_t
ps_csum_partial(const void *buf, size_t len, uint32_t sum);

/*
 * Fold sum to 16 bits and complement it: the value to store in a checksum
 * field with ps_put_be16(). Returns 0 for a sum covering intact data that
 * includes its own checksum field.
 */
uint16_t
ps_csum_fold(uint32_t sum);

/* Sum of the IPv4 pseudo-header (RFC 793/768): addresses in wire order. */
uint32_t
ps_csum_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len);

/* Sum of the IPv6 pseudo-header (RFC 8200 section 8.1): wire-order addresses. */
uint32_t
ps_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len);

/*
 * RFC 1624 eqn. 3: the checksum after a covered 16-bit field changes from
 * old_val to new_val, HC' = ~(~HC + ~m + m'). Equals a full recompute for
 * any data whose sum is not zero (every IP, TCP, UDP and ICMP packet: the
 * pseudo-header or IP version is never zero); it never yields 0xffff where
 * recomputing gives 0x0000.
 */
uint16_t
ps_csum_update16(uint16_t csum, uint16_t old_val, uint16_t new_val);

/* As ps_csum_update16() for a covered 32-bit field (address, sequence). */
uint16_t
ps_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);

/*
 * IPv4 header checksum of a frame parsed OK by ps_pkt_parse() into *p.
 * True when it is right or the packet is not IPv4.
 */
bool
ps_pkt_ip4_csum_ok(const uint8_t *frame, const struct ps_pkt *p);

/*
 * Sum over the L4 pseudo-header (TCP, UDP, ICMPv6; ICMPv4 has none) and the
 * L4 bytes as they are, checksum field included: UDP up to the UDP length,
 * the others up to l3_end. p must come from ps_pkt_parse() == PS_PKT_OK
 * with has_l4 and not is_frag; returns 0 otherwise.
 */
uint32_t
ps_pkt_l4_sum(const uint8_t *frame, const struct ps_pkt *p);

/*
 * L4 checksum of a frame parsed OK into *p: TCP and UDP over IPv4/IPv6,
 * ICMP, ICMPv6. False only when a checksum can be checked and is wrong.
 * True when there is nothing to check: no L4, a fragment (only the
 * reassembled datagram can be checked), UDP over IPv4 with checksum 0.
 * UDP over IPv6 with checksum 0 is false (RFC 8200 section 8.1).
 */
bool
ps_pkt_l4_csum_ok(const uint8_t *frame, const struct ps_pkt *p);

#endif /* PS_CSUM_H */
