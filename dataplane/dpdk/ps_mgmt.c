/* SPDX-License-Identifier: BSD-3-Clause
 * Management thread: serves the local control socket.
 *
 * Protocol (docs/control.md): the client connects, writes one JSON object on
 * one line, e.g. {"cmd":"stats"}, and reads one JSON object on one line back;
 * then the server closes. Replies carry "ok": true, or "ok": false with
 * "error". The thread only reads worker counters; it never touches the packet
 * path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "ps_capture.h"
#include "ps_decide.h"
#include "ps_inline_tool.h"
#include "ps_dp.h"
#include "ps_record.h"
#include "ps_version.h"

#define PS_MGMT_REQ_MAX		4096
#define PS_MGMT_IO_TIMEOUT_MS	2000

struct ps_mgmt {
	struct ps_dp *dp;
	int fd;
	pthread_t thread;
	char path[PS_SOCKET_PATH_MAX];
};

static const char *
link_state(uint16_t port_id)
{
	struct rte_eth_link link;

	if (rte_eth_link_get_nowait(port_id, &link) < 0)
		return "unknown";
	return link.link_status == RTE_ETH_LINK_UP ? "up" : "down";
}

static json_t *
cmd_status(struct ps_mgmt *m)
{
	const struct ps_dp *dp = m->dp;
	json_t *ports = json_array();
	json_t *workers = json_array();
	json_t *r;
	unsigned int i;

	for (i = 0; i < dp->n_ports; i++) {
		const struct ps_dp_port *p = &dp->ports[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i}",
			"name", p->cfg->name,
			"role", ps_port_role_name(p->cfg->role),
			"device", p->cfg->device,
			"driver", p->driver,
			"port_id", (json_int_t)p->port_id,
			"mtu", (json_int_t)p->cfg->mtu,
			"rx_queues", (json_int_t)p->n_rxq,
			"tx_queues", (json_int_t)p->n_txq);

		json_object_set_new(o, "link", json_string(link_state(p->port_id)));
		json_object_set_new(o, "rss", json_boolean(p->rss));
		if (p->cfg->side != 0) {
			char side[2] = { p->cfg->side, '\0' };

			json_object_set_new(o, p->cfg->role == PS_ROLE_NET ?
					    "segment" : "pair",
					    json_string(p->cfg->group));
			json_object_set_new(o, "side", json_string(side));
			json_object_set_new(o, "peer",
				json_string(dp->cfg->ports[p->cfg->peer].name));
		}
		json_array_append_new(ports, o);
	}
	for (i = 0; i < dp->n_workers; i++)
		json_array_append_new(workers, json_pack("{s:i, s:i, s:i, s:I}",
			"id", (json_int_t)dp->workers[i]->id,
			"lcore", (json_int_t)dp->workers[i]->lcore,
			"rx_queues", (json_int_t)dp->workers[i]->n_rxq,
			"busy_us", (json_int_t)(dp->workers[i]->stats.busy_cycles /
						 dp->tsc_per_us)));

	r = json_pack("{s:b, s:s, s:i, s:I, s:s, s:s, s:o, s:o}",
		"ok", 1,
		"version", PS_VERSION,
		"pid", (json_int_t)getpid(),
		"uptime_s", (json_int_t)(time(NULL) - dp->started),
		"config", dp->cfg->path,
		"state", __atomic_load_n(&dp->quit, __ATOMIC_RELAXED) ?
			"stopping" : "running",
		"ports", ports,
		"workers", workers);
	pthread_mutex_lock(&m->dp->policy_lock);
	json_object_set_new(r, "policy", json_pack("{s:s, s:i, s:s, s:s, s:I}",
		"path", dp->policy != NULL ? dp->policy->path : "",
		"rules", dp->policy != NULL ? (int)ps_pol_n_rules(dp->policy->pol) : 0,
		"version", dp->policy != NULL ? dp->policy->version : "",
		"sha256", dp->policy != NULL ? ps_pol_hash(dp->policy->pol) : "",
		"generation", (json_int_t)dp->policy_generation));
	if (dp->shadow_policy != NULL)
		json_object_set_new(r, "shadow_policy", json_pack("{s:s, s:i, s:s}",
			"path", dp->shadow_policy->path,
			"rules", (int)ps_pol_n_rules(dp->shadow_policy->pol),
			"version", dp->shadow_policy->version));
	pthread_mutex_unlock(&m->dp->policy_lock);
	json_object_set_new(r, "dispatch", json_string(dp->n_workers == 1 ?
		"single worker" : dp->rss_dispatch ? "symmetric RSS" : "software"));
	return r;
}

/* Counter names by index, one signature for counters_json(). */
static const char *
pkt_reason_name(unsigned int i)
{
	return ps_pkt_reason_name((enum ps_pkt_reason)i);
}

