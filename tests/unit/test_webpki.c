/* SPDX-License-Identifier: BSD-3-Clause
 * WebPKI profile unit tests. A certificate matrix is generated at run
 * time with OpenSSL (nothing is committed): a good chain, root ->
 * intermediate -> leaf, then one variant per refusal reason that differs
 * from it in that one defect, and the unusual chains that must pass.
 *
 * Every case is judged the way the product does it: OpenSSL's
 * X509_verify_cert() first (purpose sslserver, X509_V_FLAG_X509_STRICT
 * off, the host set as SSL_set1_host() sets it, libssl's security level,
 * a verify callback that keeps the first error and goes on, as
 * ps_tls_conn's REPORT mode does), then ps_webpki_check() on the chain
 * OpenSSL built. Each case asserts OpenSSL's own result too: where it is
 * X509_V_OK, the case documents a hole the profile layer closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ps_webpki.h"

#define DAY	(24L * 3600L)
#define HOST	"www.example.test"

/* One X.509 v3 extension in openssl.cnf syntax. */
struct ext {
	const char *name;
	const char *value;
};

#define E_BC_LEAF	{ "basicConstraints", "critical,CA:FALSE" }
#define E_KU_LEAF	{ "keyUsage", "critical,digitalSignature" }
#define E_EKU_SA	{ "extendedKeyUsage", "serverAuth" }
#define E_SAN_WWW	{ "subjectAltName", "DNS:www.example.test,DNS:example.test" }
#define E_SKI		{ "subjectKeyIdentifier", "hash" }
#define E_AKI		{ "authorityKeyIdentifier", "keyid:always" }
#define E_BC_CA		{ "basicConstraints", "critical,CA:TRUE" }
#define E_BC_CA0	{ "basicConstraints", "critical,CA:TRUE,pathlen:0" }
#define E_KU_CA		{ "keyUsage", "critical,digitalSignature,keyCertSign,cRLSign" }
#define E_EKU_CA	{ "extendedKeyUsage", "serverAuth,clientAuth" }
#define E_END		{ NULL, NULL }

static const struct ext root_exts[] = { E_BC_CA, E_KU_CA, E_SKI, E_END };
static const struct ext int_exts[] = { E_BC_CA0, E_KU_CA, E_EKU_CA, E_SKI, E_AKI, E_END };
static const struct ext leaf_exts[] = {
	E_BC_LEAF, E_KU_LEAF, E_EKU_SA, E_SAN_WWW, E_SKI, E_AKI, E_END,
};

/* What to make; zero fields take the good chain's values. */
struct spec {
	EVP_PKEY *key;			/* subject key */
	const char *subj;		/* "/CN=a/O=b" */
	X509 *issuer;			/* NULL: self-signed */
	EVP_PKEY *issuer_key;
	const struct ext *exts;		/* NULL: none */
	long nb, na;			/* seconds from now; both 0: -1 day .. +90 days */
	bool v1;			/* X.509 v1, no extensions */
	const EVP_MD *md;		/* NULL: SHA-256 */
	bool pss;			/* RSA-PSS padding (RSA issuer key) */
	bool no_md;			/* Ed25519: the key has its own hash */
	const ASN1_INTEGER *serial;	/* NULL: 16 random bytes, positive */
};

static int seclevel;			/* libssl's default, as the product gets it */
static EVP_PKEY *root_key, *int_key, *leaf_key, *rsa_int_key, *app_key, *other_key;
static EVP_PKEY *rsa4096_key, *p384_key;
static X509 *root, *inter, *leaf, *rsa_int, *app_ca;
static struct ps_webpki_ctx *wctx;	/* knows app_ca */

/* Everything a test makes, freed by its teardown. */
static X509 *made[64];
static int n_made;
static EVP_PKEY *made_keys[16];
static int n_made_keys;
static X509_CRL *crls[32];
static int n_crls;
static struct ps_webpki_ctx *crl_ctxs[32];
static int n_crl_ctxs;

/* ------------------------------------------------------------------ */
/* Test PKI. */

static EVP_PKEY *
gen_ec(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(k);
	return k;
}

static EVP_PKEY *
gen_rsa(size_t bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

	assert_non_null(k);
	return k;
}

static EVP_PKEY *
keep_key(EVP_PKEY *k)
{
	assert_true(n_made_keys < (int)(sizeof(made_keys) / sizeof(made_keys[0])));
	made_keys[n_made_keys++] = k;
	return k;
}

/* A random odd number of exactly bits bits. */
static BIGNUM *
rand_odd(int bits)
{
	BIGNUM *bn = BN_new();

	assert_non_null(bn);
	assert_int_equal(BN_rand(bn, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD), 1);
	return bn;
}

/*
 * A public key only, from raw parameters (no private half, no parameter
 * generation): judging a chain never needs a leaf's private key, and an
 * RSA-8192 or DSA-2048 key pair would cost seconds to generate.
 */
static EVP_PKEY *
pub_from_params(const char *type, const char *const *names, BIGNUM **vals, int n)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;
	int i;

	assert_non_null(bld);
	assert_non_null(pc);
	for (i = 0; i < n; i++)
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, names[i], vals[i]), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(pc), 1);
	assert_int_equal(EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pc);
	for (i = 0; i < n; i++)
		BN_free(vals[i]);
	return keep_key(k);
}

static EVP_PKEY *
rsa_pub(int bits)
{
	static const char *const names[] = { OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E };
	BIGNUM *v[2] = { rand_odd(bits), BN_new() };

	assert_non_null(v[1]);
	assert_int_equal(BN_set_word(v[1], 65537), 1);
	return pub_from_params("RSA", names, v, 2);
}

static EVP_PKEY *
dsa_pub(void)
{
	static const char *const names[] = {
		OSSL_PKEY_PARAM_FFC_P, OSSL_PKEY_PARAM_FFC_Q, OSSL_PKEY_PARAM_FFC_G,
		OSSL_PKEY_PARAM_PUB_KEY,
	};
	BIGNUM *v[4] = { rand_odd(2048), rand_odd(224), BN_new(), rand_odd(2047) };

	assert_non_null(v[2]);
	assert_int_equal(BN_set_word(v[2], 2), 1);
	return pub_from_params("DSA", names, v, 4);
}

static void
set_subject(X509 *x, const char *subj)
{
	const char *p, *eq, *end;
	char field[16], value[128];
	X509_NAME *name = X509_get_subject_name(x);

	for (p = subj; *p == '/'; p = end) {
		eq = strchr(p, '=');
		assert_non_null(eq);
		end = strchr(eq, '/');
		if (end == NULL)
			end = eq + strlen(eq);
		snprintf(field, sizeof(field), "%.*s", (int)(eq - p - 1), p + 1);
		snprintf(value, sizeof(value), "%.*s", (int)(end - eq - 1), eq + 1);
		assert_int_equal(X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
				 (const unsigned char *)value, -1, -1, 0), 1);
	}
}

static X509 *
mk(const struct spec *s)
{
	unsigned char rnd[16];
	const struct ext *e;
	X509_EXTENSION *xe;
	X509V3_CTX v3;
	X509 *x = X509_new(), *issuer = s->issuer;
	EVP_PKEY *issuer_key = s->issuer_key;
	ASN1_INTEGER *sn;
	BIGNUM *bn;
	long nb = s->nb, na = s->na;

	assert_non_null(x);
	if (nb == 0 && na == 0) {
		nb = -DAY;
		na = 90 * DAY;
	}
	assert_int_equal(X509_set_version(x, s->v1 ? X509_VERSION_1 : X509_VERSION_3), 1);
	if (s->serial != NULL) {
		assert_int_equal(X509_set_serialNumber(x, (ASN1_INTEGER *)s->serial), 1);
	} else {
		assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
		rnd[0] = (rnd[0] & 0x7f) | 0x40;
		bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
		assert_non_null(bn);
		sn = BN_to_ASN1_INTEGER(bn, NULL);
		assert_non_null(sn);
		assert_int_equal(X509_set_serialNumber(x, sn), 1);
		ASN1_INTEGER_free(sn);
		BN_free(bn);
	}
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), na));
	assert_int_equal(X509_set_pubkey(x, s->key), 1);
	set_subject(x, s->subj);
	if (issuer == NULL) {
		issuer = x;
		issuer_key = s->key;
	}
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	for (e = s->exts; !s->v1 && e != NULL && e->name != NULL; e++) {
		xe = X509V3_EXT_nconf(NULL, &v3, e->name, e->value);
		if (xe == NULL)
			fail_msg("extension %s=%s", e->name, e->value);
		assert_int_equal(X509_add_ext(x, xe, -1), 1);
		X509_EXTENSION_free(xe);
	}
	if (s->pss) {
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pc = NULL;

		assert_non_null(mc);
		assert_int_equal(EVP_DigestSignInit(mc, &pc, s->md != NULL ? s->md : EVP_sha256(),
						    NULL, issuer_key), 1);
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) > 0);
		assert_true(X509_sign_ctx(x, mc) > 0);
		EVP_MD_CTX_free(mc);
	} else {
		assert_true(X509_sign(x, issuer_key,
				      s->no_md ? NULL : s->md != NULL ? s->md : EVP_sha256()) > 0);
	}
	assert_true(n_made < (int)(sizeof(made) / sizeof(made[0])));
	made[n_made++] = x;
	return x;
}

/* A leaf like the good one with other extensions (and optionally key/issuer). */
static X509 *
mk_leaf(const struct ext *exts)
{
	return mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				  .issuer_key = int_key, .exts = exts });
}

