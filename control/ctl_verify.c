/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-ctl verify: would the data plane accept a server chain for a
 * name at a time, and if not, why.
 *
 * The answer must be the data plane's, not an approximation of it, so
 * nothing here judges a certificate: the trust store is built by the same
 * ps_tls_ctx_new() the upstream context is built with, the host name is set
 * by the same ps_tls_conn_new(), the chain is verified by X509_verify_cert()
 * as libssl drives it for a TLS client (purpose and trust "ssl_server", the
 * context's security level, the connection's verify parameters), OpenSSL's
 * first error is kept while verification goes on (the data plane's report
 * mode), and ps_webpki_check() then judges the chain OpenSSL built. The
 * appliance's own CAs and the CRLs (tls.crl_files, tls.revocation_unknown)
 * come from the data plane's configuration, read by the data plane's own
 * loaders.
 *
 * The one addition is --time: OpenSSL takes the time as a verify
 * parameter, but ps_webpki_check() checks validity dates against the
 * clock, so for another time its two date reasons are recomputed at that
 * time (every other reason is untouched).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctl_verify.h"
#include "ps_config.h"
#include "ps_tls_conn.h"
#include "ps_tls_forge.h"
#include "ps_webpki.h"

#define CTL_VERIFY_OWN_CAS	2	/* tls.ca_cert, tls.untrusted_ca_cert */

struct verify_opts {
	const char *chain_file;
	const char *name;
	const char *config_file;
	const char *trust_file;
	bool no_system;
	bool has_time;
	time_t at;
	bool as_json;
};

/* What was judged and the verdict, for printing. */
struct verify_out {
	STACK_OF(X509) *built;		/* the chain OpenSSL built, leaf first */
	long openssl_result;
	uint64_t mask;			/* every reason, PS_WEBPKI_BIT() */
	uint64_t allowed;		/* found, but let through by configuration */
};

void
ctl_verify_usage(FILE *f)
{
	fprintf(f, "  verify      --chain FILE [--name HOST] [--time T] [--config FILE]\n"
		   "              would the data plane accept this server chain (offline)\n");
}

static void
verify_help(void)
{
	printf("usage: plainsight-ctl [--json] verify --chain FILE [--name HOST] [--time T]\n"
	       "                      [--config FILE | [--trust FILE] [--no-system]]\n"
	       "\n"
	       "Tells whether the data plane would accept a server's certificate chain\n"
	       "for a host name at a time, with the validator it uses on upstream\n"
	       "connections (OpenSSL's verification, then the WebPKI profile), and every\n"
	       "reason when it would not. No data plane is needed.\n"
	       "\n"
	       "  --chain FILE    the chain as the server sends it: PEM, leaf first, then\n"
	       "                  intermediates in any order; or one DER certificate\n"
	       "  --name HOST     the SNI: a host name or an IP address (default: no name check)\n"
	       "  --time T        verify at T: UNIX seconds or YYYY-MM-DD[THH:MM:SS[Z]] (UTC)\n"
	       "  --config FILE   the data plane's configuration: tls.trust_system,\n"
	       "                  tls.trust_bundle and the appliance's own CAs (a chain\n"
	       "                  through them is refused, as the data plane refuses it)\n"
	       "  --trust FILE    without --config: trusted roots (PEM bundle), added to\n"
	       "  --no-system     ... or instead of the system trust store\n"
	       "  --json          the verdict as JSON\n"
	       "\n"
	       "Exit status: 0 accepted, 1 refused or a file unreadable, 2 usage.\n");
}

/* ------------------------------------------------------------------ */
/* Arguments. */

static bool
digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * T as UNIX seconds, or YYYY-MM-DD[THH:MM:SS[Z]] in UTC (a space may stand
 * for the T). Strict: a date that does not exist (February 30) is refused
 * rather than normalised into another one.
 */
