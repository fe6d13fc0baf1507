/* SPDX-License-Identifier: BSD-3-Clause
 * Policy internals shared by the policy/ sources (not by callers): the parsed,
 * validated specification, the compiled indexes, and the error collector.
 */
#ifndef PS_POL_PRIV_H
#define PS_POL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ps_policy.h"

#define POL_PRINTF(f, a)	__attribute__((format(printf, f, a)))

#define POL_NAME_MAX	253	/* bytes of a host name, without trailing dot */
#define POL_PATH_LEN	512	/* a JSON path in a message */
#define POL_WORDS_MAX	(PS_POL_RULES_MAX / 64)

/* The criteria, in evaluation order; bit i is PS_POL_F_* of the same name. */
enum pol_crit {
	POL_C_SNI,
	POL_C_SRC,
	POL_C_DST,
	POL_C_PORT,
	POL_C_VLAN,
	POL_C_SEGMENT,
	POL_C_ALPN,
	POL_C_VERSION,
	POL_C_N,
};

/* ---- error collection (pol_err.c) ---- */

struct pol_ctx {
	const char *name;		/* file name, first in every message */
	struct ps_pol_errors *errs;	/* may be NULL */
	unsigned int n_err;		/* all errors, kept or not */
};

void ps_pol_err_init(struct ps_pol_errors *errs);
void ps_pol_err_line(struct pol_ctx *c, const char *fmt, ...) POL_PRINTF(2, 3);
int ps_pol_fail(struct pol_ctx *c, const char *path, const char *fmt, ...)
	POL_PRINTF(3, 4);
int ps_pol_expect(struct pol_ctx *c, const char *path, const char *expect,
		  const json_t *v);
void ps_pol_path_key(char *out, size_t len, const char *parent, const char *key);
void ps_pol_path_index(char *out, size_t len, const char *parent, size_t i);
bool ps_pol_has_control(const char *s, size_t n);

/* ---- the parsed specification (pol_parse.c) ---- */

struct pol_cidr {
	uint8_t family;		/* 4 or 6 */
	uint8_t len;		/* prefix length */
	uint8_t bytes[16];
};

struct pol_range {
	uint16_t lo, hi;
};

/*
 * A host-name pattern, normalised (lower case, no trailing dot): "a.b"
 * exact, "*.a.b" one label more, ".a.b" a.b and below.
 */
struct pol_spec_rule {
	const char *name;		/* borrowed from the JSON document */
	enum ps_pol_action action;
	bool log;
	uint32_t has;			/* PS_POL_F_* criteria present */
	char **sni;
	uint32_t n_sni;
	uint32_t *lists;		/* "@name" references, list indices */
	uint32_t n_lists;
	struct pol_cidr *src, *dst;
	uint32_t n_src, n_dst;
	struct pol_range *ports, *vlans;
	uint32_t n_ports, n_vlans;
	const char **segments, **alpn;	/* borrowed */
	uint32_t n_segments, n_alpn;
	uint32_t versions;		/* PS_POL_TLS* */
};

struct pol_spec_list {
	const char *name;		/* borrowed */
	char **names;
	uint32_t n;
};

struct pol_spec {
	json_t *root;			/* owns every borrowed string */
	struct pol_spec_rule *rules;
	uint32_t n_rules;
	struct pol_spec_list *lists;
	uint32_t n_lists;
	enum ps_pol_action dflt_action;
	bool dflt_log;
};

/* Parse text into spec; every error goes to c. 0, -EINVAL or -ENOMEM. */
int ps_pol_parse(struct pol_ctx *c, const char *text, size_t len,
		 struct pol_spec *spec);
void ps_pol_spec_free(struct pol_spec *spec);

/* ---- compiled indexes (pol_index.c) ---- */

/* (key, rule) before grouping; key is an integer or a string. */
struct pol_pair {
	const char *skey;
	uint32_t key;
	uint32_t rule;
};

/*
 * A run of rule ids, ascending, in an index's ids[] array. A long run is
 * also kept as a rule bitset (at bits[dense - 1], 0: none), which is
 * cheaper to merge than many ids.
 */
struct pol_run {
	uint32_t start;
	uint32_t count;
	uint32_t dense;
};

/* String -> rule ids: open addressing, FNV-1a, keys in one arena. */
struct pol_map_ent {
	uint64_t hash;
	uint32_t koff;			/* key offset in the arena, UINT32_MAX: empty */
	uint32_t klen;
	struct pol_run run;
};

struct pol_map {
	struct pol_map_ent *tab;
	uint32_t mask;			/* table size - 1, 0 when empty */
	char *keys;
	uint32_t *ids;
	uint64_t *bits;
};

/* Binary trie of prefixes for one address family. */
struct pol_node {
	uint32_t child[2];		/* 0: none (node 0 is the root) */
	struct pol_run run;		/* rules with exactly this prefix */
};

struct pol_trie {
	struct pol_node *nodes;
	uint32_t n_nodes;
	uint32_t *ids;
	uint64_t *bits;
};

/* Integer ranges -> rule ids, as elementary intervals [bound[i], bound[i+1]). */
struct pol_ranges {
	uint32_t *bound;		/* ascending, n_bound entries */
	struct pol_run *runs;		/* n_bound - 1 entries */
	uint32_t n_bound;
	uint32_t *ids;
	uint64_t *bits;
};

int ps_pol_densify(uint64_t **bits, void *runs, size_t stride, size_t n,
		   const uint32_t *ids, uint32_t words);

int ps_pol_map_build(struct pol_map *m, struct pol_pair *pairs, size_t n);
const struct pol_run *ps_pol_map_get(const struct pol_map *m, const char *key,
				     size_t klen);
void ps_pol_map_free(struct pol_map *m);

int ps_pol_trie_build(struct pol_trie *t, const struct pol_cidr *const *pfx,
		      const uint32_t *rules, size_t n, unsigned int bits);
void ps_pol_trie_free(struct pol_trie *t);

int ps_pol_ranges_build(struct pol_ranges *r, const struct pol_range *rg,
			const uint32_t *rules, size_t n);
const struct pol_run *ps_pol_ranges_get(const struct pol_ranges *r,
					uint32_t v);
void ps_pol_ranges_free(struct pol_ranges *r);

/* ---- the compiled policy ---- */

struct ps_pol {
	uint32_t n_rules;
	uint32_t words;			/* 64-bit words of a rule bitset */
	uint32_t used;			/* PS_POL_F_* tested by some rule */
	struct ps_pol_verdict *verdicts;	/* one per rule */
	struct ps_pol_verdict *pending;	/* PS_POL_UNDECIDED, one per rule */
	struct ps_pol_verdict dflt;
	char *names;			/* rule names, NUL-separated */
	uint64_t *all;			/* every rule */
	uint64_t *any[POL_C_N];		/* rules without criterion c */
	uint64_t *ver[4];		/* rules accepting TLS 1.0 .. 1.3 */
	struct pol_map sni_exact;	/* "a.b" */
	struct pol_map sni_wild;	/* "*.a.b", keyed by "a.b" */
	struct pol_map sni_suffix;	/* ".a.b", keyed by "a.b" */
	struct pol_map segment;
	struct pol_map alpn;
	struct pol_trie src[2], dst[2];	/* [0] IPv4, [1] IPv6 */
	struct pol_ranges port, vlan;
};

#endif /* PS_POL_PRIV_H */
