/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight certificate module: key and certificate loading, the
 * appliance CA, forged leaves and their cache. See ps_tls_forge.h and
 * docs/tls-forge.md.
 *
 * Every function leaves the calling thread's OpenSSL error queue empty:
 * the first error of a failing call goes into the caller's err buffer (or
 * is dropped), never to a later, unrelated call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ps_tls_forge.h"

#define PS_TLS_SERIAL_LEN	16u

struct ps_tls_ca {
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;		/* what followed cert in its file */
	const EVP_MD *md;		/* signature digest for the CA key */
};

/* One cached leaf: in a hash chain and in the LRU list. */
struct forge_entry {
	struct forge_entry *hnext;
	struct forge_entry *prev;	/* LRU neighbours; head = most recent */
	struct forge_entry *next;
	X509 *cert;			/* the cache's reference */
	uint8_t fp[PS_TLS_FP_LEN];	/* SHA-256 of the upstream certificate */
	uint8_t type;
};

struct ps_tls_forge {
	X509 *ca_cert;
	EVP_PKEY *ca_key;
	const EVP_MD *md;
	STACK_OF(X509) *chain;				/* sent after a leaf */
	EVP_PKEY *leaf_key[PS_TLS_LEAF_TYPES];
	/* Extensions every leaf of a type carries, encoded once. */
	STACK_OF(X509_EXTENSION) *exts[PS_TLS_LEAF_TYPES];

	pthread_mutex_t lock;		/* everything below */
	struct forge_entry **buckets;
	size_t mask;			/* buckets - 1, a power of two minus one */
	struct forge_entry lru;		/* sentinel of a circular list */
	size_t max;
	struct ps_tls_forge_stats st;
};

/* ------------------------------------------------------------------ */
/* Errors. */

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The first OpenSSL error of the failed call (the root cause; the later
 * ones are the call chain above it) as text into buf, then an empty queue.
 * OpenSSL error strings carry no key bytes.
 */
static const char *
ossl_reason(char *buf, size_t cap)
{
	unsigned long code = ERR_get_error();

	if (code != 0)
		ERR_error_string_n(code, buf, cap);
	else
		snprintf(buf, cap, "no OpenSSL reason");
	ERR_clear_error();
	return buf;
}

/* ------------------------------------------------------------------ */
/* Key hygiene. */

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static enum ps_tls_key_protection keys_protection = PS_TLS_KEYS_UNPROTECTED;

static void
keys_init(void)
{
	/*
	 * Not prctl(PR_SET_DUMPABLE, 0): that would take the whole process
	 * out of core dumps (and out of ptrace by others), the debugging an
	 * appliance needs most. The secure heap takes out only the keys.
	 * 1: mapped, locked, MADV_DONTDUMP; 2: mapped, one of those refused.
	 */
	switch (CRYPTO_secure_malloc_initialized() ? 1 :
		CRYPTO_secure_malloc_init(PS_TLS_SECURE_HEAP, PS_TLS_SECURE_MIN)) {
	case 1:
		keys_protection = PS_TLS_KEYS_PROTECTED;
		break;
	case 2:
		keys_protection = PS_TLS_KEYS_PARTIAL;
		break;
	default:
		keys_protection = PS_TLS_KEYS_UNPROTECTED;
		break;
	}
	ERR_clear_error();
}

enum ps_tls_key_protection
ps_tls_keys_protect(void)
{
	(void)pthread_once(&keys_once, keys_init);
	return keys_protection;
}

const char *
ps_tls_key_protection_name(enum ps_tls_key_protection p)
{
	switch (p) {
	case PS_TLS_KEYS_PROTECTED:
		return "protected";
	case PS_TLS_KEYS_PARTIAL:
		return "partial";
	default:
		return "unprotected";
	}
}

/* ------------------------------------------------------------------ */
/* Files. */

enum file_kind {
	FILE_PUBLIC,	/* certificates: any mode */
	FILE_KEY,	/* private key: no group/other bit */
	FILE_PASS,	/* passphrase: no group/other bit */
};

static int
refuse_mode(const char *path, enum file_kind kind, mode_t mode, char *err, size_t errlen)
{
	set_err(err, errlen, "%s: mode %04o lets group or others %s the %s; chmod 600 it",
		path, (unsigned int)(mode & 07777), (mode & 044) ? "read" : "modify",
		kind == FILE_PASS ? "passphrase" : "private key");
	return -EPERM;
}

/*
 * Read all of path (a regular file, at most PS_TLS_FILE_MAX bytes; empty
 * only for a passphrase) into a new buffer *buf, NUL-terminated (free with
 * free_file(): it may hold key bytes). The mode is checked on the open
 * file, not on the name, so the file checked is the file read.
 */
