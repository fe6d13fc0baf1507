/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the ClientHello reader and parser.
 *
 * Input: byte 0 = flags (bit 7: give the reader a raw buffer; bit 6: a
 * small message buffer; bits 0-2: k), then k piece-size bytes, then the
 * client stream. The stream is fed in pieces whose sizes cycle through
 * the k bytes (size byte + 1; one piece when k is 0). The stream is also
 * parsed as one handshake message and classified prefix by prefix.
 *
 * Invariants: consumed <= len on every feed, and the sum equals the raw
 * length; the raw copy equals the stream prefix; a final verdict is
 * sticky and consumes nothing; an OK hello keeps every list, extension,
 * key share, SNI and ALPN inside its message, the SNI copy is
 * NUL-terminated and at most 253 bytes, the ALPN walk ends exactly at the
 * list end, and the message parses again to the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ps_tls_hello.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static uint8_t msgbuf[PS_TLS_HELLO_MAX];
static uint8_t rawbuf[PS_TLS_HELLO_RAW_MAX];
static struct ps_tls_hello_reader rd;
static struct ps_tls_client_hello again;

static void
check_span(const struct ps_tls_client_hello *h, const uint8_t *p, size_t n)
{
	CHECK(p >= h->msg);
	CHECK((size_t)(p - h->msg) <= h->msg_len);
	CHECK(n <= h->msg_len - (size_t)(p - h->msg));
}

static void
check_list(const struct ps_tls_client_hello *h, const struct ps_tls_u16_list *l)
{
	unsigned int i;
	volatile uint16_t sink = 0;

	if (l->p == NULL) {
		CHECK(l->n == 0);
		return;
	}
	check_span(h, l->p, 2u * l->n);
	for (i = 0; i < l->n; i++)
		sink ^= ps_tls_u16_at(l, i);
	(void)sink;
}

static void
check_hello(const struct ps_tls_client_hello *h)
{
	const uint8_t *proto;
	size_t cur = 0, plen, n = 0;
	unsigned int i;

	CHECK(h->msg_len >= PS_TLS_HS_HLEN && h->msg_len <= PS_TLS_HELLO_MAX);
	CHECK(h->session_id_len <= PS_TLS_SESSION_ID_MAX);
	check_list(h, &h->cipher_suites);
	CHECK(h->cipher_suites.n >= 1);
	check_list(h, &h->supported_versions);
	check_list(h, &h->supported_groups);
	check_list(h, &h->signature_algorithms);
	CHECK(h->n_compression >= 1);
	check_span(h, h->compression, h->n_compression);
	CHECK(h->n_ext <= PS_TLS_EXT_MAX);
	for (i = 0; i < h->n_ext; i++) {
		CHECK(h->ext[i].off <= h->msg_len);
		CHECK(h->ext[i].len <= h->msg_len - h->ext[i].off);
		if (i > 0)
			CHECK(h->ext[i].off > h->ext[i - 1].off);
	}
	if (h->n_ext > 0)
		CHECK(h->has_extensions);
	CHECK(h->n_key_shares <= PS_TLS_KEY_SHARE_MAX);
	for (i = 0; i < h->n_key_shares; i++) {
		CHECK(h->key_shares[i].len > 0);
		CHECK(h->key_shares[i].off <= h->msg_len);
		CHECK(h->key_shares[i].len <= h->msg_len - h->key_shares[i].off);
	}
	if (h->has_sni) {
		check_span(h, h->sni_raw, h->sni_raw_len);
		CHECK(h->sni_raw_len > 0);
	}
	CHECK(h->sni[h->sni_len] == '\0');
	CHECK(strlen(h->sni) == h->sni_len);
	CHECK(h->sni_len <= PS_TLS_SNI_MAX);
	CHECK(h->sni_valid == (h->sni_len > 0));
	if (h->sni_valid) {
		CHECK(h->sni_len == h->sni_raw_len);
		CHECK(strncasecmp(h->sni, (const char *)h->sni_raw, h->sni_len) == 0);
	}
	if (h->has_alpn) {
		check_span(h, h->alpn, h->alpn_len);
		while (ps_tls_alpn_next(h, &cur, &proto, &plen)) {
			CHECK(plen > 0);
			check_span(h, proto, plen);
			n++;
		}
		CHECK(cur == h->alpn_len);
		CHECK(n == h->n_alpn);
	}
	if (h->has_psk)
		CHECK(h->ext[h->n_ext - 1].type == PS_TLS_EXT_PRE_SHARED_KEY);
	(void)ps_tls_hello_max_version(h);

	CHECK(ps_tls_hello_parse(h->msg, h->msg_len, &again) == PS_TLS_OK);
	CHECK(again.n_ext == h->n_ext);
	CHECK(again.sni_len == h->sni_len);
	CHECK(memcmp(again.sni, h->sni, h->sni_len + 1u) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ps_tls_client_hello *h;
	const uint8_t *sizes, *stream, *raw;
	enum ps_tls_verdict v = PS_TLS_NEED_MORE, c;
	size_t k, len, off = 0, piece, used, i = 0, n;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	k = flags & 7;
	if (size < 1 + k)
		return 0;
	sizes = data + 1;
	stream = data + 1 + k;
	len = size - 1 - k;

	/* The whole stream as one message. */
	if (ps_tls_hello_parse(stream, len, &again) == PS_TLS_OK)
		check_hello(&again);
	for (n = 0; n <= len && n <= 8; n++) {
		c = ps_tls_classify(stream, n);
		CHECK(c < PS_TLS_VERDICT_MAX);
		if (n >= 6 && len >= 6)
			CHECK(c != PS_TLS_NEED_MORE);
	}

	ps_tls_hello_init(&rd, msgbuf, (flags & 0x40) ? 300 : sizeof(msgbuf),
			  (flags & 0x80) ? rawbuf : NULL, sizeof(rawbuf));
	while (off < len) {
		piece = k == 0 ? len - off : (size_t)sizes[i++ % k] + 1;
		if (piece > len - off)
			piece = len - off;
		v = ps_tls_hello_feed(&rd, stream + off, piece, &used);
		CHECK(used <= piece);
		off += used;
		CHECK(ps_tls_hello_raw(&rd, NULL) == off);
		if (v != PS_TLS_NEED_MORE)
			break;
		CHECK(used == piece);
	}
	CHECK(v < PS_TLS_VERDICT_MAX);
	CHECK(ps_tls_hello_verdict(&rd) == v);
	if (ps_tls_hello_raw(&rd, &raw) > 0 && raw != NULL)
		CHECK(memcmp(raw, stream, off) == 0);
	if (v != PS_TLS_NEED_MORE && off < len) {
		CHECK(ps_tls_hello_feed(&rd, stream + off, len - off, &used) == v);
		CHECK(used == 0);
	}
	h = ps_tls_hello_result(&rd);
	CHECK((h != NULL) == (v == PS_TLS_OK));
	if (h != NULL) {
		CHECK(h->msg == msgbuf);
		CHECK(h->raw_len == off);
		CHECK(h->n_records >= 1);
		CHECK(h->raw_len == h->msg_len + PS_TLS_RECORD_HLEN * (size_t)h->n_records);
		check_hello(h);
	}
	return 0;
}
