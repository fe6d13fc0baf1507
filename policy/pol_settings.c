/* SPDX-License-Identifier: BSD-3-Clause
 * The policy's global parts: "settings" (StartTLS ports, CAs, known
 * servers, session cache, overflow, verify failure, tool chains, log
 * destinations) and "tls_profiles" (upstream TLS versions, ciphers and
 * groups). Like pol_parse.c, each bad member is reported and skipped.
 *
 * Files named here are checked as the process that compiles the policy
 * sees them (readable, and key files private), so a policy that names a
 * key the data plane cannot load is refused before it is applied. Cipher
 * strings are checked by OpenSSL itself: the library is the only judge
 * of what it accepts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/err.h>

#include "pol_priv.h"

#define PATH_MAX_LEN	4095
#define CIPHERS_MAX	1024	/* bytes of a cipher or group string */

#define EXPECT_PATH	"a file path of 1..4095 bytes without control characters"
#define EXPECT_LPORT	"a port 1..65535"
#define EXPECT_NAME63	"a name of 1..63 characters [A-Za-z0-9_.-]"
#define EXPECT_PNAME	"a port name of 1..31 printable characters without spaces"
#define EXPECT_SYSLOG	"\"udp://HOST:PORT\" or \"tcp://HOST:PORT\" with HOST an IPv4 " \
			"address or [IPv6 address] and PORT 1..65535"
#define EXPECT_KNOWN_SNI "an exact host name or \"*.SUFFIX\""
#define EXPECT_ADDR	"an IPv4 or IPv6 address"
#define EXPECT_CIPHERS	"an OpenSSL cipher list (TLS 1.2 and below) that selects at least one cipher"
#define EXPECT_SUITES	"TLS 1.3 cipher suites known to OpenSSL, separated by \":\""
#define EXPECT_GROUPS	"groups known to OpenSSL, separated by \":\" (\"X25519:P-256\")"

static const char *const settings_keys[] = {
	"starttls_ports", "ca", "untrusted_ca", "known_servers", "session_cache",
	"overflow", "verify_failure", "tools", "log", NULL,
};
static const char *const ca_keys[] = { "cert", "key", "passphrase_file", NULL };
static const char *const known_keys[] = {
	"sni", "address", "cert", "key", "passphrase_file", NULL,
};
static const char *const cache_keys[] = { "entries", "timeout_s", NULL };
static const char *const tool_keys[] = { "ports", "failure", NULL };
static const char *const log_keys[] = { "file", "syslog", NULL };
static const char *const profile_keys[] = {
	"versions", "ciphers", "ciphersuites", "groups", NULL,
};
static const char *const overflow_names[] = { "bypass", "drop", NULL };
static const char *const verify_names[] = { "reject", "resign-untrusted", NULL };
static const char *const failure_names[] = { "fail-open", "fail-closed", NULL };
static const char *const version_names[] = { "1.0", "1.1", "1.2", "1.3", NULL };

/* A string member of 1..max bytes without control characters, or NULL. */
static const char *
text(json_t *v, size_t max)
{
	size_t n;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n == 0 || n > max || ps_pol_has_control(json_string_value(v), n))
		return NULL;
	return json_string_value(v);
}

