/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl: the operator's command line.
 *
 *   plainsight-ctl [--socket PATH] [--json] status
 *   plainsight-ctl [--socket PATH] [--json] stats
 *   plainsight-ctl [--json] policy check FILE
 *
 * Exit codes: 0 success, 1 the data plane could not be reached or answered
 * with an error (policy check: the policy is invalid or unreadable), 2 usage
 * error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_client.h"
#include "ctl_bypass.h"
#include "ctl_capture.h"
#include "ctl_policy.h"
#include "ctl_sessions.h"
#include "ctl_verify.h"
#include "ps_version.h"

#define CTL_TIMEOUT_MS	5000

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: plainsight-ctl [options] COMMAND\n"
		"\n"
		"commands:\n"
		"  status      data-plane state, ports, links, workers\n"
		"  stats       packet, byte and drop counters per port and reason\n"
		"  tools       tool ports, inline tools and their health\n"
		"  sessions    session records, searchable by SNI or certificate name\n"
		"              (sessions --help for its options)\n");
	ctl_policy_usage(f);
	ctl_bypass_usage(f);
	ctl_verify_usage(f);
	ctl_capture_usage(f);
	fprintf(f,
		"\n"
		"options:\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -j, --json          print the reply as JSON\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this text\n", CTL_DEFAULT_SOCKET);
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

