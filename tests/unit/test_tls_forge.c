/* SPDX-License-Identifier: BSD-3-Clause
 * Certificate module unit tests: key and certificate loading in every
 * format, the appliance CA checks, forged leaves (verified with OpenSSL's
 * own chain builder), the cache and its counters, and threads.
 *
 * The test PKI is generated at test time with OpenSSL: the appliance CA
 * (EC P-256), an "upstream" CA standing for the public PKI, upstream
 * leaves of every shape, and the odd broken CA. Nothing is committed; the
 * files the loaders need are written to a fresh mkdtemp() directory and
 * removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ps_tls_forge.h"

#define DAY	(24L * 3600L)
#define PASS	"s3cret pass"

/* One X.509 v3 extension in openssl.cnf syntax. */
struct ext {
	const char *name;
	const char *value;
};

static const struct ext ca_exts[] = {
	{ "basicConstraints", "critical,CA:TRUE,pathlen:0" },
	{ "keyUsage", "critical,keyCertSign,cRLSign" },
	{ "subjectKeyIdentifier", "hash" },
	{ NULL, NULL },
};

static EVP_PKEY *ca_key, *up_key, *leaf_key, *rsa_key;
static X509 *ca_cert;		/* the appliance CA: now - 1 day .. now + 30 days */
static X509 *up_ca;		/* the upstream CA */
static X509 *up_leaf;		/* www.example.test, many names, within the CA's validity */
static struct ps_tls_ca *ca;	/* loaded from files by the group setup */
static struct ps_tls_forge *forge;	/* shared, cache of 64 */
static char tmpdir[64];
static char paths[128][128];	/* every file written, removed at the end */
static int n_paths;

/* ------------------------------------------------------------------ */
/* Test PKI. */

static EVP_PKEY *
gen_ec(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(k);
	return k;
}

/*
 * A certificate for key with subject subj ("/CN=a/O=b"; "" for an empty
 * one), valid from now + nb to now + na seconds, signed by issuer (self
 * when NULL) with exts.
 */
