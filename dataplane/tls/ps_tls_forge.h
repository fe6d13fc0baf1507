/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight certificate module for the client leg of an intercepted flow:
 * loading keys and certificates (PEM, DER, PKCS#12), the appliance CA, and
 * resign mode, where the client is shown a leaf forged from the upstream
 * server's certificate (its CN and SANs, its validity) and signed by the
 * appliance CA.
 *
 * A struct ps_tls_forge is built once at start from the CA and shared by
 * every worker thread: its cache of forged leaves sits behind one mutex,
 * and forging (the signature) runs outside it. Pure library: no DPDK
 * header, no logging; key material never leaves memory and never enters
 * an error string. See docs/tls-forge.md.
 */
#ifndef PS_TLS_FORGE_H
#define PS_TLS_FORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define PS_TLS_FP_LEN	32u	/* a certificate's fingerprint: SHA-256 */

/* Largest key, certificate or PKCS#12 file the loaders read. */
#define PS_TLS_FILE_MAX		(8u << 20)
/* Longest passphrase (first line of a passphrase file), NUL excluded. */
#define PS_TLS_PASS_MAX		1023u
/* Largest cache a forge accepts. */
#define PS_TLS_FORGE_CACHE_MAX	(1u << 22)

/*
 * OpenSSL secure heap for private keys: mapped once, mlock()ed (never
 * swapped), MADV_DONTDUMP (never in a core dump), cleansed on free. A
 * power of two; it holds the loaded and generated private keys (a few KB
 * each) and every handshake's ephemeral ECDHE/X25519 private key while
 * that handshake runs (tens of bytes), so it is sized for tens of
 * thousands of handshakes in flight. Full, a key allocation fails: that
 * handshake fails, nothing leaks into ordinary memory.
 */
#define PS_TLS_SECURE_HEAP	(4u << 20)
/* Smallest block handed out (a P-256 scalar with its rounding). */
#define PS_TLS_SECURE_MIN	32u

/* What ps_tls_keys_protect() achieved. */
enum ps_tls_key_protection {
	PS_TLS_KEYS_UNPROTECTED,	/* no secure heap: OpenSSL without it, or mmap failed */
	PS_TLS_KEYS_PARTIAL,		/* heap up, but mlock() or madvise() refused
					 * (RLIMIT_MEMLOCK): may be swapped, and may be
					 * in a core dump when madvise() was the one */
	PS_TLS_KEYS_PROTECTED,		/* locked and excluded from core dumps */
};

/*
 * Put every private key OpenSSL makes from now on (its private numbers:
 * RSA d, p, q..., EC and X25519 scalars) on the secure heap
 * (PS_TLS_SECURE_HEAP). Idempotent: the first call of the process
 * decides, later ones return the same answer; ps_tls_load_key() and
 * ps_tls_forge_new() call it first, so keys they load or generate are
 * covered without the caller doing anything. Call it before any other
 * private key is made for the same to hold of those. Thread-safe.
 */
enum ps_tls_key_protection
ps_tls_keys_protect(void);

/* "protected", "partial", "unprotected" (static strings). */
const char *
ps_tls_key_protection_name(enum ps_tls_key_protection p);

/* Key type of a forged leaf; one process-wide key of each. */
enum ps_tls_leaf_type {
	PS_TLS_LEAF_RSA,	/* RSA-2048: every client can use it */
	PS_TLS_LEAF_EC,		/* ECDSA P-256: smaller, faster handshakes */
	PS_TLS_LEAF_TYPES,
};

struct ps_tls_ca;
struct ps_tls_forge;

/*
 * Forge counters, a consistent snapshot. Every ps_tls_forge_get() with
 * valid arguments is exactly one hit or one miss. A miss forges a leaf;
 * it then fails (failures), loses a race to another thread that inserted
 * the same leaf first (races: the caller gets that one, ours is dropped),
 * or inserts: misses - failures - races == entries + evictions.
 */
struct ps_tls_forge_stats {
	uint64_t hits;		/* served from the cache */
	uint64_t misses;	/* not in the cache: forged */
	uint64_t evictions;	/* least recently used entries dropped at the bound */
	uint64_t failures;	/* misses that returned an error */
	uint64_t races;		/* misses whose leaf another thread cached first */
	size_t entries;		/* leaves in the cache now */
};

/*
 * Load one private key from path: PEM (traditional or PKCS#8, encrypted
 * PKCS#8 or legacy encrypted PEM included; other PEM blocks in the file
 * are skipped), DER (PKCS#8, encrypted PKCS#8 or traditional) or PKCS#12
 * (.p12/.pfx, the key it holds). pass_file, may be NULL: a file whose first
 * line (trailing CR/LF stripped) is the passphrase; without it an
 * encrypted key is refused and a PKCS#12 is opened with the empty
 * passphrase. Both files must be regular files with no group or other
 * permission bit (st_mode & 077), else -EPERM. *out gets a new reference.
 * Returns 0 or a negative errno (-ENOENT, -EPERM, -EFBIG, -EINVAL for
 * undecodable data or a wrong passphrase, -ENOMEM) and, when err is not
 * NULL, a reason naming the file (never key bytes) in err[errlen].
 * Passphrase and file buffers are cleansed before returning. Any thread;
 * meant for start-up and reloads.
 */
int
ps_tls_load_key(const char *path, const char *pass_file, EVP_PKEY **out, char *err,
		size_t errlen);

/*
 * Load certificates from path: PEM (one or more CERTIFICATE or TRUSTED
 * CERTIFICATE blocks, in file order; other blocks skipped), DER (exactly
 * one) or PKCS#12 (the certificate matching the key first, then the rest
 * of the bag; pass_file as for ps_tls_load_key, and a PKCS#12 holding a
 * key must be private like a key file). *out gets a new stack of new
 * references, never empty (free with sk_X509_pop_free(s, X509_free)).
 * 0 or a negative errno with a reason in err[errlen], as above.
 */
int
ps_tls_load_certs(const char *path, const char *pass_file, STACK_OF(X509) **out, char *err,
		  size_t errlen);

/*
 * Load the appliance CA: its certificate from cert_path (first certificate
 * of the file; the ones after it are kept as its chain, see
 * ps_tls_ca_chain()) and its key from key_path, or from cert_path when
 * key_path is NULL (a PKCS#12 holding both). pass_file as above, for
 * whichever file is encrypted. Refused with -EINVAL and a reason: a key
 * that does not match the certificate, a certificate that is not a CA
 * (basicConstraints CA:TRUE required; keyUsage, when present, must allow
 * keyCertSign), a CA that has expired, a key other than RSA (>= 2048 bits)
 * or ECDSA P-256/P-384/P-521. Main thread, at start.
 */
int
ps_tls_ca_load(const char *cert_path, const char *key_path, const char *pass_file,
	       struct ps_tls_ca **out, char *err, size_t errlen);

/* Free ca (a forge made from it keeps its own references). NULL-safe. */
void
ps_tls_ca_free(struct ps_tls_ca *ca);

/* The CA certificate (borrowed, valid while ca is). */
X509 *
ps_tls_ca_cert(const struct ps_tls_ca *ca);

/* The certificates that followed the CA's in cert_path (borrowed, may be empty). */
STACK_OF(X509) *
ps_tls_ca_chain(const struct ps_tls_ca *ca);

/*
 * Build the forge: references to ca's certificate and key (ca may be freed
 * afterwards), one ECDSA P-256 and one RSA-2048 leaf key generated here
 * (tens to hundreds of milliseconds, once), and an empty cache bounded to
 * cache_max leaves (1 .. PS_TLS_FORGE_CACHE_MAX). 0, -EINVAL, -ENOMEM with
 * a reason in err[errlen]. Main thread, at start.
 */
int
ps_tls_forge_new(const struct ps_tls_ca *ca, size_t cache_max, struct ps_tls_forge **out,
		 char *err, size_t errlen);

/* Free f and every cached leaf (callers' references stay valid). NULL-safe. */
void
ps_tls_forge_free(struct ps_tls_forge *f);

/*
 * The leaf of key type type for the upstream leaf certificate orig
 * (borrowed, only read: workers may pass the same one at once, e.g. the
 * ps_tls_conn_peer_cert() of the upstream connection). From the cache
 * when orig (by SHA-256 fingerprint) was seen with this type (the same
 * X509 object every time while it stays cached), else forged and cached,
 * evicting the least recently used leaf at the bound: X.509 v3; random
 * positive 128-bit serial; issuer the CA's subject; subject only orig's
 * CN; orig's DNS and IP subjectAltNames (orig's CN when it has none);
 * orig's validity clipped to the CA's; CA:FALSE, digitalSignature
 * (+ keyEncipherment for RSA), serverAuth, subject and authority key
 * identifiers; signed by the CA key (SHA-256; SHA-384 for a P-384 CA,
 * SHA-512 for P-521). *cert and *key get new references (free both).
 * Returns 0, -EINVAL (bad arguments, or orig's validity does not overlap
 * the CA's) or -ENOMEM. Thread-safe: any worker, concurrently.
 */
int
ps_tls_forge_get(struct ps_tls_forge *f, X509 *orig, enum ps_tls_leaf_type type, X509 **cert,
		 EVP_PKEY **key);

/* The same with orig's SHA-256 fingerprint already computed by the caller. */
int
ps_tls_forge_get_fp(struct ps_tls_forge *f, X509 *orig, const uint8_t fp[PS_TLS_FP_LEN],
		    enum ps_tls_leaf_type type, X509 **cert, EVP_PKEY **key);

/*
 * The intermediates to send after a forged leaf (borrowed, may be empty):
 * nothing when the CA is self-signed (clients trust it as an anchor),
 * else the CA certificate and the chain that followed it in cert_path.
 * Immutable after ps_tls_forge_new(); any thread.
 */
STACK_OF(X509) *
ps_tls_forge_chain(const struct ps_tls_forge *f);

/* Snapshot of f's counters into *st. Any thread. */
void
ps_tls_forge_stats(struct ps_tls_forge *f, struct ps_tls_forge_stats *st);

/*
 * The leaf type for a client: EC when its signature_algorithms extension
 * (sigalgs[0..n), TLS SignatureScheme code points, host order) lists an
 * ECDSA scheme (0x0403, 0x0503, 0x0603), RSA otherwise, and RSA when the
 * extension is absent (has_ext false: an old TLS 1.2 client, which every
 * RSA server suite serves; TLS 1.3 requires the extension). Pure; any
 * thread.
 */
enum ps_tls_leaf_type
ps_tls_leaf_type_for(const uint16_t *sigalgs, size_t n, bool has_ext);

/*
 * The leaf type for a client (as ps_tls_leaf_type_for()) once the real
 * leaf is known: never a stronger key than the server's own. A server
 * with an RSA key is shown an RSA-2048 leaf when the client takes an
 * rsa_pss_rsae scheme (0x0804..0x0806, the ones TLS 1.3 and 1.2 both
 * allow for an RSA key), even if it also lists ECDSA; otherwise the
 * client's type. orig NULL: the client's type. Pure; any thread.
 */
enum ps_tls_leaf_type
ps_tls_leaf_type_for_peer(const uint16_t *sigalgs, size_t n, bool has_ext, X509 *orig);

/* "rsa", "ec" (static strings), "?" for an unknown value. */
const char *
ps_tls_leaf_type_name(enum ps_tls_leaf_type type);

#endif /* PS_TLS_FORGE_H */