static int
read_file(const char *path, enum file_kind kind, uint8_t **buf, size_t *len, mode_t *mode,
	  char *err, size_t errlen)
{
	struct stat st;
	uint8_t *b, *nb;
	size_t cap, n = 0;
	ssize_t r;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		rc = -EINVAL;
		goto err_close;
	}
	if (kind != FILE_PUBLIC && (st.st_mode & 077) != 0) {
		rc = refuse_mode(path, kind, st.st_mode, err, errlen);
		goto err_close;
	}
	if (st.st_size > (off_t)PS_TLS_FILE_MAX) {
		set_err(err, errlen, "%s: larger than %u bytes", path, PS_TLS_FILE_MAX);
		rc = -EFBIG;
		goto err_close;
	}
	/* Room for the size seen plus one byte: EOF must show on the first pass. */
	cap = (size_t)st.st_size + 1;
	b = OPENSSL_malloc(cap + 1);
	if (b == NULL)
		goto err_nomem;
	for (;;) {
		if (n == cap) {
			/* The file grew while being read: follow it up to the limit. */
			if (cap > PS_TLS_FILE_MAX) {
				set_err(err, errlen, "%s: larger than %u bytes", path,
					PS_TLS_FILE_MAX);
				rc = -EFBIG;
				goto err_free;
			}
			nb = OPENSSL_clear_realloc(b, cap + 1, 2 * cap + 1);
			if (nb == NULL)
				goto err_nomem_free;
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			goto err_free;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > PS_TLS_FILE_MAX) {
		set_err(err, errlen, "%s: larger than %u bytes", path, PS_TLS_FILE_MAX);
		rc = -EFBIG;
		goto err_free;
	}
	if (n == 0 && kind != FILE_PASS) {
		set_err(err, errlen, "%s: empty file", path);
		rc = -EINVAL;
		goto err_free;
	}
	b[n] = '\0';
	close(fd);
	*buf = b;
	*len = n;
	if (mode != NULL)
		*mode = st.st_mode;
	return 0;
err_nomem_free:
	OPENSSL_clear_free(b, cap + 1);
err_nomem:
	set_err(err, errlen, "%s: out of memory", path);
	close(fd);
	return -ENOMEM;
err_free:
	OPENSSL_clear_free(b, cap + 1);
err_close:
	close(fd);
	return rc;
}

static void
free_file(uint8_t *buf, size_t len)
{
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 1);
}

/* A passphrase, and whether OpenSSL asked for one. */
struct pass {
	char buf[PS_TLS_PASS_MAX + 1];
	size_t len;
	bool given;
	bool asked;
};

/* The first line of pass_file, CR/LF stripped, into pw (cleanse it after). */
static int
read_pass(const char *pass_file, struct pass *pw, char *err, size_t errlen)
{
	uint8_t *b;
	size_t len, n;
	int rc;

	pw->len = 0;
	pw->given = false;
	pw->asked = false;
	if (pass_file == NULL)
		return 0;
	/* An empty file is the empty passphrase. */
	rc = read_file(pass_file, FILE_PASS, &b, &len, NULL, err, errlen);
	if (rc < 0)
		return rc;
	for (n = 0; n < len && b[n] != '\n'; n++)
		;
	if (n > 0 && b[n - 1] == '\r')
		n--;
	if (n > PS_TLS_PASS_MAX) {
		set_err(err, errlen, "%s: passphrase longer than %u bytes", pass_file,
			PS_TLS_PASS_MAX);
		free_file(b, len);
		return -EINVAL;
	}
	memcpy(pw->buf, b, n);
	pw->buf[n] = '\0';
	pw->len = n;
	pw->given = true;
	free_file(b, len);
	return 0;
}

/* pem_password_cb: hand OpenSSL the passphrase, or refuse when none was given. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pass *pw = u;

	(void)rwflag;
	pw->asked = true;
	if (!pw->given || size < 0 || pw->len > (size_t)size)
		return -1;
	memcpy(buf, pw->buf, pw->len);
	return (int)pw->len;
}

static bool
is_pem(const uint8_t *b, size_t len)
{
	return memmem(b, len, "-----BEGIN ", 11) != NULL;
}

/* The bytes as a PKCS#12, or NULL (then the error queue is empty). */
static PKCS12 *
as_pkcs12(const uint8_t *b, size_t len)
{
	const unsigned char *p = b;
	PKCS12 *p12;

	if (len > LONG_MAX)
		return NULL;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	ERR_clear_error();
	return p12;
}

/*
 * Open a PKCS#12 with pw (none given: the empty passphrase, which
 * PKCS12_parse() also tries as NULL). key, cert, ca as for PKCS12_parse().
 */
