/* SPDX-License-Identifier: BSD-3-Clause
 * JSON path -> line and column in the text (ctl_jpath.h). A small scanner
 * that walks only the path's branch of a document jansson already accepted:
 * siblings are skipped bracket by bracket, never parsed, so a 64 MiB policy
 * costs one pass at most and no allocation.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_jpath.h"

#define KEY_MAX		256	/* bytes of a key compared; longer keys never match a step */
#define ROOT_NAME	"top level"

/* One step of a path: a key or an index. */
struct step {
	bool is_key;
	bool cut;		/* the key was shown cut: key[] is a prefix of full_len bytes */
	size_t index;
	size_t full_len;
	size_t key_len;
	char key[KEY_MAX];
};

/* The text being walked, and the line and column of text[i]. */
struct scan {
	const char *s;
	size_t n;
	size_t i;
	unsigned int line;
	unsigned int col;	/* characters consumed on this line */
};

static int
hex4(const char *s, const char *end, uint32_t *out)
{
	uint32_t v = 0;
	int k;

	if (end - s < 4)
		return -EINVAL;
	for (k = 0; k < 4; k++) {
		char ch = s[k];

		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v |= (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v |= (uint32_t)(ch - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Append one byte to out, counting past cap without writing. */
static void
put(char *out, size_t cap, size_t *len, char ch)
{
	if (*len < cap)
		out[*len] = ch;
	(*len)++;
}

static void
put_utf8(char *out, size_t cap, size_t *len, uint32_t cp)
{
	if (cp < 0x80) {
		put(out, cap, len, (char)cp);
	} else if (cp < 0x800) {
		put(out, cap, len, (char)(0xc0 | cp >> 6));
		put(out, cap, len, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(out, cap, len, (char)(0xe0 | cp >> 12));
		put(out, cap, len, (char)(0x80 | (cp >> 6 & 0x3f)));
		put(out, cap, len, (char)(0x80 | (cp & 0x3f)));
	} else {
		put(out, cap, len, (char)(0xf0 | cp >> 18));
		put(out, cap, len, (char)(0x80 | (cp >> 12 & 0x3f)));
		put(out, cap, len, (char)(0x80 | (cp >> 6 & 0x3f)));
		put(out, cap, len, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * Decode a JSON string whose opening quote is just before s: its bytes (the
 * first cap of them) into out and its decoded length into *len. Returns the
 * byte after the closing quote, or NULL if there is none before end.
 */
static const char *
decode_string(const char *s, const char *end, char *out, size_t cap, size_t *len)
{
	uint32_t cp, lo;

	*len = 0;
	while (s < end && *s != '"') {
		if (*s != '\\') {
			put(out, cap, len, *s++);
			continue;
		}
		if (++s >= end)
			return NULL;
		switch (*s++) {
		case 'b':
			put(out, cap, len, '\b');
			break;
		case 'f':
			put(out, cap, len, '\f');
			break;
		case 'n':
			put(out, cap, len, '\n');
			break;
		case 'r':
			put(out, cap, len, '\r');
			break;
		case 't':
			put(out, cap, len, '\t');
			break;
		case 'u':
			if (hex4(s, end, &cp) < 0)
				return NULL;
			s += 4;
			/* a surrogate pair is one code point, as jansson stores it */
			if (cp >= 0xd800 && cp < 0xdc00 && end - s >= 6 && s[0] == '\\' &&
			    s[1] == 'u' && hex4(s + 2, end, &lo) == 0 &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			put_utf8(out, cap, len, cp);
			break;
		default:	/* '"', '\\', '/' stand for themselves */
			put(out, cap, len, s[-1]);
			break;
		}
	}
	return s < end ? s + 1 : NULL;
}

static bool
plain_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/*
 * Parse the step of path at s[*o] (first: no "." before a key) up to limit.
 * Returns 1 and fills st, 0 at the end of the path (limit or ": "), or
 * -EINVAL. A quoted key is as the policy library shows it: escaped, and
 * when long cut as "PREFIX..." (N bytes).
 */
static int
path_step(const char *s, size_t limit, size_t *o, bool first, struct step *st)
{
	const char *p = s + *o, *end = s + limit, *q;
	char *num_end;

	if (p == end || (p + 1 < end && p[0] == ':' && p[1] == ' '))
		return 0;
	memset(st, 0, offsetof(struct step, key));
	if (*p == '[' && p + 1 < end && p[1] == '"') {
		q = decode_string(p + 2, end, st->key, sizeof(st->key), &st->key_len);
		if (q == NULL || st->key_len > sizeof(st->key))
			return -EINVAL;
		st->is_key = true;
		if (q < end && *q == ']') {
			*o = (size_t)(q + 1 - s);
			return 1;
		}
		/* cut: "PREFIX..." (N bytes)] */
		if (end - q < 3 || q[0] != ' ' || q[1] != '(' || q[2] < '0' || q[2] > '9' ||
		    st->key_len < 3 || memcmp(st->key + st->key_len - 3, "...", 3) != 0)
			return -EINVAL;
		st->full_len = strtoul(q + 2, &num_end, 10);
		if (end - num_end < 8 || memcmp(num_end, " bytes)]", 8) != 0)
			return -EINVAL;
		st->cut = true;
		st->key_len -= 3;
		*o = (size_t)(num_end + 8 - s);
		return 1;
	}
	if (*p == '[') {
		if (p + 1 >= end || p[1] < '0' || p[1] > '9')
			return -EINVAL;
		st->index = strtoul(p + 1, &num_end, 10);
		if (num_end >= end || *num_end != ']')
			return -EINVAL;
		*o = (size_t)(num_end + 1 - s);
		return 1;
	}
	if (!first) {
		if (*p != '.')
			return -EINVAL;
		p++;
	}
	for (q = p; q < end && plain_char(*q); q++)
		;
	if (q == p || (size_t)(q - p) > sizeof(st->key))
		return -EINVAL;
	st->is_key = true;
	st->key_len = (size_t)(q - p);
	memcpy(st->key, p, st->key_len);
	*o = (size_t)(q - s);
	return 1;
}

/* See ctl_jpath.h. */
int
ctl_jpath_parse(const char *s, bool *root)
{
	size_t o = 0, limit = strlen(s);
	struct step st;
	int rc;

	*root = false;
	if (strncmp(s, ROOT_NAME ": ", strlen(ROOT_NAME) + 2) == 0) {
		*root = true;
		return (int)strlen(ROOT_NAME);
	}
	for (;;) {
		rc = path_step(s, limit, &o, o == 0, &st);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
	}
	if (o == 0 || o == limit)	/* a path, then ": message" */
		return -EINVAL;
	return (int)o;
}

static int
peek(const struct scan *sc)
{
	return sc->i < sc->n ? (unsigned char)sc->s[sc->i] : -1;
}

/* Consume one byte; a UTF-8 continuation byte is no new column. */
static void
adv(struct scan *sc)
{
	unsigned char ch = (unsigned char)sc->s[sc->i++];

	if (ch == '\n') {
		sc->line++;
		sc->col = 0;
	} else if ((ch & 0xc0) != 0x80) {
		sc->col++;
	}
}

static void
skip_ws(struct scan *sc)
{
	int ch;

	while ((ch = peek(sc)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
		adv(sc);
}

static void
here(const struct scan *sc, struct ctl_jpos *out)
{
	out->line = sc->line;
	out->column = sc->col + 1;
}

/* At a '"': consume the string. */
static int
skip_string(struct scan *sc)
{
	int ch;

	adv(sc);
	while ((ch = peek(sc)) != '"') {
		if (ch < 0)
			return -EINVAL;
		if (ch == '\\') {
			adv(sc);
			if (peek(sc) < 0)
				return -EINVAL;
		}
		adv(sc);
	}
	adv(sc);
	return 0;
}

/* Consume one value; containers are skipped by counting brackets. */
static int
skip_value(struct scan *sc)
{
	unsigned int depth = 0;
	int ch = peek(sc);

	if (ch == '"')
		return skip_string(sc);
	if (ch != '{' && ch != '[') {
		if (ch < 0 || ch == ',' || ch == '}' || ch == ']')
			return -EINVAL;
		while ((ch = peek(sc)) >= 0 && ch != ',' && ch != '}' && ch != ']' &&
		       ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			adv(sc);
		return 0;
	}
	do {
		ch = peek(sc);
		if (ch < 0)
			return -EINVAL;
		if (ch == '"') {
			if (skip_string(sc) < 0)
				return -EINVAL;
			continue;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		adv(sc);
	} while (depth > 0);
	return 0;
}

/* After a member or element: ',' (returns 1), or the closing bracket (0). */
static int
next_member(struct scan *sc, char close)
{
	skip_ws(sc);
	if (peek(sc) == ',') {
		adv(sc);
		return 1;
	}
	return peek(sc) == close ? 0 : -EINVAL;
}

static bool
key_matches(const struct step *st, const char *key, size_t len)
{
	if (st->cut)
		return len == st->full_len && memcmp(key, st->key, st->key_len) == 0;
	return len == st->key_len && memcmp(key, st->key, len) == 0;
}

/* At an object: move to the value of st's key (or its key when at_key). */
static int
enter_key(struct scan *sc, const struct step *st, bool at_key, struct ctl_jpos *key_pos)
{
	char key[KEY_MAX];
	const char *end;
	size_t len;
	int rc;

	if (peek(sc) != '{')
		return -ENOENT;
	adv(sc);
	for (;;) {
		skip_ws(sc);
		if (peek(sc) == '}')
			return -ENOENT;
		if (peek(sc) != '"')
			return -EINVAL;
		here(sc, key_pos);
		end = decode_string(sc->s + sc->i + 1, sc->s + sc->n, key, sizeof(key), &len);
		if (end == NULL)
			return -EINVAL;
		while (sc->s + sc->i < end)
			adv(sc);
		skip_ws(sc);
		if (peek(sc) != ':')
			return -EINVAL;
		adv(sc);
		skip_ws(sc);
		if (len <= sizeof(key) && key_matches(st, key, len))
			return at_key ? 1 : 0;
		rc = skip_value(sc);
		if (rc == 0)
			rc = next_member(sc, '}');
		if (rc <= 0)
			return rc < 0 ? rc : -ENOENT;
	}
}

/* At an array: move to element st->index. */
static int
enter_index(struct scan *sc, const struct step *st)
{
	size_t k;
	int rc;

	if (peek(sc) != '[')
		return -ENOENT;
	adv(sc);
	skip_ws(sc);
	if (peek(sc) == ']')
		return -ENOENT;
	for (k = 0; k < st->index; k++) {
		rc = skip_value(sc);
		if (rc == 0)
			rc = next_member(sc, ']');
		if (rc <= 0)
			return rc < 0 ? rc : -ENOENT;
		skip_ws(sc);
	}
	return 0;
}

/* See ctl_jpath.h. */
int
ctl_jpath_locate(const char *text, size_t len, const char *path, size_t path_len,
		 bool at_key, struct ctl_jpos *out)
{
	struct scan sc = { text, len, 0, 1, 0 };
	struct ctl_jpos key_pos;
	struct step st;
	size_t o = 0;
	int rc;

	if (path_len == strlen(ROOT_NAME) && memcmp(path, ROOT_NAME, path_len) == 0)
		path_len = 0;
	skip_ws(&sc);
	for (;;) {
		rc = path_step(path, path_len, &o, o == 0, &st);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		if (st.is_key) {
			/* only the last step may stop at the key */
			rc = enter_key(&sc, &st, at_key && o == path_len, &key_pos);
			if (rc == 1) {
				*out = key_pos;
				return 0;
			}
		} else {
			rc = enter_index(&sc, &st);
		}
		if (rc < 0)
			return rc;
	}
	if (o != path_len)
		return -EINVAL;
	here(&sc, out);
	return 0;
}
