/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight ClientHello reader: classifies the first client bytes of a TCP
 * stream, reassembles TLS handshake records (RFC 8446 section 5.1, RFC 5246
 * section 6.2.1) and the ClientHello across them (RFC 8446 section 4.1.2,
 * RFC 5246 section 7.4.1.2), and extracts what the policy and the TLS glue
 * need: versions, suites, groups, signature algorithms, key share groups,
 * SNI (RFC 6066 section 3), ALPN (RFC 7301 section 3.1), resumption hints
 * and the raw extension list.
 *
 * Pure C: no OpenSSL, no DPDK header, no allocation, no global state. The
 * reader only writes into buffers its caller hands to ps_tls_hello_init().
 * Any lcore may use a reader it owns; a reader is never shared. See
 * docs/tls-hello.md.
 */
#ifndef PS_TLS_HELLO_H
#define PS_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest ClientHello accepted: the handshake message, 4-byte header included. */
#define PS_TLS_HELLO_MAX	65536u
/* RFC 8446 section 5.1 / RFC 5246 section 6.2.1: TLSPlaintext.length <= 2^14. */
#define PS_TLS_RECORD_MAX	16384u
#define PS_TLS_RECORD_HLEN	5u
#define PS_TLS_HS_HLEN		4u
/*
 * Suggested size of the optional raw buffer: the largest hello in up to 64
 * records. A hello cut into more, smaller records than that does not fit
 * and is refused with PS_TLS_RAW_TOO_LONG (no real client does this).
 */
#define PS_TLS_HELLO_RAW_MAX	(PS_TLS_HELLO_MAX + 64u * PS_TLS_RECORD_HLEN)
#define PS_TLS_EXT_MAX		128u	/* extensions kept; more are refused */
#define PS_TLS_KEY_SHARE_MAX	16u	/* key shares kept; more are refused */
#define PS_TLS_SNI_MAX		253u	/* RFC 1035 name without the trailing dot */
#define PS_TLS_RANDOM_LEN	32u
#define PS_TLS_SESSION_ID_MAX	32u

/* Record content type (RFC 8446 section 5.1) and handshake type (4). */
#define PS_TLS_CT_HANDSHAKE	22
#define PS_TLS_HS_CLIENT_HELLO	1

/* Extension types (IANA "TLS ExtensionType Values"). */
#define PS_TLS_EXT_SERVER_NAME			0	/* RFC 6066 section 3 */
#define PS_TLS_EXT_STATUS_REQUEST		5	/* RFC 6066 section 8 */
#define PS_TLS_EXT_SUPPORTED_GROUPS		10	/* RFC 8446 section 4.2.7 */
#define PS_TLS_EXT_EC_POINT_FORMATS		11	/* RFC 8422 section 5.1.2 */
#define PS_TLS_EXT_SIGNATURE_ALGORITHMS		13	/* RFC 8446 section 4.2.3 */
#define PS_TLS_EXT_ALPN				16	/* RFC 7301 section 3.1 */
#define PS_TLS_EXT_PADDING			21	/* RFC 7685 */
#define PS_TLS_EXT_ENCRYPT_THEN_MAC		22	/* RFC 7366 */
#define PS_TLS_EXT_EXTENDED_MASTER_SECRET	23	/* RFC 7627 */
#define PS_TLS_EXT_SESSION_TICKET		35	/* RFC 5077 section 3.2 */
#define PS_TLS_EXT_PRE_SHARED_KEY		41	/* RFC 8446 section 4.2.11 */
#define PS_TLS_EXT_EARLY_DATA			42	/* RFC 8446 section 4.2.10 */
#define PS_TLS_EXT_SUPPORTED_VERSIONS		43	/* RFC 8446 section 4.2.1 */
#define PS_TLS_EXT_COOKIE			44	/* RFC 8446 section 4.2.2 */
#define PS_TLS_EXT_PSK_KEY_EXCHANGE_MODES	45	/* RFC 8446 section 4.2.9 */
#define PS_TLS_EXT_KEY_SHARE			51	/* RFC 8446 section 4.2.8 */
#define PS_TLS_EXT_RENEGOTIATION_INFO		0xff01	/* RFC 5746 section 3.2 */