static int
parse_pkcs12(const char *path, PKCS12 *p12, struct pass *pw, EVP_PKEY **key, X509 **cert,
	     STACK_OF(X509) **ca, char *err, size_t errlen)
{
	char why[200];

	if (PKCS12_parse(p12, pw->given ? pw->buf : "", key, cert, ca) != 1) {
		ossl_reason(why, sizeof(why));
		if (PKCS12_mac_present(p12) &&
		    PKCS12_verify_mac(p12, pw->given ? pw->buf : "", (int)pw->len) != 1 &&
		    (pw->given || PKCS12_verify_mac(p12, NULL, 0) != 1))
			set_err(err, errlen, "%s: PKCS#12 integrity check failed: %s", path,
				pw->given ? "wrong passphrase" :
				"encrypted, give a passphrase file");
		else
			set_err(err, errlen, "%s: cannot open the PKCS#12: %s", path, why);
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Loading. */

static int
key_failed(const char *path, const struct pass *pw, const char *what, char *err, size_t errlen)
{
	char why[200];

	ossl_reason(why, sizeof(why));
	if (pw->asked && !pw->given)
		set_err(err, errlen, "%s: the private key is encrypted; give a passphrase file",
			path);
	else if (pw->asked)
		set_err(err, errlen, "%s: cannot decrypt the private key: wrong passphrase? (%s)",
			path, why);
	else
		set_err(err, errlen, "%s: %s (%s)", path, what, why);
	return -EINVAL;
}

int
ps_tls_load_key(const char *path, const char *pass_file, EVP_PKEY **out, char *err,
		size_t errlen)
{
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *pkey = NULL;
	struct pass pw;
	const unsigned char *p;
	size_t left, len;
	uint8_t *buf;
	PKCS12 *p12;
	BIO *bio;
	int rc;

	if (path == NULL || out == NULL) {
		set_err(err, errlen, "no key file");
		return -EINVAL;
	}
	*out = NULL;
	(void)ps_tls_keys_protect();
	rc = read_file(path, FILE_KEY, &buf, &len, NULL, err, errlen);
	if (rc < 0)
		return rc;
	rc = read_pass(pass_file, &pw, err, errlen);
	if (rc < 0)
		goto out_file;

	if (is_pem(buf, len)) {
		/* Loops over the PEM blocks until one decodes as a private key. */
		bio = BIO_new_mem_buf(buf, (int)len);
		if (bio == NULL) {
			rc = -ENOMEM;
			set_err(err, errlen, "%s: out of memory", path);
			goto out_pass;
		}
		pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, pass_cb, &pw, NULL, NULL);
		BIO_free(bio);
		if (pkey == NULL)
			rc = key_failed(path, &pw, "no usable PEM private key", err, errlen);
	} else if ((p12 = as_pkcs12(buf, len)) != NULL) {
		rc = parse_pkcs12(path, p12, &pw, &pkey, NULL, NULL, err, errlen);
		PKCS12_free(p12);
		if (rc == 0 && pkey == NULL) {
			set_err(err, errlen, "%s: the PKCS#12 holds no private key", path);
			rc = -EINVAL;
		}
	} else {
		/* DER: PKCS#8, encrypted PKCS#8 or the type-specific structure. */
		dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", NULL, NULL,
						     OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
		if (dctx == NULL) {
			rc = -ENOMEM;
			set_err(err, errlen, "%s: no DER key decoder", path);
			goto out_pass;
		}
		OSSL_DECODER_CTX_set_pem_password_cb(dctx, pass_cb, &pw);
		p = buf;
		left = len;
		if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL)
			rc = key_failed(path, &pw, "not a PEM, DER or PKCS#12 private key", err,
					errlen);
		OSSL_DECODER_CTX_free(dctx);
	}
	if (rc == 0)
		*out = pkey;
	else
		EVP_PKEY_free(pkey);
out_pass:
	OPENSSL_cleanse(&pw, sizeof(pw));
out_file:
	free_file(buf, len);
	ERR_clear_error();
	return rc;
}

/* Every CERTIFICATE / TRUSTED CERTIFICATE block, in order; others skipped. */
static int
certs_from_pem(const char *path, const uint8_t *buf, size_t len, STACK_OF(X509) *sk, char *err,
	       size_t errlen)
{
	unsigned long e;
	char why[200];
	X509 *x;
	BIO *bio;

	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		set_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			BIO_free(bio);
			set_err(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
	}
	BIO_free(bio);
	/* The end of the file shows as "no start line"; anything else is damage. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		if (sk_X509_num(sk) > 0)
			return 0;
		set_err(err, errlen, "%s: no certificate in the PEM file", path);
		return -EINVAL;
	}
	set_err(err, errlen, "%s: bad certificate PEM block (%s)", path,
		ossl_reason(why, sizeof(why)));
	return -EINVAL;
}

int
ps_tls_load_certs(const char *path, const char *pass_file, STACK_OF(X509) **out, char *err,
		  size_t errlen)
{
	STACK_OF(X509) *sk, *bag = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *leaf = NULL, *x;
	const unsigned char *p;
	struct pass pw;
	PKCS12 *p12;
	uint8_t *buf;
	size_t len;
	mode_t mode;
	int rc;

	if (path == NULL || out == NULL) {
		set_err(err, errlen, "no certificate file");
		return -EINVAL;
	}
	*out = NULL;
	(void)ps_tls_keys_protect();	/* a PKCS#12 may hold the key: it is decoded */
	rc = read_file(path, FILE_PUBLIC, &buf, &len, &mode, err, errlen);
	if (rc < 0)
		return rc;
	memset(&pw, 0, sizeof(pw));
	sk = sk_X509_new_null();
	if (sk == NULL) {
		rc = -ENOMEM;
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (is_pem(buf, len)) {
		rc = certs_from_pem(path, buf, len, sk, err, errlen);
	} else if ((p12 = as_pkcs12(buf, len)) != NULL) {
		rc = read_pass(pass_file, &pw, err, errlen);
		if (rc == 0)
			/* With the key, PKCS12_parse() tells the leaf from the chain. */
			rc = parse_pkcs12(path, p12, &pw, &pkey, &leaf, &bag, err, errlen);
		PKCS12_free(p12);
		if (rc == 0 && pkey != NULL && (mode & 077) != 0)
			rc = refuse_mode(path, FILE_KEY, mode, err, errlen);
		if (rc == 0 && leaf != NULL) {
			if (sk_X509_push(sk, leaf))
				leaf = NULL;
			else
				rc = -ENOMEM;
		}
		while (rc == 0 && bag != NULL && (x = sk_X509_shift(bag)) != NULL) {
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				rc = -ENOMEM;
			}
		}
		if (rc == -ENOMEM)
			set_err(err, errlen, "%s: out of memory", path);
		if (rc == 0 && sk_X509_num(sk) == 0) {
			set_err(err, errlen, "%s: the PKCS#12 holds no certificate", path);
			rc = -EINVAL;
		}
	} else {
		p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x == NULL || p != buf + len) {
			set_err(err, errlen, "%s: %s", path, x == NULL ?
				"not a PEM, DER or PKCS#12 certificate" :
				"trailing bytes after the DER certificate");
			X509_free(x);
			rc = -EINVAL;
		} else if (!sk_X509_push(sk, x)) {
			X509_free(x);
			set_err(err, errlen, "%s: out of memory", path);
			rc = -ENOMEM;
		}
	}
