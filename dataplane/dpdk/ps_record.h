/* SPDX-License-Identifier: BSD-3-Clause
 * Recording of decrypted conversations to rotated pcap files (ps_record.c).
 */
#ifndef PS_RECORD_H
#define PS_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_dp.h"

/* tool_port[] value of the recorder among the tools of ps_dp. */
#define PS_TOOL_PORT_RECORDER	UINT16_MAX

/*
 * Start the recorder thread and one ring per worker when recording.dir is
 * set (nothing otherwise). After ps_workers_create(), before the workers
 * run. One line into err on failure.
 */
int ps_record_start(struct ps_dp *dp, char *err, size_t errlen);

/* Stop the thread (pending frames are written), after the workers. */
void ps_record_stop(struct ps_dp *dp);

/* Worker: hand the frame m (consumed either way) to the recorder. */
bool ps_record_enqueue(struct ps_worker *w, struct rte_mbuf *m);

/* Frames and bytes written, files opened, write errors (any thread). */
void ps_record_stats(const struct ps_dp *dp, uint64_t *frames, uint64_t *bytes,
		     uint64_t *files, uint64_t *errors);

#endif /* PS_RECORD_H */
