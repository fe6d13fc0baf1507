/* SPDX-License-Identifier: BSD-3-Clause
 * Policy compiler: a validated struct pol_spec -> struct ps_pol, the
 * immutable form the data plane evaluates (docs/policy.md). Also the
 * public entry points that read and free policies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pol_priv.h"

static void
bit_set(uint64_t *b, uint32_t i)
{
	b[i / 64] |= 1ull << (i % 64);
}

/* Pairs of one string criterion, with room for n. */
struct spairs {
	struct pol_pair *p;
	size_t n;
};

static int
spairs_init(struct spairs *s, size_t cap)
{
	s->n = 0;
	s->p = malloc((cap + 1) * sizeof(*s->p));
	return s->p == NULL ? -ENOMEM : 0;
}

static void
spairs_add(struct spairs *s, const char *key, uint32_t rule)
{
	s->p[s->n].skey = key;
	s->p[s->n].key = 0;
	s->p[s->n++].rule = rule;
}

/* A normalised pattern into the exact, wildcard or suffix pairs. */
static void
name_add(struct spairs *sp, const char *pat, uint32_t rule)
{
	if (pat[0] == '*')
		spairs_add(&sp[1], pat + 2, rule);
	else if (pat[0] == '.')
		spairs_add(&sp[2], pat + 1, rule);
	else
		spairs_add(&sp[0], pat, rule);
}

/* The host-name patterns of criterion c ("sni", "cert_cn", "cert_san"). */
static const struct pol_spec_names *
rule_names(const struct pol_spec_rule *r, unsigned int c)
{
	return c == POL_C_SNI ? &r->sni : c == POL_C_CERT_CN ? &r->cert_cn :
	       &r->cert_san;
}

static int
build_names(struct pol_names *nm, const struct pol_spec *spec, unsigned int c)
{
	struct spairs sp[3] = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
	const struct pol_spec_names *rn;
	size_t total = 0;
	uint32_t i, j, k;
	int rc;

	for (i = 0; i < spec->n_rules; i++) {
		rn = rule_names(&spec->rules[i], c);
		total += rn->n_pat;
		for (j = 0; j < rn->n_lists; j++)
			total += spec->lists[rn->lists[j]].n;
	}
	for (k = 0, rc = 0; k < 3 && rc == 0; k++)
		rc = spairs_init(&sp[k], total);
	if (rc < 0)
		goto out;
	for (i = 0; i < spec->n_rules; i++) {
		rn = rule_names(&spec->rules[i], c);
		for (j = 0; j < rn->n_pat; j++)
			name_add(sp, rn->pat[j], i);
		for (j = 0; j < rn->n_lists; j++) {
			const struct pol_spec_list *l = &spec->lists[rn->lists[j]];

			for (k = 0; k < l->n; k++)
				name_add(sp, l->names[k], i);
		}
	}
	rc = ps_pol_map_build(&nm->exact, sp[0].p, sp[0].n);
	if (rc == 0)
		rc = ps_pol_map_build(&nm->wild, sp[1].p, sp[1].n);
	if (rc == 0)
		rc = ps_pol_map_build(&nm->suffix, sp[2].p, sp[2].n);
out:
	for (k = 0; k < 3; k++)
		free(sp[k].p);
	return rc;
}

/*
 * "cert_issuer" elements, lower case: with '=' a whole DN (dn true),
 * without an issuer CN.
 */
static int
build_issuer(struct pol_map *m, const struct pol_spec *spec, bool dn)
{
	struct spairs sp;
	char **low = NULL;
	size_t total = 0, n = 0, i, k;
	uint32_t r, j;
	int rc;

	for (r = 0; r < spec->n_rules; r++)
		total += spec->rules[r].n_issuer;
	rc = spairs_init(&sp, total);
	if (rc == 0 && (low = calloc(total + 1, sizeof(*low))) == NULL)
		rc = -ENOMEM;
	for (r = 0; r < spec->n_rules && rc == 0; r++) {
		const struct pol_spec_rule *rl = &spec->rules[r];

		for (j = 0; j < rl->n_issuer && rc == 0; j++) {
			const char *s = rl->issuer[j];

			if ((strchr(s, '=') != NULL) != dn)
				continue;
			low[n] = strdup(s);
			if (low[n] == NULL) {
				rc = -ENOMEM;
				break;
			}
			for (k = 0; low[n][k] != '\0'; k++)
				low[n][k] = ps_pol_lower(low[n][k]);
			spairs_add(&sp, low[n++], r);
		}
	}
	if (rc == 0)
		rc = ps_pol_map_build(m, sp.p, sp.n);
	for (i = 0; i < n; i++)
		free(low[i]);
	free(low);
	free(sp.p);
	return rc;
}