static X509 *
mk_int(EVP_PKEY *key, const char *subj, const struct ext *exts)
{
	return mk(&(struct spec){ .key = key, .subj = subj, .issuer = root,
				  .issuer_key = root_key, .exts = exts });
}

/* ------------------------------------------------------------------ */
/* Judging, as the product does. */

struct verdict {
	long ossl;			/* OpenSSL's first error (ps_tls_conn_verify_result) */
	int ossl_depth;
	int chain_len;			/* of the chain OpenSSL built */
	struct ps_webpki_result res;
};

struct first_err {
	long err;
	int depth;
};

static int
keep_first_cb(int ok, X509_STORE_CTX *xs)
{
	struct first_err *fe = X509_STORE_CTX_get_app_data(xs);

	if (!ok && fe->err == X509_V_OK) {
		fe->err = X509_STORE_CTX_get_error(xs);
		fe->depth = X509_STORE_CTX_get_error_depth(xs);
	}
	return 1;	/* PS_TLS_VERIFY_REPORT: go on, the caller decides */
}

/*
 * Verify leaf with the certificates the server sent (sent, NULL-ended, in
 * any order) against trusted (NULL-ended), then judge the chain OpenSSL
 * built with ctx and flags.
 */
static struct verdict
judge_ex(X509 *lf, X509 *const *sent, X509 *const *trusted, const char *host,
	 const struct ps_webpki_ctx *ctx, unsigned int flags)
{
	struct first_err fe = { X509_V_OK, -1 };
	struct verdict v;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null(), *chain;
	X509_VERIFY_PARAM *param;
	unsigned char ip[16];

	assert_non_null(store);
	assert_non_null(xs);
	assert_non_null(untrusted);
	for (; trusted != NULL && *trusted != NULL; trusted++)
		assert_int_equal(X509_STORE_add_cert(store, *trusted), 1);
	for (; sent != NULL && *sent != NULL; sent++)
		assert_true(sk_X509_push(untrusted, *sent) > 0);
	assert_int_equal(X509_STORE_CTX_init(xs, store, lf, untrusted), 1);
	/* What ssl_verify_cert_chain() does for a client. */
	assert_int_equal(X509_STORE_CTX_set_default(xs, "ssl_server"), 1);
	param = X509_STORE_CTX_get0_param(xs);
	X509_VERIFY_PARAM_set_auth_level(param, seclevel);
	if (host != NULL) {
		/* SSL_set1_host(): an IP literal is checked as an address. */
		if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
			assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, host), 1);
		} else {
			assert_int_equal(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
			X509_VERIFY_PARAM_set_hostflags(param,
							X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		}
	}
	X509_STORE_CTX_set_app_data(xs, &fe);
	X509_STORE_CTX_set_verify_cb(xs, keep_first_cb);
	(void)X509_verify_cert(xs);
	chain = X509_STORE_CTX_get1_chain(xs);
	v.ossl = fe.err;
	v.ossl_depth = fe.depth;
	v.chain_len = chain != NULL ? sk_X509_num(chain) : 0;
	assert_int_equal(ps_webpki_check(ctx, chain, host, v.ossl, flags, &v.res), 0);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	ERR_clear_error();
	return v;
}

#define SENT(...)	((X509 *const[]){ __VA_ARGS__, NULL })
#define TRUST_ROOT	SENT(root)

/* The good chain's setting: intermediate sent, root trusted, HOST, app_ca known. */
static struct verdict
judge(X509 *lf, X509 *const *sent)
{
	return judge_ex(lf, sent, TRUST_ROOT, HOST, wctx, 0);
}

static void
show(const char *what, const struct verdict *v)
{
	char names[512];

	ps_webpki_format(v->res.mask, names, sizeof(names));
	print_message("  %-28s openssl %ld (%s) at %d, chain %d; webpki %s at %d [%s]\n", what,
		      v->ossl, X509_verify_cert_error_string(v->ossl), v->ossl_depth,
		      v->chain_len, ps_webpki_reason_name(v->res.first), v->res.depth, names);
}

/*
 * The case is refused with want first (at depth, unless depth is -2), and
 * OpenSSL's own first error was ossl (X509_V_OK: a hole OpenSSL leaves).
 */
static void
expect_refused(const char *what, const struct verdict *v, long ossl, enum ps_webpki_reason want,
	       int depth)
{
	show(what, v);
	assert_int_equal(v->ossl, ossl);
	assert_string_equal(ps_webpki_reason_name(v->res.first), ps_webpki_reason_name(want));
	assert_true((v->res.mask & PS_WEBPKI_BIT(want)) != 0);
	if (depth != -2)
		assert_int_equal(v->res.depth, depth);
	if (ossl != X509_V_OK)
		assert_true((v->res.mask & PS_WEBPKI_BIT(ps_webpki_from_openssl(ossl))) != 0);
	assert_int_equal(v->res.openssl_result, ossl);
}

static void
expect_accepted(const char *what, const struct verdict *v)
{
	show(what, v);
	assert_int_equal(v->ossl, X509_V_OK);
	assert_string_equal(ps_webpki_reason_name(v->res.first), "ok");
	assert_int_equal(v->res.mask, 0);
	assert_int_equal(v->res.depth, -1);
}

/* ------------------------------------------------------------------ */
/* Setup. */

static int
group_setup(void **state)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());

	(void)state;
	assert_non_null(sc);
	seclevel = SSL_CTX_get_security_level(sc);
	SSL_CTX_free(sc);
	root_key = gen_ec("P-256");
	int_key = gen_ec("P-256");
	leaf_key = gen_ec("P-256");
	other_key = gen_ec("P-256");
	app_key = gen_ec("P-256");
	p384_key = gen_ec("P-384");
	rsa_int_key = gen_rsa(2048);
	rsa4096_key = gen_rsa(4096);
	root = mk(&(struct spec){ .key = root_key, .subj = "/CN=plainsight test root/O=Test",
				  .exts = root_exts, .na = 3650 * DAY, .nb = -DAY });
	inter = mk_int(int_key, "/CN=plainsight test intermediate/O=Test", int_exts);
	leaf = mk_leaf(leaf_exts);
	rsa_int = mk_int(rsa_int_key, "/CN=plainsight test RSA intermediate/O=Test", int_exts);
	app_ca = mk(&(struct spec){ .key = app_key, .subj = "/CN=plainsight appliance CA",
				    .exts = root_exts });
	assert_int_equal(ps_webpki_ctx_new(&app_ca, 1, &wctx), 0);
	/* These live for the whole group: not freed by the per-test teardown. */
	n_made = 0;
	print_message("  libssl security level %d\n", seclevel);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	ps_webpki_ctx_free(wctx);
	X509_free(root);
	X509_free(inter);
	X509_free(leaf);
	X509_free(rsa_int);
	X509_free(app_ca);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(app_key);
	EVP_PKEY_free(p384_key);
	EVP_PKEY_free(rsa_int_key);
	EVP_PKEY_free(rsa4096_key);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	while (n_crls > 0)
		X509_CRL_free(crls[--n_crls]);
	while (n_crl_ctxs > 0)
		ps_webpki_ctx_free(crl_ctxs[--n_crl_ctxs]);
	while (n_made > 0)
		X509_free(made[--n_made]);
	while (n_made_keys > 0)
		EVP_PKEY_free(made_keys[--n_made_keys]);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The good chain and the unusual ones that must pass. */

static void
test_good_chain(void **state)
{
	struct verdict v;

	(void)state;
	v = judge(leaf, SENT(inter));
	expect_accepted("good", &v);
	assert_int_equal(v.chain_len, 3);
	/* Without a host, without a context, and the absolute form of the host. */
	v = judge_ex(leaf, SENT(inter), TRUST_ROOT, NULL, NULL, 0);
	expect_accepted("good, no host", &v);
	v = judge_ex(leaf, SENT(inter), TRUST_ROOT, "WWW.Example.TEST", wctx, 0);
	expect_accepted("good, upper case", &v);
	v = judge_ex(leaf, SENT(inter), TRUST_ROOT, "example.test", wctx, 0);
	expect_accepted("good, second SAN", &v);
	/* The RSA intermediate (SHA-256) the weak-signature cases build on. */
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = rsa_int,
				     .issuer_key = rsa_int_key, .exts = leaf_exts }),
		  SENT(rsa_int));
	expect_accepted("good, RSA intermediate", &v);
}

static void
test_accept_reversed_and_extra(void **state)
{
	X509 *stray = mk_int(other_key, "/CN=unrelated CA/O=Test", int_exts);
	struct verdict v;

	(void)state;
	/* Root first, a stray CA, the intermediate last, the leaf again. */
	v = judge(leaf, SENT(root, stray, app_ca, inter, leaf));
	expect_accepted("reversed + extras", &v);
	assert_int_equal(v.chain_len, 3);
}

static void
test_accept_cross_signed(void **state)
{
	EVP_PKEY *new_root_key = keep_key(gen_ec("P-384"));
	EVP_PKEY *new_int_key = keep_key(gen_ec("P-256"));
	X509 *new_root, *cross, *new_int, *lf;
	struct verdict v;

	(void)state;
	/* A new root, and the same root (name and key) cross-signed by the old one. */
	new_root = mk(&(struct spec){ .key = new_root_key, .subj = "/CN=new root/O=Test",
				      .exts = root_exts, .md = EVP_sha384() });
	cross = mk(&(struct spec){ .key = new_root_key, .subj = "/CN=new root/O=Test",
				   .issuer = root, .issuer_key = root_key,
				   .exts = (const struct ext[]){ E_BC_CA, E_KU_CA, E_SKI, E_AKI,
								 E_END } });
	new_int = mk(&(struct spec){ .key = new_int_key, .subj = "/CN=new intermediate/O=Test",
				     .issuer = new_root, .issuer_key = new_root_key,
				     .exts = int_exts, .md = EVP_sha384() });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = new_int,
				.issuer_key = new_int_key, .exts = leaf_exts });
	/* Only the old root trusted: leaf, new_int, cross, root. */
	v = judge(lf, SENT(new_int, cross));
	expect_accepted("cross-signed, old root", &v);
	assert_int_equal(v.chain_len, 4);
	/* The new root trusted too: OpenSSL stops at it. */
	v = judge_ex(lf, SENT(new_int, cross), SENT(root, new_root), HOST, wctx, 0);
	expect_accepted("cross-signed, new root", &v);
	assert_int_equal(v.chain_len, 3);
}