static X509 *
make_cert(EVP_PKEY *key, const char *subj, X509 *issuer, EVP_PKEY *issuer_key,
	  const struct ext *exts, long nb, long na)
{
	static long serial = 1000;
	const char *p, *eq, *end;
	char field[16], value[128];
	X509_EXTENSION *e;
	X509V3_CTX v3;
	X509_NAME *name;
	X509 *x = X509_new();

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
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
	if (issuer == NULL) {
		issuer = x;
		issuer_key = key;
	}
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	for (; exts != NULL && exts->name != NULL; exts++) {
		e = X509V3_EXT_nconf(NULL, &v3, exts->name, exts->value);
		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

/* An upstream server leaf with subj and, when san is not NULL, that SAN. */
static X509 *
make_upstream(const char *subj, const char *san, long nb, long na)
{
	struct ext exts[] = {
		{ "basicConstraints", "critical,CA:FALSE" },
		{ "extendedKeyUsage", "serverAuth" },
		{ san != NULL ? "subjectAltName" : NULL, san },
		{ NULL, NULL },
	};

	return make_cert(leaf_key, subj, up_ca, up_key, exts, nb, na);
}

static void
path_of(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* Write len bytes to tmpdir/name with exactly mode, whatever the umask. */
static const char *
write_file(const char *name, mode_t mode, const void *data, size_t len)
{
	char *path;
	int fd;

	assert_true(n_paths < 128);
	path = paths[n_paths++];
	path_of(path, 128, name);
	unlink(path);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return path;
}

/* Write what was written to the memory BIO mem (freed). */
static const char *
write_bio(const char *name, mode_t mode, BIO *mem)
{
	const char *path;
	char *p;
	long n;

	n = BIO_get_mem_data(mem, &p);
	assert_true(n > 0);
	path = write_file(name, mode, p, (size_t)n);
	BIO_free(mem);
	return path;
}

static BIO *
mem(void)
{
	BIO *b = BIO_new(BIO_s_mem());

	assert_non_null(b);
	return b;
}

static const char *
write_certs_pem(const char *name, X509 *a, X509 *b)
{
	BIO *m = mem();

	assert_int_equal(PEM_write_bio_X509(m, a), 1);
	if (b != NULL)
		assert_int_equal(PEM_write_bio_X509(m, b), 1);
	return write_bio(name, 0644, m);
}

static const char *
write_key_pem(const char *name, EVP_PKEY *key, mode_t mode)
{
	BIO *m = mem();

	assert_int_equal(PEM_write_bio_PrivateKey(m, key, NULL, NULL, 0, NULL, NULL), 1);
	return write_bio(name, mode, m);
}

static const char *
write_p12(const char *name, const char *pass, EVP_PKEY *key, X509 *cert, X509 *extra,
	  mode_t mode)
{
	STACK_OF(X509) *chain = NULL;
	PKCS12 *p12;
	BIO *m = mem();

	if (extra != NULL) {
		chain = sk_X509_new_null();
		assert_non_null(chain);
		assert_true(sk_X509_push(chain, extra) > 0);
	}
	p12 = PKCS12_create(pass, "test", key, cert, chain, 0, 0, 0, 0, 0);
	assert_non_null(p12);
	assert_int_equal(i2d_PKCS12_bio(m, p12), 1);
	PKCS12_free(p12);
	sk_X509_free(chain);
	return write_bio(name, mode, m);
}

/* X509_V_OK when leaf chains to anchor (through untrusted) for a TLS server. */
static int
verify_leaf(X509 *leaf, X509 *anchor, STACK_OF(X509) *untrusted)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	int rc;

	assert_non_null(store);
	assert_non_null(xs);
	assert_int_equal(X509_STORE_add_cert(store, anchor), 1);
	assert_int_equal(X509_STORE_CTX_init(xs, store, leaf, untrusted), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_SERVER), 1);
	rc = X509_verify_cert(xs) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(xs);
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

/* leaf verifies as a TLS server certificate; the reason when not. */
#define assert_verifies(leaf, anchor, untrusted) do {				\
		int v_ = verify_leaf(leaf, anchor, untrusted);			\
									\
		if (v_ != X509_V_OK)						\
			print_error("verify: %s\n", X509_verify_cert_error_string(v_)); \
		assert_int_equal(v_, X509_V_OK);				\
	} while (0)

static struct ps_tls_forge *
make_forge(size_t cache_max)
{
	struct ps_tls_forge *f = NULL;
	char err[256];
	int rc;

	rc = ps_tls_forge_new(ca, cache_max, &f, err, sizeof(err));
	if (rc != 0)
		print_error("ps_tls_forge_new: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	return f;
}

static int
group_setup(void **state)
{
	const char *crt, *key;
	char err[256];
	int rc;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ps-tls-forge-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	ca_key = gen_ec("P-256");
	up_key = gen_ec("P-256");
	leaf_key = gen_ec("P-256");
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(rsa_key);
	ca_cert = make_cert(ca_key, "/C=XX/O=plainsight/CN=plainsight test CA", NULL, NULL,
			    ca_exts, -DAY, 30 * DAY);
	up_ca = make_cert(up_key, "/CN=upstream root", NULL, NULL, ca_exts, -DAY, 3650 * DAY);
	up_leaf = make_upstream("/C=US/ST=CA/L=Somewhere/O=Example Inc/OU=Web/CN=www.example.test",
				"DNS:www.example.test,DNS:example.test,IP:192.0.2.7,"
				"IP:2001:db8::1,email:admin@example.test,URI:https://example.test/",
				-3600, 10 * DAY);

	crt = write_certs_pem("ca.crt", ca_cert, NULL);
	key = write_key_pem("ca.key", ca_key, 0600);
	rc = ps_tls_ca_load(crt, key, NULL, &ca, err, sizeof(err));
	if (rc != 0)
		print_error("ps_tls_ca_load: %s\n", err);
	assert_int_equal(rc, 0);
	forge = make_forge(64);
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	(void)state;
	ps_tls_forge_free(forge);
	ps_tls_ca_free(ca);
	X509_free(ca_cert);
	X509_free(up_ca);
	X509_free(up_leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(up_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(rsa_key);
	for (i = 0; i < n_paths; i++)
		unlink(paths[i]);
	path_of(paths[0], sizeof(paths[0]), "mkca");
	rmdir(paths[0]);	/* made by test_ca_from_mkca, when it ran */
	assert_int_equal(rmdir(tmpdir), 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Forged leaves. */

static bool
has_ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 1;
}

/* The SAN entries of x as "DNS:a IP:b " text. */
static void
san_text(X509 *x, char *buf, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_OCTET_STRING *ip;

		if (g->type == GEN_DNS) {
			off += (size_t)snprintf(buf + off, cap - off, "DNS:%s ",
						ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			ip = g->d.iPAddress;
			off += (size_t)snprintf(buf + off, cap - off, "IP(%d) ",
						ASN1_STRING_length(ip));
		} else {
			off += (size_t)snprintf(buf + off, cap - off, "type%d ", g->type);
		}
	}
	GENERAL_NAMES_free(gens);
}

static void
check_leaf(X509 *x, EVP_PKEY *key, enum ps_tls_leaf_type type)
{
	const ASN1_OCTET_STRING *akid_id;
	AUTHORITY_KEYID *akid;
	uint32_t ku;

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca_cert)), 0);
	assert_verifies(x, ca_cert, NULL);
	assert_int_equal(X509_check_private_key(x, key), 1);
	assert_int_equal(EVP_PKEY_get_base_id(key),
			 type == PS_TLS_LEAF_EC ? EVP_PKEY_EC : EVP_PKEY_RSA);
	if (type == PS_TLS_LEAF_RSA)
		assert_int_equal(EVP_PKEY_get_bits(key), 2048);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	/* Not a CA, a TLS server leaf, the right key usages, all critical. */
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(has_ext_critical(x, NID_basic_constraints));
	assert_true(has_ext_critical(x, NID_key_usage));
	ku = X509_get_key_usage(x);
	assert_int_equal(ku, type == PS_TLS_LEAF_RSA ?
			 (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT) : KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	/* Key identifiers: ours present, the authority's the CA's. */
	assert_non_null(X509_get0_subject_key_id(x));
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	assert_non_null(akid);
	akid_id = akid->keyid;
	assert_non_null(akid_id);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid_id, X509_get0_subject_key_id(ca_cert)), 0);
	AUTHORITY_KEYID_free(akid);
}

static void
test_forge_verifies(void **state)
{
	char buf[128], san[256];
	EVP_PKEY *key;
	X509_NAME *subj;
	X509 *x;
	int t;

	(void)state;
	for (t = 0; t < PS_TLS_LEAF_TYPES; t++) {
		assert_int_equal(ps_tls_forge_get(forge, up_leaf, (enum ps_tls_leaf_type)t, &x, &key),
				 0);
		check_leaf(x, key, (enum ps_tls_leaf_type)t);

		/* Subject: the CN alone; O, OU, L, ST, C dropped. */
		subj = X509_get_subject_name(x);
		assert_int_equal(X509_NAME_entry_count(subj), 1);
		assert_int_equal(X509_NAME_get_text_by_NID(subj, NID_commonName, buf, sizeof(buf)),
				 (int)strlen("www.example.test"));
		assert_string_equal(buf, "www.example.test");
		assert_int_equal(X509_NAME_get_index_by_NID(subj, NID_organizationName, -1), -1);

		/* SAN: DNS and IP entries in order, email and URI dropped. */
		san_text(x, san, sizeof(san));
		assert_string_equal(san, "DNS:www.example.test DNS:example.test IP(4) IP(16) ");
		assert_false(has_ext_critical(x, NID_subject_alt_name));
		assert_int_equal(X509_check_host(x, "example.test", 0, 0, NULL), 1);
		assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
		assert_int_equal(X509_check_ip_asc(x, "2001:db8::1", 0), 1);
		assert_int_equal(X509_check_host(x, "other.test", 0, 0, NULL), 0);

		/* The upstream validity, inside the CA's: kept as is. */
		assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(x),
						   X509_get0_notBefore(up_leaf)), 0);
		assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
						   X509_get0_notAfter(up_leaf)), 0);
		X509_free(x);
		EVP_PKEY_free(key);
	}
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_forge_serial(void **state)
{
	const ASN1_INTEGER *sn[4];
	X509 *x[4], *orig[2];
	EVP_PKEY *key;
	BIGNUM *bn;
	int i, j;

	(void)state;
	orig[0] = make_upstream("/CN=a.serial.test", NULL, -3600, DAY);
	orig[1] = make_upstream("/CN=b.serial.test", NULL, -3600, DAY);
	for (i = 0; i < 4; i++) {
		assert_int_equal(ps_tls_forge_get(forge, orig[i / 2],
						  (enum ps_tls_leaf_type)(i % 2), &x[i], &key), 0);
		EVP_PKEY_free(key);
		sn[i] = X509_get0_serialNumber(x[i]);
		/* Positive, 16 bytes (top bit clear, so no sign padding), non-zero. */
		assert_int_equal(ASN1_STRING_type(sn[i]), V_ASN1_INTEGER);
		assert_int_equal(ASN1_STRING_length(sn[i]), 16);
		assert_int_equal(ASN1_STRING_get0_data(sn[i])[0] & 0x80, 0);
		assert_int_equal(i2d_ASN1_INTEGER(sn[i], NULL), 2 + 16);	/* no 0x00 pad */
		bn = ASN1_INTEGER_to_BN(sn[i], NULL);
		assert_non_null(bn);
		assert_false(BN_is_negative(bn));
		assert_false(BN_is_zero(bn));
		assert_int_equal(BN_num_bytes(bn), 16);
		BN_free(bn);
		for (j = 0; j < i; j++)
			assert_int_not_equal(ASN1_INTEGER_cmp(sn[i], sn[j]), 0);
	}
	for (i = 0; i < 4; i++)
		X509_free(x[i]);
	X509_free(orig[0]);
	X509_free(orig[1]);
}

