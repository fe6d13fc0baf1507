/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl capture: asks the data plane for a capture
 * (capture_start), then polls capture_status until it ends, and prints
 * what was written. The data plane writes the file itself, so the frames
 * never cross the control socket; the ctl only names the file (made
 * absolute here, as the data plane's working directory is not ours).
 * Interrupted, it asks the data plane to stop the capture, which then
 * completes the file with what it has.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_capture.h"
#include "ctl_client.h"

#define CTL_CAPTURE_TIMEOUT_MS	5000
#define CTL_CAPTURE_POLL_MS	200
#define CTL_CAPTURE_GRACE_S	15	/* past --seconds before giving up waiting */

static volatile sig_atomic_t interrupted;

void
ctl_capture_usage(FILE *f)
{
	fprintf(f, "  capture     --port NAME [--host IP] [--tcp-port N] [--count N]\n"
		   "              [--seconds S] -w FILE: a pcap of a port for support cases\n");
}

static void
capture_help(void)
{
	printf("usage: plainsight-ctl capture --port NAME [--host IP] [--tcp-port N]\n"
	       "                              [--count N] [--seconds S] -w FILE\n"
	       "\n"
	       "The data plane writes the frames its port NAME receives and sends to\n"
	       "FILE (classic pcap, mode 0600, never overwriting a file) until N frames\n"
	       "or S seconds, whichever comes first. One capture at a time.\n"
	       "\n"
	       "  --port NAME     a port of the configuration (net-a, ...)\n"
	       "  --host IP       only IPv4/IPv6 packets from or to IP\n"
	       "  --tcp-port N    only TCP or UDP segments from or to port N\n"
	       "  --count N       frames to write, 1..100000 (default 1000)\n"
	       "  --seconds S     longest capture, 1..300 (default 10)\n"
	       "  -w FILE         the pcap file, written by the data plane\n"
	       "\n"
	       "Exit status: 0 written, 1 refused or failed, 2 usage.\n");
}

static void
on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* An integer option in lo..hi, or -1 after a message. */
static long
int_arg(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "plainsight-ctl: capture: %s: expected %ld..%ld, got \"%s\"\n",
			opt, lo, hi, s);
		return -1;
	}
	return v;
}