static void
test_accept_p384(void **state)
{
	X509 *i384, *lf;
	struct verdict v;

	(void)state;
	i384 = mk_int(p384_key, "/CN=P-384 intermediate/O=Test", int_exts);
	lf = mk(&(struct spec){ .key = p384_key, .subj = "/CN=" HOST, .issuer = i384,
				.issuer_key = p384_key, .exts = leaf_exts, .md = EVP_sha384() });
	v = judge(lf, SENT(i384));
	expect_accepted("ECDSA P-384", &v);
}

static void
test_accept_rsa_sizes(void **state)
{
	struct verdict v;
	X509 *lf;

	(void)state;
	lf = mk(&(struct spec){ .key = rsa4096_key, .subj = "/CN=" HOST, .issuer = rsa_int,
				.issuer_key = rsa_int_key, .exts = leaf_exts });
	v = judge(lf, SENT(rsa_int));
	expect_accepted("RSA 4096 leaf", &v);
	/* RSA-8192 leaf key (its public half only: see pub_from_params). */
	lf = mk(&(struct spec){ .key = rsa_pub(8192), .subj = "/CN=" HOST, .issuer = rsa_int,
				.issuer_key = rsa_int_key, .exts = leaf_exts });
	v = judge(lf, SENT(rsa_int));
	expect_accepted("RSA 8192 leaf", &v);
	/* An RSA-4096 intermediate signing with SHA-512. */
	{
		X509 *i4096 = mk_int(rsa4096_key, "/CN=RSA-4096 intermediate/O=Test", int_exts);

		lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i4096,
					.issuer_key = rsa4096_key, .exts = leaf_exts,
					.md = EVP_sha512() });
		v = judge(lf, SENT(i4096));
		expect_accepted("RSA 4096 intermediate", &v);
	}
	/* RSA-PSS signatures. */
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = rsa_int,
				.issuer_key = rsa_int_key, .exts = leaf_exts, .pss = true });
	v = judge(lf, SENT(rsa_int));
	expect_accepted("RSA-PSS leaf signature", &v);
}

static void
test_accept_many_sans(void **state)
{
	size_t cap = 1200 * 32, off = 0;
	char *san = malloc(cap);
	struct ext exts[] = { E_BC_LEAF, E_KU_LEAF, E_EKU_SA, { "subjectAltName", NULL },
			      E_SKI, E_AKI, E_END };
	struct timespec t0, t1;
	struct ps_webpki_result r;
	STACK_OF(X509) *chain;
	struct verdict v;
	X509 *lf;
	int i, rounds = 200;
	double us;

	(void)state;
	assert_non_null(san);
	for (i = 0; i < 1200; i++)
		off += (size_t)snprintf(san + off, cap - off, "%sDNS:host%d.example.test",
					i > 0 ? "," : "", i);
	exts[3].value = san;
	lf = mk_leaf(exts);
	free(san);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "host1199.example.test", wctx, 0);
	expect_accepted("1200 SANs, the last", &v);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "host1200.example.test", wctx, 0);
	expect_refused("1200 SANs, none", &v, X509_V_ERR_HOSTNAME_MISMATCH,
		       PS_WEBPKI_HOST_MISMATCH, 0);
	/* Cost of the worst case: every SAN compared. */
	chain = sk_X509_new_null();
	assert_non_null(chain);
	assert_true(sk_X509_push(chain, lf) > 0);
	assert_true(sk_X509_push(chain, inter) > 0);
	assert_true(sk_X509_push(chain, root) > 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < rounds; i++)
		assert_int_equal(ps_webpki_check(wctx, chain, "host1199.example.test", X509_V_OK,
						 0, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.first, PS_WEBPKI_OK);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
	     rounds;
	print_message("  1200-SAN chain: %.1f us per check\n", us);
	/* Generous: sanitizers and a loaded machine; the point is no blow-up. */
	assert_true(us < 20000.0);
	sk_X509_free(chain);
}

static void
test_accept_idn(void **state)
{
	static const struct ext exts[] = {
		E_BC_LEAF, E_KU_LEAF, E_EKU_SA,
		{ "subjectAltName", "DNS:xn--bcher-kva.example.test,DNS:*.xn--mnchen-3ya.test" },
		E_SKI, E_AKI, E_END,
	};
	X509 *lf;
	struct verdict v;

	(void)state;
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=xn--bcher-kva.example.test",
				.issuer = inter, .issuer_key = int_key, .exts = exts });
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "XN--BCHER-KVA.example.test", wctx, 0);
	expect_accepted("IDN A-label, other case", &v);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "www.xn--mnchen-3ya.test", wctx, 0);
	expect_accepted("IDN under a wildcard", &v);
	/* A U-label SNI never matches: the client must send A-labels. */
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "b\xc3\xbc" "cher.example.test", wctx, 0);
	expect_refused("IDN U-label host", &v, X509_V_ERR_HOSTNAME_MISMATCH,
		       PS_WEBPKI_HOST_MISMATCH, 0);
}

static void
test_accept_ip_san(void **state)
{
	static const struct ext exts[] = {
		E_BC_LEAF, E_KU_LEAF, E_EKU_SA,
		{ "subjectAltName", "IP:192.0.2.10,IP:2001:db8::10,DNS:192.0.2.11" },
		E_SKI, E_AKI, E_END,
	};
	X509 *lf;
	struct verdict v;

	(void)state;
	lf = mk_leaf(exts);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "192.0.2.10", wctx, 0);
	expect_accepted("IPv4 SNI, IP SAN", &v);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "2001:db8::10", wctx, 0);
	expect_accepted("IPv6 SNI, IP SAN", &v);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "192.0.2.12", wctx, 0);
	expect_refused("IP SNI, other address", &v, X509_V_ERR_IP_ADDRESS_MISMATCH,
		       PS_WEBPKI_HOST_MISMATCH, 0);
	/* An address written as a dNSName is not an IP SAN. */
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, "192.0.2.11", wctx, 0);
	expect_refused("IP SNI, only a DNS SAN", &v, X509_V_ERR_IP_ADDRESS_MISMATCH,
		       PS_WEBPKI_HOST_MISMATCH, 0);
}

/* ------------------------------------------------------------------ */
/* Leaf profile. */

static void
test_leaf_is_ca(void **state)
{
	static const struct ext exts[] = {
		E_BC_CA, { "keyUsage", "critical,digitalSignature,keyCertSign" }, E_EKU_SA,
		E_SAN_WWW, E_SKI, E_AKI, E_END,
	};
	struct verdict v;

	(void)state;
	v = judge(mk_leaf(exts), SENT(inter));
	expect_refused("leaf CA:TRUE", &v, X509_V_OK, PS_WEBPKI_LEAF_IS_CA, 0);
}

static void
test_leaf_no_san(void **state)
{
	static const struct ext exts[] = {
		E_BC_LEAF, E_KU_LEAF, E_EKU_SA, E_SKI, E_AKI, E_END,
	};
	static const struct ext email_only[] = {
		E_BC_LEAF, E_KU_LEAF, E_EKU_SA, { "subjectAltName", "email:a@example.test" },
		E_SKI, E_AKI, E_END,
	};
	struct verdict v;

	(void)state;
	/* OpenSSL falls back to the CN; browsers do not. */
	v = judge(mk_leaf(exts), SENT(inter));
	expect_refused("leaf without SAN (CN only)", &v, X509_V_OK, PS_WEBPKI_LEAF_NO_SAN, 0);
	assert_true((v.res.mask & PS_WEBPKI_BIT(PS_WEBPKI_HOST_MISMATCH)) == 0);
	/* A SAN naming no host: OpenSSL still uses the CN. */
	v = judge(mk_leaf(email_only), SENT(inter));
	expect_refused("leaf with an e-mail SAN only", &v, X509_V_OK, PS_WEBPKI_LEAF_NO_SAN, 0);
}

static void
test_x509_v1(void **state)
{
	X509 *i1, *lf;
	struct verdict v;

	(void)state;
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = int_key, .v1 = true });
	v = judge(lf, SENT(inter));
	expect_refused("v1 leaf", &v, X509_V_OK, PS_WEBPKI_X509_V1, 0);
	assert_true((v.res.mask & PS_WEBPKI_BIT(PS_WEBPKI_LEAF_NO_SAN)) != 0);
	assert_true((v.res.mask & PS_WEBPKI_BIT(PS_WEBPKI_EKU_MISSING)) != 0);
	/* A v1 intermediate (no basicConstraints possible). */
	i1 = mk(&(struct spec){ .key = other_key, .subj = "/CN=v1 intermediate/O=Test",
				.issuer = root, .issuer_key = root_key, .v1 = true });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i1,
				.issuer_key = other_key,
				.exts = (const struct ext[]){ E_BC_LEAF, E_KU_LEAF, E_EKU_SA,
							      E_SAN_WWW, E_END } });
	v = judge(lf, SENT(i1));
	expect_refused("v1 intermediate", &v, X509_V_ERR_INVALID_CA, PS_WEBPKI_X509_V1, 1);
	assert_true((v.res.mask & PS_WEBPKI_BIT(PS_WEBPKI_INTERMEDIATE_NOT_CA)) != 0);
}

