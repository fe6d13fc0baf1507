/* SPDX-License-Identifier: BSD-3-Clause
 * Appliance configuration loader: JSON file -> validated struct ps_config.
 *
 * One function per JSON object. Each checks the object's keys against a
 * fixed list (keys starting with '#' are comments), then each value against
 * its type and range, then the rules that span values (unique names and
 * devices, one side "a" and one side "b" per segment). The first problem
 * stops the parse and becomes one line: "NAME: JSON.PATH: expected X,
 * found Y".
 *
 * The result is built in a private copy and handed to the caller only when
 * the whole file is valid, so a failed load never leaves a half-written
 * configuration behind.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "conf_priv.h"

#define DEFAULT_MEMORY_MB	512
#define DEFAULT_FILE_PREFIX	"plainsight"
#define DEFAULT_MBUFS		8191
#define DEFAULT_MBUF_DATA_SIZE	2176	/* 2048 bytes of data + 128 headroom */
#define DEFAULT_MBUF_CACHE	256
#define DEFAULT_HB_MS		250	/* inline tool heartbeats */
#define DEFAULT_HB_MISSES	4
#define DEFAULT_MTU		1500
#define DEFAULT_DESC		1024
#define DEFAULT_BURST		32
#define DEFAULT_MAX_FLOWS	65536
#define DEFAULT_FLOW_IDLE_TIMEOUT_S	3600
#define DEFAULT_SOCKET		"/run/plainsight/dp.sock"

#define MBUF_CACHE_MAX		512	/* RTE_MEMPOOL_CACHE_MAX_SIZE */
#define MBUFS_MIN		1023

/*
 * rte_mempool_create() refuses a cache larger than n / 1.5. With the
 * smallest pool we accept, the largest cache still fits, so the range
 * checks alone keep DPDK's rule.
 */
_Static_assert(MBUF_CACHE_MAX * 3 <= MBUFS_MIN * 2,
	       "mempool.cache range must respect cache <= mbufs / 1.5");
_Static_assert((PS_DEV_MAX - 1) / 4 < CONF_DEVARGS_MAX,
	       "every device argument of a device string fits the key table");

/* ---- lcores ---- */

static int
parse_lcores(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = { "main", "workers", NULL };
	struct ps_config *cfg = &c->cfg;
	char p[CONF_PATH_LEN], pi[CONF_PATH_LEN];
	unsigned int w = 0;
	size_t i, j, n;
	json_t *v;
	int rc;

	rc = conf_object_check(c, obj, path, keys, keys);
	if (rc < 0)
		return rc;
	rc = conf_opt_uint(c, obj, path, "main", 0, PS_LCORE_MAX - 1,
		      &cfg->main_lcore);
	if (rc < 0)
		return rc;

	v = conf_member(obj, path, "workers", p, sizeof(p));
	if (!json_is_array(v))
		return conf_type_fail(c, p, "an array of 1..16 lcore numbers", v);
	n = json_array_size(v);
	if (n < 1 || n > PS_WORKERS_MAX)
		return conf_fail(c, p, "expected 1..%d worker lcores, found %zu",
				 PS_WORKERS_MAX, n);
	for (i = 0; i < n; i++) {
		conf_path_index(pi, sizeof(pi), p, i);
		rc = conf_uint_value(c, json_array_get(v, i), pi, 0,
				PS_LCORE_MAX - 1, &w);
		if (rc < 0)
			return rc;
		if (w == cfg->main_lcore)
			return conf_fail(c, pi,
					 "lcore %u is already the main lcore (%s.main)",
					 w, path);
		for (j = 0; j < i; j++) {
			if (cfg->workers[j] == w)
				return conf_fail(c, pi,
						 "lcore %u is already listed at %s[%zu]",
						 w, p, j);
		}
		cfg->workers[i] = w;
	}
	cfg->n_workers = (unsigned int)n;
	return 0;
}

/* ---- eal ---- */

/* Long options of the DPDK 22.11 EAL, to resolve abbreviations as getopt does. */
static const char *const eal_long_opts[] = {
	"allow", "base-virtaddr", "block", "create-uio-dev", "file-prefix",
	"force-max-simd-bitwidth", "help", "huge-dir", "huge-unlink",
	"huge-worker-stack", "in-memory", "iova-mode", "lcores", "legacy-mem",
	"log-level", "main-lcore", "match-allocations", "mbuf-pool-ops-name",
	"no-hpet", "no-huge", "no-pci", "no-shconf", "no-telemetry",
	"proc-type", "single-file-segments", "socket-limit", "socket-mem",
	"syslog", "telemetry", "trace", "trace-bufsz", "trace-dir",
	"trace-mode", "vdev", "vfio-intr", "vfio-vf-token", "vmware-tsc-map",
	NULL
};

/* Short options of the DPDK 22.11 EAL that take a value ("a:b:c:s:d:hl:S:m:n:r:v"). */
#define EAL_SHORT_WITH_VALUE	"abcsdlSmnr"

struct eal_owned {
	const char *opt;	/* long name, or a one-letter short option */
	const char *key;	/* the configuration key that sets it */
};

