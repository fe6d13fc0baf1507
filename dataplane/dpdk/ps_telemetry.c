/* SPDX-License-Identifier: BSD-3-Clause
 * DPDK telemetry commands of the data plane (ps_telemetry.h).
 *
 * The callbacks run in DPDK's telemetry thread, beside the workers. They
 * only read: the workers' counters without locks (each has one writer and
 * aligned 64-bit loads are atomic on the supported targets, as for the
 * control socket), the session store's counts with atomic loads. The one
 * lock taken is policy_lock, for /plainsight/policy, which no worker ever
 * takes: a worker never waits for telemetry.
 *
 * Telemetry's reply is one level of containers: a dict of values, or a
 * dict of dicts of values. So /plainsight/stats gives one dict per family
 * (ports flattened as "PORT/counter"), and a family alone with a parameter.
 * Dictionary keys may hold only letters, digits, '_' and '/': port and
 * rule names are shown with any other character as '_'.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "ps_decide.h"
#include "ps_dp.h"
#include "ps_telemetry.h"
#include "ps_version.h"

/* The callbacks have no argument of their own: the one data plane. */
static struct ps_dp *tel_dp;

/*
 * The data plane, or NULL once it is stopping: teardown frees the workers
 * after setting quit, and the workers are joined and the control socket
 * closed in between, so a callback that saw quit clear has finished long
 * before anything it reads is freed.
 */
static const struct ps_dp *
live_dp(void)
{
	struct ps_dp *dp = __atomic_load_n(&tel_dp, __ATOMIC_ACQUIRE);

	if (dp == NULL || __atomic_load_n(&dp->quit, __ATOMIC_RELAXED))
		return NULL;
	return dp;
}

/* A port or rule name as a dictionary key: other characters become '_'. */
static void
key_name(char *out, size_t len, const char *prefix, const char *name, const char *suffix)
{
	size_t i, start;

	snprintf(out, len, "%s%s%s", prefix, name, suffix);
	start = strlen(prefix);
	for (i = start; out[i] != '\0' && i < start + strlen(name); i++)
		if (!isalnum((unsigned char)out[i]) && out[i] != '_')
			out[i] = '_';
}

/* Sum over the workers of the uint64_t at byte offset off + 8 * i of each. */
static uint64_t
sum_u64(const struct ps_dp *dp, size_t off, unsigned int i)
{
	uint64_t v = 0;
	unsigned int w;

	for (w = 0; w < dp->n_workers; w++)
		v += __atomic_load_n((const uint64_t *)((const char *)dp->workers[w] + off) + i,
				     __ATOMIC_RELAXED);
	return v;
}

/* A counter family of the stats reply: its worker array and its names. */
struct tel_family {
	const char *name;
	size_t off;		/* offsetof(struct ps_worker, ...) of the array */
	unsigned int first, n;
	const char *prefix;
	const char *(*counter)(unsigned int i);
};

static const char *
pkt_reason(unsigned int i)
{
	return ps_pkt_reason_name((enum ps_pkt_reason)i);
}

static const char *
bridge_event(unsigned int i)
{
	return ps_bridge_event_name((enum ps_bridge_event)i);
}

static const char *
flow_event(unsigned int i)
{
	return ps_flow_event_name((enum ps_flow_event)i);
}

static const char *
tcp_counter(unsigned int i)
{
	return ps_tcp_counter_name((enum ps_tcp_counter)i);
}

static const char *
tcp_drop(unsigned int i)
{
	return ps_tcp_drop_name((enum ps_tcp_drop)i);
}

static const char *
tls_counter(unsigned int i)
{
	return ps_tlsf_counter_name((enum ps_tlsf_counter)i);
}

static const char *
tool_counter(unsigned int i)
{
	return ps_tool_counter_name((enum ps_tool_counter)i);
}

/* Same names and grouping as the control socket's stats reply. */
static const struct tel_family families[] = {
	{ "parser", offsetof(struct ps_worker, stats.pkt_reason), 0, PS_PKT_REASON_MAX, "",
	  pkt_reason },
	{ "bridge", offsetof(struct ps_worker, stats.bridge), 0, PS_BRIDGE_EVENT_MAX, "",
	  bridge_event },
	{ "flows", offsetof(struct ps_worker, stats.flow), 0, PS_FLOW_EVENT_MAX, "",
	  flow_event },
	{ "tcp", offsetof(struct ps_worker, tcp_stats.cnt), 0, PS_TCP_CNT_MAX, "",
	  tcp_counter },
	{ "tcp", offsetof(struct ps_worker, tcp_stats.drop), 1, PS_TCP_DROP_MAX, "drop_",
	  tcp_drop },
	{ "tls", offsetof(struct ps_worker, tls_stats.c), 0, PS_TLSF_MAX, "", tls_counter },
	{ "tools", offsetof(struct ps_worker, tool_stats.cnt), 0, PS_TOOL_CNT_MAX, "",
	  tool_counter },
};