static void
test_eku(void **state)
{
	static const struct ext none[] = {
		E_BC_LEAF, E_KU_LEAF, E_SAN_WWW, E_SKI, E_AKI, E_END,
	};
	static const struct ext any[] = {
		E_BC_LEAF, E_KU_LEAF, { "extendedKeyUsage", "anyExtendedKeyUsage" }, E_SAN_WWW,
		E_SKI, E_AKI, E_END,
	};
	static const struct ext client[] = {
		E_BC_LEAF, E_KU_LEAF, { "extendedKeyUsage", "clientAuth" }, E_SAN_WWW,
		E_SKI, E_AKI, E_END,
	};
	static const struct ext int_client[] = {
		E_BC_CA0, E_KU_CA, { "extendedKeyUsage", "clientAuth" }, E_SKI, E_AKI, E_END,
	};
	struct verdict v;
	X509 *ic;

	(void)state;
	v = judge(mk_leaf(none), SENT(inter));
	expect_refused("leaf without EKU", &v, X509_V_OK, PS_WEBPKI_EKU_MISSING, 0);
	v = judge(mk_leaf(any), SENT(inter));
	expect_refused("leaf with anyEKU only", &v, X509_V_ERR_INVALID_PURPOSE,
		       PS_WEBPKI_EKU_ANY_ONLY, 0);
	v = judge(mk_leaf(client), SENT(inter));
	expect_refused("leaf with clientAuth only", &v, X509_V_ERR_INVALID_PURPOSE,
		       PS_WEBPKI_EKU_NO_SERVER_AUTH, 0);
	/* An intermediate whose EKU excludes serverAuth. */
	ic = mk_int(other_key, "/CN=client-only intermediate/O=Test", int_client);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = ic,
				     .issuer_key = other_key, .exts = leaf_exts }),
		  SENT(ic));
	expect_refused("intermediate clientAuth only", &v, X509_V_ERR_INVALID_PURPOSE,
		       PS_WEBPKI_EKU_NO_SERVER_AUTH, 1);
}

static void
test_root_has_eku(void **state)
{
	static const struct ext exts[] = { E_BC_CA, E_KU_CA, E_EKU_SA, E_SKI, E_END };
	EVP_PKEY *rk = keep_key(gen_ec("P-256"));
	X509 *r, *i, *lf;
	struct verdict v;

	(void)state;
	r = mk(&(struct spec){ .key = rk, .subj = "/CN=root with EKU/O=Test", .exts = exts });
	i = mk(&(struct spec){ .key = int_key, .subj = "/CN=intermediate under EKU root/O=Test",
			       .issuer = r, .issuer_key = rk, .exts = int_exts });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				.issuer_key = int_key, .exts = leaf_exts });
	v = judge_ex(lf, SENT(i), SENT(r), HOST, wctx, 0);
	expect_refused("root with EKU", &v, X509_V_OK, PS_WEBPKI_ROOT_HAS_EKU, 2);
}

static void
test_key_usage(void **state)
{
	static const struct ext exts[] = {
		E_BC_LEAF, { "keyUsage", "critical,keyAgreement" }, E_EKU_SA, E_SAN_WWW, E_SKI,
		E_AKI, E_END,
	};
	struct verdict v;

	(void)state;
	/* ECDSA leaf that may not sign: useless for ECDHE and TLS 1.3. */
	v = judge(mk_leaf(exts), SENT(inter));
	expect_refused("ECDSA leaf KU without DS", &v, X509_V_OK, PS_WEBPKI_KEY_USAGE, 0);
}

static void
test_unknown_critical_ext(void **state)
{
	static const struct ext exts[] = {
		E_BC_LEAF, E_KU_LEAF, E_EKU_SA, E_SAN_WWW, E_SKI, E_AKI,
		/* A private OID, critical, value UTF8String "hello". */
		{ "1.3.6.1.4.1.55555.1", "critical,DER:0C0568656C6C6F" },
		E_END,
	};
	struct verdict v;

	(void)state;
	v = judge(mk_leaf(exts), SENT(inter));
	expect_refused("unknown critical extension", &v, X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION,
		       PS_WEBPKI_UNKNOWN_CRITICAL_EXT, 0);
}

static void
test_serial(void **state)
{
	unsigned char b[21];
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	BIGNUM *bn;
	struct verdict v;

	(void)state;
	assert_non_null(sn);
	assert_int_equal(ASN1_INTEGER_set(sn, 0), 1);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				     .issuer_key = int_key, .exts = leaf_exts, .serial = sn }),
		  SENT(inter));
	expect_refused("serial 0", &v, X509_V_OK, PS_WEBPKI_SERIAL_BAD, 0);
	assert_int_equal(ASN1_INTEGER_set(sn, -4242), 1);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				     .issuer_key = int_key, .exts = leaf_exts, .serial = sn }),
		  SENT(inter));
	expect_refused("serial negative", &v, X509_V_OK, PS_WEBPKI_SERIAL_BAD, 0);
	ASN1_INTEGER_free(sn);

	/* 21 octets; 20 with the top bit set (21 in DER); 20 octets is fine. */
	memset(b, 0x5a, sizeof(b));
	bn = BN_bin2bn(b, 21, NULL);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				     .issuer_key = int_key, .exts = leaf_exts, .serial = sn }),
		  SENT(inter));
	expect_refused("serial 21 octets", &v, X509_V_OK, PS_WEBPKI_SERIAL_BAD, 0);
	ASN1_INTEGER_free(sn);
	b[0] = 0xa5;
	bn = BN_bin2bn(b, 20, NULL);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				     .issuer_key = int_key, .exts = leaf_exts, .serial = sn }),
		  SENT(inter));
	expect_refused("serial 20 octets, top bit", &v, X509_V_OK, PS_WEBPKI_SERIAL_BAD, 0);
	ASN1_INTEGER_free(sn);
	b[0] = 0x5a;
	bn = BN_bin2bn(b, 20, NULL);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				     .issuer_key = int_key, .exts = leaf_exts, .serial = sn }),
		  SENT(inter));
	expect_accepted("serial 20 octets", &v);
	ASN1_INTEGER_free(sn);
}

/* ------------------------------------------------------------------ */
/* Crypto strength. */

static void
test_weak_signatures(void **state)
{
	X509 *lf, *i1;
	struct verdict v;

	(void)state;
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = rsa_int,
				.issuer_key = rsa_int_key, .exts = leaf_exts, .md = EVP_md5() });
	v = judge(lf, SENT(rsa_int));
	expect_refused("MD5 leaf signature", &v, X509_V_ERR_CA_MD_TOO_WEAK,
		       PS_WEBPKI_WEAK_SIGNATURE_MD5, 0);
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = rsa_int,
				.issuer_key = rsa_int_key, .exts = leaf_exts, .md = EVP_sha1() });
	v = judge(lf, SENT(rsa_int));
	expect_refused("SHA-1 leaf signature", &v, X509_V_ERR_CA_MD_TOO_WEAK,
		       PS_WEBPKI_WEAK_SIGNATURE_SHA1, 0);
	/* ECDSA-with-SHA1 on the intermediate. */
	i1 = mk(&(struct spec){ .key = other_key, .subj = "/CN=SHA-1 intermediate/O=Test",
				.issuer = root, .issuer_key = root_key, .exts = int_exts,
				.md = EVP_sha1() });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i1,
				.issuer_key = other_key, .exts = leaf_exts });
	v = judge(lf, SENT(i1));
	expect_refused("SHA-1 intermediate signature", &v, X509_V_ERR_CA_MD_TOO_WEAK,
		       PS_WEBPKI_WEAK_SIGNATURE_SHA1, 1);
	/* Ed25519: OpenSSL takes it, browsers do not. */
	{
		EVP_PKEY *ek = keep_key(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
		X509 *ei = mk(&(struct spec){ .key = ek, .subj = "/CN=Ed25519 intermediate/O=Test",
					      .issuer = root, .issuer_key = root_key,
					      .exts = int_exts });

		lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = ei,
					.issuer_key = ek, .exts = leaf_exts, .no_md = true });
		v = judge(lf, SENT(ei));
		expect_refused("Ed25519 signature", &v, X509_V_OK, PS_WEBPKI_WEAK_SIGNATURE, 0);
		assert_true((v.res.mask & PS_WEBPKI_BIT(PS_WEBPKI_WEAK_KEY)) != 0);
	}
	/* A SHA-1 self-signed trust anchor is fine: its signature is not checked. */
	{
		EVP_PKEY *rk = keep_key(gen_ec("P-256"));
		X509 *r = mk(&(struct spec){ .key = rk, .subj = "/CN=old SHA-1 root/O=Test",
					     .exts = root_exts, .md = EVP_sha1() });
		X509 *i = mk(&(struct spec){ .key = int_key, .subj = "/CN=under SHA-1 root",
					     .issuer = r, .issuer_key = rk,
					     .exts = int_exts });

		lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
					.issuer_key = int_key, .exts = leaf_exts });
		v = judge_ex(lf, SENT(i), SENT(r), HOST, wctx, 0);
		expect_accepted("SHA-1 self-signed anchor", &v);
	}
}

