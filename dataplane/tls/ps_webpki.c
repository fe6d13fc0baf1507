/* SPDX-License-Identifier: BSD-3-Clause
 * WebPKI profile checks over the chain OpenSSL built. The rules and why
 * each exists are in docs/webpki.md; the references are RFC 5280 (X.509
 * profile), RFC 6125 (host names), the CA/Browser Forum Baseline
 * Requirements, and what Chromium's and Mozilla's verifiers refuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ps_webpki.h"

/* Bits of every reason, so a reason added past 63 fails the build. */
_Static_assert(PS_WEBPKI_N_REASONS <= 64, "reasons must fit a uint64_t mask");

#define ALL_FLAGS	(PS_WEBPKI_F_MAX_VALIDITY)

/* RFC 5280 4.1.2.2: at most 20 octets of DER content. */
#define SERIAL_MAX_OCTETS	20
#define RSA_MIN_BITS		2048
/* Above this an RSA verification costs more than a handshake is worth. */
#define RSA_MAX_BITS		16384
/* CA/Browser Forum BR 6.3.2 leaf validity limits (what browsers enforce). */
#define T_2018_03_01		1519862400L
#define T_2020_09_01		1598918400L
#define DAY_S			86400L

struct ps_webpki_ca {
	X509 *cert;
	EVP_PKEY *pub;		/* borrowed from cert */
};

struct ps_webpki_ctx {
	X509_CRL **crls;	/* revocation: n_crls references, NULL when off */
	size_t n_crls;
	enum ps_webpki_rev_unknown on_unknown;
	size_t n_cas;
	struct ps_webpki_ca cas[];
};

/* One check in progress. */
struct state {
	uint64_t mask;
	uint64_t allowed;
	int8_t depth[PS_WEBPKI_N_REASONS];
};

static const char *const reason_names[PS_WEBPKI_N_REASONS] = {
	[PS_WEBPKI_OK] = "ok",
#define X_NAME(e, name, desc) [PS_WEBPKI_##e] = name,
	PS_WEBPKI_REASONS(X_NAME)
#undef X_NAME
};

static const char *const reason_descs[PS_WEBPKI_N_REASONS] = {
	[PS_WEBPKI_OK] = "accepted",
#define X_DESC(e, name, desc) [PS_WEBPKI_##e] = desc,
	PS_WEBPKI_REASONS(X_DESC)
#undef X_DESC
};

const char *
ps_webpki_reason_name(enum ps_webpki_reason r)
{
	if ((unsigned int)r >= PS_WEBPKI_N_REASONS)
		return "?";
	return reason_names[r];
}

const char *
ps_webpki_reason_desc(enum ps_webpki_reason r)
{
	if ((unsigned int)r >= PS_WEBPKI_N_REASONS)
		return "?";
	return reason_descs[r];
}

size_t
ps_webpki_result_format(const struct ps_webpki_result *res, char *buf, size_t len)
{
	static const char sep[] = "; allowed: ";
	size_t need, at;

	need = ps_webpki_format(res->first == PS_WEBPKI_OK ? 0 : res->mask, buf, len);
	if (res->allowed == 0)
		return need;
	at = buf != NULL && need < len ? need : 0;
	if (buf != NULL && need + sizeof(sep) - 1 < len) {
		memcpy(buf + need, sep, sizeof(sep));
		at = need + sizeof(sep) - 1;
	} else {
		buf = NULL;	/* cut: the caller sees it from the length */
	}
	need += sizeof(sep) - 1;
	return need + ps_webpki_format(res->allowed, buf != NULL ? buf + at : NULL,
				       buf != NULL ? len - at : 0);
}

size_t
ps_webpki_format(uint64_t mask, char *buf, size_t len)
{
	size_t need = 0, n;
	unsigned int r;
	const char *name;

	if (buf != NULL && len > 0)
		buf[0] = '\0';
	if (mask == 0)
		mask = 1;	/* "ok" */
	for (r = 0; r < PS_WEBPKI_N_REASONS; r++) {
		if ((mask & PS_WEBPKI_BIT(r)) == 0)
			continue;
		name = reason_names[r];
		n = strlen(name) + (need > 0 ? 1 : 0);
		if (buf != NULL && need + n < len)
			snprintf(buf + need, len - need, "%s%s", need > 0 ? "," : "", name);
		need += n;
	}
	return need;
}

