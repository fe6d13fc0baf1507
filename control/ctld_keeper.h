/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: keeps the data plane running the operator's policy
 * file. The policy is applied when controld starts, again whenever the
 * data plane comes back (restarted: a new pid or an uptime that went
 * backwards; or reachable again after being unreachable), and whenever the file changes.
 * A refused policy is reported once and retried only when the file changes
 * or the data plane restarts, never in a loop.
 */
#ifndef CTLD_KEEPER_H
#define CTLD_KEEPER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

struct ctld_keeper {
	const char *sock;		/* data plane's control socket (borrowed) */
	char path[PATH_MAX];		/* policy file, absolute; "" for none */
	bool dp_up;			/* answered the last status */
	long long dp_pid;
	long long dp_uptime;		/* s, at the last status */
	bool file_seen;			/* last_stat is valid */
	bool file_missing_told;
	struct stat last_stat;
	bool need_apply;
	unsigned long applies;		/* successful applies, for the log and tests */
};

/*
 * Set k up for the data plane at sock (borrowed, must outlive k) and the
 * policy file path (NULL: only watch the data plane). A relative path is
 * made absolute against the working directory, as the data plane needs.
 * Returns 0 or a negative errno.
 */
int ctld_keeper_init(struct ctld_keeper *k, const char *sock, const char *path);

/*
 * One round: ask the data plane's status, look at the file, apply when due.
 * Blocks for at most about timeout_ms per request (two at most). Called
 * from controld's loop about once a second.
 */
void ctld_keeper_tick(struct ctld_keeper *k, int timeout_ms);

#endif /* CTLD_KEEPER_H */