static const char *
bridge_event_name(unsigned int i)
{
	return ps_bridge_event_name((enum ps_bridge_event)i);
}

static const char *
flow_event_name(unsigned int i)
{
	return ps_flow_event_name((enum ps_flow_event)i);
}

static const char *
tcp_counter_name(unsigned int i)
{
	return ps_tcp_counter_name((enum ps_tcp_counter)i);
}

static const char *
tcp_drop_name(unsigned int i)
{
	return ps_tcp_drop_name((enum ps_tcp_drop)i);
}

static const char *
tlsf_counter_name(unsigned int i)
{
	return ps_tlsf_counter_name((enum ps_tlsf_counter)i);
}

static const char *
tool_counter_name(unsigned int i)
{
	return ps_tool_counter_name((enum ps_tool_counter)i);
}

static const char *
webpki_reason_name(unsigned int i)
{
	return ps_webpki_reason_name((enum ps_webpki_reason)i);
}

static const char *
plain_bytes_name(unsigned int i)
{
	return i == 0 ? "plaintext_bytes_client_to_server" : "plaintext_bytes_server_to_client";
}

/*
 * Counters [first, n) of the uint64_t array at byte offset off of every
 * worker, summed, as members prefix+name of obj. The workers write them
 * without locks; a reading may be a few events behind.
 */
static void
counters_json(const struct ps_dp *dp, json_t *obj, size_t off, unsigned int first,
	      unsigned int n, const char *(*name)(unsigned int), const char *prefix)
{
	unsigned int i, w;

	for (i = first; i < n; i++) {
		char key[96];
		uint64_t v = 0;

		for (w = 0; w < dp->n_workers; w++)
			v += ((const uint64_t *)((const char *)dp->workers[w] + off))[i];
		snprintf(key, sizeof(key), "%s%s", prefix, name(i));
		json_object_set_new(obj, key, json_integer((json_int_t)v));
	}
}

/* Hits per rule of the running policies: {"policy": {RULE: N}, "shadow": {...}}. */
static json_t *
policy_hits(struct ps_dp *dp)
{
	json_t *show = ps_policy_show(dp), *out = json_object(), *p, *r;
	const char *slot;
	size_t i;

	if (show == NULL || out == NULL) {
		json_decref(show);
		return out != NULL ? out : json_object();
	}
	json_object_foreach(show, slot, p) {
		json_t *h = json_object();

		if (json_is_null(p) || h == NULL) {
			json_decref(h);
			continue;
		}
		json_array_foreach(json_object_get(p, "rules"), i, r)
			json_object_set(h, json_string_value(json_object_get(r, "name")),
					json_object_get(r, "hits"));
		json_object_set(h, "(default)", json_object_get(json_object_get(p, "default"),
								 "hits"));
		json_object_set_new(out, strcmp(slot, "policy") == 0 ? "policy" : "shadow", h);
	}
	json_decref(show);
	return out;
}

/* The device's own extended counters (rte_eth_xstats), the non-zero ones. */
static json_t *
port_xstats(uint16_t port_id)
{
	struct rte_eth_xstat_name *names = NULL;
	struct rte_eth_xstat *vals = NULL;
	json_t *o = json_object();
	int n, got, i;

	n = rte_eth_xstats_get_names(port_id, NULL, 0);
	if (o == NULL || n <= 0 || n > 4096)
		return o != NULL ? o : json_object();
	names = calloc((size_t)n, sizeof(*names));
	vals = calloc((size_t)n, sizeof(*vals));
	if (names != NULL && vals != NULL &&
	    rte_eth_xstats_get_names(port_id, names, (unsigned int)n) == n) {
		got = rte_eth_xstats_get(port_id, vals, (unsigned int)n);
		for (i = 0; i < got && i < n; i++)
			if (vals[i].value != 0 && vals[i].id < (uint64_t)n)
				json_object_set_new(o, names[vals[i].id].name,
						    json_integer((json_int_t)vals[i].value));
	}
	free(names);
	free(vals);
	return o;
}