/* segment (seg true) or alpn names into their map. */
static int
build_words(struct pol_map *m, const struct pol_spec *spec, bool seg)
{
	struct spairs sp;
	size_t total = 0;
	uint32_t i, j;
	int rc;

	for (i = 0; i < spec->n_rules; i++)
		total += seg ? spec->rules[i].n_segments : spec->rules[i].n_alpn;
	rc = spairs_init(&sp, total);
	if (rc < 0)
		return rc;
	for (i = 0; i < spec->n_rules; i++) {
		const struct pol_spec_rule *r = &spec->rules[i];
		uint32_t n = seg ? r->n_segments : r->n_alpn;

		for (j = 0; j < n; j++)
			spairs_add(&sp, seg ? r->segments[j] : r->alpn[j], i);
	}
	rc = ps_pol_map_build(m, sp.p, sp.n);
	free(sp.p);
	return rc;
}

/* src (dst false) or dst prefixes of one family into its trie. */
static int
build_trie(struct pol_trie *t, const struct pol_spec *spec, bool dst,
	   uint8_t family)
{
	const struct pol_cidr **pfx;
	uint32_t *rules, i, j;
	size_t n = 0, total = 0;
	int rc = -ENOMEM;

	for (i = 0; i < spec->n_rules; i++)
		total += dst ? spec->rules[i].n_dst : spec->rules[i].n_src;
	pfx = malloc((total + 1) * sizeof(*pfx));
	rules = malloc((total + 1) * sizeof(*rules));
	if (pfx == NULL || rules == NULL)
		goto out;
	for (i = 0; i < spec->n_rules; i++) {
		const struct pol_spec_rule *r = &spec->rules[i];
		const struct pol_cidr *c = dst ? r->dst : r->src;
		uint32_t nc = dst ? r->n_dst : r->n_src;

		for (j = 0; j < nc; j++) {
			if (c[j].family != family)
				continue;
			pfx[n] = &c[j];
			rules[n++] = i;
		}
	}
	rc = ps_pol_trie_build(t, pfx, rules, n, family == 4 ? 32 : 128);
out:
	free(pfx);
	free(rules);
	return rc;
}

/* Port (vlan false) or VLAN ranges into their interval index. */
static int
build_ranges(struct pol_ranges *rg, const struct pol_spec *spec, bool vlan)
{
	struct pol_range *v;
	uint32_t *rules, i, j;
	size_t n = 0, total = 0;
	int rc = -ENOMEM;

	for (i = 0; i < spec->n_rules; i++)
		total += vlan ? spec->rules[i].n_vlans : spec->rules[i].n_ports;
	v = malloc((total + 1) * sizeof(*v));
	rules = malloc((total + 1) * sizeof(*rules));
	if (v == NULL || rules == NULL)
		goto out;
	for (i = 0; i < spec->n_rules; i++) {
		const struct pol_spec_rule *r = &spec->rules[i];
		const struct pol_range *src = vlan ? r->vlans : r->ports;
		uint32_t ns = vlan ? r->n_vlans : r->n_ports;

		for (j = 0; j < ns; j++) {
			v[n] = src[j];
			rules[n++] = i;
		}
	}
	rc = ps_pol_ranges_build(rg, v, rules, n);
out:
	free(v);
	free(rules);
	return rc;
}

/* A verdict from a rule's (or the default's) options. */
static void
verdict_init(struct ps_pol_verdict *v, const struct pol_spec_opts *o,
	     bool shadow, unsigned int *tools)
{
	v->action = o->action;
	v->log = o->log;
	v->shadow = shadow;
	v->on_invalid_cert = o->on_invalid_cert;
	v->profile = o->profile;
	v->tools_set = o->tools_set;
	v->n_tools = o->n_tools;
	v->tools = tools;
	if (o->n_tools > 0)
		memcpy(tools, o->tools, o->n_tools * sizeof(*tools));
}

