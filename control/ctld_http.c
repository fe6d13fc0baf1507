/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: HTTP request head parser and response writer
 * (ctld_http.h). Section numbers are RFC 9112's (HTTP/1.1) and RFC 9110's
 * (HTTP semantics).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctld_http.h"

/* tchar of a token (RFC 9110 section 5.6.2). */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A line of the head: [p, end) without its LF and an optional CR before it. */
struct line {
	const char *p;
	size_t len;
};

/*
 * The next line starting at *off, or false when no LF follows yet. A bare
 * LF ends a line too (section 2.2 lets a recipient accept it); a CR
 * anywhere else is refused by the callers' character checks.
 */
static bool
next_line(const char *buf, size_t len, size_t *off, struct line *l)
{
	const char *lf;

	if (*off >= len)
		return false;
	lf = memchr(buf + *off, '\n', len - *off);
	if (lf == NULL)
		return false;
	l->p = buf + *off;
	l->len = (size_t)(lf - l->p);
	if (l->len > 0 && l->p[l->len - 1] == '\r')
		l->len--;
	*off = (size_t)(lf - buf) + 1;
	return true;
}

static int
refuse(struct ctld_http_req *req, int status)
{
	req->status = status;
	return -EINVAL;
}

/* request-line = method SP request-target SP HTTP-version (section 3). */
static int
parse_request_line(const struct line *l, struct ctld_http_req *req)
{
	const char *p = l->p, *end = l->p + l->len, *sp, *t;
	size_t n;

	for (sp = p; sp < end && is_tchar((unsigned char)*sp); sp++)
		;
	if (sp == p || sp == end || *sp != ' ')
		return refuse(req, 400);
	n = (size_t)(sp - p);
	snprintf(req->method, sizeof(req->method), "%.*s", (int)n, p);
	req->is_get = n == 3 && memcmp(p, "GET", 3) == 0;	/* case-sensitive, 9.1 */
	t = sp + 1;
	for (sp = t; sp < end && *sp != ' '; sp++)
		if ((unsigned char)*sp <= 0x20 || (unsigned char)*sp >= 0x7f)
			return refuse(req, 400);
	if (sp == t || sp == end)
		return refuse(req, 400);
	/* Version first: a request we cannot read says so before its target. */
	if ((size_t)(end - sp - 1) != 8 || memcmp(sp + 1, "HTTP/", 5) != 0 ||
	    sp[6] < '0' || sp[6] > '9' || sp[7] != '.' || sp[8] < '0' || sp[8] > '9')
		return refuse(req, 400);
	if (sp[6] != '1')
		return refuse(req, 505);
	req->minor = (unsigned int)(sp[8] - '0');
	/* origin-form only (section 3.2.1); "*" and absolute-form are not ours. */
	if (*t != '/')
		return refuse(req, 400);
	for (n = 0; t + n < sp && t[n] != '?' && t[n] != '#'; n++)
		;
	if (n >= sizeof(req->path))
		return refuse(req, 414);
	memcpy(req->path, t, n);
	req->path[n] = '\0';
	return 0;
}

/* field-line = field-name ":" OWS field-value OWS (section 5). */
static int
parse_field(const struct line *l, struct ctld_http_req *req, bool *host)
{
	const char *p = l->p, *end = l->p + l->len, *colon;
	size_t i;

	/* obs-fold: a line starting with whitespace (section 5.2). */
	if (p < end && (*p == ' ' || *p == '\t'))
		return refuse(req, 400);
	for (colon = p; colon < end && is_tchar((unsigned char)*colon); colon++)
		;
	/* No whitespace between name and colon (section 5.1). */
	if (colon == p || colon == end || *colon != ':')
		return refuse(req, 400);
	for (i = 1; colon + i < end; i++) {
		unsigned char c = (unsigned char)colon[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return refuse(req, 400);
	}
	if ((size_t)(colon - p) == 4 && strncasecmp(p, "host", 4) == 0) {
		/* Two Host fields are an error (section 3.2). */
		if (*host)
			return refuse(req, 400);
		*host = true;
	}
	return 0;
}

int
ctld_http_parse(const char *buf, size_t len, struct ctld_http_req *req)
{
	size_t off = 0, fields = 0;
	bool host = false;
	struct line l;
	int rc;

	memset(req, 0, sizeof(*req));
	if (len > CTLD_HTTP_REQ_MAX)
		len = CTLD_HTTP_REQ_MAX;
	/* Empty lines before the request line are ignored (section 2.2). */
	do {
		if (!next_line(buf, len, &off, &l))
			return -EAGAIN;
	} while (l.len == 0 && off <= 8);
	if (l.len == 0)
		return refuse(req, 400);
	rc = parse_request_line(&l, req);
	if (rc < 0)
		return rc;
	for (;;) {
		if (!next_line(buf, len, &off, &l))
			return -EAGAIN;
		if (l.len == 0)
			break;
		if (++fields > CTLD_HTTP_FIELDS_MAX)
			return refuse(req, 431);
		rc = parse_field(&l, req, &host);
		if (rc < 0)
			return rc;
	}
	/* HTTP/1.1 requires Host (section 3.2); a 1.0 client may omit it. */
	if (req->minor >= 1 && !host)
		return refuse(req, 400);
	req->head_len = off;
	return 0;
}

const char *
ctld_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void
ctld_http_response(struct ctld_buf *out, int status, const char *ctype,
		   const char *extra, const char *body, size_t body_len)
{
	ctld_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, ctld_http_reason(status));
	if (ctype != NULL)
		ctld_buf_printf(out, "Content-Type: %s\r\n", ctype);
	ctld_buf_printf(out, "Content-Length: %zu\r\nConnection: close\r\n", body_len);
	if (extra != NULL)
		ctld_buf_puts(out, extra);
	ctld_buf_puts(out, "\r\n");
	ctld_buf_add(out, body, body_len);
}
