/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl capture: a short packet capture of a port, or of one
 * host or port on it, written to a pcap file by the data plane.
 */
#ifndef CTL_CAPTURE_H
#define CTL_CAPTURE_H

#include <stdio.h>

/* The command's lines of the main usage text. */
void ctl_capture_usage(FILE *f);

/*
 * argv[0] is "capture". Waits for the capture to end. Exit status: 0 the
 * file was written, 1 refused or failed, 2 usage.
 */
int ctl_capture_main(const char *sock, int argc, char **argv);

#endif /* CTL_CAPTURE_H */