static void
family_fill(const struct ps_dp *dp, const struct tel_family *f, struct rte_tel_data *d)
{
	unsigned int i;

	for (i = f->first; i < f->n; i++) {
		char key[RTE_TEL_MAX_STRING_LEN];

		snprintf(key, sizeof(key), "%s%s", f->prefix, f->counter(i));
		rte_tel_data_add_dict_u64(d, key, sum_u64(dp, f->off, i));
	}
}

/* Extra members of a family that are not a worker array. */
static void
family_extra(const struct ps_dp *dp, const char *name, struct rte_tel_data *d)
{
	unsigned int w;
	uint64_t active = 0;

	if (strcmp(name, "flows") == 0) {
		for (w = 0; w < dp->n_workers; w++)
			active += __atomic_load_n(&dp->workers[w]->stats.flows_active,
						  __ATOMIC_RELAXED);
		rte_tel_data_add_dict_u64(d, "flows_active", active);
	} else if (strcmp(name, "tls") == 0) {
		rte_tel_data_add_dict_u64(d, "plaintext_bytes_client_to_server",
			sum_u64(dp, offsetof(struct ps_worker, tls_stats.plain_bytes), 0));
		rte_tel_data_add_dict_u64(d, "plaintext_bytes_server_to_client",
			sum_u64(dp, offsetof(struct ps_worker, tls_stats.plain_bytes), 1));
	}
}

/* "ports": PORT.rx_packets, ... of every port, summed over the workers. */
static void
ports_fill(const struct ps_dp *dp, struct rte_tel_data *d)
{
	static const struct {
		const char *name;
		size_t off;
	} c[] = {
		{ "rx_packets", offsetof(struct ps_port_counters, rx_pkts) },
		{ "rx_bytes", offsetof(struct ps_port_counters, rx_bytes) },
		{ "tx_packets", offsetof(struct ps_port_counters, tx_pkts) },
		{ "tx_bytes", offsetof(struct ps_port_counters, tx_bytes) },
		{ "tx_dropped", offsetof(struct ps_port_counters, tx_dropped) },
	};
	unsigned int p, k;

	for (p = 0; p < dp->n_ports; p++)
		for (k = 0; k < RTE_DIM(c); k++) {
			char key[RTE_TEL_MAX_STRING_LEN];
			size_t off = offsetof(struct ps_worker, stats.port) +
				     p * sizeof(struct ps_port_counters) + c[k].off;

			key_name(key, sizeof(key), "", dp->ports[p].cfg->name, "/");
			snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s", c[k].name);
			rte_tel_data_add_dict_u64(d, key, sum_u64(dp, off, 0));
		}
}

/* Fill the container for family name; -EINVAL when there is no such family. */
static int
stats_family(const struct ps_dp *dp, const char *name, struct rte_tel_data *d)
{
	bool found = false;
	unsigned int i;

	rte_tel_data_start_dict(d);
	if (strcmp(name, "ports") == 0) {
		ports_fill(dp, d);
		return 0;
	}
	for (i = 0; i < RTE_DIM(families); i++)
		if (strcmp(families[i].name, name) == 0) {
			family_fill(dp, &families[i], d);
			found = true;
		}
	if (found)
		family_extra(dp, name, d);
	return found ? 0 : -EINVAL;
}

static const char *const family_names[] = { "ports", "parser", "bridge", "flows", "tcp", "tls",
					    "tools" };

/* /plainsight/stats: every family; /plainsight/stats,FAMILY: that one. */
static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct ps_dp *dp = live_dp();
	unsigned int i;

	(void)cmd;
	if (dp == NULL)
		return -EAGAIN;
	if (params != NULL && params[0] != '\0')
		return stats_family(dp, params, d);
	rte_tel_data_start_dict(d);
	for (i = 0; i < RTE_DIM(family_names); i++) {
		struct rte_tel_data *f = rte_tel_data_alloc();

		if (f == NULL)
			return -ENOMEM;
		(void)stats_family(dp, family_names[i], f);
		if (rte_tel_data_add_dict_container(d, family_names[i], f, 0) < 0) {
			rte_tel_data_free(f);
			return -ENOMEM;
		}
	}
	return 0;
}

