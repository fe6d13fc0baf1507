/* SPDX-License-Identifier: BSD-3-Clause
 * Private to the configuration loader: the parse context and the JSON
 * value helpers every section parser uses (conf_json.c). Each helper
 * reports one "NAME: PATH: expected X, found Y" line and returns -EINVAL.
 */
#ifndef PS_CONF_PRIV_H
#define PS_CONF_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ps_config.h"

#define PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define CONF_QUOTE_MAX	48	/* bytes of a found string shown before "..." */
/* a quoted string: each shown byte may take 6 ("\u001f"), then the tail */
#define CONF_QUOTE_LEN	(CONF_QUOTE_MAX * 6 + sizeof("...\" (18446744073709551615 bytes)"))
#define CONF_FOUND_LEN	(CONF_QUOTE_LEN + 16)	/* a found value: "a string " + quote */
#define CONF_PATH_LEN	(CONF_QUOTE_LEN + 64)	/* JSON path, e.g. ports[15].device */
#define CONF_MSG_LEN	1024	/* one message before the "NAME: PATH: " prefix */
#define CONF_KEY_MAX	48	/* longer keys are quoted and cut in paths */
#define CONF_IFNAME_MAX	16	/* IFNAMSIZ, incl. NUL */
#define CONF_DEVARGS_MAX 64	/* ",k=v" is 4 bytes: 255 bytes hold fewer */

struct conf_ctx {
	const char *name;		/* file name, first in every message */
	char *err;
	size_t errlen;
	struct ps_config cfg;		/* built here, copied out on success */
	/* per port, for the duplicate-device checks */
	char dev_key[PS_PORTS_MAX][PS_DEV_MAX];	/* device name, PCI normalised */
	char iface[PS_PORTS_MAX][CONF_IFNAME_MAX]; /* net_af_packet iface=, or "" */
};

/* A bounded string builder: appends never overflow, output stays terminated. */
struct sbuf {
	char *p;
	size_t len;
	size_t off;
};

void conf_sb_init(struct sbuf *b, char *p, size_t len);
void conf_sb_add(struct sbuf *b, const char *fmt, ...) PRINTF(2, 3);
/* snprintf() for message pieces: cutting short is intended, never an error. */
void conf_bprintf(char *out, size_t len, const char *fmt, ...) PRINTF(3, 4);
size_t conf_utf8_trim(const char *s, size_t end);
void conf_err_write(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);
/* Report "NAME: PATH: message" and return -EINVAL. */
int conf_fail(struct conf_ctx *c, const char *path, const char *fmt, ...) PRINTF(3, 4);

bool conf_is_alnum(char ch);
bool conf_is_digit(char ch);
bool conf_word_ok(const char *s, size_t n, size_t max, const char *extra);
bool conf_has_control(const char *s, size_t n);
void conf_quote(char *out, size_t len, const char *s, size_t n);
void conf_describe(char *out, size_t len, const json_t *v, bool typed);

/* "expected EXPECT, found <v>": wrong JSON type (type_fail), or a value out
 * of what EXPECT allows (value_fail). */
int conf_expect_fail(struct conf_ctx *c, const char *path, const char *expect,
		     const json_t *v, bool typed);
int conf_type_fail(struct conf_ctx *c, const char *path, const char *expect,
		   const json_t *v);
int conf_value_fail(struct conf_ctx *c, const char *path, const char *expect,
		    const json_t *v);

/* JSON paths: parent.key (parent["key"] for odd keys) and parent[i]. */
void conf_path_key(char *out, size_t len, const char *parent, const char *key);
void conf_path_index(char *out, size_t len, const char *parent, size_t i);
/* The member key of obj, or NULL; its path goes to p. */
json_t *conf_member(json_t *obj, const char *path, const char *key, char *p,
		    size_t plen);
/* v is an object with keys only from keys ('#' keys are comments) and every
 * key of req (may be NULL); both lists NULL-terminated. */
int conf_object_check(struct conf_ctx *c, json_t *v, const char *path,
		      const char *const *keys, const char *const *req);

/* Typed values; the opt_ forms leave *out (the default) when key is absent. */
int conf_uint_value(struct conf_ctx *c, const json_t *v, const char *path,
		    unsigned int lo, unsigned int hi, unsigned int *out);
int conf_opt_uint(struct conf_ctx *c, json_t *obj, const char *path,
		  const char *key, unsigned int lo, unsigned int hi,
		  unsigned int *out);
int conf_opt_bool(struct conf_ctx *c, json_t *obj, const char *path,
		  const char *key, bool *out);
int conf_string_value(struct conf_ctx *c, const json_t *v, const char *path,
		      const char *expect, const char **s, size_t *n);
int conf_enum_value(struct conf_ctx *c, const json_t *v, const char *path,
		    const char *const *names, unsigned int *out);
int conf_opt_enum(struct conf_ctx *c, json_t *obj, const char *path,
		  const char *key, const char *const *names, unsigned int *out);

/* Optional file path member: a non-empty string shorter than PS_PATH_MAX. */
int conf_opt_path(struct conf_ctx *c, json_t *obj, const char *path, const char *key,
		  char out[PS_PATH_MAX]);

/* The value of hex digit ch, -1 when it is not one. */
int conf_hex_value(char ch);

/* Section "rss" (conf_rss.c), after "lcores". */
int conf_parse_rss(struct conf_ctx *c, json_t *obj, const char *path);

/* Sections defined in conf_tls.c. */
int conf_parse_tls(struct conf_ctx *c, json_t *obj, const char *path);
int conf_parse_port_tool(struct conf_ctx *c, json_t *obj, const char *path,
			 struct ps_port_cfg *port);
int conf_parse_recording(struct conf_ctx *c, json_t *obj, const char *path);
int conf_parse_sessions(struct conf_ctx *c, json_t *obj, const char *path);
void conf_tls_defaults(struct ps_config *cfg);

#endif /* PS_CONF_PRIV_H */