/* 1..63 of [A-Za-z0-9_.-]: tool and profile names. */
static bool
name63(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > POL_TOOL_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

/*
 * obj[key] as a file path the process can read; a key file (secret) must
 * also be closed to group and others, as the data plane will demand when
 * it loads it. *out stays NULL when absent or refused.
 */
static void
file_member(struct pol_ctx *c, json_t *obj, const char *path, const char *key,
	    bool secret, const char **out)
{
	char p[POL_PATH_LEN], msg[128];
	json_t *v = json_object_get(obj, key);
	struct stat st;
	const char *s;

	*out = NULL;
	if (v == NULL)
		return;
	ps_pol_path_key(p, sizeof(p), path, key);
	s = text(v, PATH_MAX_LEN);
	if (s == NULL) {
		ps_pol_expect(c, p, EXPECT_PATH, v);
		return;
	}
	if (access(s, R_OK) != 0 || stat(s, &st) != 0) {
		ps_pol_fail(c, p, "cannot read %s: %s", s,
			    strerror_r(errno, msg, sizeof(msg)));
		return;
	}
	if (secret && (st.st_mode & 077) != 0) {
		ps_pol_fail(c, p, "%s is readable by others (mode %04o): chmod 600 it",
			    s, (unsigned int)(st.st_mode & 07777));
		return;
	}
	*out = s;
}

/* "ca" or "untrusted_ca": cert (required), key, passphrase_file. */
static void
parse_ca(struct pol_ctx *c, json_t *obj, const char *path, const char **cert,
	 const char **key, const char **pass)
{
	if (!ps_pol_check_object(c, obj, path, ca_keys))
		return;
	if (json_object_get(obj, "cert") == NULL)
		ps_pol_fail(c, path, "missing required key \"cert\"");
	file_member(c, obj, path, "cert", false, cert);
	file_member(c, obj, path, "key", true, key);
	file_member(c, obj, path, "passphrase_file", true, pass);
}

static void
parse_starttls(struct pol_ctx *c, struct ps_pol_settings *set, json_t *arr)
{
	char pi[POL_PATH_LEN];
	json_int_t x;
	unsigned int k;
	json_t *v;
	size_t i;

	if (!json_is_array(arr)) {
		ps_pol_expect(c, "settings.starttls_ports", "an array of ports", arr);
		return;
	}
	if (json_array_size(arr) > PS_POL_STARTTLS_MAX) {
		ps_pol_fail(c, "settings.starttls_ports",
			    "expected at most %d ports, found %zu",
			    PS_POL_STARTTLS_MAX, json_array_size(arr));
		return;
	}
	set->has_starttls_ports = true;
	json_array_foreach(arr, i, v) {
		ps_pol_path_index(pi, sizeof(pi), "settings.starttls_ports", i);
		x = json_is_integer(v) ? json_integer_value(v) : 0;
		if (x < 1 || x > 65535) {
			ps_pol_expect(c, pi, EXPECT_LPORT, v);
			continue;
		}
		for (k = 0; k < set->n_starttls_ports; k++) {
			if (set->starttls_ports[k] == x)
				break;
		}
		if (k < set->n_starttls_ports) {
			ps_pol_fail(c, pi, "duplicate port %" JSON_INTEGER_FORMAT, x);
			continue;
		}
		set->starttls_ports[set->n_starttls_ports++] = (uint16_t)x;
	}
}

static void
parse_known1(struct pol_ctx *c, struct ps_pol_known *k, json_t *obj,
	     const char *path)
{
	char p[POL_PATH_LEN];
	json_t *sni, *addr;
	bool bad;
	char *pat;

	if (!ps_pol_check_object(c, obj, path, known_keys))
		return;
	sni = json_object_get(obj, "sni");
	addr = json_object_get(obj, "address");
	if (sni == NULL && addr == NULL)
		ps_pol_fail(c, path, "expected \"sni\" or \"address\" (or both), "
			    "found neither");
	if (sni != NULL) {
		ps_pol_path_key(p, sizeof(p), path, "sni");
		/* the pattern's normalised form is checked, the text kept */
		pat = json_is_string(sni) ? ps_pol_pattern(sni, &bad) : NULL;
		if (pat == NULL || pat[0] == '.')
			ps_pol_expect(c, p, EXPECT_KNOWN_SNI, sni);
		else
			k->sni = json_string_value(sni);
		free(pat);
	}
	if (addr != NULL) {
		ps_pol_path_key(p, sizeof(p), path, "address");
		if (json_is_string(addr) &&
		    inet_pton(AF_INET, json_string_value(addr), k->addr.bytes) == 1)
			k->addr.family = 4;
		else if (json_is_string(addr) &&
			 inet_pton(AF_INET6, json_string_value(addr), k->addr.bytes) == 1)
			k->addr.family = 6;
		else
			ps_pol_expect(c, p, EXPECT_ADDR, addr);
		k->has_addr = k->addr.family != 0;
	}
	if (json_object_get(obj, "cert") == NULL)
		ps_pol_fail(c, path, "missing required key \"cert\"");
	file_member(c, obj, path, "cert", false, &k->cert);
	file_member(c, obj, path, "key", true, &k->key);
	file_member(c, obj, path, "passphrase_file", true, &k->passphrase_file);
}

static int
parse_known(struct pol_ctx *c, struct pol_spec *spec, json_t *arr)
{
	const char *path = "settings.known_servers";
	char pi[POL_PATH_LEN];
	json_t *v;
	size_t i;

	if (!json_is_array(arr))
		return ps_pol_expect(c, path, "an array of servers", arr);
	if (json_array_size(arr) > PS_POL_KNOWN_MAX)
		return ps_pol_fail(c, path, "expected at most %d servers, found %zu",
				   PS_POL_KNOWN_MAX, json_array_size(arr));
	spec->known = calloc(json_array_size(arr) + 1, sizeof(*spec->known));
	if (spec->known == NULL)
		return -ENOMEM;
	spec->set.has_known_servers = true;
	spec->set.known = spec->known;
	spec->set.n_known = (unsigned int)json_array_size(arr);
	json_array_foreach(arr, i, v) {
		ps_pol_path_index(pi, sizeof(pi), path, i);
		parse_known1(c, &spec->known[i], v, pi);
	}
	return 0;
}

/* obj[key], required, an integer lo..hi. */
static void
int_member(struct pol_ctx *c, json_t *obj, const char *path, const char *key,
	   json_int_t lo, json_int_t hi, unsigned int *out)
{
	char p[POL_PATH_LEN], expect[64];
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		ps_pol_fail(c, path, "missing required key \"%s\"", key);
		return;
	}
	ps_pol_path_key(p, sizeof(p), path, key);
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		snprintf(expect, sizeof(expect), "an integer %" JSON_INTEGER_FORMAT
			 "..%" JSON_INTEGER_FORMAT, lo, hi);
		ps_pol_expect(c, p, expect, v);
		return;
	}
	*out = (unsigned int)json_integer_value(v);
}