static void
test_forge_validity_clipped(void **state)
{
	struct ps_tls_forge_stats before, after;
	X509 *orig, *x;
	EVP_PKEY *key;

	(void)state;
	/* Outlives the CA at both ends: clipped to the CA's validity. */
	orig = make_upstream("/CN=long.test", "DNS:long.test", -700 * DAY, 700 * DAY);
	assert_int_equal(ps_tls_forge_get(forge, orig, PS_TLS_LEAF_EC, &x, &key), 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notBefore(ca_cert)),
			 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca_cert)), 0);
	assert_verifies(x, ca_cert, NULL);
	X509_free(x);
	EVP_PKEY_free(key);
	X509_free(orig);

	/* Starts after the CA ends: nothing to forge, counted as a failure. */
	orig = make_upstream("/CN=late.test", NULL, 60 * DAY, 90 * DAY);
	ps_tls_forge_stats(forge, &before);
	x = (X509 *)1;
	key = (EVP_PKEY *)1;
	assert_int_equal(ps_tls_forge_get(forge, orig, PS_TLS_LEAF_EC, &x, &key), -EINVAL);
	assert_null(x);
	assert_null(key);
	ps_tls_forge_stats(forge, &after);
	assert_int_equal(after.failures, before.failures + 1);
	assert_int_equal(after.misses, before.misses + 1);
	assert_int_equal(after.entries, before.entries);
	assert_int_equal(ERR_peek_error(), 0);
	X509_free(orig);
}

static void
test_forge_names(void **state)
{
	static const struct {
		const char *subj;
		const char *san;
		const char *want_san;
		const char *want_cn;	/* NULL: empty subject */
		bool san_critical;
	} cases[] = {
		/* No SAN: the CN becomes one. */
		{ "/O=x/CN=cn-only.example.test", NULL, "DNS:cn-only.example.test ",
		  "cn-only.example.test", false },
		/* A CN that is an address: an IP SAN. */
		{ "/CN=192.0.2.9", NULL, "IP(4) ", "192.0.2.9", false },
		/* A SAN with nothing usable: as if none. */
		{ "/CN=mail.example.test", "email:a@example.test", "DNS:mail.example.test ",
		  "mail.example.test", false },
		/* A CN that is no host name: no SAN at all. */
		{ "/CN=Some Appliance", NULL, "", "Some Appliance", false },
		/* No CN: empty subject, so the SAN is critical (RFC 5280 4.2.1.6). */
		{ "/O=Nameless", "DNS:nameless.example.test", "DNS:nameless.example.test ", NULL,
		  true },
		/* Several CNs: the last, the most specific. */
		{ "/CN=outer.test/CN=inner.test", NULL, "DNS:inner.test ", "inner.test", false },
	};
	X509_NAME_ENTRY *e;
	char san[256];
	EVP_PKEY *key;
	X509 *orig, *x;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orig = make_upstream(cases[i].subj, cases[i].san, -3600, DAY);
		assert_int_equal(ps_tls_forge_get(forge, orig, PS_TLS_LEAF_RSA, &x, &key), 0);
		san_text(x, san, sizeof(san));
		assert_string_equal(san, cases[i].want_san);
		if (cases[i].want_cn == NULL) {
			assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
		} else {
			assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 1);
			e = X509_NAME_get_entry(X509_get_subject_name(x), 0);
			assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)),
					 NID_commonName);
			assert_string_equal(ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(e)),
					    cases[i].want_cn);
		}
		if (cases[i].want_san[0] != '\0')
			assert_int_equal(has_ext_critical(x, NID_subject_alt_name),
					 cases[i].san_critical);
		else
			assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
		assert_verifies(x, ca_cert, NULL);
		X509_free(x);
		EVP_PKEY_free(key);
		X509_free(orig);
	}
}

static void
test_forge_cache(void **state)
{
	struct ps_tls_forge_stats st;
	struct ps_tls_forge *f = make_forge(8);
	EVP_PKEY *k1, *k2, *k3;
	X509 *x1, *x2, *x3;

	(void)state;
	assert_int_equal(ps_tls_forge_get(f, up_leaf, PS_TLS_LEAF_EC, &x1, &k1), 0);
	assert_int_equal(ps_tls_forge_get(f, up_leaf, PS_TLS_LEAF_EC, &x2, &k2), 0);
	/* A hit: the very same object, and the same process-wide key. */
	assert_ptr_equal(x1, x2);
	assert_ptr_equal(k1, k2);
	ps_tls_forge_stats(f, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.entries, 1);
	/* Another type: another entry, another key. */
	assert_int_equal(ps_tls_forge_get(f, up_leaf, PS_TLS_LEAF_RSA, &x3, &k3), 0);
	assert_ptr_not_equal(x3, x1);
	assert_int_equal(EVP_PKEY_get_base_id(k1), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_base_id(k3), EVP_PKEY_RSA);
	ps_tls_forge_stats(f, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.failures, 0);
	/* Bad arguments: refused, not counted. */
	assert_int_equal(ps_tls_forge_get(f, NULL, PS_TLS_LEAF_RSA, &x2, &k2), -EINVAL);
	assert_int_equal(ps_tls_forge_get(f, up_leaf, PS_TLS_LEAF_TYPES, &x2, &k2), -EINVAL);
	ps_tls_forge_stats(f, &st);
	assert_int_equal(st.hits + st.misses, 3);

	/* The caller's references outlive the forge. */
	X509_free(x2);
	EVP_PKEY_free(k2);
	ps_tls_forge_free(f);
	assert_verifies(x1, ca_cert, NULL);
	assert_int_equal(X509_check_private_key(x3, k3), 1);
	X509_free(x1);
	X509_free(x3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k3);
}