enum ps_webpki_reason
ps_webpki_from_openssl(long err)
{
	switch (err) {
	case X509_V_OK:
		return PS_WEBPKI_OK;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
	case X509_V_ERR_NO_ISSUER_PUBLIC_KEY:
	case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH:
	case X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY:
		return PS_WEBPKI_BAD_SIGNATURE;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return PS_WEBPKI_SELF_SIGNED;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		return PS_WEBPKI_UNKNOWN_ROOT;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return PS_WEBPKI_INCOMPLETE_CHAIN;
	case X509_V_ERR_CERT_REVOKED:
		return PS_WEBPKI_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
	case X509_V_ERR_OCSP_VERIFY_NEEDED:
	case X509_V_ERR_OCSP_VERIFY_FAILED:
	case X509_V_ERR_OCSP_CERT_UNKNOWN:
		return PS_WEBPKI_REVOCATION_UNKNOWN;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return PS_WEBPKI_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
		return PS_WEBPKI_NOT_YET_VALID;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
	case X509_V_ERR_EMAIL_MISMATCH:
		return PS_WEBPKI_HOST_MISMATCH;
	case X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3:
		return PS_WEBPKI_X509_V1;
	case X509_V_ERR_INVALID_CA:
		return PS_WEBPKI_INTERMEDIATE_NOT_CA;
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
		return PS_WEBPKI_PATH_LEN;
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
	case X509_V_ERR_SUBTREE_MINMAX:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
	case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
		return PS_WEBPKI_NAME_CONSTRAINTS;
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
		return PS_WEBPKI_UNKNOWN_CRITICAL_EXT;
	case X509_V_ERR_INVALID_EXTENSION:
	case X509_V_ERR_INVALID_POLICY_EXTENSION:
	case X509_V_ERR_NO_EXPLICIT_POLICY:
	case X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE:
	/* X509_V_FLAG_X509_STRICT profile errors, should the flag ever be set. */
	case X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA:
	case X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN:
	case X509_V_ERR_ISSUER_NAME_EMPTY:
	case X509_V_ERR_SUBJECT_NAME_EMPTY:
	case X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER:
	case X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER:
	case X509_V_ERR_EMPTY_SUBJECT_ALT_NAME:
	case X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL:
	case X509_V_ERR_CA_BCONS_NOT_CRITICAL:
	case X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL:
	case X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL:
		return PS_WEBPKI_INVALID_EXTENSION;
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
	case X509_V_ERR_INVALID_NON_CA:
	case X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA:
	case X509_V_ERR_CA_CERT_MISSING_KEY_USAGE:
		return PS_WEBPKI_KEY_USAGE;
	case X509_V_ERR_INVALID_PURPOSE:
		return PS_WEBPKI_INVALID_PURPOSE;
	case X509_V_ERR_CA_MD_TOO_WEAK:
	case X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM:
		return PS_WEBPKI_WEAK_SIGNATURE;
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
		return PS_WEBPKI_WEAK_KEY;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
	case X509_V_ERR_PATH_LOOP:
		return PS_WEBPKI_CHAIN_TOO_LONG;
	case X509_V_ERR_OUT_OF_MEM:
		return PS_WEBPKI_INTERNAL;
	default:
		return PS_WEBPKI_OPENSSL_OTHER;
	}
}

/* ------------------------------------------------------------------ */
/* Context. */

int
ps_webpki_ctx_new(X509 *const *cas, size_t n_cas, struct ps_webpki_ctx **out)
{
	struct ps_webpki_ctx *ctx;
	size_t i;

	if (out == NULL || (cas == NULL && n_cas > 0) || n_cas > 1024)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx) + n_cas * sizeof(ctx->cas[0]));
	if (ctx == NULL)
		return -ENOMEM;
	for (i = 0; i < n_cas; i++) {
		if (cas[i] == NULL || X509_get0_pubkey(cas[i]) == NULL ||
		    X509_up_ref(cas[i]) != 1) {
			ps_webpki_ctx_free(ctx);
			return -EINVAL;
		}
		ctx->cas[i].cert = cas[i];
		ctx->cas[i].pub = X509_get0_pubkey(cas[i]);
		ctx->n_cas = i + 1;
	}
	*out = ctx;
	return 0;
}

static void
crls_free(X509_CRL **crls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		X509_CRL_free(crls[i]);
	free(crls);
}

void
ps_webpki_ctx_free(struct ps_webpki_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	for (i = 0; i < ctx->n_cas; i++)
		X509_free(ctx->cas[i].cert);
	crls_free(ctx->crls, ctx->n_crls);
	free(ctx);
}

/* ------------------------------------------------------------------ */
/* CRL files. */

/*
 * The message into err[errlen] (when there is room for one), followed by
 * OpenSSL's last reason in parentheses when with_ossl; the OpenSSL queue
 * is left empty. Returns rc, for "return crl_fail(...)".
 */
static int __attribute__((format(printf, 5, 6)))
crl_fail(char *err, size_t errlen, int rc, bool with_ossl, const char *fmt, ...)
{
	unsigned long code = ERR_peek_last_error();
	char why[200];
	va_list ap;
	size_t n;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		n = strlen(err);
		if (with_ossl && n < errlen) {
			if (code != 0)
				ERR_error_string_n(code, why, sizeof(why));
			snprintf(err + n, errlen - n, " (%s)",
				 code != 0 ? why : "no OpenSSL reason");
		}
	}
	ERR_clear_error();
	return rc;
}

