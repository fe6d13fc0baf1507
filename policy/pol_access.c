/* SPDX-License-Identifier: BSD-3-Clause
 * What a compiled policy says beside its verdicts: settings, TLS
 * profiles, tool chains, version and hash, and the accessors callers
 * read them with. The compiled policy owns copies of every string, so
 * the JSON document can be freed once the policy is compiled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pol_priv.h"

/* Record p (malloc'ed) as owned by pol; NULL when out of memory. */
static void *
own(struct ps_pol *pol, void *p)
{
	void **n;
	size_t cap;

	if (p == NULL)
		return NULL;
	if (pol->n_owned == pol->cap_owned) {
		cap = pol->cap_owned == 0 ? 16 : pol->cap_owned * 2;
		n = realloc(pol->owned, cap * sizeof(*n));
		if (n == NULL) {
			free(p);
			return NULL;
		}
		pol->owned = n;
		pol->cap_owned = cap;
	}
	pol->owned[pol->n_owned++] = p;
	return p;
}

/* A copy of s owned by pol into *out; NULL s stays NULL. false: no memory. */
static bool
keep(struct ps_pol *pol, const char **out, const char *s)
{
	if (s == NULL) {
		*out = NULL;
		return true;
	}
	*out = own(pol, strdup(s));
	return *out != NULL;
}

static bool
keep_settings(struct ps_pol *pol, const struct pol_spec *spec)
{
	struct ps_pol_settings *set = &pol->set;
	const struct ps_pol_known *sk;
	struct ps_pol_known *k;
	unsigned int i;
	bool ok;

	*set = spec->set;
	ok = keep(pol, &set->ca_cert, set->ca_cert) &&
	     keep(pol, &set->ca_key, set->ca_key) &&
	     keep(pol, &set->ca_passphrase_file, set->ca_passphrase_file) &&
	     keep(pol, &set->untrusted_ca_cert, set->untrusted_ca_cert) &&
	     keep(pol, &set->untrusted_ca_key, set->untrusted_ca_key) &&
	     keep(pol, &set->untrusted_ca_passphrase_file,
		  set->untrusted_ca_passphrase_file) &&
	     keep(pol, &set->log_file, set->log_file) &&
	     keep(pol, &set->syslog_url, set->syslog_url);
	set->known = NULL;
	if (!ok || set->n_known == 0)
		return ok;
	k = own(pol, calloc(set->n_known, sizeof(*k)));
	if (k == NULL)
		return false;
	set->known = k;
	for (i = 0; i < set->n_known && ok; i++) {
		sk = &spec->known[i];
		k[i] = *sk;
		ok = keep(pol, &k[i].sni, sk->sni) && keep(pol, &k[i].cert, sk->cert) &&
		     keep(pol, &k[i].key, sk->key) &&
		     keep(pol, &k[i].passphrase_file, sk->passphrase_file);
	}
	return ok;
}

static bool
keep_tools(struct ps_pol *pol, const struct pol_spec *spec)
{
	const char **ports;
	uint32_t i, j;

	pol->n_tools = spec->n_tools;
	if (spec->n_tools == 0)
		return true;
	pol->tools = own(pol, calloc(spec->n_tools, sizeof(*pol->tools)));
	if (pol->tools == NULL)
		return false;
	for (i = 0; i < spec->n_tools; i++) {
		const struct ps_pol_tool *st = &spec->tools[i];
		struct ps_pol_tool *t = &pol->tools[i];

		*t = *st;
		ports = own(pol, calloc(st->n_ports + 1, sizeof(*ports)));
		if (ports == NULL || !keep(pol, &t->name, st->name))
			return false;
		for (j = 0; j < st->n_ports; j++) {
			if (!keep(pol, &ports[j], st->ports[j]))
				return false;
		}
		t->ports = ports;
	}
	return true;
}