static json_t *
cmd_stats(struct ps_mgmt *m)
{
	const struct ps_dp *dp = m->dp;
	json_t *ports = json_array();
	json_t *parser = json_object();
	json_t *bridge = json_object();
	json_t *flows = json_object();
	json_t *tcp = json_object();
	json_t *tls = json_object();
	json_t *tools = json_object();
	json_t *workers = json_array();
	uint64_t active = 0;
	unsigned int i, w;

	for (i = 0; i < dp->n_ports; i++) {
		const struct ps_dp_port *p = &dp->ports[i];
		struct ps_port_counters sum = { 0 };
		struct rte_eth_stats es;
		json_t *o;

		for (w = 0; w < dp->n_workers; w++) {
			const struct ps_port_counters *c =
				&dp->workers[w]->stats.port[i];

			sum.rx_pkts += c->rx_pkts;
			sum.rx_bytes += c->rx_bytes;
			sum.tx_pkts += c->tx_pkts;
			sum.tx_bytes += c->tx_bytes;
			sum.tx_dropped += c->tx_dropped;
		}
		memset(&es, 0, sizeof(es));
		(void)rte_eth_stats_get(p->port_id, &es);
		o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"name", p->cfg->name,
			"role", ps_port_role_name(p->cfg->role),
			"link", link_state(p->port_id),
			"rx_packets", (json_int_t)sum.rx_pkts,
			"rx_bytes", (json_int_t)sum.rx_bytes,
			"tx_packets", (json_int_t)sum.tx_pkts,
			"tx_bytes", (json_int_t)sum.tx_bytes,
			"tx_dropped", (json_int_t)sum.tx_dropped,
			"nic_rx_missed", (json_int_t)es.imissed,
			"nic_rx_errors", (json_int_t)es.ierrors,
			"nic_tx_errors", (json_int_t)es.oerrors,
			"nic_rx_nombuf", (json_int_t)es.rx_nombuf);
		if (o != NULL)
			json_object_set_new(o, "xstats", port_xstats(p->port_id));
		json_array_append_new(ports, o);
	}
	counters_json(dp, parser, offsetof(struct ps_worker, stats.pkt_reason), 0,
		      PS_PKT_REASON_MAX, pkt_reason_name, "");
	counters_json(dp, bridge, offsetof(struct ps_worker, stats.bridge), 0,
		      PS_BRIDGE_EVENT_MAX, bridge_event_name, "");
	counters_json(dp, flows, offsetof(struct ps_worker, stats.flow), 0,
		      PS_FLOW_EVENT_MAX, flow_event_name, "");
	for (w = 0; w < dp->n_workers; w++) {
		const struct ps_worker_stats *s = &dp->workers[w]->stats;

		active += s->flows_active;
		json_array_append_new(workers, json_pack("{s:i, s:I, s:I, s:I, s:I}",
			"id", (json_int_t)w,
			"polls", (json_int_t)s->polls,
			"busy_polls", (json_int_t)s->busy_polls,
			"busy_us", (json_int_t)(s->busy_cycles / dp->tsc_per_us),
			"flows_active", (json_int_t)s->flows_active));
	}
	json_object_set_new(flows, "flows_active", json_integer((json_int_t)active));
	counters_json(dp, tcp, offsetof(struct ps_worker, tcp_stats.cnt), 0,
		      PS_TCP_CNT_MAX, tcp_counter_name, "");
	counters_json(dp, tcp, offsetof(struct ps_worker, tcp_stats.drop), 1,
		      PS_TCP_DROP_MAX, tcp_drop_name, "drop_");
	counters_json(dp, tls, offsetof(struct ps_worker, tls_stats.c), 0,
		      PS_TLSF_MAX, tlsf_counter_name, "");
	counters_json(dp, tls, offsetof(struct ps_worker, tls_stats.plain_bytes), 0,
		      2, plain_bytes_name, "");
	{
		json_t *vr = json_object();

		counters_json(dp, vr, offsetof(struct ps_worker, tls_stats.verify_reason), 1,
			      PS_WEBPKI_N_REASONS, webpki_reason_name, "");
		json_object_set_new(tls, "verify_failures_by_reason", vr);
	}
	counters_json(dp, tools, offsetof(struct ps_worker, tool_stats.cnt), 0,
		      PS_TOOL_CNT_MAX, tool_counter_name, "");
	if (dp->forge != NULL) {
		struct ps_tls_forge_stats fs;

		ps_tls_forge_stats(dp->forge, &fs);
		json_object_set_new(tls, "forge_cache", json_pack("{s:I, s:I, s:I, s:I, s:I}",
			"hits", (json_int_t)fs.hits, "misses", (json_int_t)fs.misses,
			"evictions", (json_int_t)fs.evictions,
			"failures", (json_int_t)fs.failures, "entries", (json_int_t)fs.entries));
	}
	json_object_set_new(tls, "enabled", json_boolean(dp->tls_on));
	{
		uint64_t fr, by, fi, er;

		ps_record_stats(dp, &fr, &by, &fi, &er);
		json_object_set_new(tools, "recording", json_pack("{s:I, s:I, s:I, s:I}",
			"frames", (json_int_t)fr, "bytes", (json_int_t)by,
			"files", (json_int_t)fi, "write_errors", (json_int_t)er));
	}
	return json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "ok", 1,
			 "ports", ports, "parser", parser, "bridge", bridge,
			 "flows", flows, "tcp", tcp, "tls", tls, "tools", tools,
			 "workers", workers, "policy_rules", policy_hits(m->dp),
			 "sessions", dp->sessions_on ? ps_sess_log_stats(&dp->sessions) :
			 json_object());
}