static void
test_forge_lru(void **state)
{
	struct ps_tls_forge *f = make_forge(2);
	struct ps_tls_forge_stats st;
	X509 *o[3], *a, *b, *c, *x;
	EVP_PKEY *key;

	(void)state;
	o[0] = make_upstream("/CN=a.lru.test", NULL, -3600, DAY);
	o[1] = make_upstream("/CN=b.lru.test", NULL, -3600, DAY);
	o[2] = make_upstream("/CN=c.lru.test", NULL, -3600, DAY);
#define GET(orig, out)	do {							\
		assert_int_equal(ps_tls_forge_get(f, orig, PS_TLS_LEAF_EC, &out, &key), 0); \
		EVP_PKEY_free(key);						\
	} while (0)
	GET(o[0], a);			/* LRU: a */
	GET(o[1], b);			/* b a */
	GET(o[0], x);			/* a b: hit */
	assert_ptr_equal(x, a);
	X509_free(x);
	GET(o[2], c);			/* c a: b evicted */
	ps_tls_forge_stats(f, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	GET(o[0], x);			/* a c: a survived */
	assert_ptr_equal(x, a);
	X509_free(x);
	GET(o[1], x);			/* b a: b forged anew (we still hold the old one), c out */
	assert_ptr_not_equal(x, b);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
					      X509_get0_serialNumber(b)), 0);
	X509_free(x);
	GET(o[0], x);			/* a b: hit */
	assert_ptr_equal(x, a);
	X509_free(x);
	GET(o[2], x);			/* c a: c was evicted */
	assert_ptr_not_equal(x, c);
	X509_free(x);
	ps_tls_forge_stats(f, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 3);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 5);
	assert_int_equal(st.misses - st.failures - st.races, st.entries + st.evictions);
#undef GET
	X509_free(a);
	X509_free(b);
	X509_free(c);
	for (int i = 0; i < 3; i++)
		X509_free(o[i]);
	ps_tls_forge_free(f);
}

/* ------------------------------------------------------------------ */
/* Threads. */

#define N_THREADS	4
#define N_ORIGS		5
#define N_ITERS		250

struct hammer {
	pthread_t tid;
	struct ps_tls_forge *f;
	X509 **origs;
	unsigned int seed;
	int errors;					/* no asserts off the main thread */
	X509 *seen[N_ORIGS][PS_TLS_LEAF_TYPES];		/* first leaf per slot */
	bool stable;					/* later hits returned the same */
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	enum ps_tls_leaf_type t;
	EVP_PKEY *key;
	X509 *x;
	int i, o;

	for (i = 0; i < N_ITERS; i++) {
		o = rand_r(&h->seed) % N_ORIGS;
		t = (enum ps_tls_leaf_type)(rand_r(&h->seed) % PS_TLS_LEAF_TYPES);
		if (ps_tls_forge_get(h->f, h->origs[o], t, &x, &key) != 0) {
			h->errors++;
			continue;
		}
		if (X509_check_private_key(x, key) != 1)
			h->errors++;
		if (h->seen[o][t] == NULL)
			h->seen[o][t] = x;	/* keep the reference */
		else {
			if (h->seen[o][t] != x)
				h->stable = false;
			X509_free(x);
		}
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
	return NULL;
}

/* N_THREADS threads, N_ITERS gets each over N_ORIGS certificates and both types. */
static void
hammer(size_t cache_max, struct ps_tls_forge_stats *st, struct hammer *h, X509 **origs)
{
	struct ps_tls_forge *f = make_forge(cache_max);
	int i;

	for (i = 0; i < N_THREADS; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].f = f;
		h[i].origs = origs;
		h[i].seed = 1234u + (unsigned int)i;
		h[i].stable = true;
		assert_int_equal(pthread_create(&h[i].tid, NULL, hammer_run, &h[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_join(h[i].tid, NULL), 0);
	ps_tls_forge_stats(f, st);
	ps_tls_forge_free(f);
}

static void
test_forge_threads(void **state)
{
	struct hammer h[N_THREADS];
	struct ps_tls_forge_stats st;
	X509 *origs[N_ORIGS];
	char cn[64];
	int i, o, t;

	(void)state;
	for (o = 0; o < N_ORIGS; o++) {
		snprintf(cn, sizeof(cn), "/CN=t%d.threads.test", o);
		origs[o] = make_upstream(cn, NULL, -3600, DAY);
	}

	/* Room for every leaf: each slot forged once, then shared by all. */
	hammer(16, &st, h, origs);
	assert_int_equal(st.hits + st.misses, N_THREADS * N_ITERS);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.entries, N_ORIGS * PS_TLS_LEAF_TYPES);
	assert_int_equal(st.misses - st.races, N_ORIGS * PS_TLS_LEAF_TYPES);
	for (i = 0; i < N_THREADS; i++) {
		assert_int_equal(h[i].errors, 0);
		assert_true(h[i].stable);
		for (o = 0; o < N_ORIGS; o++)
			for (t = 0; t < PS_TLS_LEAF_TYPES; t++) {
				if (h[i].seen[o][t] == NULL || h[0].seen[o][t] == NULL)
					continue;
				assert_ptr_equal(h[i].seen[o][t], h[0].seen[o][t]);
			}
	}
	for (i = 0; i < N_THREADS; i++)
		for (o = 0; o < N_ORIGS; o++)
			for (t = 0; t < PS_TLS_LEAF_TYPES; t++)
				X509_free(h[i].seen[o][t]);

	/* A cache too small: evictions under contention, the counts still add up. */
	hammer(3, &st, h, origs);
	assert_int_equal(st.hits + st.misses, N_THREADS * N_ITERS);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.entries, 3);
	assert_true(st.evictions > 0);
	assert_int_equal(st.misses - st.failures - st.races, st.entries + st.evictions);
	for (i = 0; i < N_THREADS; i++) {
		assert_int_equal(h[i].errors, 0);
		for (o = 0; o < N_ORIGS; o++)
			for (t = 0; t < PS_TLS_LEAF_TYPES; t++)
				X509_free(h[i].seen[o][t]);
	}
	for (o = 0; o < N_ORIGS; o++)
		X509_free(origs[o]);
}

static void
test_leaf_type_for(void **state)
{
	/* rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp256r1_sha256 */
	static const uint16_t mixed[] = { 0x0804, 0x0401, 0x0403 };
	/* rsa_pss_rsae_sha256, rsa_pkcs1_sha256, rsa_pkcs1_sha384 */
	static const uint16_t rsa_only[] = { 0x0804, 0x0401, 0x0501 };
	/* ed25519, ecdsa_secp521r1_sha512 */
	static const uint16_t p521[] = { 0x0807, 0x0603 };
	/* ecdsa_secp384r1_sha384 */
	static const uint16_t p384[] = { 0x0503 };
	/* ecdsa_sha1 (0x0203) is no ECDSA scheme we serve; ed25519 neither */
	static const uint16_t legacy[] = { 0x0203, 0x0807 };

	(void)state;
	assert_int_equal(ps_tls_leaf_type_for(mixed, 3, true), PS_TLS_LEAF_EC);
	assert_int_equal(ps_tls_leaf_type_for(rsa_only, 3, true), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for(p521, 2, true), PS_TLS_LEAF_EC);
	assert_int_equal(ps_tls_leaf_type_for(p384, 1, true), PS_TLS_LEAF_EC);
	assert_int_equal(ps_tls_leaf_type_for(legacy, 2, true), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for(mixed, 2, true), PS_TLS_LEAF_RSA);	/* n honoured */
	assert_int_equal(ps_tls_leaf_type_for(mixed, 3, false), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for(NULL, 0, false), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for(NULL, 0, true), PS_TLS_LEAF_RSA);
	assert_string_equal(ps_tls_leaf_type_name(PS_TLS_LEAF_EC), "ec");
	assert_string_equal(ps_tls_leaf_type_name(PS_TLS_LEAF_RSA), "rsa");
}

/* The leaf type once the real leaf is known: never a stronger key. */
static void
test_leaf_type_for_peer(void **state)
{
	static const uint16_t mixed[] = { 0x0804, 0x0401, 0x0403 };
	/* ECDSA and RSA PKCS#1 only: no scheme TLS 1.3 allows for RSA */
	static const uint16_t pkcs1[] = { 0x0403, 0x0401 };
	static const uint16_t ec_only[] = { 0x0403, 0x0503 };
	static const uint16_t rsa_only[] = { 0x0804, 0x0401 };
	struct ext exts[] = {
		{ "basicConstraints", "critical,CA:FALSE" },
		{ "subjectAltName", "DNS:rsa.example.test" },
		{ NULL, NULL },
	};
	X509 *rsa_leaf = make_cert(rsa_key, "/CN=rsa.example.test", up_ca, up_key, exts,
				   -3600, DAY);

	(void)state;
	/* An RSA server: an RSA leaf whenever the client takes rsa_pss_rsae. */
	assert_int_equal(ps_tls_leaf_type_for_peer(mixed, 3, true, rsa_leaf), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for_peer(rsa_only, 2, true, rsa_leaf), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for_peer(pkcs1, 2, true, rsa_leaf), PS_TLS_LEAF_EC);
	assert_int_equal(ps_tls_leaf_type_for_peer(ec_only, 2, true, rsa_leaf), PS_TLS_LEAF_EC);
	assert_int_equal(ps_tls_leaf_type_for_peer(NULL, 0, false, rsa_leaf), PS_TLS_LEAF_RSA);
	/* An EC server: the client's own type. */
	assert_int_equal(ps_tls_leaf_type_for_peer(mixed, 3, true, up_leaf), PS_TLS_LEAF_EC);
	assert_int_equal(ps_tls_leaf_type_for_peer(rsa_only, 2, true, up_leaf), PS_TLS_LEAF_RSA);
	assert_int_equal(ps_tls_leaf_type_for_peer(mixed, 3, true, NULL), PS_TLS_LEAF_EC);
	X509_free(rsa_leaf);
}

/* ------------------------------------------------------------------ */
/* Loading. */

static void
load_key_ok(const char *path, const char *pass, EVP_PKEY *want)
{
	EVP_PKEY *k = NULL;
	char err[256] = "";
	int rc;

	rc = ps_tls_load_key(path, pass, &k, err, sizeof(err));
	if (rc != 0)
		print_error("%s: %d %s\n", path, rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, want), 1);
	EVP_PKEY_free(k);
	assert_int_equal(ERR_peek_error(), 0);
}