static void
parse_cache(struct pol_ctx *c, struct ps_pol_settings *set, json_t *obj)
{
	const char *path = "settings.session_cache";

	if (!ps_pol_check_object(c, obj, path, cache_keys))
		return;
	set->has_session_cache = true;
	int_member(c, obj, path, "entries", 0, 10000000, &set->session_cache_entries);
	int_member(c, obj, path, "timeout_s", 1, 86400, &set->session_timeout_s);
}

/* One tool chain: ports (data-plane port names), failure. */
static int
parse_tool1(struct pol_ctx *c, struct ps_pol_tool *t, json_t *obj,
	    const char *path)
{
	char p[POL_PATH_LEN], pi[POL_PATH_LEN];
	const char **ports;
	unsigned int f, k;
	const char *s;
	json_t *arr, *v;
	size_t i, j;

	if (!ps_pol_check_object(c, obj, path, tool_keys))
		return 0;
	ps_pol_path_key(p, sizeof(p), path, "failure");
	v = json_object_get(obj, "failure");
	t->fail_closed = true;	/* a tool path that fails blocks, unless told */
	if (v != NULL && ps_pol_enum(c, v, p, failure_names, &f) == 0)
		t->fail_closed = f == 1;
	ps_pol_path_key(p, sizeof(p), path, "ports");
	arr = json_object_get(obj, "ports");
	if (arr == NULL)
		return ps_pol_fail(c, path, "missing required key \"ports\"");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return ps_pol_expect(c, p, "a non-empty array of port names", arr);
	ports = calloc(json_array_size(arr) + 1, sizeof(*ports));
	if (ports == NULL)
		return -ENOMEM;
	t->ports = ports;
	json_array_foreach(arr, i, v) {
		ps_pol_path_index(pi, sizeof(pi), p, i);
		s = text(v, POL_PORT_NAME_MAX);
		for (j = 0; s != NULL && s[j] != '\0' && s[j] != ' ' &&
			    (unsigned char)s[j] < 0x7f; j++)
			;
		if (s == NULL || s[j] != '\0') {
			ps_pol_expect(c, pi, EXPECT_PNAME, v);
			continue;
		}
		for (k = 0; k < t->n_ports && strcmp(ports[k], s) != 0; k++)
			;
		if (k < t->n_ports) {
			ps_pol_fail(c, pi, "duplicate port \"%s\"", s);
			continue;
		}
		ports[t->n_ports++] = s;
	}
	return 0;
}