static json_t *
error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/*
 * {"cmd":"policy_apply", "path":"/abs/policy.json"}: load, compile and make
 * it the live policy (a wholly shadow one: the live shadow policy); on any
 * error the running policy stays and every problem is in "errors".
 * {"path":null}: no policy (decrypt all selected); with "shadow":true, no
 * shadow policy. "warnings": settings that wait for a restart.
 */
static json_t *
cmd_policy_apply(struct ps_mgmt *m, json_t *req)
{
	static struct ps_pol_errors errs;	/* only this thread applies */
	json_t *v = json_object_get(req, "path"), *list, *warnings;
	const char *path = json_string_value(v);
	struct ps_policy_rt *rt = NULL;
	bool shadow = json_is_true(json_object_get(req, "shadow"));
	unsigned int i;
	int rc;

	if (v == NULL || (path == NULL && !json_is_null(v)) ||
	    (path != NULL && path[0] != '/'))
		return error_reply("\"path\" must be an absolute file path, or null for no policy");
	memset(&errs, 0, sizeof(errs));
	warnings = json_array();
	if (warnings == NULL)
		return error_reply("out of memory");
	if (path == NULL) {
		ps_policy_publish(m->dp, NULL, shadow);
		RTE_LOG(NOTICE, USER1, "%s removed\n", shadow ? "shadow policy" : "policy");
		return json_pack("{s:b, s:s, s:i, s:I, s:b, s:o}", "ok", 1, "path", "",
				 "rules", 0, "generation", (json_int_t)m->dp->policy_generation,
				 "shadow", shadow, "warnings", warnings);
	}
	rc = ps_policy_prepare(m->dp, path, &rt, &errs, warnings);
	if (rc < 0) {
		json_decref(warnings);
		list = json_array();
		for (i = 0; i < errs.n; i++)
			json_array_append_new(list, json_string(errs.msg[i]));
		if (errs.n == 0)
			json_array_append_new(list, json_sprintf("%s: %s", path, strerror(-rc)));
		return json_pack("{s:b, s:s, s:o, s:i}", "ok", 0,
				 "error", "policy refused; the running policy stays",
				 "errors", list, "errors_not_listed", (int)errs.dropped);
	}
	shadow = rt->shadow;
	i = ps_pol_n_rules(rt->pol);
	ps_policy_publish(m->dp, rt, shadow);
	RTE_LOG(NOTICE, USER1, "%s %s applied (generation %" PRIu64 ")\n",
		shadow ? "shadow policy" : "policy", path, m->dp->policy_generation);
	return json_pack("{s:b, s:s, s:i, s:I, s:b, s:o}", "ok", 1, "path", path,
			 "rules", (int)i, "generation", (json_int_t)m->dp->policy_generation,
			 "shadow", shadow, "warnings", warnings);
}

