/* SPDX-License-Identifier: BSD-3-Clause
 * Start-up of TLS interception and of the tool ports: the appliance CA(s),
 * the forgers and the shared TLS context, built once from the
 * configuration before any worker runs, then used by every worker.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ps_dp.h"
#include "ps_record.h"

static const char *
or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static int
load_ca(const char *what, const char *cert, const char *key, const char *pass,
	unsigned int cache, struct ps_tls_ca **ca, struct ps_tls_forge **forge,
	char *err, size_t errlen)
{
	char why[384];
	int rc;

	rc = ps_tls_ca_load(cert, or_null(key), or_null(pass), ca, why, sizeof(why));
	if (rc == 0)
		rc = ps_tls_forge_new(*ca, cache, forge, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "tls.%s: %s", what, why);
	return rc;
}

static void
tools_setup(struct ps_dp *dp)
{
	const struct ps_config *cfg = dp->cfg;
	unsigned int i;

	dp->n_tools = 0;
	for (i = 0; i < cfg->n_ports; i++) {
		const struct ps_tool_port_cfg *pc = &cfg->ports[i].tool;
		struct ps_tool_cfg *tc;

		if (cfg->ports[i].role != PS_ROLE_TOOL_OOB)
			continue;
		tc = &dp->tool_cfg[dp->n_tools];
		memset(tc, 0, sizeof(*tc));
		tc->mss = pc->mss;
		tc->dport_rewrite = pc->dport_rewrite;
		tc->has_vlan = pc->has_vlan;
		tc->vlan_tci = pc->vlan_tci;
		tc->has_dst_mac = pc->has_dst_mac;
		memcpy(tc->dst_mac, pc->dst_mac, sizeof(tc->dst_mac));
		tc->has_src_mac = pc->has_src_mac;
		memcpy(tc->src_mac, pc->src_mac, sizeof(tc->src_mac));
		dp->tool_port[dp->n_tools++] = (uint16_t)i;
	}
	if (cfg->record_dir[0] != '\0') {
		/* The recorder: one more tool, original addresses and ports. */
		memset(&dp->tool_cfg[dp->n_tools], 0, sizeof(dp->tool_cfg[0]));
		dp->tool_port[dp->n_tools++] = PS_TOOL_PORT_RECORDER;
	}
}

/* Known-key servers: the real leaf, its chain and key of each. */
static int
load_known(struct ps_dp *dp, char *err, size_t errlen)
{
	const struct ps_tls_settings *ts = &dp->cfg->tls;
	char why[384];
	unsigned int i;
	int rc;

	for (i = 0; i < ts->n_known; i++) {
		const struct ps_known_server_cfg *kc = &ts->known[i];
		struct ps_tls_known *k = &dp->known[i];
		STACK_OF(X509) *certs = NULL;

		snprintf(k->sni, sizeof(k->sni), "%s", kc->sni);
		k->has_addr = kc->has_addr;
		k->family = kc->family;
		memcpy(k->addr, kc->addr, sizeof(k->addr));
		rc = ps_tls_load_certs(kc->cert, or_null(kc->passphrase_file), &certs,
				       why, sizeof(why));
		if (rc == 0 && sk_X509_num(certs) < 1)
			rc = -EINVAL;
		if (rc == 0) {
			k->cert = sk_X509_shift(certs);
			k->chain = certs;
			certs = NULL;
			rc = ps_tls_load_key(kc->key[0] != '\0' ? kc->key : kc->cert,
					     or_null(kc->passphrase_file), &k->key,
					     why, sizeof(why));
		}
		if (rc == 0 && X509_check_private_key(k->cert, k->key) != 1) {
			snprintf(why, sizeof(why), "the key does not match the certificate");
			rc = -EINVAL;
		}
		sk_X509_pop_free(certs, X509_free);
		dp->n_known = i + 1;
		if (rc < 0) {
			snprintf(err, errlen, "tls.known_servers[%u]: %s", i, why);
			return rc;
		}
	}
	return 0;
}

/*
 * Revocation: every CRL of tls.crl_files into the WebPKI context, before
 * any worker runs. A file that cannot be read or decoded stops the start:
 * revocation that was asked for is never silently off.
 */
