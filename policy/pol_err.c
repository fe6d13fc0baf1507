/* SPDX-License-Identifier: BSD-3-Clause
 * Policy error messages: every problem of a file is collected, each as one
 * line "FILE: json.path: expected X, found Y" (syntax errors carry jansson's
 * FILE:LINE:COLUMN instead). Lines never hold a control byte, so a caller
 * can print them one per line whatever the input was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pol_priv.h"

#define SHOW_MAX	48	/* bytes of a found string before "..." */
#define FOUND_LEN	(SHOW_MAX * 6 + 64)

/* See pol_priv.h. */
void
ps_pol_err_init(struct ps_pol_errors *errs)
{
	if (errs == NULL)
		return;
	errs->n = 0;
	errs->dropped = 0;
}

/* A cut that does not split a UTF-8 sequence: the new length of s[0..n). */
static size_t
utf8_cut(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0xc0) {
		unsigned char lead = (unsigned char)s[i - 1];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

		if (n - (i - 1) < need)
			return i - 1;
	}
	return n;
}

/* Store one formatted line in c->errs (or count it as dropped). */
static void
err_vline(struct pol_ctx *c, const char *fmt, va_list ap)
{
	struct ps_pol_errors *e = c->errs;
	size_t n, i;
	char *m;
	int r;

	c->n_err++;
	if (e == NULL)
		return;
	if (e->n >= PS_POL_ERRORS_MAX) {
		e->dropped++;
		return;
	}
	m = e->msg[e->n++];
	r = vsnprintf(m, PS_POL_ERROR_LEN, fmt, ap);
	if (r < 0) {
		m[0] = '\0';
		return;
	}
	n = (size_t)r;
	if (n >= PS_POL_ERROR_LEN)
		n = utf8_cut(m, PS_POL_ERROR_LEN - 1);
	m[n] = '\0';
	for (i = 0; i < n; i++) {
		if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
			m[i] = '?';
	}
}

/* See pol_priv.h. */
void
ps_pol_err_line(struct pol_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vline(c, fmt, ap);
	va_end(ap);
}

/* See pol_priv.h. Records "NAME: PATH: message"; returns -EINVAL. */
int
ps_pol_fail(struct pol_ctx *c, const char *path, const char *fmt, ...)
{
	char msg[PS_POL_ERROR_LEN];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	ps_pol_err_line(c, "%s: %s: %s", c->name,
			path[0] != '\0' ? path : "top level", msg);
	return -EINVAL;
}

/* See pol_priv.h. */
bool
ps_pol_has_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	}
	return false;
}

/* Append c to out[*o], keeping room for the terminator. */
static void
put(char *out, size_t len, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + n + 1 > len)
		n = len - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

/* s[0..n) in double quotes, escaped, at most SHOW_MAX bytes of it shown. */
static void
show_string(char *out, size_t len, const char *s, size_t n)
{
	char tmp[48];
	size_t i, o = 0;

	out[0] = '\0';
	put(out, len, &o, "\"");
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i >= SHOW_MAX && (ch & 0xc0) != 0x80) {
			snprintf(tmp, sizeof(tmp), "...\" (%zu bytes)", n);
			put(out, len, &o, tmp);
			return;
		}
		if (ch == '"' || ch == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			snprintf(tmp, sizeof(tmp), "\\u%04x", ch);
		else
			snprintf(tmp, sizeof(tmp), "%c", ch);
		put(out, len, &o, tmp);
	}
	put(out, len, &o, "\"");
}

/* A found JSON value for a message: its type, and its value if scalar. */
static void
found(char *out, size_t len, const json_t *v)
{
	char q[FOUND_LEN];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		snprintf(out, len, "an object");
		break;
	case JSON_ARRAY:
		snprintf(out, len, "%s",
			 json_array_size(v) == 0 ? "an empty array" : "an array");
		break;
	case JSON_STRING:
		show_string(q, sizeof(q), json_string_value(v),
			    json_string_length(v));
		snprintf(out, len, "%s", q);
		break;
	case JSON_INTEGER:
		snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(out, len, "a real number %g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(out, len, "true");
		break;
	case JSON_FALSE:
		snprintf(out, len, "false");
		break;
	case JSON_NULL:
	default:
		snprintf(out, len, "null");
		break;
	}
}

/* See pol_priv.h. "expected EXPECT, found VALUE"; returns -EINVAL. */
int
ps_pol_expect(struct pol_ctx *c, const char *path, const char *expect,
	      const json_t *v)
{
	char f[FOUND_LEN + 16];

	found(f, sizeof(f), v);
	return ps_pol_fail(c, path, "expected %s, found %s", expect, f);
}

/* A key that can stand bare in a path: 1..48 of [A-Za-z0-9_-]. */
static bool
plain_key(const char *key)
{
	size_t i, n = strlen(key);

	if (n == 0 || n > SHOW_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = key[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* See pol_priv.h. parent.key, or parent["key"] for an unusual key. */
void
ps_pol_path_key(char *out, size_t len, const char *parent, const char *key)
{
	char q[FOUND_LEN];

	if (plain_key(key)) {
		snprintf(out, len, "%s%s%s", parent, parent[0] != '\0' ? "." : "",
			 key);
		return;
	}
	show_string(q, sizeof(q), key, strlen(key));
	snprintf(out, len, "%s[%s]", parent, q);
}

/* See pol_priv.h. parent[i] */
void
ps_pol_path_index(char *out, size_t len, const char *parent, size_t i)
{
	snprintf(out, len, "%s[%zu]", parent, i);
}
