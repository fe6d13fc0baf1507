/* SPDX-License-Identifier: BSD-3-Clause
 * JSON value helpers of the configuration loader: one-line messages, JSON
 * paths, typed and ranged values. See conf_priv.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf_priv.h"

void
conf_sb_init(struct sbuf *b, char *p, size_t len)
{
	b->p = p;
	b->len = len;
	b->off = 0;
	p[0] = '\0';
}

void
conf_sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->off + 1 >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->len - b->off)
		b->off = b->len - 1;
	else
		b->off += (size_t)n;
}

/*
 * snprintf() for message pieces: cutting a piece short is intended (the
 * line has a fixed budget), so truncation is neither an error nor a warning.
 */
void
conf_bprintf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(out, len, fmt, ap) < 0)
		out[0] = '\0';
	va_end(ap);
}

/* Length of s[0..end) without a multi-byte UTF-8 sequence cut at the end. */
size_t
conf_utf8_trim(const char *s, size_t end)
{
	size_t i = end;
	size_t need;
	unsigned char lead;

	while (i > 0 && end - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return end;
	lead = (unsigned char)s[i - 1];
	if (lead < 0xc0)
		return end;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return end - (i - 1) < need ? i - 1 : end;
}

/*
 * Format one line into err. Truncates to errlen without cutting a UTF-8
 * character, and turns any control byte (a newline in a file name, a raw
 * byte in jansson's "near '...'") into '?', so the result is always a
 * single terminated line.
 */
void
conf_err_write(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t end, i;
	int n;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0) {
		err[0] = '\0';
		return;
	}
	end = (size_t)n;
	if (end >= errlen)
		end = conf_utf8_trim(err, errlen - 1);
	err[end] = '\0';
	for (i = 0; i < end; i++) {
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
	}
}

/* Report "NAME: PATH: message" and return -EINVAL. */
int
conf_fail(struct conf_ctx *c, const char *path, const char *fmt, ...)
{
	char msg[CONF_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	conf_err_write(c->err, c->errlen, "%s: %s: %s", c->name,
		  path[0] != '\0' ? path : "top level", msg);
	return -EINVAL;
}

bool
conf_is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

bool
conf_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* 1..max bytes, each alphanumeric or one of extra. */
bool
conf_word_ok(const char *s, size_t n, size_t max, const char *extra)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		if (!conf_is_alnum(s[i]) && strchr(extra, s[i]) == NULL)
			return false;
	}
	return true;
}

