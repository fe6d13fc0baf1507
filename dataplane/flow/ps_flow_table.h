/* SPDX-License-Identifier: BSD-3-Clause
 * Per-lcore flow table: flows keyed by segment + VLAN tags + 5-tuple, IPv4
 * and IPv6. Pure library, no EAL: one table per worker, no locks.
 *
 * Keys are oriented client -> server. A frame that enters on a segment's
 * side a (client side) keys as (src, dst, sport, dport); one that enters on
 * side b keys as (dst, src, dport, sport). Both directions of a connection
 * therefore find the same entry, and ps_flow_key_hash() is symmetric by
 * construction, which is what the software dispatcher needs.
 *
 * Storage is fixed at creation: a slab of max_flows entries and an open
 * addressing index (linear probing, backward-shift deletion) of at least
 * twice as many buckets. Nothing is allocated after ps_flow_table_create().
 */
#ifndef PS_FLOW_TABLE_H
#define PS_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_pkt.h"

struct ps_flow_key {
	struct ps_ip_addr cli;
	struct ps_ip_addr srv;
	uint16_t cli_port;
	uint16_t srv_port;
	uint16_t vlan[PS_VLAN_MAX];	/* VLAN IDs outermost first, 0 if absent */
	uint8_t l3;			/* enum ps_l3 */
	uint8_t ip_proto;
	uint8_t segment;		/* index of the segment (ingress pair) */
	uint8_t pad[3];			/* zero: keys are compared as bytes */
};

/* Handle of a flow: slot plus generation, safe to keep across deletions. */
struct ps_flow_handle {
	uint32_t slot;
	uint32_t gen;
};

struct ps_flow_table;

/*
 * Fill *key from a parsed frame that entered on side 'a' or 'b' of segment
 * seg. Returns false when the frame has no transport ports (not TCP/UDP, or a
 * non-first fragment).
 */
bool ps_flow_key_from_pkt(const struct ps_pkt *p, uint8_t seg, char side,
			  struct ps_flow_key *key);

/* Hash of a key; equal for both directions of a flow (see above). */
uint32_t ps_flow_key_hash(const struct ps_flow_key *key);

/*
 * Create a table for at most max_flows flows, each with user_size bytes of
 * caller data (zeroed on insert). Returns 0 and *out, or -EINVAL / -ENOMEM.
 * Memory comes from calloc: call it at start, not on the packet path.
 */
int ps_flow_table_create(uint32_t max_flows, uint32_t user_size,
			 struct ps_flow_table **out);

void ps_flow_table_free(struct ps_flow_table *t);

/*
 * Find the flow of key. Returns its user data, or NULL. *h (if not NULL)
 * receives its handle.
 */
void *ps_flow_lookup(struct ps_flow_table *t, const struct ps_flow_key *key,
		     uint32_t hash, struct ps_flow_handle *h);

/*
 * Insert key. Returns the new flow's zeroed user data, or NULL with *err set:
 * -EEXIST if the key is present, -ENOSPC if the table is full (the caller
 * applies the configured overflow behaviour).
 */
void *ps_flow_insert(struct ps_flow_table *t, const struct ps_flow_key *key,
		     uint32_t hash, struct ps_flow_handle *h, int *err);

/* Remove the flow of handle h. Returns 0, or -ENOENT for a stale handle. */
int ps_flow_remove(struct ps_flow_table *t, struct ps_flow_handle h);

/* User data of a live handle, or NULL when the flow is gone. */
void *ps_flow_get(struct ps_flow_table *t, struct ps_flow_handle h);

/* Key of a live handle, or NULL. */
const struct ps_flow_key *ps_flow_key_of(struct ps_flow_table *t,
					 struct ps_flow_handle h);

uint32_t ps_flow_count(const struct ps_flow_table *t);
uint32_t ps_flow_capacity(const struct ps_flow_table *t);

#endif /* PS_FLOW_TABLE_H */
