/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for plainsight-controld's HTTP request parser
 * (control/ctld_http.c), which reads bytes from anyone who can reach the
 * metrics port.
 *
 * Any bytes go to ctld_http_parse(), whole and cut short. The result must
 * be one of the three documented ones; a parsed head must lie inside the
 * input, with an origin-form path free of the query; a refusal must carry
 * a status controld knows how to answer; a parse of the head alone must
 * give the same request, and of any shorter prefix never a complete one
 * that differs. The response writer must produce a well-formed status line.
 *
 * Seeds: tests/fuzz/corpus/http/.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctld_http.h"

#define CHECK(cond)			\
	do {				\
		if (!(cond))		\
			abort();	\
	} while (0)

static void
check_one(const char *buf, size_t len, struct ctld_http_req *req, int rc)
{
	size_t plen;

	CHECK(rc == 0 || rc == -EAGAIN || rc == -EINVAL);
	if (rc == -EINVAL)
		CHECK(req->status == 400 || req->status == 414 || req->status == 431 ||
		      req->status == 505);
	if (rc != 0)
		return;
	CHECK(req->head_len > 0 && req->head_len <= len && req->head_len <= CTLD_HTTP_REQ_MAX);
	CHECK(buf[req->head_len - 1] == '\n');
	plen = strnlen(req->path, sizeof(req->path));
	CHECK(plen < sizeof(req->path) && plen >= 1 && req->path[0] == '/');
	CHECK(memchr(req->path, '?', plen) == NULL && memchr(req->path, ' ', plen) == NULL);
	CHECK(memchr(req->method, '\0', sizeof(req->method)) != NULL);
	CHECK(req->is_get == (strcmp(req->method, "GET") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct ctld_http_req req, again;
	struct ctld_buf out;
	size_t cut;
	int rc, rc2;

	rc = ctld_http_parse(buf, size, &req);
	check_one(buf, size, &req, rc);
	if (rc == 0) {
		rc2 = ctld_http_parse(buf, req.head_len, &again);
		CHECK(rc2 == 0 && again.head_len == req.head_len &&
		      strcmp(again.path, req.path) == 0 && again.minor == req.minor);
	}
	/* A prefix is a request still arriving. */
	cut = size > 0 ? (size_t)data[0] % (size + 1) : 0;
	rc2 = ctld_http_parse(buf, cut, &again);
	check_one(buf, cut, &again, rc2);
	if (rc == 0 && rc2 == 0)
		CHECK(again.head_len == req.head_len);

	ctld_buf_init(&out, 0);
	ctld_http_response(&out, rc == -EINVAL ? req.status : 200, "text/plain", NULL, buf,
			   size);
	CHECK(!out.failed && out.len > size && memcmp(out.data, "HTTP/1.1 ", 9) == 0);
	CHECK(memcmp(out.data + out.len - size, buf, size) == 0 || size == 0);
	ctld_buf_free(&out);
	return 0;
}