out:
	EVP_PKEY_free(pkey);
	X509_free(leaf);
	sk_X509_pop_free(bag, X509_free);
	OPENSSL_cleanse(&pw, sizeof(pw));
	free_file(buf, len);
	ERR_clear_error();
	if (rc == 0)
		*out = sk;
	else
		sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The appliance CA. */

/* The digest the CA signs with, NULL (with a reason) for a key we refuse. */
static const EVP_MD *
ca_digest(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
	char group[64];

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) < 2048) {
			set_err(err, errlen, "%s: RSA CA key of %d bits; 2048 at least", path,
				EVP_PKEY_get_bits(key));
			return NULL;
		}
		return EVP_sha256();
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1)
			break;
		if (strcmp(group, SN_X9_62_prime256v1) == 0)
			return EVP_sha256();
		if (strcmp(group, SN_secp384r1) == 0)
			return EVP_sha384();
		if (strcmp(group, SN_secp521r1) == 0)
			return EVP_sha512();
		set_err(err, errlen, "%s: EC CA key on curve %s; P-256, P-384 or P-521 only",
			path, group);
		return NULL;
	default:
		break;
	}
	set_err(err, errlen, "%s: CA key type %s not supported; RSA or ECDSA only", path,
		EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "?");
	return NULL;
}

static int
ca_check(const char *cert_path, const char *key_path, struct ps_tls_ca *ca, char *err,
	 size_t errlen)
{
	uint32_t flags;
	struct tm tm;
	char when[32];

	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		set_err(err, errlen, "%s: the key does not match the CA certificate %s", key_path,
			cert_path);
		return -EINVAL;
	}
	flags = X509_get_extension_flags(ca->cert);
	if (flags & EXFLAG_INVALID) {
		set_err(err, errlen, "%s: the CA certificate has malformed extensions", cert_path);
		return -EINVAL;
	}
	if (!(flags & EXFLAG_CA)) {
		set_err(err, errlen, "%s: not a CA certificate (no basicConstraints CA:TRUE); "
			"make one with scripts/mkca.sh", cert_path);
		return -EINVAL;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca->cert) & KU_KEY_CERT_SIGN)) {
		set_err(err, errlen, "%s: the CA certificate's keyUsage lacks keyCertSign",
			cert_path);
		return -EINVAL;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(ca->cert)) <= 0) {
		when[0] = '\0';
		if (ASN1_TIME_to_tm(X509_get0_notAfter(ca->cert), &tm) == 1)
			strftime(when, sizeof(when), " on %Y-%m-%d %H:%M:%S UTC", &tm);
		set_err(err, errlen, "%s: the CA certificate expired%s", cert_path, when);
		return -EINVAL;
	}
	ca->md = ca_digest(key_path, ca->key, err, errlen);
	return ca->md != NULL ? 0 : -EINVAL;
}

int
ps_tls_ca_load(const char *cert_path, const char *key_path, const char *pass_file,
	       struct ps_tls_ca **out, char *err, size_t errlen)
{
	STACK_OF(X509) *certs = NULL;
	struct ps_tls_ca *ca;
	int rc;

	if (cert_path == NULL || out == NULL) {
		set_err(err, errlen, "no CA certificate file");
		return -EINVAL;
	}
	*out = NULL;
	if (key_path == NULL)
		key_path = cert_path;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = ps_tls_load_certs(cert_path, pass_file, &certs, err, errlen);
	if (rc < 0)
		goto err_free;
	ca->cert = sk_X509_shift(certs);
	ca->chain = certs;
	rc = ps_tls_load_key(key_path, pass_file, &ca->key, err, errlen);
	if (rc < 0)
		goto err_free;
	rc = ca_check(cert_path, key_path, ca, err, errlen);
	if (rc < 0)
		goto err_free;
	ERR_clear_error();
	*out = ca;
	return 0;
err_free:
	ps_tls_ca_free(ca);
	ERR_clear_error();
	return rc;
}

void
ps_tls_ca_free(struct ps_tls_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	sk_X509_pop_free(ca->chain, X509_free);
	free(ca);
}

