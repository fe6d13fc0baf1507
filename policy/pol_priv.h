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
#define POL_DN_MAX	1024	/* bytes of a "cert_issuer" element */
#define POL_TOOL_NAME_MAX 63
#define POL_PORT_NAME_MAX 31

/*
 * The criteria, in evaluation order (the order of "match" keys). Bit i of
 * the first eight is PS_POL_F_* of the same name; the certificate's three
 * share PS_POL_F_CERT (see pol_crit_field()).
 */
enum pol_crit {
	POL_C_SNI,
	POL_C_SRC,
	POL_C_DST,
	POL_C_PORT,
	POL_C_VLAN,
	POL_C_SEGMENT,
	POL_C_ALPN,
	POL_C_VERSION,
	POL_C_CERT_CN,
	POL_C_CERT_SAN,
	POL_C_CERT_ISSUER,
	POL_C_N,
};

/* The PS_POL_F_* field criterion c needs. */
static inline uint32_t
pol_crit_field(unsigned int c)
{
	return c >= POL_C_CERT_CN ? PS_POL_F_CERT : 1u << c;
}

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

/* ---- the parsed specification (pol_parse.c, pol_settings.c) ---- */

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
/* What a rule (or the default) does, beside its criteria. */
struct pol_spec_opts {
	enum ps_pol_action action;
	bool log;
	bool shadow;
	enum ps_pol_invalid on_invalid_cert;
	unsigned int profile;		/* index in pol_spec.profiles */
	bool tools_set;
	unsigned int n_tools;
	unsigned int *tools;		/* indices in pol_spec.tools */
};

/* Host-name patterns of one criterion: literal ones and "@list" ones. */
struct pol_spec_names {
	char **pat;
	uint32_t n_pat;
	uint32_t *lists;		/* "@name" references, list indices */
	uint32_t n_lists;
};

struct pol_spec_rule {
	const char *name;		/* borrowed from the JSON document */
	struct pol_spec_opts o;
	uint32_t has;			/* 1 << enum pol_crit of criteria present */
	struct pol_spec_names sni, cert_cn, cert_san;
	const char **issuer;		/* borrowed: "cert_issuer" elements */
	uint32_t n_issuer;
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

/*
 * Settings, profiles and tools in their public form, every string
 * borrowed from the JSON document (the compiler copies them).
 */
struct pol_spec {
	json_t *root;			/* owns every borrowed string */
	struct pol_spec_rule *rules;
	uint32_t n_rules;
	struct pol_spec_list *lists;
	uint32_t n_lists;
	struct pol_spec_opts dflt;
	bool shadow;			/* the whole policy */
	char version[64];
	struct ps_pol_settings set;
	struct ps_pol_known *known;
	struct ps_pol_tool *tools;
	uint32_t n_tools;
	struct ps_pol_profile *profiles;	/* [0] is "default" */
	uint32_t n_profiles;
};

/* Parse text into spec; every error goes to c. 0, -EINVAL or -ENOMEM. */
int ps_pol_parse(struct pol_ctx *c, const char *text, size_t len,
		 struct pol_spec *spec);
void ps_pol_spec_free(struct pol_spec *spec);

/* pol_parse.c helpers shared with pol_settings.c. */
bool ps_pol_check_object(struct pol_ctx *c, json_t *v, const char *path,
			 const char *const *keys);
int ps_pol_enum(struct pol_ctx *c, json_t *v, const char *path,
		const char *const *names, unsigned int *out);
char *ps_pol_pattern(const json_t *v, bool *bad);
bool ps_pol_host_ok(const char *s, size_t n);

static inline char
ps_pol_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
}

/* pol_settings.c: "settings" and "tls_profiles" into spec. 0 or -ENOMEM. */
int ps_pol_parse_settings(struct pol_ctx *c, struct pol_spec *spec, json_t *v);
int ps_pol_parse_profiles(struct pol_ctx *c, struct pol_spec *spec, json_t *v);
void ps_pol_settings_free(struct pol_spec *spec);

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

/* Host-name patterns of one criterion. */
struct pol_names {
	struct pol_map exact;		/* "a.b" */
	struct pol_map wild;		/* "*.a.b", keyed by "a.b" */
	struct pol_map suffix;		/* ".a.b", keyed by "a.b" */
};

struct ps_pol {
	uint32_t n_rules;
	uint32_t words;			/* 64-bit words of a rule bitset */
	uint32_t used;			/* 1 << enum pol_crit tested by some rule */
	bool all_shadow;		/* top-level "shadow": true */
	struct ps_pol_verdict *verdicts;	/* one per rule */
	struct ps_pol_verdict *pending;	/* PS_POL_UNDECIDED, one per rule */
	struct ps_pol_verdict dflt;
	char *names;			/* rule names, NUL-separated */
	unsigned int *tool_ids;		/* every verdict's tools[] */
	uint64_t *all;			/* every rule */
	uint64_t *any[POL_C_N];		/* rules without criterion c */
	uint64_t *ver[4];		/* rules accepting TLS 1.0 .. 1.3 */
	uint64_t *shadow;		/* shadow rules; NULL: none (or all) */
	struct pol_names sni, cert_cn, cert_san;
	struct pol_map issuer_cn;	/* lower case */
	struct pol_map issuer_dn;	/* lower case, RFC 2253 */
	struct pol_map segment;
	struct pol_map alpn;
	struct pol_trie src[2], dst[2];	/* [0] IPv4, [1] IPv6 */
	struct pol_ranges port, vlan;
	struct ps_pol_settings set;	/* strings in strs */
	struct ps_pol_known *known;
	struct ps_pol_tool *tools;
	uint32_t n_tools;
	struct ps_pol_profile *profiles;
	uint32_t n_profiles;
	char version[64];
	char hash[65];
	void **owned;			/* copied strings and arrays, freed with pol */
	size_t n_owned, cap_owned;
};

/*
 * pol_access.c: copy the settings, profiles and tools of spec into pol
 * (the JSON document goes away), its version, and the hash of text.
 * 0 or -ENOMEM. ps_pol_globals_free() frees what it made.
 */
int ps_pol_keep_globals(struct ps_pol *pol, const struct pol_spec *spec,
			const char *text, size_t len);
void ps_pol_globals_free(struct ps_pol *pol);

#endif /* PS_POL_PRIV_H */
