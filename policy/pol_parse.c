/* SPDX-License-Identifier: BSD-3-Clause
 * Policy parser: JSON text -> struct pol_spec, validated.
 *
 * Unlike the appliance config, a bad value does not stop the parse: the
 * member is reported and skipped, and parsing goes on, so one run lists
 * every problem of the file. Keys starting with '#' are comments. Nothing
 * here builds an index; pol_compile.c does that from a valid spec.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pol_priv.h"

static const char *const top_keys[] = {
	"version", "lists", "rules", "default", "shadow", "tls_profiles",
	"settings", NULL,
};
static const char *const rule_keys[] = {
	"name", "match", "action", "log", "tools", "tls_profile",
	"on_invalid_cert", "shadow", NULL,
};
static const char *const dflt_keys[] = {
	"action", "log", "tools", "tls_profile", "on_invalid_cert", NULL,
};
/* in enum pol_crit order */
static const char *const match_keys[] = {
	"sni", "src", "dst", "dst_port", "vlan", "segment", "alpn",
	"tls_version", "cert_cn", "cert_san", "cert_issuer", NULL,
};
static const char *const invalid_names[] = {
	"reject", "resign-untrusted", "bypass", NULL,
};
static const char *const action_names[] = {
	"decrypt", "bypass", "reject", "drop", NULL,
};
static const char *const version_names[] = { "1.0", "1.1", "1.2", "1.3", NULL };

#define EXPECT_NAME	"a host name, \"*.NAME\", \".NAME\" or \"@LIST\""
#define EXPECT_LIST_NAME "a host name, \"*.NAME\" or \".NAME\""
#define EXPECT_CIDR	"an IPv4 or IPv6 prefix ADDRESS[/LENGTH] without host bits"
#define EXPECT_PORT	"a port 1..65535 or a string \"LO-HI\" with 1 <= LO <= HI <= 65535"
#define EXPECT_VLAN	"a VLAN ID 1..4094"
#define EXPECT_WORD	"a string of 1..255 bytes without control characters"
#define EXPECT_ISSUER	"an issuer CN, or an issuer DN \"CN=...,O=...\" (RFC 2253), of 1..1024 bytes without control characters"
#define EXPECT_VERSION	"a string of 1..63 printable ASCII characters or an integer >= 0"

/*
 * See pol_priv.h. v must be an object; report each key outside keys
 * (NULL-terminated) and not a comment. Returns false only when v is not
 * an object.
 */
bool
ps_pol_check_object(struct pol_ctx *c, json_t *v, const char *path,
		    const char *const *keys)
{
	char list[256], p[POL_PATH_LEN];
	const char *const *k;
	const char *key;
	size_t o = 0;
	void *it;

	if (!json_is_object(v)) {
		ps_pol_expect(c, path, "an object", v);
		return false;
	}
	list[0] = '\0';
	for (k = keys; *k != NULL; k++) {
		int n = snprintf(list + o, sizeof(list) - o, "%s%s",
				 k == keys ? "" : ", ", *k);

		if (n > 0 && (size_t)n < sizeof(list) - o)
			o += (size_t)n;
	}
	for (it = json_object_iter(v); it != NULL;
	     it = json_object_iter_next(v, it)) {
		key = json_object_iter_key(it);
		if (key[0] == '#')
			continue;
		for (k = keys; *k != NULL; k++) {
			if (strcmp(key, *k) == 0)
				break;
		}
		if (*k != NULL)
			continue;
		ps_pol_path_key(p, sizeof(p), path, key);
		ps_pol_fail(c, p, "unknown key (expected one of: %s)", list);
	}
	return true;
}