static int
parse_tools(struct pol_ctx *c, struct pol_spec *spec, json_t *obj)
{
	char p[POL_PATH_LEN];
	const char *key;
	void *it;
	int rc;

	if (!json_is_object(obj))
		return ps_pol_expect(c, "settings.tools", "an object of named tools", obj);
	spec->tools = calloc(json_object_size(obj) + 1, sizeof(*spec->tools));
	if (spec->tools == NULL)
		return -ENOMEM;
	for (it = json_object_iter(obj); it != NULL;
	     it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		if (key[0] == '#')
			continue;
		ps_pol_path_key(p, sizeof(p), "settings.tools", key);
		if (!name63(key)) {
			ps_pol_fail(c, p, "expected " EXPECT_NAME63 " as a tool name");
			continue;
		}
		/* a tool with bad members is still defined: no cascade */
		spec->tools[spec->n_tools].name = key;
		rc = parse_tool1(c, &spec->tools[spec->n_tools++],
				 json_object_iter_value(it), p);
		if (rc == -ENOMEM)
			return rc;
	}
	return 0;
}

/* "udp://HOST:PORT" or "tcp://HOST:PORT", HOST an IP literal. */
static bool
syslog_ok(const char *s)
{
	unsigned char addr[16];
	char host[INET6_ADDRSTRLEN + 1];
	const char *h, *colon, *d;
	unsigned int port = 0;
	size_t n;
	int af = AF_INET;

	if (strncmp(s, "udp://", 6) != 0 && strncmp(s, "tcp://", 6) != 0)
		return false;
	h = s + 6;
	if (h[0] == '[') {
		colon = strstr(h, "]:");
		if (colon == NULL)
			return false;
		h++;
		n = (size_t)(colon - h);
		colon++;
		af = AF_INET6;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			return false;
		n = (size_t)(colon - h);
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (inet_pton(af, host, addr) != 1)
		return false;
	d = colon + 1;
	if (*d == '\0' || *d == '0' || strlen(d) > 5)
		return false;
	for (; *d != '\0'; d++) {
		if (*d < '0' || *d > '9')
			return false;
		port = port * 10 + (unsigned int)(*d - '0');
	}
	return port >= 1 && port <= 65535;
}

static void
parse_log(struct pol_ctx *c, struct ps_pol_settings *set, json_t *obj)
{
	json_t *v;

	if (!ps_pol_check_object(c, obj, "settings.log", log_keys))
		return;
	v = json_object_get(obj, "file");
	if (v != NULL && (set->log_file = text(v, PATH_MAX_LEN)) == NULL)
		ps_pol_expect(c, "settings.log.file", EXPECT_PATH, v);
	v = json_object_get(obj, "syslog");
	if (v == NULL)
		return;
	set->syslog_url = text(v, 255);
	if (set->syslog_url == NULL || !syslog_ok(set->syslog_url)) {
		set->syslog_url = NULL;
		ps_pol_expect(c, "settings.log.syslog", EXPECT_SYSLOG, v);
	}
}

/* See pol_priv.h. obj may be NULL (no settings). */
int
ps_pol_parse_settings(struct pol_ctx *c, struct pol_spec *spec, json_t *obj)
{
	struct ps_pol_settings *set = &spec->set;
	unsigned int e;
	json_t *v;
	int rc;

	if (obj == NULL || !ps_pol_check_object(c, obj, "settings", settings_keys))
		return 0;
	v = json_object_get(obj, "starttls_ports");
	if (v != NULL)
		parse_starttls(c, set, v);
	v = json_object_get(obj, "ca");
	if (v != NULL)
		parse_ca(c, v, "settings.ca", &set->ca_cert, &set->ca_key,
			 &set->ca_passphrase_file);
	v = json_object_get(obj, "untrusted_ca");
	if (v != NULL)
		parse_ca(c, v, "settings.untrusted_ca", &set->untrusted_ca_cert,
			 &set->untrusted_ca_key, &set->untrusted_ca_passphrase_file);
	v = json_object_get(obj, "known_servers");
	if (v != NULL && parse_known(c, spec, v) == -ENOMEM)
		return -ENOMEM;
	v = json_object_get(obj, "session_cache");
	if (v != NULL)
		parse_cache(c, set, v);
	v = json_object_get(obj, "overflow");
	if (v != NULL && ps_pol_enum(c, v, "settings.overflow", overflow_names, &e) == 0)
		set->overflow = (int)e;
	v = json_object_get(obj, "verify_failure");
	if (v != NULL &&
	    ps_pol_enum(c, v, "settings.verify_failure", verify_names, &e) == 0)
		set->verify_failure = (int)e;
	v = json_object_get(obj, "tools");
	if (v != NULL) {
		rc = parse_tools(c, spec, v);
		if (rc == -ENOMEM)
			return rc;
	}
	v = json_object_get(obj, "log");
	if (v != NULL)
		parse_log(c, set, v);
	return 0;
}

/* ---- TLS profiles ---- */

/*
 * Each ":"-separated name of suites must be one OpenSSL now has among
 * ctx's ciphers: SSL_CTX_set_ciphersuites() skips names it does not know,
 * which would turn a typo into a silently smaller list.
 */
static const char *
unknown_suite(SSL_CTX *ctx, const char *suites, size_t *len)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	const char *s = suites, *end;
	int i, n = sk != NULL ? sk_SSL_CIPHER_num(sk) : 0;

	for (;;) {
		end = strchr(s, ':');
		*len = end != NULL ? (size_t)(end - s) : strlen(s);
		for (i = 0; i < n; i++) {
			const char *name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i));

			if (strlen(name) == *len && strncmp(name, s, *len) == 0)
				break;
		}
		if (i == n)
			return s;
		if (end == NULL)
			return NULL;
		s = end + 1;
	}
}