static int
load_crls(struct ps_dp *dp, char *err, size_t errlen)
{
	const struct ps_tls_settings *ts = &dp->cfg->tls;
	STACK_OF(X509_CRL) *crls = NULL;
	char why[384];
	unsigned int i;
	int rc = 0;

	for (i = 0; i < ts->n_crl_files && rc == 0; i++) {
		rc = ps_webpki_crl_load(ts->crl_files[i], &crls, why, sizeof(why));
		if (rc < 0)
			snprintf(err, errlen, "tls.crl_files[%u]: %s", i, why);
	}
	if (rc == 0) {
		rc = ps_webpki_ctx_set_crls(dp->icpt.webpki, crls, ts->revocation_unknown_allow ?
					    PS_WEBPKI_REV_UNKNOWN_ALLOW :
					    PS_WEBPKI_REV_UNKNOWN_REJECT);
		if (rc < 0)
			snprintf(err, errlen, "tls.crl_files: cannot set up (%d)", rc);
	}
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return rc;
}

int
ps_tls_start(struct ps_dp *dp, char *err, size_t errlen)
{
	const struct ps_tls_settings *ts = &dp->cfg->tls;
	struct ps_tls_icpt_cfg ic;
	X509 *own[2];
	size_t n_own = 0;
	char why[384];
	int rc;

	tools_setup(dp);
	if (!ts->enabled)
		return 0;
	rc = load_ca("ca_cert", ts->ca_cert, ts->ca_key, ts->ca_passphrase_file,
		     ts->forge_cache, &dp->ca, &dp->forge, err, errlen);
	if (rc < 0)
		return rc;
	if (ts->untrusted_ca_cert[0] != '\0') {
		rc = load_ca("untrusted_ca_cert", ts->untrusted_ca_cert,
			     ts->untrusted_ca_key, ts->untrusted_ca_passphrase_file,
			     ts->forge_cache, &dp->ca_untrusted, &dp->forge_untrusted,
			     err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = load_known(dp, err, errlen);
	if (rc < 0)
		return rc;
	memset(&ic, 0, sizeof(ic));
	/* A server chain through the appliance's own CAs is refused (a loop
	 * through another plainsight, or a stolen CA). */
	own[n_own++] = ps_tls_ca_cert(dp->ca);
	if (dp->ca_untrusted != NULL)
		own[n_own++] = ps_tls_ca_cert(dp->ca_untrusted);
	ic.own_cas = own;
	ic.n_own_cas = n_own;
	ic.known = dp->known;
	ic.n_known = dp->n_known;
	ic.forge = dp->forge;
	ic.forge_untrusted = dp->forge_untrusted;
	ic.on_verify_fail = ts->verify_failure == PS_VERIFY_FAIL_RESIGN_UNTRUSTED ?
			    PS_TLS_VFAIL_RESIGN_UNTRUSTED : PS_TLS_VFAIL_REJECT;
	ic.trust_system = ts->trust_system;
	ic.ca_file = or_null(ts->trust_bundle);
	ic.sess_entries = ts->session_cache;
	ic.sess_timeout_s = ts->session_timeout_s;
	ic.keylog_file = dp->checking ? NULL : or_null(ts->keylog_file);
	ic.bypass_ttl_s = ts->bypass_ttl_s;
	ic.bypass_pinned = ts->bypass_pinned_clients;
	rc = ps_tls_icpt_init(&dp->icpt, &ic, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "tls: %s", why);
		return rc;
	}
	rc = load_crls(dp, err, errlen);
	if (rc < 0) {
		ps_tls_icpt_fini(&dp->icpt);
		return rc;
	}
	dp->tls_on = true;
	return 0;
}

void
ps_tls_stop(struct ps_dp *dp)
{
	unsigned int i;

	if (dp->tls_on)
		ps_tls_icpt_fini(&dp->icpt);
	dp->tls_on = false;
	ps_tls_forge_free(dp->forge);
	ps_tls_forge_free(dp->forge_untrusted);
	ps_tls_ca_free(dp->ca);
	ps_tls_ca_free(dp->ca_untrusted);
	dp->forge = dp->forge_untrusted = NULL;
	dp->ca = dp->ca_untrusted = NULL;
	for (i = 0; i < dp->n_known; i++) {
		X509_free(dp->known[i].cert);
		sk_X509_pop_free(dp->known[i].chain, X509_free);
		EVP_PKEY_free(dp->known[i].key);
	}
	memset(dp->known, 0, sizeof(dp->known));
	dp->n_known = 0;
}