/* See pol_priv.h. A string member among names (NULL-terminated); -EINVAL if not. */
int
ps_pol_enum(struct pol_ctx *c, json_t *v, const char *path,
	    const char *const *names, unsigned int *out)
{
	char expect[128];
	unsigned int i;
	size_t o;

	o = (size_t)snprintf(expect, sizeof(expect), "one of ");
	for (i = 0; names[i] != NULL && o < sizeof(expect); i++) {
		int n = snprintf(expect + o, sizeof(expect) - o, "%s\"%s\"",
				 i == 0 ? "" : ", ", names[i]);

		if (n > 0)
			o += (size_t)n;
	}
	if (json_is_string(v)) {
		for (i = 0; names[i] != NULL; i++) {
			if (strcmp(json_string_value(v), names[i]) == 0) {
				*out = i;
				return 0;
			}
		}
	}
	return ps_pol_expect(c, path, expect, v);
}

/* "tools": names of settings.tools, each at most once. */
static int
opt_tools(struct pol_ctx *c, const struct pol_spec *spec, json_t *arr,
	  const char *path, struct pol_spec_opts *o)
{
	char pi[POL_PATH_LEN];
	unsigned int t, k;
	json_t *v;
	size_t i;

	if (!json_is_array(arr))
		return ps_pol_expect(c, path, "an array of tool names", arr);
	o->tools = calloc(json_array_size(arr) + 1, sizeof(*o->tools));
	if (o->tools == NULL)
		return -ENOMEM;
	o->tools_set = true;
	json_array_foreach(arr, i, v) {
		ps_pol_path_index(pi, sizeof(pi), path, i);
		for (t = 0; json_is_string(v) && t < spec->n_tools; t++) {
			if (strcmp(spec->tools[t].name, json_string_value(v)) == 0)
				break;
		}
		if (!json_is_string(v) || t == spec->n_tools) {
			ps_pol_expect(c, pi, "the name of a tool defined in "
				      "\"settings.tools\"", v);
			continue;
		}
		for (k = 0; k < o->n_tools && o->tools[k] != t; k++)
			;
		if (k < o->n_tools) {
			ps_pol_fail(c, pi, "duplicate tool \"%s\"", spec->tools[t].name);
			continue;
		}
		o->tools[o->n_tools++] = t;
	}
	return 0;
}

/* "tls_profile": a name of "tls_profiles" or "default". */
static int
opt_profile(struct pol_ctx *c, const struct pol_spec *spec, json_t *v,
	    const char *path, struct pol_spec_opts *o)
{
	uint32_t i;

	for (i = 0; json_is_string(v) && i < spec->n_profiles; i++) {
		if (strcmp(spec->profiles[i].name, json_string_value(v)) == 0) {
			o->profile = i;
			return 0;
		}
	}
	return ps_pol_expect(c, path, "\"default\" or the name of a profile "
			     "defined in \"tls_profiles\"", v);
}

/*
 * What a rule (rule true) or the default does: action (required for a
 * rule), log, tools, tls_profile, on_invalid_cert, shadow (rules only).
 */
static int
parse_opts(struct pol_ctx *c, const struct pol_spec *spec, json_t *obj,
	   const char *path, bool rule, struct pol_spec_opts *o)
{
	char p[POL_PATH_LEN];
	unsigned int a;
	json_t *v;

	ps_pol_path_key(p, sizeof(p), path, "action");
	v = json_object_get(obj, "action");
	if (v == NULL && rule)
		ps_pol_fail(c, path, "missing required key \"action\"");
	else if (v != NULL && ps_pol_enum(c, v, p, action_names, &a) == 0)
		o->action = (enum ps_pol_action)a;
	ps_pol_path_key(p, sizeof(p), path, "log");
	v = json_object_get(obj, "log");
	if (v != NULL && !json_is_boolean(v))
		ps_pol_expect(c, p, "true or false", v);
	else if (v != NULL)
		o->log = json_is_true(v);
	ps_pol_path_key(p, sizeof(p), path, "shadow");
	v = rule ? json_object_get(obj, "shadow") : NULL;
	if (v != NULL && !json_is_boolean(v))
		ps_pol_expect(c, p, "true or false", v);
	else if (v != NULL)
		o->shadow = json_is_true(v);
	ps_pol_path_key(p, sizeof(p), path, "on_invalid_cert");
	v = json_object_get(obj, "on_invalid_cert");
	if (v != NULL && ps_pol_enum(c, v, p, invalid_names, &a) == 0)
		o->on_invalid_cert = (enum ps_pol_invalid)(a + 1);
	ps_pol_path_key(p, sizeof(p), path, "tls_profile");
	v = json_object_get(obj, "tls_profile");
	if (v != NULL)
		opt_profile(c, spec, v, p, o);
	ps_pol_path_key(p, sizeof(p), path, "tools");
	v = json_object_get(obj, "tools");
	return v != NULL ? opt_tools(c, spec, v, p, o) : 0;
}