/* All of path, a regular file of at most PS_WEBPKI_CRL_FILE_MAX bytes. */
static int
crl_read(const char *path, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *b;
	size_t n = 0;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		crl_fail(err, errlen, 0, false, "%s: cannot read: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		crl_fail(err, errlen, 0, false, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		crl_fail(err, errlen, 0, false, "%s: empty file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > (off_t)PS_WEBPKI_CRL_FILE_MAX) {
		crl_fail(err, errlen, 0, false, "%s: larger than %u bytes", path, PS_WEBPKI_CRL_FILE_MAX);
		close(fd);
		return -EFBIG;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		close(fd);
		crl_fail(err, errlen, 0, false, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* A file that changes while read is read up to the size seen. */
	while (n < (size_t)st.st_size) {
		r = read(fd, b + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			crl_fail(err, errlen, 0, false, "%s: cannot read: %s", path, strerror(errno));
			free(b);
			close(fd);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
}

static int
crl_load_pem(const char *path, const uint8_t *b, size_t len, STACK_OF(X509_CRL) *sk,
	     char *err, size_t errlen)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	const uint8_t *p = b, *q;
	size_t blocks = 0, i;
	X509_CRL *crl;
	BIO *bio;

	while ((q = memmem(p, len - (size_t)(p - b), begin, sizeof(begin) - 1)) != NULL) {
		blocks++;
		p = q + sizeof(begin) - 1;
	}
	if (blocks == 0) {
		crl_fail(err, errlen, 0, false, "%s: no \"X509 CRL\" PEM block in it", path);
		return -EINVAL;
	}
	bio = BIO_new_mem_buf(b, (int)len);
	if (bio == NULL) {
		crl_fail(err, errlen, 0, false, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (i = 0; i < blocks; i++) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		if (crl == NULL || sk_X509_CRL_push(sk, crl) <= 0) {
			crl_fail(err, errlen, 0, true, "%s: CRL %zu of %zu does not decode", path,
				 i + 1, blocks);
			X509_CRL_free(crl);
			BIO_free(bio);
			return -EINVAL;
		}
	}
	BIO_free(bio);
	return 0;
}

static int
crl_load_der(const char *path, const uint8_t *b, size_t len, STACK_OF(X509_CRL) *sk,
	     char *err, size_t errlen)
{
	const unsigned char *p = b;
	X509_CRL *crl;

	while ((size_t)(p - b) < len) {
		size_t at = (size_t)(p - b);

		crl = d2i_X509_CRL(NULL, &p, (long)(len - at));
		if (crl == NULL || sk_X509_CRL_push(sk, crl) <= 0) {
			crl_fail(err, errlen, 0, true, "%s: not a PEM or DER CRL at byte %zu", path,
				 at);
			X509_CRL_free(crl);
			return -EINVAL;
		}
	}
	return 0;
}

int
ps_webpki_crl_load(const char *path, STACK_OF(X509_CRL) **crls, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *sk;
	uint8_t *b = NULL;
	size_t len = 0;
	int rc, i;

	if (path == NULL || crls == NULL) {
		crl_fail(err, errlen, 0, false, "no CRL file");
		return -EINVAL;
	}
	rc = crl_read(path, &b, &len, err, errlen);
	if (rc < 0)
		return rc;
	sk = sk_X509_CRL_new_null();
	if (sk == NULL) {
		free(b);
		crl_fail(err, errlen, 0, false, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (memmem(b, len, "-----BEGIN ", 11) != NULL)
		rc = crl_load_pem(path, b, len, sk, err, errlen);
	else
		rc = crl_load_der(path, b, len, sk, err, errlen);
	free(b);
	ERR_clear_error();
	if (rc == 0 && *crls == NULL) {
		*crls = sk;
		return 0;
	}
	for (i = 0; rc == 0 && i < sk_X509_CRL_num(sk); i++) {
		if (sk_X509_CRL_push(*crls, sk_X509_CRL_value(sk, i)) <= 0) {
			/* Undo: *crls keeps what it held before. */
			while (i-- > 0)
				(void)sk_X509_CRL_pop(*crls);
			crl_fail(err, errlen, 0, false, "%s: out of memory", path);
			rc = -ENOMEM;
		}
	}
	if (rc == 0)
		sk_X509_CRL_free(sk);	/* the references moved to *crls */
	else
		sk_X509_CRL_pop_free(sk, X509_CRL_free);
	return rc;
}

int
ps_webpki_ctx_set_crls(struct ps_webpki_ctx *ctx, STACK_OF(X509_CRL) *crls,
		       enum ps_webpki_rev_unknown on_unknown)
{
	ASN1_INTEGER *probe;
	X509_REVOKED *rev;
	X509_CRL **a = NULL;
	size_t n = 0, i;

	if (ctx == NULL || (on_unknown != PS_WEBPKI_REV_UNKNOWN_REJECT &&
			    on_unknown != PS_WEBPKI_REV_UNKNOWN_ALLOW))
		return -EINVAL;
	if (crls != NULL && sk_X509_CRL_num(crls) > 0) {
		n = (size_t)sk_X509_CRL_num(crls);
		a = calloc(n, sizeof(*a));
		probe = ASN1_INTEGER_new();
		if (a == NULL || probe == NULL) {
			free(a);
			ASN1_INTEGER_free(probe);
			return -ENOMEM;
		}
		for (i = 0; i < n; i++) {
			a[i] = sk_X509_CRL_value(crls, (int)i);
			X509_CRL_up_ref(a[i]);
			/*
			 * The first lookup sorts the entries under the CRL's
			 * write lock: done now, so that at check time every
			 * lookup only reads.
			 */
			(void)X509_CRL_get0_by_serial(a[i], &rev, probe);
		}
		ASN1_INTEGER_free(probe);
	}
	crls_free(ctx->crls, ctx->n_crls);
	ctx->crls = a;
	ctx->n_crls = n;
	ctx->on_unknown = on_unknown;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Names. */

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool
ascii_eq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Length without one trailing dot (an absolute name is the same name). */
static size_t
trim_dot(const char *s, size_t n)
{
	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

/* A host name we are willing to match: LDH labels (and '_'), no empty label. */
static bool
host_ok(const char *h, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/*
 * RFC 6125 6.4.3 as browsers apply it, host[0..hn) already checked by
 * host_ok() and without its trailing dot: exact, or "*." over at least
 * two labels standing for exactly one label of host.
 */
static bool
dns_match(const char *pattern, size_t pn, const char *host, size_t hn)
{
	const char *rest, *hdot;
	size_t rn;

	if (memchr(pattern, '\0', pn) != NULL)
		return false;	/* an embedded NUL: a forgery attempt */
	pn = trim_dot(pattern, pn);
	if (pn == 0)
		return false;
	if (pattern[0] != '*')
		return pn == hn && ascii_eq(pattern, host, hn);
	if (pn < 2 || pattern[1] != '.')
		return false;	/* partial wildcard "w*.example.com" */
	rest = pattern + 2;
	rn = pn - 2;
	if (rn == 0 || rest[0] == '.' || memchr(rest, '*', rn) != NULL)
		return false;	/* "*.", "*..x", "*.*.example.com" */
	if (memchr(rest, '.', rn) == NULL)
		return false;	/* "*.com": a public suffix, never one certificate's */
	hdot = memchr(host, '.', hn);
	if (hdot == NULL || hdot == host)
		return false;
	return (size_t)(host + hn - (hdot + 1)) == rn && ascii_eq(hdot + 1, rest, rn);
}

bool
ps_webpki_dns_match(const char *pattern, size_t pattern_len, const char *host)
{
	size_t hn;

	if (pattern == NULL || host == NULL)
		return false;
	hn = trim_dot(host, strlen(host));
	return host_ok(host, hn) && dns_match(pattern, pattern_len, host, hn);
}

/* host as an IP literal ("192.0.2.1", "2001:db8::1", "[2001:db8::1]"): length 4/16, else 0. */
static size_t
host_ip(const char *host, unsigned char ip[16])
{
	char buf[64];
	size_t n = strlen(host);

	if (n >= sizeof(buf))
		return 0;
	if (inet_pton(AF_INET, host, ip) == 1)
		return 4;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		memcpy(buf, host, n + 1);
	}
	if (inet_pton(AF_INET6, buf, ip) == 1)
		return 16;
	return 0;
}

/* Leaf SANs usable for TLS: dNSName or iPAddress entries. */
static bool
san_usable(const GENERAL_NAMES *san)
{
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);

		if (g->type == GEN_DNS || g->type == GEN_IPADD)
			return true;
	}
	return false;
}

static bool
host_matches(const GENERAL_NAMES *san, const char *host)
{
	unsigned char ip[16];
	size_t ip_len = host_ip(host, ip), hn = trim_dot(host, strlen(host));
	int i;

	if (ip_len == 0 && !host_ok(host, hn))
		return false;	/* U-labels, '*', empty labels: matches nothing */
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		const ASN1_STRING *s;

		if (ip_len > 0) {
			if (g->type != GEN_IPADD)
				continue;
			s = g->d.iPAddress;
			if ((size_t)ASN1_STRING_length(s) == ip_len &&
			    memcmp(ASN1_STRING_get0_data(s), ip, ip_len) == 0)
				return true;
		} else if (g->type == GEN_DNS) {
			s = g->d.dNSName;
			if (dns_match((const char *)ASN1_STRING_get0_data(s),
				      (size_t)ASN1_STRING_length(s), host, hn))
				return true;
		}
	}
	return false;
}

/*
 * RFC 5280 4.2.1.10 dNSName subtree, as Chromium reads it: "" matches
 * everything, "example.com" matches itself and its subdomains,
 * ".example.com" only subdomains. For excluded subtrees (wild true) a
 * wildcard name "*.example.com" also matches a constraint naming one host
 * under it ("bad.example.com"): the wildcard would cover that host, the
 * hole OpenSSL's suffix comparison leaves open.
 */
static bool
nc_dns_match(const char *name, size_t nn, const char *base, size_t bn, bool wild)
{
	const char *dot;

	nn = trim_dot(name, nn);
	bn = trim_dot(base, bn);
	if (bn == 0)
		return true;
	if (wild && nn > 2 && name[0] == '*' && name[1] == '.') {
		dot = memchr(base, '.', bn);
		if (dot != NULL && (size_t)(base + bn - (dot + 1)) == nn - 2 &&
		    ascii_eq(dot + 1, name + 2, nn - 2))
			return true;
	}
	if (nn < bn || !ascii_eq(name + nn - bn, base, bn))
		return false;
	if (nn == bn)
		return true;
	if (base[0] == '.')
		return true;
	return name[nn - bn - 1] == '.';
}

/* iPAddress subtree: address and mask, 8 or 32 octets. */
static bool
nc_ip_match(const ASN1_OCTET_STRING *ip, const ASN1_OCTET_STRING *base)
{
	const unsigned char *a = ASN1_STRING_get0_data(ip), *b = ASN1_STRING_get0_data(base);
	int n = ASN1_STRING_length(ip), i;

	if (ASN1_STRING_length(base) != 2 * n || (n != 4 && n != 16))
		return false;
	for (i = 0; i < n; i++)
		if ((a[i] & b[n + i]) != (b[i] & b[n + i]))
			return false;
	return true;
}

static bool
nc_match(const GENERAL_NAME *name, const GENERAL_NAME *base, bool excluded)
{
	if (name->type != base->type)
		return false;
	if (name->type == GEN_DNS)
		return nc_dns_match((const char *)ASN1_STRING_get0_data(name->d.dNSName),
				    (size_t)ASN1_STRING_length(name->d.dNSName),
				    (const char *)ASN1_STRING_get0_data(base->d.dNSName),
				    (size_t)ASN1_STRING_length(base->d.dNSName), excluded);
	if (name->type == GEN_IPADD)
		return nc_ip_match(name->d.iPAddress, base->d.iPAddress);
	return false;
}

static bool
subtrees_have_type(const STACK_OF(GENERAL_SUBTREE) *st, int type)
{
	int i;

	for (i = 0; i < sk_GENERAL_SUBTREE_num(st); i++)
		if (sk_GENERAL_SUBTREE_value(st, i)->base->type == type)
			return true;
	return false;
}

/*
 * The leaf's DNS and IP SANs against one issuer's name constraints.
 * Other name types (directoryName, e-mail) are OpenSSL's: it checks them.
 * A permitted list constrains a name type only when it has an entry of
 * that type (RFC 5280 4.2.1.10).
 */
static bool
nc_allows(const NAME_CONSTRAINTS *nc, const GENERAL_NAMES *san)
{
	bool perm_dns = subtrees_have_type(nc->permittedSubtrees, GEN_DNS);
	bool perm_ip = subtrees_have_type(nc->permittedSubtrees, GEN_IPADD);
	int i, j;

	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		bool ok;

		if (g->type != GEN_DNS && g->type != GEN_IPADD)
			continue;
		for (j = 0; j < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); j++)
			if (nc_match(g, sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, j)->base,
				     true))
				return false;
		if ((g->type == GEN_DNS && !perm_dns) || (g->type == GEN_IPADD && !perm_ip))
			continue;
		ok = false;
		for (j = 0; j < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) && !ok; j++)
			ok = nc_match(g, sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, j)->base,
				      false);
		if (!ok)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Per-certificate checks. */

static void
add(struct state *st, enum ps_webpki_reason r, int depth)
{
	if ((st->mask & PS_WEBPKI_BIT(r)) != 0)
		return;
	st->mask |= PS_WEBPKI_BIT(r);
	st->depth[r] = (int8_t)(depth > 127 ? 127 : depth);
}

static void
check_time(struct state *st, X509 *x, int depth, time_t now)
{
	if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0)
		add(st, PS_WEBPKI_NOT_YET_VALID, depth);
	if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
		add(st, PS_WEBPKI_EXPIRED, depth);
}

/* Signatures: only RSA (PKCS#1 v1.5 or PSS) and ECDSA over SHA-2 256/384/512. */
static void
check_signature(struct state *st, X509 *x, int depth)
{
	int mdnid = NID_undef, pknid = NID_undef, secbits = 0;
	uint32_t sflags = 0;

	if (X509_get_signature_info(x, &mdnid, &pknid, &secbits, &sflags) != 1) {
		add(st, PS_WEBPKI_WEAK_SIGNATURE, depth);
		return;
	}
	switch (mdnid) {
	case NID_md2:
	case NID_md4:
	case NID_md5:
	case NID_md5_sha1:
		add(st, PS_WEBPKI_WEAK_SIGNATURE_MD5, depth);
		return;
	case NID_sha1:
		add(st, PS_WEBPKI_WEAK_SIGNATURE_SHA1, depth);
		return;
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
		break;
	default:
		add(st, PS_WEBPKI_WEAK_SIGNATURE, depth);
		return;
	}
	if (pknid != NID_rsaEncryption && pknid != NID_rsassaPss &&
	    pknid != NID_X9_62_id_ecPublicKey)
		add(st, PS_WEBPKI_WEAK_SIGNATURE, depth);
}

static void
check_key(struct state *st, X509 *x, int depth)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[64];
	int bits;

	if (pk == NULL) {
		add(st, PS_WEBPKI_WEAK_KEY, depth);
		return;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		bits = EVP_PKEY_get_bits(pk);
		if (bits < RSA_MIN_BITS)
			add(st, PS_WEBPKI_WEAK_KEY_RSA, depth);
		else if (bits > RSA_MAX_BITS)
			add(st, PS_WEBPKI_WEAK_KEY, depth);
		return;
	case EVP_PKEY_DSA:
		add(st, PS_WEBPKI_WEAK_KEY_DSA, depth);
		return;
	case EVP_PKEY_EC:
		/* Named P-256 or P-384 only; explicit parameters have no name. */
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1 ||
		    (strcmp(group, SN_X9_62_prime256v1) != 0 && strcmp(group, SN_secp384r1) != 0))
			add(st, PS_WEBPKI_WEAK_KEY, depth);
		return;
	default:
		add(st, PS_WEBPKI_WEAK_KEY, depth);
		return;
	}
}

