/* SPDX-License-Identifier: BSD-3-Clause
 * Configuration of TLS interception (section "tls") and of what tool ports
 * receive (ports[].tool). Files named here are only checked for form: the
 * data plane opens them at start and reports what is wrong with them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_priv.h"

#define DEFAULT_SESSION_CACHE		20000
#define DEFAULT_SESSION_TIMEOUT_S	300
#define DEFAULT_FORGE_CACHE		4096
#define DEFAULT_TOOL_MSS		0	/* by address family: 1460 IPv4, 1440 IPv6 */
#define DEFAULT_SESSIONS_KEEP		10000
#define DEFAULT_BYPASS_TTL_S		3600
#define DEFAULT_SESSIONS_LOG_KEEP	5
#define DEFAULT_SESSIONS_FACILITY	16	/* local0 */

void
conf_tls_defaults(struct ps_config *cfg)
{
	unsigned int i;

	cfg->tls.trust_system = true;
	cfg->tls.verify_failure = PS_VERIFY_FAIL_REJECT;
	cfg->tls.session_cache = DEFAULT_SESSION_CACHE;
	cfg->tls.session_timeout_s = DEFAULT_SESSION_TIMEOUT_S;
	cfg->tls.forge_cache = DEFAULT_FORGE_CACHE;
	cfg->tls.bypass_ttl_s = DEFAULT_BYPASS_TTL_S;
	cfg->sessions_keep = DEFAULT_SESSIONS_KEEP;
	cfg->sessions_log_keep = DEFAULT_SESSIONS_LOG_KEEP;
	cfg->sessions_syslog_facility = DEFAULT_SESSIONS_FACILITY;
	cfg->record_rotate_mb = 100;
	cfg->record_rotate_s = 3600;
	cfg->record_keep_files = 100;
	for (i = 0; i < PS_PORTS_MAX; i++)
		cfg->ports[i].tool.mss = DEFAULT_TOOL_MSS;
}

/* Optional file path member: a non-empty string that fits PS_PATH_MAX. */
int
conf_opt_path(struct conf_ctx *c, json_t *obj, const char *path, const char *key,
	 char out[PS_PATH_MAX])
{
	static const char expect[] = "a file path";
	char p[CONF_PATH_LEN];
	const char *s;
	json_t *v;
	size_t n;
	int rc;

	v = conf_member(obj, path, key, p, sizeof(p));
	if (v == NULL)
		return 0;
	rc = conf_string_value(c, v, p, expect, &s, &n);
	if (rc < 0)
		return rc;
	if (n == 0 || n >= PS_PATH_MAX || memchr(s, '\0', n) != NULL)
		return conf_value_fail(c, p, expect, v);
	memcpy(out, s, n + 1);
	return 0;
}

/* A server name: a DNS name, or "*." and one. */
static bool
sni_pattern_ok(const char *s, size_t n)
{
	size_t i;

	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!(conf_is_alnum(ch) || ch == '-' || ch == '.' || ch == '_') ||
		    (ch == '.' && s[i + 1] == '.'))
			return false;
	}
	return true;
}