/* Verdicts, rule names and the per-criterion bitsets. */
static int
build_rules(struct ps_pol *pol, const struct pol_spec *spec)
{
	size_t names = sizeof("default"), o = 0, w = pol->words, nt, t = 0;
	bool any_shadow = false;
	uint64_t *bits;
	uint32_t i, c;

	nt = spec->dflt.n_tools;
	for (i = 0; i < spec->n_rules; i++) {
		names += strlen(spec->rules[i].name) + 1;
		nt += spec->rules[i].o.n_tools;
		any_shadow |= spec->rules[i].o.shadow;
	}
	/* a wholly shadow policy decides as usual: no per-rule mask */
	if (spec->shadow)
		any_shadow = false;
	pol->all_shadow = spec->shadow;
	pol->names = malloc(names);
	pol->tool_ids = calloc(nt + 1, sizeof(*pol->tool_ids));
	pol->verdicts = calloc(spec->n_rules + 1, sizeof(*pol->verdicts));
	pol->pending = calloc(spec->n_rules + 1, sizeof(*pol->pending));
	bits = calloc((2 + POL_C_N + 4) * w, sizeof(*bits));
	if (pol->names == NULL || pol->tool_ids == NULL || pol->verdicts == NULL ||
	    pol->pending == NULL || bits == NULL) {
		free(bits);
		return -ENOMEM;
	}
	pol->all = bits;
	for (c = 0; c < POL_C_N; c++)
		pol->any[c] = bits + (1 + c) * w;
	for (c = 0; c < 4; c++)
		pol->ver[c] = bits + (1 + POL_C_N + c) * w;
	if (any_shadow)
		pol->shadow = bits + (1 + POL_C_N + 4) * w;
	for (i = 0; i < spec->n_rules; i++) {
		const struct pol_spec_rule *r = &spec->rules[i];
		size_t len = strlen(r->name) + 1;
		struct ps_pol_verdict *v = &pol->verdicts[i];

		memcpy(pol->names + o, r->name, len);
		v->rule_id = i;
		v->rule = pol->names + o;
		verdict_init(v, &r->o, spec->shadow || r->o.shadow, pol->tool_ids + t);
		t += r->o.n_tools;
		o += len;
		pol->pending[i] = *v;
		pol->pending[i].action = PS_POL_UNDECIDED;
		bit_set(pol->all, i);
		if (any_shadow && r->o.shadow)
			bit_set(pol->shadow, i);
		pol->used |= r->has;
		for (c = 0; c < POL_C_N; c++) {
			if (!(r->has & (1u << c)))
				bit_set(pol->any[c], i);
		}
		for (c = 0; c < 4; c++) {
			if (r->versions & (1u << c))
				bit_set(pol->ver[c], i);
		}
	}
	memcpy(pol->names + o, "default", sizeof("default"));
	pol->dflt.rule_id = PS_POL_RULE_DEFAULT;
	pol->dflt.rule = pol->names + o;
	verdict_init(&pol->dflt, &spec->dflt, spec->shadow, pol->tool_ids + t);
	return 0;
}

static int
densify_map(struct pol_map *m, uint32_t words)
{
	if (m->tab == NULL)
		return 0;
	return ps_pol_densify(&m->bits, &m->tab[0].run, sizeof(m->tab[0]),
			      (size_t)m->mask + 1, m->ids, words);
}

static int
densify_trie(struct pol_trie *t, uint32_t words)
{
	if (t->nodes == NULL)
		return 0;
	return ps_pol_densify(&t->bits, &t->nodes[0].run, sizeof(t->nodes[0]),
			      t->n_nodes, t->ids, words);
}

static int
densify_ranges(struct pol_ranges *r, uint32_t words)
{
	if (r->n_bound == 0)
		return 0;
	return ps_pol_densify(&r->bits, r->runs, sizeof(r->runs[0]),
			      r->n_bound - 1, r->ids, words);
}

/* Long runs of every index also as bitsets. */
static int
densify_all(struct ps_pol *pol)
{
	struct pol_map *maps[] = {
		&pol->sni.exact, &pol->sni.wild, &pol->sni.suffix,
		&pol->cert_cn.exact, &pol->cert_cn.wild, &pol->cert_cn.suffix,
		&pol->cert_san.exact, &pol->cert_san.wild, &pol->cert_san.suffix,
		&pol->issuer_cn, &pol->issuer_dn, &pol->segment, &pol->alpn,
	};
	unsigned int i;
	int rc = 0;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]) && rc == 0; i++)
		rc = densify_map(maps[i], pol->words);
	for (i = 0; i < 2 && rc == 0; i++) {
		rc = densify_trie(&pol->src[i], pol->words);
		if (rc == 0)
			rc = densify_trie(&pol->dst[i], pol->words);
	}
	if (rc == 0)
		rc = densify_ranges(&pol->port, pol->words);
	if (rc == 0)
		rc = densify_ranges(&pol->vlan, pol->words);
	return rc;
}

static int
compile_spec(const struct pol_spec *spec, const char *text, size_t len,
	     struct ps_pol **out)
{
	struct ps_pol *pol;
	int rc;