/* A failed load: rc, no key, err containing needle and never the passphrase. */
static void
load_key_fails(const char *path, const char *pass, int want_rc, const char *needle)
{
	EVP_PKEY *k = (EVP_PKEY *)1;
	char err[256] = "";

	assert_int_equal(ps_tls_load_key(path, pass, &k, err, sizeof(err)), want_rc);
	assert_null(k);
	if (strstr(err, needle) == NULL)
		print_error("%s: \"%s\" lacks \"%s\"\n", path, err, needle);
	assert_non_null(strstr(err, needle));
	assert_null(strstr(err, PASS));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_load_key_formats(void **state)
{
	EVP_PKEY *keys[2] = { ca_key, rsa_key };
	const char *pass, *path;
	char name[32];
	BIO *m;
	int i;

	(void)state;
	pass = write_file("pass", 0600, PASS "\n", strlen(PASS) + 1);
	for (i = 0; i < 2; i++) {
		EVP_PKEY *k = keys[i];

		/* PEM PKCS#8 ("BEGIN PRIVATE KEY"). */
		snprintf(name, sizeof(name), "k%d.pem", i);
		load_key_ok(write_key_pem(name, k, 0600), NULL, k);
		/* PEM traditional ("BEGIN EC/RSA PRIVATE KEY"). */
		m = mem();
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(m, k, NULL, NULL, 0, NULL,
								      NULL), 1);
		snprintf(name, sizeof(name), "k%d-trad.pem", i);
		path = write_bio(name, 0600, m);
		load_key_ok(path, NULL, k);
		load_key_ok(path, pass, k);	/* a passphrase for a clear key: ignored */
		/* PEM encrypted PKCS#8, the passphrase's trailing newline stripped. */
		m = mem();
		assert_int_equal(PEM_write_bio_PKCS8PrivateKey(m, k, EVP_aes_256_cbc(), NULL, 0,
							       NULL, (void *)PASS), 1);
		snprintf(name, sizeof(name), "k%d-enc.pem", i);
		load_key_ok(write_bio(name, 0400, m), pass, k);
		/* DER PKCS#8. */
		m = mem();
		assert_int_equal(i2d_PKCS8PrivateKey_bio(m, k, NULL, NULL, 0, NULL, NULL), 1);
		snprintf(name, sizeof(name), "k%d.der", i);
		load_key_ok(write_bio(name, 0600, m), NULL, k);
		/* DER traditional. */
		m = mem();
		assert_int_equal(i2d_PrivateKey_bio(m, k), 1);
		snprintf(name, sizeof(name), "k%d-trad.der", i);
		load_key_ok(write_bio(name, 0600, m), NULL, k);
		/* DER encrypted PKCS#8. */
		m = mem();
		assert_int_equal(i2d_PKCS8PrivateKey_bio(m, k, EVP_aes_128_cbc(), NULL, 0, NULL,
							 (void *)PASS), 1);
		snprintf(name, sizeof(name), "k%d-enc.der", i);
		load_key_ok(write_bio(name, 0600, m), pass, k);
		/* PKCS#12, with a passphrase and with none. */
		snprintf(name, sizeof(name), "k%d.p12", i);
		load_key_ok(write_p12(name, PASS, k, i == 0 ? ca_cert : NULL, NULL, 0600), pass, k);
		snprintf(name, sizeof(name), "k%d-nopass.pfx", i);
		load_key_ok(write_p12(name, "", k, NULL, NULL, 0600), NULL, k);
	}
	/* A CRLF passphrase file, and a key in a file that also holds a certificate. */
	pass = write_file("pass-crlf", 0600, PASS "\r\nsecond line\n", strlen(PASS) + 14);
	m = mem();
	assert_int_equal(PEM_write_bio_X509(m, ca_cert), 1);
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(m, ca_key, EVP_aes_256_cbc(), NULL, 0, NULL,
						       (void *)PASS), 1);
	load_key_ok(write_bio("combined.pem", 0600, m), pass, ca_key);
}