/* {"cmd":"tools"}: the tool ports, and each inline tool with its health. */
static json_t *
cmd_tools(struct ps_mgmt *m)
{
	const struct ps_dp *dp = m->dp;
	json_t *oob = json_array();
	unsigned int i;

	for (i = 0; oob != NULL && i < dp->n_tools; i++) {
		json_t *o = json_pack("{s:s}", "port", dp->tool_port[i] == PS_TOOL_PORT_RECORDER ?
				      "recorder" : dp->cfg->ports[dp->tool_port[i]].name);
		unsigned int c, w;

		for (c = 0; o != NULL && c < PS_TOOL_CNT_MAX; c++) {
			uint64_t v = 0;

			for (w = 0; w < dp->n_workers; w++)
				v += dp->workers[w]->tool_port_stats[i].cnt[c];
			json_object_set_new(o, ps_tool_counter_name((enum ps_tool_counter)c),
					    json_integer((json_int_t)v));
		}
		json_array_append_new(oob, o);
	}
	return json_pack("{s:b, s:o, s:o}", "ok", 1, "out_of_band", oob != NULL ? oob : json_array(),
			 "inline", ps_inline_tools_json(dp));
}

/* {"cmd":"policy_show"}: both policies with their rules and hit counters. */
static json_t *
cmd_policy_show(struct ps_mgmt *m)
{
	json_t *r = ps_policy_show(m->dp);

	if (r == NULL)
		return error_reply("out of memory");
	json_object_set_new(r, "ok", json_true());
	return r;
}

/* ---- the bypass list ---- */

static const char *
addr_text(uint8_t family, const uint8_t *a, char *buf, size_t len)
{
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static bool
addr_parse(const char *s, uint8_t *family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (s == NULL)
		return false;
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = 6;
		return true;
	}
	return false;
}

/*
 * {"cmd":"bypass_list"} / {"cmd":"bypass_add", "server":IP, "port":N,
 * "sni":NAME, "client":IP, "ttl_s":N, "reason":TEXT} /
 * {"cmd":"bypass_del", "server":IP, "port":N, "sni":NAME, "client":IP}.
 */
