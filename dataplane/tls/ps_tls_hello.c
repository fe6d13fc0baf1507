/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight ClientHello reader: first-bytes classifier, record and
 * handshake reassembly, ClientHello parser. See ps_tls_hello.h and
 * docs/tls-hello.md.
 */
#include <string.h>

#include "ps_tls_hello.h"

static const char *const verdict_names[] = {
#define PS_TLS_VERDICT_NAME(name, str) [PS_TLS_##name] = str,
	PS_TLS_VERDICTS(PS_TLS_VERDICT_NAME)
#undef PS_TLS_VERDICT_NAME
};

const char *
ps_tls_verdict_name(enum ps_tls_verdict v)
{
	if ((unsigned int)v >= PS_TLS_VERDICT_MAX)
		return "invalid";
	return verdict_names[v];
}

/*
 * First bytes of a stream. A TLS record header is type(1) version(2)
 * length(2) (RFC 8446 section 5.1); the ClientHello's handshake type is the
 * sixth byte. An SSL 2.0-compatible CLIENT-HELLO (RFC 5246 appendix E.2)
 * has a 2-byte header with the high bit set, msg_type 1 and a version of
 * 0x0002 or 0x0300..0x0304. Client-first protocols (HTTP, SSH, SMTP
 * commands, ...) start with printable ASCII and fail the first test.
 */
enum ps_tls_verdict
ps_tls_classify(const uint8_t *data, size_t len)
{
	uint16_t v;

	if (len == 0)
		return PS_TLS_NEED_MORE;
	if (data[0] == PS_TLS_CT_HANDSHAKE) {
		if (len > 1 && data[1] != 3)
			return PS_TLS_NOT_TLS;
		if (len > 2 && data[2] > 4)
			return PS_TLS_NOT_TLS;
		/* RFC 8446 section 5.1: no zero-length handshake fragments. */
		if (len > 4 && ps_tls_be16(data + 3) == 0)
			return PS_TLS_BAD_LENGTH;
		/* A TLS handshake record, but the first message is not a ClientHello. */
		if (len > 5 && data[5] != PS_TLS_HS_CLIENT_HELLO)
			return PS_TLS_BAD_HANDSHAKE_TYPE;
		return len > 5 ? PS_TLS_OK : PS_TLS_NEED_MORE;
	}
	if (data[0] & 0x80) {
		/* msg_type(1) version(2) and three 2-byte lengths: 9 bytes at least. */
		if (len > 1 && (((uint16_t)(data[0] & 0x7f) << 8) | data[1]) < 9)
			return PS_TLS_NOT_TLS;
		if (len > 2 && data[2] != 1)
			return PS_TLS_NOT_TLS;
		if (len > 3 && data[3] != 0 && data[3] != 3)
			return PS_TLS_NOT_TLS;
		if (len > 4) {
			v = ps_tls_be16(data + 3);
			if (v != 0x0002 && (v < 0x0300 || v > 0x0304))
				return PS_TLS_NOT_TLS;
			return PS_TLS_SSLV2;
		}
		return PS_TLS_NEED_MORE;
	}
	return PS_TLS_NOT_TLS;
}

/* A bounds-checked cursor over one vector of the message. */
struct hello_cur {
	const uint8_t *p;
	size_t end;
	size_t off;
};

static bool
cur_has(const struct hello_cur *c, size_t n)
{
	return c->end - c->off >= n;
}

static uint8_t
cur_u8(struct hello_cur *c)
{
	return c->p[c->off++];
}

static uint16_t
cur_u16(struct hello_cur *c)
{
	uint16_t v = ps_tls_be16(c->p + c->off);

	c->off += 2;
	return v;
}

/* Fill a 16-bit list of nbytes bytes at the cursor; note GREASE in grease_bit. */
static void
u16_list(struct ps_tls_client_hello *h, struct ps_tls_u16_list *l, const uint8_t *p,
	 size_t nbytes, uint8_t grease_bit)
{
	size_t i;

	l->p = p;
	l->n = (uint16_t)(nbytes / 2);
	for (i = 0; i < l->n; i++)
		if (ps_tls_is_grease(ps_tls_be16(p + 2 * i)))
			h->grease |= grease_bit;
}

