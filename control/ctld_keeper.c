/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: the policy keeper (ctld_keeper.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_client.h"
#include "ctld_keeper.h"

/* Uptime is in whole seconds of the wall clock: allow for rounding. */
#define UPTIME_SLACK_S	2

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("plainsight-controld: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int
ctld_keeper_init(struct ctld_keeper *k, const char *sock, const char *path)
{
	char cwd[PATH_MAX];

	memset(k, 0, sizeof(*k));
	k->sock = sock;
	if (path == NULL || path[0] == '\0')
		return 0;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(k->path))
			return -ENAMETOOLONG;
		snprintf(k->path, sizeof(k->path), "%s", path);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -errno;
		size_t cl = strlen(cwd), pl = strlen(path);

		if (cl + 1 + pl >= sizeof(k->path))
			return -ENAMETOOLONG;
		memcpy(k->path, cwd, cl);
		k->path[cl] = '/';
		memcpy(k->path + cl + 1, path, pl + 1);
	}
	k->need_apply = true;
	return 0;
}

/* Ask status; note a restart or a return. false: data plane unreachable. */
static bool
probe(struct ctld_keeper *k, int timeout_ms)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *reply = NULL;
	long long pid, uptime;
	char err[256];
	int rc;

	if (req == NULL)
		return k->dp_up;
	rc = ctl_request(k->sock, req, timeout_ms, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0 || !json_is_true(json_object_get(reply, "ok"))) {
		if (k->dp_up)
			say("data plane unreachable: %s", rc < 0 ? err : "status refused");
		json_decref(reply);
		k->dp_up = false;
		return false;
	}
	pid = json_integer_value(json_object_get(reply, "pid"));
	uptime = json_integer_value(json_object_get(reply, "uptime_s"));
	/* Unreachable and back, another pid, or an uptime that went backwards:
	 * a data plane that has not been given the policy. */
	if (!k->dp_up || pid != k->dp_pid || uptime + UPTIME_SLACK_S < k->dp_uptime) {
		if (k->dp_pid == 0)
			say("data plane running (pid %lld)", pid);
		else
			say("data plane %s (pid %lld, up %lld s)", pid != k->dp_pid ||
			    uptime + UPTIME_SLACK_S < k->dp_uptime ? "restarted" : "reachable again",
			    pid, uptime);
		if (k->path[0] != '\0')
			k->need_apply = true;
	}
	k->dp_up = true;
	k->dp_pid = pid;
	k->dp_uptime = uptime;
	json_decref(reply);
	return true;
}

/* Did the file change since it was last seen? Waits for a writer to finish. */
static bool
file_changed(struct ctld_keeper *k)
{
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
	struct stat st;

	if (stat(k->path, &st) < 0) {
		if (!k->file_missing_told)
			say("policy %s: %s (waiting for it)", k->path, strerror(errno));
		k->file_missing_told = true;
		k->file_seen = false;
		return false;
	}
	k->file_missing_told = false;
	if (k->file_seen && st.st_mtim.tv_sec == k->last_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == k->last_stat.st_mtim.tv_nsec &&
	    st.st_size == k->last_stat.st_size && st.st_ino == k->last_stat.st_ino)
		return false;
	/* An editor writes in several steps: read what it left once it settles. */
	nanosleep(&pause, NULL);
	if (stat(k->path, &st) < 0)
		return false;
	k->last_stat = st;
	k->file_seen = true;
	return true;
}

static void
apply(struct ctld_keeper *k, int timeout_ms)
{
	json_t *req, *reply = NULL, *e;
	char err[256];
	size_t i;
	int rc;

	req = json_pack("{s:s, s:s}", "cmd", "policy_apply", "path", k->path);
	if (req == NULL)
		return;
	rc = ctl_request(k->sock, req, timeout_ms, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		/* Transport: keep need_apply, the next round tries again. */
		say("policy %s: not applied: %s", k->path, err);
		return;
	}
	k->need_apply = false;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *msg = json_string_value(json_object_get(reply, "error"));

		say("policy %s refused: %s", k->path, msg != NULL ? msg : "(no reason given)");
		json_array_foreach(json_object_get(reply, "errors"), i, e)
			say("  %s", json_string_value(e) != NULL ? json_string_value(e) : "?");
		json_decref(reply);
		return;
	}
	k->applies++;
	say("policy %s applied (%lld rules, generation %lld)", k->path,
	    (long long)json_integer_value(json_object_get(reply, "rules")),
	    (long long)json_integer_value(json_object_get(reply, "generation")));
	json_array_foreach(json_object_get(reply, "warnings"), i, e)
		say("  warning: %s", json_string_value(e) != NULL ? json_string_value(e) : "?");
	json_decref(reply);
}

void
ctld_keeper_tick(struct ctld_keeper *k, int timeout_ms)
{
	bool up = probe(k, timeout_ms);

	if (k->path[0] == '\0')
		return;
	if (file_changed(k))
		k->need_apply = true;
	if (up && k->need_apply && k->file_seen)
		apply(k, timeout_ms);
}