/* tls.known_servers: [{"sni", "address", "cert", "key", "passphrase_file"}] */
static int
parse_known(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"sni", "address", "cert", "key", "passphrase_file", NULL
	};
	static const char *const req[] = { "cert", NULL };
	struct ps_tls_settings *t = &c->cfg.tls;
	char p[CONF_PATH_LEN], pi[CONF_PATH_LEN], pk[CONF_PATH_LEN];
	json_t *v, *e, *f;
	size_t i, n;
	const char *s;
	int rc;

	v = conf_member(obj, path, "known_servers", p, sizeof(p));
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return conf_type_fail(c, p, "an array of known servers", v);
	if (json_array_size(v) > PS_KNOWN_SERVERS_MAX)
		return conf_fail(c, p, "expected at most %u known servers, found %zu",
				 PS_KNOWN_SERVERS_MAX, json_array_size(v));
	json_array_foreach(v, i, e) {
		struct ps_known_server_cfg *k = &t->known[i];

		conf_path_index(pi, sizeof(pi), p, i);
		rc = conf_object_check(c, e, pi, keys, req);
		if (rc == 0)
			rc = conf_opt_path(c, e, pi, "cert", k->cert);
		if (rc == 0)
			rc = conf_opt_path(c, e, pi, "key", k->key);
		if (rc == 0)
			rc = conf_opt_path(c, e, pi, "passphrase_file", k->passphrase_file);
		if (rc < 0)
			return rc;
		f = conf_member(e, pi, "sni", pk, sizeof(pk));
		if (f != NULL) {
			rc = conf_string_value(c, f, pk, "a server name or *.suffix", &s, &n);
			if (rc < 0)
				return rc;
			if (!sni_pattern_ok(s, n))
				return conf_value_fail(c, pk, "a server name or *.suffix", f);
			memcpy(k->sni, s, n + 1);
		}
		f = conf_member(e, pi, "address", pk, sizeof(pk));
		if (f != NULL) {
			rc = conf_string_value(c, f, pk, "an IPv4 or IPv6 address", &s, &n);
			if (rc < 0)
				return rc;
			if (inet_pton(AF_INET, s, k->addr) == 1)
				k->family = 4;
			else if (inet_pton(AF_INET6, s, k->addr) == 1)
				k->family = 6;
			else
				return conf_value_fail(c, pk, "an IPv4 or IPv6 address", f);
			k->has_addr = true;
		}
		if (k->sni[0] == '\0' && !k->has_addr)
			return conf_fail(c, pi, "a known server needs \"sni\" or \"address\"");
		t->n_known = (unsigned int)i + 1;
	}
	return 0;
}

/*
 * tls.crl_files: ["path", ...]. The files are read at start, where an
 * unreadable or undecodable one stops the data plane: revocation that was
 * asked for is never silently off.
 */
static int
parse_crl_files(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char expect[] = "a CRL file path";
	struct ps_tls_settings *t = &c->cfg.tls;
	char p[CONF_PATH_LEN], pi[CONF_PATH_LEN];
	const char *s;
	json_t *v, *e;
	size_t i, j, n;
	int rc;

	v = conf_member(obj, path, "crl_files", p, sizeof(p));
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return conf_type_fail(c, p, "an array of CRL file paths", v);
	if (json_array_size(v) > PS_CRL_FILES_MAX)
		return conf_fail(c, p, "expected at most %u CRL files, found %zu",
				 PS_CRL_FILES_MAX, json_array_size(v));
	json_array_foreach(v, i, e) {
		conf_path_index(pi, sizeof(pi), p, i);
		rc = conf_string_value(c, e, pi, expect, &s, &n);
		if (rc < 0)
			return rc;
		if (n == 0 || n >= PS_PATH_MAX || memchr(s, '\0', n) != NULL)
			return conf_value_fail(c, pi, expect, e);
		for (j = 0; j < i; j++)
			if (strcmp(t->crl_files[j], s) == 0)
				return conf_fail(c, pi, "\"%s\" is already crl_files[%zu]",
						 t->crl_files[j], j);
		memcpy(t->crl_files[i], s, n + 1);
		t->n_crl_files = (unsigned int)i + 1;
	}
	return 0;
}

