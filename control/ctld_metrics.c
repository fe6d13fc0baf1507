/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: Prometheus text exposition of the data plane's
 * counters (ctld_metrics.h).
 *
 * Every family is written as one block (HELP, TYPE, then all its samples),
 * as the format requires. Counter names of the data plane that have no
 * family of their own still appear, in a catch-all family labelled by the
 * counter's name (plainsight_tls_events_total{event=...}, ...), so a
 * counter added to the data plane is scraped without a change here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_client.h"
#include "ctld_metrics.h"

/* ---- writing the format ---- */

/*
 * Escaped text: backslash and newline always (HELP text), the double quote
 * too in a label value (quote).
 */
static void
put_escaped(struct ctld_buf *b, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			ctld_buf_puts(b, "\\\\");
		else if (*s == '"' && quote)
			ctld_buf_puts(b, "\\\"");
		else if (*s == '\n')
			ctld_buf_puts(b, "\\n");
		else
			ctld_buf_add(b, s, 1);
	}
}

static void
family(struct ctld_buf *b, const char *name, const char *type, const char *help)
{
	ctld_buf_printf(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	ctld_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/*
 * One sample: name{k1="v1",...} value. labels is NULL or a NULL-terminated
 * list of name, value pairs. A value that is not a JSON number is skipped:
 * a sample with a made-up value would be worse than none.
 */
static void
sample(struct ctld_buf *b, const char *name, const char *const *labels, json_t *v)
{
	unsigned int i;

	if (!json_is_number(v) && !json_is_boolean(v))
		return;
	ctld_buf_puts(b, name);
	if (labels != NULL && labels[0] != NULL) {
		ctld_buf_puts(b, "{");
		for (i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
			ctld_buf_printf(b, "%s%s=\"", i > 0 ? "," : "", labels[i]);
			put_escaped(b, labels[i + 1], true);
			ctld_buf_puts(b, "\"");
		}
		ctld_buf_puts(b, "}");
	}
	if (json_is_integer(v))
		ctld_buf_printf(b, " %lld\n", (long long)json_integer_value(v));
	else if (json_is_real(v))
		ctld_buf_printf(b, " %.17g\n", json_real_value(v));
	else
		ctld_buf_printf(b, " %d\n", json_is_true(v) ? 1 : 0);
}

/* A sample from a C integer. */
static void
sample_int(struct ctld_buf *b, const char *name, const char *const *labels, long long v)
{
	json_t *j = json_integer(v);

	sample(b, name, labels, j);
	json_decref(j);
}

#define UP_HELP	"1 when the data plane answered this scrape, 0 when not (then no other series)."

#define LABELS(...)	((const char *const[]){ __VA_ARGS__, NULL })

/* A family with one unlabelled sample, when obj has key. */
static void
single(struct ctld_buf *b, json_t *obj, const char *key, const char *name,
       const char *type, const char *help)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return;
	family(b, name, type, help);
	sample(b, name, NULL, v);
}

/* ---- the families ---- */

/* Per-port counters of stats.ports[], one family per member. */
static const struct {
	const char *key;
	const char *name;
	const char *help;
} port_counters[] = {
	{ "rx_packets", "plainsight_port_rx_packets_total",
	  "Frames received on the port by the workers." },
	{ "rx_bytes", "plainsight_port_rx_bytes_total",
	  "Bytes of the frames received on the port by the workers." },
	{ "tx_packets", "plainsight_port_tx_packets_total",
	  "Frames the workers sent on the port." },
	{ "tx_bytes", "plainsight_port_tx_bytes_total",
	  "Bytes of the frames the workers sent on the port." },
	{ "tx_dropped", "plainsight_port_tx_dropped_total",
	  "Frames for the port that its transmit queue did not accept (dropped)." },
	{ "nic_rx_missed", "plainsight_port_nic_rx_missed_total",
	  "Frames the NIC dropped because no receive descriptor was free." },
	{ "nic_rx_errors", "plainsight_port_nic_rx_errors_total",
	  "Erroneous frames the NIC received." },
	{ "nic_tx_errors", "plainsight_port_nic_tx_errors_total",
	  "Frames the NIC failed to transmit." },
	{ "nic_rx_nombuf", "plainsight_port_nic_rx_nombuf_total",
	  "Receive failures for want of an mbuf." },
};

static void
render_ports(json_t *ports, struct ctld_buf *b)
{
	json_t *p;
	size_t i, k;

	if (!json_is_array(ports) || json_array_size(ports) == 0)
		return;
	family(b, "plainsight_port_link_up", "gauge",
	       "1 when the port's link is up, 0 when down or unknown.");
	json_array_foreach(ports, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *role = json_string_value(json_object_get(p, "role"));
		const char *link = json_string_value(json_object_get(p, "link"));

		if (name == NULL)
			continue;
		sample_int(b, "plainsight_port_link_up",
			   LABELS("port", name, "role", role != NULL ? role : ""),
			   link != NULL && strcmp(link, "up") == 0);
	}
	for (k = 0; k < sizeof(port_counters) / sizeof(port_counters[0]); k++) {
		family(b, port_counters[k].name, "counter", port_counters[k].help);
		json_array_foreach(ports, i, p) {
			const char *name = json_string_value(json_object_get(p, "name"));
			const char *role = json_string_value(json_object_get(p, "role"));

			if (name == NULL)
				continue;
			sample(b, port_counters[k].name,
			       LABELS("port", name, "role", role != NULL ? role : ""),
			       json_object_get(p, port_counters[k].key));
		}
	}
}

static bool
in_list(const char *key, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/*
 * One family labelled label=KEY over the numeric members of obj whose name
 * starts with prefix (removed from the label) and is not in skip (may be
 * NULL). Nothing when no member qualifies.
 */
static void
by_label(struct ctld_buf *b, json_t *obj, const char *name, const char *type,
	 const char *help, const char *label, const char *prefix,
	 const char *const *skip)
{
	size_t plen = strlen(prefix);
	bool started = false;
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (!json_is_integer(v) || strncmp(key, prefix, plen) != 0 ||
		    (skip != NULL && in_list(key, skip)))
			continue;
		if (!started)
			family(b, name, type, help);
		started = true;
		sample(b, name, LABELS(label, key + plen), v);
	}
}

static void
render_flows(json_t *flows, json_t *tcp, struct ctld_buf *b)
{
	static const char *const flow_named[] = { "flows_opened", "flows_closed",
		"flows_active", NULL };

	single(b, flows, "flows_opened", "plainsight_flows_opened_total", "counter",
	       "Intercepted TCP flows opened (both handshakes begun).");
	single(b, flows, "flows_closed", "plainsight_flows_closed_total", "counter",
	       "Intercepted TCP flows closed.");
	single(b, flows, "flows_active", "plainsight_flows_active", "gauge",
	       "Intercepted TCP flows open now, over all workers.");
	by_label(b, flows, "plainsight_flow_events_total", "counter",
		 "Flow events other than opened and closed: resets, idle expiry, table "
		 "overflow, dispatch between workers, policy verdicts at the SYN, ...",
		 "event", "", flow_named);
	by_label(b, tcp, "plainsight_tcp_drops_total", "counter",
		 "Segments (or parts) the appliance's TCP endpoints did not accept, by reason.",
		 "reason", "drop_", NULL);
	{
		bool started = false;
		const char *key;
		json_t *v;

		json_object_foreach(tcp, key, v) {
			if (!json_is_integer(v) || strncmp(key, "drop_", 5) == 0)
				continue;
			if (!started)
				family(b, "plainsight_tcp_events_total", "counter",
				       "Events of the appliance's TCP endpoints (segments in "
				       "and out, retransmissions, resets, ...).");
			started = true;
			sample(b, "plainsight_tcp_events_total", LABELS("event", key), v);
		}
	}
}

/* TLS counters with a family of their own; the rest go to tls_events. */
static const char *const tls_named[] = {
	"sessions_decrypted", "client_handshakes_full", "client_handshakes_resumed",
	"client_handshakes_failed", "upstream_handshakes_full", "upstream_handshakes_resumed",
	"upstream_handshakes_failed", "upstream_verify_failed", "upstream_verify_rejected",
	"upstream_verify_resigned_untrusted", "upstream_verify_bypassed", "policy_bypassed",
	"policy_rejected", "policy_dropped", "plaintext_bytes_client_to_server",
	"plaintext_bytes_server_to_client", NULL
};

/*
 * Families whose samples are named counters of stats.tls (or stats.flows),
 * each with fixed labels: one row per sample, in the order written.
 */
static const struct {
	const char *metric;
	const char *l1, *v1, *l2, *v2;	/* l2 NULL: one label */
	bool flows;			/* key of stats.flows, not stats.tls */
	const char *key;
} fixed_samples[] = {
	{ "plainsight_tls_handshakes_total", "leg", "client", "type", "full", false,
	  "client_handshakes_full" },
	{ "plainsight_tls_handshakes_total", "leg", "client", "type", "resumed", false,
	  "client_handshakes_resumed" },
	{ "plainsight_tls_handshakes_total", "leg", "server", "type", "full", false,
	  "upstream_handshakes_full" },
	{ "plainsight_tls_handshakes_total", "leg", "server", "type", "resumed", false,
	  "upstream_handshakes_resumed" },
	{ "plainsight_tls_handshake_failures_total", "leg", "client", NULL, NULL, false,
	  "client_handshakes_failed" },
	{ "plainsight_tls_handshake_failures_total", "leg", "server", NULL, NULL, false,
	  "upstream_handshakes_failed" },
	{ "plainsight_tls_upstream_verify_actions_total", "action", "reject", NULL, NULL, false,
	  "upstream_verify_rejected" },
	{ "plainsight_tls_upstream_verify_actions_total", "action", "resign_untrusted", NULL,
	  NULL, false, "upstream_verify_resigned_untrusted" },
	{ "plainsight_tls_upstream_verify_actions_total", "action", "bypass", NULL, NULL, false,
	  "upstream_verify_bypassed" },
	{ "plainsight_policy_actions_total", "action", "bypass", "stage", "syn", true,
	  "policy_bypassed_at_syn" },
	{ "plainsight_policy_actions_total", "action", "drop", "stage", "syn", true,
	  "policy_dropped_at_syn" },
	{ "plainsight_policy_actions_total", "action", "bypass", "stage", "tls", false,
	  "policy_bypassed" },
	{ "plainsight_policy_actions_total", "action", "reject", "stage", "tls", false,
	  "policy_rejected" },
	{ "plainsight_policy_actions_total", "action", "drop", "stage", "tls", false,
	  "policy_dropped" },
	{ "plainsight_tls_plaintext_bytes_total", "direction", "client_to_server", NULL, NULL,
	  false, "plaintext_bytes_client_to_server" },
	{ "plainsight_tls_plaintext_bytes_total", "direction", "server_to_client", NULL, NULL,
	  false, "plaintext_bytes_server_to_client" },
};

/* The family metric of fixed_samples[]. */
static void
fixed_family(struct ctld_buf *b, json_t *tls, json_t *flows, const char *metric,
	     const char *help)
{
	size_t i;

	family(b, metric, "counter", help);
	for (i = 0; i < sizeof(fixed_samples) / sizeof(fixed_samples[0]); i++) {
		if (strcmp(fixed_samples[i].metric, metric) != 0)
			continue;
		sample(b, metric, LABELS(fixed_samples[i].l1, fixed_samples[i].v1,
					 fixed_samples[i].l2, fixed_samples[i].v2),
		       json_object_get(fixed_samples[i].flows ? flows : tls,
				       fixed_samples[i].key));
	}
}

static void
render_tls(json_t *tls, json_t *flows, struct ctld_buf *b)
{
	json_t *fc = json_object_get(tls, "forge_cache");
	json_t *vr = json_object_get(tls, "verify_failures_by_reason");

	if (!json_is_object(tls))
		return;
	single(b, tls, "enabled", "plainsight_tls_enabled", "gauge",
	       "1 when TLS interception is configured.");
	single(b, tls, "sessions_decrypted", "plainsight_tls_sessions_decrypted_total", "counter",
	       "TLS sessions decrypted (both handshakes completed, plaintext relayed).");

	fixed_family(b, tls, flows, "plainsight_tls_handshakes_total",
		     "Completed TLS handshakes by leg (client: the appliance as server to the "
		     "client; server: the appliance as client to the real server) and type.");
	fixed_family(b, tls, flows, "plainsight_tls_handshake_failures_total",
		     "Failed TLS handshakes by leg.");
	single(b, tls, "upstream_verify_failed", "plainsight_tls_upstream_verify_failed_total",
	       "counter", "Server certificate chains that failed validation.");
	if (json_is_object(vr))
		by_label(b, vr, "plainsight_tls_upstream_verify_failures_total", "counter",
			 "Server certificate chains that failed validation, by the first "
			 "reason found.", "reason", "", NULL);
	fixed_family(b, tls, flows, "plainsight_tls_upstream_verify_actions_total",
		     "What was done with a flow whose server chain failed validation.");
	fixed_family(b, tls, flows, "plainsight_policy_actions_total",
		     "Policy verdicts other than decrypt, by action and where taken (syn: on "
		     "addresses and ports at the SYN; tls: at the ClientHello or certificate).");
	fixed_family(b, tls, flows, "plainsight_tls_plaintext_bytes_total",
		     "Decrypted bytes relayed, by direction.");

	if (json_is_object(fc)) {
		single(b, fc, "hits", "plainsight_tls_forge_cache_hits_total", "counter",
		       "Forged leaf certificates found in the cache.");
		single(b, fc, "misses", "plainsight_tls_forge_cache_misses_total", "counter",
		       "Forged leaf certificates not in the cache (made anew).");
		single(b, fc, "evictions", "plainsight_tls_forge_cache_evictions_total", "counter",
		       "Forged leaf certificates evicted from the cache.");
		single(b, fc, "failures", "plainsight_tls_forge_cache_failures_total", "counter",
		       "Leaf certificates that could not be forged.");
		single(b, fc, "entries", "plainsight_tls_forge_cache_entries", "gauge",
		       "Forged leaf certificates in the cache now.");
	}
	by_label(b, tls, "plainsight_tls_events_total", "counter",
		 "Other events of the TLS stage: classification of the first bytes, "
		 "StartTLS upgrades, pass-through reasons, session cache, record errors.",
		 "event", "", tls_named);
}

/* Tool-port counters (summed over the tool ports: the data plane keeps one set). */
static const struct {
	const char *key;
	const char *name;
	const char *help;
} tool_counters[] = {
	{ "convs", "plainsight_tool_conversations_total",
	  "TCP conversations synthesized towards the tool ports." },
	{ "frames", "plainsight_tool_frames_total", "Frames written to the tool ports." },
	{ "bytes", "plainsight_tool_bytes_total", "Plaintext bytes written to the tool ports." },
	{ "frames_lost", "plainsight_tool_frames_lost_total",
	  "Frames for the tool ports that could not be built or queued." },
	{ "bytes_lost", "plainsight_tool_bytes_lost_total", "Plaintext bytes of lost frames." },
	{ "resets", "plainsight_tool_resets_total", "Tool conversations ended by a reset." },
	{ "late_data", "plainsight_tool_late_data_total",
	  "Plaintext after its side's end, not written to the tools." },
};

static void
render_tools(json_t *tools, struct ctld_buf *b)
{
	json_t *rec = json_object_get(tools, "recording");
	size_t k;

	for (k = 0; k < sizeof(tool_counters) / sizeof(tool_counters[0]); k++)
		single(b, tools, tool_counters[k].key, tool_counters[k].name, "counter",
		       tool_counters[k].help);
	if (json_is_object(rec)) {
		single(b, rec, "frames", "plainsight_recording_frames_total", "counter",
		       "Frames written to the recording files.");
		single(b, rec, "bytes", "plainsight_recording_bytes_total", "counter",
		       "Bytes written to the recording files.");
		single(b, rec, "files", "plainsight_recording_files_total", "counter",
		       "Recording files opened.");
		single(b, rec, "write_errors", "plainsight_recording_write_errors_total",
		       "counter", "Failed writes of recording files.");
	}
}

/* Per tool: each out-of-band port, and each inline tool with its health. */
static const struct {
	const char *key;
	const char *name;
	const char *type;
	const char *help;
} inline_counters[] = {
	{ "health_changes", "plainsight_inline_tool_health_changes_total", "counter",
	  "Times an inline tool was marked down or up again (heartbeats)." },
	{ "flows", "plainsight_inline_tool_flows_total", "counter",
	  "Flows given a TCP leg through an inline tool." },
	{ "resets", "plainsight_inline_tool_resets_total", "counter",
	  "Legs through an inline tool that it reset (or that timed out)." },
	{ "frames_into_tool", "plainsight_inline_tool_frames_in_total", "counter",
	  "Frames sent into an inline tool (legs and heartbeats, both ports)." },
	{ "frames_out_of_tool", "plainsight_inline_tool_frames_out_total", "counter",
	  "Frames that came out of an inline tool (both ports)." },
};

static void
render_tool_list(json_t *list, struct ctld_buf *b)
{
	json_t *oob = json_object_get(list, "out_of_band");
	json_t *inl = json_object_get(list, "inline");
	json_t *t;
	size_t i, k;

	if (json_array_size(oob) > 0) {
		family(b, "plainsight_tool_port_frames_total", "counter",
		       "Frames written to one out-of-band tool port.");
		json_array_foreach(oob, i, t)
			sample(b, "plainsight_tool_port_frames_total",
			       LABELS("port", json_string_value(json_object_get(t, "port"))),
			       json_object_get(t, "frames"));
	}
	if (json_array_size(inl) == 0)
		return;
	family(b, "plainsight_inline_tool_up", "gauge",
	       "1 while an inline tool passes heartbeats both ways, else 0.");
	json_array_foreach(inl, i, t) {
		const char *h = json_string_value(json_object_get(t, "health"));

		sample_int(b, "plainsight_inline_tool_up",
			   LABELS("tool", json_string_value(json_object_get(t, "name"))),
			   h != NULL && strcmp(h, "up") == 0);
	}
	for (k = 0; k < sizeof(inline_counters) / sizeof(inline_counters[0]); k++) {
		family(b, inline_counters[k].name, inline_counters[k].type, inline_counters[k].help);
		json_array_foreach(inl, i, t)
			sample(b, inline_counters[k].name,
			       LABELS("tool", json_string_value(json_object_get(t, "name"))),
			       json_object_get(t, inline_counters[k].key));
	}
	family(b, "plainsight_inline_tool_bytes_total", "counter",
	       "Plaintext bytes that came out of an inline tool, by direction.");
	json_array_foreach(inl, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));

		sample(b, "plainsight_inline_tool_bytes_total",
		       LABELS("tool", name, "direction", "client_to_server"),
		       json_object_get(t, "bytes_client_to_server"));
		sample(b, "plainsight_inline_tool_bytes_total",
		       LABELS("tool", name, "direction", "server_to_client"),
		       json_object_get(t, "bytes_server_to_client"));
	}
}