static void
test_weak_keys(void **state)
{
	EVP_PKEY *k1024 = keep_key(gen_rsa(1024));
	struct verdict v;
	X509 *lf;

	(void)state;
	lf = mk(&(struct spec){ .key = k1024, .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = int_key, .exts = leaf_exts });
	v = judge(lf, SENT(inter));
	expect_refused("RSA-1024 leaf", &v, seclevel >= 2 ? X509_V_ERR_EE_KEY_TOO_SMALL : X509_V_OK,
		       PS_WEBPKI_WEAK_KEY_RSA, 0);
	lf = mk(&(struct spec){ .key = dsa_pub(), .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = int_key, .exts = leaf_exts });
	v = judge(lf, SENT(inter));
	expect_refused("DSA-2048 leaf", &v, X509_V_OK, PS_WEBPKI_WEAK_KEY_DSA, 0);
	lf = mk(&(struct spec){ .key = keep_key(gen_ec("P-521")), .subj = "/CN=" HOST,
				.issuer = inter, .issuer_key = int_key, .exts = leaf_exts });
	v = judge(lf, SENT(inter));
	expect_refused("P-521 leaf", &v, X509_V_OK, PS_WEBPKI_WEAK_KEY, 0);
}

/* ------------------------------------------------------------------ */
/* Chain structure. */

static void
test_intermediate_not_ca(void **state)
{
	static const struct ext not_ca[] = {
		{ "basicConstraints", "critical,CA:FALSE" }, E_KU_CA, E_EKU_CA, E_SKI, E_AKI, E_END,
	};
	static const struct ext no_bc[] = { E_KU_CA, E_EKU_CA, E_SKI, E_AKI, E_END };
	X509 *i;
	struct verdict v;

	(void)state;
	i = mk_int(other_key, "/CN=not a CA/O=Test", not_ca);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				     .issuer_key = other_key, .exts = leaf_exts }),
		  SENT(i));
	expect_refused("intermediate CA:FALSE", &v, X509_V_ERR_INVALID_CA,
		       PS_WEBPKI_INTERMEDIATE_NOT_CA, 1);
	/* No basicConstraints at all, only keyCertSign. */
	i = mk_int(other_key, "/CN=no basicConstraints/O=Test", no_bc);
	v = judge(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				     .issuer_key = other_key, .exts = leaf_exts }),
		  SENT(i));
	expect_refused("intermediate without BC", &v, X509_V_ERR_INVALID_CA,
		       PS_WEBPKI_INTERMEDIATE_NOT_CA, 1);
}

static void
test_path_len(void **state)
{
	static const struct ext i2_exts[] = { E_BC_CA, E_KU_CA, E_EKU_CA, E_SKI, E_AKI, E_END };
	EVP_PKEY *k2 = keep_key(gen_ec("P-256"));
	X509 *i2, *lf;
	struct verdict v;

	(void)state;
	/* inter has pathlen:0, yet issues another CA. */
	i2 = mk(&(struct spec){ .key = k2, .subj = "/CN=second intermediate/O=Test",
				.issuer = inter, .issuer_key = int_key, .exts = i2_exts });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i2,
				.issuer_key = k2, .exts = leaf_exts });
	v = judge(lf, SENT(i2, inter));
	expect_refused("pathLen 0 exceeded", &v, X509_V_ERR_PATH_LENGTH_EXCEEDED,
		       PS_WEBPKI_PATH_LEN, 2);
}

static void
test_name_constraints(void **state)
{
	static const struct ext nc_exts[] = {
		E_BC_CA0, E_KU_CA, E_EKU_CA, E_SKI, E_AKI,
		{ "nameConstraints", "critical,permitted;DNS:.example.com,"
				     "excluded;DNS:secret.example.com,"
				     "permitted;IP:192.0.2.0/255.255.255.0" },
		E_END,
	};
	EVP_PKEY *k = keep_key(gen_ec("P-256"));
	X509 *i;
	struct verdict v;
	struct {
		const char *san, *host;
		long ossl;
		bool ok;
	} cases[] = {
		{ "DNS:www.example.com", "www.example.com", X509_V_OK, true },
		{ "DNS:www.example.com,IP:192.0.2.7", "192.0.2.7", X509_V_OK, true },
		{ "DNS:evil.test", "evil.test", X509_V_ERR_PERMITTED_VIOLATION, false },
		{ "DNS:www.example.com,DNS:evil.test", "www.example.com",
		  X509_V_ERR_PERMITTED_VIOLATION, false },
		{ "DNS:secret.example.com", "secret.example.com", X509_V_ERR_EXCLUDED_VIOLATION,
		  false },
		{ "DNS:www.example.com,IP:198.51.100.7", "www.example.com",
		  X509_V_ERR_PERMITTED_VIOLATION, false },
		/* The wildcard covers the excluded host: OpenSSL's suffix test misses it. */
		{ "DNS:*.example.com", "secret.example.com", X509_V_OK, false },
	};
	size_t c;

	(void)state;
	i = mk_int(k, "/CN=constrained intermediate/O=Test", nc_exts);
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct ext exts[] = {
			E_BC_LEAF, E_KU_LEAF, E_EKU_SA, { "subjectAltName", cases[c].san },
			E_SKI, E_AKI, E_END,
		};
		X509 *lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=leaf", .issuer = i,
					      .issuer_key = k, .exts = exts });

		v = judge_ex(lf, SENT(i), TRUST_ROOT, cases[c].host, wctx, 0);
		if (cases[c].ok)
			expect_accepted(cases[c].san, &v);
		else
			expect_refused(cases[c].san, &v, cases[c].ossl,
				       PS_WEBPKI_NAME_CONSTRAINTS, 1);
	}
}

/* ------------------------------------------------------------------ */
/* Trust and time: OpenSSL finds these; the mapping must name them. */

static void
test_expired(void **state)
{
	EVP_PKEY *rk = keep_key(gen_ec("P-256"));
	X509 *lf, *i, *r;
	struct verdict v;

	(void)state;
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = int_key, .exts = leaf_exts, .nb = -30 * DAY,
				.na = -DAY });
	v = judge(lf, SENT(inter));
	expect_refused("expired leaf", &v, X509_V_ERR_CERT_HAS_EXPIRED, PS_WEBPKI_EXPIRED, 0);
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = int_key, .exts = leaf_exts, .nb = DAY,
				.na = 30 * DAY });
	v = judge(lf, SENT(inter));
	expect_refused("leaf not yet valid", &v, X509_V_ERR_CERT_NOT_YET_VALID,
		       PS_WEBPKI_NOT_YET_VALID, 0);
	i = mk(&(struct spec){ .key = other_key, .subj = "/CN=expired intermediate/O=Test",
			       .issuer = root, .issuer_key = root_key, .exts = int_exts,
			       .nb = -30 * DAY, .na = -DAY });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				.issuer_key = other_key, .exts = leaf_exts });
	v = judge(lf, SENT(i));
	expect_refused("expired intermediate", &v, X509_V_ERR_CERT_HAS_EXPIRED,
		       PS_WEBPKI_EXPIRED, 1);
	r = mk(&(struct spec){ .key = rk, .subj = "/CN=expired root/O=Test", .exts = root_exts,
			       .nb = -30 * DAY, .na = -DAY });
	i = mk(&(struct spec){ .key = other_key, .subj = "/CN=under expired root/O=Test",
			       .issuer = r, .issuer_key = rk, .exts = int_exts });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				.issuer_key = other_key, .exts = leaf_exts });
	v = judge_ex(lf, SENT(i), SENT(r), HOST, wctx, 0);
	expect_refused("expired root", &v, X509_V_ERR_CERT_HAS_EXPIRED, PS_WEBPKI_EXPIRED, 2);
}

static void
test_untrusted(void **state)
{
	EVP_PKEY *rk = keep_key(gen_ec("P-256"));
	X509 *ss, *r, *fake, *i, *lf;
	struct verdict v;

	(void)state;
	ss = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .exts = leaf_exts });
	v = judge(ss, NULL);
	expect_refused("self-signed leaf", &v, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
		       PS_WEBPKI_SELF_SIGNED, 0);
	/* A whole chain to a root nobody trusts, root sent. */
	r = mk(&(struct spec){ .key = rk, .subj = "/CN=unknown root/O=Test", .exts = root_exts });
	i = mk(&(struct spec){ .key = other_key, .subj = "/CN=under unknown root/O=Test",
			       .issuer = r, .issuer_key = rk, .exts = int_exts });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				.issuer_key = other_key, .exts = leaf_exts });
	v = judge(lf, SENT(i, r));
	expect_refused("unknown root", &v, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		       PS_WEBPKI_UNKNOWN_ROOT, 2);
	/* The same root not sent: the chain stops at the intermediate. */
	v = judge(lf, SENT(i));
	expect_refused("unknown root, not sent", &v, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		       PS_WEBPKI_INCOMPLETE_CHAIN, 1);
	/* A fake root with the trusted root's exact DN, and its own key. */
	fake = mk(&(struct spec){ .key = rk, .subj = "/CN=plainsight test root/O=Test",
				  .exts = root_exts });
	i = mk(&(struct spec){ .key = other_key, .subj = "/CN=under the fake root/O=Test",
			       .issuer = fake, .issuer_key = rk, .exts = int_exts });
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = i,
				.issuer_key = other_key, .exts = leaf_exts });
	v = judge(lf, SENT(i, fake));
	expect_refused("fake root, same DN", &v, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		       PS_WEBPKI_UNKNOWN_ROOT, 2);
	/* Same, the fake root not sent. */
	v = judge(lf, SENT(i));
	expect_refused("fake root not sent", &v, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		       PS_WEBPKI_INCOMPLETE_CHAIN, 1);
}

