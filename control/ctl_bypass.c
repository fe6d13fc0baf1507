/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl bypass list|add|del: the automatic bypass list of the
 * data plane (servers that ask for client certificates, clients that pin
 * their servers' certificates), shown with each entry's reason, evidence
 * and expiry, and edited by the operator.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_bypass.h"
#include "ctl_client.h"

#define CTL_BYPASS_TIMEOUT_MS	10000

void
ctl_bypass_usage(FILE *f)
{
	fprintf(f, "  bypass      list: servers relayed untouched without an attempt, why,\n"
		   "              from which session, until when\n"
		   "              add SERVER PORT [--sni NAME] [--client IP] [--ttl S] [--reason T]\n"
		   "              del SERVER PORT [--sni NAME] [--client IP]\n");
}

static void
bypass_help(void)
{
	printf("usage: plainsight-ctl [--json] bypass list\n"
	       "       plainsight-ctl bypass add SERVER PORT [--sni NAME] [--client IP]\n"
	       "                                 [--ttl SECONDS] [--reason TEXT]\n"
	       "       plainsight-ctl bypass del SERVER PORT [--sni NAME] [--client IP]\n"
	       "\n"
	       "The data plane relays connections to a listed server (SNI and port; for\n"
	       "an entry with a client, only from that client) untouched, without trying\n"
	       "to intercept them. It learns entries itself (servers asking for a client\n"
	       "certificate; with tls.bypass_pinned_clients, clients refusing the forged\n"
	       "certificate); they expire after tls.bypass_ttl_s, or --ttl for an added one.\n");
}

static bool
is_addr(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static void
print_list(json_t *entries)
{
	json_t *e;
	size_t i;

	if (json_array_size(entries) == 0) {
		printf("bypass list: empty\n");
		return;
	}
	printf("%-39s %5s  %-30s %-16s %8s %9s  %s\n", "SERVER", "PORT", "SNI", "CLIENT",
	       "SESSION", "EXPIRES", "REASON");
	json_array_foreach(entries, i, e) {
		const char *cli = json_string_value(json_object_get(e, "client"));
		json_int_t sess = json_integer_value(json_object_get(e, "session"));
		char sbuf[24];

		snprintf(sbuf, sizeof(sbuf), "%" JSON_INTEGER_FORMAT, sess);
		printf("%-39s %5" JSON_INTEGER_FORMAT "  %-30s %-16s %8s %8" JSON_INTEGER_FORMAT
		       "s  %s\n", json_string_value(json_object_get(e, "server")),
		       json_integer_value(json_object_get(e, "port")),
		       json_string_value(json_object_get(e, "sni"))[0] != '\0' ?
		       json_string_value(json_object_get(e, "sni")) : "-",
		       cli != NULL ? cli : "any", sess > 0 ? sbuf : "-",
		       json_integer_value(json_object_get(e, "expires_in_s")),
		       json_string_value(json_object_get(e, "reason")));
	}
}

int
ctl_bypass_main(const char *sock, bool as_json, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sni", required_argument, NULL, 's' },
		{ "client", required_argument, NULL, 'c' },
		{ "ttl", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *sni = NULL, *client = NULL, *reason = NULL;
	long ttl = 0, port;
	json_t *req, *reply;
	char *end;
	int opt;

	if (argc < 2) {
		fprintf(stderr, "plainsight-ctl: bypass: no subcommand given "
			"(expected list, add or del)\n");
		return 2;
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		bypass_help();
		return 0;
	}
	if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0) {
		fprintf(stderr, "plainsight-ctl: unknown command \"bypass %s\" "
			"(expected list, add or del)\n", sub);
		return 2;
	}
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sni = optarg;
			break;
		case 'c':
			client = optarg;
			break;
		case 't':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || ttl < 1 || ttl > 365L * 86400) {
				fprintf(stderr, "plainsight-ctl: bypass: --ttl: expected seconds "
					"1..31536000, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'r':
			reason = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			bypass_help();
			return 0;
		default:
			fprintf(stderr, "plainsight-ctl: bypass %s: %s: unknown option or missing "
				"argument (see plainsight-ctl bypass --help)\n", sub, argv[optind - 1]);
			return 2;
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind < argc) {
			fprintf(stderr, "plainsight-ctl: bypass list takes no argument\n");
			return 2;
		}
		req = json_pack("{s:s}", "cmd", "bypass_list");
	} else {
		if (argc - optind != 2) {
			fprintf(stderr, "plainsight-ctl: bypass %s: expected SERVER PORT "
				"(see plainsight-ctl bypass --help)\n", sub);
			return 2;
		}
		if (!is_addr(argv[optind])) {
			fprintf(stderr, "plainsight-ctl: bypass %s: SERVER: expected an IPv4 or "
				"IPv6 address, got \"%s\"\n", sub, argv[optind]);
			return 2;
		}
		errno = 0;
		port = strtol(argv[optind + 1], &end, 10);
		if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
			fprintf(stderr, "plainsight-ctl: bypass %s: PORT: expected 1..65535, "
				"got \"%s\"\n", sub, argv[optind + 1]);
			return 2;
		}
		if (client != NULL && !is_addr(client)) {
			fprintf(stderr, "plainsight-ctl: bypass %s: --client: expected an IPv4 or "
				"IPv6 address, got \"%s\"\n", sub, client);
			return 2;
		}
		req = json_pack("{s:s, s:s, s:i}", "cmd", strcmp(sub, "add") == 0 ?
				"bypass_add" : "bypass_del", "server", argv[optind], "port", (int)port);
		if (req != NULL && sni != NULL)
			json_object_set_new(req, "sni", json_string(sni));
		if (req != NULL && client != NULL)
			json_object_set_new(req, "client", json_string(client));
		if (req != NULL && ttl > 0 && strcmp(sub, "add") == 0)
			json_object_set_new(req, "ttl_s", json_integer(ttl));
		if (req != NULL && reason != NULL && strcmp(sub, "add") == 0)
			json_object_set_new(req, "reason", json_string(reason));
	}
	reply = ctl_call(sock, req, CTL_BYPASS_TIMEOUT_MS);
	if (reply == NULL)
		return 1;
	if (as_json) {
		json_dumpf(strcmp(sub, "list") == 0 ? json_object_get(reply, "entries") : reply,
			   stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else if (strcmp(sub, "list") == 0) {
		print_list(json_object_get(reply, "entries"));
	} else {
		printf("bypass %s: %s port %s%s%s: done\n", sub, argv[optind], argv[optind + 1],
		       sni != NULL ? " sni " : "", sni != NULL ? sni : "");
	}
	json_decref(reply);
	return 0;
}