static json_t *
cmd_bypass(struct ps_mgmt *m, json_t *req, const char *op)
{
	static struct ps_tls_bypass_entry list[4096];	/* only this thread */
	struct ps_tls_bypass_entry b;
	char a1[INET6_ADDRSTRLEN], a2[INET6_ADDRSTRLEN];
	json_t *v, *arr;
	unsigned int n, i;
	uint8_t cfam = 0;
	int rc;

	if (!m->dp->tls_on || m->dp->cfg->tls.bypass_ttl_s == 0)
		return error_reply("no bypass list: TLS interception is off or tls.bypass_ttl_s is 0");
	if (strcmp(op, "bypass_list") == 0) {
		n = ps_tls_bypass_list(&m->dp->icpt, list, 4096);
		arr = json_array();
		for (i = 0; arr != NULL && i < n; i++) {
			json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I}",
				"server", addr_text(list[i].family, list[i].srv_addr, a1, sizeof(a1)),
				"port", list[i].srv_port, "sni", list[i].sni,
				"reason", list[i].reason,
				"session", (json_int_t)list[i].session_id,
				"expires_in_s", (json_int_t)list[i].expires_s);

			if (o != NULL && list[i].has_client)
				json_object_set_new(o, "client", json_string(addr_text(list[i].family,
							list[i].cli_addr, a2, sizeof(a2))));
			json_array_append_new(arr, o);
		}
		return json_pack("{s:b, s:o}", "ok", 1, "entries", arr != NULL ? arr : json_array());
	}
	memset(&b, 0, sizeof(b));
	if (!addr_parse(json_string_value(json_object_get(req, "server")), &b.family, b.srv_addr))
		return error_reply("\"server\" must be an IPv4 or IPv6 address");
	v = json_object_get(req, "port");
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return error_reply("\"port\" must be an integer 1..65535");
	b.srv_port = (uint16_t)json_integer_value(v);
	v = json_object_get(req, "sni");
	if (v != NULL && (!json_is_string(v) || json_string_length(v) > PS_TLS_SNI_MAX))
		return error_reply("\"sni\" must be a host name");
	if (v != NULL)
		snprintf(b.sni, sizeof(b.sni), "%s", json_string_value(v));
	v = json_object_get(req, "client");
	if (v != NULL) {
		if (!addr_parse(json_string_value(v), &cfam, b.cli_addr) || cfam != b.family)
			return error_reply("\"client\" must be an address of the server's family");
		b.has_client = true;
	}
	if (strcmp(op, "bypass_del") == 0) {
		rc = ps_tls_bypass_del(&m->dp->icpt, &b);
		if (rc == -ENOENT)
			return error_reply("no such entry in the bypass list");
		return json_pack("{s:b}", "ok", rc == 0);
	}
	v = json_object_get(req, "reason");
	snprintf(b.reason, sizeof(b.reason), "operator: %.50s",
		 json_is_string(v) ? json_string_value(v) : "added by hand");
	v = json_object_get(req, "ttl_s");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1 ||
			  json_integer_value(v) > 365 * 86400))
		return error_reply("\"ttl_s\" must be an integer 1..31536000");
	rc = ps_tls_bypass_add(&m->dp->icpt, &b, v != NULL ? (unsigned int)json_integer_value(v) : 0);
	if (rc < 0)
		return error_reply("cannot add to the bypass list");
	RTE_LOG(NOTICE, USER1, "bypass list: %s port %u sni \"%s\" added by the operator\n",
		addr_text(b.family, b.srv_addr, a1, sizeof(a1)), b.srv_port, b.sni);
	return json_pack("{s:b}", "ok", 1);
}

/*
 * An optional string member of a sessions request: absent leaves *out
 * NULL; anything but a non-empty string of at most max bytes is an error.
 */
static const char *
sess_str(json_t *req, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(req, key);

	*out = NULL;
	if (v == NULL)
		return NULL;
	*out = json_string_value(v);
	if (*out == NULL || (*out)[0] == '\0' || strlen(*out) > max)
		return "must be a non-empty string";
	return NULL;
}

/*
 * {"cmd":"sessions", "id":N, "host":GLOB, "sni":GLOB, "cert":GLOB,
 *  "kind":KIND, "src":CIDR, "dst":CIDR, "port":N, "action":ACTION,
 *  "rule":NAME, "live":true, "closed":true, "all":true, "limit":N}: the
 * matching session records, most recent first (live ones first). Every
 * member is checked here, once, so the search itself compares only.
 */