static void
test_incomplete_chain(void **state)
{
	struct verdict v;

	(void)state;
	/* The intermediate is not sent: no AIA fetching. */
	v = judge(leaf, NULL);
	expect_refused("intermediate missing", &v, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		       PS_WEBPKI_INCOMPLETE_CHAIN, 0);
}

static void
test_bad_signature(void **state)
{
	X509 *lf;
	struct verdict v;

	(void)state;
	/* Names and key identifiers say "inter"; another key signed. */
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = other_key, .exts = leaf_exts });
	v = judge(lf, SENT(inter));
	expect_refused("bad leaf signature", &v, X509_V_ERR_CERT_SIGNATURE_FAILURE,
		       PS_WEBPKI_BAD_SIGNATURE, -1);
}

/* ------------------------------------------------------------------ */
/* Host names. */

static void
test_host_names(void **state)
{
	struct {
		const char *san, *host;
		long ossl;
		bool ok;
	} cases[] = {
		{ "DNS:*.example.test", "www.example.test", X509_V_OK, true },
		{ "DNS:*.example.test", "example.test", X509_V_ERR_HOSTNAME_MISMATCH, false },
		{ "DNS:*.example.test", "a.b.example.test", X509_V_ERR_HOSTNAME_MISMATCH, false },
		{ "DNS:www.*.example.test", "www.foo.example.test", X509_V_ERR_HOSTNAME_MISMATCH,
		  false },
		{ "DNS:w*.example.test", "www.example.test", X509_V_ERR_HOSTNAME_MISMATCH, false },
		{ "DNS:*.com", "example.com", X509_V_ERR_HOSTNAME_MISMATCH, false },
		{ "DNS:www.example.test", "other.example.net", X509_V_ERR_HOSTNAME_MISMATCH,
		  false },
	};
	size_t c;
	struct verdict v;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct ext exts[] = {
			E_BC_LEAF, E_KU_LEAF, E_EKU_SA, { "subjectAltName", cases[c].san },
			E_SKI, E_AKI, E_END,
		};

		v = judge_ex(mk(&(struct spec){ .key = leaf_key, .subj = "/CN=www.example.test",
						.issuer = inter, .issuer_key = int_key,
						.exts = exts }),
			     SENT(inter), TRUST_ROOT, cases[c].host, wctx, 0);
		if (cases[c].ok)
			expect_accepted(cases[c].san, &v);
		else
			expect_refused(cases[c].san, &v, cases[c].ossl, PS_WEBPKI_HOST_MISMATCH, 0);
	}
	/* A SAN present: the CN is never looked at, even when it is the host. */
	{
		const struct ext exts[] = {
			E_BC_LEAF, E_KU_LEAF, E_EKU_SA, { "subjectAltName", "DNS:other.test" },
			E_SKI, E_AKI, E_END,
		};

		v = judge(mk_leaf(exts), SENT(inter));
		expect_refused("CN ignored when SAN", &v, X509_V_ERR_HOSTNAME_MISMATCH,
			       PS_WEBPKI_HOST_MISMATCH, 0);
	}
}

static void
test_dns_match(void **state)
{
	static const struct {
		const char *pattern, *host;
		bool ok;
	} cases[] = {
		{ "www.example.test", "www.example.test", true },
		{ "WWW.EXAMPLE.test", "www.example.TEST", true },
		{ "www.example.test.", "www.example.test", true },
		{ "www.example.test", "www.example.test.", true },
		{ "xn--bcher-kva.test", "XN--BCHER-KVA.TEST", true },
		{ "*.example.test", "a.example.test", true },
		{ "*.example.test", "xn--bcher-kva.example.test", true },
		{ "*.example.test", "example.test", false },
		{ "*.example.test", ".example.test", false },
		{ "*.example.test", "a.b.example.test", false },
		{ "*.test", "example.test", false },
		{ "*", "test", false },
		{ "*.", "a.", false },
		{ "a.*.test", "a.b.test", false },
		{ "*.*.test", "a.b.test", false },
		{ "w*.example.test", "www.example.test", false },
		{ "xn--*.example.test", "xn--a.example.test", false },
		{ "www.example.test", "*.example.test", false },
		{ "www.example.test", "www..example.test", false },
		{ "www.example.test", "", false },
		{ "", "www.example.test", false },
		{ "www.example.test", "www.example.test.evil", false },
	};
	size_t c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		bool got = ps_webpki_dns_match(cases[c].pattern, strlen(cases[c].pattern),
					       cases[c].host);

		if (got != cases[c].ok)
			fail_msg("pattern \"%s\" host \"%s\": %d", cases[c].pattern, cases[c].host,
				 got);
	}
	/* An embedded NUL ("www.example.test\0.evil") never matches. */
	assert_false(ps_webpki_dns_match("www.example.test\0.evil", 22, "www.example.test"));
	assert_false(ps_webpki_dns_match(NULL, 0, "a.test"));
	assert_false(ps_webpki_dns_match("a.test", 6, NULL));
}

/* ------------------------------------------------------------------ */
/* The appliance's own CA. */

static void
test_signed_by_appliance_ca(void **state)
{
	X509 *lf, *cross;
	struct verdict v;

	(void)state;
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = app_ca,
				.issuer_key = app_key, .exts = leaf_exts });
	/* Not trusted upstream (the usual loop): OpenSSL only sees an unknown issuer. */
	v = judge(lf, NULL);
	expect_refused("appliance leaf", &v, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		       PS_WEBPKI_SIGNED_BY_APPLIANCE_CA, 0);
	/* The CA sent along. */
	v = judge(lf, SENT(app_ca));
	expect_refused("appliance leaf + CA", &v, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		       PS_WEBPKI_SIGNED_BY_APPLIANCE_CA, 0);
	/* The appliance CA in the upstream trust store: OpenSSL is satisfied. */
	v = judge_ex(lf, NULL, SENT(root, app_ca), HOST, wctx, 0);
	expect_refused("appliance CA trusted", &v, X509_V_OK, PS_WEBPKI_SIGNED_BY_APPLIANCE_CA, 0);
	/* Its key cross-signed by a trusted root: caught by the key. */
	cross = mk(&(struct spec){ .key = app_key, .subj = "/CN=plainsight appliance CA",
				   .issuer = root, .issuer_key = root_key,
				   .exts = (const struct ext[]){ E_BC_CA, E_KU_CA, E_SKI, E_AKI,
								 E_END } });
	v = judge(lf, SENT(cross));
	expect_refused("appliance CA cross-signed", &v, X509_V_OK,
		       PS_WEBPKI_SIGNED_BY_APPLIANCE_CA, 0);
	/* Without the context the same chain passes: the test can fail. */
	v = judge_ex(lf, SENT(cross), TRUST_ROOT, HOST, NULL, 0);
	expect_accepted("no context", &v);
}

/* ------------------------------------------------------------------ */
/* Flags, API, mapping. */

static void
test_max_validity(void **state)
{
	X509 *lf;
	struct verdict v;

	(void)state;
	lf = mk(&(struct spec){ .key = leaf_key, .subj = "/CN=" HOST, .issuer = inter,
				.issuer_key = int_key, .exts = leaf_exts, .nb = -DAY,
				.na = 730 * DAY });
	v = judge(lf, SENT(inter));
	expect_accepted("2-year leaf, no flag", &v);
	v = judge_ex(lf, SENT(inter), TRUST_ROOT, HOST, wctx, PS_WEBPKI_F_MAX_VALIDITY);
	expect_refused("2-year leaf, flag", &v, X509_V_OK, PS_WEBPKI_VALIDITY_TOO_LONG, 0);
	v = judge_ex(leaf, SENT(inter), TRUST_ROOT, HOST, wctx, PS_WEBPKI_F_MAX_VALIDITY);
	expect_accepted("91-day leaf, flag", &v);
}

