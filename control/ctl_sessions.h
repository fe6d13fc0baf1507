/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl sessions: search the data plane's session records.
 */
#ifndef CTL_SESSIONS_H
#define CTL_SESSIONS_H

#include <stdbool.h>

/*
 * Run "sessions" with its own options: argv[0] is "sessions". sock: the
 * data plane's control socket; as_json: print the raw reply. Returns the
 * process exit status (0 ok, 1 failure, 2 usage).
 */
int ctl_sessions_main(const char *sock, bool as_json, int argc, char **argv);

#endif /* CTL_SESSIONS_H */