/* EAL options the configuration sets itself. */
static const struct eal_owned eal_owned[] = {
	{ "l", "lcores" },
	{ "c", "lcores" },
	{ "lcores", "lcores" },
	{ "main-lcore", "lcores.main" },
	{ "m", "eal.memory_mb" },
	{ "socket-mem", "eal.memory_mb" },
	{ "no-huge", "eal.hugepages" },
	{ "file-prefix", "eal.file_prefix" },
	{ "a", "ports[].device" },
	{ "allow", "ports[].device" },
	{ "b", "ports[].device" },
	{ "block", "ports[].device" },
	{ "vdev", "ports[].device" },
	{ "no-pci", "ports[].device" },
};

static const char *
eal_owner(const char *opt, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(eal_owned) / sizeof(eal_owned[0]); i++) {
		if (strlen(eal_owned[i].opt) == n &&
		    memcmp(eal_owned[i].opt, opt, n) == 0)
			return eal_owned[i].key;
	}
	return NULL;
}

/*
 * The long option "--name[=value]" selects, as getopt_long() sees it: an
 * exact name, else the one option name is an abbreviation of. NULL when
 * unknown or ambiguous (EAL refuses those itself).
 */
static const char *
eal_long_resolve(const char *name, size_t n)
{
	const char *found = NULL;
	unsigned int matches = 0;
	size_t i;

	for (i = 0; eal_long_opts[i] != NULL; i++) {
		if (strncmp(eal_long_opts[i], name, n) != 0)
			continue;
		if (eal_long_opts[i][n] == '\0')
			return eal_long_opts[i];
		found = eal_long_opts[i];
		matches++;
	}
	return matches == 1 ? found : NULL;
}

/* Refuse an EAL argument that would override what the configuration sets. */
static int
eal_arg_check(struct conf_ctx *c, const char *path, const char *s, size_t n)
{
	const char *owner, *opt;
	char q[CONF_QUOTE_LEN];
	size_t k;

	if (s[0] != '-' || s[1] == '\0')
		return 0;	/* a value, or "-" */
	conf_quote(q, sizeof(q), s, n);
	if (s[1] != '-') {
		/* short options may be grouped: "-vl0" is -v then -l 0 */
		for (k = 1; k < n; k++) {
			owner = eal_owner(&s[k], 1);
			if (owner != NULL) {
				if (n == 2)
					return conf_fail(c, path,
							 "%s is set by %s; set it there",
							 q, owner);
				return conf_fail(c, path,
						 "%s (-%c) is set by %s; set it there",
						 q, s[k], owner);
			}
			if (strchr(EAL_SHORT_WITH_VALUE, s[k]) != NULL)
				break;
		}
		return 0;
	}
	if (n == 2)
		return conf_fail(c, path,
				 "expected an EAL option, found \"--\" (it would end the EAL options)");
	k = strcspn(s + 2, "=");
	opt = eal_long_resolve(s + 2, k);
	if (opt == NULL)
		return 0;
	owner = eal_owner(opt, strlen(opt));
	if (owner == NULL)
		return 0;
	if (opt[k] == '\0')
		return conf_fail(c, path, "%s is set by %s; set it there", q,
				 owner);
	return conf_fail(c, path, "%s (--%s) is set by %s; set it there", q, opt,
			 owner);
}

static int
parse_eal_args(struct conf_ctx *c, json_t *v, const char *path)
{
	static const char expect[] = "an EAL argument of 1..127 bytes";
	struct ps_config *cfg = &c->cfg;
	char pi[CONF_PATH_LEN];
	const char *s;
	size_t i, n, len;
	int rc;

	if (!json_is_array(v))
		return conf_type_fail(c, path, "an array of strings", v);
	n = json_array_size(v);
	if (n > PS_EAL_ARGS_MAX)
		return conf_fail(c, path, "expected at most %d arguments, found %zu",
				 PS_EAL_ARGS_MAX, n);
	for (i = 0; i < n; i++) {
		json_t *a = json_array_get(v, i);

		conf_path_index(pi, sizeof(pi), path, i);
		rc = conf_string_value(c, a, pi, expect, &s, &len);
		if (rc < 0)
			return rc;
		if (len == 0 || len >= PS_EAL_ARG_LEN)
			return conf_value_fail(c, pi, expect, a);
		rc = eal_arg_check(c, pi, s, len);
		if (rc < 0)
			return rc;
		memcpy(cfg->eal_args[i], s, len + 1);
	}
	cfg->n_eal_args = (unsigned int)n;
	return 0;
}

static int
parse_eal(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"memory_mb", "hugepages", "file_prefix", "args", NULL
	};
	static const char prefix_expect[] =
		"a prefix of 1..63 characters from [A-Za-z0-9_-]";
	struct ps_config *cfg = &c->cfg;
	char p[CONF_PATH_LEN];
	const char *s;
	json_t *v;
	size_t n;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc < 0)
		return rc;
	rc = conf_opt_uint(c, obj, path, "memory_mb", 64, 1048576, &cfg->memory_mb);
	if (rc < 0)
		return rc;
	rc = conf_opt_bool(c, obj, path, "hugepages", &cfg->hugepages);
	if (rc < 0)
		return rc;

	v = conf_member(obj, path, "file_prefix", p, sizeof(p));
	if (v != NULL) {
		rc = conf_string_value(c, v, p, prefix_expect, &s, &n);
		if (rc < 0)
			return rc;
		if (!conf_word_ok(s, n, sizeof(cfg->file_prefix) - 1, "_-"))
			return conf_value_fail(c, p, prefix_expect, v);
		memcpy(cfg->file_prefix, s, n + 1);
	}

	v = conf_member(obj, path, "args", p, sizeof(p));
	if (v != NULL)
		return parse_eal_args(c, v, p);
	return 0;
}