X509 *
ps_tls_ca_cert(const struct ps_tls_ca *ca)
{
	return ca->cert;
}

STACK_OF(X509) *
ps_tls_ca_chain(const struct ps_tls_ca *ca)
{
	return ca->chain;
}

/* ------------------------------------------------------------------ */
/* Forging. */

/* RFC 5280 section 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
static ASN1_OCTET_STRING *
key_id(X509_PUBKEY *xpk)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	const unsigned char *pk;
	ASN1_OCTET_STRING *os;
	unsigned int mdlen;
	int pklen;

	if (X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) != 1 ||
	    EVP_Digest(pk, (size_t)pklen, md, &mdlen, EVP_sha1(), NULL) != 1)
		return NULL;
	os = ASN1_OCTET_STRING_new();
	if (os != NULL && ASN1_OCTET_STRING_set(os, md, (int)mdlen) != 1) {
		ASN1_OCTET_STRING_free(os);
		os = NULL;
	}
	return os;
}

static int
push_ext(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *ext)
{
	if (ext == NULL)
		return -ENOMEM;
	if (!sk_X509_EXTENSION_push(sk, ext)) {
		X509_EXTENSION_free(ext);
		return -ENOMEM;
	}
	return 0;
}

/* The extensions every leaf of type carries, but the SAN. */
static int
leaf_exts(struct ps_tls_forge *f, enum ps_tls_leaf_type type)
{
	STACK_OF(X509_EXTENSION) *sk;
	ASN1_OCTET_STRING *skid = NULL;
	AUTHORITY_KEYID *akid = NULL;
	X509_PUBKEY *xpk = NULL;
	int rc;

	sk = sk_X509_EXTENSION_new_null();
	if (sk == NULL)
		return -ENOMEM;
	f->exts[type] = sk;
	rc = push_ext(sk, X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
					      "critical,CA:FALSE"));
	if (rc == 0)
		rc = push_ext(sk, X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
					type == PS_TLS_LEAF_RSA ?
					"critical,digitalSignature,keyEncipherment" :
					"critical,digitalSignature"));
	if (rc == 0)
		rc = push_ext(sk, X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
						      "serverAuth"));
	if (rc < 0)
		return rc;
	if (X509_PUBKEY_set(&xpk, f->leaf_key[type]) != 1 || (skid = key_id(xpk)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = push_ext(sk, X509V3_EXT_i2d(NID_subject_key_identifier, 0, skid));
	if (rc < 0)
		goto out;
	akid = AUTHORITY_KEYID_new();
	if (akid == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* The CA's own key identifier, else one computed like ours. */
	if (X509_get0_subject_key_id(f->ca_cert) != NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(f->ca_cert));
	else
		akid->keyid = key_id(X509_get_X509_PUBKEY(f->ca_cert));
	rc = akid->keyid == NULL ? -ENOMEM :
		push_ext(sk, X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid));
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(skid);
	X509_PUBKEY_free(xpk);
	return rc;
}

int
ps_tls_forge_new(const struct ps_tls_ca *ca, size_t cache_max, struct ps_tls_forge **out,
		 char *err, size_t errlen)
{
	struct ps_tls_forge *f;
	size_t nb, i;
	int rc, t;

	if (ca == NULL || out == NULL) {
		set_err(err, errlen, "forge: no CA");
		return -EINVAL;
	}
	if (cache_max == 0 || cache_max > PS_TLS_FORGE_CACHE_MAX) {
		set_err(err, errlen, "forge: cache size %zu not in 1..%u", cache_max,
			PS_TLS_FORGE_CACHE_MAX);
		return -EINVAL;
	}
	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		goto err_nomem;
	if (pthread_mutex_init(&f->lock, NULL) != 0) {
		free(f);
		goto err_nomem;
	}
	f->lru.prev = &f->lru;
	f->lru.next = &f->lru;
	f->max = cache_max;
	for (nb = 16; nb < cache_max; nb <<= 1)
		;
	f->buckets = calloc(nb, sizeof(*f->buckets));
	if (f->buckets == NULL)
		goto err_free;
	f->mask = nb - 1;
	X509_up_ref(ca->cert);
	f->ca_cert = ca->cert;
	EVP_PKEY_up_ref(ca->key);
	f->ca_key = ca->key;
	f->md = ca->md;

	/* A self-signed CA is the clients' anchor: nothing to send after the leaf. */
	f->chain = sk_X509_new_null();
	if (f->chain == NULL)
		goto err_free;
	if (!(X509_get_extension_flags(ca->cert) & EXFLAG_SS)) {
		for (i = 0; i <= (size_t)sk_X509_num(ca->chain); i++) {
			X509 *x = i == 0 ? ca->cert : sk_X509_value(ca->chain, (int)i - 1);

			if (!sk_X509_push(f->chain, x))
				goto err_free;
			X509_up_ref(x);
		}
	}

	/*
	 * One key per type for every leaf, as sslsplit does: generating a key
	 * per leaf (RSA-2048 takes tens of milliseconds or more) would stall a
	 * worker on every new server, and a per-leaf key buys nothing. The
	 * keys exist only in this process's memory, are never written out,
	 * and die with the forge; the CA key is what clients trust.
	 */
	(void)ps_tls_keys_protect();
	f->leaf_key[PS_TLS_LEAF_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	f->leaf_key[PS_TLS_LEAF_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (f->leaf_key[PS_TLS_LEAF_EC] == NULL || f->leaf_key[PS_TLS_LEAF_RSA] == NULL) {
		set_err(err, errlen, "forge: leaf key generation failed");
		rc = -ENOMEM;
		goto err_rc;
	}
	for (t = 0; t < PS_TLS_LEAF_TYPES; t++) {
		rc = leaf_exts(f, (enum ps_tls_leaf_type)t);
		if (rc < 0) {
			set_err(err, errlen, "forge: encoding the leaf extensions failed");
			goto err_rc;
		}
	}
	ERR_clear_error();
	*out = f;
	return 0;
err_free:
	rc = -ENOMEM;
	set_err(err, errlen, "forge: out of memory");
err_rc:
	ps_tls_forge_free(f);
	ERR_clear_error();
	return rc;
err_nomem:
	set_err(err, errlen, "forge: out of memory");
	return -ENOMEM;
}

void
ps_tls_forge_free(struct ps_tls_forge *f)
{
	struct forge_entry *e, *next;
	int t;

	if (f == NULL)
		return;
	if (f->buckets != NULL) {
		for (e = f->lru.next; e != &f->lru; e = next) {
			next = e->next;
			X509_free(e->cert);
			free(e);
		}
		free(f->buckets);
	}
	for (t = 0; t < PS_TLS_LEAF_TYPES; t++) {
		EVP_PKEY_free(f->leaf_key[t]);
		sk_X509_EXTENSION_pop_free(f->exts[t], X509_EXTENSION_free);
	}
	sk_X509_pop_free(f->chain, X509_free);
	X509_free(f->ca_cert);
	EVP_PKEY_free(f->ca_key);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

STACK_OF(X509) *
ps_tls_forge_chain(const struct ps_tls_forge *f)
{
	return f->chain;
}

/* A host name we may put in a dNSName: LDH labels, dots, a leading "*.". */
static bool
dns_like(const unsigned char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		      (c == '*' && i == 0 && n > 2 && s[1] == '.')))
			return false;
	}
	return true;
}

/* orig's CN as a SAN entry: an IP address, a host name, or NULL. */
static GENERAL_NAME *
cn_to_san(const ASN1_STRING *cn)
{
	ASN1_OCTET_STRING *ip;
	ASN1_IA5STRING *ia5;
	unsigned char *utf8 = NULL;
	GENERAL_NAME *g = NULL;
	int n;

	n = ASN1_STRING_to_UTF8(&utf8, cn);
	if (n <= 0)
		return NULL;
	if (memchr(utf8, '\0', (size_t)n) != NULL)
		goto out;
	ip = a2i_IPADDRESS((const char *)utf8);
	ERR_clear_error();
	if (ip != NULL) {
		g = GENERAL_NAME_new();
		if (g != NULL)
			GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		else
			ASN1_OCTET_STRING_free(ip);
	} else if (dns_like(utf8, (size_t)n)) {
		ia5 = ASN1_IA5STRING_new();
		if (ia5 == NULL || ASN1_STRING_set(ia5, utf8, n) != 1) {
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		g = GENERAL_NAME_new();
		if (g != NULL)
			GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
		else
			ASN1_IA5STRING_free(ia5);
	}
out:
	OPENSSL_free(utf8);
	return g;
}

/*
 * orig's DNS and IP SANs (other kinds name nothing a TLS client checks
 * for a server), else its CN as one. A leaf whose subject is empty gets a
 * critical SAN (RFC 5280 section 4.2.1.6).
 */
static int
copy_san(X509 *x, X509 *orig, const X509_NAME_ENTRY *cn)
{
	GENERAL_NAMES *in, *san;
	GENERAL_NAME *g;
	int i, rc = 0;

	san = GENERAL_NAMES_new();
	if (san == NULL)
		return -ENOMEM;
	in = X509_get_ext_d2i(orig, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(in); i++) {
		g = sk_GENERAL_NAME_value(in, i);
		if (g->type != GEN_DNS && g->type != GEN_IPADD)
			continue;
		g = GENERAL_NAME_dup(g);
		if (g == NULL || !sk_GENERAL_NAME_push(san, g)) {
			GENERAL_NAME_free(g);
			rc = -ENOMEM;
			goto out;
		}
	}
	if (sk_GENERAL_NAME_num(san) == 0 && cn != NULL) {
		g = cn_to_san(X509_NAME_ENTRY_get_data(cn));
		if (g != NULL && !sk_GENERAL_NAME_push(san, g)) {
			GENERAL_NAME_free(g);
			rc = -ENOMEM;
			goto out;
		}
	}
	if (sk_GENERAL_NAME_num(san) > 0 &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, san, cn == NULL, X509V3_ADD_DEFAULT) != 1)
		rc = -ENOMEM;
out:
	GENERAL_NAMES_free(in);
	GENERAL_NAMES_free(san);
	ERR_clear_error();
	return rc;
}

/* A random positive serial of exactly 16 bytes (CA/B BR 7.1: >= 64 random bits). */
static int
set_serial(X509 *x)
{
	unsigned char b[PS_TLS_SERIAL_LEN];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);	/* positive, no leading zero */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

/* orig's validity clipped to the CA's; -EINVAL when they do not overlap. */
static int
set_validity(X509 *x, X509 *orig, X509 *ca)
{
	const ASN1_TIME *nb = X509_get0_notBefore(orig), *na = X509_get0_notAfter(orig);
	int c;

	c = ASN1_TIME_compare(nb, X509_get0_notBefore(ca));
	if (c == -2)
		return -EINVAL;
	if (c < 0)
		nb = X509_get0_notBefore(ca);
	c = ASN1_TIME_compare(na, X509_get0_notAfter(ca));
	if (c == -2)
		return -EINVAL;
	if (c > 0)
		na = X509_get0_notAfter(ca);
	if (ASN1_TIME_compare(nb, na) >= 0)
		return -EINVAL;
	if (X509_set1_notBefore(x, nb) != 1 || X509_set1_notAfter(x, na) != 1)
		return -ENOMEM;
	/* UTCTime until 2049, GeneralizedTime after (RFC 5280 section 4.1.2.5). */
	if (ASN1_TIME_normalize(X509_getm_notBefore(x)) != 1 ||
	    ASN1_TIME_normalize(X509_getm_notAfter(x)) != 1)
		return -EINVAL;
	return 0;
}

/* Forge one leaf for orig. Lock not held: this is where the time goes. */
static int
forge_one(struct ps_tls_forge *f, X509 *orig, enum ps_tls_leaf_type type, X509 **out)
{
	const X509_NAME_ENTRY *cn = NULL;
	const X509_NAME *oname;
	X509 *x;
	int i, rc;

	x = X509_new();
	if (x == NULL)
		return -ENOMEM;
	rc = -ENOMEM;
	if (X509_set_version(x, X509_VERSION_3) != 1)
		goto err;
	rc = set_serial(x);
	if (rc < 0)
		goto err;
	rc = -ENOMEM;
	if (X509_set_issuer_name(x, X509_get_subject_name(f->ca_cert)) != 1)
		goto err;
	/* The last CN is the most specific one, the one clients match. */
	oname = X509_get_subject_name(orig);
	i = X509_NAME_get_index_by_NID(oname, NID_commonName, -1);
	while (i >= 0) {
		cn = X509_NAME_get_entry(oname, i);
		i = X509_NAME_get_index_by_NID(oname, NID_commonName, i);
	}
	if (cn != NULL && X509_NAME_add_entry(X509_get_subject_name(x), cn, -1, 0) != 1)
		goto err;
	rc = set_validity(x, orig, f->ca_cert);
	if (rc < 0)
		goto err;
	rc = -ENOMEM;
	if (X509_set_pubkey(x, f->leaf_key[type]) != 1)
		goto err;
	for (i = 0; i < sk_X509_EXTENSION_num(f->exts[type]); i++)
		if (X509_add_ext(x, sk_X509_EXTENSION_value(f->exts[type], i), -1) != 1)
			goto err;
	rc = copy_san(x, orig, cn);
	if (rc < 0)
		goto err;
	rc = -EINVAL;
	if (X509_sign(x, f->ca_key, f->md) <= 0)
		goto err;
	*out = x;
	return 0;
err:
	X509_free(x);
	return rc;
}

static size_t
bucket_of(const struct ps_tls_forge *f, const uint8_t *fp, enum ps_tls_leaf_type type)
{
	uint64_t h;

	memcpy(&h, fp, sizeof(h));	/* a digest: already uniform */
	return (size_t)(h ^ ((uint64_t)type * 0x9e3779b97f4a7c15ull)) & f->mask;
}

/* The entry for (fp, type), moved to the LRU head; NULL on a miss. Lock held. */
static struct forge_entry *
cache_find(struct ps_tls_forge *f, const uint8_t *fp, enum ps_tls_leaf_type type)
{
	struct forge_entry *e;

	for (e = f->buckets[bucket_of(f, fp, type)]; e != NULL; e = e->hnext)
		if (e->type == type && memcmp(e->fp, fp, PS_TLS_FP_LEN) == 0)
			break;
	if (e == NULL || f->lru.next == e)
		return e;
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = &f->lru;
	e->next = f->lru.next;
	f->lru.next->prev = e;
	f->lru.next = e;
	return e;
}

/* Unlink the least recently used entry and return it. Lock held, cache not empty. */
static struct forge_entry *
cache_evict(struct ps_tls_forge *f)
{
	struct forge_entry *e = f->lru.prev, **pp;

	for (pp = &f->buckets[bucket_of(f, e->fp, e->type)]; *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	e->prev->next = &f->lru;
	f->lru.prev = e->prev;
	f->st.entries--;
	f->st.evictions++;
	return e;
}

/* Insert e at the LRU head. Lock held, e not present. */
static void
cache_insert(struct ps_tls_forge *f, struct forge_entry *e)
{
	size_t b = bucket_of(f, e->fp, e->type);

	e->hnext = f->buckets[b];
	f->buckets[b] = e;
	e->prev = &f->lru;
	e->next = f->lru.next;
	f->lru.next->prev = e;
	f->lru.next = e;
	f->st.entries++;
}

int
ps_tls_forge_get(struct ps_tls_forge *f, X509 *orig, enum ps_tls_leaf_type type, X509 **cert,
		 EVP_PKEY **key)
{
	uint8_t fp[PS_TLS_FP_LEN];
	unsigned int fplen = 0;

	if (f == NULL || orig == NULL || cert == NULL || key == NULL)
		return -EINVAL;
	if (X509_digest(orig, EVP_sha256(), fp, &fplen) != 1 || fplen != PS_TLS_FP_LEN) {
		ERR_clear_error();
		*cert = NULL;
		*key = NULL;
		pthread_mutex_lock(&f->lock);
		f->st.misses++;
		f->st.failures++;
		pthread_mutex_unlock(&f->lock);
		return -EINVAL;
	}
	return ps_tls_forge_get_fp(f, orig, fp, type, cert, key);
}

int
ps_tls_forge_get_fp(struct ps_tls_forge *f, X509 *orig, const uint8_t fp[PS_TLS_FP_LEN],
		    enum ps_tls_leaf_type type, X509 **cert, EVP_PKEY **key)
{
	struct forge_entry *e, *ne = NULL, *victim = NULL;
	X509 *x = NULL;
	int rc;

	if (f == NULL || orig == NULL || fp == NULL || cert == NULL || key == NULL ||
	    (unsigned int)type >= PS_TLS_LEAF_TYPES)
		return -EINVAL;
	*cert = NULL;
	*key = NULL;

	pthread_mutex_lock(&f->lock);
	e = cache_find(f, fp, type);
	if (e != NULL) {
		/* Up-ref under the lock: once it is released e may be evicted. */
		X509_up_ref(e->cert);
		x = e->cert;
		f->st.hits++;
		pthread_mutex_unlock(&f->lock);
		goto out;
	}
	f->st.misses++;
	pthread_mutex_unlock(&f->lock);

	/* Miss: sign outside the lock, so other workers' hits never wait on it. */
	rc = forge_one(f, orig, type, &x);
	if (rc == 0) {
		ne = malloc(sizeof(*ne));
		if (ne == NULL) {
			X509_free(x);
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		ERR_clear_error();
		pthread_mutex_lock(&f->lock);
		f->st.failures++;
		pthread_mutex_unlock(&f->lock);
		return rc;
	}
	memcpy(ne->fp, fp, PS_TLS_FP_LEN);
	ne->type = (uint8_t)type;
	ne->cert = x;

	pthread_mutex_lock(&f->lock);
	e = cache_find(f, fp, type);
	if (e != NULL) {
		/* Another worker forged it meanwhile: everyone shares its leaf. */
		f->st.races++;
		X509_up_ref(e->cert);
		x = e->cert;	/* before the unlock: e may go right after */
		pthread_mutex_unlock(&f->lock);
		X509_free(ne->cert);
		free(ne);
		goto out;
	}
	if (f->st.entries >= f->max)
		victim = cache_evict(f);
	cache_insert(f, ne);
	X509_up_ref(x);		/* the caller's; ne->cert is the cache's */
	pthread_mutex_unlock(&f->lock);
	if (victim != NULL) {
		X509_free(victim->cert);
		free(victim);
	}
out:
	EVP_PKEY_up_ref(f->leaf_key[type]);
	*key = f->leaf_key[type];
	*cert = x;
	return 0;
}

void
ps_tls_forge_stats(struct ps_tls_forge *f, struct ps_tls_forge_stats *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	pthread_mutex_unlock(&f->lock);
}

enum ps_tls_leaf_type
ps_tls_leaf_type_for(const uint16_t *sigalgs, size_t n, bool has_ext)
{
	size_t i;

	if (!has_ext || sigalgs == NULL)
		return PS_TLS_LEAF_RSA;
	for (i = 0; i < n; i++) {
		switch (sigalgs[i]) {
		case 0x0403:	/* ecdsa_secp256r1_sha256 */
		case 0x0503:	/* ecdsa_secp384r1_sha384 */
		case 0x0603:	/* ecdsa_secp521r1_sha512 */
			return PS_TLS_LEAF_EC;
		default:
			break;
		}
	}
	return PS_TLS_LEAF_RSA;
}

enum ps_tls_leaf_type
ps_tls_leaf_type_for_peer(const uint16_t *sigalgs, size_t n, bool has_ext, X509 *orig)
{
	enum ps_tls_leaf_type type = ps_tls_leaf_type_for(sigalgs, n, has_ext);
	EVP_PKEY *pk;
	size_t i;
	int id;

	if (type != PS_TLS_LEAF_EC || orig == NULL)
		return type;
	pk = X509_get0_pubkey(orig);
	id = pk != NULL ? EVP_PKEY_get_base_id(pk) : EVP_PKEY_NONE;
	ERR_clear_error();
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS)
		return type;
	for (i = 0; i < n; i++) {
		if (sigalgs[i] >= 0x0804 && sigalgs[i] <= 0x0806)	/* rsa_pss_rsae_* */
			return PS_TLS_LEAF_RSA;
	}
	return type;
}

const char *
ps_tls_leaf_type_name(enum ps_tls_leaf_type type)
{
	switch (type) {
	case PS_TLS_LEAF_RSA:
		return "rsa";
	case PS_TLS_LEAF_EC:
		return "ec";
	default:
		return "?";
	}
}