/* RFC 5280 4.1.2.2: positive, at most 20 octets of DER content. */
static void
check_serial(struct state *st, X509 *x, int depth)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	const unsigned char *p = ASN1_STRING_get0_data(sn);
	int n = ASN1_STRING_length(sn), i, octets;
	bool zero = true;

	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER) {
		add(st, PS_WEBPKI_SERIAL_BAD, depth);
		return;
	}
	for (i = 0; i < n && zero; i++)
		zero = p[i] == 0;
	/* The magnitude plus the 0x00 that keeps a high first bit positive. */
	octets = n + (n > 0 && (p[0] & 0x80) != 0 ? 1 : 0);
	if (zero || octets > SERIAL_MAX_OCTETS)
		add(st, PS_WEBPKI_SERIAL_BAD, depth);
}

static void
check_validity_period(struct state *st, X509 *leaf)
{
	const ASN1_TIME *nb = X509_get0_notBefore(leaf), *na = X509_get0_notAfter(leaf);
	struct tm tm;
	int days = 0, secs = 0;
	long max_days, issued;

	if (ASN1_TIME_to_tm(nb, &tm) != 1 || ASN1_TIME_diff(&days, &secs, nb, na) != 1) {
		add(st, PS_WEBPKI_VALIDITY_TOO_LONG, 0);
		return;
	}
	issued = (long)timegm(&tm);
	if (issued >= T_2020_09_01)
		max_days = 398;
	else if (issued >= T_2018_03_01)
		max_days = 825;
	else
		max_days = 1185;	/* 39 months */
	if ((long)days * DAY_S + secs > max_days * DAY_S)
		add(st, PS_WEBPKI_VALIDITY_TOO_LONG, 0);
}