/* ---- host names ---- */

static bool
label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

/* See pol_priv.h. s[0..n) lower case: labels of 1..63 of [a-z0-9_-], 1..253 bytes. */
bool
ps_pol_host_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > POL_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!label_char(s[i]) || ++label > 63)
			return false;
	}
	return label > 0;
}

/*
 * See pol_priv.h. A normalised copy of the pattern v (lower case, one
 * trailing dot dropped), or NULL: *bad set when v is not a valid pattern,
 * else no memory. Accepts "a.b", "*.a.b" and ".a.b".
 */
char *
ps_pol_pattern(const json_t *v, bool *bad)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i, skip;
	char *out;

	*bad = true;
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n > 2 + POL_NAME_MAX || memchr(s, '\0', n) != NULL)
		return NULL;
	out = malloc(n + 1);
	if (out == NULL) {
		*bad = false;
		return NULL;
	}
	for (i = 0; i < n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[n] = '\0';
	skip = (n >= 2 && out[0] == '*' && out[1] == '.') ? 2 :
	       (n >= 1 && out[0] == '.') ? 1 : 0;
	if (!ps_pol_host_ok(out + skip, n - skip)) {
		free(out);
		return NULL;
	}
	*bad = false;
	return out;
}

/* ---- lists ---- */

static int
parse_lists(struct pol_ctx *c, struct pol_spec *spec, json_t *obj)
{
	char p[POL_PATH_LEN], pi[POL_PATH_LEN];
	struct pol_spec_list *l;
	const char *key;
	json_t *arr, *v;
	size_t i;
	void *it;
	bool bad;

	if (!json_is_object(obj))
		return ps_pol_expect(c, "lists", "an object of named lists", obj);
	spec->lists = calloc(json_object_size(obj) + 1, sizeof(*spec->lists));
	if (spec->lists == NULL)
		return -ENOMEM;
	for (it = json_object_iter(obj); it != NULL;
	     it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		arr = json_object_iter_value(it);
		if (key[0] == '#')
			continue;
		ps_pol_path_key(p, sizeof(p), "lists", key);
		/* an invalid list is still defined: no cascade of "undefined" */
		l = &spec->lists[spec->n_lists++];
		l->name = key;
		if (!json_is_array(arr)) {
			ps_pol_expect(c, p, "an array of host names", arr);
			continue;
		}
		l->names = calloc(json_array_size(arr) + 1, sizeof(*l->names));
		if (l->names == NULL)
			return -ENOMEM;
		json_array_foreach(arr, i, v) {
			ps_pol_path_index(pi, sizeof(pi), p, i);
			if (!json_is_string(v)) {
				ps_pol_expect(c, pi, EXPECT_LIST_NAME, v);
				continue;
			}
			l->names[l->n] = ps_pol_pattern(v, &bad);
			if (l->names[l->n] != NULL)
				l->n++;
			else if (bad)
				ps_pol_expect(c, pi, EXPECT_LIST_NAME, v);
			else
				return -ENOMEM;
		}
	}
	return 0;
}