static int
parse_time(const char *s, time_t *out)
{
	size_t len = strlen(s);
	struct tm tm;
	time_t t;

	if (len > 0 && len <= 12 && digits(s, len)) {
		*out = (time_t)strtoll(s, NULL, 10);
		return 0;
	}
	if (len == 20 && s[19] == 'Z')
		len = 19;
	if ((len != 10 && len != 19) || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2))
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	if (len == 19) {
		if ((s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2) || s[13] != ':' ||
		    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
			return -EINVAL;
		tm.tm_hour = atoi(s + 11);
		tm.tm_min = atoi(s + 14);
		tm.tm_sec = atoi(s + 17);
	}
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 59)
		return -EINVAL;
	{
		struct tm chk = tm;

		t = timegm(&chk);
		if (t == (time_t)-1 || chk.tm_mday != tm.tm_mday || chk.tm_mon != tm.tm_mon)
			return -EINVAL;
	}
	*out = t;
	return 0;
}

static int
parse_args(int argc, char **argv, struct verify_opts *o)
{
	static const struct option opts[] = {
		{ "chain", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'C' },
		{ "trust", required_argument, NULL, 'T' },
		{ "no-system", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->chain_file = optarg;
			break;
		case 'n':
			if (optarg[0] == '\0' || strlen(optarg) > 253) {
				fprintf(stderr, "plainsight-ctl: verify: --name: expected a host "
					"name or an IP address, got \"%s\"\n", optarg);
				return 2;
			}
			o->name = optarg;
			break;
		case 't':
			if (parse_time(optarg, &o->at) < 0) {
				fprintf(stderr, "plainsight-ctl: verify: --time: expected UNIX "
					"seconds or YYYY-MM-DD[THH:MM:SS[Z]], got \"%s\"\n",
					optarg);
				return 2;
			}
			o->has_time = true;
			break;
		case 'C':
			o->config_file = optarg;
			break;
		case 'T':
			o->trust_file = optarg;
			break;
		case 'S':
			o->no_system = true;
			break;
		case 'j':
			o->as_json = true;
			break;
		case 'h':
			verify_help();
			return 0;
		default:
			fprintf(stderr, "plainsight-ctl: verify: %s: unknown option or missing "
				"argument (see verify --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plainsight-ctl: verify: unexpected argument \"%s\" "
			"(the chain is given with --chain)\n", argv[optind]);
		return 2;
	}
	if (o->chain_file == NULL) {
		fprintf(stderr, "plainsight-ctl: verify: --chain FILE is required\n");
		return 2;
	}
	if (o->config_file != NULL && (o->trust_file != NULL || o->no_system)) {
		fprintf(stderr, "plainsight-ctl: verify: --config sets the trust: "
			"--trust and --no-system go without it\n");
		return 2;
	}
	if (o->config_file == NULL && o->no_system && o->trust_file == NULL) {
		fprintf(stderr, "plainsight-ctl: verify: --no-system needs --trust FILE "
			"(nothing would be trusted)\n");
		return 2;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* The data plane's trust, from its configuration or the options. */

struct trust {
	const char *bundle;		/* PEM anchors, or NULL */
	bool system;
	X509 *own[CTL_VERIFY_OWN_CAS];	/* the appliance's CAs, owned */
	size_t n_own;
	STACK_OF(X509_CRL) *crls;	/* tls.crl_files, owned; NULL: no revocation check */
	bool rev_unknown_allow;		/* tls.revocation_unknown "allow" */
};

static const char *
or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

/* The CA certificate as ps_tls_ca_load() takes it: the file's first one. */
static int
own_ca(struct trust *tr, const char *what, const char *path, const char *pass)
{
	STACK_OF(X509) *certs = NULL;
	char why[384];

	if (ps_tls_load_certs(path, or_null(pass), &certs, why, sizeof(why)) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: tls.%s: %s\n", what, why);
		return -EINVAL;
	}
	tr->own[tr->n_own++] = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

/*
 * Fill tr from the options, or from the configuration at o->config_file;
 * cfg (caller's, large) keeps the paths tr->bundle points into.
 */
static int
trust_load(const struct verify_opts *o, struct ps_config *cfg, struct trust *tr)
{
	const struct ps_tls_settings *ts = &cfg->tls;
	char err[512];
	unsigned int i;

	memset(tr, 0, sizeof(*tr));
	if (o->config_file == NULL) {
		tr->bundle = o->trust_file;
		tr->system = !o->no_system;
		return 0;
	}
	if (ps_config_load(o->config_file, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: %s\n", err);
		return -EINVAL;
	}
	tr->bundle = or_null(ts->trust_bundle);
	tr->system = ts->trust_system;
	/* As ps_tls_start(): a chain through either of the appliance's CAs
	 * is a loop through another plainsight, or a stolen CA. */
	if (ts->ca_cert[0] != '\0' &&
	    own_ca(tr, "ca_cert", ts->ca_cert, ts->ca_passphrase_file) < 0)
		return -EINVAL;
	if (ts->untrusted_ca_cert[0] != '\0' &&
	    own_ca(tr, "untrusted_ca_cert", ts->untrusted_ca_cert,
		   ts->untrusted_ca_passphrase_file) < 0)
		return -EINVAL;
	/* As load_crls() in ps_tls_setup.c: a file that cannot be read is an
	 * error, never a silently absent revocation check. */
	for (i = 0; i < ts->n_crl_files; i++) {
		if (ps_webpki_crl_load(ts->crl_files[i], &tr->crls, err, sizeof(err)) < 0) {
			fprintf(stderr, "plainsight-ctl: verify: tls.crl_files[%u]: %s\n", i, err);
			return -EINVAL;
		}
	}
	tr->rev_unknown_allow = ts->revocation_unknown_allow;
	return 0;
}

static void
trust_free(struct trust *tr)
{
	size_t i;

	for (i = 0; i < tr->n_own; i++)
		X509_free(tr->own[i]);
	tr->n_own = 0;
	sk_X509_CRL_pop_free(tr->crls, X509_CRL_free);
	tr->crls = NULL;
}

/* ------------------------------------------------------------------ */
/* Verification. */

/* The data plane's report mode (ps_tls_conn.c verify_cb): the first error is
 * the verdict, and the walk goes on so the whole chain gets built. */
static int
keep_first_error(int ok, X509_STORE_CTX *xs)
{
	long *first = X509_STORE_CTX_get_app_data(xs);

	if (!ok && first != NULL && *first == X509_V_OK)
		*first = X509_STORE_CTX_get_error(xs);
	return 1;
}

/*
 * ps_webpki_check() judges validity dates against the clock; at another
 * time both date reasons are recomputed at that time, keeping one that
 * OpenSSL itself reported (OpenSSL verified at that time already).
 */
static uint64_t
dates_at(uint64_t mask, STACK_OF(X509) *chain, long openssl_result, time_t at)
{
	const uint64_t dates = PS_WEBPKI_BIT(PS_WEBPKI_EXPIRED) |
			       PS_WEBPKI_BIT(PS_WEBPKI_NOT_YET_VALID);
	enum ps_webpki_reason r = ps_webpki_from_openssl(openssl_result);
	int i;

	mask &= ~dates;
	if (openssl_result != X509_V_OK && (PS_WEBPKI_BIT(r) & dates) != 0)
		mask |= PS_WEBPKI_BIT(r);
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_cmp_time(X509_get0_notBefore(x), &at) >= 0)
			mask |= PS_WEBPKI_BIT(PS_WEBPKI_NOT_YET_VALID);
		if (X509_cmp_time(X509_get0_notAfter(x), &at) <= 0)
			mask |= PS_WEBPKI_BIT(PS_WEBPKI_EXPIRED);
	}
	return mask;
}

static int
judge(const struct verify_opts *o, const struct trust *tr, STACK_OF(X509) *sent,
      struct verify_out *out)
{
	struct ps_tls_ctx_cfg cc;
	struct ps_tls_ctx *ctx = NULL;
	struct ps_tls_conn *conn = NULL;
	struct ps_webpki_ctx *wctx = NULL;
	struct ps_webpki_result res;
	X509_STORE_CTX *xs = NULL;
	X509_VERIFY_PARAM *param;
	long first = X509_V_OK;
	SSL_CTX *sc;
	SSL *ssl;
	char err[384];
	int rc = -EINVAL;

	/* The upstream context exactly as ps_tls_icpt_init() makes it. */
	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_CLIENT;
	cc.ca_file = tr->bundle;
	cc.default_verify_paths = tr->system;
	cc.verify_mode = PS_TLS_VERIFY_REPORT;
	if (ps_tls_ctx_new(&cc, &ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: trust store: %s\n", err);
		goto out;
	}
	if (ps_tls_conn_new(ctx, o->name, NULL, 0, &conn) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: --name \"%s\": refused by OpenSSL "
			"as a host name\n", o->name);
		goto out;
	}
	if (ps_webpki_ctx_new(tr->own, tr->n_own, &wctx) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: the appliance CA has no usable key\n");
		goto out;
	}
	if (tr->crls != NULL &&
	    ps_webpki_ctx_set_crls(wctx, tr->crls, tr->rev_unknown_allow ?
				   PS_WEBPKI_REV_UNKNOWN_ALLOW : PS_WEBPKI_REV_UNKNOWN_REJECT) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: tls.crl_files: out of memory\n");
		goto out;
	}
	sc = ps_tls_ctx_ssl_ctx(ctx);
	ssl = ps_tls_conn_ssl(conn);

	/* What libssl's ssl_verify_cert_chain() does for a client. */
	xs = X509_STORE_CTX_new();
	if (xs == NULL ||
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(sc), sk_X509_value(sent, 0), sent) != 1 ||
	    X509_STORE_CTX_set_default(xs, "ssl_server") != 1) {
		fprintf(stderr, "plainsight-ctl: verify: out of memory\n");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(xs);
	X509_VERIFY_PARAM_set_auth_level(param, SSL_get_security_level(ssl));
	X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl));
	if (o->has_time)
		X509_VERIFY_PARAM_set_time(param, o->at);
	X509_STORE_CTX_set_app_data(xs, &first);
	X509_STORE_CTX_set_verify_cb(xs, keep_first_error);
	ERR_clear_error();
	(void)X509_verify_cert(xs);
	out->openssl_result = first != X509_V_OK ? first : X509_STORE_CTX_get_error(xs);
	out->built = X509_STORE_CTX_get1_chain(xs);
	if (out->built == NULL) {
		/* Nothing built at all: judge what was sent. */
		out->built = X509_chain_up_ref(sent);
	}

	(void)ps_webpki_check(wctx, out->built, o->name, out->openssl_result, 0, &res);
	out->mask = res.mask;
	out->allowed = res.allowed;
	if (o->has_time)
		out->mask = dates_at(out->mask, out->built, out->openssl_result, o->at);
	rc = 0;
out:
	X509_STORE_CTX_free(xs);
	ps_webpki_ctx_free(wctx);
	ps_tls_conn_free(conn);
	ps_tls_ctx_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ------------------------------------------------------------------ */
/* Output. */

static void
name_text(const X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ) >= 0) {
		l = BIO_get_mem_data(b, &p);
		snprintf(buf, len, "%.*s", (int)l, p);
	}
	BIO_free(b);
}