/* ---- mempool ---- */

static int
parse_mempool(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"mbufs", "mbuf_data_size", "cache", NULL
	};
	struct ps_config *cfg = &c->cfg;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc < 0)
		return rc;
	rc = conf_opt_uint(c, obj, path, "mbufs", MBUFS_MIN, 16777215, &cfg->mbufs);
	if (rc < 0)
		return rc;
	rc = conf_opt_uint(c, obj, path, "mbuf_data_size", 1024, 65535,
		      &cfg->mbuf_data_size);
	if (rc < 0)
		return rc;
	return conf_opt_uint(c, obj, path, "cache", 0, MBUF_CACHE_MAX,
			&cfg->mbuf_cache);
}

/* ---- ports ---- */

/* See conf_priv.h. */
int
conf_hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * s[0..n) as a PCI address, "DDDD:BB:DD.F" or "BB:DD.F" (hex, device
 * 00..1f, function 0..7). On success writes the full lowercase form to
 * key (13 bytes) and returns true.
 */
static bool
pci_parse(const char *s, size_t n, char *key)
{
	/* x: hex digit, d: device high digit 0..1, f: function 0..7 */
	static const char form[] = "xx:dx.f";
	const char *bdf = s;
	size_t i;

	if (n == 12) {
		for (i = 0; i < 4; i++) {
			if (conf_hex_value(s[i]) < 0)
				return false;
		}
		if (s[4] != ':')
			return false;
		bdf = s + 5;
	} else if (n != 7) {
		return false;
	}
	for (i = 0; i < 7; i++) {
		char ch = bdf[i];

		switch (form[i]) {
		case 'x':
			if (conf_hex_value(ch) < 0)
				return false;
			break;
		case 'd':
			if (ch != '0' && ch != '1')
				return false;
			break;
		case 'f':
			if (ch < '0' || ch > '7')
				return false;
			break;
		default:
			if (ch != form[i])
				return false;
			break;
		}
	}
	if (n == 12)
		memcpy(key, s, 5);
	else
		memcpy(key, "0000:", 5);
	memcpy(key + 5, bdf, 7);
	key[12] = '\0';
	for (i = 0; i < 12; i++) {
		if (key[i] >= 'A' && key[i] <= 'F')
			key[i] = (char)(key[i] - 'A' + 'a');
	}
	return true;
}

/*
 * s[0..n) as a virtual device name "net_<driver><id>": a driver that starts
 * with a letter, of [A-Za-z0-9_], then decimal digits. The driver's length
 * goes to *drv_len.
 */
static bool
vdev_parse(const char *s, size_t n, size_t *drv_len)
{
	size_t e = n;

	if (n <= 4 || memcmp(s, "net_", 4) != 0)
		return false;
	while (e > 4 && conf_is_digit(s[e - 1]))
		e--;
	if (e == n || e == 4 || !conf_is_alnum(s[4]) || conf_is_digit(s[4]))
		return false;
	if (!conf_word_ok(s + 4, e - 4, e - 4, "_"))
		return false;
	*drv_len = e - 4;
	return true;
}

/* A Linux interface name: 1..15 bytes, not "." or "..", no '/', ':' or space. */
static bool
ifname_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= CONF_IFNAME_MAX)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '/' || s[i] == ':' || s[i] == ' ')
			return false;
	}
	return true;
}

/*
 * The ",key=value..." arguments after a device name. A value may hold
 * commas inside [brackets] (e.g. representor=[0,1]). For net_af_packet,
 * iface= is required and copied to iface.
 */