static bool
keep_profiles(struct ps_pol *pol, const struct pol_spec *spec)
{
	uint32_t i;

	pol->n_profiles = spec->n_profiles;
	pol->profiles = own(pol, calloc(spec->n_profiles + 1, sizeof(*pol->profiles)));
	if (pol->profiles == NULL)
		return false;
	for (i = 0; i < spec->n_profiles; i++) {
		const struct ps_pol_profile *sp = &spec->profiles[i];
		struct ps_pol_profile *p = &pol->profiles[i];

		p->versions = sp->versions;
		if (!keep(pol, &p->name, sp->name) ||
		    !keep(pol, &p->ciphers, sp->ciphers) ||
		    !keep(pol, &p->ciphersuites, sp->ciphersuites) ||
		    !keep(pol, &p->groups, sp->groups))
			return false;
	}
	return true;
}

/* SHA-256 of text[0..len) as 64 lowercase hex digits into out[65]. */
static int
hash_text(const char *text, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

/* See pol_priv.h. */
int
ps_pol_keep_globals(struct ps_pol *pol, const struct pol_spec *spec,
		    const char *text, size_t len)
{
	memcpy(pol->version, spec->version, sizeof(pol->version));
	if (!keep_settings(pol, spec) || !keep_tools(pol, spec) ||
	    !keep_profiles(pol, spec))
		return -ENOMEM;
	return hash_text(text, len, pol->hash);
}

/* See pol_priv.h. */
void
ps_pol_globals_free(struct ps_pol *pol)
{
	size_t i;

	for (i = 0; i < pol->n_owned; i++)
		free(pol->owned[i]);
	free(pol->owned);
}

/* See ps_policy.h. */
unsigned int
ps_pol_n_rules(const struct ps_pol *pol)
{
	return pol != NULL ? pol->n_rules : 0;
}

/* See ps_policy.h. */
const struct ps_pol_verdict *
ps_pol_rule(const struct ps_pol *pol, uint32_t rule_id)
{
	if (rule_id == PS_POL_RULE_DEFAULT)
		return &pol->dflt;
	return rule_id < pol->n_rules ? &pol->verdicts[rule_id] : NULL;
}

/* See ps_policy.h. */
bool
ps_pol_is_shadow(const struct ps_pol *pol)
{
	return pol->all_shadow;
}

/* See ps_policy.h. */
const char *
ps_pol_version(const struct ps_pol *pol)
{
	return pol->version;
}

/* See ps_policy.h. */
const char *
ps_pol_hash(const struct ps_pol *pol)
{
	return pol->hash;
}

/* See ps_policy.h. */
const struct ps_pol_settings *
ps_pol_settings(const struct ps_pol *pol)
{
	return &pol->set;
}

/* See ps_policy.h. */
unsigned int
ps_pol_n_profiles(const struct ps_pol *pol)
{
	return pol->n_profiles;
}

/* See ps_policy.h. */
const struct ps_pol_profile *
ps_pol_profile(const struct ps_pol *pol, unsigned int i)
{
	return i < pol->n_profiles ? &pol->profiles[i] : NULL;
}

/* See ps_policy.h. */
unsigned int
ps_pol_n_tools(const struct ps_pol *pol)
{
	return pol->n_tools;
}

/* See ps_policy.h. */
const struct ps_pol_tool *
ps_pol_tool(const struct ps_pol *pol, unsigned int i)
{
	return i < pol->n_tools ? &pol->tools[i] : NULL;
}

/* See ps_policy.h. */
const char *
ps_pol_action_name(enum ps_pol_action action)
{
	switch (action) {
	case PS_POL_DECRYPT:
		return "decrypt";
	case PS_POL_BYPASS:
		return "bypass";
	case PS_POL_REJECT:
		return "reject";
	case PS_POL_DROP:
		return "drop";
	case PS_POL_UNDECIDED:
		return "undecided";
	}
	return "unknown";
}

/* See ps_policy.h. */
const char *
ps_pol_invalid_name(enum ps_pol_invalid inv)
{
	switch (inv) {
	case PS_POL_INVALID_DEFAULT:
		return "default";
	case PS_POL_INVALID_REJECT:
		return "reject";
	case PS_POL_INVALID_RESIGN_UNTRUSTED:
		return "resign-untrusted";
	case PS_POL_INVALID_BYPASS:
		return "bypass";
	}
	return "unknown";
}