	pol = calloc(1, sizeof(*pol));
	if (pol == NULL)
		return -ENOMEM;
	pol->n_rules = spec->n_rules;
	pol->words = spec->n_rules / 64 + 1;
	rc = build_rules(pol, spec);
	if (rc == 0)
		rc = build_names(&pol->sni, spec, POL_C_SNI);
	if (rc == 0)
		rc = build_names(&pol->cert_cn, spec, POL_C_CERT_CN);
	if (rc == 0)
		rc = build_names(&pol->cert_san, spec, POL_C_CERT_SAN);
	if (rc == 0)
		rc = build_issuer(&pol->issuer_cn, spec, false);
	if (rc == 0)
		rc = build_issuer(&pol->issuer_dn, spec, true);
	if (rc == 0)
		rc = build_trie(&pol->src[0], spec, false, 4);
	if (rc == 0)
		rc = build_trie(&pol->src[1], spec, false, 6);
	if (rc == 0)
		rc = build_trie(&pol->dst[0], spec, true, 4);
	if (rc == 0)
		rc = build_trie(&pol->dst[1], spec, true, 6);
	if (rc == 0)
		rc = build_ranges(&pol->port, spec, false);
	if (rc == 0)
		rc = build_ranges(&pol->vlan, spec, true);
	if (rc == 0)
		rc = build_words(&pol->segment, spec, true);
	if (rc == 0)
		rc = build_words(&pol->alpn, spec, false);
	if (rc == 0)
		rc = densify_all(pol);
	if (rc == 0)
		rc = ps_pol_keep_globals(pol, spec, text, len);
	if (rc < 0) {
		ps_pol_free(pol);
		return rc;
	}
	*out = pol;
	return 0;
}

/* See ps_policy.h. */
int
ps_pol_compile(const char *text, size_t len, const char *name,
	       struct ps_pol **out, struct ps_pol_errors *errs)
{
	struct pol_ctx c = { name != NULL ? name : "(policy)", errs, 0 };
	struct pol_spec spec;
	int rc;

	ps_pol_err_init(errs);
	if (out == NULL || (text == NULL && len > 0)) {
		ps_pol_err_line(&c, "%s: invalid arguments", c.name);
		return -EINVAL;
	}
	if (len > PS_POL_FILE_MAX) {
		ps_pol_err_line(&c, "%s: too large: the limit is %d bytes",
				c.name, PS_POL_FILE_MAX);
		return -E2BIG;
	}
	rc = ps_pol_parse(&c, text != NULL ? text : "", len, &spec);
	if (rc == 0)
		rc = compile_spec(&spec, text != NULL ? text : "", len, out);
	if (rc == -ENOMEM || rc == -E2BIG)
		ps_pol_err_line(&c, "%s: %s", c.name, rc == -ENOMEM ?
				"out of memory" : "too large to index");
	ps_pol_spec_free(&spec);
	return rc;
}

/* See ps_policy.h. */
int
ps_pol_load(const char *path, struct ps_pol **out, struct ps_pol_errors *errs)
{
	struct pol_ctx c = { path != NULL ? path : "(policy)", errs, 0 };
	char msg[128];
	size_t len = 0, cap = 65536;
	char *buf = NULL, *nb;
	ssize_t n;
	int fd, rc;

	ps_pol_err_init(errs);
	if (path == NULL) {
		ps_pol_err_line(&c, "(policy): invalid arguments");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	for (;;) {
		if (len == cap || buf == NULL) {
			cap = buf == NULL ? cap : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				rc = -ENOMEM;
				goto err_close;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto err_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > PS_POL_FILE_MAX)
			break;
	}
	close(fd);
	rc = ps_pol_compile(buf, len, path, out, errs);
	free(buf);
	return rc;
err_close:
	close(fd);
	free(buf);
err:
	ps_pol_err_line(&c, "%s: cannot read: %s", path, strerror_r(-rc, msg, sizeof(msg)));
	return rc;
}

static void
names_free(struct pol_names *nm)
{
	ps_pol_map_free(&nm->exact);
	ps_pol_map_free(&nm->wild);
	ps_pol_map_free(&nm->suffix);
}

/* See ps_policy.h. */
void
ps_pol_free(struct ps_pol *pol)
{
	unsigned int f;

	if (pol == NULL)
		return;
	free(pol->verdicts);
	free(pol->pending);
	free(pol->names);
	free(pol->tool_ids);
	free(pol->all);
	names_free(&pol->sni);
	names_free(&pol->cert_cn);
	names_free(&pol->cert_san);
	ps_pol_map_free(&pol->issuer_cn);
	ps_pol_map_free(&pol->issuer_dn);
	ps_pol_map_free(&pol->segment);
	ps_pol_map_free(&pol->alpn);
	for (f = 0; f < 2; f++) {
		ps_pol_trie_free(&pol->src[f]);
		ps_pol_trie_free(&pol->dst[f]);
	}
	ps_pol_ranges_free(&pol->port);
	ps_pol_ranges_free(&pol->vlan);
	ps_pol_globals_free(pol);
	free(pol);
}
