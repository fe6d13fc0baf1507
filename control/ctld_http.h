/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: the HTTP/1.1 request parser and response writer of
 * the metrics endpoint. Pure code over bytes (no sockets, no JSON), so the
 * parser is fuzzed as it is (tests/fuzz/fuzz_http.c).
 *
 * Only what a scraper needs: a request head (request line and header
 * fields, RFC 9112 sections 2-5), never a body; one request per connection,
 * answered with "Connection: close".
 */
#ifndef CTLD_HTTP_H
#define CTLD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ctld_buf.h"

/* A request head longer than this is refused with 431. */
#define CTLD_HTTP_REQ_MAX	8192
/* Header fields in one request, at most. */
#define CTLD_HTTP_FIELDS_MAX	64
#define CTLD_HTTP_PATH_MAX	256

struct ctld_http_req {
	bool is_get;			/* method GET (others get 405) */
	char method[16];		/* as sent, for the log; truncated */
	char path[CTLD_HTTP_PATH_MAX];	/* origin-form path, query removed */
	unsigned int minor;		/* HTTP/1.minor */
	size_t head_len;		/* bytes up to and including the empty line */
	int status;			/* on -EINVAL: the status to answer */
};

/*
 * Parse the request head at the start of buf[0, len). Returns 0 with req
 * filled when the head is complete and well formed; -EAGAIN when more bytes
 * are needed (the caller refuses with 431 once it holds CTLD_HTTP_REQ_MAX
 * bytes); -EINVAL when it is malformed, with req->status the HTTP status to
 * answer (400, 414, 431, 505). Any bytes are accepted; buf is not modified.
 */
int ctld_http_parse(const char *buf, size_t len, struct ctld_http_req *req);

/* The reason phrase of an HTTP status code ("Unknown" for others). */
const char *ctld_http_reason(int status);

/*
 * Append a whole response to out: the status line, Content-Type (when
 * ctype is not NULL), Content-Length, "Connection: close", the extra header
 * lines (each ending in CRLF, may be NULL), then body_len bytes of body.
 */
void ctld_http_response(struct ctld_buf *out, int status, const char *ctype,
			const char *extra, const char *body, size_t body_len);

#endif /* CTLD_HTTP_H */