static void
test_load_key_errors(void **state)
{
	const char *pass, *wrong, *loose_pass, *path;
	struct stat st;
	BIO *m;

	(void)state;
	pass = write_file("pass", 0600, PASS "\n", strlen(PASS) + 1);
	wrong = write_file("wrong", 0600, "not it\n", 7);
	loose_pass = write_file("loose-pass", 0640, PASS "\n", strlen(PASS) + 1);

	/* Wrong passphrase, each encrypted format: an error, not a crash. */
	m = mem();
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(m, ca_key, EVP_aes_256_cbc(), NULL, 0, NULL,
						       (void *)PASS), 1);
	path = write_bio("enc.pem", 0600, m);
	load_key_fails(path, wrong, -EINVAL, "wrong passphrase");
	load_key_fails(path, NULL, -EINVAL, "give a passphrase file");
	load_key_fails(path, loose_pass, -EPERM, "chmod 600");
	m = mem();
	assert_int_equal(i2d_PKCS8PrivateKey_bio(m, ca_key, EVP_aes_256_cbc(), NULL, 0, NULL,
						 (void *)PASS), 1);
	path = write_bio("enc.der", 0600, m);
	load_key_fails(path, wrong, -EINVAL, "wrong passphrase");
	load_key_fails(path, NULL, -EINVAL, "give a passphrase file");
	path = write_p12("enc.p12", PASS, ca_key, ca_cert, NULL, 0600);
	load_key_fails(path, wrong, -EINVAL, "wrong passphrase");
	load_key_fails(path, NULL, -EINVAL, "passphrase file");

	/* Permissions: any group or other bit refuses the key, whatever the format. */
	load_key_fails(write_key_pem("loose.key", ca_key, 0644), NULL, -EPERM,
		       "mode 0644 lets group or others read the private key; chmod 600 it");
	load_key_fails(write_key_pem("gw.key", ca_key, 0620), NULL, -EPERM, "chmod");
	load_key_fails(write_key_pem("ox.key", ca_key, 0601), NULL, -EPERM, "chmod");
	load_key_fails(write_p12("loose.p12", PASS, ca_key, ca_cert, NULL, 0604), pass, -EPERM,
		       "chmod");
	/* The mode is left alone: we refuse, the operator fixes. */
	path = write_key_pem("loose2.key", ca_key, 0640);
	load_key_fails(path, NULL, -EPERM, "chmod");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	/* Not a key. */
	load_key_fails("/nonexistent/plainsight.key", NULL, -ENOENT, "No such file");
	load_key_fails(tmpdir, NULL, -EINVAL, "not a regular file");
	load_key_fails(write_file("empty.key", 0600, "", 0), NULL, -EINVAL, "empty");
	load_key_fails(write_file("junk.key", 0600, "\x30\x03\x02\x01\x05", 5), NULL, -EINVAL,
		       "not a PEM, DER or PKCS#12 private key");
	m = mem();
	assert_int_equal(PEM_write_bio_X509(m, ca_cert), 1);
	load_key_fails(write_bio("cert-only.pem", 0600, m), NULL, -EINVAL, "no usable PEM");
	load_key_fails(write_p12("nokey.p12", PASS, NULL, ca_cert, NULL, 0600), pass, -EINVAL,
		       "holds no private key");
}

