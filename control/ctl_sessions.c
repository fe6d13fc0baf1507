/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl sessions: search the session records of the data plane,
 * live and recent, by host name, addresses, port or policy decision; show
 * one in full; export one's recorded frames.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <jansson.h>

#include "ctl_client.h"
#include "ctl_sessions.h"

#define CTL_SESSIONS_TIMEOUT_MS	10000

static const char *
sget(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static json_int_t
iget(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
hhmmss(json_int_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL || strftime(out, len, "%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, len, "-");
}

/* "1.3/1.2" with R for resumed legs; "-" when no leg came up. */
static void
legs(json_t *s, char *out, size_t len)
{
	json_t *c = json_object_get(s, "client_leg"), *u = json_object_get(s, "server_leg");
	const char *cv = sget(c, "version"), *uv = sget(u, "version");

	if (c == NULL && u == NULL) {
		snprintf(out, len, "-");
		return;
	}
	snprintf(out, len, "%s%s/%s%s", cv[0] != '\0' ? cv + 4 : "-",
		 json_is_true(json_object_get(c, "resumed")) ? "R" : "",
		 uv[0] != '\0' ? uv + 4 : "-",
		 json_is_true(json_object_get(u, "resumed")) ? "R" : "");
}

/* "addr:port", "[v6addr]:port". */
static void
endpoint(json_t *s, const char *addr_key, const char *port_key, char *out, size_t len)
{
	const char *a = sget(s, addr_key);

	snprintf(out, len, strchr(a, ':') != NULL ? "[%s]:%d" : "%s:%d", a,
		 (int)iget(s, port_key));
}

static const char *
or_dash(const char *s)
{
	return s[0] != '\0' ? s : "-";
}

static void
print_table(json_t *reply)
{
	json_t *list = json_object_get(reply, "sessions"), *s;
	size_t i;

	printf("%-8s %-11s %-8s %-14s %-26s %-26s %-30s %-9s %12s %12s %s\n", "ID", "STATE",
	       "ACTION", "START", "CLIENT", "SERVER", "SNI", "TLS C/S", "BYTES C>S",
	       "BYTES S>C", "RULE");
	json_array_foreach(list, i, s) {
		char start[32], cli[64], srv[64], tls[32];

		hhmmss(iget(s, "start_ms"), start, sizeof(start));
		endpoint(s, "client", "client_port", cli, sizeof(cli));
		endpoint(s, "server", "server_port", srv, sizeof(srv));
		legs(s, tls, sizeof(tls));
		printf("%-8" JSON_INTEGER_FORMAT " %-11s %-8s %-14s %-26s %-26s %-30s %-9s %12"
		       JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT " %s\n",
		       iget(s, "id"), sget(s, "state"), or_dash(sget(s, "action")), start, cli,
		       srv, or_dash(sget(s, "sni")), tls, iget(s, "bytes_client_to_server"),
		       iget(s, "bytes_server_to_client"), or_dash(sget(s, "rule")));
	}
	printf("\n%zu shown; %" JSON_INTEGER_FORMAT " live, %" JSON_INTEGER_FORMAT
	       " closed since start\n", json_array_size(list), iget(reply, "live"),
	       iget(reply, "closed"));
}

/* ---- sessions show ID ---- */

/* One line "key: value" per member, nested objects as "parent.key". */
static void
print_member(const char *prefix, const char *key, json_t *v)
{
	char name[96], when[32];
	const char *k;
	json_t *sub;

	snprintf(name, sizeof(name), "%s%s", prefix, key);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		snprintf(name, sizeof(name), "%s%s.", prefix, key);
		json_object_foreach(v, k, sub)
			print_member(name, k, sub);
		return;
	case JSON_STRING:
		printf("%-24s %s\n", strcat(name, ":"), json_string_value(v));
		return;
	case JSON_INTEGER:
		if (strcmp(key, "start_ms") == 0 || strcmp(key, "end_ms") == 0) {
			hhmmss(json_integer_value(v), when, sizeof(when));
			printf("%-24s %" JSON_INTEGER_FORMAT " (%s)\n", strcat(name, ":"),
			       json_integer_value(v), when);
			return;
		}
		printf("%-24s %" JSON_INTEGER_FORMAT "\n", strcat(name, ":"),
		       json_integer_value(v));
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		printf("%-24s %s\n", strcat(name, ":"), json_is_true(v) ? "yes" : "no");
		return;
	default:
		break;
	}
	{
		char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		printf("%-24s %s\n", strcat(name, ":"), text != NULL ? text : "?");
		free(text);
	}
}

/*
 * The whole record, in a fixed order for the members every record may
 * have (the connection, then TLS, the certificate, then the policy), then
 * any other member the data plane sends, so that none is ever hidden.
 */
static void
print_record(json_t *s)
{
	static const char *const order[] = {
		"id", "state", "live", "kind", "start_ms", "end_ms", "ingress", "vlan",
		"client", "client_port", "server", "server_port", "sni", "connect_host",
		"alpn", "client_leg", "server_leg", "server_cert", "validation",
		"bytes_client_to_server", "bytes_server_to_client", "close_reason",
		"action", "decided_at", "rule", "policy_version", "shadow_rule",
		"shadow_action", "tools",
	};
	json_t *rest = json_deep_copy(s), *v;
	const char *key;
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		v = json_object_get(s, order[i]);
		if (v == NULL)
			continue;
		print_member("", order[i], v);
		json_object_del(rest, order[i]);
	}
	json_object_foreach(rest, key, v)
		print_member("", key, v);
	json_decref(rest);
}

/* Parse a session ID; 0 when text is not a positive integer. */
static long long
parse_id(const char *text)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || id < 1)
		return 0;
	return id;
}

