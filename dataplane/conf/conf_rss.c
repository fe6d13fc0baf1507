/* SPDX-License-Identifier: BSD-3-Clause
 * Section "rss": the receive-side scaling key and the mapping of every
 * port's rx queues to workers (docs/config.md#rss).
 *
 * The data plane needs both directions of a flow on one worker. With
 * Toeplitz hashing that holds when the key repeats a 2-byte pattern
 * (swapping source and destination address or port then swaps equal key
 * windows), and when every port maps queue q to the same worker: so the
 * key must be symmetric, and the mapping is one list for all ports.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf_priv.h"

static int
parse_key(struct conf_ctx *c, json_t *v, const char *path)
{
	struct ps_config *cfg = &c->cfg;
	const char *s;
	size_t n, i;
	int hi, lo;

	if (conf_string_value(c, v, path, "a hex string of 40 or 52 bytes", &s, &n) < 0)
		return -EINVAL;
	if (n != 80 && n != 104)
		return conf_value_fail(c, path, "a hex string of 40 or 52 bytes (80 or 104 hex "
				       "digits)", v);
	for (i = 0; i < n / 2; i++) {
		hi = conf_hex_value(s[2 * i]);
		lo = conf_hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return conf_value_fail(c, path, "hex digits only", v);
		cfg->rss_key[i] = (uint8_t)(hi << 4 | lo);
	}
	for (i = 2; i < n / 2; i++)
		if (cfg->rss_key[i] != cfg->rss_key[i % 2])
			return conf_value_fail(c, path, "a symmetric key: one 2-byte pattern "
					       "repeated (e.g. 6d5a6d5a...), so that both "
					       "directions of a flow hash alike", v);
	cfg->rss_key_len = (unsigned int)(n / 2);
	return 0;
}

int
conf_parse_rss(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = { "key", "queue_workers", NULL };
	struct ps_config *cfg = &c->cfg;
	char p[CONF_PATH_LEN], pi[CONF_PATH_LEN];
	json_t *v, *e;
	size_t i;
	unsigned int w;

	if (conf_object_check(c, obj, path, keys, NULL) < 0)
		return -EINVAL;
	v = conf_member(obj, path, "key", p, sizeof(p));
	if (v != NULL && parse_key(c, v, p) < 0)
		return -EINVAL;
	v = conf_member(obj, path, "queue_workers", p, sizeof(p));
	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > PS_RSS_QUEUES_MAX)
		return conf_expect_fail(c, p, "an array of 1..64 worker indexes, one per rx "
					"queue", v, json_is_array(v));
	json_array_foreach(v, i, e) {
		conf_path_index(pi, sizeof(pi), p, i);
		if (conf_uint_value(c, e, pi, 0, cfg->n_workers - 1, &w) < 0)
			return -EINVAL;
		cfg->rss_queue_worker[i] = (uint8_t)w;
	}
	cfg->n_rss_queues = (unsigned int)json_array_size(v);
	return 0;
}