static json_t *
cmd_sessions(struct ps_mgmt *m, json_t *req)
{
	static const char *const known[] = { "cmd", "id", "host", "sni", "cert", "kind",
		"src", "dst", "port", "action", "rule", "live", "closed", "all", "limit" };
	static const char *const actions[] = { "decrypt", "bypass", "reject", "drop" };
	struct ps_sess_store *st = &m->dp->sessions;
	struct ps_sess_filter f;
	const struct {
		const char *key;
		size_t max;
		const char **out;
	} strs[] = {
		{ "host", PS_SESS_NAME_MAX, &f.host },
		{ "sni", PS_SESS_NAME_MAX, &f.sni },
		{ "cert", PS_SESS_NAME_MAX, &f.cert },
		{ "kind", 64, &f.kind },
		{ "action", 16, &f.action },
		{ "rule", 256, &f.rule },
	};
	bool live, closed, all;
	char msg[160];
	const char *key, *why, *text;
	json_t *v, *list;
	unsigned int i, j;

	if (!m->dp->sessions_on)
		return error_reply("session records are off");
	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	json_object_foreach(req, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(msg, sizeof(msg), "unknown member \"%.40s\" (expected id, host, "
				 "sni, cert, kind, src, dst, port, action, rule, live, closed, all "
				 "or limit)", key);
			return error_reply(msg);
		}
	}
	v = json_object_get(req, "id");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return error_reply("\"id\" must be a positive integer");
		f.id = (uint64_t)json_integer_value(v);
	}
	v = json_object_get(req, "limit");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 10000)
			return error_reply("\"limit\" must be an integer 1..10000 (narrow the search for more)");
		f.limit = (unsigned int)json_integer_value(v);
	}
	v = json_object_get(req, "port");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535)
			return error_reply("\"port\" must be an integer 1..65535");
		f.srv_port = (uint16_t)json_integer_value(v);
	}
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		why = sess_str(req, strs[i].key, strs[i].max, strs[i].out);
		if (why != NULL) {
			snprintf(msg, sizeof(msg), "\"%s\" %s", strs[i].key, why);
			return error_reply(msg);
		}
	}
	if (f.action != NULL) {
		for (j = 0; j < sizeof(actions) / sizeof(actions[0]); j++)
			if (strcmp(f.action, actions[j]) == 0)
				break;
		if (j == sizeof(actions) / sizeof(actions[0]))
			return error_reply("\"action\" must be decrypt, bypass, reject or drop");
	}
	/* Prefixes are parsed here, once, not per record. */
	for (i = 0; i < 2; i++) {
		const char *name = i == 0 ? "src" : "dst";

		if (sess_str(req, name, 64, &text) != NULL ||
		    (text != NULL && ps_sess_prefix_parse(text, i == 0 ? &f.src : &f.dst) < 0)) {
			snprintf(msg, sizeof(msg), "\"%s\" must be an IPv4 or IPv6 address or "
				 "prefix ADDRESS[/LENGTH]", name);
			return error_reply(msg);
		}
	}
	v = json_object_get(req, "live");
	if (v != NULL && !json_is_boolean(v))
		return error_reply("\"live\" must be true or false");
	live = json_is_true(v);
	v = json_object_get(req, "closed");
	if (v != NULL && !json_is_boolean(v))
		return error_reply("\"closed\" must be true or false");
	closed = json_is_true(v);
	v = json_object_get(req, "all");
	if (v != NULL && !json_is_boolean(v))
		return error_reply("\"all\" must be true or false");
	all = json_is_true(v);
	/* Live and closed together, or all, is both; neither is both too. */
	f.live_only = live && !closed && !all;
	f.closed_only = closed && !live && !all;
	list = ps_sess_query(st, &f);
	if (list == NULL)
		return error_reply("out of memory");
	return json_pack("{s:b, s:o, s:s, s:I, s:I, s:I}", "ok", 1, "sessions", list,
			 "recording_dir", m->dp->cfg->record_dir,
			 "live", (json_int_t)__atomic_load_n(&st->n_live, __ATOMIC_RELAXED),
			 "closed", (json_int_t)__atomic_load_n(&st->n_closed, __ATOMIC_RELAXED),
			 "log_dropped", (json_int_t)__atomic_load_n(&st->log_dropped,
								 __ATOMIC_RELAXED));
}

static json_t *
dispatch(struct ps_mgmt *m, const char *req, size_t len)
{
	json_error_t jerr;
	json_t *root, *reply;
	const char *cmd;

	root = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return error_reply("request is not valid JSON");
	cmd = json_string_value(json_object_get(root, "cmd"));
	if (cmd == NULL)
		reply = error_reply("request has no \"cmd\" string");
	else if (strcmp(cmd, "status") == 0)
		reply = cmd_status(m);
	else if (strcmp(cmd, "stats") == 0)
		reply = ps_capture_stats_add(m->dp, cmd_stats(m));	/* + capture counters */
	else if (strcmp(cmd, "sessions") == 0)
		reply = cmd_sessions(m, root);
	else if (strcmp(cmd, "policy_apply") == 0)
		reply = cmd_policy_apply(m, root);
	else if (strcmp(cmd, "policy_show") == 0)
		reply = cmd_policy_show(m);
	else if (strcmp(cmd, "tools") == 0)
		reply = cmd_tools(m);
	else if (strncmp(cmd, "bypass_", 7) == 0 && (strcmp(cmd + 7, "list") == 0 ||
		 strcmp(cmd + 7, "add") == 0 || strcmp(cmd + 7, "del") == 0))
		reply = cmd_bypass(m, root, cmd);
	else if (strncmp(cmd, "capture_", 8) == 0)	/* capture_start|status|stop: ps_capture.c */
		reply = ps_capture_cmd(m->dp, root, cmd + 8);
	else
		reply = error_reply("unknown command (expected status, stats, sessions, "
				    "policy_apply, policy_show, bypass_list, bypass_add or "
				    "bypass_del)");
	json_decref(root);
	return reply;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };

				if (poll(&pfd, 1, PS_MGMT_IO_TIMEOUT_MS) <= 0)
					return -ETIMEDOUT;
				continue;
			}
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One request, one reply. A client that sends nothing in time, or too much,
 * gets an error and is closed: the thread never blocks on a client. */