/* Signalling cipher suite values. */
#define PS_TLS_EMPTY_RENEGOTIATION_INFO_SCSV	0x00ff	/* RFC 5746 section 3.3 */
#define PS_TLS_FALLBACK_SCSV			0x5600	/* RFC 7507 section 2 */

/* Where GREASE values (RFC 8701) were seen: bits of client_hello.grease. */
#define PS_TLS_GREASE_CIPHER		0x01
#define PS_TLS_GREASE_EXT		0x02
#define PS_TLS_GREASE_GROUP		0x04
#define PS_TLS_GREASE_VERSION		0x08
#define PS_TLS_GREASE_SIGALG		0x10
#define PS_TLS_GREASE_KEY_SHARE		0x20
#define PS_TLS_GREASE_ALPN		0x40

/*
 * Verdicts of the classifier and the reader, one counter each.
 * X(NAME, counter name): the enum value is PS_TLS_<NAME>. NEED_MORE and OK
 * are progress; NOT_TLS and SSLV2 say "relay untouched"; everything after
 * is a malformed or unsupported hello.
 */
#define PS_TLS_VERDICTS(X)						\
	X(NEED_MORE,		"need_more")				\
	X(OK,			"ok")					\
	X(NOT_TLS,		"not_tls")				\
	X(SSLV2,		"sslv2")				\
	X(RECORD_TOO_LONG,	"record_too_long")			\
	X(HELLO_TOO_LONG,	"hello_too_long")			\
	X(RAW_TOO_LONG,		"raw_too_long")				\
	X(BAD_RECORD_TYPE,	"bad_record_type")			\
	X(BAD_RECORD_VERSION,	"bad_record_version")			\
	X(BAD_HANDSHAKE_TYPE,	"bad_handshake_type")			\
	X(TRUNCATED_FIELD,	"truncated_field")			\
	X(BAD_LENGTH,		"bad_length")				\
	X(DUPLICATE_EXTENSION,	"duplicate_extension")			\
	X(TOO_MANY_EXTENSIONS,	"too_many_extensions")			\
	X(PSK_NOT_LAST,		"psk_not_last")				\
	X(BAD_SNI,		"bad_sni")				\
	X(BAD_ALPN,		"bad_alpn")				\
	X(BAD_KEY_SHARE,	"bad_key_share")			\
	X(TRAILING_DATA,	"trailing_data")

enum ps_tls_verdict {
#define PS_TLS_VERDICT_ENUM(name, str) PS_TLS_##name,
	PS_TLS_VERDICTS(PS_TLS_VERDICT_ENUM)
#undef PS_TLS_VERDICT_ENUM
	PS_TLS_VERDICT_MAX
};

/* A vector of big-endian uint16 values inside the hello message. */
struct ps_tls_u16_list {
	const uint8_t *p;	/* NULL when absent */
	uint16_t n;		/* number of values, not bytes */
};

/* One extension as it appeared, in order. off is from the message start. */
struct ps_tls_ext {
	uint16_t type;
	uint16_t len;		/* extension_data length */
	uint32_t off;		/* offset of extension_data in msg */
};

/* One KeyShareEntry (RFC 8446 section 4.2.8). off is from the message start. */
struct ps_tls_key_share {
	uint16_t group;
	uint16_t len;		/* key_exchange length */
	uint32_t off;		/* offset of key_exchange in msg */
};

/*
 * A parsed ClientHello. Every pointer points into msg, which is the
 * reader's (or the parse caller's) message buffer: the hello is valid as
 * long as that buffer is and is not fed again. 16-bit lists stay in wire
 * order; read them with ps_tls_u16_at().
 */
struct ps_tls_client_hello {
	const uint8_t *msg;		/* handshake message, 4-byte header included */
	uint32_t msg_len;
	uint32_t raw_len;		/* stream bytes of the records carrying it (reader only) */
	uint32_t n_records;		/* records carrying it (reader only) */
	uint16_t record_version;	/* of the first record (reader only) */
	uint16_t legacy_version;	/* ClientHello.legacy_version / client_version */
	uint8_t random[PS_TLS_RANDOM_LEN];
	uint8_t session_id_len;
	uint8_t session_id[PS_TLS_SESSION_ID_MAX];
	struct ps_tls_u16_list cipher_suites;
	const uint8_t *compression;	/* compression methods, n_compression bytes */
	uint8_t n_compression;
	uint8_t grease;			/* PS_TLS_GREASE_* bits */