static void
test_api(void **state)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct ps_webpki_result r;
	struct ps_webpki_ctx *c;
	X509 *none[1] = { NULL };
	char buf[64];
	unsigned int i, j;

	(void)state;
	assert_non_null(chain);
	/* No certificate: refused whatever OpenSSL said. */
	assert_int_equal(ps_webpki_check(wctx, NULL, HOST, X509_V_OK, 0, &r), 0);
	assert_int_equal(r.first, PS_WEBPKI_NO_CERTIFICATE);
	assert_int_equal(ps_webpki_check(wctx, chain, HOST, X509_V_ERR_CERT_REVOKED, 0, &r), 0);
	assert_int_equal(r.first, PS_WEBPKI_NO_CERTIFICATE);
	assert_true((r.mask & PS_WEBPKI_BIT(PS_WEBPKI_REVOKED)) != 0);
	/* Bad arguments fail closed. */
	assert_int_equal(ps_webpki_check(wctx, chain, HOST, X509_V_OK, 0, NULL), -EINVAL);
	assert_int_equal(ps_webpki_check(wctx, chain, HOST, X509_V_OK, 1u << 31, &r), -EINVAL);
	assert_int_equal(r.first, PS_WEBPKI_INTERNAL);
	sk_X509_free(chain);
	assert_int_equal(ps_webpki_ctx_new(none, 1, &c), -EINVAL);
	assert_int_equal(ps_webpki_ctx_new(NULL, 1, &c), -EINVAL);
	assert_int_equal(ps_webpki_ctx_new(NULL, 0, &c), 0);
	ps_webpki_ctx_free(c);
	ps_webpki_ctx_free(NULL);

	/* Names: present, distinct, snake_case. */
	assert_string_equal(ps_webpki_reason_name(PS_WEBPKI_OK), "ok");
	assert_string_equal(ps_webpki_reason_name(PS_WEBPKI_N_REASONS), "?");
	for (i = 1; i < PS_WEBPKI_N_REASONS; i++) {
		const char *n = ps_webpki_reason_name(i);

		assert_true(strlen(n) > 1);
		assert_true(strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(n));
		assert_true(strlen(ps_webpki_reason_desc(i)) > 5);
		for (j = 1; j < i; j++)
			assert_string_not_equal(n, ps_webpki_reason_name(j));
	}
	/* Format: importance order, truncation reported like snprintf. */
	assert_int_equal(ps_webpki_format(0, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
	assert_int_equal(ps_webpki_format(PS_WEBPKI_BIT(PS_WEBPKI_HOST_MISMATCH) |
					  PS_WEBPKI_BIT(PS_WEBPKI_UNKNOWN_ROOT),
					  buf, sizeof(buf)),
			 strlen("unknown_root,host_mismatch"));
	assert_string_equal(buf, "unknown_root,host_mismatch");
	assert_int_equal(ps_webpki_format(PS_WEBPKI_BIT(PS_WEBPKI_HOST_MISMATCH) |
					  PS_WEBPKI_BIT(PS_WEBPKI_UNKNOWN_ROOT), buf, 14),
			 strlen("unknown_root,host_mismatch"));
	assert_string_equal(buf, "unknown_root");
}

/* ------------------------------------------------------------------ */
/* Revocation from CRLs. */

/* A CRL to make; zero fields: valid from a day ago for a week, nothing listed. */
struct crl_spec {
	X509 *issuer;			/* whose name it carries */
	EVP_PKEY *key;			/* what signs it (the issuer's key, or not) */
	X509 *revoked[4];		/* certificates listed, NULL-ended */
	long this_off, next_off;	/* seconds from now */
	bool no_next;			/* no nextUpdate */
	int reason;			/* CRL entry reason code, 0: none */
};

static X509_CRL *
mk_crl(const struct crl_spec *s)
{
	X509_CRL *crl = X509_CRL_new();
	long this_off = s->this_off, next_off = s->next_off;
	ASN1_ENUMERATED *e;
	X509_REVOKED *r;
	ASN1_TIME *t;
	int i;

	assert_non_null(crl);
	if (this_off == 0 && next_off == 0) {
		this_off = -DAY;
		next_off = 7 * DAY;
	}
	assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(s->issuer)), 1);
	t = X509_gmtime_adj(NULL, this_off);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	if (!s->no_next) {
		t = X509_gmtime_adj(NULL, next_off);
		assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
		ASN1_TIME_free(t);
	}
	for (i = 0; i < 4 && s->revoked[i] != NULL; i++) {
		r = X509_REVOKED_new();
		assert_non_null(r);
		assert_int_equal(X509_REVOKED_set_serialNumber(r,
				 X509_get_serialNumber(s->revoked[i])), 1);
		t = X509_gmtime_adj(NULL, this_off - 3600);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		ASN1_TIME_free(t);
		if (s->reason != 0) {
			e = ASN1_ENUMERATED_new();
			assert_non_null(e);
			assert_int_equal(ASN1_ENUMERATED_set(e, s->reason), 1);
			assert_int_equal(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0), 1);
			ASN1_ENUMERATED_free(e);
		}
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
	}
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_true(X509_CRL_sign(crl, s->key, EVP_sha256()) > 0);
	assert_true(n_crls < (int)(sizeof(crls) / sizeof(crls[0])));
	crls[n_crls++] = crl;
	return crl;
}

/* A context knowing app_ca and the NULL-ended CRLs, freed by the teardown. */
static struct ps_webpki_ctx *
crl_ctx(enum ps_webpki_rev_unknown on_unknown, X509_CRL *const *list)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	struct ps_webpki_ctx *c;

	assert_non_null(sk);
	for (; list != NULL && *list != NULL; list++)
		assert_true(sk_X509_CRL_push(sk, *list) > 0);
	assert_int_equal(ps_webpki_ctx_new(&app_ca, 1, &c), 0);
	assert_int_equal(ps_webpki_ctx_set_crls(c, sk, on_unknown), 0);
	sk_X509_CRL_free(sk);	/* the context holds its own references */
	assert_true(n_crl_ctxs < (int)(sizeof(crl_ctxs) / sizeof(crl_ctxs[0])));
	crl_ctxs[n_crl_ctxs++] = c;
	return c;
}

#define CRLS(...)	((X509_CRL *const[]){ __VA_ARGS__, NULL })
#define REJECT		PS_WEBPKI_REV_UNKNOWN_REJECT
#define ALLOW		PS_WEBPKI_REV_UNKNOWN_ALLOW

/* The good chain judged with ctx. */
static struct verdict
judge_rev(const struct ps_webpki_ctx *ctx)
{
	return judge_ex(leaf, SENT(inter), TRUST_ROOT, HOST, ctx, 0);
}