static json_int_t
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
print_status(json_t *r)
{
	json_int_t up = num(r, "uptime_s");
	json_t *ports = json_object_get(r, "ports");
	json_t *workers = json_object_get(r, "workers");
	json_t *p;
	size_t i;

	printf("plainsight-dp %s  pid %" JSON_INTEGER_FORMAT "  %s  up %"
	       JSON_INTEGER_FORMAT "d %02" JSON_INTEGER_FORMAT ":%02"
	       JSON_INTEGER_FORMAT ":%02" JSON_INTEGER_FORMAT "\n",
	       str(r, "version"), num(r, "pid"), str(r, "state"),
	       up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
	printf("config %s\n\n", str(r, "config"));
	printf("%-12s %-11s %-5s %-16s %-10s %-4s %-12s %5s %3s/%-3s\n",
	       "PORT", "ROLE", "LINK", "DRIVER", "SEGMENT", "SIDE", "PEER",
	       "MTU", "RXQ", "TXQ");
	json_array_foreach(ports, i, p) {
		const char *group = str(p, "segment");

		if (strcmp(group, "-") == 0)
			group = str(p, "pair");
		printf("%-12s %-11s %-5s %-16s %-10s %-4s %-12s %5" JSON_INTEGER_FORMAT
		       " %3" JSON_INTEGER_FORMAT "/%-3" JSON_INTEGER_FORMAT "\n",
		       str(p, "name"), str(p, "role"), str(p, "link"),
		       str(p, "driver"), group, str(p, "side"), str(p, "peer"),
		       num(p, "mtu"), num(p, "rx_queues"), num(p, "tx_queues"));
	}
	printf("\nflow dispatch: %s\n", str(r, "dispatch"));
	printf("%zu worker(s):", json_array_size(workers));
	json_array_foreach(workers, i, p)
		printf(" lcore %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
		       " rx queues, busy %.1f %% since start)%s", num(p, "lcore"),
		       num(p, "rx_queues"),
		       up > 0 ? (double)num(p, "busy_us") / 1e4 / (double)up : 0.0,
		       i + 1 < json_array_size(workers) ? "," : "");
	printf("\n");
}

static void
print_counters(const char *title, json_t *obj)
{
	const char *key;
	json_t *v;
	bool any = false;

	printf("\n%s\n", title);
	json_object_foreach(obj, key, v) {
		const char *sub;
		json_t *sv;

		/* One level of nesting, e.g. tls.forge_cache.hits. */
		json_object_foreach(v, sub, sv) {
			int pad = 31 - (int)strlen(key);

			if (json_integer_value(sv) == 0)
				continue;
			printf("  %s.%-*s %15" JSON_INTEGER_FORMAT "\n", key,
			       pad > 0 ? pad : 1, sub, json_integer_value(sv));
			any = true;
		}
		if (json_integer_value(v) == 0)
			continue;
		printf("  %-32s %15" JSON_INTEGER_FORMAT "\n", key,
		       json_integer_value(v));
		any = true;
	}
	if (!any)
		printf("  (all zero)\n");
}

static void
print_stats(json_t *r)
{
	json_t *ports = json_object_get(r, "ports");
	json_t *p;
	size_t i;

	printf("%-12s %-5s %12s %15s %12s %15s %9s %9s %9s %9s\n", "PORT",
	       "LINK", "RX PKTS", "RX BYTES", "TX PKTS", "TX BYTES", "TX DROP",
	       "MISSED", "RX ERR", "TX ERR");
	json_array_foreach(ports, i, p)
		printf("%-12s %-5s %12" JSON_INTEGER_FORMAT " %15" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %15" JSON_INTEGER_FORMAT
		       " %9" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT
		       " %9" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT "\n",
		       str(p, "name"), str(p, "link"), num(p, "rx_packets"),
		       num(p, "rx_bytes"), num(p, "tx_packets"),
		       num(p, "tx_bytes"), num(p, "tx_dropped"),
		       num(p, "nic_rx_missed"), num(p, "nic_rx_errors"),
		       num(p, "nic_tx_errors"));
	print_counters("parser verdicts (non-zero):", json_object_get(r, "parser"));
	print_counters("bridge events (non-zero):", json_object_get(r, "bridge"));
	print_counters("flows (non-zero):", json_object_get(r, "flows"));
	print_counters("tcp endpoints of intercepted flows (non-zero):",
		       json_object_get(r, "tcp"));
	print_counters("tls interception (non-zero):", json_object_get(r, "tls"));
	print_counters("tool ports (non-zero):", json_object_get(r, "tools"));
	print_counters("policy rule hits:", json_object_get(json_object_get(r, "policy_rules"),
							   "policy"));
	print_counters("shadow rule hits (would have decided):",
		       json_object_get(json_object_get(r, "policy_rules"), "shadow"));
	print_counters("packet captures (non-zero):", json_object_get(r, "capture"));
}

static void
print_tools(json_t *r)
{
	json_t *t;
	size_t i;

	if (json_array_size(json_object_get(r, "out_of_band")) == 0) {
		printf("out-of-band tool ports: none\n");
	} else {
		printf("%-16s %10s %12s %14s %12s %8s\n", "OUT-OF-BAND", "FLOWS", "FRAMES", "BYTES",
		       "FRAMES LOST", "RESETS");
		json_array_foreach(json_object_get(r, "out_of_band"), i, t)
			printf("%-16s %10" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT " %14"
			       JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT " %8"
			       JSON_INTEGER_FORMAT "\n", str(t, "port"), num(t, "convs"),
			       num(t, "frames"), num(t, "bytes"), num(t, "frames_lost"),
			       num(t, "resets"));
	}
	if (json_array_size(json_object_get(r, "inline")) == 0) {
		printf("inline tools: none\n");
		return;
	}
	printf("%-16s %-12s %-12s %-6s %8s %10s %8s %14s %14s %12s %12s\n", "INLINE TOOL",
	       "PORT A", "PORT B", "HEALTH", "CHANGES", "FLOWS", "RESETS", "BYTES C->S",
	       "BYTES S->C", "FRAMES IN", "FRAMES OUT");
	json_array_foreach(json_object_get(r, "inline"), i, t)
		printf("%-16s %-12s %-12s %-6s %8" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %8" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT "\n",
		       str(t, "name"), str(t, "port_a"), str(t, "port_b"), str(t, "health"),
		       num(t, "health_changes"), num(t, "flows"), num(t, "resets"),
		       num(t, "bytes_client_to_server"), num(t, "bytes_server_to_client"),
		       num(t, "frames_into_tool"), num(t, "frames_out_of_tool"));
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CTL_DEFAULT_SOCKET;
	const char *cmd;
	json_t *reply;
	bool as_json = false;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+s:jVh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'V':
			printf("plainsight-ctl %s\n", PS_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "plainsight-ctl: %s: unknown option or "
				"missing argument (see --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "plainsight-ctl: no command given (see --help)\n");
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "sessions") == 0)
		return ctl_sessions_main(path, as_json, argc - optind, argv + optind);
	if (strcmp(cmd, "policy") == 0)
		return ctl_policy_main(path, as_json, argc - optind, argv + optind);
	if (strcmp(cmd, "bypass") == 0)
		return ctl_bypass_main(path, as_json, argc - optind, argv + optind);
	if (strcmp(cmd, "verify") == 0)
		return ctl_verify_main(as_json, argc - optind, argv + optind);
	if (strcmp(cmd, "capture") == 0)
		return ctl_capture_main(path, argc - optind, argv + optind);
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "stats") != 0 && strcmp(cmd, "tools") != 0) {
		fprintf(stderr, "plainsight-ctl: unknown command \"%s\" (expected status, stats, "
			"tools, sessions, policy, bypass, verify or capture)\n", cmd);
		return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "plainsight-ctl: %s takes no argument, got \"%s\"\n",
			cmd, argv[optind + 1]);
		return 2;
	}

	reply = ctl_call(path, json_pack("{s:s}", "cmd", cmd), CTL_TIMEOUT_MS);
	if (reply == NULL)
		return 1;
	if (as_json) {
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else if (strcmp(cmd, "status") == 0) {
		print_status(reply);
	} else if (strcmp(cmd, "tools") == 0) {
		print_tools(reply);
	} else {
		print_stats(reply);
	}
	json_decref(reply);
	return 0;
}