static int
parse_devargs(struct conf_ctx *c, const char *path, const char *dev,
	      const char *args, bool af_packet, char *iface)
{
	const char *keys[CONF_DEVARGS_MAX];
	size_t key_len[CONF_DEVARGS_MAX];
	char q[CONF_QUOTE_LEN];
	unsigned int n_keys = 0, i;
	const char *item, *eq;
	size_t len, klen;
	int depth;

	iface[0] = '\0';
	while (*args == ',') {
		item = ++args;
		depth = 0;
		while (*args != '\0' && (*args != ',' || depth > 0)) {
			if (*args == '[')
				depth++;
			else if (*args == ']' && depth > 0)
				depth--;
			args++;
		}
		len = (size_t)(args - item);
		eq = memchr(item, '=', len);
		klen = eq != NULL ? (size_t)(eq - item) : 0;
		if (eq == NULL || klen + 1 == len || depth > 0 ||
		    !conf_word_ok(item, klen, klen, "_-")) {
			conf_quote(q, sizeof(q), item, len);
			return conf_fail(c, path,
					 "expected key=value after the device name, found %s",
					 q);
		}
		for (i = 0; i < n_keys; i++) {
			if (key_len[i] == klen && memcmp(keys[i], item, klen) == 0)
				return conf_fail(c, path,
						 "device argument \"%.*s\" is given twice",
						 (int)klen, item);
		}
		keys[n_keys] = item;
		key_len[n_keys] = klen;
		n_keys++;
		if (af_packet && klen == 5 && memcmp(item, "iface", 5) == 0) {
			if (!ifname_ok(eq + 1, len - klen - 1)) {
				conf_quote(q, sizeof(q), eq + 1, len - klen - 1);
				return conf_fail(c, path,
						 "expected iface=NAME with an interface name of 1..15 characters without '/', ':' or spaces, found %s",
						 q);
			}
			memcpy(iface, eq + 1, len - klen - 1);
			iface[len - klen - 1] = '\0';
		}
	}
	if (af_packet && iface[0] == '\0') {
		conf_quote(q, sizeof(q), dev, strlen(dev));
		return conf_fail(c, path,
				 "expected \"net_af_packet<id>,iface=NAME\", found %s (no iface=)",
				 q);
	}
	return 0;
}

static int
parse_device(struct conf_ctx *c, json_t *v, const char *path, unsigned int idx)
{
	static const char expect[] =
		"a PCI address (0000:01:00.0) or a virtual device \"net_<driver><id>[,key=value...]\"";
	struct ps_port_cfg *port = &c->cfg.ports[idx];
	char q[CONF_QUOTE_LEN], qj[CONF_QUOTE_LEN];
	char *key = c->dev_key[idx];
	size_t n, name_len, drv_len;
	bool af_packet = false;
	const struct ps_port_cfg *pj;
	const char *s;
	unsigned int j;
	int rc;

	rc = conf_string_value(c, v, path, "a device string", &s, &n);
	if (rc < 0)
		return rc;
	if (n == 0 || n >= PS_DEV_MAX)
		return conf_value_fail(c, path, "a device string of 1..255 bytes", v);
	name_len = strcspn(s, ",");
	if (pci_parse(s, name_len, key)) {
		port->is_pci = true;
	} else if (vdev_parse(s, name_len, &drv_len)) {
		memcpy(key, s, name_len);
		key[name_len] = '\0';
		af_packet = drv_len == 9 && memcmp(s + 4, "af_packet", 9) == 0;
	} else {
		return conf_value_fail(c, path, expect, v);
	}
	rc = parse_devargs(c, path, s, s + name_len, af_packet, c->iface[idx]);
	if (rc < 0)
		return rc;
	memcpy(port->device, s, n + 1);

	conf_quote(q, sizeof(q), s, n);
	for (j = 0; j < idx; j++) {
		pj = &c->cfg.ports[j];
		conf_quote(qj, sizeof(qj), pj->device, strlen(pj->device));
		if (strcmp(pj->device, s) == 0)
			return conf_fail(c, path, "%s is already used by port \"%s\"",
					 q, pj->name);
		if (strcmp(c->dev_key[j], key) == 0)
			return conf_fail(c, path,
					 "device \"%s\" is already used by port \"%s\" (%s)",
					 key, pj->name, qj);
		if (c->iface[idx][0] != '\0' &&
		    strcmp(c->iface[j], c->iface[idx]) == 0)
			return conf_fail(c, path,
					 "interface \"%s\" is already used by port \"%s\" (%s)",
					 c->iface[idx], pj->name, qj);
	}
	return 0;
}

/* A port, segment or pair name: 1..31 characters of [A-Za-z0-9_.-]. */
static int
name_value(struct conf_ctx *c, const json_t *v, const char *path,
	   const char *what, char *out)
{
	char expect[96];
	const char *s;
	size_t n;
	int rc;

	conf_bprintf(expect, sizeof(expect),
		 "a %s name of 1..%d characters from [A-Za-z0-9_.-]", what,
		 PS_NAME_MAX - 1);
	rc = conf_string_value(c, v, path, expect, &s, &n);
	if (rc < 0)
		return rc;
	if (!conf_word_ok(s, n, PS_NAME_MAX - 1, "_.-"))
		return conf_value_fail(c, path, expect, v);
	memcpy(out, s, n + 1);
	return 0;
}

static const char *const role_names[] = { "net", "tool-oob", "tool-inline", NULL };

/* Segment or pair membership of a net or tool-inline port. */
static int
parse_port_group(struct conf_ctx *c, json_t *obj, const char *path,
		 struct ps_port_cfg *port)
{
	static const char *const sides[] = { "a", "b", NULL };
	const char *group_key, *other_key;
	char p[CONF_PATH_LEN];
	const char *role = role_names[port->role];
	unsigned int side;
	json_t *v;
	int rc;