	bool has_extensions;		/* the extensions block was present (may be empty) */
	struct ps_tls_u16_list supported_versions;
	struct ps_tls_u16_list supported_groups;
	struct ps_tls_u16_list signature_algorithms;
	bool has_key_share;
	uint16_t n_key_shares;
	struct ps_tls_key_share key_shares[PS_TLS_KEY_SHARE_MAX];

	/*
	 * SNI (RFC 6066 section 3): the host_name as sent (sni_raw), and when
	 * it is a valid DNS name (letters, digits, '-', '_', dot-separated
	 * labels of 1..63, at most 253 bytes, no trailing dot) a lower-cased
	 * NUL-terminated copy in sni with sni_valid set.
	 */
	bool has_sni;
	bool sni_valid;
	uint8_t sni_len;
	uint16_t sni_raw_len;
	const uint8_t *sni_raw;
	char sni[PS_TLS_SNI_MAX + 1];

	/* ALPN ProtocolNameList body (RFC 7301 section 3.1); walk with ps_tls_alpn_next(). */
	bool has_alpn;
	uint16_t n_alpn;
	uint16_t alpn_len;
	const uint8_t *alpn;

	bool has_psk;			/* pre_shared_key (RFC 8446 section 4.2.11) */
	bool has_psk_modes;		/* psk_key_exchange_modes */
	bool has_session_ticket;	/* session_ticket (RFC 5077), maybe empty */
	bool has_early_data;
	bool has_status_request;
	bool has_ems;			/* extended_master_secret (RFC 7627) */
	bool has_reneg_info;		/* renegotiation_info extension (RFC 5746) */
	bool has_reneg_scsv;		/* TLS_EMPTY_RENEGOTIATION_INFO_SCSV in the suites */
	bool has_fallback_scsv;		/* TLS_FALLBACK_SCSV in the suites (RFC 7507) */
	bool has_etm;			/* encrypt_then_mac (RFC 7366) */
	uint16_t session_ticket_len;	/* 0: asks for a ticket; > 0: offers one */

	uint16_t n_ext;
	struct ps_tls_ext ext[PS_TLS_EXT_MAX];
};

/*
 * Incremental reader state. The caller owns it (embed it in the flow) and
 * the buffers passed to ps_tls_hello_init(); fields are private to
 * ps_tls_hello.c, read them through the functions below.
 */
struct ps_tls_hello_reader {
	uint8_t *msg;			/* handshake message being reassembled */
	uint32_t msg_cap;
	uint32_t msg_len;		/* bytes of it gathered */
	uint32_t msg_need;		/* header + body length, 0 until the header is in */
	uint8_t *raw;			/* optional copy of the consumed stream */
	uint32_t raw_cap;
	uint32_t raw_len;		/* stream bytes consumed so far */
	uint16_t rec_left;		/* payload bytes of the current record to come */
	uint32_t n_records;
	uint16_t record_version;
	uint8_t head[PS_TLS_RECORD_HLEN + 1];	/* first bytes, for ps_tls_classify() */
	uint8_t head_len;
	uint8_t hdr[PS_TLS_RECORD_HLEN];	/* partial record header */
	uint8_t hdr_len;
	bool classified;
	uint8_t verdict;		/* enum ps_tls_verdict, sticky once final */
	struct ps_tls_client_hello hello;
};

/*
 * Look at the first len bytes a client sent on a TCP stream and say what
 * they are: PS_TLS_OK for a TLS handshake record that starts a ClientHello
 * (content type 22, version 3.x with x <= 4, non-zero length, handshake
 * type 1); PS_TLS_SSLV2 for an SSL 2.0-compatible CLIENT-HELLO (RFC 5246
 * appendix E.2), which the appliance does not intercept; PS_TLS_NOT_TLS
 * when some byte already rules TLS out (an HTTP request, an SSH banner,
 * text); PS_TLS_NEED_MORE when every byte so far fits a hello but too few
 * arrived (at most 6 are ever needed). Borrows data for the call only.
 * Any lcore.
 */
enum ps_tls_verdict
ps_tls_classify(const uint8_t *data, size_t len);

