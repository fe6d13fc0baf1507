/* SPDX-License-Identifier: BSD-3-Clause
 * Client side of the data plane's control socket (docs/control.md).
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define CTL_DEFAULT_SOCKET	"/run/plainsight/dp.sock"
#define CTL_REPLY_MAX		(16u * 1024 * 1024)

/*
 * Send request (a JSON object, borrowed) to the data plane at path and wait up
 * to timeout_ms for the one-line reply. On success *reply is a new reference
 * the caller decrefs, and 0 is returned. On failure returns a negative errno
 * and writes one line into err.
 */
int ctl_request(const char *path, json_t *request, int timeout_ms,
		json_t **reply, char *err, size_t errlen);

/*
 * ctl_request() for a command: the reply when it says "ok", else NULL after
 * one line on stderr (unreachable, or the data plane's error). request is
 * consumed.
 */
json_t *ctl_call(const char *path, json_t *request, int timeout_ms);

#endif /* CTL_CLIENT_H */