static void
check_leaf(struct state *st, X509 *leaf, uint32_t xf)
{
	uint32_t xku = X509_get_extended_key_usage(leaf);

	if ((xf & EXFLAG_CA) != 0)
		add(st, PS_WEBPKI_LEAF_IS_CA, 0);
	if ((xf & EXFLAG_XKUSAGE) == 0)
		add(st, PS_WEBPKI_EKU_MISSING, 0);
	else if ((xku & XKU_SSL_SERVER) == 0)
		add(st, (xku & XKU_ANYEKU) != 0 ? PS_WEBPKI_EKU_ANY_ONLY :
		    PS_WEBPKI_EKU_NO_SERVER_AUTH, 0);
	/* Our profile signs with the key (ECDHE only, TLS 1.3): digitalSignature. */
	if ((xf & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) == 0)
		add(st, PS_WEBPKI_KEY_USAGE, 0);
}

/* Certificates above the leaf: depth 1 .. n-1 (anchor: the trust anchor). */
static void
check_issuer(struct state *st, STACK_OF(X509) *chain, int depth, bool anchor)
{
	X509 *x = sk_X509_value(chain, depth);
	uint32_t xf = X509_get_extension_flags(x);
	long pathlen;
	int i, below;

	if ((xf & EXFLAG_BCONS) == 0 || (xf & EXFLAG_CA) == 0)
		add(st, PS_WEBPKI_INTERMEDIATE_NOT_CA, depth);
	if ((xf & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0)
		add(st, PS_WEBPKI_KEY_USAGE, depth);
	if (anchor) {
		if ((xf & EXFLAG_XKUSAGE) != 0)
			add(st, PS_WEBPKI_ROOT_HAS_EKU, depth);
	} else if ((xf & EXFLAG_XKUSAGE) != 0 &&
		   (X509_get_extended_key_usage(x) & (XKU_SSL_SERVER | XKU_ANYEKU)) == 0) {
		add(st, PS_WEBPKI_EKU_NO_SERVER_AUTH, depth);
	}
	/* RFC 5280 4.2.1.9: non-self-issued intermediates below this one. */
	pathlen = X509_get_pathlen(x);
	if (pathlen >= 0) {
		below = 0;
		for (i = 1; i < depth; i++)
			if ((X509_get_extension_flags(sk_X509_value(chain, i)) & EXFLAG_SI) == 0)
				below++;
		if (below > pathlen)
			add(st, PS_WEBPKI_PATH_LEN, depth);
	}
}

/* Any certificate of the chain issued by, or holding the key of, an appliance CA. */
static void
check_appliance(struct state *st, const struct ps_webpki_ctx *ctx, X509 *x, int depth)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	size_t i;

	for (i = 0; i < ctx->n_cas; i++) {
		const struct ps_webpki_ca *ca = &ctx->cas[i];

		if ((pk != NULL && EVP_PKEY_eq(pk, ca->pub) == 1) ||
		    (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca->cert)) == 0 &&
		     X509_verify(x, ca->pub) == 1)) {
			add(st, PS_WEBPKI_SIGNED_BY_APPLIANCE_CA, depth);
			return;
		}
	}
}