/*
 * RFC 6066 section 3: HostName is "the fully qualified DNS hostname of
 * the server ... without a trailing dot", literal IP addresses are not
 * permitted. Letters, digits, '-' and '_' (seen in real names), labels of
 * 1..63 bytes (RFC 1035 section 2.3.4), at most 253 bytes, and the last
 * label not all digits (an IPv4 literal).
 */
static bool
sni_check(struct ps_tls_client_hello *h, const uint8_t *p, size_t n)
{
	size_t i, label = 0;
	bool digits = true;
	uint8_t ch;

	if (n == 0 || n > PS_TLS_SNI_MAX)
		return false;
	for (i = 0; i < n; i++) {
		ch = p[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
		if (!(ch >= '0' && ch <= '9'))
			digits = false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || digits)
		return false;
	for (i = 0; i < n; i++) {
		ch = p[i];
		h->sni[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	h->sni[n] = '\0';
	h->sni_len = (uint8_t)n;
	return true;
}

/* RFC 6066 section 3: ServerNameList server_name_list<1..2^16-1>. */
static enum ps_tls_verdict
ext_sni(struct ps_tls_client_hello *h, struct hello_cur *c)
{
	uint16_t list_len, name_len;
	uint8_t name_type;

	if (!cur_has(c, 2))
		return PS_TLS_BAD_SNI;
	list_len = cur_u16(c);
	if (list_len == 0 || list_len != c->end - c->off)
		return PS_TLS_BAD_SNI;
	while (c->off < c->end) {
		if (!cur_has(c, 3))
			return PS_TLS_BAD_SNI;
		name_type = cur_u8(c);
		name_len = cur_u16(c);
		if (name_len == 0 || !cur_has(c, name_len))
			return PS_TLS_BAD_SNI;
		if (name_type == 0) {
			/* "MUST NOT contain more than one name of the same name_type" */
			if (h->has_sni)
				return PS_TLS_BAD_SNI;
			h->has_sni = true;
			h->sni_raw = c->p + c->off;
			h->sni_raw_len = name_len;
			h->sni_valid = sni_check(h, h->sni_raw, name_len);
		}
		c->off += name_len;
	}
	if (!h->has_sni)
		return PS_TLS_BAD_SNI;
	return PS_TLS_OK;
}

/*
 * RFC 7301 section 3.1: ProtocolName protocol_name_list<2..2^16-1>, each
 * ProtocolName opaque<1..2^8-1>; empty names are not allowed.
 */
static enum ps_tls_verdict
ext_alpn(struct ps_tls_client_hello *h, struct hello_cur *c)
{
	uint16_t list_len, n = 0;
	uint8_t name_len;

	if (!cur_has(c, 2))
		return PS_TLS_BAD_ALPN;
	list_len = cur_u16(c);
	if (list_len < 2 || list_len != c->end - c->off)
		return PS_TLS_BAD_ALPN;
	h->alpn = c->p + c->off;
	h->alpn_len = list_len;
	while (c->off < c->end) {
		name_len = cur_u8(c);
		if (name_len == 0 || !cur_has(c, name_len))
			return PS_TLS_BAD_ALPN;
		if (name_len == 2 && ps_tls_is_grease(ps_tls_be16(c->p + c->off)))
			h->grease |= PS_TLS_GREASE_ALPN;
		c->off += name_len;
		n++;
	}
	h->has_alpn = true;
	h->n_alpn = n;
	return PS_TLS_OK;
}

/* A uint16 vector with a 2-byte length filling the extension: groups, sigalgs. */
static enum ps_tls_verdict
ext_u16_vec(struct ps_tls_client_hello *h, struct hello_cur *c, struct ps_tls_u16_list *l,
	    uint8_t grease_bit)
{
	uint16_t n;

	if (!cur_has(c, 2))
		return PS_TLS_BAD_LENGTH;
	n = cur_u16(c);
	if (n < 2 || n % 2 != 0 || n != c->end - c->off)
		return PS_TLS_BAD_LENGTH;
	u16_list(h, l, c->p + c->off, n, grease_bit);
	return PS_TLS_OK;
}

/* RFC 8446 section 4.2.1: ProtocolVersion versions<2..254> in a ClientHello. */
static enum ps_tls_verdict
ext_versions(struct ps_tls_client_hello *h, struct hello_cur *c)
{
	uint8_t n;

	if (!cur_has(c, 1))
		return PS_TLS_BAD_LENGTH;
	n = cur_u8(c);
	if (n < 2 || n % 2 != 0 || n != c->end - c->off)
		return PS_TLS_BAD_LENGTH;
	u16_list(h, &h->supported_versions, c->p + c->off, n, PS_TLS_GREASE_VERSION);
	return PS_TLS_OK;
}

/*
 * RFC 8446 section 4.2.8: KeyShareEntry client_shares<0..2^16-1>, each
 * key_exchange<1..2^16-1>; "Clients MUST NOT offer multiple KeyShareEntry
 * values for the same group."
 */
static enum ps_tls_verdict
ext_key_share(struct ps_tls_client_hello *h, struct hello_cur *c)
{
	struct ps_tls_key_share *ks;
	uint16_t n, group, len;
	unsigned int i;

	if (!cur_has(c, 2))
		return PS_TLS_BAD_KEY_SHARE;
	n = cur_u16(c);
	if (n != c->end - c->off)
		return PS_TLS_BAD_KEY_SHARE;
	while (c->off < c->end) {
		if (!cur_has(c, 4))
			return PS_TLS_BAD_KEY_SHARE;
		group = cur_u16(c);
		len = cur_u16(c);
		if (len == 0 || !cur_has(c, len))
			return PS_TLS_BAD_KEY_SHARE;
		if (h->n_key_shares == PS_TLS_KEY_SHARE_MAX)
			return PS_TLS_BAD_KEY_SHARE;
		for (i = 0; i < h->n_key_shares; i++)
			if (h->key_shares[i].group == group)
				return PS_TLS_BAD_KEY_SHARE;
		if (ps_tls_is_grease(group))
			h->grease |= PS_TLS_GREASE_KEY_SHARE;
		ks = &h->key_shares[h->n_key_shares++];
		ks->group = group;
		ks->len = len;
		ks->off = (uint32_t)c->off;
		c->off += len;
	}
	h->has_key_share = true;
	return PS_TLS_OK;
}

/*
 * RFC 8446 section 4.2.11: OfferedPsks { PskIdentity identities<7..2^16-1>;
 * PskBinderEntry binders<33..2^16-1>; }. Only the outer shape is checked:
 * the identities are opaque to the appliance.
 */
static enum ps_tls_verdict
ext_psk(struct hello_cur *c)
{
	uint16_t n;

	if (!cur_has(c, 2))
		return PS_TLS_BAD_LENGTH;
	n = cur_u16(c);
	if (n < 7 || !cur_has(c, n))
		return PS_TLS_BAD_LENGTH;
	c->off += n;
	if (!cur_has(c, 2))
		return PS_TLS_BAD_LENGTH;
	n = cur_u16(c);
	if (n < 33 || n != c->end - c->off)
		return PS_TLS_BAD_LENGTH;
	return PS_TLS_OK;
}

/* An opaque<lo..255> vector with a 1-byte length filling the extension. */
static enum ps_tls_verdict
ext_u8_vec(struct hello_cur *c, uint8_t lo)
{
	uint8_t n;

	if (!cur_has(c, 1))
		return PS_TLS_BAD_LENGTH;
	n = cur_u8(c);
	if (n < lo || n != c->end - c->off)
		return PS_TLS_BAD_LENGTH;
	return PS_TLS_OK;
}

static enum ps_tls_verdict
ext_one(struct ps_tls_client_hello *h, uint16_t type, struct hello_cur *c)
{
	size_t len = c->end - c->off;

	switch (type) {
	case PS_TLS_EXT_SERVER_NAME:
		return ext_sni(h, c);
	case PS_TLS_EXT_ALPN:
		return ext_alpn(h, c);
	case PS_TLS_EXT_SUPPORTED_VERSIONS:
		return ext_versions(h, c);
	case PS_TLS_EXT_SUPPORTED_GROUPS:
		return ext_u16_vec(h, c, &h->supported_groups, PS_TLS_GREASE_GROUP);
	case PS_TLS_EXT_SIGNATURE_ALGORITHMS:
		return ext_u16_vec(h, c, &h->signature_algorithms, PS_TLS_GREASE_SIGALG);
	case PS_TLS_EXT_KEY_SHARE:
		return ext_key_share(h, c);
	case PS_TLS_EXT_PRE_SHARED_KEY:
		h->has_psk = true;
		return ext_psk(c);
	case PS_TLS_EXT_PSK_KEY_EXCHANGE_MODES:
		/* RFC 8446 section 4.2.9: PskKeyExchangeMode ke_modes<1..255>. */
		h->has_psk_modes = true;
		return ext_u8_vec(c, 1);
	case PS_TLS_EXT_SESSION_TICKET:
		/* RFC 5077 section 3.2: empty asks for a ticket, else the ticket. */
		h->has_session_ticket = true;
		h->session_ticket_len = (uint16_t)len;
		return PS_TLS_OK;
	case PS_TLS_EXT_EARLY_DATA:
		/* RFC 8446 section 4.2.10: empty in a ClientHello. */
		h->has_early_data = true;
		return len == 0 ? PS_TLS_OK : PS_TLS_BAD_LENGTH;
	case PS_TLS_EXT_EXTENDED_MASTER_SECRET:
		/* RFC 7627 section 5.1: "The extension_data field ... is empty." */
		h->has_ems = true;
		return len == 0 ? PS_TLS_OK : PS_TLS_BAD_LENGTH;
	case PS_TLS_EXT_ENCRYPT_THEN_MAC:
		/* RFC 7366 section 2: empty extension_data. */
		h->has_etm = true;
		return len == 0 ? PS_TLS_OK : PS_TLS_BAD_LENGTH;
	case PS_TLS_EXT_RENEGOTIATION_INFO:
		/* RFC 5746 section 3.2: opaque renegotiated_connection<0..255>. */
		h->has_reneg_info = true;
		return ext_u8_vec(c, 0);
	case PS_TLS_EXT_STATUS_REQUEST:
		h->has_status_request = true;
		return PS_TLS_OK;
	default:
		return PS_TLS_OK;
	}
}

/*
 * RFC 8446 section 4.2 / RFC 5246 section 7.4.1.4: Extension
 * extensions<8..2^16-1> (TLS 1.3), at most one of each type, and
 * pre_shared_key "MUST be the last extension in the ClientHello".
 */
static enum ps_tls_verdict
parse_extensions(struct ps_tls_client_hello *h, struct hello_cur *c)
{
	struct hello_cur ec;
	enum ps_tls_verdict v;
	uint16_t type, len;
	unsigned int i;

	while (c->off < c->end) {
		if (!cur_has(c, 4))
			return PS_TLS_TRUNCATED_FIELD;
		type = cur_u16(c);
		len = cur_u16(c);
		if (!cur_has(c, len))
			return PS_TLS_TRUNCATED_FIELD;
		for (i = 0; i < h->n_ext; i++)
			if (h->ext[i].type == type)
				return PS_TLS_DUPLICATE_EXTENSION;
		if (h->has_psk)
			return PS_TLS_PSK_NOT_LAST;
		if (h->n_ext == PS_TLS_EXT_MAX)
			return PS_TLS_TOO_MANY_EXTENSIONS;
		h->ext[h->n_ext].type = type;
		h->ext[h->n_ext].len = len;
		h->ext[h->n_ext].off = (uint32_t)c->off;
		h->n_ext++;
		if (ps_tls_is_grease(type))
			h->grease |= PS_TLS_GREASE_EXT;
		ec.p = c->p;
		ec.off = c->off;
		ec.end = c->off + len;
		v = ext_one(h, type, &ec);
		if (v != PS_TLS_OK)
			return v;
		c->off += len;
	}
	return PS_TLS_OK;
}

enum ps_tls_verdict
ps_tls_hello_parse(const uint8_t *msg, size_t len, struct ps_tls_client_hello *out)
{
	struct hello_cur c;
	uint32_t body;
	uint16_t n, i, suite;
	uint8_t n8;

	memset(out, 0, sizeof(*out));
	out->msg = msg;
	out->msg_len = (uint32_t)len;
	if (len < PS_TLS_HS_HLEN)
		return PS_TLS_TRUNCATED_FIELD;
	if (len > PS_TLS_HELLO_MAX)
		return PS_TLS_HELLO_TOO_LONG;
	/* RFC 8446 section 4: msg_type(1) length(3) body. */
	if (msg[0] != PS_TLS_HS_CLIENT_HELLO)
		return PS_TLS_BAD_HANDSHAKE_TYPE;
	body = (uint32_t)msg[1] << 16 | (uint32_t)msg[2] << 8 | msg[3];
	if (PS_TLS_HS_HLEN + (size_t)body > len)
		return PS_TLS_TRUNCATED_FIELD;
	if (PS_TLS_HS_HLEN + (size_t)body < len)
		return PS_TLS_TRAILING_DATA;
	c.p = msg;
	c.off = PS_TLS_HS_HLEN;
	c.end = len;

	/* RFC 8446 section 4.1.2: legacy_version, random, legacy_session_id<0..32>. */
	if (!cur_has(&c, 2 + PS_TLS_RANDOM_LEN + 1))
		return PS_TLS_TRUNCATED_FIELD;
	out->legacy_version = cur_u16(&c);
	memcpy(out->random, c.p + c.off, PS_TLS_RANDOM_LEN);
	c.off += PS_TLS_RANDOM_LEN;
	n8 = cur_u8(&c);
	if (n8 > PS_TLS_SESSION_ID_MAX)
		return PS_TLS_BAD_LENGTH;
	if (!cur_has(&c, n8))
		return PS_TLS_TRUNCATED_FIELD;
	memcpy(out->session_id, c.p + c.off, n8);
	out->session_id_len = n8;
	c.off += n8;

	/* CipherSuite cipher_suites<2..2^16-2>. */
	if (!cur_has(&c, 2))
		return PS_TLS_TRUNCATED_FIELD;
	n = cur_u16(&c);
	if (n < 2 || n % 2 != 0)
		return PS_TLS_BAD_LENGTH;
	if (!cur_has(&c, n))
		return PS_TLS_TRUNCATED_FIELD;
	u16_list(out, &out->cipher_suites, c.p + c.off, n, PS_TLS_GREASE_CIPHER);
	for (i = 0; i < out->cipher_suites.n; i++) {
		suite = ps_tls_u16_at(&out->cipher_suites, i);
		if (suite == PS_TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
			out->has_reneg_scsv = true;
		else if (suite == PS_TLS_FALLBACK_SCSV)
			out->has_fallback_scsv = true;
	}
	c.off += n;

	/* opaque legacy_compression_methods<1..2^8-1>. */
	if (!cur_has(&c, 1))
		return PS_TLS_TRUNCATED_FIELD;
	n8 = cur_u8(&c);
	if (n8 == 0)
		return PS_TLS_BAD_LENGTH;
	if (!cur_has(&c, n8))
		return PS_TLS_TRUNCATED_FIELD;
	out->compression = c.p + c.off;
	out->n_compression = n8;
	c.off += n8;

	/* RFC 5246 section 7.4.1.2: a TLS 1.2 hello may end here, without extensions. */
	if (c.off == c.end)
		return PS_TLS_OK;
	if (!cur_has(&c, 2))
		return PS_TLS_TRUNCATED_FIELD;
	n = cur_u16(&c);
	if (!cur_has(&c, n))
		return PS_TLS_TRUNCATED_FIELD;
	if (c.off + n != c.end)
		return PS_TLS_TRAILING_DATA;
	out->has_extensions = true;
	return parse_extensions(out, &c);
}

bool
ps_tls_alpn_next(const struct ps_tls_client_hello *h, size_t *cursor,
		 const uint8_t **proto, size_t *proto_len)
{
	size_t off = *cursor;

	if (!h->has_alpn || off >= h->alpn_len)
		return false;
	/* ext_alpn() checked that every name fits in the list. */
	*proto_len = h->alpn[off];
	*proto = h->alpn + off + 1;
	*cursor = off + 1 + *proto_len;
	return true;
}

uint16_t
ps_tls_hello_max_version(const struct ps_tls_client_hello *h)
{
	uint16_t best = 0, v;
	unsigned int i;

	if (h->supported_versions.p == NULL)
		return h->legacy_version;
	for (i = 0; i < h->supported_versions.n; i++) {
		v = ps_tls_u16_at(&h->supported_versions, i);
		if (!ps_tls_is_grease(v) && v > best)
			best = v;
	}
	return best;
}

void
ps_tls_hello_init(struct ps_tls_hello_reader *r, uint8_t *msg, size_t msg_cap,
		  uint8_t *raw, size_t raw_cap)
{
	memset(r, 0, sizeof(*r));
	r->msg = msg;
	r->msg_cap = (uint32_t)(msg_cap > PS_TLS_HELLO_MAX ? PS_TLS_HELLO_MAX : msg_cap);
	r->raw = raw;
	r->raw_cap = raw == NULL ? 0 : (uint32_t)(raw_cap > UINT32_MAX ? UINT32_MAX : raw_cap);
	r->verdict = PS_TLS_NEED_MORE;
}

/* The handshake message is complete: it must end its record, then parse it. */
static enum ps_tls_verdict
hello_complete(struct ps_tls_hello_reader *r)
{
	enum ps_tls_verdict v;

	/*
	 * RFC 8446 section 5.1: messages before a key change (0-RTT data may
	 * follow the hello) must end on a record boundary; a TLS 1.2 client
	 * sends nothing after its hello before the server answers.
	 */
	if (r->rec_left != 0)
		return PS_TLS_TRAILING_DATA;
	v = ps_tls_hello_parse(r->msg, r->msg_len, &r->hello);
	r->hello.n_records = r->n_records;
	r->hello.record_version = r->record_version;
	return v;
}

/*
 * Run the record machine over p[0..n): record headers, then their payload
 * into the message buffer. Sets *used to the bytes taken; returns
 * NEED_MORE when all were taken and the hello is not complete yet.
 */
static enum ps_tls_verdict
records_input(struct ps_tls_hello_reader *r, const uint8_t *p, size_t n, size_t *used)
{
	size_t i = 0, k;
	uint16_t rlen, ver;
	uint32_t body;

	*used = 0;
	while (i < n) {
		if (r->rec_left == 0) {
			r->hdr[r->hdr_len++] = p[i++];
			*used = i;
			if (r->hdr_len < PS_TLS_RECORD_HLEN)
				continue;
			r->hdr_len = 0;
			ver = ps_tls_be16(r->hdr + 1);
			rlen = ps_tls_be16(r->hdr + 3);
			/* Only handshake records until the hello is complete. */
			if (r->hdr[0] != PS_TLS_CT_HANDSHAKE)
				return PS_TLS_BAD_RECORD_TYPE;
			if ((ver >> 8) != 3)
				return PS_TLS_BAD_RECORD_VERSION;
			/* RFC 8446 section 5.1: no zero-length handshake fragments. */
			if (rlen == 0)
				return PS_TLS_BAD_LENGTH;
			if (rlen > PS_TLS_RECORD_MAX)
				return PS_TLS_RECORD_TOO_LONG;
			if (r->n_records == 0)
				r->record_version = ver;
			r->n_records++;	/* at most one per consumed byte: no overflow */
			r->rec_left = rlen;
			continue;
		}
		if (r->msg_need == 0) {
			/* Gather the 4-byte handshake header first. */
			k = PS_TLS_HS_HLEN - r->msg_len;
			if (r->msg_cap < PS_TLS_HS_HLEN)
				return PS_TLS_HELLO_TOO_LONG;
		} else {
			k = r->msg_need - r->msg_len;
		}
		if (k > n - i)
			k = n - i;
		if (k > r->rec_left)
			k = r->rec_left;
		memcpy(r->msg + r->msg_len, p + i, k);
		r->msg_len += (uint32_t)k;
		r->rec_left = (uint16_t)(r->rec_left - k);
		i += k;
		*used = i;
		if (r->msg_need == 0) {
			if (r->msg_len < PS_TLS_HS_HLEN)
				continue;
			if (r->msg[0] != PS_TLS_HS_CLIENT_HELLO)
				return PS_TLS_BAD_HANDSHAKE_TYPE;
			body = (uint32_t)r->msg[1] << 16 | (uint32_t)r->msg[2] << 8 | r->msg[3];
			if (body > r->msg_cap - PS_TLS_HS_HLEN)
				return PS_TLS_HELLO_TOO_LONG;
			r->msg_need = PS_TLS_HS_HLEN + body;
		}
		if (r->msg_len == r->msg_need)
			return hello_complete(r);
	}
	return PS_TLS_NEED_MORE;
}

/* Account n consumed stream bytes; copy them when a raw buffer was given. */
static bool
raw_take(struct ps_tls_hello_reader *r, const uint8_t *p, size_t n)
{
	if (r->raw != NULL) {
		if (n > r->raw_cap - r->raw_len)
			return false;
		memcpy(r->raw + r->raw_len, p, n);
	} else if (n > UINT32_MAX - r->raw_len) {
		return false;
	}
	r->raw_len += (uint32_t)n;
	return true;
}

static enum ps_tls_verdict
feed_end(struct ps_tls_hello_reader *r, enum ps_tls_verdict v, size_t off, size_t *consumed)
{
	*consumed = off;
	r->verdict = (uint8_t)v;
	if (v == PS_TLS_OK)
		r->hello.raw_len = r->raw_len;
	return v;
}

enum ps_tls_verdict
ps_tls_hello_feed(struct ps_tls_hello_reader *r, const uint8_t *data, size_t len,
		  size_t *consumed)
{
	enum ps_tls_verdict v;
	size_t off = 0, used;

	*consumed = 0;
	if (r->verdict != PS_TLS_NEED_MORE)
		return (enum ps_tls_verdict)r->verdict;
	while (off < len) {
		if (!r->classified) {
			/* Byte by byte until the classifier is sure (6 bytes at most). */
			if (!raw_take(r, data + off, 1))
				return feed_end(r, PS_TLS_RAW_TOO_LONG, off, consumed);
			r->head[r->head_len++] = data[off++];
			v = ps_tls_classify(r->head, r->head_len);
			if (v == PS_TLS_NEED_MORE)
				continue;
			if (v != PS_TLS_OK)
				return feed_end(r, v, off, consumed);
			r->classified = true;
			v = records_input(r, r->head, r->head_len, &used);
			if (v != PS_TLS_NEED_MORE)
				return feed_end(r, v, off, consumed);
			continue;
		}
		v = records_input(r, data + off, len - off, &used);
		if (!raw_take(r, data + off, used))
			return feed_end(r, PS_TLS_RAW_TOO_LONG, off, consumed);
		off += used;
		if (v != PS_TLS_NEED_MORE)
			return feed_end(r, v, off, consumed);
	}
	*consumed = off;
	return PS_TLS_NEED_MORE;
}

const struct ps_tls_client_hello *
ps_tls_hello_result(const struct ps_tls_hello_reader *r)
{
	if (r->verdict != PS_TLS_OK)
		return NULL;
	return &r->hello;
}

enum ps_tls_verdict
ps_tls_hello_verdict(const struct ps_tls_hello_reader *r)
{
	return (enum ps_tls_verdict)r->verdict;
}

size_t
ps_tls_hello_raw(const struct ps_tls_hello_reader *r, const uint8_t **out)
{
	if (out != NULL)
		*out = r->raw;
	return r->raw_len;
}