int
conf_parse_tls(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"ca_cert", "ca_key", "ca_passphrase_file",
		"untrusted_ca_cert", "untrusted_ca_key", "untrusted_ca_passphrase_file",
		"trust_system", "trust_bundle", "verify_failure",
		"session_cache", "session_timeout_s", "forge_cache", "keylog_file",
		"bypass_ttl_s", "bypass_pinned_clients", "known_servers",
		"crl_files", "revocation_unknown", NULL
	};
	static const char *const req[] = { "ca_cert", NULL };
	static const char *const actions[] = { "reject", "resign-untrusted", NULL };
	static const char *const unknown[] = { "reject", "allow", NULL };
	struct ps_tls_settings *t = &c->cfg.tls;
	unsigned int action = t->verify_failure;
	unsigned int rev_unknown = t->revocation_unknown_allow ? 1 : 0;
	char p[CONF_PATH_LEN];
	int rc;

	rc = conf_object_check(c, obj, path, keys, req);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "ca_cert", t->ca_cert);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "ca_key", t->ca_key);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "ca_passphrase_file", t->ca_passphrase_file);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "untrusted_ca_cert", t->untrusted_ca_cert);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "untrusted_ca_key", t->untrusted_ca_key);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "untrusted_ca_passphrase_file",
			      t->untrusted_ca_passphrase_file);
	if (rc == 0)
		rc = conf_opt_bool(c, obj, path, "trust_system", &t->trust_system);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "trust_bundle", t->trust_bundle);
	if (rc == 0)
		rc = conf_opt_enum(c, obj, path, "verify_failure", actions, &action);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "session_cache", 0, 10000000,
				   &t->session_cache);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "session_timeout_s", 1, 86400,
				   &t->session_timeout_s);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "forge_cache", 16, 4194304,
				   &t->forge_cache);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "keylog_file", t->keylog_file);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "bypass_ttl_s", 0, 30 * 86400,
				   &t->bypass_ttl_s);
	if (rc == 0)
		rc = conf_opt_bool(c, obj, path, "bypass_pinned_clients",
				   &t->bypass_pinned_clients);
	if (rc == 0)
		rc = parse_known(c, obj, path);
	if (rc == 0)
		rc = parse_crl_files(c, obj, path);
	if (rc == 0)
		rc = conf_opt_enum(c, obj, path, "revocation_unknown", unknown, &rev_unknown);
	if (rc < 0)
		return rc;
	t->revocation_unknown_allow = rev_unknown == 1;
	t->verify_failure = (enum ps_verify_fail_action)action;
	if (t->verify_failure == PS_VERIFY_FAIL_RESIGN_UNTRUSTED &&
	    t->untrusted_ca_cert[0] == '\0') {
		conf_path_key(p, sizeof(p), path, "verify_failure");
		return conf_fail(c, p, "\"resign-untrusted\" needs untrusted_ca_cert");
	}
	if (!t->trust_system && t->trust_bundle[0] == '\0')
		return conf_fail(c, path, "no trust anchors for upstream servers: "
				 "set trust_system or trust_bundle");
	t->enabled = true;
	return 0;
}

/*
 * A syslog target: "udp://" or "tcp://", an IPv4 literal or an IPv6 one
 * in brackets, ":" and a port 1..65535 written without sign or leading
 * zero. Names are refused: the data plane never waits on a resolver.
 */
static bool
syslog_target_ok(const char *s)
{
	char host[INET6_ADDRSTRLEN];
	unsigned char a[16];
	const char *port;
	size_t n;
	int af;

	if (strncmp(s, "udp://", 6) != 0 && strncmp(s, "tcp://", 6) != 0)
		return false;
	s += 6;
	af = *s == '[' ? AF_INET6 : AF_INET;
	if (af == AF_INET6)
		s++;
	n = strcspn(s, af == AF_INET6 ? "]" : ":");
	port = s + n + (af == AF_INET6 ? 1 : 0);
	if (n == 0 || n >= sizeof(host) || *port != ':')
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	port++;
	n = strlen(port);
	return inet_pton(af, host, a) == 1 && n >= 1 && n <= 5 && *port != '0' &&
	       strspn(port, "0123456789") == n && strtoul(port, NULL, 10) <= 65535;
}

/* Session records: how many closed ones stay queryable, the log, syslog. */
int
conf_parse_sessions(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"keep", "log_file", "log_rotate_mb", "log_keep", "syslog", "syslog_facility",
		NULL
	};
	/* RFC 5424 6.2.1 codes 0..11, then local0..local7 (16..23). */
	static const char *const facilities[] = {
		"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
		"cron", "authpriv", "ftp", "local0", "local1", "local2", "local3",
		"local4", "local5", "local6", "local7", NULL
	};
	static const char expect_syslog[] = "\"udp://IP:PORT\" or \"tcp://IP:PORT\" with "
		"IP an IPv4 address or [IPv6 address] and PORT 1..65535";
	struct ps_config *cfg = &c->cfg;
	char p[CONF_PATH_LEN];
	unsigned int fac = cfg->sessions_syslog_facility < 12 ?
			   cfg->sessions_syslog_facility : cfg->sessions_syslog_facility - 4;
	json_t *v;
	int rc;

	rc = conf_object_check(c, obj, path, keys, NULL);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "keep", 1, 10000000, &cfg->sessions_keep);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "log_file", cfg->sessions_log);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "log_rotate_mb", 0, 1000000,
				   &cfg->sessions_log_rotate_mb);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "log_keep", 1, 1000, &cfg->sessions_log_keep);
	if (rc == 0)
		rc = conf_opt_enum(c, obj, path, "syslog_facility", facilities, &fac);
	if (rc < 0)
		return rc;
	cfg->sessions_syslog_facility = fac < 12 ? fac : fac + 4;
	v = conf_member(obj, path, "syslog", p, sizeof(p));
	if (v != NULL) {
		const char *s;
		size_t n;

		rc = conf_string_value(c, v, p, expect_syslog, &s, &n);
		if (rc < 0)
			return rc;
		if (n >= PS_PATH_MAX || memchr(s, '\0', n) != NULL || !syslog_target_ok(s))
			return conf_value_fail(c, p, expect_syslog, v);
		memcpy(cfg->sessions_syslog, s, n + 1);
	}
	return 0;
}