/* C0 controls, DEL, and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F). */
bool
conf_has_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			return true;
		if (ch == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

/* s as a JSON-style quoted string, cut after CONF_QUOTE_MAX bytes. */
void
conf_quote(char *out, size_t len, const char *s, size_t n)
{
	struct sbuf b;
	size_t i;

	conf_sb_init(&b, out, len);
	conf_sb_add(&b, "\"");
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i >= CONF_QUOTE_MAX && (ch & 0xc0) != 0x80) {
			conf_sb_add(&b, "...\" (%zu bytes)", n);
			return;
		}
		if (ch == '"' || ch == '\\')
			conf_sb_add(&b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			conf_sb_add(&b, "\\u%04x", ch);
		else if (ch == 0xc2 && i + 1 < n &&
			 (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			conf_sb_add(&b, "\\u%04x", (unsigned char)s[++i]);
		else
			conf_sb_add(&b, "%c", ch);
	}
	conf_sb_add(&b, "\"");
}

/*
 * A found value for a message. typed: the value has the wrong JSON type, so
 * name the type ("a string \"32\""); otherwise the value alone ("1000").
 */
void
conf_describe(char *out, size_t len, const json_t *v, bool typed)
{
	char q[CONF_QUOTE_LEN];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		conf_bprintf(out, len, "an object");
		break;
	case JSON_ARRAY:
		conf_bprintf(out, len, "%s",
			 json_array_size(v) == 0 ? "an empty array" : "an array");
		break;
	case JSON_STRING:
		conf_quote(q, sizeof(q), json_string_value(v), json_string_length(v));
		conf_bprintf(out, len, "%s%s", typed ? "a string " : "", q);
		break;
	case JSON_INTEGER:
		conf_bprintf(out, len, "%s%" JSON_INTEGER_FORMAT,
			 typed ? "an integer " : "", json_integer_value(v));
		break;
	case JSON_REAL:
		conf_bprintf(out, len, "a real number %g", json_real_value(v));
		break;
	case JSON_TRUE:
		conf_bprintf(out, len, "true");
		break;
	case JSON_FALSE:
		conf_bprintf(out, len, "false");
		break;
	case JSON_NULL:
	default:
		conf_bprintf(out, len, "null");
		break;
	}
}

int
conf_expect_fail(struct conf_ctx *c, const char *path, const char *expect,
	    const json_t *v, bool typed)
{
	char found[CONF_FOUND_LEN];

	conf_describe(found, sizeof(found), v, typed);
	return conf_fail(c, path, "expected %s, found %s", expect, found);
}

/* v has the wrong JSON type. */
int
conf_type_fail(struct conf_ctx *c, const char *path, const char *expect,
	  const json_t *v)
{
	return conf_expect_fail(c, path, expect, v, true);
}

/* v has the right type but a value outside what expect allows. */
int
conf_value_fail(struct conf_ctx *c, const char *path, const char *expect,
	   const json_t *v)
{
	return conf_expect_fail(c, path, expect, v, false);
}

/* parent.key, or parent["key"] when the key is not a plain word. */
void
conf_path_key(char *out, size_t len, const char *parent, const char *key)
{
	char q[CONF_QUOTE_LEN];
	size_t n = strlen(key);

	if (conf_word_ok(key, n, CONF_KEY_MAX, "_-")) {
		conf_bprintf(out, len, "%s%s%s", parent, parent[0] != '\0' ? "." : "",
			 key);
		return;
	}
	conf_quote(q, sizeof(q), key, n);
	conf_bprintf(out, len, "%s[%s]", parent, q);
}

void
conf_path_index(char *out, size_t len, const char *parent, size_t i)
{
	conf_bprintf(out, len, "%s[%zu]", parent, i);
}

/* The conf_member key of obj, or NULL; its path goes to p. */
json_t *
conf_member(json_t *obj, const char *path, const char *key, char *p, size_t plen)
{
	conf_path_key(p, plen, path, key);
	return json_object_get(obj, key);
}

/*
 * v must be an object whose keys are all in keys (NULL-terminated) or start
 * with '#'. Then every key of req (NULL-terminated, may be NULL) must be
 * present.
 */
int
conf_object_check(struct conf_ctx *c, json_t *v, const char *path,
	     const char *const *keys, const char *const *req)
{
	char list[CONF_MSG_LEN / 2];
	char p[CONF_PATH_LEN];
	const char *const *k;
	const char *key;
	struct sbuf b;
	void *it;

	if (!json_is_object(v))
		return conf_type_fail(c, path, "an object", v);
	for (it = json_object_iter(v); it != NULL;
	     it = json_object_iter_next(v, it)) {
		key = json_object_iter_key(it);
		if (key[0] == '#')
			continue;
		for (k = keys; *k != NULL; k++) {
			if (strcmp(key, *k) == 0)
				break;
		}
		if (*k != NULL)
			continue;
		conf_sb_init(&b, list, sizeof(list));
		for (k = keys; *k != NULL; k++)
			conf_sb_add(&b, "%s%s", k == keys ? "" : ", ", *k);
		conf_path_key(p, sizeof(p), path, key);
		return conf_fail(c, p, "unknown key (expected one of: %s)", list);
	}
	for (k = req; k != NULL && *k != NULL; k++) {
		if (json_object_get(v, *k) == NULL)
			return conf_fail(c, path, "missing required key \"%s\"", *k);
	}
	return 0;
}

int
conf_uint_value(struct conf_ctx *c, const json_t *v, const char *path,
	   unsigned int lo, unsigned int hi, unsigned int *out)
{
	char expect[64];
	json_int_t n;

	conf_bprintf(expect, sizeof(expect), "an integer %u..%u", lo, hi);
	if (!json_is_integer(v))
		return conf_type_fail(c, path, expect, v);
	n = json_integer_value(v);
	if (n < (json_int_t)lo || n > (json_int_t)hi)
		return conf_value_fail(c, path, expect, v);
	*out = (unsigned int)n;
	return 0;
}

/* Optional integer conf_member: absent leaves *out (the default) alone. */
int
conf_opt_uint(struct conf_ctx *c, json_t *obj, const char *path, const char *key,
	 unsigned int lo, unsigned int hi, unsigned int *out)
{
	char p[CONF_PATH_LEN];
	json_t *v;

	v = conf_member(obj, path, key, p, sizeof(p));
	if (v == NULL)
		return 0;
	return conf_uint_value(c, v, p, lo, hi, out);
}

int
conf_opt_bool(struct conf_ctx *c, json_t *obj, const char *path, const char *key,
	 bool *out)
{
	char p[CONF_PATH_LEN];
	json_t *v;

	v = conf_member(obj, path, key, p, sizeof(p));
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return conf_type_fail(c, p, "true or false", v);
	*out = json_is_true(v);
	return 0;
}

/* A string without control characters; its bytes and length to s and n. */
int
conf_string_value(struct conf_ctx *c, const json_t *v, const char *path,
	     const char *expect, const char **s, size_t *n)
{
	char found[CONF_FOUND_LEN];

	if (!json_is_string(v))
		return conf_type_fail(c, path, expect, v);
	*s = json_string_value(v);
	*n = json_string_length(v);
	if (conf_has_control(*s, *n)) {
		conf_describe(found, sizeof(found), v, false);
		return conf_fail(c, path,
				 "expected %s without control characters, found %s",
				 expect, found);
	}
	return 0;
}

/* A string that is one of names (NULL-terminated); its index to *out. */
int
conf_enum_value(struct conf_ctx *c, const json_t *v, const char *path,
	   const char *const *names, unsigned int *out)
{
	char expect[CONF_MSG_LEN / 2];
	struct sbuf b;
	unsigned int i;

	conf_sb_init(&b, expect, sizeof(expect));
	conf_sb_add(&b, "one of ");
	for (i = 0; names[i] != NULL; i++)
		conf_sb_add(&b, "%s\"%s\"", i == 0 ? "" : ", ", names[i]);
	if (!json_is_string(v))
		return conf_type_fail(c, path, expect, v);
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return conf_value_fail(c, path, expect, v);
}

int
conf_opt_enum(struct conf_ctx *c, json_t *obj, const char *path, const char *key,
	 const char *const *names, unsigned int *out)
{
	char p[CONF_PATH_LEN];
	json_t *v;

	v = conf_member(obj, path, key, p, sizeof(p));
	if (v == NULL)
		return 0;
	return conf_enum_value(c, v, p, names, out);
}