	if (port->role == PS_ROLE_TOOL_OOB) {
		static const char *const refused[] = { "segment", "pair", "side", NULL };
		const char *const *k;

		for (k = refused; *k != NULL; k++) {
			if (conf_member(obj, path, *k, p, sizeof(p)) != NULL)
				return conf_fail(c, p,
						 "not allowed for role \"tool-oob\" (an out-of-band tool port has no segment, pair or side)");
		}
		port->side = 0;
		port->peer = PS_PEER_NONE;
		return 0;
	}
	if (port->role == PS_ROLE_NET) {
		group_key = "segment";
		other_key = "pair";
	} else {
		group_key = "pair";
		other_key = "segment";
	}
	if (conf_member(obj, path, other_key, p, sizeof(p)) != NULL)
		return conf_fail(c, p,
				 "not allowed for role \"%s\" (a %s port names its \"%s\")",
				 role, role, group_key);
	v = conf_member(obj, path, group_key, p, sizeof(p));
	if (v == NULL)
		return conf_fail(c, path,
				 "missing required key \"%s\" (role \"%s\" needs it)",
				 group_key, role);
	rc = name_value(c, v, p, group_key, port->group);
	if (rc < 0)
		return rc;
	v = conf_member(obj, path, "side", p, sizeof(p));
	if (v == NULL)
		return conf_fail(c, path,
				 "missing required key \"side\" (role \"%s\" needs it)",
				 role);
	rc = conf_enum_value(c, v, p, sides, &side);
	if (rc < 0)
		return rc;
	port->side = side == 0 ? 'a' : 'b';
	port->peer = PS_PEER_NONE;
	return 0;
}

static int
parse_port(struct conf_ctx *c, json_t *obj, const char *path, unsigned int idx)
{
	static const char *const keys[] = {
		"name", "device", "role", "segment", "pair", "side", "mtu", "tool",
		"heartbeat_ms", "heartbeat_misses", NULL
	};
	static const char *const req[] = { "name", "device", "role", NULL };
	struct ps_port_cfg *port = &c->cfg.ports[idx];
	char p[CONF_PATH_LEN];
	unsigned int role, mtu = DEFAULT_MTU, j;
	json_t *v;
	int rc;

	rc = conf_object_check(c, obj, path, keys, req);
	if (rc < 0)
		return rc;

	v = conf_member(obj, path, "name", p, sizeof(p));
	rc = name_value(c, v, p, "port", port->name);
	if (rc < 0)
		return rc;
	for (j = 0; j < idx; j++) {
		if (strcmp(c->cfg.ports[j].name, port->name) == 0)
			return conf_fail(c, p, "\"%s\" is already the name of ports[%u]",
					 port->name, j);
	}

	v = conf_member(obj, path, "device", p, sizeof(p));
	rc = parse_device(c, v, p, idx);
	if (rc < 0)
		return rc;

	v = conf_member(obj, path, "role", p, sizeof(p));
	rc = conf_enum_value(c, v, p, role_names, &role);
	if (rc < 0)
		return rc;
	port->role = (enum ps_port_role)role;

	rc = parse_port_group(c, obj, path, port);
	if (rc < 0)
		return rc;

	rc = conf_opt_uint(c, obj, path, "mtu", 68, 9600, &mtu);
	if (rc < 0)
		return rc;
	port->mtu = (uint16_t)mtu;
	/* Heartbeats through an inline tool: on its side "a" port. */
	port->hb_ms = DEFAULT_HB_MS;
	port->hb_misses = DEFAULT_HB_MISSES;
	if (json_object_get(obj, "heartbeat_ms") != NULL ||
	    json_object_get(obj, "heartbeat_misses") != NULL) {
		if (port->role != PS_ROLE_TOOL_INLINE || port->side != 'a') {
			conf_path_key(p, sizeof(p), path, json_object_get(obj, "heartbeat_ms") != NULL ?
				      "heartbeat_ms" : "heartbeat_misses");
			return conf_fail(c, p, "only for the side \"a\" port of a tool-inline pair");
		}
		rc = conf_opt_uint(c, obj, path, "heartbeat_ms", 10, 60000, &port->hb_ms);
		if (rc == 0)
			rc = conf_opt_uint(c, obj, path, "heartbeat_misses", 1, 100, &port->hb_misses);
		if (rc < 0)
			return rc;
	}
	return conf_parse_port_tool(c, obj, path, port);
}

/*
 * Every segment (net) and pair (tool-inline) has exactly one side "a" and
 * one side "b" port; link them through peer. At least one segment.
 */
static int
link_ports(struct conf_ctx *c, const char *path)
{
	struct ps_config *cfg = &c->cfg;
	char p[CONF_PATH_LEN], port_path[CONF_PATH_LEN];
	struct ps_port_cfg *port, *prev;
	bool has_net = false;
	unsigned int i, j;

	for (i = 0; i < cfg->n_ports; i++) {
		port = &cfg->ports[i];
		if (port->role == PS_ROLE_TOOL_OOB)
			continue;
		for (j = 0; j < i; j++) {
			prev = &cfg->ports[j];
			if (prev->role != port->role ||
			    strcmp(prev->group, port->group) != 0)
				continue;
			if (prev->side == port->side) {
				conf_path_index(port_path, sizeof(port_path), path, i);
				conf_path_key(p, sizeof(p), port_path, "side");
				return conf_fail(c, p,
						 "%s \"%s\" already has a side \"%c\" port (\"%s\")",
						 port->role == PS_ROLE_NET ? "segment" : "pair",
						 port->group, port->side, prev->name);
			}
			port->peer = j;
			prev->peer = i;
		}
	}
	for (i = 0; i < cfg->n_ports; i++) {
		port = &cfg->ports[i];
		if (port->role == PS_ROLE_TOOL_OOB)
			continue;
		if (port->peer == PS_PEER_NONE)
			return conf_fail(c, path, "%s \"%s\" has no side \"%c\" port",
					 port->role == PS_ROLE_NET ? "segment" : "pair",
					 port->group, port->side == 'a' ? 'b' : 'a');
		if (port->role == PS_ROLE_NET)
			has_net = true;
	}
	if (!has_net)
		return conf_fail(c, path,
				 "expected at least one segment (a side \"a\" and a side \"b\" port with role \"net\"), found none");
	return 0;
}