/*
 * Every issuer's DNS/IP name constraints against the leaf's SANs. The
 * work is names x subtrees; past NC_MAX_WORK comparisons (a crafted chain
 * within the 100 KB certificate list) the chain is refused unchecked, as
 * OpenSSL refuses it.
 */
#define NC_MAX_WORK	(1 << 20)

static void
check_name_constraints(struct state *st, STACK_OF(X509) *chain, const GENERAL_NAMES *san)
{
	NAME_CONSTRAINTS *nc;
	size_t work;
	int i, crit;

	for (i = 1; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_get_ext_by_NID(x, NID_name_constraints, -1) < 0)
			continue;
		nc = X509_get_ext_d2i(x, NID_name_constraints, &crit, NULL);
		if (nc == NULL) {
			/* Duplicated or undecodable: OpenSSL flags it invalid too. */
			add(st, PS_WEBPKI_NAME_CONSTRAINTS, i);
			continue;
		}
		work = (size_t)sk_GENERAL_NAME_num(san) *
		       ((size_t)sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) +
			(size_t)sk_GENERAL_SUBTREE_num(nc->excludedSubtrees));
		if (work > NC_MAX_WORK || (san != NULL && !nc_allows(nc, san)))
			add(st, PS_WEBPKI_NAME_CONSTRAINTS, i);
		NAME_CONSTRAINTS_free(nc);
	}
}

