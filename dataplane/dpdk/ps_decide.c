/* SPDX-License-Identifier: BSD-3-Clause
 * The traffic policy in the data plane: loading, binding to this data
 * plane and live replacement (quiescent-state based reclamation: workers
 * never lock), and the decisions the workers take with it: at the
 * client's SYN (addresses, ports, VLAN, segment), at its ClientHello
 * (also SNI, ALPN, versions) and, when a rule needs them or the hello has
 * no SNI, at the server's certificate (subject, SAN, issuer).
 *
 * Two slots: the enforced policy, whose rules may each be marked shadow
 * (they record what they would have done, and never act), and a wholly
 * shadow policy, tried on live traffic beside the enforced one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include <rte_malloc.h>

#include "ps_decide.h"
#include "ps_inline_tool.h"
#include "ps_record.h"

struct ps_profile_ctx {
	char key[768];			/* the profile's content: versions, ciphers... */
	struct ps_tls_ctx *ctx;
};

int
ps_policy_init(struct ps_dp *dp)
{
	size_t sz = rte_rcu_qsbr_get_memsize(dp->n_workers);

	pthread_mutex_init(&dp->policy_lock, NULL);
	dp->rcu = rte_zmalloc("ps_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (dp->rcu == NULL)
		return -ENOMEM;
	if (rte_rcu_qsbr_init(dp->rcu, dp->n_workers) != 0)
		return -EINVAL;
	if (dp->profiles == NULL) {
		dp->profiles = calloc(PS_PROFILES_MAX, sizeof(*dp->profiles));
		if (dp->profiles == NULL)
			return -ENOMEM;
	}
	return 0;
}

static void
rt_free(struct ps_policy_rt *rt)
{
	if (rt == NULL)
		return;
	ps_pol_free(rt->pol);
	free(rt->up_ctx);
	free(rt->profile_num);
	free(rt->tool_ports);
	free(rt->tool_inline);
	free(rt->hits);
	free(rt);
}

void
ps_policy_fini(struct ps_dp *dp)
{
	unsigned int i;

	rt_free(dp->policy);
	rt_free(dp->shadow_policy);
	dp->policy = dp->shadow_policy = NULL;
	rte_free(dp->rcu);
	dp->rcu = NULL;
	for (i = 0; dp->profiles != NULL && i < dp->n_profiles; i++)
		ps_tls_ctx_free(dp->profiles[i].ctx);
	free(dp->profiles);
	dp->profiles = NULL;
	dp->n_profiles = 0;
}

/* ---- binding a compiled policy to this data plane ---- */

static void
add_err(struct ps_pol_errors *errs, const char *fmt, const char *a, const char *b)
{
	if (errs == NULL)
		return;
	if (errs->n >= PS_POL_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	snprintf(errs->msg[errs->n++], PS_POL_ERROR_LEN, fmt, a, b);
}

/*
 * The upstream context of profile pr: one already made for the same
 * content, or a new one. The appliance's trust and verification settings
 * are those of the default context; only versions and suites differ.
 */
static int
profile_ctx(struct ps_dp *dp, const struct ps_pol_profile *pr, uint8_t *num,
	    struct ps_tls_ctx **out, char *err, size_t errlen)
{
	const struct ps_tls_settings *ts = &dp->cfg->tls;
	struct ps_tls_ctx_cfg cc;
	char key[sizeof(dp->profiles[0].key)];
	int minv = 0, maxv = 0, v, rc;
	unsigned int i;

	snprintf(key, sizeof(key), "%x|%s|%s|%s", (unsigned int)pr->versions,
		 pr->ciphers != NULL ? pr->ciphers : "", pr->ciphersuites != NULL ? pr->ciphersuites : "",
		 pr->groups != NULL ? pr->groups : "");
	for (i = 0; i < dp->n_profiles; i++) {
		if (strcmp(dp->profiles[i].key, key) == 0) {
			*out = dp->profiles[i].ctx;
			*num = (uint8_t)(i + 1);
			return 0;
		}
	}
	if (dp->n_profiles >= PS_PROFILES_MAX) {
		snprintf(err, errlen, "more than %d distinct TLS profiles since the data plane "
			 "started: restart it to apply this one", PS_PROFILES_MAX);
		return -ENOSPC;
	}
	for (v = 0; v < 4; v++) {
		if (pr->versions & (1u << v)) {
			if (minv == 0)
				minv = TLS1_VERSION + v;
			maxv = TLS1_VERSION + v;
		}
	}
	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_CLIENT;
	cc.min_version = minv;
	cc.max_version = maxv;
	cc.legacy = minv != 0 && minv < TLS1_2_VERSION;
	cc.cipher_list = pr->ciphers;
	cc.ciphersuites = pr->ciphersuites;
	cc.groups = pr->groups;
	cc.ca_file = ts->trust_bundle[0] != '\0' ? ts->trust_bundle : NULL;
	cc.default_verify_paths = ts->trust_system;
	cc.verify_mode = PS_TLS_VERIFY_REPORT;
	rc = ps_tls_ctx_new(&cc, out, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(dp->profiles[dp->n_profiles].key, sizeof(key), "%s", key);
	dp->profiles[dp->n_profiles].ctx = *out;
	dp->n_profiles++;
	*num = (uint8_t)dp->n_profiles;
	return 0;
}

/* The dp tool index of the port named name, -1 when it is not a tool port. */
static int
tool_index(const struct ps_dp *dp, const char *name)
{
	unsigned int i;

	for (i = 0; i < dp->n_tools; i++) {
		uint16_t p = dp->tool_port[i];

		if (p == PS_TOOL_PORT_RECORDER) {
			if (strcmp(name, "recorder") == 0)
				return (int)i;
		} else if (strcmp(dp->cfg->ports[p].name, name) == 0) {
			return (int)i;
		}
	}
	return -1;
}

/* The inline pair with a port named name, -1 when none. */
static int
inline_index(const struct ps_dp *dp, const char *name)
{
	unsigned int i;

	for (i = 0; i < dp->cfg->n_ports; i++)
		if (strcmp(dp->cfg->ports[i].name, name) == 0)
			return ps_inline_pair_of_port(dp, i);
	return -1;
}

static int
bind_tools(struct ps_dp *dp, struct ps_policy_rt *rt, struct ps_pol_errors *errs)
{
	unsigned int n = ps_pol_n_tools(rt->pol), i, j;
	int bad = 0;

	rt->tool_ports = calloc(n + 1, sizeof(*rt->tool_ports));
	rt->tool_inline = calloc(n + 1, sizeof(*rt->tool_inline));
	if (rt->tool_ports == NULL || rt->tool_inline == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct ps_pol_tool *t = ps_pol_tool(rt->pol, i);

		for (j = 0; j < t->n_ports; j++) {
			int k = tool_index(dp, t->ports[j]), pair = inline_index(dp, t->ports[j]);

			if (k < 0 && pair < 0) {
				add_err(errs, "%s: no tool port (out-of-band, inline, or the "
					"recording) named \"%s\" in the data plane's configuration",
					t->name, t->ports[j]);
				bad = 1;
				continue;
			}
			if (k >= 0)
				rt->tool_ports[i] |= UINT64_C(1) << k;
			else
				rt->tool_inline[i] |= 1u << pair;
		}
		if (rt->tool_ports[i] != 0 && rt->tool_inline[i] != 0) {
			add_err(errs, "%s: mixes out-of-band and inline tool ports; a tool "
				"group is one kind or the other%s", t->name, "");
			bad = 1;
		}
	}
	return bad ? -EINVAL : 0;
}

/* Does a rule (or the default) bypass with out-of-band tools named? */
static bool
bypass_copies(const struct ps_policy_rt *rt)
{
	unsigned int n = ps_pol_n_rules(rt->pol), i, j;

	for (i = 0; i <= n; i++) {
		const struct ps_pol_verdict *v =
			ps_pol_rule(rt->pol, i == n ? PS_POL_RULE_DEFAULT : i);

		if (v == NULL || v->action != PS_POL_BYPASS || !v->tools_set || v->shadow)
			continue;
		for (j = 0; j < v->n_tools; j++)
			if (rt->tool_ports[v->tools[j]] != 0)
				return true;
	}
	return false;
}

static int
bind_profiles(struct ps_dp *dp, struct ps_policy_rt *rt, struct ps_pol_errors *errs)
{
	unsigned int n = ps_pol_n_profiles(rt->pol), i;
	char err[256];
	int bad = 0;

	rt->up_ctx = calloc(n, sizeof(*rt->up_ctx));
	rt->profile_num = calloc(n, sizeof(*rt->profile_num));
	if (rt->up_ctx == NULL || rt->profile_num == NULL)
		return -ENOMEM;
	for (i = 1; i < n; i++) {
		const struct ps_pol_profile *pr = ps_pol_profile(rt->pol, i);

		if (!dp->tls_on)
			break;	/* nothing to connect upstream with: no contexts */
		if (profile_ctx(dp, pr, &rt->profile_num[i], &rt->up_ctx[i], err, sizeof(err)) < 0) {
			add_err(errs, "tls_profiles.%s: %s", pr->name, err);
			bad = 1;
		}
	}
	return bad ? -EINVAL : 0;
}

static void
warn(json_t *warnings, const char *what)
{
	if (warnings != NULL)
		json_array_append_new(warnings, json_sprintf("settings.%s differs from the running "
					"one: it takes effect at the next start", what));
}

static bool
differs(const char *pol, const char *running)
{
	return pol != NULL && strcmp(pol, running) != 0;
}

/* An optional path of the policy ("" or NULL: none) against the running one. */
static bool
differs_opt(const char *pol, const char *running)
{
	return strcmp(pol != NULL ? pol : "", running) != 0;
}

/* Whether the policy's known servers are not exactly the running ones. */
static bool
known_differ(const struct ps_pol_settings *s, const struct ps_tls_settings *t)
{
	unsigned int i;

	if (s->n_known != t->n_known)
		return true;
	for (i = 0; i < s->n_known; i++) {
		const struct ps_pol_known *k = &s->known[i];
		const struct ps_known_server_cfg *c = &t->known[i];

		if (differs_opt(k->sni, c->sni) || k->has_addr != c->has_addr ||
		    (k->has_addr && (k->addr.family != c->family ||
				     memcmp(k->addr.bytes, c->addr, sizeof(c->addr)) != 0)) ||
		    differs_opt(k->cert, c->cert) || differs_opt(k->key, c->key) ||
		    differs_opt(k->passphrase_file, c->passphrase_file))
			return true;
	}
	return false;
}

/* Settings a restart changes: say which ones this policy would change. */
static void
restart_warnings(const struct ps_dp *dp, const struct ps_pol_settings *s, json_t *warnings)
{
	const struct ps_config *cfg = dp->cfg;

	if (differs(s->ca_cert, cfg->tls.ca_cert) || differs(s->ca_key, cfg->tls.ca_key) ||
	    (s->ca_cert != NULL &&
	     differs_opt(s->ca_passphrase_file, cfg->tls.ca_passphrase_file)))
		warn(warnings, "ca");
	if (differs(s->untrusted_ca_cert, cfg->tls.untrusted_ca_cert) ||
	    differs(s->untrusted_ca_key, cfg->tls.untrusted_ca_key) ||
	    (s->untrusted_ca_cert != NULL &&
	     differs_opt(s->untrusted_ca_passphrase_file, cfg->tls.untrusted_ca_passphrase_file)))
		warn(warnings, "untrusted_ca");
	if (s->has_known_servers && known_differ(s, &cfg->tls))
		warn(warnings, "known_servers");
	if (s->has_session_cache && (s->session_cache_entries != cfg->tls.session_cache ||
				     s->session_timeout_s != cfg->tls.session_timeout_s))
		warn(warnings, "session_cache");
	if (differs(s->log_file, cfg->sessions_log))
		warn(warnings, "log.file");
	if (differs(s->syslog_url, cfg->sessions_syslog))
		warn(warnings, "log.syslog");
}

int
ps_policy_prepare(struct ps_dp *dp, const char *path, struct ps_policy_rt **out,
		  struct ps_pol_errors *errs, json_t *warnings)
{
	const struct ps_pol_settings *s;
	struct ps_policy_rt *rt;
	int rc;

	rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return -ENOMEM;
	rc = ps_pol_load(path, &rt->pol, errs);
	if (rc < 0)
		goto fail;
	rt->shadow = ps_pol_is_shadow(rt->pol);
	rc = bind_tools(dp, rt, errs);
	if (rc == 0)
		rc = bind_profiles(dp, rt, errs);
	if (rc < 0)
		goto fail;
	rt->copies = !rt->shadow && bypass_copies(rt);
	rt->n_slots = ps_pol_n_rules(rt->pol) + 1;
	rt->hits = calloc((size_t)dp->n_workers * rt->n_slots * 2 + 2, sizeof(*rt->hits));
	if (rt->hits == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	s = ps_pol_settings(rt->pol);
	if (s->has_starttls_ports) {
		rt->n_starttls_ports = s->n_starttls_ports;
		memcpy(rt->starttls_ports, s->starttls_ports,
		       s->n_starttls_ports * sizeof(rt->starttls_ports[0]));
	} else {
		rt->n_starttls_ports = dp->cfg->n_starttls_ports;
		memcpy(rt->starttls_ports, dp->cfg->starttls_ports,
		       dp->cfg->n_starttls_ports * sizeof(rt->starttls_ports[0]));
	}
	rt->overflow = s->overflow < 0 ? dp->cfg->overflow :
		       s->overflow == 1 ? PS_OVERFLOW_DROP : PS_OVERFLOW_BYPASS;
	rt->verify_failure = s->verify_failure < 0 ? -1 :
			     s->verify_failure == 1 ? PS_TLS_VFAIL_RESIGN_UNTRUSTED :
			     PS_TLS_VFAIL_REJECT;
	restart_warnings(dp, s, warnings);
	snprintf(rt->path, sizeof(rt->path), "%s", path);
	*out = rt;
	return 0;
fail:
	rt_free(rt);
	return rc;
}

void
ps_policy_publish(struct ps_dp *dp, struct ps_policy_rt *rt, bool shadow)
{
	struct ps_policy_rt **slot = shadow ? &dp->shadow_policy : &dp->policy;
	struct ps_policy_rt *old;

	pthread_mutex_lock(&dp->policy_lock);
	if (rt != NULL) {
		const char *ver = ps_pol_version(rt->pol);

		rt->generation = ++dp->policy_generation;
		rt->applied_ms = ps_wall_ms();
		if (ver[0] != '\0')
			snprintf(rt->version, sizeof(rt->version), "%" PRIu64 " (%.60s)",
				 rt->generation, ver);
		else
			snprintf(rt->version, sizeof(rt->version), "%" PRIu64, rt->generation);
	}
	old = __atomic_exchange_n(slot, rt, __ATOMIC_ACQ_REL);
	/* Every online worker has moved past any decision that read old. */
	if (dp->rcu != NULL)
		rte_rcu_qsbr_synchronize(dp->rcu, RTE_QSBR_THRID_INVALID);
	pthread_mutex_unlock(&dp->policy_lock);
	rt_free(old);
}

int
ps_policy_apply(struct ps_dp *dp, const char *path, struct ps_pol_errors *errs,
		json_t *warnings)
{
	struct ps_policy_rt *rt = NULL;
	int rc;

	if (path == NULL) {
		ps_policy_publish(dp, NULL, false);
		return 0;
	}
	rc = ps_policy_prepare(dp, path, &rt, errs, warnings);
	if (rc < 0)
		return rc;
	ps_policy_publish(dp, rt, rt->shadow);
	return 0;
}

/* ---- settings at start ---- */

static int
copy_path(char *dst, const char *src, const char *what, char *err, size_t errlen)
{
	if (src == NULL)
		return 0;
	if (strlen(src) >= PS_PATH_MAX) {
		snprintf(err, errlen, "policy settings.%s: path longer than %d bytes", what,
			 PS_PATH_MAX - 1);
		return -EINVAL;
	}
	snprintf(dst, PS_PATH_MAX, "%s", src);
	return 0;
}

int
ps_policy_settings_to_config(const struct ps_pol *pol, struct ps_config *cfg,
			     char *err, size_t errlen)
{
	const struct ps_pol_settings *s = ps_pol_settings(pol);
	struct ps_tls_settings *t = &cfg->tls;
	unsigned int i;
	int rc = 0;

	if (s->has_starttls_ports) {
		cfg->n_starttls_ports = s->n_starttls_ports;
		memcpy(cfg->starttls_ports, s->starttls_ports,
		       s->n_starttls_ports * sizeof(cfg->starttls_ports[0]));
	}
	if (s->overflow >= 0)
		cfg->overflow = s->overflow == 1 ? PS_OVERFLOW_DROP : PS_OVERFLOW_BYPASS;
	if (s->verify_failure >= 0)
		t->verify_failure = s->verify_failure == 1 ? PS_VERIFY_FAIL_RESIGN_UNTRUSTED :
				    PS_VERIFY_FAIL_REJECT;
	if (s->has_session_cache) {
		t->session_cache = s->session_cache_entries;
		t->session_timeout_s = s->session_timeout_s;
	}
	if (s->ca_cert != NULL) {
		t->ca_key[0] = t->ca_passphrase_file[0] = '\0';
		rc |= copy_path(t->ca_cert, s->ca_cert, "ca.cert", err, errlen);
		rc |= copy_path(t->ca_key, s->ca_key, "ca.key", err, errlen);
		rc |= copy_path(t->ca_passphrase_file, s->ca_passphrase_file,
				"ca.passphrase_file", err, errlen);
	}
	if (s->untrusted_ca_cert != NULL) {
		t->untrusted_ca_key[0] = t->untrusted_ca_passphrase_file[0] = '\0';
		rc |= copy_path(t->untrusted_ca_cert, s->untrusted_ca_cert, "untrusted_ca.cert",
				err, errlen);
		rc |= copy_path(t->untrusted_ca_key, s->untrusted_ca_key, "untrusted_ca.key",
				err, errlen);
		rc |= copy_path(t->untrusted_ca_passphrase_file, s->untrusted_ca_passphrase_file,
				"untrusted_ca.passphrase_file", err, errlen);
	}
	if (s->has_known_servers) {
		if (s->n_known > PS_KNOWN_SERVERS_MAX) {
			snprintf(err, errlen, "policy settings.known_servers: more than %d",
				 PS_KNOWN_SERVERS_MAX);
			return -EINVAL;
		}
		t->n_known = s->n_known;
		for (i = 0; i < s->n_known; i++) {
			const struct ps_pol_known *k = &s->known[i];
			struct ps_known_server_cfg *c = &t->known[i];

			memset(c, 0, sizeof(*c));
			snprintf(c->sni, sizeof(c->sni), "%s", k->sni != NULL ? k->sni : "");
			c->has_addr = k->has_addr;
			c->family = k->addr.family;
			memcpy(c->addr, k->addr.bytes, sizeof(c->addr));
			rc |= copy_path(c->cert, k->cert, "known_servers[].cert", err, errlen);
			rc |= copy_path(c->key, k->key, "known_servers[].key", err, errlen);
			rc |= copy_path(c->passphrase_file, k->passphrase_file,
					"known_servers[].passphrase_file", err, errlen);
		}
	}
	if (s->log_file != NULL)
		rc |= copy_path(cfg->sessions_log, s->log_file, "log.file", err, errlen);
	if (s->syslog_url != NULL)
		rc |= copy_path(cfg->sessions_syslog, s->syslog_url, "log.syslog", err, errlen);
	return rc != 0 ? -EINVAL : 0;
}

/* ---- decisions ---- */

static void
query_flow(struct ps_pol_query *q, const struct ps_tcp_frame_spec *c2s, const char *segment)
{
	uint8_t fam = c2s->l3 == PS_L3_IPV6 ? 6 : 4;

	memset(q, 0, sizeof(*q));
	q->known = PS_POL_F_SRC | PS_POL_F_DST | PS_POL_F_DST_PORT | PS_POL_F_VLAN |
		   PS_POL_F_SEGMENT;
	q->src.family = fam;
	memcpy(q->src.bytes, c2s->src.b, sizeof(q->src.bytes));
	q->dst.family = fam;
	memcpy(q->dst.bytes, c2s->dst.b, sizeof(q->dst.bytes));
	q->dst_port = c2s->tcp.dport;
	q->vlan = c2s->eth.n_vlans > 0 ? (uint16_t)(c2s->eth.vlan_tci[0] & 0xfff) : 0;
	q->segment = segment;
}

/* Names of the hello for the query; storage is the caller's. */
struct hello_names {
	char alpn[PS_POL_ALPN_MAX][256];
	const char *alpn_p[PS_POL_ALPN_MAX];
};

static void
query_hello(struct ps_pol_query *q, const struct ps_tls_client_hello *h, struct hello_names *hn)
{
	const uint8_t *proto;
	size_t cur = 0, plen;
	unsigned int i;

	q->known |= PS_POL_F_SNI | PS_POL_F_ALPN | PS_POL_F_TLS_VERSION;
	if (h->sni_valid) {
		q->sni = h->sni;
		q->sni_len = strlen(h->sni);
	}
	while (q->n_alpn < PS_POL_ALPN_MAX && ps_tls_alpn_next(h, &cur, &proto, &plen)) {
		memcpy(hn->alpn[q->n_alpn], proto, plen);	/* plen <= 255 */
		hn->alpn[q->n_alpn][plen] = '\0';
		hn->alpn_p[q->n_alpn] = hn->alpn[q->n_alpn];
		q->n_alpn++;
	}
	q->alpn = hn->alpn_p;
	/* Offered versions: supported_versions when present, else the legacy field. */
	if (h->supported_versions.p != NULL) {
		for (i = 0; i < h->supported_versions.n; i++) {
			uint16_t v = ps_tls_u16_at(&h->supported_versions, i);

			if (v >= 0x0301 && v <= 0x0304)
				q->tls_versions |= 1u << (v - 0x0301);
		}
	} else if (h->legacy_version >= 0x0301 && h->legacy_version <= 0x0303) {
		/* Without the extension: every version up to legacy_version. */
		for (i = 0x0301; i <= h->legacy_version; i++)
			q->tls_versions |= 1u << (i - 0x0301);
	}
}

/* The certificate's names for the query; storage is the caller's (heap). */
struct cert_names {
	char cn[256];
	char issuer_cn[256];
	char issuer[512];
	const char *san[PS_POL_SAN_MAX];
};

/* The last entry of nid in name as UTF-8 into out; false when none or unusable. */
static bool
name_entry(const X509_NAME *name, int nid, char *out, size_t cap)
{
	int i = -1, last = -1, len;
	unsigned char *utf8 = NULL;
	const X509_NAME_ENTRY *e;

	while ((i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0)
		last = i;
	if (last < 0 || (e = X509_NAME_get_entry(name, last)) == NULL)
		return false;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (len < 0)
		return false;
	/* An embedded NUL would let "evil\0.good" pass for "evil": no match. */
	if ((size_t)len >= cap || memchr(utf8, '\0', (size_t)len) != NULL) {
		OPENSSL_free(utf8);
		return false;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(utf8);
	return true;
}

static void
query_cert(struct ps_pol_query *q, X509 *cert, GENERAL_NAMES **gens, struct cert_names *cn)
{
	BIO *b;
	int i, n;

	q->known |= PS_POL_F_CERT;
	if (cert == NULL)
		return;
	if (name_entry(X509_get_subject_name(cert), NID_commonName, cn->cn, sizeof(cn->cn)))
		q->cert_cn = cn->cn;
	if (name_entry(X509_get_issuer_name(cert), NID_commonName, cn->issuer_cn,
		       sizeof(cn->issuer_cn)))
		q->cert_issuer_cn = cn->issuer_cn;
	b = BIO_new(BIO_s_mem());
	if (b != NULL) {
		if (X509_NAME_print_ex(b, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
			n = BIO_read(b, cn->issuer, (int)sizeof(cn->issuer) - 1);
			if (n > 0 && n < (int)sizeof(cn->issuer) - 1) {
				cn->issuer[n] = '\0';
				q->cert_issuer = cn->issuer;
			}
		}
		BIO_free(b);
	}
	*gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	n = *gens != NULL ? sk_GENERAL_NAME_num(*gens) : 0;
	for (i = 0; i < n && q->n_cert_san < PS_POL_SAN_MAX; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(*gens, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		/* ASN1 strings end in a NUL: usable as C strings unless one is inside. */
		if (len <= 0 || memchr(d, '\0', (size_t)len) != NULL)
			continue;
		cn->san[q->n_cert_san++] = (const char *)d;
	}
	q->cert_san = cn->san;
}

/* A symmetric hash of the flow's addresses and ports: both directions alike. */
static uint32_t
flow_sym_hash(const struct ps_tcp_frame_spec *c2s)
{
	uint32_t h = c2s->tcp.sport ^ c2s->tcp.dport;
	unsigned int i;

	for (i = 0; i < 16; i++)
		h = h * 31 + (uint32_t)(c2s->src.b[i] ^ c2s->dst.b[i]);
	return h ^ (h >> 15);
}

/* One member of a group (bit mask), the same for both directions of a flow. */
static uint64_t
group_pick(uint64_t members, const struct ps_tcp_frame_spec *c2s)
{
	unsigned int n = (unsigned int)__builtin_popcountll(members), k;

	for (k = flow_sym_hash(c2s) % n; k > 0; k--)
		members &= members - 1;
	return members & -members;
}

/*
 * The tool chain of a flow the verdict v decrypts, into d: the rule's
 * tools in their order, from the client towards the server. An inline
 * tool (group) adds a pair to the series; an out-of-band tool (group)
 * taps the flow after the inline tools listed before it. Without a
 * chain in the policy: every out-of-band port, after the first inline
 * pair configured (if any). A pair listed twice, or beyond PS_CHAIN_MAX,
 * is left out (the policy check warns of neither: a data-plane limit).
 */
static void
chain_for(const struct ps_dp *dp, const struct ps_policy_rt *rt,
	  const struct ps_pol_verdict *v, const struct ps_tcp_frame_spec *c2s,
	  struct ps_decision *d)
{
	uint64_t all = dp->n_tools >= 64 ? UINT64_MAX : (UINT64_C(1) << dp->n_tools) - 1;
	uint32_t used = 0;
	unsigned int i;

	memset(d->tools_at, 0, sizeof(d->tools_at));
	d->n_inl = 0;
	d->inl_fail_closed = 0;
	if (rt == NULL || v == NULL || !v->tools_set) {
		if (dp->n_inl > 0) {
			d->inl[d->n_inl++] = 0;
			d->inl_fail_closed = 1;	/* no policy says otherwise: fail closed */
		}
		d->tools_at[d->n_inl] = all;
		d->tools = all;
		return;
	}
	d->tools = 0;
	for (i = 0; i < v->n_tools; i++) {
		uint64_t ports = rt->tool_ports[v->tools[i]];
		uint32_t pairs = rt->tool_inline[v->tools[i]];

		if (ports != 0) {
			uint64_t pick = group_pick(ports, c2s);

			d->tools_at[d->n_inl] |= pick;
			d->tools |= pick;
		}
		if (pairs != 0) {
			int pair = __builtin_ctzll(group_pick(pairs, c2s));

			if (d->n_inl == PS_CHAIN_MAX || (used & (1u << pair)))
				continue;
			used |= 1u << pair;
			if (ps_pol_tool(rt->pol, v->tools[i])->fail_closed)
				d->inl_fail_closed |= (uint8_t)(1u << d->n_inl);
			d->inl[d->n_inl++] = (int8_t)pair;
		}
	}
}

static void
hit(struct ps_worker *w, const struct ps_policy_rt *rt, const struct ps_pol_verdict *v,
    bool shadow)
{
	uint32_t slot = v->rule_id == PS_POL_RULE_DEFAULT ? rt->n_slots - 1 : v->rule_id;

	if (slot >= rt->n_slots || w->id >= w->dp->n_workers)
		return;
	rt->hits[((size_t)w->id * rt->n_slots + slot) * 2 + (shadow ? 1 : 0)]++;
}

/*
 * Evaluate q against both slots: the enforced verdict into d (and hit
 * counted when final), the shadow one recorded beside it.
 */
static const struct ps_pol_verdict *
evaluate(struct ps_worker *w, const struct ps_pol_query *q, const char *at, bool final_only_if_ends,
	 struct ps_decision *d, const struct ps_policy_rt **rtp)
{
	const struct ps_policy_rt *rt = ps_policy_current(w->dp);
	const struct ps_policy_rt *sh = __atomic_load_n(&w->dp->shadow_policy, __ATOMIC_ACQUIRE);
	const struct ps_pol_verdict *v = NULL, *sv = NULL;
	const struct ps_policy_rt *srt = rt;

	*rtp = rt;
	memset(d, 0, sizeof(*d));
	d->at = at;
	d->log = true;
	if (rt == NULL) {
		d->action = PS_POL_DECRYPT;
	} else {
		v = ps_pol_eval_ex(rt->pol, q, &sv);
		d->action = v->action;
		d->log = v->log;
		snprintf(d->rule, sizeof(d->rule), "%s", v->rule != NULL ? v->rule : "");
		snprintf(d->version, sizeof(d->version), "%s", rt->version);
	}
	if (sv == NULL && sh != NULL) {
		sv = ps_pol_eval(sh->pol, q);
		srt = sh;
	}
	/* At the SYN only a verdict that ends the flow there is counted: the
	 * others are taken again, and counted, at the ClientHello. */
	if (d->action != PS_POL_UNDECIDED &&
	    (!final_only_if_ends || d->action == PS_POL_BYPASS || d->action == PS_POL_DROP)) {
		if (v != NULL)
			hit(w, rt, v, false);
		if (sv != NULL) {
			snprintf(d->shadow_rule, sizeof(d->shadow_rule), "%s",
				 sv->rule != NULL ? sv->rule : "");
			d->shadow_action = ps_pol_action_name(sv->action);
			if (sv->action != PS_POL_UNDECIDED)
				hit(w, srt, sv, true);
		}
	}
	return v;
}

void
ps_decide_flow_of(const struct ps_pkt *p, char side, struct ps_tcp_frame_spec *c2s)
{
	/* Side a faces the clients: a frame from side b is the server's. */
	memset(c2s, 0, sizeof(*c2s));
	c2s->l3 = p->l3;
	c2s->src = side == 'b' ? p->dst : p->src;
	c2s->dst = side == 'b' ? p->src : p->dst;
	if (p->has_l4) {
		c2s->tcp.sport = side == 'b' ? p->dport : p->sport;
		c2s->tcp.dport = side == 'b' ? p->sport : p->dport;
	}
	c2s->eth.n_vlans = p->n_vlans > 0 ? 1 : 0;
	c2s->eth.vlan_tci[0] = p->n_vlans > 0 ? p->vlan_tci[0] : 0;
}

uint64_t
ps_decide_copy(struct ps_worker *w, const struct ps_pkt *p, char side, const char *segment)
{
	const struct ps_policy_rt *rt = ps_policy_current(w->dp);
	const struct ps_pol_verdict *v;
	struct ps_tcp_frame_spec c2s;
	struct ps_pol_query q;
	uint64_t mask = 0;
	unsigned int i;

	if (rt == NULL || !rt->copies || p->l3 == PS_L3_NONE)
		return 0;
	ps_decide_flow_of(p, side, &c2s);
	query_flow(&q, &c2s, segment);
	/* Bridged traffic is never read: no SNI, ALPN, version or certificate
	 * will ever be known, so rules that need them do not match it. */
	q.known |= PS_POL_F_SNI | PS_POL_F_ALPN | PS_POL_F_TLS_VERSION | PS_POL_F_CERT;
	v = ps_pol_eval(rt->pol, &q);
	if (v == NULL || v->action != PS_POL_BYPASS || !v->tools_set)
		return 0;
	for (i = 0; i < v->n_tools; i++)
		if (rt->tool_ports[v->tools[i]] != 0)
			mask |= group_pick(rt->tool_ports[v->tools[i]], &c2s);
	return mask;
}

void
ps_decide_syn(struct ps_worker *w, const struct ps_tcp_frame_spec *c2s, const char *segment,
	      struct ps_decision *d)
{
	const struct ps_policy_rt *rt;
	struct ps_pol_query q;

	query_flow(&q, c2s, segment);
	(void)evaluate(w, &q, "syn", true, d, &rt);
}

void
ps_decide_tls(struct ps_worker *w, const struct ps_tcp_frame_spec *c2s, const char *segment,
	      const struct ps_tls_client_hello *h, X509 *cert, struct ps_decision *d,
	      struct ps_tls_policy_verdict *tv)
{
	const struct ps_pol_verdict *v;
	const struct ps_policy_rt *rt;
	GENERAL_NAMES *gens = NULL;
	struct hello_names hn;
	struct cert_names *cn = NULL;
	struct ps_pol_query q;

	query_flow(&q, c2s, segment);
	if (h != NULL)
		query_hello(&q, h, &hn);
	if (cert != NULL) {
		cn = malloc(sizeof(*cn));
		if (cn != NULL)
			query_cert(&q, cert, &gens, cn);
		else
			q.known |= PS_POL_F_CERT;	/* out of memory: decided without names */
	}
	v = evaluate(w, &q, cert != NULL ? "certificate" : "hello", false, d, &rt);
	GENERAL_NAMES_free(gens);
	free(cn);

	memset(tv, 0, sizeof(*tv));
	tv->on_invalid = PS_TLS_VFAIL_DEFAULT;
	snprintf(tv->rule, sizeof(tv->rule), "%s", d->rule);
	switch (d->action) {
	case PS_POL_BYPASS:
		tv->decision = PS_TLS_DECIDE_BYPASS;
		break;
	case PS_POL_REJECT:
		tv->decision = PS_TLS_DECIDE_REJECT;
		break;
	case PS_POL_DROP:
		tv->decision = PS_TLS_DECIDE_DROP;
		break;
	case PS_POL_UNDECIDED:
		tv->decision = PS_TLS_DECIDE_LATER;
		break;
	case PS_POL_DECRYPT:
	default:
		tv->decision = PS_TLS_DECIDE_DECRYPT;
		break;
	}
	chain_for(w->dp, rt, v, c2s, d);
	if (rt == NULL || v == NULL)
		return;
	/* A bypass naming out-of-band tools: they get the flow as it is. */
	tv->copy = d->action == PS_POL_BYPASS && v->tools_set && d->tools != 0;
	if (v->profile > 0 && v->profile < ps_pol_n_profiles(rt->pol)) {
		tv->up_ctx = rt->up_ctx[v->profile];
		tv->profile = rt->profile_num[v->profile];
	}
	switch (v->on_invalid_cert) {
	case PS_POL_INVALID_REJECT:
		tv->on_invalid = PS_TLS_VFAIL_REJECT;
		break;
	case PS_POL_INVALID_RESIGN_UNTRUSTED:
		tv->on_invalid = PS_TLS_VFAIL_RESIGN_UNTRUSTED;
		break;
	case PS_POL_INVALID_BYPASS:
		tv->on_invalid = PS_TLS_VFAIL_BYPASS;
		break;
	case PS_POL_INVALID_DEFAULT:
	default:
		if (rt->verify_failure >= 0)
			tv->on_invalid = (uint8_t)rt->verify_failure;
		break;
	}
}

bool
ps_policy_starttls(const struct ps_dp *dp, uint16_t port)
{
	const struct ps_policy_rt *rt = ps_policy_current(dp);
	const uint16_t *ports = rt != NULL ? rt->starttls_ports : dp->cfg->starttls_ports;
	unsigned int n = rt != NULL ? rt->n_starttls_ports : dp->cfg->n_starttls_ports, i;

	for (i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

enum ps_overflow_action
ps_policy_overflow(const struct ps_dp *dp)
{
	const struct ps_policy_rt *rt = ps_policy_current(dp);

	return rt != NULL ? rt->overflow : dp->cfg->overflow;
}

/* ---- policy show ---- */

static json_t *
verdict_json(const struct ps_dp *dp, const struct ps_policy_rt *rt,
	     const struct ps_pol_verdict *v, uint32_t slot)
{
	json_int_t hits = 0, shadow_hits = 0;
	json_t *o, *tools;
	unsigned int i;

	for (i = 0; i < dp->n_workers; i++) {
		hits += (json_int_t)rt->hits[((size_t)i * rt->n_slots + slot) * 2];
		shadow_hits += (json_int_t)rt->hits[((size_t)i * rt->n_slots + slot) * 2 + 1];
	}
	o = json_pack("{s:s, s:s, s:b, s:b, s:I}", "name", v->rule != NULL ? v->rule : "",
		      "action", ps_pol_action_name(v->action), "log", v->log,
		      "shadow", v->shadow || rt->shadow, "hits", v->shadow || rt->shadow ?
		      shadow_hits : hits);
	if (o == NULL)
		return NULL;
	if (v->profile > 0)
		json_object_set_new(o, "tls_profile",
				    json_string(ps_pol_profile(rt->pol, v->profile)->name));
	if (v->on_invalid_cert != PS_POL_INVALID_DEFAULT)
		json_object_set_new(o, "on_invalid_cert",
				    json_string(ps_pol_invalid_name(v->on_invalid_cert)));
	if (v->tools_set) {
		tools = json_array();
		for (i = 0; tools != NULL && i < v->n_tools; i++)
			json_array_append_new(tools, json_string(ps_pol_tool(rt->pol,
									      v->tools[i])->name));
		json_object_set_new(o, "tools", tools);
	}
	return o;
}

static json_t *
rt_json(const struct ps_dp *dp, const struct ps_policy_rt *rt)
{
	json_t *o, *rules;
	uint32_t i;

	if (rt == NULL)
		return json_null();
	rules = json_array();
	for (i = 0; rules != NULL && i + 1 < rt->n_slots; i++)
		json_array_append_new(rules, verdict_json(dp, rt, ps_pol_rule(rt->pol, i), i));
	o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:b, s:o, s:o}",
		      "path", rt->path, "generation", (json_int_t)rt->generation,
		      "version", rt->version, "file_version", ps_pol_version(rt->pol),
		      "sha256", ps_pol_hash(rt->pol), "applied_ms", (json_int_t)rt->applied_ms,
		      "shadow", rt->shadow, "rules", rules != NULL ? rules : json_array(),
		      "default", verdict_json(dp, rt, ps_pol_rule(rt->pol, PS_POL_RULE_DEFAULT),
					      rt->n_slots - 1));
	return o;
}

json_t *
ps_policy_show(struct ps_dp *dp)
{
	json_t *o;

	/* The lock keeps both from being freed while they are read. */
	pthread_mutex_lock(&dp->policy_lock);
	o = json_pack("{s:o, s:o}", "policy", rt_json(dp, dp->policy),
		      "shadow_policy", rt_json(dp, dp->shadow_policy));
	pthread_mutex_unlock(&dp->policy_lock);
	return o;
}