static void
test_revocation(void **state)
{
	X509_CRL *int_ok, *root_ok, *int_leaf, *root_int;
	struct verdict v;
	char buf[128];

	(void)state;
	int_ok = mk_crl(&(struct crl_spec){ .issuer = inter, .key = int_key });
	root_ok = mk_crl(&(struct crl_spec){ .issuer = root, .key = root_key });
	int_leaf = mk_crl(&(struct crl_spec){ .issuer = inter, .key = int_key,
					      .revoked = { leaf } });
	root_int = mk_crl(&(struct crl_spec){ .issuer = root, .key = root_key,
					      .revoked = { inter } });

	/* Both issuers' CRLs current, nothing listed: accepted, nothing noted. */
	v = judge_rev(crl_ctx(REJECT, CRLS(int_ok, root_ok)));
	expect_accepted("crl: none revoked", &v);
	assert_int_equal(v.res.allowed, 0);
	/* OpenSSL checks no CRL here: each refusal below is this layer's. */
	v = judge_rev(crl_ctx(REJECT, CRLS(int_leaf, root_ok)));
	expect_refused("crl: leaf revoked", &v, X509_V_OK, PS_WEBPKI_REVOKED, 0);
	v = judge_rev(crl_ctx(REJECT, CRLS(int_ok, root_int)));
	expect_refused("crl: intermediate revoked", &v, X509_V_OK, PS_WEBPKI_REVOKED, 1);
	/* An older CRL of the same issuer does not hide a newer revocation. */
	v = judge_rev(crl_ctx(REJECT, CRLS(int_ok, int_leaf, root_ok)));
	expect_refused("crl: two, one lists it", &v, X509_V_OK, PS_WEBPKI_REVOKED, 0);

	/* No CRL for the leaf's issuer: unknown, at the leaf. */
	v = judge_rev(crl_ctx(REJECT, CRLS(root_ok)));
	expect_refused("crl: none for the issuer", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	/* Only the intermediate's issuer has none: unknown at depth 1. */
	v = judge_rev(crl_ctx(REJECT, CRLS(int_ok)));
	expect_refused("crl: none for the root's", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 1);
	/* Expired, not yet valid, without nextUpdate: nothing proven. */
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = int_key, .this_off = -10 * DAY, .next_off = -DAY }), root_ok)));
	expect_refused("crl: expired", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = int_key, .this_off = DAY, .next_off = 10 * DAY }), root_ok)));
	expect_refused("crl: not yet valid", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = int_key, .no_next = true }), root_ok)));
	expect_refused("crl: no nextUpdate", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	/* A revocation the issuer signed outlives the CRL; a hold does not. */
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = int_key, .this_off = -10 * DAY, .next_off = -DAY, .revoked = { leaf } }),
		root_ok)));
	expect_refused("crl: expired, lists it", &v, X509_V_OK, PS_WEBPKI_REVOKED, 0);
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = int_key, .this_off = -10 * DAY, .next_off = -DAY, .revoked = { leaf },
		.reason = CRL_REASON_CERTIFICATE_HOLD }), root_ok)));
	expect_refused("crl: expired hold", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = int_key, .revoked = { leaf }, .reason = CRL_REASON_CERTIFICATE_HOLD }),
		root_ok)));
	expect_refused("crl: current hold", &v, X509_V_OK, PS_WEBPKI_REVOKED, 0);

	/* Another issuer's CRL says nothing about this leaf. */
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = rsa_int,
		.key = rsa_int_key, .revoked = { leaf } }), root_ok)));
	expect_refused("crl: other issuer", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	/* The issuer's name, another key: forged, neither revokes nor covers. */
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = other_key, .revoked = { leaf } }), root_ok)));
	expect_refused("crl: bad signature", &v, X509_V_OK, PS_WEBPKI_REVOCATION_UNKNOWN, 0);
	v = judge_rev(crl_ctx(REJECT, CRLS(mk_crl(&(struct crl_spec){ .issuer = inter,
		.key = other_key }), root_ok)));
	expect_refused("crl: bad signature, empty", &v, X509_V_OK,
		       PS_WEBPKI_REVOCATION_UNKNOWN, 0);

	/* "allow": unknown passes, noted; revoked is still refused. */
	v = judge_rev(crl_ctx(ALLOW, CRLS(root_ok)));
	expect_accepted("crl: unknown, allowed", &v);
	assert_int_equal(v.res.allowed, PS_WEBPKI_BIT(PS_WEBPKI_REVOCATION_UNKNOWN));
	assert_int_equal(ps_webpki_result_format(&v.res, buf, sizeof(buf)),
			 strlen("ok; allowed: revocation_unknown"));
	assert_string_equal(buf, "ok; allowed: revocation_unknown");
	v = judge_rev(crl_ctx(ALLOW, CRLS(int_leaf)));
	expect_refused("crl: revoked, allow", &v, X509_V_OK, PS_WEBPKI_REVOKED, 0);
	assert_int_equal(ps_webpki_result_format(&v.res, buf, sizeof(buf)),
			 strlen("revoked; allowed: revocation_unknown"));
	assert_string_equal(buf, "revoked; allowed: revocation_unknown");
	/* Cut like snprintf: the length needed, a terminated prefix. */
	assert_int_equal(ps_webpki_result_format(&v.res, buf, 12),
			 strlen("revoked; allowed: revocation_unknown"));
	assert_string_equal(buf, "revoked");

	/* Checking off (no CRL loaded, or none given): no revocation reason ever. */
	v = judge_rev(wctx);
	expect_accepted("crl: checking off", &v);
	assert_int_equal(v.res.allowed, 0);
	v = judge_rev(crl_ctx(REJECT, NULL));
	expect_accepted("crl: none loaded", &v);
	assert_int_equal(ps_webpki_result_format(&v.res, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
	assert_int_equal(ps_webpki_ctx_set_crls(NULL, NULL, REJECT), -EINVAL);
	assert_int_equal(ps_webpki_ctx_set_crls(wctx, NULL, (enum ps_webpki_rev_unknown)7),
			 -EINVAL);

	/* A self-signed leaf is its own anchor: no revocation status to find. */
	v = judge_ex(root, NULL, TRUST_ROOT, NULL, crl_ctx(REJECT, CRLS(root_ok)), 0);
	assert_true((v.res.mask & PS_WEBPKI_BIT(PS_WEBPKI_REVOCATION_UNKNOWN)) == 0);
}

/* Write len bytes to a new temporary file; its name into path[64]. */
static void
tmp_file(char path[64], const void *b, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/ps_webpki_crl_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	close(fd);
}

static void
test_crl_load(void **state)
{
	STACK_OF(X509_CRL) *sk = NULL;
	X509_CRL *a, *b;
	unsigned char *der = NULL, *p;
	char path[64], err[256];
	BIO *mem;
	BUF_MEM *bm;
	int la, lb;

	(void)state;
	a = mk_crl(&(struct crl_spec){ .issuer = inter, .key = int_key, .revoked = { leaf } });
	b = mk_crl(&(struct crl_spec){ .issuer = root, .key = root_key });
	/* PEM: two CRLs with a certificate between them (skipped). */
	mem = BIO_new(BIO_s_mem());
	assert_non_null(mem);
	assert_int_equal(PEM_write_bio_X509_CRL(mem, a), 1);
	assert_int_equal(PEM_write_bio_X509(mem, leaf), 1);
	assert_int_equal(PEM_write_bio_X509_CRL(mem, b), 1);
	BIO_get_mem_ptr(mem, &bm);
	tmp_file(path, bm->data, bm->length);
	BIO_free(mem);
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_CRL_num(sk), 2);
	assert_int_equal(X509_CRL_cmp(sk_X509_CRL_value(sk, 1), b), 0);
	unlink(path);
	/* DER: two concatenated, appended to what is there. */
	la = i2d_X509_CRL(a, NULL);
	lb = i2d_X509_CRL(b, NULL);
	assert_true(la > 0 && lb > 0);
	der = malloc((size_t)(la + lb));
	assert_non_null(der);
	p = der;
	assert_int_equal(i2d_X509_CRL(a, &p), la);
	assert_int_equal(i2d_X509_CRL(b, &p), lb);
	tmp_file(path, der, (size_t)(la + lb));
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_CRL_num(sk), 4);
	unlink(path);
	/* A cut DER file: refused, the stack as it was. */
	tmp_file(path, der, (size_t)(la + lb - 7));
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), -EINVAL);
	print_message("  %s\n", err);
	assert_non_null(strstr(err, "not a PEM or DER CRL at byte"));
	assert_int_equal(sk_X509_CRL_num(sk), 4);
	unlink(path);
	free(der);
	/* PEM without a CRL; a broken CRL block; empty; missing. */
	tmp_file(path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 59);
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no \"X509 CRL\" PEM block"));
	unlink(path);
	tmp_file(path, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", 53);
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), -EINVAL);
	print_message("  %s\n", err);
	assert_non_null(strstr(err, "CRL 1 of 1 does not decode"));
	unlink(path);
	tmp_file(path, "", 0);
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty file"));
	unlink(path);
	assert_int_equal(ps_webpki_crl_load(path, &sk, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
	assert_int_equal(sk_X509_CRL_num(sk), 4);
	/* What was loaded judges as the made ones do. */
	assert_int_equal(ps_webpki_ctx_set_crls(wctx, sk, REJECT), 0);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	{
		struct verdict v = judge_rev(wctx);

		expect_refused("crl: loaded from files", &v, X509_V_OK, PS_WEBPKI_REVOKED, 0);
	}
	/* Back to checking off for the tests after this one. */
	assert_int_equal(ps_webpki_ctx_set_crls(wctx, NULL, REJECT), 0);
	ERR_clear_error();
}

static void
test_openssl_mapping(void **state)
{
	static const struct {
		long err;
		enum ps_webpki_reason r;
	} map[] = {
		{ X509_V_OK, PS_WEBPKI_OK },
		{ X509_V_ERR_CERT_HAS_EXPIRED, PS_WEBPKI_EXPIRED },
		{ X509_V_ERR_CERT_NOT_YET_VALID, PS_WEBPKI_NOT_YET_VALID },
		{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, PS_WEBPKI_SELF_SIGNED },
		{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, PS_WEBPKI_UNKNOWN_ROOT },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, PS_WEBPKI_INCOMPLETE_CHAIN },
		{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, PS_WEBPKI_INCOMPLETE_CHAIN },
		{ X509_V_ERR_CERT_SIGNATURE_FAILURE, PS_WEBPKI_BAD_SIGNATURE },
		{ X509_V_ERR_INVALID_CA, PS_WEBPKI_INTERMEDIATE_NOT_CA },
		{ X509_V_ERR_PATH_LENGTH_EXCEEDED, PS_WEBPKI_PATH_LEN },
		{ X509_V_ERR_PERMITTED_VIOLATION, PS_WEBPKI_NAME_CONSTRAINTS },
		{ X509_V_ERR_EXCLUDED_VIOLATION, PS_WEBPKI_NAME_CONSTRAINTS },
		{ X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, PS_WEBPKI_UNKNOWN_CRITICAL_EXT },
		{ X509_V_ERR_HOSTNAME_MISMATCH, PS_WEBPKI_HOST_MISMATCH },
		{ X509_V_ERR_IP_ADDRESS_MISMATCH, PS_WEBPKI_HOST_MISMATCH },
		{ X509_V_ERR_INVALID_PURPOSE, PS_WEBPKI_INVALID_PURPOSE },
		{ X509_V_ERR_KEYUSAGE_NO_CERTSIGN, PS_WEBPKI_KEY_USAGE },
		{ X509_V_ERR_CA_MD_TOO_WEAK, PS_WEBPKI_WEAK_SIGNATURE },
		{ X509_V_ERR_EE_KEY_TOO_SMALL, PS_WEBPKI_WEAK_KEY },
		{ X509_V_ERR_CERT_REVOKED, PS_WEBPKI_REVOKED },
		{ X509_V_ERR_UNABLE_TO_GET_CRL, PS_WEBPKI_REVOCATION_UNKNOWN },
		{ X509_V_ERR_CERT_CHAIN_TOO_LONG, PS_WEBPKI_CHAIN_TOO_LONG },
		{ X509_V_ERR_OUT_OF_MEM, PS_WEBPKI_INTERNAL },
		{ X509_V_ERR_APPLICATION_VERIFICATION, PS_WEBPKI_OPENSSL_OTHER },
		{ 12345, PS_WEBPKI_OPENSSL_OTHER },
	};
	size_t i;
	long e;

	(void)state;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ps_webpki_from_openssl(map[i].err) != map[i].r)
			fail_msg("%ld (%s): %s, want %s", map[i].err,
				 X509_verify_cert_error_string(map[i].err),
				 ps_webpki_reason_name(ps_webpki_from_openssl(map[i].err)),
				 ps_webpki_reason_name(map[i].r));
	/* Every error OpenSSL 3.0 defines maps to something other than ok. */
	for (e = 1; e <= X509_V_ERR_EC_KEY_EXPLICIT_PARAMS; e++)
		assert_int_not_equal(ps_webpki_from_openssl(e), PS_WEBPKI_OK);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_chain),
		T(test_accept_reversed_and_extra),
		T(test_accept_cross_signed),
		T(test_accept_p384),
		T(test_accept_rsa_sizes),
		T(test_accept_many_sans),
		T(test_accept_idn),
		T(test_accept_ip_san),
		T(test_leaf_is_ca),
		T(test_leaf_no_san),
		T(test_x509_v1),
		T(test_eku),
		T(test_root_has_eku),
		T(test_key_usage),
		T(test_unknown_critical_ext),
		T(test_serial),
		T(test_weak_signatures),
		T(test_weak_keys),
		T(test_intermediate_not_ca),
		T(test_path_len),
		T(test_name_constraints),
		T(test_expired),
		T(test_untrusted),
		T(test_incomplete_chain),
		T(test_bad_signature),
		T(test_host_names),
		T(test_dns_match),
		T(test_signed_by_appliance_ca),
		T(test_max_validity),
		T(test_api),
		T(test_revocation),
		T(test_crl_load),
		T(test_openssl_mapping),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