static void
render_workers(json_t *workers, struct ctld_buf *b)
{
	static const struct {
		const char *key, *name, *type, *help;
	} f[] = {
		{ "polls", "plainsight_worker_polls_total", "counter",
		  "Receive polls of the worker." },
		{ "busy_polls", "plainsight_worker_busy_polls_total", "counter",
		  "Receive polls of the worker that returned frames." },
		{ "busy_us", "plainsight_worker_busy_microseconds_total", "counter",
		  "Time the worker spent in polls that returned frames (its load: "
		  "the rate of this over time)." },
		{ "flows_active", "plainsight_worker_flows_active", "gauge",
		  "Intercepted flows the worker owns now." },
	};
	json_t *w;
	size_t i, k;

	if (!json_is_array(workers) || json_array_size(workers) == 0)
		return;
	for (k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		family(b, f[k].name, f[k].type, f[k].help);
		json_array_foreach(workers, i, w) {
			char id[24];

			snprintf(id, sizeof(id), "%lld",
				 (long long)json_integer_value(json_object_get(w, "id")));
			sample(b, f[k].name, LABELS("worker", id), json_object_get(w, f[k].key));
		}
	}
}

/* The rule's name, "(default)" for the default verdict. */
static const char *
rule_name(json_t *r, bool is_default)
{
	const char *n = json_string_value(json_object_get(r, "name"));

	return is_default || n == NULL || n[0] == '\0' ? "(default)" : n;
}

