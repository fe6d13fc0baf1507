/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl bypass: the data plane's automatic bypass list.
 */
#ifndef CTL_BYPASS_H
#define CTL_BYPASS_H

#include <stdbool.h>
#include <stdio.h>

/* The command's lines of the main usage text. */
void ctl_bypass_usage(FILE *f);

/* argv[0] is "bypass". Exit status: 0, 1 (failed), 2 (usage). */
int ctl_bypass_main(const char *sock, bool as_json, int argc, char **argv);

#endif /* CTL_BYPASS_H */