/*
 * Prepare r for a new stream. msg (msg_cap bytes, PS_TLS_HELLO_MAX for the
 * full limit) receives the reassembled handshake message; raw (raw_cap
 * bytes, e.g. PS_TLS_HELLO_RAW_MAX) optionally receives a copy of every
 * byte consumed, for replay; pass NULL, 0 when the caller keeps the
 * stream itself. Both are borrowed until r is initialised again. A
 * msg_cap above PS_TLS_HELLO_MAX is used as PS_TLS_HELLO_MAX. Any lcore.
 */
void
ps_tls_hello_init(struct ps_tls_hello_reader *r, uint8_t *msg, size_t msg_cap,
		  uint8_t *raw, size_t raw_cap);

/*
 * Feed the next len bytes of the client-to-server stream, in any pieces.
 * Sets *consumed to how many bytes of data were taken: all of them while
 * the verdict is PS_TLS_NEED_MORE; on PS_TLS_OK, the bytes up to the end of
 * the record that completed the hello (what follows belongs to the next
 * stage); on another verdict, the bytes read before the fault. Once the
 * verdict is not NEED_MORE it is final: later calls consume nothing and
 * return it again. The consumed bytes, from the first feed on, are the
 * hello's exact wire form (ps_tls_hello_raw()). Borrows data for the call
 * only; consumed must not be NULL. Lcore of the owner of r.
 */
enum ps_tls_verdict
ps_tls_hello_feed(struct ps_tls_hello_reader *r, const uint8_t *data, size_t len,
		  size_t *consumed);

/*
 * The parsed ClientHello once ps_tls_hello_feed() returned PS_TLS_OK,
 * NULL before or after any other verdict. Points into r and its message
 * buffer. Lcore of the owner of r.
 */
const struct ps_tls_client_hello *
ps_tls_hello_result(const struct ps_tls_hello_reader *r);

/*
 * The current verdict of r (PS_TLS_NEED_MORE until one is final).
 */
enum ps_tls_verdict
ps_tls_hello_verdict(const struct ps_tls_hello_reader *r);

/*
 * Number of stream bytes consumed so far and, when a raw buffer was given
 * to ps_tls_hello_init(), a pointer to their copy in *out (NULL
 * otherwise). After PS_TLS_OK these are exactly the records that carried
 * the ClientHello, to be replayed to the TLS library unchanged.
 */
size_t
ps_tls_hello_raw(const struct ps_tls_hello_reader *r, const uint8_t **out);

/*
 * Parse one complete ClientHello handshake message (4-byte header
 * included, len bytes) into *out, which is overwritten; its pointers point
 * into msg. The reader calls this; it is public for tests, fuzzing and for
 * hellos obtained by other means. Returns PS_TLS_OK or why the message is
 * malformed. Borrows msg for as long as *out is used. Any lcore.
 */
enum ps_tls_verdict
ps_tls_hello_parse(const uint8_t *msg, size_t len, struct ps_tls_client_hello *out);

/*
 * Walk the ALPN protocol list of h: *cursor starts at 0; each call sets
 * *proto and *proto_len to the next name (not NUL-terminated, inside h's
 * message) and returns true, or returns false at the end.
 */
bool
ps_tls_alpn_next(const struct ps_tls_client_hello *h, size_t *cursor,
		 const uint8_t **proto, size_t *proto_len);

/*
 * Highest protocol version h offers, GREASE ignored: the largest entry of
 * supported_versions when present (RFC 8446 section 4.2.1), otherwise
 * legacy_version (0x0303 for TLS 1.2). 0 when supported_versions holds
 * only GREASE.
 */
uint16_t
ps_tls_hello_max_version(const struct ps_tls_client_hello *h);

/*
 * Counter name of a verdict ("bad_sni"); "invalid" when v is out of range.
 * The string is static.
 */
const char *
ps_tls_verdict_name(enum ps_tls_verdict v);

/* Big-endian 16-bit read; p need not be aligned. */
static inline uint16_t
ps_tls_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

/* Value i (< l->n) of a 16-bit list. */
static inline uint16_t
ps_tls_u16_at(const struct ps_tls_u16_list *l, unsigned int i)
{
	return ps_tls_be16(l->p + 2u * i);
}

/* RFC 8701 section 2: GREASE values are 0x?A?A with both bytes equal. */
static inline bool
ps_tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

#endif /* PS_TLS_HELLO_H */