/*
 * Revocation of x, issued by issuer, from the loaded CRLs (the rules are
 * at ps_webpki_ctx_set_crls()). A revocation the issuer signed stays a
 * revocation once the CRL saying so is stale: only a certificateHold can
 * be lifted. A CRL whose signature does not verify with the issuer's key
 * proves nothing either way.
 */
enum rev_status {
	REV_GOOD,
	REV_REVOKED,
	REV_UNKNOWN,
};

/* Usable to say "not revoked": a full, direct CRL we understand whole. */
static bool
crl_complete(const X509_CRL *crl)
{
	int i;

	if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0 ||
	    X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1) >= 0)
		return false;
	for (i = 0; i < X509_CRL_get_ext_count(crl); i++)
		if (X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i)))
			return false;
	return true;
}

static long
entry_reason(const X509_REVOKED *rev)
{
	ASN1_ENUMERATED *e;
	long r;
	int crit = -1;

	e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	if (e == NULL)
		return crit == -1 ? CRL_REASON_NONE : CRL_REASON_UNSPECIFIED;
	r = ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return r;
}

static enum rev_status
crl_status(const struct ps_webpki_ctx *ctx, X509 *x, X509 *issuer, time_t now)
{
	const X509_NAME *iname = X509_get_subject_name(issuer);
	EVP_PKEY *ipub = X509_get0_pubkey(issuer);
	const ASN1_TIME *next;
	X509_REVOKED *rev;
	bool covered = false, current;
	size_t i;
	long why;

	if (ipub == NULL || X509_check_issued(issuer, x) != X509_V_OK)
		return REV_UNKNOWN;
	/* RFC 5280 4.2.1.3: an issuer with keyUsage signs CRLs only with cRLSign. */
	if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0 &&
	    (X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0)
		return REV_UNKNOWN;
	for (i = 0; i < ctx->n_crls; i++) {
		X509_CRL *crl = ctx->crls[i];

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), iname) != 0 ||
		    X509_CRL_verify(crl, ipub) != 1)
			continue;
		next = X509_CRL_get0_nextUpdate(crl);
		current = X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now) == -1 &&
			  next != NULL && X509_cmp_time(next, &now) == 1;
		if (X509_CRL_get0_by_serial(crl, &rev,
					    (ASN1_INTEGER *)X509_get0_serialNumber(x)) == 1) {
			why = entry_reason(rev);
			if (why == CRL_REASON_REMOVE_FROM_CRL ||
			    (why == CRL_REASON_CERTIFICATE_HOLD && !current))
				continue;
			return REV_REVOKED;
		}
		if (current && crl_complete(crl))
			covered = true;
	}
	return covered ? REV_GOOD : REV_UNKNOWN;
}

/*
 * Every certificate but the trust anchor (and but a self-issued top of
 * the chain, which only the trust store can revoke), against its issuer:
 * the next certificate up. One that has none is of unknown status.
 */
static void
check_revocation(struct state *st, const struct ps_webpki_ctx *ctx, STACK_OF(X509) *chain,
		 bool anchor, time_t now)
{
	int i, n = sk_X509_num(chain);

	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		enum rev_status rs;

		if (i == n - 1 &&
		    (anchor || (X509_get_extension_flags(x) & EXFLAG_SI) != 0))
			break;
		rs = i + 1 < n ? crl_status(ctx, x, sk_X509_value(chain, i + 1), now) :
		     REV_UNKNOWN;
		if (rs == REV_REVOKED)
			add(st, PS_WEBPKI_REVOKED, i);
		else if (rs == REV_UNKNOWN && ctx->on_unknown == PS_WEBPKI_REV_UNKNOWN_ALLOW)
			st->allowed |= PS_WEBPKI_BIT(PS_WEBPKI_REVOCATION_UNKNOWN);
		else if (rs == REV_UNKNOWN)
			add(st, PS_WEBPKI_REVOCATION_UNKNOWN, i);
	}
	/* A CRL that did not verify left errors: not for the next SSL call. */
	ERR_clear_error();
}

