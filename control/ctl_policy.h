/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl policy ...: policy commands that need no data plane.
 */
#ifndef CTL_POLICY_H
#define CTL_POLICY_H

#include <stdbool.h>
#include <stdio.h>

/* The lines of plainsight-ctl's usage text for the policy commands. */
void ctl_policy_usage(FILE *f);

/*
 * Run "policy SUBCOMMAND ARGS..." (argv[0] is "policy"); as_json when the
 * global --json was given. Needs no data plane and no control socket.
 * Prints results to stdout, usage and read errors to stderr. Returns the
 * process exit code: 0 the policy is valid, 1 it is not or cannot be read,
 * 2 usage error. Main thread; uses getopt.
 */
int ctl_policy_main(const char *sock, bool as_json, int argc, char **argv);

#endif /* CTL_POLICY_H */