static int
parse_ports(struct conf_ctx *c, json_t *v, const char *path)
{
	char pi[CONF_PATH_LEN];
	size_t i, n;
	int rc;

	if (!json_is_array(v))
		return conf_type_fail(c, path, "an array of 2..16 port objects", v);
	n = json_array_size(v);
	if (n < 2 || n > PS_PORTS_MAX)
		return conf_fail(c, path, "expected 2..%d ports, found %zu",
				 PS_PORTS_MAX, n);
	for (i = 0; i < n; i++) {
		conf_path_index(pi, sizeof(pi), path, i);
		rc = parse_port(c, json_array_get(v, i), pi, (unsigned int)i);
		if (rc < 0)
			return rc;
		c->cfg.n_ports = (unsigned int)i + 1;
	}
	return link_ports(c, path);
}

/* ---- limits, bridge, control, log ---- */

/* A section made only of bounded integers, described by a table. */
struct uint_field {
	const char *key;
	unsigned int lo, hi;
	size_t off;			/* of the unsigned int in struct ps_config */
};

#define UINT_FIELDS_MAX	8

static int
parse_uint_fields(struct conf_ctx *c, json_t *obj, const char *path,
		  const struct uint_field *fields, size_t n)
{
	const char *keys[UINT_FIELDS_MAX + 1];
	size_t i;
	int rc;

	for (i = 0; i < n && i < UINT_FIELDS_MAX; i++)
		keys[i] = fields[i].key;
	keys[i] = NULL;
	rc = conf_object_check(c, obj, path, keys, NULL);
	for (i = 0; rc == 0 && i < n && i < UINT_FIELDS_MAX; i++)
		rc = conf_opt_uint(c, obj, path, fields[i].key, fields[i].lo,
			      fields[i].hi,
			      (unsigned int *)((char *)&c->cfg + fields[i].off));
	return rc;
}

#define UINT_FIELD(key, lo, hi, conf_member) \
	{ key, lo, hi, offsetof(struct ps_config, conf_member) }

static int
parse_limits(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const struct uint_field fields[] = {
		UINT_FIELD("rx_desc", 64, 16384, rx_desc),
		UINT_FIELD("tx_desc", 64, 16384, tx_desc),
		UINT_FIELD("burst", 1, 256, burst),
		UINT_FIELD("max_flows", 1, 16777216, max_flows),
	};

	return parse_uint_fields(c, obj, path, fields, sizeof(fields) / sizeof(fields[0]));
}

static int
parse_bridge(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = { "malformed", NULL };
	static const char *const actions[] = { "forward", "drop", NULL };
	unsigned int action = c->cfg.malformed;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc < 0)
		return rc;
	rc = conf_opt_enum(c, obj, path, "malformed", actions, &action);
	c->cfg.malformed = (enum ps_malformed_action)action;
	return rc;
}

/*
 * The intercept selector: which TCP connections get a flow (and, once the
 * proxy exists, are terminated). Everything else keeps the bridge.
 */
static int
parse_intercept(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"tcp_ports", "overflow", "idle_timeout_s", "policy", "starttls_ports", NULL
	};
	static const char *const overflow[] = { "bypass", "drop", NULL };
	struct ps_config *cfg = &c->cfg;
	unsigned int action = cfg->overflow;
	char p[CONF_PATH_LEN], pi[CONF_PATH_LEN];
	json_t *v, *e;
	size_t i, j;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc < 0)
		return rc;
	v = conf_member(obj, path, "tcp_ports", p, sizeof(p));
	if (v != NULL) {
		if (!json_is_array(v))
			return conf_type_fail(c, p, "an array of TCP ports", v);
		if (json_array_size(v) > PS_INTERCEPT_PORTS_MAX)
			return conf_fail(c, p, "expected at most %u ports, found %zu",
					 PS_INTERCEPT_PORTS_MAX, json_array_size(v));
		json_array_foreach(v, i, e) {
			unsigned int port;

			conf_path_index(pi, sizeof(pi), p, i);
			rc = conf_uint_value(c, e, pi, 1, 65535, &port);
			if (rc < 0)
				return rc;
			for (j = 0; j < cfg->n_intercept_ports; j++)
				if (cfg->intercept_ports[j] == port)
					return conf_fail(c, pi, "port %u is listed twice",
							 port);
			cfg->intercept_ports[cfg->n_intercept_ports++] = (uint16_t)port;
		}
	}
	rc = conf_opt_enum(c, obj, path, "overflow", overflow, &action);
	cfg->overflow = (enum ps_overflow_action)action;
	if (rc < 0)
		return rc;
	rc = conf_opt_uint(c, obj, path, "idle_timeout_s", 1, 86400,
			   &cfg->flow_idle_timeout_s);
	if (rc < 0)
		return rc;
	v = conf_member(obj, path, "starttls_ports", p, sizeof(p));
	if (v != NULL) {
		if (!json_is_array(v))
			return conf_type_fail(c, p, "an array of TCP ports", v);
		if (json_array_size(v) > PS_STARTTLS_PORTS_MAX)
			return conf_fail(c, p, "expected at most %u StartTLS ports, found %zu",
					 PS_STARTTLS_PORTS_MAX, json_array_size(v));
		cfg->n_starttls_ports = 0;
		json_array_foreach(v, i, e) {
			unsigned int port;

			conf_path_index(pi, sizeof(pi), p, i);
			rc = conf_uint_value(c, e, pi, 1, 65535, &port);
			if (rc < 0)
				return rc;
			cfg->starttls_ports[cfg->n_starttls_ports++] = (uint16_t)port;
		}
	}
	return conf_opt_path(c, obj, path, "policy", cfg->policy_file);
}

