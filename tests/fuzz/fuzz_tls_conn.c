/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the TLS leg (ps_tls_conn) fed untrusted peer bytes.
 *
 * Contexts are built once (LLVMFuzzerInitialize): a server context with a
 * freshly generated EC P-256 self-signed certificate, a client context
 * trusting it, and one real ClientHello from that client, kept for the
 * modes that start from a valid hello.
 *
 * Input: byte 0 = flags, byte 1 = k (low 3 bits), then k piece-size
 * bytes, then the stream. Flags:
 *   bit 7: client role: our conn sends its ClientHello, the stream is what
 *          "the server" answers;
 *   bit 6: server role, the real ClientHello is fed first, the stream
 *          follows (the client's second flight);
 *   bit 5: server role, the real ClientHello is fed with up to 16 bytes
 *          flipped at stream-chosen places (pairs: position, xor), then
 *          the rest of the stream.
 * The stream is fed in pieces whose sizes cycle through the k bytes
 * (size byte + 1; the whole stream when k is 0), driving the handshake
 * and reading plaintext after each piece and pulling the wire.
 *
 * Invariants: no crash, no leak, no hang; feed never takes more than
 * offered; once FAILED every call stays FAILED with a non-empty reason;
 * the end state is WANT or FAILED (a handshake cannot complete without
 * the peer's keys).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ps_tls_conn.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static struct ps_tls_ctx *srv_ctx, *cli_ctx;
static uint8_t hello[4096];
static size_t hello_len;
static uint8_t sink[1 << 16];

static X509 *
self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	CHECK(x != NULL);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"server.test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:server.test");
	CHECK(ext != NULL);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	CHECK(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ps_tls_ctx_cfg cfg;
	struct ps_tls_conn *c;
	EVP_PKEY *key;
	X509 *cert;
	X509 *anchors[1];

	(void)argc;
	(void)argv;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(key != NULL);
	cert = self_signed(key);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_SERVER;
	cfg.cert = cert;
	cfg.key = key;
	CHECK(ps_tls_ctx_new(&cfg, &srv_ctx, NULL, 0) == 0);
	anchors[0] = cert;
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = PS_TLS_ROLE_CLIENT;
	cfg.ca_certs = anchors;
	cfg.n_ca_certs = 1;
	CHECK(ps_tls_ctx_new(&cfg, &cli_ctx, NULL, 0) == 0);
	/* The contexts hold their own references; these copies are done. */
	X509_free(cert);
	EVP_PKEY_free(key);

	CHECK(ps_tls_conn_new(cli_ctx, "server.test", (const uint8_t *)"\x02h2\x08http/1.1",
			      12, &c) == 0);
	CHECK(ps_tls_conn_handshake(c) == PS_TLS_ST_WANT);
	hello_len = ps_tls_conn_pull_wire(c, hello, sizeof(hello));
	CHECK(hello_len > 0 && ps_tls_conn_wire_pending(c) == 0);
	ps_tls_conn_free(c);
	return 0;
}

/* Feed len bytes in full (the conn may take less per call), driving it. */
static enum ps_tls_status
drive(struct ps_tls_conn *c, const uint8_t *p, size_t len)
{
	enum ps_tls_status st = PS_TLS_ST_WANT;
	size_t n, got;
	int stall = 0;

	do {
		n = ps_tls_conn_feed(c, p, len);
		CHECK(n <= len);
		p += n;
		len -= n;
		st = ps_tls_conn_handshake(c);
		if (st == PS_TLS_ST_DONE) {
			do
				st = ps_tls_conn_read_plain(c, sink, sizeof(sink), &got);
			while (st == PS_TLS_ST_DONE);
		}
		while (ps_tls_conn_pull_wire(c, sink, sizeof(sink)) > 0)
			;
		if (st == PS_TLS_ST_FAILED) {
			CHECK(ps_tls_conn_reason(c)[0] != '\0');
			CHECK(ps_tls_conn_handshake(c) == PS_TLS_ST_FAILED);
			return st;
		}
		/* The feed window only fills when OpenSSL stops reading. */
		CHECK(n > 0 || ++stall < 2);
	} while (len > 0);
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mut[sizeof(hello)];
	const uint8_t *sizes, *stream;
	struct ps_tls_conn *c;
	enum ps_tls_status st = PS_TLS_ST_WANT;
	size_t k, n, off, i, stream_len;
	uint8_t flags;

	if (size < 2)
		return 0;
	flags = data[0];
	k = data[1] & 7u;
	if (size < 2 + k)
		return 0;
	sizes = data + 2;
	stream = data + 2 + k;
	stream_len = size - 2 - k;

	if (flags & 0x80) {
		CHECK(ps_tls_conn_new(cli_ctx, "server.test", NULL, 0, &c) == 0);
		CHECK(ps_tls_conn_handshake(c) == PS_TLS_ST_WANT);
		while (ps_tls_conn_pull_wire(c, sink, sizeof(sink)) > 0)
			;
	} else {
		CHECK(ps_tls_conn_new(srv_ctx, NULL, (const uint8_t *)"\x02h2", 3, &c) == 0);
		if (flags & 0x40) {
			st = drive(c, hello, hello_len);
		} else if (flags & 0x20) {
			memcpy(mut, hello, hello_len);
			for (i = 0; i < 16 && stream_len >= 2; i++) {
				mut[(size_t)stream[0] * 17u % hello_len] ^= stream[1];
				stream += 2;
				stream_len -= 2;
			}
			st = drive(c, mut, hello_len);
		}
	}
	for (off = 0, i = 0; off < stream_len && st != PS_TLS_ST_FAILED; off += n, i++) {
		n = k == 0 ? stream_len - off : (size_t)sizes[i % k] + 1u;
		if (n > stream_len - off)
			n = stream_len - off;
		st = drive(c, stream + off, n);
	}
	CHECK(st == PS_TLS_ST_WANT || st == PS_TLS_ST_FAILED);
	ps_tls_conn_free(c);
	ERR_clear_error();
	return 0;
}