/*
 * Send req (consumed) and get a successful reply; 0, or 1 with the reason
 * printed (the data plane unreachable, or it answered an error).
 */
static int
ask(const char *sock, json_t *req, json_t **reply)
{
	char err[512];
	int rc;

	*reply = NULL;
	rc = ctl_request(sock, req, CTL_SESSIONS_TIMEOUT_MS, reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "plainsight-ctl: %s\n", err);
		return 1;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		fprintf(stderr, "plainsight-ctl: data plane answered: %s\n", sget(*reply, "error"));
		json_decref(*reply);
		*reply = NULL;
		return 1;
	}
	return 0;
}

static int
sessions_show(const char *sock, bool as_json, int argc, char **argv)
{
	json_t *req, *reply, *s;
	long long id;

	/* argv: show ID */
	if (argc != 2) {
		fprintf(stderr, "usage: plainsight-ctl [--json] sessions show ID\n");
		return 2;
	}
	id = parse_id(argv[1]);
	if (id == 0) {
		fprintf(stderr, "plainsight-ctl sessions show: ID: expected a positive integer, "
			"got \"%s\"\n", argv[1]);
		return 2;
	}
	req = json_pack("{s:s, s:I}", "cmd", "sessions", "id", (json_int_t)id);
	if (ask(sock, req, &reply) != 0)
		return 1;
	s = json_array_get(json_object_get(reply, "sessions"), 0);
	if (s == NULL) {
		fprintf(stderr, "plainsight-ctl: no session %lld (not live, nor among the "
			"recent closed ones kept)\n", id);
		json_decref(reply);
		return 1;
	}
	if (as_json) {
		json_dumpf(s, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else {
		print_record(s);
	}
	json_decref(reply);
	return 0;
}

/* ---- sessions export ID --pcap FILE ---- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Copy every recorded frame of session s (its addresses and ports, within
 * its lifetime) from the recordings in dir into out. Returns the number of
 * frames, or -1 with a message printed.
 */
static long
export_frames(json_t *s, const char *dir, pcap_dumper_t *out)
{
	json_int_t start = iget(s, "start_ms") - 1000;
	json_int_t end = json_object_get(s, "end_ms") != NULL ? iget(s, "end_ms") + 1000 :
			 (json_int_t)time(NULL) * 1000 + 1000;
	char filter[256], errbuf[PCAP_ERRBUF_SIZE], *names[4096];
	unsigned int n = 0, i;
	struct dirent *de;
	long frames = 0;
	DIR *d;

	snprintf(filter, sizeof(filter), "tcp and host %s and host %s and port %d and port %d",
		 sget(s, "client"), sget(s, "server"), (int)iget(s, "client_port"),
		 (int)iget(s, "server_port"));
	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "plainsight-ctl: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < 4096) {
		size_t len = strlen(de->d_name);

		if (strncmp(de->d_name, "plainsight-", 11) == 0 && len > 5 &&
		    strcmp(de->d_name + len - 5, ".pcap") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		struct bpf_program prog;
		struct pcap_pkthdr *h;
		const u_char *data;
		char path[8192];
		pcap_t *in;

		if (names[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		free(names[i]);
		in = pcap_open_offline(path, errbuf);
		if (in == NULL)
			continue;	/* being rotated away, or truncated: skip it */
		if (pcap_compile(in, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0) {
			if (pcap_setfilter(in, &prog) == 0) {
				while (pcap_next_ex(in, &h, &data) == 1) {
					json_int_t ms = (json_int_t)h->ts.tv_sec * 1000 +
							h->ts.tv_usec / 1000;

					if (ms < start || ms > end)
						continue;
					pcap_dump((u_char *)out, h, data);
					frames++;
				}
			}
			pcap_freecode(&prog);
		}
		pcap_close(in);
	}
	return frames;
}

static int
sessions_export(const char *sock, int argc, char **argv)
{
	const char *file = NULL, *dir;
	json_t *req, *reply = NULL, *s;
	char err[512];
	pcap_dumper_t *out;
	pcap_t *dead;
	long long id;
	long frames;
	FILE *f;
	int fd, rc;

	/* argv: export ID --pcap FILE */
	if (argc != 4 || strcmp(argv[2], "--pcap") != 0) {
		fprintf(stderr, "usage: plainsight-ctl sessions export ID --pcap FILE\n");
		return 2;
	}
	id = parse_id(argv[1]);
	if (id == 0) {
		fprintf(stderr, "plainsight-ctl sessions export: ID: expected a positive integer, "
			"got \"%s\"\n", argv[1]);
		return 2;
	}
	file = argv[3];
	req = json_pack("{s:s, s:I}", "cmd", "sessions", "id", (json_int_t)id);
	rc = ctl_request(sock, req, CTL_SESSIONS_TIMEOUT_MS, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "plainsight-ctl: %s\n", err);
		return 1;
	}
	s = json_array_get(json_object_get(reply, "sessions"), 0);
	dir = sget(reply, "recording_dir");
	if (!json_is_true(json_object_get(reply, "ok")) || s == NULL) {
		fprintf(stderr, "plainsight-ctl: no session %lld%s%s\n", id,
			json_object_get(reply, "error") != NULL ? ": " : "", sget(reply, "error"));
		json_decref(reply);
		return 1;
	}
	if (dir[0] == '\0') {
		fprintf(stderr, "plainsight-ctl: recording is off (recording.dir): nothing to export\n");
		json_decref(reply);
		return 1;
	}
	/* Plaintext: the export is private to its owner. */
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	dead = pcap_open_dead(DLT_EN10MB, 65535);
	out = f != NULL && dead != NULL ? pcap_dump_fopen(dead, f) : NULL;
	if (out == NULL) {
		fprintf(stderr, "plainsight-ctl: %s: cannot write: %s\n", file, strerror(errno));
		if (f != NULL)
			fclose(f);
		else if (fd >= 0)
			close(fd);
		if (dead != NULL)
			pcap_close(dead);
		json_decref(reply);
		return 1;
	}
	frames = export_frames(s, dir, out);
	pcap_dump_close(out);
	pcap_close(dead);
	if (frames == 0)
		fprintf(stderr, "plainsight-ctl: session %lld: no recorded frames (not decrypted, "
			"or its recording was rotated away)\n", id);
	else if (frames > 0)
		printf("session %lld: %ld frames written to %s\n", id, frames, file);
	json_decref(reply);
	return frames > 0 ? 0 : 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: plainsight-ctl [--socket PATH] [--json] sessions [OPTIONS]\n"
		"\n"
		"Session records of intercepted flows, live ones first, then the most\n"
		"recent closed ones. Every option given must match.\n"
		"\n"
		"  --sni GLOB      the SNI, the server certificate's CN or one of its DNS\n"
		"                  SANs matches GLOB (case-insensitive, e.g. '*.example.com')\n"
		"  --cert GLOB     the server certificate's CN or a DNS SAN matches GLOB\n"
		"  --src CIDR      client address in CIDR (IPv4 or IPv6, a bare address: one host)\n"
		"  --dst CIDR      server address in CIDR\n"
		"  --port N        server port N\n"
		"  --action ACTION policy action taken: decrypt, bypass, reject or drop\n"
		"  --rule NAME     decided by policy rule NAME (exact)\n"
		"  --kind KIND     tls, not-tls, smtp-starttls, imap-starttls, pop3-stls,\n"
		"                  ftp-auth-tls or http-connect\n"
		"  --id N          session N\n"
		"  --live          live sessions only\n"
		"  --closed        closed sessions only\n"
		"  --all           both (the default)\n"
		"  --limit N       at most N records (default 1000, up to 10000)\n"
		"\n"
		"usage: plainsight-ctl [--json] sessions show ID\n"
		"\n"
		"Session ID's whole record; exit 1 if it is neither live nor kept.\n"
		"\n"
		"usage: plainsight-ctl sessions export ID --pcap FILE\n"
		"\n"
		"Write session ID's decrypted conversation, as recorded (recording.dir),\n"
		"to FILE (pcap, mode 0600).\n");
}

/* ADDRESS or ADDRESS/LENGTH, IPv4 or IPv6: what the data plane will take. */
static bool
cidr_ok(const char *text)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned char addr[16];
	long len, max;

	if (strlen(text) >= sizeof(buf))
		return false;
	memcpy(buf, text, strlen(text) + 1);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		max = 128;
	else
		return false;
	if (slash == NULL)
		return true;
	if (slash[1] < '0' || slash[1] > '9')
		return false;
	len = strtol(slash + 1, &end, 10);
	return *end == '\0' && len <= max;
}

/* Check one option's argument; the message, or NULL when it is good. */
static const char *
check_arg(int opt, const char *arg, long long *num)
{
	static const char *const actions[] = { "decrypt", "bypass", "reject", "drop" };
	size_t i;

	if (arg[0] == '\0')
		return "expected a non-empty value";
	switch (opt) {
	case 'S':
	case 'D':
		return cidr_ok(arg) ? NULL : "expected an IPv4 or IPv6 address or prefix "
			"ADDRESS[/LENGTH], e.g. 10.0.0.0/8 or 2001:db8::/32";
	case 'a':
		for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
			if (strcmp(arg, actions[i]) == 0)
				return NULL;
		return "expected decrypt, bypass, reject or drop";
	case 'i':
		*num = parse_id(arg);
		return *num != 0 ? NULL : "expected a positive integer";
	case 'n':
		*num = parse_id(arg);
		return *num != 0 && *num <= 10000 ? NULL : "expected an integer 1..10000";
	case 'p':
		*num = parse_id(arg);
		return *num != 0 && *num <= 65535 ? NULL : "expected a port number 1..65535";
	default:
		return NULL;
	}
}

int
ctl_sessions_main(const char *sock, bool as_json, int argc, char **argv)
{
	/* Options with an argument, and the request member each sets. */
	static const struct option opts[] = {
		{ "sni", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "src", required_argument, NULL, 'S' },
		{ "dst", required_argument, NULL, 'D' },
		{ "port", required_argument, NULL, 'p' },
		{ "action", required_argument, NULL, 'a' },
		{ "rule", required_argument, NULL, 'r' },
		{ "kind", required_argument, NULL, 'k' },
		{ "id", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'n' },
		{ "live", no_argument, NULL, 'L' },
		{ "closed", no_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		int opt;
		const char *member;
	} members[] = {
		/* --sni searches every name a server goes by: "host". */
		{ 's', "host" }, { 'c', "cert" }, { 'S', "src" }, { 'D', "dst" },
		{ 'p', "port" }, { 'a', "action" }, { 'r', "rule" }, { 'k', "kind" },
		{ 'i', "id" }, { 'n', "limit" }, { 'L', "live" }, { 'C', "closed" },
		{ 'A', "all" },
	};
	json_t *req, *reply;
	const char *why;
	long long num;
	size_t m;
	int opt, idx;

	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return sessions_export(sock, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return sessions_show(sock, as_json, argc - 1, argv + 1);
	req = json_pack("{s:s}", "cmd", "sessions");
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			json_decref(req);
			return 0;
		}
		for (m = 0; m < sizeof(members) / sizeof(members[0]); m++)
			if (members[m].opt == opt)
				break;
		if (m == sizeof(members) / sizeof(members[0])) {
			fprintf(stderr, "plainsight-ctl sessions: %s: unknown option or missing "
				"argument (see sessions --help)\n", argv[optind - 1]);
			json_decref(req);
			return 2;
		}
		if (opts[idx].has_arg == no_argument) {
			json_object_set_new(req, members[m].member, json_true());
			continue;
		}
		num = 0;
		why = check_arg(opt, optarg, &num);
		if (why != NULL) {
			fprintf(stderr, "plainsight-ctl sessions: --%s: %s, got \"%s\"\n",
				opts[idx].name, why, optarg);
			json_decref(req);
			return 2;
		}
		json_object_set_new(req, members[m].member,
				    num != 0 ? json_integer(num) : json_string(optarg));
	}
	if (optind < argc) {
		fprintf(stderr, "plainsight-ctl sessions: unexpected argument \"%s\"\n",
			argv[optind]);
		json_decref(req);
		return 2;
	}
	if (ask(sock, req, &reply) != 0)
		return 1;
	if (as_json) {
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else {
		print_table(reply);
	}
	json_decref(reply);
	return 0;
}