static void
test_load_certs(void **state)
{
	static const char bad_pem[] =
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	STACK_OF(X509) *sk = NULL;
	const char *pass, *path;
	unsigned char *der = NULL, *both;
	char err[256];
	int n;

	(void)state;
	pass = write_file("pass", 0600, PASS "\n", strlen(PASS) + 1);
	/* PEM, two certificates, in file order; a key block in between skipped. */
	{
		BIO *m = mem();

		assert_int_equal(PEM_write_bio_X509(m, up_leaf), 1);
		assert_int_equal(PEM_write_bio_PrivateKey(m, leaf_key, NULL, NULL, 0, NULL, NULL),
				 1);
		assert_int_equal(PEM_write_bio_X509(m, up_ca), 1);
		path = write_bio("chain.pem", 0600, m);
	}
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), up_leaf), 0);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 1), up_ca), 0);
	sk_X509_pop_free(sk, X509_free);

	/* DER: one certificate; trailing bytes refused. */
	n = i2d_X509(up_leaf, &der);
	assert_true(n > 0);
	path = write_file("leaf.der", 0644, der, (size_t)n);
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(sk), 1);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), up_leaf), 0);
	sk_X509_pop_free(sk, X509_free);
	both = malloc((size_t)n * 2);
	assert_non_null(both);
	memcpy(both, der, (size_t)n);
	memcpy(both + n, der, (size_t)n);
	path = write_file("two.der", 0644, both, (size_t)n * 2);
	sk = (STACK_OF(X509) *)1;
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), -EINVAL);
	assert_null(sk);
	assert_non_null(strstr(err, "trailing bytes"));
	free(both);
	OPENSSL_free(der);

	/* PKCS#12: the leaf (the key's), then the chain. */
	path = write_p12("leaf.p12", PASS, leaf_key, up_leaf, up_ca, 0600);
	assert_int_equal(ps_tls_load_certs(path, pass, &sk, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), up_leaf), 0);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 1), up_ca), 0);
	sk_X509_pop_free(sk, X509_free);
	/* ... a wrong passphrase, a readable PKCS#12 that holds a key. */
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "passphrase"));
	path = write_p12("leaf-loose.p12", PASS, leaf_key, up_leaf, up_ca, 0644);
	assert_int_equal(ps_tls_load_certs(path, pass, &sk, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod"));
	/* ... certificates only: readable is fine. */
	path = write_p12("certs.p12", PASS, NULL, up_leaf, NULL, 0644);
	assert_int_equal(ps_tls_load_certs(path, pass, &sk, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(sk), 1);
	sk_X509_pop_free(sk, X509_free);

	/* No certificate. */
	path = write_key_pem("only.key", leaf_key, 0600);
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no certificate"));
	path = write_file("junk.crt", 0644, "junk", 4);
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), -EINVAL);
	path = write_file("bad.pem", 0644, bad_pem, sizeof(bad_pem) - 1);
	assert_int_equal(ps_tls_load_certs(path, NULL, &sk, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad certificate PEM block"));
	assert_int_equal(ERR_peek_error(), 0);
}

/* ------------------------------------------------------------------ */
/* The CA. */

static void
ca_fails(const char *crt, const char *key, const char *pass, int want_rc, const char *needle)
{
	struct ps_tls_ca *c = (struct ps_tls_ca *)1;
	char err[256] = "";

	assert_int_equal(ps_tls_ca_load(crt, key, pass, &c, err, sizeof(err)), want_rc);
	assert_null(c);
	if (strstr(err, needle) == NULL)
		print_error("\"%s\" lacks \"%s\"\n", err, needle);
	assert_non_null(strstr(err, needle));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_ca_load(void **state)
{
	static const struct ext no_certsign[] = {
		{ "basicConstraints", "critical,CA:TRUE" },
		{ "keyUsage", "critical,digitalSignature,cRLSign" },
		{ NULL, NULL },
	};
	static const struct ext ku_absent[] = {
		{ "basicConstraints", "critical,CA:TRUE" },
		{ NULL, NULL },
	};
	const char *pass, *p12, *key, *crt;
	struct ps_tls_ca *c = NULL;
	EVP_PKEY *p224;
	char err[256];
	X509 *x;

	(void)state;
	/* The group setup loaded PEM files; the accessor gives the certificate back. */
	assert_int_equal(X509_cmp(ps_tls_ca_cert(ca), ca_cert), 0);
	assert_int_equal(sk_X509_num(ps_tls_ca_chain(ca)), 0);

	/* PKCS#12 holding both, no key path. */
	pass = write_file("pass", 0600, PASS "\n", strlen(PASS) + 1);
	p12 = write_p12("ca.p12", PASS, ca_key, ca_cert, NULL, 0600);
	assert_int_equal(ps_tls_ca_load(p12, NULL, pass, &c, err, sizeof(err)), 0);
	assert_int_equal(X509_cmp(ps_tls_ca_cert(c), ca_cert), 0);
	ps_tls_ca_free(c);
	ca_fails(p12, NULL, NULL, -EINVAL, "passphrase");

	/* Refusals. */
	key = write_key_pem("ca.key", ca_key, 0600);
	crt = write_certs_pem("leaf.crt", up_leaf, NULL);
	ca_fails(crt, write_key_pem("leaf.key", leaf_key, 0600), NULL, -EINVAL, "not a CA");
	ca_fails(write_certs_pem("ca.crt", ca_cert, NULL), write_key_pem("other.key", up_key, 0600),
		 NULL, -EINVAL, "does not match");
	ca_fails(write_certs_pem("ca.crt", ca_cert, NULL), write_key_pem("ca-loose.key", ca_key,
									 0644),
		 NULL, -EPERM, "chmod");
	x = make_cert(ca_key, "/CN=no certsign", NULL, NULL, no_certsign, -DAY, DAY);
	ca_fails(write_certs_pem("nocs.crt", x, NULL), key, NULL, -EINVAL, "keyCertSign");
	X509_free(x);
	x = make_cert(ca_key, "/CN=expired", NULL, NULL, ca_exts, -10 * DAY, -DAY);
	ca_fails(write_certs_pem("old.crt", x, NULL), key, NULL, -EINVAL, "expired");
	X509_free(x);
	/* A keyUsage-less CA (basicConstraints only) is accepted. */
	x = make_cert(ca_key, "/CN=bc only", NULL, NULL, ku_absent, -DAY, DAY);
	assert_int_equal(ps_tls_ca_load(write_certs_pem("bc.crt", x, NULL), key, NULL, &c, err,
					sizeof(err)), 0);
	ps_tls_ca_free(c);
	X509_free(x);
	/* An unsupported CA key (EC P-224). */
	p224 = gen_ec("P-224");
	x = make_cert(p224, "/CN=p224", NULL, NULL, ca_exts, -DAY, DAY);
	ca_fails(write_certs_pem("p224.crt", x, NULL), write_key_pem("p224.key", p224, 0600), NULL,
		 -EINVAL, "P-256, P-384 or P-521 only");
	X509_free(x);
	EVP_PKEY_free(p224);
	ca_fails("/nonexistent/ca.crt", key, NULL, -ENOENT, "No such file");
	ps_tls_ca_free(NULL);
	ps_tls_forge_free(NULL);
}

/*
 * An intermediate appliance CA (P-384, SHA-384) under an enterprise root:
 * the forge sends it after the leaf, and clients that trust the root
 * accept the leaf.
 */
static void
test_forge_intermediate_ca(void **state)
{
	static const struct ext root_exts[] = {
		{ "basicConstraints", "critical,CA:TRUE" },
		{ "keyUsage", "critical,keyCertSign,cRLSign" },
		{ "subjectKeyIdentifier", "hash" },
		{ NULL, NULL },
	};
	static const struct ext int_exts[] = {
		{ "basicConstraints", "critical,CA:TRUE,pathlen:0" },
		{ "keyUsage", "critical,keyCertSign" },
		{ "authorityKeyIdentifier", "keyid:always" },
		{ NULL, NULL },	/* no subjectKeyIdentifier: the forge computes one */
	};
	struct ps_tls_forge *f = NULL;
	struct ps_tls_ca *c = NULL;
	EVP_PKEY *root_key, *int_key, *key;
	X509 *root, *inter, *x;
	STACK_OF(X509) *chain;
	AUTHORITY_KEYID *akid;
	char err[256];
	int rc;

	(void)state;
	root_key = gen_ec("P-256");
	int_key = gen_ec("P-384");
	root = make_cert(root_key, "/CN=enterprise root", NULL, NULL, root_exts, -DAY, 3650 * DAY);
	inter = make_cert(int_key, "/CN=plainsight intermediate", root, root_key, int_exts, -DAY,
			  365 * DAY);
	rc = ps_tls_ca_load(write_certs_pem("int.crt", inter, root),
			    write_key_pem("int.key", int_key, 0600), NULL, &c, err, sizeof(err));
	if (rc != 0)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(sk_X509_num(ps_tls_ca_chain(c)), 1);
	assert_int_equal(ps_tls_forge_new(c, 4, &f, err, sizeof(err)), 0);
	ps_tls_ca_free(c);	/* the forge holds its own references */

	chain = ps_tls_forge_chain(f);
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), inter), 0);
	assert_int_equal(ps_tls_forge_get(f, up_leaf, PS_TLS_LEAF_EC, &x, &key), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
	assert_verifies(x, root, chain);
	assert_int_not_equal(verify_leaf(x, root, NULL), X509_V_OK);
	/* The computed authority key identifier is the SHA-1 of the CA key. */
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	assert_non_null(akid);
	assert_non_null(akid->keyid);
	assert_int_equal(ASN1_STRING_length(akid->keyid), 20);
	{
		unsigned char md[20];
		unsigned int mdlen;

		assert_int_equal(X509_pubkey_digest(inter, EVP_sha1(), md, &mdlen), 1);
		assert_memory_equal(ASN1_STRING_get0_data(akid->keyid), md, 20);
	}
	AUTHORITY_KEYID_free(akid);
	X509_free(x);
	EVP_PKEY_free(key);
	ps_tls_forge_free(f);

	/* The self-signed appliance CA: nothing to send. */
	assert_int_equal(sk_X509_num(ps_tls_forge_chain(forge)), 0);
	/* Bounds of the cache size. */
	assert_int_equal(ps_tls_forge_new(ca, 0, &f, err, sizeof(err)), -EINVAL);
	assert_int_equal(ps_tls_forge_new(ca, (size_t)PS_TLS_FORGE_CACHE_MAX + 1, &f, err,
					  sizeof(err)), -EINVAL);
	X509_free(root);
	X509_free(inter);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(int_key);
}

/*
 * A CA made by scripts/mkca.sh loads and signs verifiable leaves. Skipped
 * when the script is not found (the test runs from tests/unit under meson
 * test, or from the repository root) or openssl is not installed.
 */
static void
test_ca_from_mkca(void **state)
{
	static const char *const scripts[] = { "../../scripts/mkca.sh", "scripts/mkca.sh" };
	struct ps_tls_forge *f = NULL;
	struct ps_tls_ca *c = NULL;
	char cmd[512], crt[128], key[128], dir[96], err[256];
	const char *script = NULL;
	struct stat st;
	EVP_PKEY *k;
	size_t i;
	X509 *x;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		if (access(scripts[i], R_OK) == 0)
			script = scripts[i];
	if (script == NULL || system("command -v openssl >/dev/null 2>&1") != 0) {
		print_message("mkca.sh or openssl not found: skipped\n");
		skip();
	}
	path_of(dir, sizeof(dir), "mkca");
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	assert_true(n_paths + 2 <= 128);
	snprintf(paths[n_paths++], 128, "%s", crt);
	snprintf(paths[n_paths++], 128, "%s", key);
	snprintf(cmd, sizeof(cmd), "sh %s --days 5 --cn 'mkca test CA' %s >/dev/null", script,
		 dir);
	assert_int_equal(system(cmd), 0);
	/* The modes the script promises. */
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(crt, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* A second run refuses to overwrite the key. */
	snprintf(cmd, sizeof(cmd), "sh %s %s >/dev/null 2>&1", script, dir);
	assert_int_not_equal(system(cmd), 0);

	rc = ps_tls_ca_load(crt, key, NULL, &c, err, sizeof(err));
	if (rc != 0)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(ps_tls_forge_new(c, 4, &f, err, sizeof(err)), 0);
	assert_int_equal(ps_tls_forge_get(f, up_leaf, PS_TLS_LEAF_EC, &x, &k), 0);
	/* Clipped to the 5-day CA, chained to it. */
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
					   X509_get0_notAfter(ps_tls_ca_cert(c))), 0);
	assert_verifies(x, ps_tls_ca_cert(c), NULL);
	X509_free(x);
	EVP_PKEY_free(k);
	ps_tls_forge_free(f);
	ps_tls_ca_free(c);
}

