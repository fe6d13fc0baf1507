/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl sessions: search the session records of the data plane,
 * live and recent, by SNI or certificate name.
 */
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

static void
print_table(json_t *reply)
{
	json_t *list = json_object_get(reply, "sessions"), *s;
	size_t i;

	printf("%-8s %-11s %-14s %-26s %-26s %-30s %-9s %12s %12s\n", "ID", "STATE",
	       "START", "CLIENT", "SERVER", "SNI", "TLS C/S", "BYTES C>S", "BYTES S>C");
	json_array_foreach(list, i, s) {
		char start[32], cli[64], srv[64], tls[32];

		hhmmss(iget(s, "start_ms"), start, sizeof(start));
		snprintf(cli, sizeof(cli), "%s:%d", sget(s, "client"), (int)iget(s, "client_port"));
		snprintf(srv, sizeof(srv), "%s:%d", sget(s, "server"), (int)iget(s, "server_port"));
		legs(s, tls, sizeof(tls));
		printf("%-8" JSON_INTEGER_FORMAT " %-11s %-14s %-26s %-26s %-30s %-9s %12"
		       JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT "\n",
		       iget(s, "id"), sget(s, "state"), start, cli, srv,
		       sget(s, "sni")[0] != '\0' ? sget(s, "sni") : "-", tls,
		       iget(s, "bytes_client_to_server"), iget(s, "bytes_server_to_client"));
	}
	printf("\n%zu shown; %" JSON_INTEGER_FORMAT " live, %" JSON_INTEGER_FORMAT
	       " closed since start\n", json_array_size(list), iget(reply, "live"),
	       iget(reply, "closed"));
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
	char err[512], *end;
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
	id = strtoll(argv[1], &end, 10);
	if (argv[1][0] == '\0' || *end != '\0' || id < 1) {
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
		"recent closed ones.\n"
		"\n"
		"  --sni GLOB     SNI matches GLOB (case-insensitive, e.g. '*.example.com')\n"
		"  --cert GLOB    the server certificate's CN or a DNS SAN matches GLOB\n"
		"  --kind KIND    tls, not-tls, smtp-starttls, imap-starttls, pop3-stls,\n"
		"                 ftp-auth-tls or http-connect\n"
		"  --id N         one session, shown in full\n"
		"  --live         live sessions only\n"
		"  --closed       closed sessions only\n"
		"  --limit N      at most N records (default 1000)\n"
		"\n"
		"usage: plainsight-ctl sessions export ID --pcap FILE\n"
		"\n"
		"Write session ID's decrypted conversation, as recorded (recording.dir),\n"
		"to FILE (pcap, mode 0600).\n");
}

int
ctl_sessions_main(const char *sock, bool as_json, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sni", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "kind", required_argument, NULL, 'k' },
		{ "id", required_argument, NULL, 'i' },
		{ "live", no_argument, NULL, 'L' },
		{ "closed", no_argument, NULL, 'C' },
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req, *reply = NULL;
	bool detail = false;
	char err[512], *end;
	long long v;
	int opt, rc;

	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return sessions_export(sock, argc - 1, argv + 1);
	req = json_pack("{s:s}", "cmd", "sessions");
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			json_object_set_new(req, "sni", json_string(optarg));
			break;
		case 'c':
			json_object_set_new(req, "cert", json_string(optarg));
			break;
		case 'k':
			json_object_set_new(req, "kind", json_string(optarg));
			break;
		case 'i':
		case 'n':
			v = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    (opt == 'n' && v > 100000)) {
				fprintf(stderr, "plainsight-ctl sessions: --%s: expected a positive "
					"integer%s, got \"%s\"\n", opt == 'i' ? "id" : "limit",
					opt == 'n' ? " up to 100000" : "", optarg);
				json_decref(req);
				return 2;
			}
			json_object_set_new(req, opt == 'i' ? "id" : "limit", json_integer(v));
			detail = detail || opt == 'i';
			break;
		case 'L':
			json_object_set_new(req, "live", json_true());
			break;
		case 'C':
			json_object_set_new(req, "closed", json_true());
			break;
		case 'h':
			usage(stdout);
			json_decref(req);
			return 0;
		default:
			fprintf(stderr, "plainsight-ctl sessions: %s: unknown option or missing "
				"argument (see sessions --help)\n", argv[optind - 1]);
			json_decref(req);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plainsight-ctl sessions: unexpected argument \"%s\"\n",
			argv[optind]);
		json_decref(req);
		return 2;
	}
	rc = ctl_request(sock, req, CTL_SESSIONS_TIMEOUT_MS, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "plainsight-ctl: %s\n", err);
		return 1;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "plainsight-ctl: data plane answered: %s\n", sget(reply, "error"));
		json_decref(reply);
		return 1;
	}
	if (as_json || detail) {
		json_t *out = as_json ? reply : json_array_get(json_object_get(reply, "sessions"), 0);

		if (out == NULL) {
			fprintf(stderr, "plainsight-ctl: no such session\n");
			json_decref(reply);
			return 1;
		}
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else {
		print_table(reply);
	}
	json_decref(reply);
	return 0;
}