/* The path as the data plane must see it: absolute. */
static int
absolute(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -ENAMETOOLONG;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -errno;
	return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -ENAMETOOLONG;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Ask the data plane to stop capture id; errors do not matter (it may have ended). */
static void
request_stop(const char *sock, json_int_t id)
{
	json_t *req = json_pack("{s:s, s:I}", "cmd", "capture_stop", "id", id);
	json_t *reply = NULL;
	char err[256];

	if (ctl_request(sock, req, CTL_CAPTURE_TIMEOUT_MS, &reply, err, sizeof(err)) == 0)
		json_decref(reply);
	json_decref(req);
}

/* Poll until capture id is done; its last status, or NULL after a message. */
static json_t *
wait_done(const char *sock, json_int_t id, long seconds)
{
	const long limit_ms = (seconds + CTL_CAPTURE_GRACE_S) * 1000;
	bool stop_sent = false;
	long waited = 0;

	for (;;) {
		json_t *st;
		const char *state;

		if (interrupted && !stop_sent) {
			fprintf(stderr, "plainsight-ctl: capture: interrupted, stopping the "
				"capture\n");
			request_stop(sock, id);
			stop_sent = true;
		}
		st = ctl_call(sock, json_pack("{s:s}", "cmd", "capture_status"),
			      CTL_CAPTURE_TIMEOUT_MS);
		if (st == NULL)
			return NULL;
		state = json_string_value(json_object_get(st, "state"));
		if (json_integer_value(json_object_get(st, "id")) != id || state == NULL ||
		    strcmp(state, "idle") == 0) {
			fprintf(stderr, "plainsight-ctl: capture: the data plane no longer "
				"knows capture %" JSON_INTEGER_FORMAT " (restarted?)\n", id);
			json_decref(st);
			return NULL;
		}
		if (strcmp(state, "done") == 0)
			return st;
		json_decref(st);
		if (waited > limit_ms && !stop_sent) {
			/* The data plane should have ended it by now: ask once. */
			request_stop(sock, id);
			stop_sent = true;
		} else if (waited > limit_ms + 10000) {
			fprintf(stderr, "plainsight-ctl: capture: no end after %ld s\n",
				waited / 1000);
			return NULL;
		}
		nap_ms(CTL_CAPTURE_POLL_MS);
		waited += CTL_CAPTURE_POLL_MS;
	}
}

int
ctl_capture_main(const char *sock, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "tcp-port", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "write", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *port = NULL, *host = NULL, *file = NULL;
	long count = 1000, seconds = 10, l4port = -1;
	char path[PATH_MAX];
	unsigned char addr[16];
	json_t *req, *reply = NULL, *st;
	struct sigaction sa;
	char err[512];
	json_int_t id;
	int opt, rc;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "w:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = optarg;
			break;
		case 'H':
			if (inet_pton(AF_INET, optarg, addr) != 1 &&
			    inet_pton(AF_INET6, optarg, addr) != 1) {
				fprintf(stderr, "plainsight-ctl: capture: --host: expected an "
					"IPv4 or IPv6 address, got \"%s\"\n", optarg);
				return 2;
			}
			host = optarg;
			break;
		case 't':
			if ((l4port = int_arg("--tcp-port", optarg, 1, 65535)) < 0)
				return 2;
			break;
		case 'c':
			if ((count = int_arg("--count", optarg, 1, 100000)) < 0)
				return 2;
			break;
		case 's':
			if ((seconds = int_arg("--seconds", optarg, 1, 300)) < 0)
				return 2;
			break;
		case 'w':
			file = optarg;
			break;
		case 'h':
			capture_help();
			return 0;
		default:
			fprintf(stderr, "plainsight-ctl: capture: %s: unknown option or missing "
				"argument (see capture --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plainsight-ctl: capture: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	if (port == NULL || file == NULL || file[0] == '\0') {
		fprintf(stderr, "plainsight-ctl: capture: --port NAME and -w FILE are required\n");
		return 2;
	}
	if (absolute(file, path, sizeof(path)) < 0) {
		fprintf(stderr, "plainsight-ctl: capture: -w %s: path too long\n", file);
		return 2;
	}

	req = json_pack("{s:s, s:s, s:I, s:I, s:s}", "cmd", "capture_start", "port", port,
			"count", (json_int_t)count, "seconds", (json_int_t)seconds, "path", path);
	if (host != NULL)
		json_object_set_new(req, "host", json_string(host));
	if (l4port > 0)
		json_object_set_new(req, "tcp_port", json_integer(l4port));
	rc = ctl_request(sock, req, CTL_CAPTURE_TIMEOUT_MS, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "plainsight-ctl: %s\n", err);
		return 1;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		fprintf(stderr, "plainsight-ctl: capture: %s\n", e != NULL ? e : "refused");
		rc = json_is_true(json_object_get(reply, "bad_request")) ? 2 : 1;
		json_decref(reply);
		return rc;
	}
	id = json_integer_value(json_object_get(reply, "id"));
	json_decref(reply);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "capturing on %s", port);
	if (host != NULL)
		fprintf(stderr, ", host %s", host);
	if (l4port > 0)
		fprintf(stderr, ", port %ld", l4port);
	fprintf(stderr, " (up to %ld frames, %ld s) to %s ...\n", count, seconds, path);

	st = wait_done(sock, id, seconds);
	if (st == NULL)
		return 1;
	printf("%" JSON_INTEGER_FORMAT " frames written to %s (%" JSON_INTEGER_FORMAT
	       " dropped)\n", json_integer_value(json_object_get(st, "written")), path,
	       json_integer_value(json_object_get(st, "dropped")));
	rc = strcmp(json_string_value(json_object_get(st, "ended_by")), "write_error") == 0;
	if (rc)
		fprintf(stderr, "plainsight-ctl: capture: writing %s failed\n", path);
	json_decref(st);
	return rc;
}