/* One sample per rule of every policy slot of policy_show. */
static void
render_policy_show(json_t *show, struct ctld_buf *b)
{
	static const char *const slots[] = { "policy", "shadow_policy" };
	unsigned int s;
	json_t *p, *r;
	size_t i;

	family(b, "plainsight_policy_rule_hits_total", "counter",
	       "Flows a policy rule decided (shadow rules: flows they would have "
	       "decided; they change nothing). Reset when a policy is applied.");
	for (s = 0; s < 2; s++) {
		p = json_object_get(show, slots[s]);
		if (!json_is_object(p))
			continue;
		json_array_foreach(json_object_get(p, "rules"), i, r) {
			const char *act = json_string_value(json_object_get(r, "action"));

			sample(b, "plainsight_policy_rule_hits_total",
			       LABELS("slot", slots[s], "rule", rule_name(r, false),
				      "action", act != NULL ? act : "",
				      "shadow", json_is_true(json_object_get(r, "shadow")) ?
				      "true" : "false"),
			       json_object_get(r, "hits"));
		}
		r = json_object_get(p, "default");
		if (json_is_object(r)) {
			const char *act = json_string_value(json_object_get(r, "action"));

			sample(b, "plainsight_policy_rule_hits_total",
			       LABELS("slot", slots[s], "rule", rule_name(r, true),
				      "action", act != NULL ? act : "",
				      "shadow", json_is_true(json_object_get(r, "shadow")) ?
				      "true" : "false"),
			       json_object_get(r, "hits"));
		}
	}
	family(b, "plainsight_policy_info", "gauge",
	       "1 for each running policy, with its file, version and SHA-256 as labels.");
	for (s = 0; s < 2; s++) {
		const char *path, *ver, *sha;

		p = json_object_get(show, slots[s]);
		if (!json_is_object(p))
			continue;
		path = json_string_value(json_object_get(p, "path"));
		ver = json_string_value(json_object_get(p, "version"));
		sha = json_string_value(json_object_get(p, "sha256"));
		sample_int(b, "plainsight_policy_info",
			   LABELS("slot", slots[s], "path", path != NULL ? path : "",
				  "version", ver != NULL ? ver : "", "sha256", sha != NULL ? sha : ""),
			   1);
	}
	family(b, "plainsight_policy_generation", "gauge",
	       "Generation of the running policy (counts applies since the data plane started).");
	for (s = 0; s < 2; s++) {
		p = json_object_get(show, slots[s]);
		if (json_is_object(p))
			sample(b, "plainsight_policy_generation", LABELS("slot", slots[s]),
			       json_object_get(p, "generation"));
	}
	family(b, "plainsight_policy_rules", "gauge", "Rules of the running policy (0: none).");
	for (s = 0; s < 2; s++) {
		p = json_object_get(show, slots[s]);
		sample_int(b, "plainsight_policy_rules", LABELS("slot", slots[s]),
			   json_is_object(p) ?
			   (long long)json_array_size(json_object_get(p, "rules")) : 0);
	}
}