/*
 * The secure heap's mapping in /proc/self/smaps: the one of at least
 * PS_TLS_SECURE_HEAP bytes whose VmFlags has "dd" (MADV_DONTDUMP); also
 * "lo" (mlock) when want_locked.
 */
static bool
heap_mapping_found(bool want_locked)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long kb = 0;
	char line[512];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Size: %lu kB", &kb) == 1)
			continue;
		if (strncmp(line, "VmFlags:", 8) != 0 || kb < PS_TLS_SECURE_HEAP / 1024)
			continue;
		found = strstr(line, " dd") != NULL &&
			(!want_locked || strstr(line, " lo") != NULL);
	}
	fclose(f);
	return found;
}

/* Load path and report how much the secure heap grew. */
static size_t
secure_growth(const char *path, EVP_PKEY **out)
{
	size_t before = CRYPTO_secure_used();
	char err[256];

	if (ps_tls_load_key(path, NULL, out, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return CRYPTO_secure_used() - before;
}

static void
test_key_hygiene(void **state)
{
	enum ps_tls_key_protection p;
	struct ps_tls_forge *f;
	EVP_PKEY *ec, *rsa, *p12;
	size_t base, grew;

	(void)state;
	/* The group setup loaded the CA: the heap is up since then. */
	p = ps_tls_keys_protect();
	print_message("  key protection: %s, secure heap %zu bytes used\n",
		      ps_tls_key_protection_name(p), CRYPTO_secure_used());
	assert_int_not_equal(p, PS_TLS_KEYS_UNPROTECTED);
	assert_int_equal(CRYPTO_secure_malloc_initialized(), 1);
	assert_int_equal(ps_tls_keys_protect(), p);	/* idempotent */
	assert_true(heap_mapping_found(p == PS_TLS_KEYS_PROTECTED));

	/* Private numbers of loaded keys land there, EC and RSA, and leave with them. */
	base = CRYPTO_secure_used();
	grew = secure_growth(write_key_pem("hyg-ec.key", leaf_key, 0600), &ec);
	print_message("  P-256 key: %zu secure bytes\n", grew);
	assert_true(grew >= 32);
	grew = secure_growth(write_key_pem("hyg-rsa.key", rsa_key, 0600), &rsa);
	print_message("  RSA-2048 key: %zu secure bytes\n", grew);
	assert_true(grew >= 256 + 5 * 128);	/* d; p, q and the three CRT values */
	grew = secure_growth(write_p12("hyg.p12", "", rsa_key, NULL, NULL, 0600), &p12);
	print_message("  RSA-2048 key from PKCS#12: %zu secure bytes\n", grew);
	assert_true(grew >= 256 + 5 * 128);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p12);
	assert_int_equal(CRYPTO_secure_used(), base);

	/* The forge's generated leaf keys too. */
	f = make_forge(4);
	grew = CRYPTO_secure_used() - base;
	print_message("  forge leaf keys: %zu secure bytes\n", grew);
	assert_true(grew >= 256 + 5 * 128 + 32);
	ps_tls_forge_free(f);
	assert_int_equal(CRYPTO_secure_used(), base);
	assert_string_equal(ps_tls_key_protection_name(PS_TLS_KEYS_PARTIAL), "partial");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forge_verifies),
		cmocka_unit_test(test_forge_serial),
		cmocka_unit_test(test_forge_validity_clipped),
		cmocka_unit_test(test_forge_names),
		cmocka_unit_test(test_forge_cache),
		cmocka_unit_test(test_forge_lru),
		cmocka_unit_test(test_forge_threads),
		cmocka_unit_test(test_leaf_type_for),
		cmocka_unit_test(test_leaf_type_for_peer),
		cmocka_unit_test(test_load_key_formats),
		cmocka_unit_test(test_load_key_errors),
		cmocka_unit_test(test_load_certs),
		cmocka_unit_test(test_ca_load),
		cmocka_unit_test(test_forge_intermediate_ca),
		cmocka_unit_test(test_ca_from_mkca),
		cmocka_unit_test(test_key_hygiene),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