/* Recording: the decrypted conversations to rotated pcap files. */
int
conf_parse_recording(struct conf_ctx *c, json_t *obj, const char *path)
{
	static const char *const keys[] = {
		"dir", "rotate_mb", "rotate_s", "keep_files", NULL
	};
	static const char *const req[] = { "dir", NULL };
	struct ps_config *cfg = &c->cfg;
	int rc;

	rc = conf_object_check(c, obj, path, keys, req);
	if (rc == 0)
		rc = conf_opt_path(c, obj, path, "dir", cfg->record_dir);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "rotate_mb", 1, 1000000, &cfg->record_rotate_mb);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "rotate_s", 0, 86400 * 7, &cfg->record_rotate_s);
	if (rc == 0)
		rc = conf_opt_uint(c, obj, path, "keep_files", 0, 1000000,
				   &cfg->record_keep_files);
	return rc;
}

/* "aa:bb:cc:dd:ee:ff", unicast. */
static int
mac_value(struct conf_ctx *c, const json_t *v, const char *path, uint8_t mac[6])
{
	static const char expect[] = "a unicast MAC address \"aa:bb:cc:dd:ee:ff\"";
	unsigned int b[6];
	const char *s;
	size_t n;
	int rc, i;
	char tail;

	rc = conf_string_value(c, v, path, expect, &s, &n);
	if (rc < 0)
		return rc;
	if (n != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
			      &b[3], &b[4], &b[5], &tail) != 6 || (b[0] & 1) != 0)
		return conf_value_fail(c, path, expect, v);
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int
conf_parse_port_tool(struct conf_ctx *c, json_t *obj, const char *path,
		     struct ps_port_cfg *port)
{
	static const char *const keys[] = {
		"dport_rewrite", "vlan", "dst_mac", "src_mac", "mss", NULL
	};
	struct ps_tool_port_cfg *t = &port->tool;
	char p[CONF_PATH_LEN], pk[CONF_PATH_LEN];
	unsigned int u;
	json_t *v, *e;
	int rc;

	v = conf_member(obj, path, "tool", p, sizeof(p));
	if (v == NULL)
		return 0;
	if (port->role != PS_ROLE_TOOL_OOB)
		return conf_fail(c, p, "only a port of role \"tool-oob\" takes tool settings");
	rc = conf_object_check(c, v, p, keys, NULL);
	if (rc < 0)
		return rc;
	u = 0;
	rc = conf_opt_uint(c, v, p, "dport_rewrite", 1, 65535, &u);
	if (rc < 0)
		return rc;
	t->dport_rewrite = (uint16_t)u;
	e = conf_member(v, p, "vlan", pk, sizeof(pk));
	if (e != NULL) {
		rc = conf_uint_value(c, e, pk, 1, 4094, &u);
		if (rc < 0)
			return rc;
		t->has_vlan = true;
		t->vlan_tci = (uint16_t)u;
	}
	e = conf_member(v, p, "dst_mac", pk, sizeof(pk));
	if (e != NULL) {
		rc = mac_value(c, e, pk, t->dst_mac);
		if (rc < 0)
			return rc;
		t->has_dst_mac = true;
	}
	e = conf_member(v, p, "src_mac", pk, sizeof(pk));
	if (e != NULL) {
		rc = mac_value(c, e, pk, t->src_mac);
		if (rc < 0)
			return rc;
		t->has_src_mac = true;
	}
	u = t->mss;
	rc = conf_opt_uint(c, v, p, "mss", 536, 9000, &u);
	t->mss = (uint16_t)u;
	return rc;
}