/*
 * Without a policy_show reply: the hits of stats.policy_rules, which name
 * the rules but not their action (nor which rules of the live policy are
 * shadow rules).
 */
static void
render_policy_hits(json_t *hits, struct ctld_buf *b)
{
	static const char *const slots[][2] = { { "policy", "policy" },
						{ "shadow", "shadow_policy" } };
	unsigned int s;
	const char *rule;
	json_t *v;

	if (!json_is_object(hits))
		return;
	family(b, "plainsight_policy_rule_hits_total", "counter",
	       "Flows a policy rule decided (shadow rules: flows they would have "
	       "decided; they change nothing). Reset when a policy is applied.");
	for (s = 0; s < 2; s++)
		json_object_foreach(json_object_get(hits, slots[s][0]), rule, v)
			sample(b, "plainsight_policy_rule_hits_total",
			       LABELS("slot", slots[s][1], "rule", rule, "action", "",
				      "shadow", s == 1 ? "true" : "false"), v);
}

void
ctld_metrics_render(json_t *stats, json_t *policy, json_t *sessions, json_t *tools,
		    struct ctld_buf *b)
{
	json_t *flows = json_object_get(stats, "flows");

	family(b, "plainsight_up", "gauge", UP_HELP);
	sample_int(b, "plainsight_up", NULL, 1);
	render_ports(json_object_get(stats, "ports"), b);
	by_label(b, json_object_get(stats, "parser"), "plainsight_parser_packets_total",
		 "counter", "Frames by the packet parser's verdict (ok: parsed; the others: "
		 "why the frame could not be parsed).", "reason", "", NULL);
	by_label(b, json_object_get(stats, "bridge"), "plainsight_bridge_events_total",
		 "counter", "What the bridge did with frames beyond the parser's verdict "
		 "(malformed frames forwarded or dropped, refragmentation, full rings, ...).",
		 "reason", "", NULL);
	render_flows(flows, json_object_get(stats, "tcp"), b);
	render_tls(json_object_get(stats, "tls"), flows, b);
	render_tools(json_object_get(stats, "tools"), b);
	if (tools != NULL)
		render_tool_list(tools, b);
	render_workers(json_object_get(stats, "workers"), b);
	if (policy != NULL)
		render_policy_show(policy, b);
	else
		render_policy_hits(json_object_get(stats, "policy_rules"), b);
	if (sessions != NULL) {
		single(b, sessions, "live", "plainsight_sessions_live", "gauge",
		       "Session records of flows still open.");
		single(b, sessions, "closed", "plainsight_sessions_closed_total", "counter",
		       "Session records closed (flows ended) since the data plane started.");
		single(b, sessions, "log_dropped", "plainsight_session_log_dropped_total",
		       "counter", "Session records not written to the session log (writer "
		       "behind).");
	}
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One command with what is left of the budget; the reply if it says ok. */
static json_t *
ask(const char *sock, json_t *req, long deadline)
{
	long left = deadline - now_ms();
	json_t *reply = NULL;
	char err[256];

	if (left <= 0 || req == NULL) {
		json_decref(req);
		return NULL;
	}
	if (ctl_request(sock, req, (int)left, &reply, err, sizeof(err)) < 0)
		reply = NULL;
	json_decref(req);
	if (reply != NULL && !json_is_true(json_object_get(reply, "ok"))) {
		json_decref(reply);
		reply = NULL;
	}
	return reply;
}

int
ctld_metrics_scrape(const char *sock, int budget_ms, struct ctld_buf *out)
{
	long deadline = now_ms() + budget_ms;
	json_t *stats, *policy, *sessions, *tools;

	stats = ask(sock, json_pack("{s:s}", "cmd", "stats"), deadline);
	if (stats == NULL) {
		family(out, "plainsight_up", "gauge", UP_HELP);
		sample_int(out, "plainsight_up", NULL, 0);
		return 0;
	}
	policy = ask(sock, json_pack("{s:s}", "cmd", "policy_show"), deadline);
	/* limit 1: only the store's counts are wanted, not the records. */
	sessions = ask(sock, json_pack("{s:s, s:i, s:b}", "cmd", "sessions", "limit", 1,
				       "live", 1), deadline);
	tools = ask(sock, json_pack("{s:s}", "cmd", "tools"), deadline);
	ctld_metrics_render(stats, policy, sessions, tools, out);
	json_decref(tools);
	json_decref(sessions);
	json_decref(policy);
	json_decref(stats);
	return 1;
}
