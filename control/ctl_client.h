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

#endif /* CTL_CLIENT_H */