/* ciphers, ciphersuites and groups of one profile, checked by OpenSSL. */
static int
profile_strings(struct pol_ctx *c, SSL_CTX **ctx, struct ps_pol_profile *pr,
		json_t *obj, const char *path)
{
	static const char *const keys[] = { "ciphers", "ciphersuites", "groups" };
	static const char *const expect[] = {
		EXPECT_CIPHERS, EXPECT_SUITES, EXPECT_GROUPS,
	};
	const char **out[] = { &pr->ciphers, &pr->ciphersuites, &pr->groups };
	char p[POL_PATH_LEN];
	const char *s, *bad;
	unsigned int k;
	size_t len;
	json_t *v;
	int ok;

	for (k = 0; k < 3; k++) {
		v = json_object_get(obj, keys[k]);
		if (v == NULL)
			continue;
		ps_pol_path_key(p, sizeof(p), path, keys[k]);
		s = text(v, CIPHERS_MAX);
		if (s == NULL) {
			ps_pol_expect(c, p, expect[k], v);
			continue;
		}
		if (*ctx == NULL) {
			*ctx = SSL_CTX_new(TLS_method());
			if (*ctx == NULL)
				return -ENOMEM;
		}
		ERR_clear_error();
		ok = k == 0 ? SSL_CTX_set_cipher_list(*ctx, s) :
		     k == 1 ? SSL_CTX_set_ciphersuites(*ctx, s) :
			      (int)SSL_CTX_set1_groups_list(*ctx, s);
		ERR_clear_error();
		if (ok == 1 && k == 1 && (bad = unknown_suite(*ctx, s, &len)) != NULL) {
			ps_pol_fail(c, p, "expected %s, found \"%s\" (OpenSSL does not "
				    "know \"%.*s\")", expect[k], s, (int)len, bad);
			continue;
		}
		if (ok != 1) {
			ps_pol_expect(c, p, expect[k], v);
			continue;
		}
		*out[k] = s;
	}
	return 0;
}