static void
time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

static void
fingerprint(X509 *x, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	buf[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (i = 0; i < n && 2 * i + 3 <= len; i++)
		snprintf(buf + 2 * i, len - 2 * i, "%02x", md[i]);
}

static void
print_text(const struct verify_opts *o, const struct verify_out *v)
{
	unsigned int r;
	bool first = true;
	int i;

	if (v->mask == 0) {
		printf("accepted\n");
		for (r = 1; r < PS_WEBPKI_N_REASONS; r++)
			if ((v->allowed & PS_WEBPKI_BIT(r)) != 0)
				printf("  allowed by configuration: %s\n", ps_webpki_reason_name(r));
	} else {
		printf("refused: ");
		for (r = 1; r < PS_WEBPKI_N_REASONS; r++) {
			if ((v->mask & PS_WEBPKI_BIT(r)) == 0)
				continue;
			printf("%s%s", first ? "" : ", ", ps_webpki_reason_name(r));
			first = false;
		}
		printf("\n");
		for (r = 1; r < PS_WEBPKI_N_REASONS; r++)
			if ((v->mask & PS_WEBPKI_BIT(r)) != 0)
				printf("  %-24s %s\n", ps_webpki_reason_name(r),
				       ps_webpki_reason_desc(r));
		if (v->openssl_result != X509_V_OK)
			printf("  (OpenSSL: %s)\n", X509_verify_cert_error_string(v->openssl_result));
	}
	printf("name: %s\n", o->name != NULL ? o->name : "(none: not checked)");
	if (o->has_time)
		printf("time: %lld\n", (long long)o->at);
	printf("chain built (%d certificate%s):\n", sk_X509_num(v->built),
	       sk_X509_num(v->built) == 1 ? "" : "s");
	for (i = 0; i < sk_X509_num(v->built); i++) {
		X509 *x = sk_X509_value(v->built, i);
		char subj[512], iss[512], nb[32], na[32];

		name_text(X509_get_subject_name(x), subj, sizeof(subj));
		name_text(X509_get_issuer_name(x), iss, sizeof(iss));
		time_text(X509_get0_notBefore(x), nb, sizeof(nb));
		time_text(X509_get0_notAfter(x), na, sizeof(na));
		printf("  %d subject: %s\n    issuer:  %s\n    valid:   %s .. %s\n", i, subj, iss,
		       nb, na);
	}
}

static void
print_json(const struct verify_opts *o, const struct verify_out *v)
{
	json_t *reasons = json_array();
	json_t *allowed = json_array();
	json_t *chain = json_array();
	json_t *root;
	unsigned int r;
	int i;

	for (r = 1; r < PS_WEBPKI_N_REASONS; r++)
		if ((v->mask & PS_WEBPKI_BIT(r)) != 0)
			json_array_append_new(reasons, json_string(ps_webpki_reason_name(r)));
	for (r = 1; r < PS_WEBPKI_N_REASONS; r++)
		if ((v->allowed & PS_WEBPKI_BIT(r)) != 0)
			json_array_append_new(allowed, json_string(ps_webpki_reason_name(r)));
	for (i = 0; i < sk_X509_num(v->built); i++) {
		X509 *x = sk_X509_value(v->built, i);
		char subj[512], iss[512], nb[32], na[32], fp[2 * EVP_MAX_MD_SIZE + 1];

		name_text(X509_get_subject_name(x), subj, sizeof(subj));
		name_text(X509_get_issuer_name(x), iss, sizeof(iss));
		time_text(X509_get0_notBefore(x), nb, sizeof(nb));
		time_text(X509_get0_notAfter(x), na, sizeof(na));
		fingerprint(x, fp, sizeof(fp));
		json_array_append_new(chain, json_pack("{s:s, s:s, s:s, s:s, s:s}",
			"subject", subj, "issuer", iss, "not_before", nb, "not_after", na,
			"sha256", fp));
	}
	root = json_pack("{s:b, s:o, s:o, s:o, s:I, s:s, s:o, s:o}",
			 "accepted", v->mask == 0, "reasons", reasons, "allowed", allowed,
			 "chain", chain,
			 "openssl_result", (json_int_t)v->openssl_result,
			 "openssl_error", X509_verify_cert_error_string(v->openssl_result),
			 "name", o->name != NULL ? json_string(o->name) : json_null(),
			 "time", o->has_time ? json_integer((json_int_t)o->at) : json_null());
	json_dumpf(root, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(root);
}

int
ctl_verify_main(bool as_json, int argc, char **argv)
{
	struct verify_opts o;
	struct verify_out v;
	struct ps_config *cfg = NULL;
	struct trust tr;
	STACK_OF(X509) *sent = NULL;
	char why[384];
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&v, 0, sizeof(v));
	memset(&tr, 0, sizeof(tr));
	o.as_json = as_json;
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = 1;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		fprintf(stderr, "plainsight-ctl: verify: out of memory\n");
		return 1;
	}
	if (trust_load(&o, cfg, &tr) < 0)
		goto out;
	if (ps_tls_load_certs(o.chain_file, NULL, &sent, why, sizeof(why)) < 0) {
		fprintf(stderr, "plainsight-ctl: verify: %s: %s\n", o.chain_file, why);
		goto out;
	}
	if (judge(&o, &tr, sent, &v) < 0)
		goto out;
	if (o.as_json)
		print_json(&o, &v);
	else
		print_text(&o, &v);
	rc = v.mask == 0 ? 0 : 1;
out:
	sk_X509_pop_free(v.built, X509_free);
	sk_X509_pop_free(sent, X509_free);
	trust_free(&tr);
	free(cfg);
	return rc;
}
