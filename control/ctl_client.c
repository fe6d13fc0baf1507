/* SPDX-License-Identifier: BSD-3-Clause
 * Control-socket client: connect, one JSON line out, one JSON line back.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client.h"

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
wait_fd(int fd, short events, long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long left = deadline - now_ms();
	int rc;

	if (left <= 0)
		return -ETIMEDOUT;
	rc = poll(&pfd, 1, (int)left);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

int
ctl_request(const char *path, json_t *request, int timeout_ms,
	    json_t **reply, char *err, size_t errlen)
{
	long deadline = now_ms() + timeout_ms;
	struct sockaddr_un sa;
	json_error_t jerr;
	char *out = NULL, *buf = NULL;
	size_t len = 0, cap = 0, off = 0, outlen;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s: %s (is plainsight-dp "
			 "running?)", path, strerror(errno));
		goto out;
	}
	out = json_dumps(request, JSON_COMPACT);
	if (out == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	outlen = strlen(out);
	out[outlen++] = '\n';	/* json_dumps' NUL is replaced, length kept */
	while (off < outlen) {
		ssize_t n = send(fd, out + off, outlen - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			snprintf(err, errlen, "send to %s: %s", path,
				 strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb;

			if (cap >= CTL_REPLY_MAX) {
				rc = -E2BIG;
				snprintf(err, errlen, "reply from %s too large", path);
				goto out;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0) {
			snprintf(err, errlen, "no reply from %s: %s", path,
				 strerror(-rc));
			goto out;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "recv from %s: %s", path,
				 strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	if (len == 0) {
		rc = -ECONNRESET;
		snprintf(err, errlen, "%s closed without a reply", path);
		goto out;
	}
	*reply = json_loadb(buf, len, 0, &jerr);
	if (*reply == NULL) {
		rc = -EPROTO;
		snprintf(err, errlen, "malformed reply from %s: %s", path,
			 jerr.text);
		goto out;
	}
	rc = 0;
out:
	free(out);
	free(buf);
	close(fd);
	return rc;
}

json_t *
ctl_call(const char *path, json_t *request, int timeout_ms)
{
	json_t *reply = NULL;
	char err[512];
	int rc;

	if (request == NULL) {
		fprintf(stderr, "plainsight-ctl: out of memory\n");
		return NULL;
	}
	rc = ctl_request(path, request, timeout_ms, &reply, err, sizeof(err));
	json_decref(request);
	if (rc < 0) {
		fprintf(stderr, "plainsight-ctl: %s\n", err);
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		fprintf(stderr, "plainsight-ctl: data plane answered: %s\n", e != NULL ? e : "error");
		json_decref(reply);
		return NULL;
	}
	return reply;
}