/* /plainsight/status: process, ports, workers, session store. */
static int
tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct ps_dp *dp = live_dp();

	(void)cmd;
	(void)params;
	if (dp == NULL)
		return -EAGAIN;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", PS_VERSION);
	rte_tel_data_add_dict_u64(d, "pid", (uint64_t)getpid());
	rte_tel_data_add_dict_u64(d, "uptime_s", (uint64_t)(time(NULL) - dp->started));
	rte_tel_data_add_dict_string(d, "state", "running");
	rte_tel_data_add_dict_string(d, "config", dp->cfg->path);
	rte_tel_data_add_dict_u64(d, "ports", dp->n_ports);
	rte_tel_data_add_dict_u64(d, "workers", dp->n_workers);
	rte_tel_data_add_dict_u64(d, "tls_enabled", dp->tls_on);
	rte_tel_data_add_dict_u64(d, "policy_generation",
				  __atomic_load_n(&dp->policy_generation, __ATOMIC_RELAXED));
	if (dp->sessions_on) {
		rte_tel_data_add_dict_u64(d, "sessions_live",
			__atomic_load_n(&dp->sessions.n_live, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "sessions_closed",
			__atomic_load_n(&dp->sessions.n_closed, __ATOMIC_RELAXED));
	}
	return 0;
}

/* One slot of policy_show as a dict: identity and the hits per rule. */
static void
policy_slot(json_t *p, struct rte_tel_data *d)
{
	static const char *const strs[] = { "path", "version", "sha256" };
	json_t *r;
	size_t i;

	rte_tel_data_start_dict(d);
	for (i = 0; i < RTE_DIM(strs); i++) {
		const char *s = json_string_value(json_object_get(p, strs[i]));

		rte_tel_data_add_dict_string(d, strs[i], s != NULL ? s : "");
	}
	rte_tel_data_add_dict_u64(d, "generation",
				  (uint64_t)json_integer_value(json_object_get(p, "generation")));
	rte_tel_data_add_dict_u64(d, "rules", json_array_size(json_object_get(p, "rules")));
	/* Hits as "hits/RULE" (telemetry nests one level only). */
	json_array_foreach(json_object_get(p, "rules"), i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));
		char key[RTE_TEL_MAX_STRING_LEN];

		key_name(key, sizeof(key), "hits/", name != NULL ? name : "", "");
		rte_tel_data_add_dict_u64(d, key,
					  (uint64_t)json_integer_value(json_object_get(r, "hits")));
	}
	rte_tel_data_add_dict_u64(d, "default_hits", (uint64_t)json_integer_value(
		json_object_get(json_object_get(p, "default"), "hits")));
}

/* /plainsight/policy: {"policy": {...}, "shadow_policy": {...}} (present ones). */
static int
tel_policy(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct ps_dp *dp = __atomic_load_n(&tel_dp, __ATOMIC_ACQUIRE);
	static const char *const slots[] = { "policy", "shadow_policy" };
	json_t *show;
	unsigned int s;

	(void)cmd;
	(void)params;
	if (live_dp() == NULL)
		return -EAGAIN;
	show = ps_policy_show(dp);
	if (show == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(d);
	for (s = 0; s < RTE_DIM(slots); s++) {
		json_t *p = json_object_get(show, slots[s]);
		struct rte_tel_data *c;

		if (!json_is_object(p))
			continue;
		c = rte_tel_data_alloc();
		if (c == NULL)
			break;
		policy_slot(p, c);
		if (rte_tel_data_add_dict_container(d, slots[s], c, 0) < 0)
			rte_tel_data_free(c);
	}
	json_decref(show);
	return 0;
}

int
ps_telemetry_init(struct ps_dp *dp)
{
	int rc;

	__atomic_store_n(&tel_dp, dp, __ATOMIC_RELEASE);
	/* Help texts: at most RTE_TEL_MAX_STRING_LEN - 1 characters, or refused. */
	rc = rte_telemetry_register_cmd("/plainsight/status", tel_status,
		"plainsight: version, pid, uptime, ports, workers, policy generation, "
		"sessions. No parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/plainsight/stats", tel_stats,
			"plainsight counters by family. Parameter: ports, parser, bridge, "
			"flows, tcp, tls or tools");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/plainsight/policy", tel_policy,
			"plainsight running policies: path, version, hash, hits per rule. "
			"No parameters");
	return rc;
}