static int
find_list(const struct pol_spec *spec, const char *name)
{
	uint32_t i;

	for (i = 0; i < spec->n_lists; i++) {
		if (strcmp(spec->lists[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- match criteria: each takes one array element ---- */

/* A pattern or "@LIST" of "sni", "cert_cn" or "cert_san". */
static int
item_name(struct pol_ctx *c, const struct pol_spec *spec,
	  struct pol_spec_names *r, json_t *v, const char *path)
{
	const char *s = json_string_value(v);
	bool bad;
	int li;

	if (!json_is_string(v))
		return ps_pol_expect(c, path, EXPECT_NAME, v);
	if (s[0] == '@') {
		li = strlen(s) == json_string_length(v) ? find_list(spec, s + 1) : -1;
		if (li < 0)
			return ps_pol_expect(c, path,
					     "the name of a list defined in \"lists\"", v);
		r->lists[r->n_lists++] = (uint32_t)li;
		return 0;
	}
	r->pat[r->n_pat] = ps_pol_pattern(v, &bad);
	if (r->pat[r->n_pat] != NULL) {
		r->n_pat++;
		return 0;
	}
	return bad ? ps_pol_expect(c, path, EXPECT_NAME, v) : -ENOMEM;
}

/* "a.b.c.d[/n]" or "x::y[/n]", no host bits beyond the length. */
static bool
cidr_parse(const char *s, size_t n, struct pol_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	unsigned int len = 0, max, i;
	size_t alen;

	if (n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	alen = slash != NULL ? (size_t)(slash - buf) : n;
	buf[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		out->family = 6;
		max = 128;
	} else {
		return false;
	}
	if (slash == NULL) {
		len = max;
	} else {
		const char *d = slash + 1;

		if (*d == '\0' || (d[0] == '0' && d[1] != '\0'))
			return false;
		for (; *d != '\0'; d++) {
			if (*d < '0' || *d > '9' || len > max)
				return false;
			len = len * 10 + (unsigned int)(*d - '0');
		}
		if (len > max)
			return false;
	}
	out->len = (uint8_t)len;
	for (i = len; i < max; i++) {
		if (out->bytes[i / 8] & (0x80u >> (i % 8)))
			return false;
	}
	return true;
}

static int
item_cidr(struct pol_ctx *c, struct pol_cidr *arr, uint32_t *n, json_t *v,
	  const char *path)
{
	if (!json_is_string(v) ||
	    !cidr_parse(json_string_value(v), json_string_length(v), &arr[*n]))
		return ps_pol_expect(c, path, EXPECT_CIDR, v);
	(*n)++;
	return 0;
}

/* Decimal 1..65535 of s[0..n), no sign, no leading zero. */
static bool
port_num(const char *s, size_t n, uint16_t *out)
{
	unsigned int v = 0;
	size_t i;

	if (n == 0 || n > 5 || s[0] == '0')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static int
item_port(struct pol_ctx *c, struct pol_spec_rule *r, json_t *v,
	  const char *path)
{
	struct pol_range *rg = &r->ports[r->n_ports];
	const char *s, *dash;
	json_int_t x;

	if (json_is_integer(v)) {
		x = json_integer_value(v);
		if (x < 1 || x > 65535)
			return ps_pol_expect(c, path, EXPECT_PORT, v);
		rg->lo = rg->hi = (uint16_t)x;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		dash = memchr(s, '-', json_string_length(v));
		if (dash == NULL ||
		    !port_num(s, (size_t)(dash - s), &rg->lo) ||
		    !port_num(dash + 1, json_string_length(v) - (size_t)(dash - s) - 1,
			      &rg->hi) ||
		    rg->lo > rg->hi)
			return ps_pol_expect(c, path, EXPECT_PORT, v);
	} else {
		return ps_pol_expect(c, path, EXPECT_PORT, v);
	}
	r->n_ports++;
	return 0;
}

static int
item_vlan(struct pol_ctx *c, struct pol_spec_rule *r, json_t *v,
	  const char *path)
{
	json_int_t x;

	if (!json_is_integer(v))
		return ps_pol_expect(c, path, EXPECT_VLAN, v);
	x = json_integer_value(v);
	if (x < 1 || x > 4094)
		return ps_pol_expect(c, path, EXPECT_VLAN, v);
	r->vlans[r->n_vlans].lo = r->vlans[r->n_vlans].hi = (uint16_t)x;
	r->n_vlans++;
	return 0;
}

/* A string of 1..max bytes without control characters ("segment", "alpn", "cert_issuer"). */
static int
item_text(struct pol_ctx *c, const char **arr, uint32_t *n, json_t *v,
	  const char *path, size_t max, const char *expect)
{
	size_t len;

	if (!json_is_string(v))
		return ps_pol_expect(c, path, expect, v);
	len = json_string_length(v);
	if (len == 0 || len > max || ps_pol_has_control(json_string_value(v), len))
		return ps_pol_expect(c, path, expect, v);
	arr[(*n)++] = json_string_value(v);
	return 0;
}

static int
item_version(struct pol_ctx *c, struct pol_spec_rule *r, json_t *v,
	     const char *path)
{
	unsigned int i;

	if (ps_pol_enum(c, v, path, version_names, &i) < 0)
		return -EINVAL;
	r->versions |= 1u << i;
	return 0;
}

/* Room for every element of every criterion array of one rule. */
static int
rule_alloc(struct pol_spec_rule *r, size_t n)
{
	struct pol_spec_names *nm[] = { &r->sni, &r->cert_cn, &r->cert_san };
	unsigned int k;

	n++;
	for (k = 0; k < 3; k++) {
		nm[k]->pat = calloc(n, sizeof(*nm[k]->pat));
		nm[k]->lists = calloc(n, sizeof(*nm[k]->lists));
		if (nm[k]->pat == NULL || nm[k]->lists == NULL)
			return -ENOMEM;
	}
	r->issuer = calloc(n, sizeof(*r->issuer));
	r->src = calloc(n, sizeof(*r->src));
	r->dst = calloc(n, sizeof(*r->dst));
	r->ports = calloc(n, sizeof(*r->ports));
	r->vlans = calloc(n, sizeof(*r->vlans));
	r->segments = calloc(n, sizeof(*r->segments));
	r->alpn = calloc(n, sizeof(*r->alpn));
	if (r->issuer == NULL || r->src == NULL ||
	    r->dst == NULL || r->ports == NULL || r->vlans == NULL ||
	    r->segments == NULL || r->alpn == NULL)
		return -ENOMEM;
	return 0;
}

static int
parse_match(struct pol_ctx *c, const struct pol_spec *spec,
	    struct pol_spec_rule *r, json_t *m, const char *path)
{
	char p[POL_PATH_LEN], pi[POL_PATH_LEN];
	size_t i, total = 0;
	unsigned int k;
	json_t *arr, *v;
	int rc;

	if (!ps_pol_check_object(c, m, path, match_keys))
		return 0;
	for (k = 0; match_keys[k] != NULL; k++) {
		arr = json_object_get(m, match_keys[k]);
		if (json_is_array(arr))
			total += json_array_size(arr);
	}
	if (rule_alloc(r, total) < 0)
		return -ENOMEM;
	for (k = 0; match_keys[k] != NULL; k++) {
		arr = json_object_get(m, match_keys[k]);
		if (arr == NULL)
			continue;
		ps_pol_path_key(p, sizeof(p), path, match_keys[k]);
		if (!json_is_array(arr) || json_array_size(arr) == 0) {
			ps_pol_expect(c, p, "a non-empty array", arr);
			continue;
		}
		r->has |= 1u << k;	/* match_keys follows enum pol_crit */
		json_array_foreach(arr, i, v) {
			ps_pol_path_index(pi, sizeof(pi), p, i);
			switch (k) {
			case POL_C_SNI:
				rc = item_name(c, spec, &r->sni, v, pi);
				break;
			case POL_C_CERT_CN:
				rc = item_name(c, spec, &r->cert_cn, v, pi);
				break;
			case POL_C_CERT_SAN:
				rc = item_name(c, spec, &r->cert_san, v, pi);
				break;
			case POL_C_CERT_ISSUER:
				rc = item_text(c, r->issuer, &r->n_issuer, v, pi,
					       POL_DN_MAX, EXPECT_ISSUER);
				break;
			case POL_C_SRC:
				rc = item_cidr(c, r->src, &r->n_src, v, pi);
				break;
			case POL_C_DST:
				rc = item_cidr(c, r->dst, &r->n_dst, v, pi);
				break;
			case POL_C_PORT:
				rc = item_port(c, r, v, pi);
				break;
			case POL_C_VLAN:
				rc = item_vlan(c, r, v, pi);
				break;
			case POL_C_SEGMENT:
				rc = item_text(c, r->segments, &r->n_segments, v, pi,
					       255, EXPECT_WORD);
				break;
			case POL_C_ALPN:
				rc = item_text(c, r->alpn, &r->n_alpn, v, pi, 255,
					       EXPECT_WORD);
				break;
			default:	/* POL_C_VERSION */
				rc = item_version(c, r, v, pi);
				break;
			}
			if (rc == -ENOMEM)
				return rc;
		}
	}
	return 0;
}

_Static_assert(PS_POL_F_SNI == 1u << POL_C_SNI &&
	       PS_POL_F_TLS_VERSION == 1u << POL_C_VERSION &&
	       POL_C_CERT_ISSUER + 1 == POL_C_N,
	       "match_keys, enum pol_crit and PS_POL_F_* share one order");

static int
parse_rule(struct pol_ctx *c, struct pol_spec *spec, struct pol_spec_rule *r,
	   json_t *obj, const char *path)
{
	char p[POL_PATH_LEN];
	json_t *v;

	if (!ps_pol_check_object(c, obj, path, rule_keys))
		return 0;
	ps_pol_path_key(p, sizeof(p), path, "name");
	v = json_object_get(obj, "name");
	if (v == NULL)
		ps_pol_fail(c, path, "missing required key \"name\"");
	else if (!json_is_string(v) || json_string_length(v) == 0 ||
		 json_string_length(v) > 255 ||
		 ps_pol_has_control(json_string_value(v), json_string_length(v)))
		ps_pol_expect(c, p, EXPECT_WORD, v);
	else
		r->name = json_string_value(v);
	if (parse_opts(c, spec, obj, path, true, &r->o) == -ENOMEM)
		return -ENOMEM;
	v = json_object_get(obj, "match");
	if (v == NULL)
		return 0;
	ps_pol_path_key(p, sizeof(p), path, "match");
	return parse_match(c, spec, r, v, p);
}

static int
name_cmp(const void *a, const void *b)
{
	const struct pol_spec_rule *const *x = a, *const *y = b;
	int d = strcmp((*x)->name, (*y)->name);

	return d != 0 ? d : (*x < *y ? -1 : *x > *y);
}

/* Report each rule whose name an earlier rule already has. */
static int
check_unique(struct pol_ctx *c, struct pol_spec *spec)
{
	struct pol_spec_rule **v;
	char p[POL_PATH_LEN];
	uint32_t i, j, n = 0;

	v = calloc(spec->n_rules + 1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < spec->n_rules; i++) {
		if (spec->rules[i].name != NULL)
			v[n++] = &spec->rules[i];
	}
	qsort(v, n, sizeof(*v), name_cmp);
	/* equal names sort together, the first in file order leading */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(v[j]->name, v[i]->name) == 0; j++) {
			snprintf(p, sizeof(p), "rules[%zu].name",
				 (size_t)(v[j] - spec->rules));
			ps_pol_fail(c, p,
				    "duplicate rule name \"%s\" (first in rules[%zu])",
				    v[j]->name, (size_t)(v[i] - spec->rules));
		}
	}
	free(v);
	return 0;
}

static int
parse_rules(struct pol_ctx *c, struct pol_spec *spec, json_t *arr)
{
	char p[POL_PATH_LEN];
	json_t *v;
	size_t i;
	int rc;

	if (!json_is_array(arr))
		return ps_pol_expect(c, "rules", "an array of rules", arr);
	if (json_array_size(arr) > PS_POL_RULES_MAX) {
		ps_pol_fail(c, "rules", "expected at most %d rules, found %zu",
			    PS_POL_RULES_MAX, json_array_size(arr));
		return -EINVAL;
	}
	spec->rules = calloc(json_array_size(arr) + 1, sizeof(*spec->rules));
	if (spec->rules == NULL)
		return -ENOMEM;
	spec->n_rules = (uint32_t)json_array_size(arr);
	json_array_foreach(arr, i, v) {
		ps_pol_path_index(p, sizeof(p), "rules", i);
		rc = parse_rule(c, spec, &spec->rules[i], v, p);
		if (rc == -ENOMEM)
			return rc;
	}
	return check_unique(c, spec);
}

/* "version": 1..63 printable characters, or an integer >= 0, as text. */
static void
parse_version(struct pol_ctx *c, struct pol_spec *spec, json_t *v)
{
	const char *s;
	size_t i, n;

	if (v == NULL)
		return;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(spec->version, sizeof(spec->version),
			 "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= sizeof(spec->version))
		goto bad;
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			goto bad;
	}
	memcpy(spec->version, s, n + 1);
	return;
bad:
	ps_pol_expect(c, "version", EXPECT_VERSION, v);
}

/* See pol_priv.h. */
int
ps_pol_parse(struct pol_ctx *c, const char *text, size_t len,
	     struct pol_spec *spec)
{
	json_error_t jerr;
	json_t *v;
	int rc;

	memset(spec, 0, sizeof(*spec));
	spec->dflt.action = PS_POL_BYPASS;
	spec->set.overflow = -1;
	spec->set.verify_failure = -1;
	spec->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (spec->root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		ps_pol_err_line(c, "%s:%d:%d: invalid JSON: %s", c->name,
				jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!ps_pol_check_object(c, spec->root, "", top_keys))
		return -EINVAL;
	parse_version(c, spec, json_object_get(spec->root, "version"));
	v = json_object_get(spec->root, "shadow");
	if (v != NULL && !json_is_boolean(v))
		ps_pol_expect(c, "shadow", "true or false", v);
	else if (v != NULL)
		spec->shadow = json_is_true(v);
	/* rules name tools and profiles: those first */
	rc = ps_pol_parse_settings(c, spec, json_object_get(spec->root, "settings"));
	if (rc == 0)
		rc = ps_pol_parse_profiles(c, spec,
					   json_object_get(spec->root, "tls_profiles"));
	if (rc == -ENOMEM)
		return rc;
	v = json_object_get(spec->root, "lists");
	if (v != NULL) {
		rc = parse_lists(c, spec, v);
		if (rc == -ENOMEM)
			return rc;
	}
	v = json_object_get(spec->root, "rules");
	if (v != NULL) {
		rc = parse_rules(c, spec, v);
		if (rc == -ENOMEM)
			return rc;
	}
	v = json_object_get(spec->root, "default");
	if (v != NULL && ps_pol_check_object(c, v, "default", dflt_keys) &&
	    parse_opts(c, spec, v, "default", false, &spec->dflt) == -ENOMEM)
		return -ENOMEM;
	return c->n_err > 0 ? -EINVAL : 0;
}

/* See pol_priv.h. */
void
ps_pol_spec_free(struct pol_spec *spec)
{
	uint32_t i, j;

	for (i = 0; spec->rules != NULL && i < spec->n_rules; i++) {
		struct pol_spec_rule *r = &spec->rules[i];
		struct pol_spec_names *nm[] = { &r->sni, &r->cert_cn, &r->cert_san };
		unsigned int k;

		for (k = 0; k < 3; k++) {
			for (j = 0; j < nm[k]->n_pat; j++)
				free(nm[k]->pat[j]);
			free(nm[k]->pat);
			free(nm[k]->lists);
		}
		free(r->issuer);
		free(r->o.tools);
		free(r->src);
		free(r->dst);
		free(r->ports);
		free(r->vlans);
		free(r->segments);
		free(r->alpn);
	}
	free(spec->rules);
	for (i = 0; spec->lists != NULL && i < spec->n_lists; i++) {
		for (j = 0; j < spec->lists[i].n; j++)
			free(spec->lists[i].names[j]);
		free(spec->lists[i].names);
	}
	free(spec->lists);
	free(spec->dflt.tools);
	ps_pol_settings_free(spec);
	json_decref(spec->root);
	memset(spec, 0, sizeof(*spec));
}