static void
serve_client(struct ps_mgmt *m, int cfd)
{
	char req[PS_MGMT_REQ_MAX];
	size_t len = 0;
	json_t *reply = NULL;
	char *out;

	for (;;) {
		struct pollfd pfd = { .fd = cfd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, PS_MGMT_IO_TIMEOUT_MS) <= 0) {
			reply = error_reply("timed out waiting for the request");
			break;
		}
		n = recv(cfd, req + len, sizeof(req) - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(req, '\n', len) != NULL) {
			reply = dispatch(m, req, (size_t)((char *)memchr(req, '\n', len) - req));
			break;
		}
		if (len == sizeof(req)) {
			reply = error_reply("request too long");
			break;
		}
	}
	if (reply == NULL && len > 0)
		reply = dispatch(m, req, len);	/* no newline, peer shut down */
	if (reply == NULL)
		return;
	out = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (out == NULL)
		return;
	if (write_all(cfd, out, strlen(out)) == 0)
		(void)write_all(cfd, "\n", 1);
	free(out);
}

static void *
mgmt_main(void *arg)
{
	struct ps_mgmt *m = arg;

	while (!__atomic_load_n(&m->dp->quit, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
		int cfd;

		if (m->dp->sessions_on)
			(void)ps_sess_log_drain(&m->dp->sessions);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		cfd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0)
			continue;
		serve_client(m, cfd);
		close(cfd);
	}
	return NULL;
}

/* Create the socket's directory (0750) if it is missing; one level only. */
static int
ensure_dir(const char *path)
{
	char dir[PS_SOCKET_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file left by a process that died is removed; one that answers
 * belongs to a running data plane and is refused. */
static int
claim_path(const struct sockaddr_un *sa)
{
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
ps_mgmt_start(struct ps_dp *dp, const char *path, struct ps_mgmt **out,
	      char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct ps_mgmt *m;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->dp = dp;
	m->fd = -1;
	snprintf(m->path, sizeof(m->path), "%s", path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	rc = ensure_dir(path);
	if (rc < 0) {
		snprintf(err, errlen, "control socket %s: cannot create its "
			 "directory: %s", path, strerror(-rc));
		goto err_free;
	}
	rc = claim_path(&sa);
	if (rc < 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
			 rc == -EADDRINUSE ? "in use by another running "
			 "plainsight-dp" : strerror(-rc));
		goto err_free;
	}
	m->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto err_free;
	}
	if (bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(m->fd, 16) < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", path,
			 strerror(errno));
		goto err_close;
	}
	rc = rte_ctrl_thread_create(&m->thread, "ps-mgmt", NULL, mgmt_main, m);
	if (rc != 0) {
		rc = -rc;
		snprintf(err, errlen, "cannot start the management thread: %s",
			 strerror(-rc));
		goto err_unlink;
	}
	*out = m;
	return 0;
err_unlink:
	unlink(path);
err_close:
	close(m->fd);
err_free:
	free(m);
	return rc;
}

void
ps_mgmt_stop(struct ps_mgmt *m)
{
	if (m == NULL)
		return;
	/* dp->quit is already set: the thread leaves its poll within 200 ms. */
	pthread_join(m->thread, NULL);
	close(m->fd);
	unlink(m->path);
	free(m);
}
