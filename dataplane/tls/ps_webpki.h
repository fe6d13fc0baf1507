/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight WebPKI profile: the browser-grade checks OpenSSL's
 * X509_verify_cert() does not make, run on the chain OpenSSL built for the
 * upstream server (issue 8 item 1). OpenSSL decides trust (anchors,
 * signatures, the path it found); this layer judges what is on that path
 * the way a current browser would: a leaf that is a CA, without SAN or
 * serverAuth EKU, X.509 v1, MD5/SHA-1 signatures, DSA or short RSA keys,
 * bad serials, name-constraint holes, host names matched on SANs only, a
 * leaf signed by the appliance's own CA; and, from CRL files loaded at
 * start, revocation. OpenSSL's own verdict is mapped
 * onto the same reason list, so a session record names the reason
 * whichever layer found it.
 *
 * Pure library: OpenSSL only, no DPDK header, no logging, no allocation
 * kept across calls. A struct ps_webpki_ctx is built once at start and
 * then shared read-only by every worker. See docs/webpki.md.
 */
#ifndef PS_WEBPKI_H
#define PS_WEBPKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/*
 * Every reason a chain is refused: enum value, printable name (session
 * record, stats) and a short explanation. The order is the importance:
 * when several apply, the first in this list is the one reported first
 * (a loop or spoof, then trust, revocation, time, name, structure, crypto
 * strength, then OpenSSL's unspecific errors). At most 63 entries: the
 * result keeps them as a 64-bit mask.
 */
#define PS_WEBPKI_REASONS(X)                                                                       \
	X(SIGNED_BY_APPLIANCE_CA, "signed_by_appliance_ca",                                        \
	  "issued by (or carrying the key of) the appliance's own CA: a loop or a spoof")          \
	X(NO_CERTIFICATE, "no_certificate", "the server sent no certificate")                      \
	X(BAD_SIGNATURE, "bad_signature", "a signature in the chain does not verify")              \
	X(SELF_SIGNED, "self_signed", "the leaf is self-signed")                                   \
	X(UNKNOWN_ROOT, "unknown_root", "the chain ends at a root that is not trusted")            \
	X(INCOMPLETE_CHAIN, "incomplete_chain",                                                    \
	  "an issuer is neither sent nor trusted (no AIA fetching)")                               \
	X(REVOKED, "revoked", "a certificate in the chain is revoked")                             \
	X(REVOCATION_UNKNOWN, "revocation_unknown", "revocation status could not be determined")   \
	X(EXPIRED, "expired", "a certificate in the chain has expired")                            \
	X(NOT_YET_VALID, "not_yet_valid", "a certificate in the chain is not valid yet")           \
	X(HOST_MISMATCH, "host_mismatch", "no subjectAltName of the leaf matches the host name")   \
	X(X509_V1, "x509_v1", "a certificate is not X.509 v3")                                     \
	X(LEAF_IS_CA, "leaf_is_ca", "the leaf has basicConstraints CA:TRUE")                       \
	X(LEAF_NO_SAN, "leaf_no_san", "the leaf has no DNS or IP subjectAltName")                  \
	X(INTERMEDIATE_NOT_CA, "intermediate_not_ca",                                              \
	  "an issuing certificate lacks basicConstraints CA:TRUE")                                 \
	X(PATH_LEN, "path_len", "a pathLenConstraint is exceeded")                                 \
	X(NAME_CONSTRAINTS, "name_constraints", "a name outside an issuer's name constraints")     \
	X(UNKNOWN_CRITICAL_EXT, "unknown_critical_ext", "an unknown extension is marked critical") \
	X(INVALID_EXTENSION, "invalid_extension", "a malformed or duplicated extension")           \
	X(EKU_MISSING, "eku_missing", "the leaf has no extendedKeyUsage")                          \
	X(EKU_ANY_ONLY, "eku_any_only", "the leaf's extendedKeyUsage is anyExtendedKeyUsage only") \
	X(EKU_NO_SERVER_AUTH, "eku_no_server_auth",                                                \
	  "extendedKeyUsage without serverAuth (leaf), or serverAuth/any (intermediate)")          \
	X(ROOT_HAS_EKU, "root_has_eku", "the trust anchor carries an extendedKeyUsage")            \
	X(KEY_USAGE, "key_usage",                                                                  \
	  "keyUsage without digitalSignature (leaf) or keyCertSign (issuer)")                      \
	X(INVALID_PURPOSE, "invalid_purpose", "OpenSSL: not usable for a TLS server (KU/EKU)")     \
	X(WEAK_SIGNATURE_MD5, "weak_signature_md5", "an MD5 (or MD2/MD4) signature")               \
	X(WEAK_SIGNATURE_SHA1, "weak_signature_sha1", "a SHA-1 signature")                         \
	X(WEAK_SIGNATURE, "weak_signature",                                                        \
	  "a signature outside RSA/RSA-PSS/ECDSA with SHA-256/384/512")                            \
	X(WEAK_KEY_RSA, "weak_key_rsa", "an RSA key shorter than 2048 bits")                       \
	X(WEAK_KEY_DSA, "weak_key_dsa", "a DSA key")                                               \
	X(WEAK_KEY, "weak_key",                                                                    \
	  "a key outside RSA 2048..16384, ECDSA P-256/P-384 (or below OpenSSL's level)")           \
	X(SERIAL_BAD, "serial_bad", "a serial number zero, negative or longer than 20 octets")     \
	X(VALIDITY_TOO_LONG, "validity_too_long",                                                  \
	  "the leaf's validity exceeds the CA/Browser Forum maximum")                              \
	X(CHAIN_TOO_LONG, "chain_too_long", "the chain is longer than allowed")                    \
	X(INTERNAL, "internal", "the check itself failed (out of memory): refused")                \
	X(OPENSSL_OTHER, "openssl_other", "another OpenSSL verification error")

enum ps_webpki_reason {
	PS_WEBPKI_OK = 0,
#define PS_WEBPKI_X_ENUM(e, name, desc) PS_WEBPKI_##e,
	PS_WEBPKI_REASONS(PS_WEBPKI_X_ENUM)
#undef PS_WEBPKI_X_ENUM
	PS_WEBPKI_N_REASONS,
};

/* Mask bit of a reason in struct ps_webpki_result.mask. */
#define PS_WEBPKI_BIT(r)	(UINT64_C(1) << (unsigned int)(r))

/* ps_webpki_check() flags. */
enum {
	/*
	 * Also refuse a leaf whose validity exceeds the CA/Browser Forum
	 * limit in force when it was issued (398 days from 2020-09-01, 825
	 * days before): what browsers apply to publicly trusted chains only,
	 * so set it for the public trust store, not a private PKI.
	 */
	PS_WEBPKI_F_MAX_VALIDITY = 1u << 0,
};

/* Verdict on one chain. */
struct ps_webpki_result {
	enum ps_webpki_reason first;	/* PS_WEBPKI_OK: accepted; else the most important reason */
	int depth;			/* chain position first is about (0: leaf); -1: the whole
					 * chain, or known only from OpenSSL's result */
	uint64_t mask;			/* PS_WEBPKI_BIT() of every reason found; 0 when accepted */
	uint64_t allowed;		/* reasons found but let through by configuration
					 * (revocation_unknown with "allow"): never a
					 * refusal, only shown in the session record */
	long openssl_result;		/* the X509_V_* result passed in */
};

/* What a revocation status that cannot be determined gets. */
enum ps_webpki_rev_unknown {
	PS_WEBPKI_REV_UNKNOWN_REJECT,	/* refused as revocation_unknown (the default) */
	PS_WEBPKI_REV_UNKNOWN_ALLOW,	/* accepted, noted in ps_webpki_result.allowed */
};

/* Largest CRL file ps_webpki_crl_load() reads. */
#define PS_WEBPKI_CRL_FILE_MAX	(64u << 20)

struct ps_webpki_ctx;

/*
 * Build the context from the appliance's own CA certificates (the
 * resigning CA, the untrusted-resign CA, any older CA still installed):
 * a chain issued by one of them, or carrying one of their keys, is
 * refused as signed_by_appliance_ca. cas[0..n_cas) are borrowed for the
 * call (references are taken); n_cas may be 0. 0, -EINVAL (a NULL
 * certificate, no public key) or -ENOMEM. Main thread, at start; the
 * context is then read-only and may be shared by every worker.
 */
int
ps_webpki_ctx_new(X509 *const *cas, size_t n_cas, struct ps_webpki_ctx **out);

/*
 * Load every CRL of path (PEM: each "X509 CRL" block, other blocks
 * skipped; DER: one or more concatenated CRLs) and append them to *crls
 * (created when NULL; free with sk_X509_CRL_pop_free(s, X509_CRL_free)).
 * Nothing is judged here (signature, dates: at each check, against the
 * issuer the chain names). 0, or a negative errno (-ENOENT, -EACCES...,
 * -EFBIG, -EINVAL: no CRL in the file or one that does not decode,
 * -ENOMEM) with a reason naming the file in err[errlen]; *crls keeps what
 * it held before. Main thread, at start.
 */
int
ps_webpki_crl_load(const char *path, STACK_OF(X509_CRL) **crls, char *err, size_t errlen);

/*
 * Turn revocation checking on for ctx with crls (references are taken;
 * the caller keeps its stack) and say what an undeterminable status gets.
 * An empty or NULL crls turns it off: no revocation reason is ever given.
 * For every certificate of a judged chain but its trust anchor, with its
 * issuer I the next one up:
 *   revoked  a CRL whose issuer name is I's subject, whose signature
 *            verifies with I's key (I without keyUsage, or with cRLSign),
 *            lists the serial (a certificateHold entry only while the CRL
 *            is current; removeFromCRL never);
 *   good     else, when one such CRL is current (thisUpdate <= now <
 *            nextUpdate) and complete (no delta indicator, no issuing
 *            distribution point, no critical extension);
 *   unknown  else: revocation_unknown, refused or let through per
 *            on_unknown.
 * 0, -EINVAL (NULL ctx, an unknown on_unknown) or -ENOMEM. Main thread,
 * before any worker uses ctx: it stays read-only afterwards (the CRLs'
 * entries are sorted here, so no lookup ever writes to a shared CRL).
 */
int
ps_webpki_ctx_set_crls(struct ps_webpki_ctx *ctx, STACK_OF(X509_CRL) *crls,
		       enum ps_webpki_rev_unknown on_unknown);

/* Free ctx once no worker uses it. NULL-safe. */
void
ps_webpki_ctx_free(struct ps_webpki_ctx *ctx);

/*
 * Judge an upstream chain. chain: as OpenSSL built it
 * (SSL_get0_verified_chain(): leaf first, anchor last; whatever it was
 * sent in and whatever extras came with it), borrowed; NULL or empty:
 * refused as no_certificate. host: the SNI sent upstream (A-labels, an
 * IP literal, optionally a trailing dot), NULL for no host check.
 * openssl_result: OpenSSL's verification result for that chain
 * (ps_tls_conn_verify_result(), X509_V_OK when it verified); mapped into
 * the result. flags: PS_WEBPKI_F_*. ctx may be NULL (no appliance CA).
 *
 * Fills res whenever it is not NULL, and fails closed: an unknown flag
 * gives internal, an extension that cannot be decoded (malformed, or out
 * of memory) a refusal. Returns 0 when the chain was judged (res->first
 * == PS_WEBPKI_OK: accepted), -EINVAL for a NULL res or an unknown flag.
 * Any lcore; reads ctx and the certificates only (OpenSSL caches their
 * extensions on first use, under its own lock). Cost: microseconds, one
 * SAN decode and one per name-constrained issuer; no signature is
 * verified unless a certificate names an appliance CA as its issuer, or
 * revocation checking is on (one CRL signature per loaded CRL of each
 * non-anchor certificate's issuer).
 * Call once per full upstream handshake, not on resumption (the chain is
 * not re-sent).
 */
int
ps_webpki_check(const struct ps_webpki_ctx *ctx, STACK_OF(X509) *chain, const char *host,
		long openssl_result, unsigned int flags, struct ps_webpki_result *res);

/* The reason an OpenSSL X509_V_ERR_* code stands for (PS_WEBPKI_OK for X509_V_OK). */
enum ps_webpki_reason
ps_webpki_from_openssl(long x509_v_err);

/* "expired", ...; "ok" for PS_WEBPKI_OK, "?" out of range. Static strings. */
const char *
ps_webpki_reason_name(enum ps_webpki_reason r);

/* One-line explanation of r; static string. */
const char *
ps_webpki_reason_desc(enum ps_webpki_reason r);

/*
 * The names of every reason in mask, in importance order, comma-separated
 * ("unknown_root,expired"; "ok" for 0), into buf[len] (always
 * NUL-terminated when len > 0). Returns the length the full string needs,
 * as snprintf() does.
 */
size_t
ps_webpki_format(uint64_t mask, char *buf, size_t len);

/*
 * The session record's text for res: "ok"; ps_webpki_format() of the
 * refusal reasons; either followed by "; allowed: " and the reasons let
 * through by configuration ("ok; allowed: revocation_unknown"). Into
 * buf[len] as ps_webpki_format(); returns the length the full string needs.
 */
size_t
ps_webpki_result_format(const struct ps_webpki_result *res, char *buf, size_t len);

/*
 * Does the subjectAltName dNSName pattern[0..pattern_len) match host?
 * Case-insensitive ASCII (A-labels compare as they are), one trailing dot
 * ignored on either side, a wildcard only as the whole left-most label
 * matching exactly one non-empty label, and never over a single-label
 * suffix ("*.com"). No CN, no partial wildcards ("w*.example.com"), no
 * U-labels. Exposed for the tests and for policy rules that match a
 * certificate's names.
 */
bool
ps_webpki_dns_match(const char *pattern, size_t pattern_len, const char *host);

#endif /* PS_WEBPKI_H */