/* Settings of the TCP endpoints the appliance runs for intercepted flows. */
static int
parse_tcp(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const struct uint_field fields[] = {
		UINT_FIELD("syn_retries", 0, 10, tcp_syn_retries),
		UINT_FIELD("data_retries", 1, 15, tcp_data_retries),
		UINT_FIELD("snd_buf_kb", 16, 16384, tcp_snd_buf_kb),
		UINT_FIELD("rcv_buf_kb", 16, 16384, tcp_rcv_buf_kb),
		UINT_FIELD("time_wait_ms", 0, 120000, tcp_time_wait_ms),
	};

	return parse_uint_fields(c, obj, path, fields, sizeof(fields) / sizeof(fields[0]));
}

static int
parse_control(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = { "socket", NULL };
	static const char expect[] =
		"an absolute path of a socket file, at most 107 bytes";
	char p[CONF_PATH_LEN];
	const char *s;
	json_t *v;
	size_t n;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc < 0)
		return rc;
	v = conf_member(obj, path, "socket", p, sizeof(p));
	if (v == NULL)
		return 0;
	rc = conf_string_value(c, v, p, expect, &s, &n);
	if (rc < 0)
		return rc;
	if (n < 2 || n >= PS_SOCKET_PATH_MAX || s[0] != '/' || s[n - 1] == '/')
		return conf_value_fail(c, p, expect, v);
	memcpy(c->cfg.socket_path, s, n + 1);
	return 0;
}

static int
parse_log(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = { "level", NULL };
	static const char *const levels[] = {
		"err", "warning", "notice", "info", "debug", NULL
	};
	unsigned int level = c->cfg.log_level;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc < 0)
		return rc;
	rc = conf_opt_enum(c, obj, path, "level", levels, &level);
	c->cfg.log_level = (enum ps_log_level)level;
	return rc;
}

/* ---- top level ---- */

struct conf_section {
	const char *key;
	bool required;
	int (*parse)(struct conf_ctx *c, json_t *v, const char *path);
};

static const struct conf_section sections[] = {
	{ "lcores", true, parse_lcores },
	{ "eal", false, parse_eal },
	{ "mempool", false, parse_mempool },
	{ "ports", true, parse_ports },
	{ "rss", false, conf_parse_rss },
	{ "limits", false, parse_limits },
	{ "bridge", false, parse_bridge },
	{ "intercept", false, parse_intercept },
	{ "tcp", false, parse_tcp },
	{ "tls", false, conf_parse_tls },
	{ "sessions", false, conf_parse_sessions },
	{ "recording", false, conf_parse_recording },
	{ "control", false, parse_control },
	{ "log", false, parse_log },
};

#define N_SECTIONS	(sizeof(sections) / sizeof(sections[0]))

