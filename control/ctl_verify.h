/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl verify: would the data plane accept this server chain for
 * this name at this time, judged offline by the data plane's own validator.
 */
#ifndef CTL_VERIFY_H
#define CTL_VERIFY_H

#include <stdbool.h>
#include <stdio.h>

/* The command's lines of the main usage text. */
void ctl_verify_usage(FILE *f);

/*
 * argv[0] is "verify". Needs no data plane. Exit status: 0 accepted,
 * 1 refused (or a file could not be read), 2 usage.
 */
int ctl_verify_main(bool as_json, int argc, char **argv);

#endif /* CTL_VERIFY_H */
