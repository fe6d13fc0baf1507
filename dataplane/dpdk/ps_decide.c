/* SPDX-License-Identifier: BSD-3-Clause
 * The traffic policy in the data plane: loading and live replacement
 * (quiescent-state based reclamation: workers never lock), and the two
 * decisions the workers take with it, at the client's SYN (addresses,
 * ports, VLAN, segment) and at its ClientHello (also SNI, ALPN, versions).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_malloc.h>

#include "ps_decide.h"

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
	return 0;
}

void
ps_policy_fini(struct ps_dp *dp)
{
	ps_pol_free(dp->policy);
	dp->policy = NULL;
	rte_free(dp->rcu);
	dp->rcu = NULL;
}

int
ps_policy_apply(struct ps_dp *dp, const char *path, struct ps_pol_errors *errs)
{
	struct ps_pol *pol = NULL, *old;
	int rc;

	if (path != NULL) {
		rc = ps_pol_load(path, &pol, errs);
		if (rc < 0)
			return rc;
	}
	pthread_mutex_lock(&dp->policy_lock);
	old = __atomic_exchange_n(&dp->policy, pol, __ATOMIC_ACQ_REL);
	snprintf(dp->policy_path, sizeof(dp->policy_path), "%s", path != NULL ? path : "");
	dp->policy_generation++;
	/* Every online worker has moved past any decision that read old. */
	if (dp->rcu != NULL)
		rte_rcu_qsbr_synchronize(dp->rcu, RTE_QSBR_THRID_INVALID);
	pthread_mutex_unlock(&dp->policy_lock);
	ps_pol_free(old);
	return 0;
}

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

static enum ps_pol_action
verdict(const struct ps_pol *pol, const struct ps_pol_query *q, char *rule, size_t rule_len,
	bool *log)
{
	const struct ps_pol_verdict *v = ps_pol_eval(pol, q);

	if (rule != NULL)
		snprintf(rule, rule_len, "%s", v->rule != NULL ? v->rule : "");
	if (log != NULL)
		*log = v->log;
	return v->action;
}

enum ps_pol_action
ps_decide_syn(const struct ps_dp *dp, const struct ps_tcp_frame_spec *c2s,
	      const char *segment)
{
	const struct ps_pol *pol = ps_policy_current(dp);
	struct ps_pol_query q;

	if (pol == NULL)
		return PS_POL_DECRYPT;
	query_flow(&q, c2s, segment);
	return verdict(pol, &q, NULL, 0, NULL);
}

enum ps_pol_action
ps_decide_hello(const struct ps_dp *dp, const struct ps_tcp_frame_spec *c2s,
		const char *segment, const struct ps_tls_client_hello *h,
		char *rule, size_t rule_len, bool *log)
{
	const struct ps_pol *pol = ps_policy_current(dp);
	char names[PS_POL_ALPN_MAX][256];
	const char *alpn[PS_POL_ALPN_MAX];
	struct ps_pol_query q;
	const uint8_t *proto;
	size_t cur = 0, plen;
	unsigned int i;

	*log = true;
	if (pol == NULL) {
		snprintf(rule, rule_len, "%s", "");
		return PS_POL_DECRYPT;
	}
	query_flow(&q, c2s, segment);
	q.known |= PS_POL_F_SNI | PS_POL_F_ALPN | PS_POL_F_TLS_VERSION;
	if (h->sni_valid) {
		q.sni = h->sni;
		q.sni_len = strlen(h->sni);
	}
	while (q.n_alpn < PS_POL_ALPN_MAX && ps_tls_alpn_next(h, &cur, &proto, &plen)) {
		memcpy(names[q.n_alpn], proto, plen);	/* plen <= 255 */
		names[q.n_alpn][plen] = '\0';
		alpn[q.n_alpn] = names[q.n_alpn];
		q.n_alpn++;
	}
	q.alpn = alpn;
	/* Offered versions: supported_versions when present, else the legacy field. */
	if (h->supported_versions.p != NULL) {
		for (i = 0; i < h->supported_versions.n; i++) {
			uint16_t v = ps_tls_u16_at(&h->supported_versions, i);

			if (v >= 0x0301 && v <= 0x0304)
				q.tls_versions |= 1u << (v - 0x0301);
		}
	} else if (h->legacy_version >= 0x0301 && h->legacy_version <= 0x0303) {
		/* Without the extension: every version up to legacy_version. */
		for (i = 0x0301; i <= h->legacy_version; i++)
			q.tls_versions |= 1u << (i - 0x0301);
	}
	return verdict(pol, &q, rule, rule_len, log);
}