static void
finish(const struct state *st, long openssl_result, struct ps_webpki_result *res)
{
	res->mask = st->mask;
	res->allowed = st->allowed;
	res->openssl_result = openssl_result;
	if (st->mask == 0) {
		res->first = PS_WEBPKI_OK;
		res->depth = -1;
		return;
	}
	res->first = (enum ps_webpki_reason)__builtin_ctzll(st->mask);
	res->depth = st->depth[res->first];
}

int
ps_webpki_check(const struct ps_webpki_ctx *ctx, STACK_OF(X509) *chain, const char *host,
		long openssl_result, unsigned int flags, struct ps_webpki_result *res)
{
	struct state st;
	GENERAL_NAMES *san = NULL;
	X509 *leaf, *top;
	uint32_t xf;
	bool anchor;
	time_t now;
	int i, n, crit = -1;

	if (res == NULL)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	if ((flags & ~(unsigned int)ALL_FLAGS) != 0) {
		add(&st, PS_WEBPKI_INTERNAL, -1);
		finish(&st, openssl_result, res);
		return -EINVAL;
	}
	n = chain != NULL ? sk_X509_num(chain) : 0;
	if (n <= 0) {
		add(&st, PS_WEBPKI_NO_CERTIFICATE, -1);
		goto map_openssl;
	}
	leaf = sk_X509_value(chain, 0);
	top = sk_X509_value(chain, n - 1);
	/*
	 * The last certificate is the anchor when OpenSSL trusted the chain,
	 * or when it is self-issued (an untrusted root: unknown_root comes
	 * from OpenSSL's result). Otherwise the chain stops short of a root.
	 */
	anchor = n > 1 && (openssl_result == X509_V_OK ||
			   (X509_get_extension_flags(top) & EXFLAG_SI) != 0);
	now = time(NULL);

	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		bool is_anchor = anchor && i == n - 1;

		xf = X509_get_extension_flags(x);
		if (X509_get_version(x) != X509_VERSION_3)
			add(&st, PS_WEBPKI_X509_V1, i);
		if ((xf & EXFLAG_CRITICAL) != 0)
			add(&st, PS_WEBPKI_UNKNOWN_CRITICAL_EXT, i);
		if ((xf & (EXFLAG_INVALID | EXFLAG_INVALID_POLICY)) != 0)
			add(&st, PS_WEBPKI_INVALID_EXTENSION, i);
		check_time(&st, x, i, now);
		check_key(&st, x, i);
		/* An anchor is trusted as installed: its self-signature and
		 * serial are not part of the trust decision (many old roots
		 * are SHA-1 self-signed, some carry serial 0). */
		if (!is_anchor) {
			check_signature(&st, x, i);
			check_serial(&st, x, i);
		}
		if (i == 0)
			check_leaf(&st, x, xf);
		else
			check_issuer(&st, chain, i, is_anchor);
		if (ctx != NULL)
			check_appliance(&st, ctx, x, i);
	}
	if (n == 1 && (X509_get_extension_flags(leaf) & EXFLAG_SI) != 0)
		add(&st, PS_WEBPKI_SELF_SIGNED, 0);
	else if (openssl_result != X509_V_OK && (X509_get_extension_flags(top) & EXFLAG_SI) == 0)
		add(&st, PS_WEBPKI_INCOMPLETE_CHAIN, n - 1);

	san = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (san == NULL && crit != -1) {
		/* Present but undecodable or duplicated (crit -2). */
		add(&st, PS_WEBPKI_INVALID_EXTENSION, 0);
	}
	if (san == NULL || !san_usable(san)) {
		/* No CN fallback; no host check either: the name is unjudgeable. */
		add(&st, PS_WEBPKI_LEAF_NO_SAN, 0);
	} else if (host != NULL && !host_matches(san, host)) {
		add(&st, PS_WEBPKI_HOST_MISMATCH, 0);
	}
	check_name_constraints(&st, chain, san);
	if (ctx != NULL && ctx->n_crls > 0)
		check_revocation(&st, ctx, chain, anchor, now);
	if ((flags & PS_WEBPKI_F_MAX_VALIDITY) != 0)
		check_validity_period(&st, leaf);
	GENERAL_NAMES_free(san);

map_openssl:
	/* Only the error is known, not where OpenSSL found it; an untrusted
	 * root can only be the last certificate. */
	if (openssl_result != X509_V_OK) {
		enum ps_webpki_reason r = ps_webpki_from_openssl(openssl_result);

		add(&st, r, r == PS_WEBPKI_UNKNOWN_ROOT && n > 0 ? n - 1 : -1);
	}
	finish(&st, openssl_result, res);
	return 0;
}