static int
parse_profile1(struct pol_ctx *c, SSL_CTX **ctx, struct ps_pol_profile *pr,
	       json_t *obj, const char *path)
{
	char p[POL_PATH_LEN], pi[POL_PATH_LEN];
	unsigned int i, k, n = 0;
	json_t *arr, *v;
	size_t j;

	if (!ps_pol_check_object(c, obj, path, profile_keys))
		return 0;
	for (k = 0; profile_keys[k] != NULL; k++)
		n += json_object_get(obj, profile_keys[k]) != NULL;
	if (n == 0)
		ps_pol_fail(c, path, "expected at least one of versions, ciphers, "
			    "ciphersuites, groups, found none");
	arr = json_object_get(obj, "versions");
	ps_pol_path_key(p, sizeof(p), path, "versions");
	if (arr != NULL && (!json_is_array(arr) || json_array_size(arr) == 0)) {
		ps_pol_expect(c, p, "a non-empty array", arr);
	} else if (arr != NULL) {
		json_array_foreach(arr, j, v) {
			ps_pol_path_index(pi, sizeof(pi), p, j);
			if (ps_pol_enum(c, v, pi, version_names, &i) == 0)
				pr->versions |= 1u << i;
		}
	}
	return profile_strings(c, ctx, pr, obj, path);
}

/* See pol_priv.h. obj may be NULL; "default" is always profiles[0]. */
int
ps_pol_parse_profiles(struct pol_ctx *c, struct pol_spec *spec, json_t *obj)
{
	struct ps_pol_profile *pr;
	char p[POL_PATH_LEN];
	SSL_CTX *ctx = NULL;
	const char *key;
	void *it;
	int rc = 0;

	spec->profiles = calloc((obj != NULL ? json_object_size(obj) : 0) + 1,
				sizeof(*spec->profiles));
	if (spec->profiles == NULL)
		return -ENOMEM;
	spec->profiles[0].name = "default";
	spec->n_profiles = 1;
	if (obj == NULL)
		return 0;
	if (!json_is_object(obj))
		return ps_pol_expect(c, "tls_profiles", "an object of named profiles", obj);
	for (it = json_object_iter(obj); it != NULL && rc == 0;
	     it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		if (key[0] == '#')
			continue;
		ps_pol_path_key(p, sizeof(p), "tls_profiles", key);
		if (strcmp(key, "default") == 0) {
			ps_pol_fail(c, p, "the name \"default\" is reserved for the "
				    "appliance's own profile");
			continue;
		}
		if (!name63(key)) {
			ps_pol_fail(c, p, "expected " EXPECT_NAME63 " as a profile name");
			continue;
		}
		pr = &spec->profiles[spec->n_profiles++];
		pr->name = key;
		rc = parse_profile1(c, &ctx, pr, json_object_iter_value(it), p);
	}
	SSL_CTX_free(ctx);
	return rc == -ENOMEM ? rc : 0;
}

/* See pol_priv.h. */
void
ps_pol_settings_free(struct pol_spec *spec)
{
	uint32_t i;

	for (i = 0; spec->tools != NULL && i < spec->n_tools; i++)
		free((void *)spec->tools[i].ports);
	free(spec->tools);
	free(spec->known);
	free(spec->profiles);
}