static int
parse_root(struct conf_ctx *c, json_t *root)
{
	const char *keys[N_SECTIONS + 1], *req[N_SECTIONS + 1];
	size_t i, n_req = 0;
	json_t *v;
	int rc;

	for (i = 0; i < N_SECTIONS; i++) {
		keys[i] = sections[i].key;
		if (sections[i].required)
			req[n_req++] = sections[i].key;
	}
	keys[N_SECTIONS] = NULL;
	req[n_req] = NULL;
	rc = conf_object_check(c, root, "", keys, req);
	if (rc < 0)
		return rc;
	for (i = 0; i < N_SECTIONS; i++) {
		v = json_object_get(root, sections[i].key);
		if (v == NULL)
			continue;
		rc = sections[i].parse(c, v, sections[i].key);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- public interface ---- */

/* See ps_config.h. */
void
ps_config_defaults(struct ps_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_mb = DEFAULT_MEMORY_MB;
	cfg->hugepages = true;
	memcpy(cfg->file_prefix, DEFAULT_FILE_PREFIX, sizeof(DEFAULT_FILE_PREFIX));
	cfg->mbufs = DEFAULT_MBUFS;
	cfg->mbuf_data_size = DEFAULT_MBUF_DATA_SIZE;
	cfg->mbuf_cache = DEFAULT_MBUF_CACHE;
	cfg->rx_desc = DEFAULT_DESC;
	cfg->tx_desc = DEFAULT_DESC;
	cfg->burst = DEFAULT_BURST;
	cfg->max_flows = DEFAULT_MAX_FLOWS;
	cfg->malformed = PS_MALFORMED_FORWARD;
	cfg->overflow = PS_OVERFLOW_DROP;	/* fail closed: never an unseen pass */
	cfg->flow_idle_timeout_s = DEFAULT_FLOW_IDLE_TIMEOUT_S;
	{
		/* SMTP and submission, IMAP, POP3, FTP. */
		static const uint16_t starttls[] = { 25, 587, 143, 110, 21 };

		memcpy(cfg->starttls_ports, starttls, sizeof(starttls));
		cfg->n_starttls_ports = sizeof(starttls) / sizeof(starttls[0]);
	}
	cfg->tcp_syn_retries = 5;
	cfg->tcp_data_retries = 8;
	cfg->tcp_snd_buf_kb = 256;
	cfg->tcp_rcv_buf_kb = 256;
	cfg->tcp_time_wait_ms = 2000;
	memcpy(cfg->socket_path, DEFAULT_SOCKET, sizeof(DEFAULT_SOCKET));
	cfg->log_level = PS_LOG_INFO;
	conf_tls_defaults(cfg);
}

/* See ps_config.h. */
int
ps_config_parse(const char *text, size_t len, const char *name,
		struct ps_config *cfg, char *err, size_t errlen)
{
	struct conf_ctx *c;
	json_error_t jerr;
	json_t *root;
	size_t name_len;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL)
		name = "(config)";
	if (cfg == NULL || (text == NULL && len > 0)) {
		conf_err_write(err, errlen, "%s: invalid arguments", name);
		return -EINVAL;
	}
	name_len = strlen(name);
	if (name_len >= PS_PATH_MAX) {
		conf_err_write(err, errlen, "%s: file name longer than %d bytes", name,
			  PS_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (len > PS_CONFIG_FILE_MAX) {
		conf_err_write(err, errlen, "%s: too large: the limit is %d bytes (1 MiB)",
			  name, PS_CONFIG_FILE_MAX);
		return -EINVAL;
	}

	root = json_loadb(text != NULL ? text : "", len, JSON_REJECT_DUPLICATES,
			  &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory) {
			conf_err_write(err, errlen, "%s: out of memory", name);
			return -ENOMEM;
		}
		conf_err_write(err, errlen, "%s:%d:%d: invalid JSON: %s", name,
			  jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		conf_err_write(err, errlen, "%s: out of memory", name);
		rc = -ENOMEM;
		goto out_json;
	}
	c->name = name;
	c->err = err;
	c->errlen = errlen;
	ps_config_defaults(&c->cfg);
	memcpy(c->cfg.path, name, name_len + 1);

	rc = parse_root(c, root);
	if (rc == 0)
		memcpy(cfg, &c->cfg, sizeof(*cfg));
	free(c);
out_json:
	json_decref(root);
	return rc;
}

/* See ps_config.h. */
int
ps_config_load(const char *path, struct ps_config *cfg, char *err,
	       size_t errlen)
{
	char msg[128];
	size_t len = 0;
	char *buf;
	ssize_t n;
	int fd, rc;

	if (path == NULL) {
		conf_err_write(err, errlen, "(config): invalid arguments");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto err_read;
	}
	/* one byte more than the limit tells a full 1 MiB from a larger file */
	buf = malloc(PS_CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto err_close;
	}
	while (len <= PS_CONFIG_FILE_MAX) {
		n = read(fd, buf + len, PS_CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto err_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > PS_CONFIG_FILE_MAX) {
		conf_err_write(err, errlen, "%s: too large: the limit is %d bytes (1 MiB)",
			  path, PS_CONFIG_FILE_MAX);
		rc = -EINVAL;
	} else {
		rc = ps_config_parse(buf, len, path, cfg, err, errlen);
	}
	free(buf);
	return rc;

err_free:
	free(buf);
err_close:
	close(fd);
err_read:
	conf_err_write(err, errlen, "%s: cannot read: %s", path,
		  strerror_r(-rc, msg, sizeof(msg)));
	return rc;
}

/* See ps_config.h. */
const char *
ps_port_role_name(enum ps_port_role role)
{
	switch (role) {
	case PS_ROLE_NET:
		return "net";
	case PS_ROLE_TOOL_OOB:
		return "tool-oob";
	case PS_ROLE_TOOL_INLINE:
		return "tool-inline";
	}
	return "unknown";
}

/* See ps_config.h. */
int
ps_config_port_index(const struct ps_config *cfg, const char *name)
{
	unsigned int i;

	if (cfg == NULL || name == NULL)
		return -1;
	for (i = 0; i < cfg->n_ports && i < PS_PORTS_MAX; i++) {
		if (strcmp(cfg->ports[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}
