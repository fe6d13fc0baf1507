/* SPDX-License-Identifier: BSD-3-Clause
 * TLS interception of one flow, as a stage of the flow proxy. The sequence
 * is the one of ps_tls_flow.h; docs/interception.md tells it in prose.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ps_tls_flow.h"

/* Plaintext read per step, and the records a leg may have pending before
 * the other leg stops being read (back-pressure). */
#define PLAIN_CHUNK	16384u
#define WIRE_HIWAT	(64u * 1024u)
/* Servers and pinning clients remembered for bypass. */
#define BYPASS_ENTRIES	4096u

static const char *const counter_names[PS_TLSF_MAX] = {
#define PS_TLSF_NAME(name, str) str,
	PS_TLSF_COUNTERS(PS_TLSF_NAME)
#undef PS_TLSF_NAME
};

const char *
ps_tlsf_counter_name(enum ps_tlsf_counter c)
{
	return (unsigned int)c < PS_TLSF_MAX ? counter_names[c] : "invalid";
}

const char *
ps_tls_flow_state_name(enum ps_tls_flow_state st)
{
	static const char *const names[] = {
		[PS_TLSF_ST_HELLO] = "hello",
		[PS_TLSF_ST_PREAMBLE] = "preamble",
		[PS_TLSF_ST_PASS] = "pass",
		[PS_TLSF_ST_UPSTREAM] = "upstream",
		[PS_TLSF_ST_CLIENT] = "client",
		[PS_TLSF_ST_ESTABLISHED] = "established",
		[PS_TLSF_ST_DONE] = "done",
	};

	return (unsigned int)st < sizeof(names) / sizeof(names[0]) ? names[st] : "invalid";
}

static inline void
count(struct ps_tls_flow *t, enum ps_tlsf_counter c)
{
	t->stats->c[c]++;
}

static inline enum ps_proxy_side
other(enum ps_proxy_side s)
{
	return s == PS_SIDE_CLI ? PS_SIDE_SRV : PS_SIDE_CLI;
}

static inline struct ps_tls_conn *
conn_of(struct ps_tls_flow *t, enum ps_proxy_side s)
{
	return s == PS_SIDE_CLI ? t->cli : t->up;
}

/* ------------------------------------------------------------------ */
/* Upstream session cache: direct-mapped, one lock, serialized sessions. */

/* Upstream identity (<= 64), NUL, SNI; a client address in front for pinning. */
#define SESS_KEY_MAX	(64u + 1u + PS_TLS_SNI_MAX + 17u)

struct sess_ent {
	uint32_t hash;
	uint16_t key_len;
	uint8_t key[SESS_KEY_MAX];
	uint64_t expires_s;
	SSL_SESSION *sess;		/* NULL: a bypass entry (presence only) */
};

struct ps_tls_sess_cache {
	pthread_mutex_t lock;
	unsigned int n;
	unsigned int timeout_s;
	struct sess_ent *e;
	struct ps_tls_bypass_entry *meta;	/* bypass caches: what each entry is */
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint32_t
rand_u32(void)
{
	uint32_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint32_t)mono_ns();
	return v;
}

int
ps_tls_sess_cache_new(unsigned int entries, unsigned int timeout_s,
		      struct ps_tls_sess_cache **out)
{
	struct ps_tls_sess_cache *c;

	if (entries == 0 || timeout_s == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->e = calloc(entries, sizeof(*c->e));
	if (c->e == NULL) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->n = entries;
	c->timeout_s = timeout_s;
	*out = c;
	return 0;
}

void
ps_tls_sess_cache_free(struct ps_tls_sess_cache *c)
{
	unsigned int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		SSL_SESSION_free(c->e[i].sess);
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c->meta);
	free(c);
}

/* FNV-1a: the key is ours (addresses and SNI), not attacker-chosen in bulk. */
static uint32_t
key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* The full cache key of t: upstream address and port, then the SNI. */
static size_t
sess_key(const struct ps_tls_flow *t, uint8_t key[SESS_KEY_MAX])
{
	size_t sni = strlen(t->sni);

	memcpy(key, t->sess_key, t->sess_key_len);
	key[t->sess_key_len] = t->profile;	/* sessions never cross upstream profiles */
	memcpy(key + t->sess_key_len + 1, t->sni, sni);
	return t->sess_key_len + 1 + sni;
}

/* The live entry of c for key (hash h), NULL when none. c->lock held. */
static struct sess_ent *
cache_find(struct ps_tls_sess_cache *c, const uint8_t *key, size_t klen, uint32_t h)
{
	struct sess_ent *e = &c->e[h % c->n];

	if (e->expires_s != 0 && e->hash == h && e->key_len == klen &&
	    memcmp(e->key, key, klen) == 0 && e->expires_s > mono_s())
		return e;
	return NULL;
}

/*
 * Look key up in c: true when a live entry is there; with sess != NULL its
 * session (a new reference, NULL when the entry has none) goes there.
 */
static bool
cache_get(struct ps_tls_sess_cache *c, const uint8_t *key, size_t klen, SSL_SESSION **sess)
{
	struct sess_ent *e;
	bool hit;

	if (sess != NULL)
		*sess = NULL;
	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, klen, key_hash(key, klen));
	hit = e != NULL;
	if (hit && sess != NULL && e->sess != NULL && SSL_SESSION_up_ref(e->sess) == 1)
		*sess = e->sess;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/*
 * Keep key -> sess (its reference taken over, may be NULL) for ttl_s (0:
 * the cache's). meta (bypass caches, may be NULL): what the entry is, kept
 * beside it with its expiry.
 */
static void
cache_put(struct ps_tls_sess_cache *c, const uint8_t *key, size_t klen, SSL_SESSION *sess,
	  unsigned int ttl_s, struct ps_tls_bypass_entry *meta)
{
	uint32_t h = key_hash(key, klen);
	struct sess_ent *e;
	SSL_SESSION *old;

	pthread_mutex_lock(&c->lock);
	e = &c->e[h % c->n];
	old = e->sess;
	e->hash = h;
	e->key_len = (uint16_t)klen;
	memcpy(e->key, key, klen);
	e->sess = sess;
	e->expires_s = mono_s() + (ttl_s != 0 ? ttl_s : c->timeout_s);
	if (meta != NULL && c->meta != NULL) {
		meta->expires_s = e->expires_s;
		c->meta[h % c->n] = *meta;
	}
	pthread_mutex_unlock(&c->lock);
	SSL_SESSION_free(old);
}

/* Offer a cached session for t's server on its upstream leg. */
static void
sess_offer(struct ps_tls_flow *t)
{
	struct ps_tls_sess_cache *c = t->ic->up_sessions;
	uint8_t key[SESS_KEY_MAX];
	SSL_SESSION *sess;

	if (c == NULL || !cache_get(c, key, sess_key(t, key), &sess) || sess == NULL)
		return;
	if (ps_tls_conn_set_session_obj(t->up, sess) == 0)
		count(t, PS_TLSF_SESS_OFFERED);
	SSL_SESSION_free(sess);
}

/* Keep t's upstream session once there is one (TLS 1.3: after a ticket). */
static void
sess_store(struct ps_tls_flow *t)
{
	struct ps_tls_sess_cache *c = t->ic->up_sessions;
	uint8_t key[SESS_KEY_MAX];
	SSL_SESSION *sess;

	/* Only sessions whose chain verified: a resumed session skips the
	 * chain, so an unverified one must never be resumed. */
	if (c == NULL || t->up_sess_stored || t->verify_result != X509_V_OK ||
	    t->webpki.first != PS_WEBPKI_OK)
		return;
	if (ps_tls_conn_get_session_obj(t->up, &sess) < 0)
		return;
	t->up_sess_stored = true;
	cache_put(c, key, sess_key(t, key), sess, 0, NULL);
	count(t, PS_TLSF_SESS_STORED);
}

/*
 * Servers that cannot be intercepted (they ask for a client certificate)
 * and, when configured, clients that refuse the forged leaf (pinning):
 * remembered for bypass_ttl_s so that later flows are relayed at once.
 * Key: server address, port and SNI, with the client's address for a
 * pinning client. Each entry keeps what it is, why and from which
 * session, for the operator (ps_tls_bypass_list()).
 */
static size_t
bypass_key_of(const struct ps_tls_bypass_entry *b, uint8_t key[SESS_KEY_MAX])
{
	size_t n = 0, sni = strnlen(b->sni, PS_TLS_SNI_MAX);

	key[n++] = b->family;
	memcpy(key + n, b->srv_addr, 16);
	n += 16;
	key[n++] = (uint8_t)(b->srv_port >> 8);
	key[n++] = (uint8_t)b->srv_port;
	key[n++] = b->has_client ? 'C' : 'S';
	if (b->has_client) {
		memcpy(key + n, b->cli_addr, 16);
		n += 16;
	}
	memcpy(key + n, b->sni, sni);
	return n + sni;
}

static void
bypass_of(const struct ps_tls_flow *t, bool with_client, struct ps_tls_bypass_entry *b)
{
	memset(b, 0, sizeof(*b));
	b->family = t->family;
	memcpy(b->srv_addr, t->srv_addr, 16);
	b->srv_port = t->srv_port;
	snprintf(b->sni, sizeof(b->sni), "%s", t->sni);
	b->has_client = with_client;
	if (with_client)
		memcpy(b->cli_addr, t->cli_addr, 16);
}

static bool
bypass_known(const struct ps_tls_flow *t)
{
	struct ps_tls_sess_cache *c = t->ic->bypass;
	struct ps_tls_bypass_entry b;
	uint8_t key[SESS_KEY_MAX];

	if (c == NULL)
		return false;
	bypass_of(t, false, &b);
	if (cache_get(c, key, bypass_key_of(&b, key), NULL))
		return true;
	bypass_of(t, true, &b);
	return cache_get(c, key, bypass_key_of(&b, key), NULL);
}

static void
bypass_put(struct ps_tls_sess_cache *c, struct ps_tls_bypass_entry *b, unsigned int ttl_s)
{
	uint8_t key[SESS_KEY_MAX];

	cache_put(c, key, bypass_key_of(b, key), NULL, ttl_s, b);
}

static void
bypass_remember(const struct ps_tls_flow *t, bool with_client)
{
	struct ps_tls_sess_cache *c = t->ic->bypass;
	struct ps_tls_bypass_entry b;

	if (c == NULL)
		return;
	bypass_of(t, with_client, &b);
	snprintf(b.reason, sizeof(b.reason), "%s", with_client ?
		 "the client refused the forged certificate (pinning)" :
		 "the server asks for a client certificate");
	b.session_id = t->sess_id;
	bypass_put(c, &b, 0);
}

unsigned int
ps_tls_bypass_list(const struct ps_tls_icpt *ic, struct ps_tls_bypass_entry *out,
		   unsigned int max)
{
	struct ps_tls_sess_cache *c = ic->bypass;
	uint64_t now = mono_s();
	unsigned int i, n = 0;

	if (c == NULL || c->meta == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n && n < max; i++) {
		if (c->e[i].expires_s <= now || c->meta[i].family == 0)
			continue;
		out[n] = c->meta[i];
		out[n].expires_s = c->e[i].expires_s - now;	/* seconds left */
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

int
ps_tls_bypass_add(const struct ps_tls_icpt *ic, const struct ps_tls_bypass_entry *b,
		  unsigned int ttl_s)
{
	struct ps_tls_bypass_entry e = *b;

	if (ic->bypass == NULL)
		return -ENOTSUP;
	if (e.family != 4 && e.family != 6)
		return -EINVAL;
	bypass_put(ic->bypass, &e, ttl_s);
	return 0;
}

int
ps_tls_bypass_del(const struct ps_tls_icpt *ic, const struct ps_tls_bypass_entry *b)
{
	struct ps_tls_sess_cache *c = ic->bypass;
	uint8_t key[SESS_KEY_MAX];
	size_t klen;
	uint32_t h;
	struct sess_ent *e;
	int rc = -ENOENT;

	if (c == NULL)
		return -ENOTSUP;
	klen = bypass_key_of(b, key);
	h = key_hash(key, klen);
	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, klen, h);
	if (e != NULL) {
		e->expires_s = 0;
		if (c->meta != NULL)
			memset(&c->meta[h % c->n], 0, sizeof(c->meta[0]));
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Moving bytes between a TCP side and its TLS leg. */

/* Feed what side's peer sent into conn, as much as conn takes. */
static void
feed_from(struct ps_proxy *px, enum ps_proxy_side side, struct ps_tls_conn *conn)
{
	const uint8_t *d;
	uint32_t n;

	while ((n = ps_proxy_peek(px, side, &d)) > 0) {
		size_t took = ps_tls_conn_feed(conn, d, n);

		ps_proxy_consume(px, side, (uint32_t)took);
		if (took < n)
			break;
	}
}

/* Send conn's pending records towards side, as much as TCP takes. */
static void
flush_wire(struct ps_proxy *px, enum ps_proxy_side side, struct ps_tls_conn *conn)
{
	uint8_t buf[PLAIN_CHUNK];

	while (conn != NULL && ps_tls_conn_wire_pending(conn) > 0) {
		uint32_t room = ps_proxy_room(px, side);
		size_t n;

		if (room == 0)
			break;
		n = ps_tls_conn_pull_wire(conn, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n == 0)
			break;
		/* room was checked: TCP takes all of it. */
		(void)ps_proxy_send(px, side, buf, (uint32_t)n);
	}
}

static void
set_why(struct ps_tls_flow *t, const char *why, const struct ps_tls_conn *conn)
{
	if (t->why[0] != '\0')
		return;
	if (conn != NULL && ps_tls_conn_reason(conn)[0] != '\0')
		snprintf(t->why, sizeof(t->why), "%s: %s", why, ps_tls_conn_reason(conn));
	else
		snprintf(t->why, sizeof(t->why), "%s", why);
}

/* Close towards side with a FIN once every pending record is out. */
static void
fin_when_flushed(struct ps_tls_flow *t, struct ps_proxy *px, enum ps_proxy_side side)
{
	struct ps_tls_conn *conn = conn_of(t, side);

	if (t->fin_sent[side])
		return;
	flush_wire(px, side, conn);
	if (conn != NULL && ps_tls_conn_wire_pending(conn) > 0)
		return;
	t->fin_sent[side] = true;
	ps_proxy_shutdown(px, side);
}

/* A TLS failure after the legs are up: reset both, as a TCP peer would. */
static void
fail_reset(struct ps_tls_flow *t, struct ps_proxy *px, const char *why,
	   const struct ps_tls_conn *conn)
{
	set_why(t, why, conn);
	if (t->tapped && t->tap != NULL && t->tap->close != NULL)
		t->tap->close(t->tap->arg, 0, true);
	t->tapped = false;
	t->state = PS_TLSF_ST_DONE;
	ps_proxy_kill(px);
}

/* ------------------------------------------------------------------ */
/* HELLO: read the client's first bytes. */

static void
hello_free(struct ps_tls_flow *t)
{
	free(t->rd);
	free(t->rd_msg);
	free(t->rd_raw);
	t->rd = NULL;
	t->rd_msg = NULL;
	t->rd_raw = NULL;
}

static void
to_pass(struct ps_tls_flow *t, enum ps_tlsf_counter why)
{
	count(t, why);
	t->state = PS_TLSF_ST_PASS;
	t->held_off = 0;
}

/*
 * Plaintext first: relay it, reading it line by line for an upgrade to TLS
 * (StartTLS, CONNECT). t->head (client bytes already taken) goes first.
 */
static void
to_preamble(struct ps_tls_flow *t, enum ps_tlsf_counter why)
{
	count(t, why);
	t->state = PS_TLSF_ST_PREAMBLE;
	t->held_off = 0;
}

/* Allocate the reader for the hello whose first 9 bytes are in t->head. */
static int
hello_start(struct ps_tls_flow *t)
{
	uint32_t msg = PS_TLS_HELLO_MAX, raw;
	uint32_t rec = (uint32_t)t->head[3] << 8 | t->head[4];

	/* head[6..8] is the hello's length only when the first record holds
	 * the whole 4-byte handshake header: a first record of 1 to 3 bytes
	 * (legal fragmentation) leaves the next record's header there, which
	 * would undersize the buffer and refuse a valid hello. */
	if (t->head[0] == PS_TLS_CT_HANDSHAKE && rec >= PS_TLS_HS_HLEN &&
	    t->head[5] == PS_TLS_HS_CLIENT_HELLO) {
		uint32_t body = (uint32_t)t->head[6] << 16 | (uint32_t)t->head[7] << 8 |
				t->head[8];

		if (body + PS_TLS_HS_HLEN < msg)
			msg = body + PS_TLS_HS_HLEN;
	}
	/* As many records as the reader ever accepts (PS_TLS_HELLO_RAW_MAX). */
	raw = msg + 64u * PS_TLS_RECORD_HLEN;
	t->rd = malloc(sizeof(*t->rd));
	t->rd_msg = malloc(msg);
	t->rd_raw = malloc(raw);
	if (t->rd == NULL || t->rd_msg == NULL || t->rd_raw == NULL) {
		hello_free(t);
		return -ENOMEM;
	}
	ps_tls_hello_init(t->rd, t->rd_msg, msg, t->rd_raw, raw);
	return 0;
}

/* Copy the client's ALPN list, whole names only, as far as it fits. */
static void
keep_alpn(struct ps_tls_flow *t, const struct ps_tls_client_hello *h)
{
	const uint8_t *proto;
	size_t cur = 0, plen;

	t->alpn_len = 0;
	while (ps_tls_alpn_next(h, &cur, &proto, &plen)) {
		if (plen == 0 || t->alpn_len + 1u + plen > sizeof(t->alpn))
			break;
		t->alpn[t->alpn_len] = (uint8_t)plen;
		memcpy(t->alpn + t->alpn_len + 1, proto, plen);
		t->alpn_len = (uint16_t)(t->alpn_len + 1 + plen);
	}
}

static void client_start(struct ps_tls_flow *t, struct ps_proxy *px);

/*
 * Drop our upstream attempt unsent, hand the held hello to a fresh
 * connection to the server, and relay the flow untouched from there: the
 * client talks to the real server as if we were not there.
 */
static void
pass_fresh(struct ps_tls_flow *t, struct ps_proxy *px, enum ps_tlsf_counter why)
{
	X509 *peer = t->up != NULL && ps_tls_conn_handshake_done(t->up) ?
		     ps_tls_conn_peer_cert(t->up) : NULL;

	/* What the server showed stays in the session record. */
	if (peer != NULL && t->seen_cert == NULL && X509_up_ref(peer) == 1)
		t->seen_cert = peer;
	ps_tls_conn_free(t->up);
	t->up = NULL;
	ps_proxy_reconnect_server(px, rand_u32());
	to_pass(t, why);
}

/*
 * Act on what the policy said. true: the flow is settled here (passed,
 * rejected or dropped); false: it goes on (decrypt, or ask again later).
 */
static bool
apply_verdict(struct ps_tls_flow *t, struct ps_proxy *px, const struct ps_tls_policy_verdict *v)
{
	t->decision = v->decision;
	snprintf(t->rule, sizeof(t->rule), "%s", v->rule);
	if (v->decision == PS_TLS_DECIDE_DECRYPT || v->decision == PS_TLS_DECIDE_LATER) {
		if (t->up == NULL) {
			/* Not connected yet: the rule's upstream profile. */
			t->up_ctx = v->up_ctx;
			t->profile = v->profile;
		}
		if (v->on_invalid <= PS_TLS_VFAIL_DEFAULT)
			t->on_invalid = v->on_invalid;
		return false;
	}
	switch ((enum ps_tls_decision)v->decision) {
	case PS_TLS_DECIDE_BYPASS:
		if (t->up != NULL)
			pass_fresh(t, px, PS_TLSF_POLICY_BYPASS);
		else
			to_pass(t, PS_TLSF_POLICY_BYPASS);
		snprintf(t->why, sizeof(t->why), "bypassed by policy rule \"%s\"", t->rule);
		if (v->copy && t->tap != NULL && t->tap->data != NULL) {
			/* Not decrypted, but copied to the rule's tools as it is. */
			t->copy = true;
			t->tapped = true;
			if (t->tap->open != NULL)
				t->tap->open(t->tap->arg, t);
		}
		return true;
	case PS_TLS_DECIDE_REJECT:
		/* The client leg refuses (no leaf), with an alert. */
		count(t, PS_TLSF_POLICY_REJECT);
		t->rejected = true;
		snprintf(t->why, sizeof(t->why), "rejected by policy rule \"%s\"", t->rule);
		if (t->up != NULL)
			(void)ps_tls_conn_shutdown(t->up);
		client_start(t, px);
		return true;
	case PS_TLS_DECIDE_DROP:
	default:
		count(t, PS_TLSF_POLICY_DROP);
		fail_reset(t, px, "dropped by policy", NULL);
		return true;
	}
}

/* Our TLS client towards the server, with the flow's profile. */
static void
upstream_connect(struct ps_tls_flow *t, struct ps_proxy *px)
{
	if (ps_tls_conn_new(t->up_ctx != NULL ? t->up_ctx : t->ic->up_ctx,
			    t->sni[0] != '\0' ? t->sni : NULL,
			    t->alpn_len > 0 ? t->alpn : NULL, t->alpn_len, &t->up) < 0) {
		count(t, PS_TLSF_UP_FAILED);
		fail_reset(t, px, "upstream leg: out of memory", NULL);
		return;
	}
	sess_offer(t);
	t->state = PS_TLSF_ST_UPSTREAM;
}

#define SIGALGS_MAX	128u	/* signature algorithms looked at, the first ones */

/* The client's signature_algorithms as a list, for the forged leaf's key type. */
static size_t
hello_sigalgs(const struct ps_tls_client_hello *h, uint16_t out[SIGALGS_MAX])
{
	size_t i, n = 0;

	for (i = 0; i < h->signature_algorithms.n && n < SIGALGS_MAX; i++)
		out[n++] = ps_tls_u16_at(&h->signature_algorithms, i);
	return n;
}

static void
upstream_start(struct ps_tls_flow *t, struct ps_proxy *px)
{
	const struct ps_tls_client_hello *h = ps_tls_hello_result(t->rd);
	uint16_t sigalgs[SIGALGS_MAX];
	size_t n = hello_sigalgs(h, sigalgs);

	count(t, PS_TLSF_HELLO_TLS);
	if (h->sni_valid)
		snprintf(t->sni, sizeof(t->sni), "%s", h->sni);
	else if (t->connect_host[0] != '\0' && t->connect_host[0] != '[' &&
		 strspn(t->connect_host, "0123456789.") != strlen(t->connect_host))
		/* No SNI through a proxy: the CONNECT host names the server. */
		snprintf(t->sni, sizeof(t->sni), "%.*s", (int)sizeof(t->sni) - 1, t->connect_host);
	keep_alpn(t, h);
	t->client_max_version = ps_tls_hello_max_version(h);
	t->leaf_type = ps_tls_leaf_type_for(sigalgs, n, h->signature_algorithms.p != NULL);
	t->hello_tls = true;
	if (bypass_known(t)) {
		/* Known not to be interceptable: relayed from the first byte. */
		to_pass(t, PS_TLSF_PASS_REMEMBERED);
		snprintf(t->why, sizeof(t->why), "bypassed: remembered as not interceptable");
		return;
	}

	if (t->tap != NULL && t->tap->decide != NULL) {
		struct ps_tls_policy_verdict v;

		memset(&v, 0, sizeof(v));
		t->tap->decide(t->tap->arg, h, NULL, &v);
		if (apply_verdict(t, px, &v))
			return;
	}
	upstream_connect(t, px);
}

static void
step_hello(struct ps_tls_flow *t, struct ps_proxy *px)
{
	enum ps_tls_verdict v = PS_TLS_NEED_MORE;
	const uint8_t *d;
	uint32_t n;

	/* A server that speaks first (SMTP, FTP, SSH banners) is no TLS
	 * server: relay the flow untouched. */
	if (t->head_len == 0 && t->rd == NULL &&
	    (ps_proxy_peek(px, PS_SIDE_SRV, &d) > 0 || ps_proxy_eof(px, PS_SIDE_SRV))) {
		to_preamble(t, PS_TLSF_PASS_SERVER_FIRST);
		return;
	}
	while ((n = ps_proxy_peek(px, PS_SIDE_CLI, &d)) > 0) {
		size_t used = 0;

		if (t->rd == NULL) {
			/* The record and handshake headers give the hello's
			 * length: the reader is sized to it. */
			uint32_t take = PS_TLSF_HEAD - t->head_len;

			if (take > n)
				take = n;
			memcpy(t->head + t->head_len, d, take);
			t->head_len = (uint8_t)(t->head_len + take);
			ps_proxy_consume(px, PS_SIDE_CLI, take);
			v = ps_tls_classify(t->head, t->head_len);
			if (v == PS_TLS_SSLV2) {
				to_pass(t, PS_TLSF_PASS_NOT_TLS);
				return;
			}
			if (v == PS_TLS_NOT_TLS) {
				to_preamble(t, PS_TLSF_PASS_NOT_TLS);
				return;
			}
			/* Looks like TLS so far: the reader decides. */
			v = PS_TLS_NEED_MORE;
			if (t->head_len < PS_TLSF_HEAD)
				continue;
			if (hello_start(t) < 0) {
				fail_reset(t, px, "hello reader: out of memory", NULL);
				return;
			}
			v = ps_tls_hello_feed(t->rd, t->head, t->head_len, &used);
			if (v != PS_TLS_NEED_MORE) {
				/* Refused within the head (e.g. a record over
				 * 2^14): the reader kept only the bytes before
				 * the fault, but all head_len were taken from
				 * TCP. Drop it so PASS replays t->head whole. */
				if (v != PS_TLS_OK)
					hello_free(t);
				break;
			}
			continue;
		}
		v = ps_tls_hello_feed(t->rd, d, n, &used);
		ps_proxy_consume(px, PS_SIDE_CLI, (uint32_t)used);
		if (v != PS_TLS_NEED_MORE || used == 0)
			break;
	}
	if (v == PS_TLS_NEED_MORE) {
		if (ps_proxy_eof(px, PS_SIDE_CLI))
			to_pass(t, PS_TLSF_PASS_NO_HELLO);
		return;
	}
	if (v != PS_TLS_OK) {
		/* Not a hello we understand: the server decides what it is. */
		to_pass(t, v == PS_TLS_NOT_TLS || v == PS_TLS_SSLV2 ?
			PS_TLSF_PASS_NOT_TLS : PS_TLSF_PASS_BAD_HELLO);
		return;
	}
	upstream_start(t, px);
}

/* ------------------------------------------------------------------ */
/* PREAMBLE: plaintext relayed both ways, read for an upgrade to TLS.   */

/* Keep n relayed bytes of direction dir for the tools (bounded). */
static void
pre_keep(struct ps_tls_flow *t, int dir, const uint8_t *d, uint32_t n)
{
	while (n > 0 && t->pre_len + 3 < PS_TLSF_PRE_MAX) {
		uint32_t k = n;

		if (k > PS_TLSF_PRE_MAX - t->pre_len - 3)
			k = PS_TLSF_PRE_MAX - t->pre_len - 3;
		if (t->pre == NULL && (t->pre = malloc(PS_TLSF_PRE_MAX)) == NULL)
			return;
		t->pre[t->pre_len] = (uint8_t)dir;
		t->pre[t->pre_len + 1] = (uint8_t)(k >> 8);
		t->pre[t->pre_len + 2] = (uint8_t)k;
		memcpy(t->pre + t->pre_len + 3, d, k);
		t->pre_len += 3 + k;
		d += k;
		n -= k;
	}
}

static bool
word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(s, w, n) == 0;
}

/* A complete client line (no CR/LF): an upgrade command? */
static void
client_line(struct ps_tls_flow *t, const char *l, size_t n)
{
	const char *sp = memchr(l, ' ', n);

	if (t->lines[0] == 0 && n > 8 && strncasecmp(l, "CONNECT ", 8) == 0) {
		/* CONNECT host:port HTTP/1.x: the host names the tunnel's server. */
		const char *h = l + 8, *e = memchr(h, ' ', n - 8), *c;
		size_t hl;

		if (e != NULL && (size_t)(l + n - e) >= 9 && strncmp(e + 1, "HTTP/1.", 7) == 0) {
			hl = (size_t)(e - h);
			if (hl > 0 && h[0] == '[' && (c = memchr(h, ']', hl)) != NULL)
				hl = (size_t)(c - h) + 1;	/* [v6]:port */
			else if ((c = memrchr(h, ':', hl)) != NULL)
				hl = (size_t)(c - h);
			if (hl < sizeof(t->connect_host)) {
				memcpy(t->connect_host, h, hl);
				t->connect_host[hl] = '\0';
				t->upgrade = PS_TLSF_UP_CONNECT;
				t->connect_hdrs = true;
			}
		}
		return;
	}
	if (t->connect_hdrs) {
		if (n == 0) {		/* end of the request's headers */
			t->connect_hdrs = false;
			t->pending = true;
		}
		return;
	}
	if (!t->starttls_port)
		return;
	if (word_is(l, n, "STARTTLS")) {
		t->upgrade = PS_TLSF_UP_SMTP;
		t->pending = true;
	} else if (word_is(l, n, "STLS")) {
		t->upgrade = PS_TLSF_UP_POP3;
		t->pending = true;
	} else if (n >= 8 && (strncasecmp(l, "AUTH TLS", 8) == 0 ||
			      strncasecmp(l, "AUTH SSL", 8) == 0)) {
		t->upgrade = PS_TLSF_UP_FTP;
		t->pending = true;
	} else if (sp != NULL && (size_t)(sp - l) < sizeof(t->imap_tag) &&
		   word_is(sp + 1, (size_t)(l + n - sp - 1), "STARTTLS")) {
		memcpy(t->imap_tag, l, (size_t)(sp - l));
		t->imap_tag[sp - l] = '\0';
		t->upgrade = PS_TLSF_UP_IMAP;
		t->pending = true;
	}
}

/*
 * A complete server line while an upgrade is pending: 1 the server agreed
 * (TLS follows), -1 it refused (plaintext goes on), 0 not the answer yet.
 */
static int
server_line(struct ps_tls_flow *t, const char *l, size_t n)
{
	size_t tl;

	switch ((enum ps_tls_upgrade)t->upgrade) {
	case PS_TLSF_UP_SMTP:
	case PS_TLSF_UP_FTP:
		/* Reply codes; "NNN-" continues a multi-line reply. */
		if (n < 3 || (n > 3 && l[3] == '-'))
			return 0;
		return strncmp(l, t->upgrade == PS_TLSF_UP_SMTP ? "220" : "234", 3) == 0 ? 1 : -1;
	case PS_TLSF_UP_POP3:
		return n >= 3 && strncmp(l, "+OK", 3) == 0 ? 1 : -1;
	case PS_TLSF_UP_IMAP:
		tl = strlen(t->imap_tag);
		if (n <= tl || strncmp(l, t->imap_tag, tl) != 0 || l[tl] != ' ')
			return 0;	/* untagged data */
		return n >= tl + 3 && strncasecmp(l + tl + 1, "OK", 2) == 0 ? 1 : -1;
	case PS_TLSF_UP_CONNECT:
		if (!t->connect_ok) {
			if (n >= 12 && strncmp(l, "HTTP/1.", 7) == 0 && strncmp(l + 8, " 200", 4) == 0) {
				t->connect_ok = true;
				return 0;	/* its headers follow, up to an empty line */
			}
			return -1;
		}
		return n == 0 ? 1 : 0;
	case PS_TLSF_UP_NONE:
	default:
		return -1;
	}
}

/*
 * Relay up to n bytes of d from side from, one line at a time, reading
 * each complete line. Returns the bytes relayed; stops after a line that
 * makes the client wait (upgrade asked) or the server agree (*agreed).
 */
static uint32_t
relay_lines(struct ps_tls_flow *t, struct ps_proxy *px, enum ps_proxy_side from,
	    const uint8_t *d, uint32_t n, bool *agreed)
{
	int dir = from == PS_SIDE_CLI ? 0 : 1;
	uint32_t room = ps_proxy_room(px, other(from)), off = 0;

	while (off < n && room > 0) {
		const uint8_t *nl = memchr(d + off, '\n', n - off);
		uint32_t k = nl != NULL ? (uint32_t)(nl - (d + off)) + 1 : n - off;
		uint32_t w, i;

		if (k > room)
			k = room;
		w = ps_proxy_send(px, other(from), d + off, k);
		if (w == 0)
			break;
		pre_keep(t, dir, d + off, w);
		t->pre_bytes += w;
		room -= w;
		for (i = 0; i < w; i++) {
			char ch = (char)d[off + i];
			uint16_t len = t->line_len[dir];

			if (ch != '\n') {
				if (len < PS_TLSF_LINE_MAX)
					t->line[dir][len] = ch;
				if (len < UINT16_MAX)
					t->line_len[dir]++;
				continue;
			}
			if (len > 0 && len <= PS_TLSF_LINE_MAX && t->line[dir][len - 1] == '\r')
				len--;
			t->line_len[dir] = 0;
			if (len > PS_TLSF_LINE_MAX)
				len = UINT16_MAX;	/* too long: not a command */
			if (from == PS_SIDE_CLI) {
				if (len != UINT16_MAX)
					client_line(t, t->line[dir], len);
				t->lines[0]++;
			} else {
				int r = t->pending && len != UINT16_MAX ?
					server_line(t, t->line[dir], len) : 0;

				t->lines[1]++;
				if (r > 0)
					*agreed = true;
				else if (r < 0) {
					count(t, PS_TLSF_UPGRADE_REFUSED);
					t->pending = false;
					t->connect_ok = false;
					t->upgrade = PS_TLSF_UP_NONE;
				}
			}
		}
		off += w;
		if (*agreed || (from == PS_SIDE_CLI && t->pending))
			break;
	}
	return off;
}

static void
step_preamble(struct ps_tls_flow *t, struct ps_proxy *px)
{
	static const enum ps_tlsf_counter up_counter[] = {
		[PS_TLSF_UP_SMTP] = PS_TLSF_UPGRADE_SMTP,
		[PS_TLSF_UP_IMAP] = PS_TLSF_UPGRADE_IMAP,
		[PS_TLSF_UP_POP3] = PS_TLSF_UPGRADE_POP3,
		[PS_TLSF_UP_FTP] = PS_TLSF_UPGRADE_FTP,
		[PS_TLSF_UP_CONNECT] = PS_TLSF_UPGRADE_CONNECT,
	};
	bool agreed = false;
	const uint8_t *d;
	uint32_t n, w;

	/* Client bytes taken while classifying go first. */
	if (t->held_off < t->head_len) {
		w = relay_lines(t, px, PS_SIDE_CLI, t->head + t->held_off,
				t->head_len - t->held_off, &agreed);
		t->held_off += w;
		if (t->held_off < t->head_len)
			return;
	}
	while ((n = ps_proxy_peek(px, PS_SIDE_SRV, &d)) > 0 && !agreed) {
		w = relay_lines(t, px, PS_SIDE_SRV, d, n, &agreed);
		ps_proxy_consume(px, PS_SIDE_SRV, w);
		if (w < n)
			break;
	}
	if (agreed) {
		/* The server said yes: the client's next bytes are its hello. */
		count(t, up_counter[t->upgrade]);
		t->pending = false;
		t->head_len = 0;
		t->held_off = 0;
		t->state = PS_TLSF_ST_HELLO;
		return;
	}
	while (!t->pending && (n = ps_proxy_peek(px, PS_SIDE_CLI, &d)) > 0) {
		w = relay_lines(t, px, PS_SIDE_CLI, d, n, &agreed);
		ps_proxy_consume(px, PS_SIDE_CLI, w);
		if (w < n)
			break;
	}
	if (t->pre_bytes > PS_TLSF_PRE_LIMIT && !t->pending) {
		/* Nothing we understand: plain relay from here on. */
		count(t, PS_TLSF_PREAMBLE_GAVE_UP);
		t->head_len = 0;
		t->held_off = 0;
		t->state = PS_TLSF_ST_PASS;
		return;
	}
	if (ps_proxy_eof(px, PS_SIDE_CLI) && !t->pending)
		ps_proxy_shutdown(px, PS_SIDE_SRV);
	if (ps_proxy_eof(px, PS_SIDE_SRV))
		ps_proxy_shutdown(px, PS_SIDE_CLI);
}

/* ------------------------------------------------------------------ */
/* PASS: the held bytes first, then the plain relay. */

/* A copied pass-through, as the policy's tap sees it. */
static void
pass_tap_data(void *arg, int dir, const uint8_t *p, uint32_t n)
{
	const struct ps_tls_tap *tap = arg;

	tap->data(tap->arg, dir, p, n);
}

static void
pass_tap_end(void *arg, int dir)
{
	const struct ps_tls_tap *tap = arg;

	if (tap->close != NULL)
		tap->close(tap->arg, dir, false);
}

/* The relay of from's bytes, copied to the tap when the policy says so. */
static void
pass_relay(struct ps_tls_flow *t, struct ps_proxy *px, enum ps_proxy_side from)
{
	if (t->copy) {
		const struct ps_proxy_tap copy = {
			.data = pass_tap_data, .end = pass_tap_end, .arg = (void *)t->tap,
		};

		ps_proxy_relay_tapped(px, from, &copy);
	} else {
		ps_proxy_relay(px, from);
	}
}

static void
step_pass(struct ps_tls_flow *t, struct ps_proxy *px)
{
	const uint8_t *held;
	size_t n_held;

	if (t->rd != NULL) {
		n_held = ps_tls_hello_raw(t->rd, &held);
	} else {
		held = t->head;
		n_held = t->head_len;
	}
	while (t->held_off < n_held) {
		uint32_t w = ps_proxy_send(px, PS_SIDE_SRV, held + t->held_off,
					   (uint32_t)(n_held - t->held_off));

		if (w == 0)
			return;
		if (t->copy)
			t->tap->data(t->tap->arg, 0, held + t->held_off, w);
		t->held_off += w;
	}
	hello_free(t);
	t->head_len = 0;
	t->held_off = 0;
	pass_relay(t, px, PS_SIDE_CLI);
	pass_relay(t, px, PS_SIDE_SRV);
}

/* ------------------------------------------------------------------ */
/* UPSTREAM: our handshake with the server, the hello held meanwhile. */

/* The client leg's certificate hook: the leaf forged for this flow. */
static int
cert_hook(struct ps_tls_conn *conn, void *arg)
{
	struct ps_tls_flow *t = ps_tls_conn_user(conn);

	(void)arg;
	if (t == NULL || t->leaf == NULL || t->leaf_key == NULL)
		return -EPERM;	/* handshake_failure alert to the client */
	return ps_tls_conn_use_cert(conn, t->leaf, t->leaf_chain, t->leaf_key) == 0 ?
	       0 : -EPERM;
}

/*
 * Start the client leg: replay the held hello. Without a leaf (the server
 * failed or was rejected) the hook refuses, and the client gets a
 * handshake_failure alert from the leg itself.
 */
static void
client_start(struct ps_tls_flow *t, struct ps_proxy *px)
{
	uint8_t sel[256];
	const uint8_t *proto, *held;
	size_t plen = 0, n_held, fed = 0;

	if (t->leaf != NULL && t->up != NULL && ps_tls_conn_alpn(t->up, &proto, &plen) &&
	    plen > 0 && plen < sizeof(sel)) {
		sel[0] = (uint8_t)plen;
		memcpy(sel + 1, proto, plen);
		plen += 1;
	} else {
		plen = 0;
	}
	if (ps_tls_conn_new(t->ic->cli_ctx, NULL, plen > 0 ? sel : NULL, plen, &t->cli) < 0) {
		fail_reset(t, px, "client leg: out of memory", NULL);
		return;
	}
	ps_tls_conn_set_user(t->cli, t);
	/* Never a newer protocol on the client leg than on the server leg:
	 * a TLS 1.2 server makes it TLS 1.2 (no downgrade sentinel). */
	if (t->up != NULL && ps_tls_conn_handshake_done(t->up) &&
	    ps_tls_conn_version(t->up) < TLS1_3_VERSION &&
	    ps_tls_conn_set_max_version(t->cli, TLS1_2_VERSION) < 0) {
		fail_reset(t, px, "client leg: cannot limit it to TLS 1.2", NULL);
		return;
	}
	n_held = ps_tls_hello_raw(t->rd, &held);
	/* The feed buffer holds four full records; a 64 KB hello fits. */
	fed = ps_tls_conn_feed(t->cli, held, n_held);
	hello_free(t);
	if (fed < n_held) {
		fail_reset(t, px, "client leg: hello does not fit the feed buffer", NULL);
		return;
	}
	t->state = PS_TLSF_ST_CLIENT;
}

/* The known server this flow goes to, by SNI and/or address, or NULL. */
static const struct ps_tls_known *
known_match(const struct ps_tls_flow *t)
{
	unsigned int i;

	for (i = 0; i < t->ic->n_known; i++) {
		const struct ps_tls_known *k = &t->ic->known[i];

		if (k->has_addr && (k->family != t->family ||
				    memcmp(k->addr, t->srv_addr, k->family == 4 ? 4 : 16) != 0))
			continue;
		if (k->sni[0] != '\0') {
			size_t n = strlen(t->sni), m = strlen(k->sni);

			if (k->sni[0] == '*') {
				/* "*.suffix": any name ending in ".suffix". */
				if (n < m || strcasecmp(t->sni + n - (m - 1), k->sni + 1) != 0)
					continue;
			} else if (strcasecmp(t->sni, k->sni) != 0) {
				continue;
			}
		}
		return k;
	}
	return NULL;
}

/*
 * The SHA-256 of the server's leaf, computed once per flow: the forge
 * cache and the session record both key on it. NULL when it fails.
 */
static const uint8_t *
cert_fp(struct ps_tls_flow *t, X509 *cert)
{
	uint8_t fp[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (t->fp_cert == cert)
		return t->fp;
	if (X509_digest(cert, EVP_sha256(), fp, &len) != 1 || len != PS_TLS_FP_LEN ||
	    X509_up_ref(cert) != 1) {
		ERR_clear_error();
		return NULL;
	}
	X509_free(t->fp_cert);
	t->fp_cert = cert;
	memcpy(t->fp, fp, PS_TLS_FP_LEN);
	return t->fp;
}

/*
 * The server's chain as a browser would judge it: OpenSSL's verdict, then
 * the WebPKI profile on the chain OpenSSL built (ps_webpki.h). A resumed
 * session carries no chain: only sessions whose chain passed both are
 * ever cached, so it passed when it was made.
 */
static void
check_chain(struct ps_tls_flow *t)
{
	SSL *ssl = ps_tls_conn_ssl(t->up);

	memset(&t->webpki, 0, sizeof(t->webpki));
	if (ps_tls_conn_session_reused(t->up) && t->verify_result == X509_V_OK)
		return;
	(void)ps_webpki_check(t->ic->webpki, SSL_get0_verified_chain(ssl),
			      t->sni[0] != '\0' ? t->sni : NULL, t->verify_result, 0, &t->webpki);
}

static void
step_upstream(struct ps_tls_flow *t, struct ps_proxy *px)
{
	enum ps_tls_status st;
	const struct ps_tls_known *k;
	struct ps_tls_forge *forge;
	X509 *peer;

	feed_from(px, PS_SIDE_SRV, t->up);
	st = ps_tls_conn_handshake(t->up);
	if (ps_tls_conn_cert_requested(t->up) && t->upgrade == PS_TLSF_UP_NONE) {
		/*
		 * The server wants a client certificate: only the client has
		 * one. Our attempt is dropped unsent (not one more byte of it
		 * goes out), a fresh connection to the server gets the held
		 * hello, and the flow is relayed untouched: the client never
		 * notices. The server is remembered for later flows.
		 */
		count(t, PS_TLSF_PASS_CLIENT_CERT);
		bypass_remember(t, false);
		pass_fresh(t, px, PS_TLSF_PASS_CLIENT_CERT_NONE);
		snprintf(t->why, sizeof(t->why), "bypassed: the server asks for a client certificate");
		return;
	}
	if (ps_tls_conn_cert_requested(t->up) && !t->cert_req_seen) {
		/*
		 * After a StartTLS or CONNECT preamble a fresh connection would
		 * need the whole preamble again, with the server's answers
		 * swallowed: instead the handshake goes on without a client
		 * certificate. A server that only asks accepts that; one that
		 * requires it fails the upstream handshake, and the client gets
		 * an alert rather than a broken stream.
		 */
		t->cert_req_seen = true;
		count(t, PS_TLSF_CLIENT_CERT_CONTINUED);
	}
	flush_wire(px, PS_SIDE_SRV, t->up);
	if (st == PS_TLS_ST_WANT) {
		if (ps_proxy_eof(px, PS_SIDE_SRV)) {
			count(t, PS_TLSF_UP_FAILED);
			set_why(t, "server closed during the handshake", NULL);
			client_start(t, px);
		}
		return;
	}
	if (st != PS_TLS_ST_DONE) {
		count(t, PS_TLSF_UP_FAILED);
		set_why(t, "upstream handshake failed", t->up);
		client_start(t, px);
		return;
	}
	count(t, ps_tls_conn_session_reused(t->up) ? PS_TLSF_UP_RESUMED : PS_TLSF_UP_FULL);
	t->verify_result = ps_tls_conn_verify_result(t->up);
	check_chain(t);
	peer = ps_tls_conn_peer_cert(t->up);
	if (t->decision == PS_TLS_DECIDE_LATER) {
		/* The policy needs the certificate's names: it has them now. */
		struct ps_tls_policy_verdict v;

		memset(&v, 0, sizeof(v));
		count(t, PS_TLSF_DECIDED_AT_CERT);
		t->tap->decide(t->tap->arg, ps_tls_hello_result(t->rd), peer, &v);
		if (v.decision == PS_TLS_DECIDE_LATER)
			v.decision = PS_TLS_DECIDE_DECRYPT;	/* nothing more to wait for */
		if (apply_verdict(t, px, &v))
			return;
		if (v.profile != t->profile && t->upgrade == PS_TLSF_UP_NONE) {
			/*
			 * The deciding rule wants another upstream profile
			 * than the one this attempt was made with: a fresh
			 * connection, the same hello, that profile. (After a
			 * preamble there is no fresh start: the attempt's
			 * profile stays.)
			 */
			count(t, PS_TLSF_PROFILE_RECONNECT);
			ps_tls_conn_free(t->up);
			t->up = NULL;
			ps_proxy_reconnect_server(px, rand_u32());
			t->up_ctx = v.up_ctx;
			t->profile = v.profile;
			t->verify_result = -1;
			upstream_connect(t, px);
			return;
		}
	}
	forge = t->ic->forge;
	if (t->webpki.first != PS_WEBPKI_OK) {
		enum ps_tls_verify_action act = t->on_invalid != PS_TLS_VFAIL_DEFAULT ?
						(enum ps_tls_verify_action)t->on_invalid :
						t->ic->on_verify_fail;

		count(t, PS_TLSF_VERIFY_FAILED);
		if ((unsigned int)t->webpki.first < PS_WEBPKI_N_REASONS)
			t->stats->verify_reason[t->webpki.first]++;
		if (act == PS_TLS_VFAIL_BYPASS) {
			/* The client gets the real chain and judges it itself. */
			pass_fresh(t, px, PS_TLSF_VERIFY_BYPASSED);
			snprintf(t->why, sizeof(t->why), "bypassed: upstream certificate invalid: %s",
				 ps_webpki_reason_name(t->webpki.first));
			return;
		}
		if (act == PS_TLS_VFAIL_RESIGN_UNTRUSTED && t->ic->forge_untrusted != NULL) {
			count(t, PS_TLSF_VERIFY_RESIGNED);
			forge = t->ic->forge_untrusted;
		} else {
			count(t, PS_TLSF_VERIFY_REJECTED);
			t->rejected = true;
			snprintf(t->why, sizeof(t->why), "upstream certificate rejected: %s",
				 ps_webpki_reason_name(t->webpki.first));
			forge = NULL;
		}
	}
	k = forge != NULL ? known_match(t) : NULL;
	if (k != NULL) {
		/* One of the operator's own servers: its real certificate. */
		count(t, PS_TLSF_KNOWN_KEY);
		X509_up_ref(k->cert);
		EVP_PKEY_up_ref(k->key);
		t->leaf = k->cert;
		t->leaf_key = k->key;
		t->leaf_chain = k->chain;
		t->known_key = true;
	} else if (forge != NULL && peer != NULL) {
		if (t->rd != NULL) {
			/* Never a stronger key than the server's own. */
			const struct ps_tls_client_hello *h = ps_tls_hello_result(t->rd);
			uint16_t sigalgs[SIGALGS_MAX];
			size_t n = hello_sigalgs(h, sigalgs);

			t->leaf_type = ps_tls_leaf_type_for_peer(sigalgs, n,
								 h->signature_algorithms.p != NULL,
								 peer);
		}
		if (cert_fp(t, peer) == NULL ||
		    ps_tls_forge_get_fp(forge, peer, t->fp, t->leaf_type, &t->leaf,
					&t->leaf_key) < 0) {
			count(t, PS_TLSF_FORGE_FAILED);
			set_why(t, "forging the leaf failed", NULL);
		}
		t->leaf_chain = ps_tls_forge_chain(forge);
	}
	client_start(t, px);
}

/* ------------------------------------------------------------------ */
/* CLIENT: the client's handshake with us. */

/* The client aborted because it does not accept our leaf (its alert). */
static bool
refused_our_leaf(const struct ps_tls_conn *conn)
{
	const char *why = ps_tls_conn_reason(conn);

	return strstr(why, "alert unknown ca") != NULL ||
	       strstr(why, "alert bad certificate") != NULL ||
	       strstr(why, "alert certificate unknown") != NULL;
}

static void
step_client(struct ps_tls_flow *t, struct ps_proxy *px)
{
	enum ps_tls_status st;

	feed_from(px, PS_SIDE_CLI, t->cli);
	st = ps_tls_conn_handshake(t->cli);
	flush_wire(px, PS_SIDE_CLI, t->cli);
	if (st == PS_TLS_ST_WANT || st == PS_TLS_ST_PAUSED) {
		if (ps_proxy_eof(px, PS_SIDE_CLI)) {
			count(t, PS_TLSF_CLI_FAILED);
			set_why(t, "client closed during the handshake", NULL);
			goto close_both;
		}
		return;
	}
	if (st != PS_TLS_ST_DONE) {
		if (t->leaf != NULL) {
			count(t, PS_TLSF_CLI_FAILED);
			set_why(t, "client handshake failed", t->cli);
			if (t->ic->bypass_pinned && refused_our_leaf(t->cli)) {
				/* A pinning application: its next flows to this
				 * server are relayed untouched. */
				count(t, PS_TLSF_PINNED_REMEMBERED);
				bypass_remember(t, true);
			}
		}
		goto close_both;
	}
	count(t, ps_tls_conn_session_reused(t->cli) ? PS_TLSF_CLI_RESUMED : PS_TLSF_CLI_FULL);
	count(t, PS_TLSF_DECRYPTED);
	t->decrypted = true;
	t->state = PS_TLSF_ST_ESTABLISHED;
	t->tapped = true;
	if (t->tap != NULL && t->tap->open != NULL)
		t->tap->open(t->tap->arg, t);
	if (t->tap != NULL && t->tap->data != NULL) {
		/* The plaintext before the TLS, in its order: tools see it all. */
		uint32_t off = 0;

		while (off + 3 <= t->pre_len) {
			uint32_t k = (uint32_t)t->pre[off + 1] << 8 | t->pre[off + 2];

			t->tap->data(t->tap->arg, t->pre[off], t->pre + off + 3, k);
			off += 3 + k;
		}
	}
	free(t->pre);
	t->pre = NULL;
	t->pre_len = 0;
	return;

close_both:
	/* The alert (if any) goes out, then both sides close; the server
	 * gets our close_notify. */
	if (t->up != NULL)
		(void)ps_tls_conn_shutdown(t->up);
	t->state = PS_TLSF_ST_DONE;
	t->read_closed[PS_SIDE_CLI] = t->read_closed[PS_SIDE_SRV] = true;
}

/* ------------------------------------------------------------------ */
/* ESTABLISHED: decrypt on one leg, tap, encrypt on the other. */

/* The inline tool's state for t: 0 none, 1 up or coming, -1 reset. */
static int
pipe_state(const struct ps_tls_flow *t)
{
	if (t->tap == NULL || t->tap->pipe == NULL)
		return 0;
	return t->tap->pipe->state(t->tap->arg);
}

/* dir ended: towards the other leg, close_notify after what is queued. */
static void
dir_ended(struct ps_tls_flow *t, struct ps_tls_conn *dst, int dir)
{
	(void)ps_tls_conn_shutdown(dst);
	if (t->tap != NULL && t->tap->close != NULL)
		t->tap->close(t->tap->arg, dir, false);
}

/*
 * Through an inline tool: what came out of it for dir goes to the other
 * leg (tapped for the out-of-band tools: what really goes on), and its
 * end of dir becomes the end towards that leg. false: the flow failed.
 */
static bool
pipe_out(struct ps_tls_flow *t, struct ps_proxy *px, struct ps_tls_conn *dst, int dir)
{
	const struct ps_tls_pipe *pp = t->tap->pipe;
	const uint8_t *p;
	uint32_t k;
	size_t w = 0;

	while (ps_tls_conn_wire_pending(dst) < WIRE_HIWAT &&
	       (k = pp->peek(t->tap->arg, dir, &p)) > 0) {
		if (k > PLAIN_CHUNK)
			k = PLAIN_CHUNK;
		if (t->tap->data != NULL)
			t->tap->data(t->tap->arg, dir, p, k);
		if (ps_tls_conn_write_plain(dst, p, k, &w) != PS_TLS_ST_DONE || w != k) {
			count(t, PS_TLSF_RECORD_FAILED);
			fail_reset(t, px, "re-encryption failed", dst);
			return false;
		}
		pp->consume(t->tap->arg, dir, k);
	}
	if (!t->out_closed[dir] && pp->eof(t->tap->arg, dir)) {
		t->out_closed[dir] = true;
		dir_ended(t, dst, dir);
	}
	return true;
}

/* Move plaintext from side's leg to the other leg. false: the flow failed. */
static bool
move_plain(struct ps_tls_flow *t, struct ps_proxy *px, enum ps_proxy_side from)
{
	enum ps_proxy_side to = other(from);
	struct ps_tls_conn *src = conn_of(t, from), *dst = conn_of(t, to);
	int dir = from == PS_SIDE_CLI ? 0 : 1;
	int ps = pipe_state(t);
	const struct ps_tls_pipe *pp = ps != 0 ? t->tap->pipe : NULL;
	uint8_t buf[PLAIN_CHUNK];

	if (ps < 0) {
		/* The tool reset its connection: so is the flow, both legs. */
		count(t, PS_TLSF_INLINE_RESET);
		fail_reset(t, px, "reset by the inline tool", NULL);
		return false;
	}
	if (!t->read_closed[from])
		feed_from(px, from, src);
	while (!t->read_closed[from] &&
	       (pp != NULL ? pp->room(t->tap->arg, dir) > 0 :
			     ps_tls_conn_wire_pending(dst) < WIRE_HIWAT)) {
		size_t cap = sizeof(buf), n = 0, w = 0;
		enum ps_tls_status st;

		if (pp != NULL && pp->room(t->tap->arg, dir) < cap)
			cap = pp->room(t->tap->arg, dir);	/* read no more than it takes */
		st = ps_tls_conn_read_plain(src, buf, cap, &n);
		if (n > 0) {
			t->stats->plain_bytes[dir] += n;
			t->plain[dir] += n;
			if (pp != NULL) {
				if (pp->push(t->tap->arg, dir, buf, (uint32_t)n) != n) {
					fail_reset(t, px, "the inline tool's leg refused data", NULL);
					return false;
				}
			} else {
				if (t->tap != NULL && t->tap->data != NULL)
					t->tap->data(t->tap->arg, dir, buf, (uint32_t)n);
				if (ps_tls_conn_write_plain(dst, buf, n, &w) != PS_TLS_ST_DONE ||
				    w != n) {
					count(t, PS_TLSF_RECORD_FAILED);
					fail_reset(t, px, "re-encryption failed", dst);
					return false;
				}
			}
			if (from == PS_SIDE_SRV)
				sess_store(t);
			/* Refill from TCP: the feed buffer may have room now. */
			feed_from(px, from, src);
			continue;
		}
		if (st == PS_TLS_ST_CLOSED) {
			t->read_closed[from] = true;
			if (pp != NULL)
				pp->shutdown(t->tap->arg, dir);
			else
				dir_ended(t, dst, dir);
			break;
		}
		if (st == PS_TLS_ST_FAILED) {
			count(t, PS_TLSF_RECORD_FAILED);
			fail_reset(t, px, from == PS_SIDE_CLI ? "client record failed" :
				   "server record failed", src);
			return false;
		}
		/* WANT: everything fed is read. A FIN with nothing left to
		 * decrypt ends this direction without close_notify. */
		if (ps_proxy_eof(px, from)) {
			t->read_closed[from] = true;
			count(t, PS_TLSF_TRUNCATED);
			if (pp != NULL)
				pp->shutdown(t->tap->arg, dir);
			else if (t->tap != NULL && t->tap->close != NULL)
				t->tap->close(t->tap->arg, dir, false);
		}
		break;
	}
	if (pp != NULL && !pipe_out(t, px, dst, dir))
		return false;
	if (from == PS_SIDE_SRV && !t->up_sess_stored)
		sess_store(t);
	flush_wire(px, to, dst);
	/* Reading may have produced records for the sender (key updates). */
	flush_wire(px, from, src);
	/*
	 * An idle leg gives back OpenSSL's 16 KB record buffers (kept after
	 * a ticket or a partial record otherwise) and its drained wire
	 * buffers: most sessions are idle most of the time. Nothing is given
	 * back while a buffer holds data.
	 */
	ps_tls_conn_release(src);
	if (pp != NULL ? t->out_closed[dir] : t->read_closed[from])
		fin_when_flushed(t, px, to);
	return true;
}

static void
step_established(struct ps_tls_flow *t, struct ps_proxy *px)
{
	if (!move_plain(t, px, PS_SIDE_CLI))
		return;
	if (!move_plain(t, px, PS_SIDE_SRV))
		return;
	if (t->read_closed[PS_SIDE_CLI] && t->read_closed[PS_SIDE_SRV] &&
	    (pipe_state(t) == 0 || (t->out_closed[0] && t->out_closed[1]))) {
		t->state = PS_TLSF_ST_DONE;
		t->tapped = false;
	}
}

/* ------------------------------------------------------------------ */

static void
step_done(struct ps_tls_flow *t, struct ps_proxy *px)
{
	const uint8_t *d;
	uint32_t n;

	/* Whatever still comes is discarded; pending records (an alert, a
	 * close_notify) go out, then FIN. */
	while ((n = ps_proxy_peek(px, PS_SIDE_CLI, &d)) > 0)
		ps_proxy_consume(px, PS_SIDE_CLI, n);
	while ((n = ps_proxy_peek(px, PS_SIDE_SRV, &d)) > 0)
		ps_proxy_consume(px, PS_SIDE_SRV, n);
	fin_when_flushed(t, px, PS_SIDE_CLI);
	fin_when_flushed(t, px, PS_SIDE_SRV);
}

static void
run(struct ps_proxy *px, void *arg)
{
	struct ps_tls_flow *t = arg;
	unsigned int guard;

	for (guard = 0; guard < 8; guard++) {
		uint8_t before = t->state;

		switch ((enum ps_tls_flow_state)t->state) {
		case PS_TLSF_ST_HELLO:
			step_hello(t, px);
			break;
		case PS_TLSF_ST_PREAMBLE:
			step_preamble(t, px);
			break;
		case PS_TLSF_ST_PASS:
			step_pass(t, px);
			return;
		case PS_TLSF_ST_UPSTREAM:
			step_upstream(t, px);
			break;
		case PS_TLSF_ST_CLIENT:
			step_client(t, px);
			break;
		case PS_TLSF_ST_ESTABLISHED:
			step_established(t, px);
			break;
		case PS_TLSF_ST_DONE:
			step_done(t, px);
			return;
		}
		if (t->state == before || (px->flags & PS_PROXY_F_RESET))
			return;
	}
}

int
ps_tls_flow_init(struct ps_tls_flow *t, const struct ps_tls_icpt *ic,
		 struct ps_tls_flow_stats *stats, const struct ps_tls_tap *tap,
		 const uint8_t *key, size_t key_len)
{
	memset(t, 0, sizeof(*t));
	t->stage.run = run;
	t->stage.arg = t;
	t->ic = ic;
	t->stats = stats;
	t->tap = tap;
	t->state = PS_TLSF_ST_HELLO;
	t->verify_result = -1;
	t->on_invalid = PS_TLS_VFAIL_DEFAULT;
	if (key_len > sizeof(t->sess_key))
		key_len = sizeof(t->sess_key);
	memcpy(t->sess_key, key, key_len);
	t->sess_key_len = (uint8_t)key_len;
	return 0;
}

void
ps_tls_flow_set_addrs(struct ps_tls_flow *t, uint8_t family, const uint8_t cli[16],
		      const uint8_t srv[16])
{
	t->family = family;
	memcpy(t->cli_addr, cli, sizeof(t->cli_addr));
	memcpy(t->srv_addr, srv, sizeof(t->srv_addr));
}

void
ps_tls_flow_free(struct ps_tls_flow *t)
{
	if (t->tapped && t->tap != NULL && t->tap->close != NULL)
		t->tap->close(t->tap->arg, 0, true);
	t->tapped = false;
	hello_free(t);
	free(t->pre);
	t->pre = NULL;
	ps_tls_conn_free(t->cli);
	ps_tls_conn_free(t->up);
	X509_free(t->leaf);
	X509_free(t->seen_cert);
	X509_free(t->fp_cert);
	EVP_PKEY_free(t->leaf_key);
	t->cli = t->up = NULL;
	t->leaf = NULL;
	t->seen_cert = NULL;
	t->fp_cert = NULL;
	t->leaf_key = NULL;
}

/* ------------------------------------------------------------------ */
/* Session record. */

static void
copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void
name_oneline(const X509_NAME *n, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_read(b, out, (int)cap - 1);
		out[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
}

/* "DNS:a,DNS:b,IP:1.2.3.4", cut at cap without splitting an entry. */
static void
san_list(X509 *cert, char *out, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;
	int i;

	out[0] = '\0';
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char item[PS_SESS_NAME_MAX + 8];
		int n = 0;

		if (g->type == GEN_DNS) {
			n = snprintf(item, sizeof(item), "DNS:%.*s",
				     ASN1_STRING_length(g->d.dNSName) < PS_SESS_NAME_MAX ?
				     ASN1_STRING_length(g->d.dNSName) : PS_SESS_NAME_MAX,
				     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			char txt[64];

			if (ASN1_STRING_length(g->d.iPAddress) == 4)
				inet_ntop(AF_INET, a, txt, sizeof(txt));
			else if (ASN1_STRING_length(g->d.iPAddress) == 16)
				inet_ntop(AF_INET6, a, txt, sizeof(txt));
			else
				continue;
			n = snprintf(item, sizeof(item), "IP:%s", txt);
		} else {
			continue;
		}
		if (n <= 0 || memchr(item, ',', (size_t)n) != NULL ||
		    off + (size_t)n + 2 > cap)
			continue;
		off += (size_t)snprintf(out + off, cap - off, "%s%s", off > 0 ? "," : "", item);
	}
	GENERAL_NAMES_free(gens);
}

static void
describe_cert(const struct ps_tls_flow *t, X509 *cert, struct ps_sess_rec *r)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	const unsigned char *fp = NULL;
	unsigned int md_len = 0, i;
	int idx;

	name_oneline(X509_get_subject_name(cert), r->cert_subject, sizeof(r->cert_subject));
	name_oneline(X509_get_issuer_name(cert), r->cert_issuer, sizeof(r->cert_issuer));
	san_list(cert, r->cert_san, sizeof(r->cert_san));
	idx = X509_NAME_get_index_by_NID(X509_get_subject_name(cert), NID_commonName, -1);
	if (idx >= 0) {
		const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
			X509_NAME_get_entry(X509_get_subject_name(cert), idx));
		int n = ASN1_STRING_length(cn);

		if (n > 0 && n < PS_SESS_NAME_MAX &&
		    memchr(ASN1_STRING_get0_data(cn), 0, (size_t)n) == NULL) {
			memcpy(r->cert_cn, ASN1_STRING_get0_data(cn), (size_t)n);
			r->cert_cn[n] = '\0';
		}
	}
	if (cert == t->fp_cert)
		fp = t->fp, md_len = PS_TLS_FP_LEN;
	else if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1)
		fp = md;
	else
		ERR_clear_error();
	for (i = 0; fp != NULL && i < md_len && i < 32; i++)
		snprintf(r->cert_sha256 + 2 * i, 3, "%02x", fp[i]);
}

void
ps_tls_flow_describe(const struct ps_tls_flow *t, struct ps_sess_rec *r)
{
	const uint8_t *proto;
	size_t plen;
	X509 *peer;

	switch ((enum ps_tls_flow_state)t->state) {
	case PS_TLSF_ST_PASS:
	case PS_TLSF_ST_PREAMBLE:
		r->state = PS_SESS_PASSTHROUGH;
		break;
	case PS_TLSF_ST_ESTABLISHED:
		r->state = PS_SESS_DECRYPTED;
		break;
	case PS_TLSF_ST_DONE:
		r->state = t->decrypted ? PS_SESS_DECRYPTED :
			   t->rejected ? PS_SESS_REJECTED : PS_SESS_FAILED;
		break;
	default:
		r->state = PS_SESS_HANDSHAKE;
		break;
	}
	{
		static const char *const kinds[] = {
			[PS_TLSF_UP_NONE] = "tls",
			[PS_TLSF_UP_SMTP] = "smtp-starttls",
			[PS_TLSF_UP_IMAP] = "imap-starttls",
			[PS_TLSF_UP_POP3] = "pop3-stls",
			[PS_TLSF_UP_FTP] = "ftp-auth-tls",
			[PS_TLSF_UP_CONNECT] = "http-connect",
		};

		copy_str(r->kind, sizeof(r->kind), !t->hello_tls ? "not-tls" :
			 kinds[t->upgrade < PS_TLSF_UP_CONNECT + 1 ? t->upgrade : 0]);
	}
	copy_str(r->connect_host, sizeof(r->connect_host), t->connect_host);
	copy_str(r->sni, sizeof(r->sni), t->sni);
	r->bytes[0] = t->plain[0];
	r->bytes[1] = t->plain[1];
	r->verify_result = t->up != NULL && ps_tls_conn_handshake_done(t->up) ?
			   t->verify_result : -1;
	if (t->cli != NULL && ps_tls_conn_handshake_done(t->cli)) {
		copy_str(r->cli_version, sizeof(r->cli_version), ps_tls_conn_version_name(t->cli));
		copy_str(r->cli_cipher, sizeof(r->cli_cipher), ps_tls_conn_cipher(t->cli));
		r->cli_resumed = ps_tls_conn_session_reused(t->cli);
		if (ps_tls_conn_alpn(t->cli, &proto, &plen) && plen < sizeof(r->alpn)) {
			memcpy(r->alpn, proto, plen);
			r->alpn[plen] = '\0';
		}
	}
	if (t->leaf != NULL && t->known_key)
		copy_str(r->leaf_type, sizeof(r->leaf_type), "known-key");
	else if (t->leaf != NULL)
		snprintf(r->leaf_type, sizeof(r->leaf_type), "forged-%s",
			 ps_tls_leaf_type_name(t->leaf_type));
	if (t->up != NULL && ps_tls_conn_handshake_done(t->up)) {
		copy_str(r->up_version, sizeof(r->up_version), ps_tls_conn_version_name(t->up));
		copy_str(r->up_cipher, sizeof(r->up_cipher), ps_tls_conn_cipher(t->up));
		r->up_resumed = ps_tls_conn_session_reused(t->up);
		(void)ps_webpki_result_format(&t->webpki, r->verify_reason,
					      sizeof(r->verify_reason));
		r->verify_result = t->webpki.first == PS_WEBPKI_OK ? 0 : (long)t->webpki.first;
		peer = ps_tls_conn_peer_cert(t->up);
		if (peer != NULL)
			describe_cert(t, peer, r);
	} else if (t->seen_cert != NULL) {
		/* Bypassed after the server showed its certificate. */
		describe_cert(t, t->seen_cert, r);
		(void)ps_webpki_result_format(&t->webpki, r->verify_reason,
					      sizeof(r->verify_reason));
		r->verify_result = t->webpki.first == PS_WEBPKI_OK ? 0 : (long)t->webpki.first;
	}
	copy_str(r->close_reason, sizeof(r->close_reason), t->why);
	copy_str(r->rule, sizeof(r->rule), t->rule);
}

/* ------------------------------------------------------------------ */
/* The shared context. */

static void
keylog_cb(const SSL *ssl, const char *line)
{
	struct ps_tls_icpt *ic = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	size_t n;

	if (ic == NULL || ic->keylog_fd < 0)
		return;
	n = strlen(line);
	pthread_mutex_lock(&ic->keylog_lock);
	/* One write per line: a line is never split between writers. */
	{
		char buf[1024];

		if (n + 1 <= sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\n';
			if (write(ic->keylog_fd, buf, n + 1) < 0) {
				/* Nothing to do: the key log is best effort. */
			}
		}
	}
	pthread_mutex_unlock(&ic->keylog_lock);
}

static int
keylog_open(struct ps_tls_icpt *ic, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the key log: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: the key log is readable by group or others (mode %04o); "
			 "chmod 600 it", path, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	ic->keylog_fd = fd;
	return 0;
}

int
ps_tls_icpt_init(struct ps_tls_icpt *ic, const struct ps_tls_icpt_cfg *cfg,
		 char *err, size_t errlen)
{
	struct ps_tls_ctx_cfg cc;
	int rc;

	memset(ic, 0, sizeof(*ic));
	ic->keylog_fd = -1;
	pthread_mutex_init(&ic->keylog_lock, NULL);
	ic->forge = cfg->forge;
	ic->forge_untrusted = cfg->forge_untrusted;
	ic->bypass_pinned = cfg->bypass_pinned;
	ic->known = cfg->known;
	ic->n_known = cfg->n_known;
	rc = ps_webpki_ctx_new(cfg->own_cas, cfg->n_own_cas, &ic->webpki);
	if (rc < 0) {
		snprintf(err, errlen, "WebPKI checks: cannot set up (%d)", rc);
		goto fail;
	}
	ic->on_verify_fail = cfg->on_verify_fail;

	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_SERVER;
	cc.cert_select = cert_hook;
	rc = ps_tls_ctx_new(&cc, &ic->cli_ctx, err, errlen);
	if (rc < 0)
		goto fail;

	memset(&cc, 0, sizeof(cc));
	cc.role = PS_TLS_ROLE_CLIENT;
	cc.ca_file = cfg->ca_file;
	cc.default_verify_paths = cfg->trust_system;
	cc.verify_mode = PS_TLS_VERIFY_REPORT;
	rc = ps_tls_ctx_new(&cc, &ic->up_ctx, err, errlen);
	if (rc < 0)
		goto fail;

	{
		SSL_CTX *cs = ps_tls_ctx_ssl_ctx(ic->cli_ctx);

		if (cfg->sess_entries > 0) {
			SSL_CTX_sess_set_cache_size(cs, cfg->sess_entries);
			SSL_CTX_set_timeout(cs, (long)cfg->sess_timeout_s);
			rc = ps_tls_sess_cache_new(cfg->sess_entries, cfg->sess_timeout_s,
						   &ic->up_sessions);
			if (rc < 0) {
				snprintf(err, errlen, "upstream session cache: out of memory");
				goto fail;
			}
		} else {
			SSL_CTX_set_session_cache_mode(cs, SSL_SESS_CACHE_OFF);
			SSL_CTX_set_options(cs, SSL_OP_NO_TICKET);
			SSL_CTX_set_num_tickets(cs, 0);
		}
	}
	if (cfg->bypass_ttl_s > 0) {
		rc = ps_tls_sess_cache_new(BYPASS_ENTRIES, cfg->bypass_ttl_s, &ic->bypass);
		if (rc == 0) {
			ic->bypass->meta = calloc(BYPASS_ENTRIES, sizeof(*ic->bypass->meta));
			if (ic->bypass->meta == NULL)
				rc = -ENOMEM;
		}
		if (rc < 0) {
			snprintf(err, errlen, "bypass cache: out of memory");
			goto fail;
		}
	}
	if (cfg->keylog_file != NULL && cfg->keylog_file[0] != '\0') {
		rc = keylog_open(ic, cfg->keylog_file, err, errlen);
		if (rc < 0)
			goto fail;
		SSL_CTX_set_app_data(ps_tls_ctx_ssl_ctx(ic->cli_ctx), ic);
		SSL_CTX_set_app_data(ps_tls_ctx_ssl_ctx(ic->up_ctx), ic);
		SSL_CTX_set_keylog_callback(ps_tls_ctx_ssl_ctx(ic->cli_ctx), keylog_cb);
		SSL_CTX_set_keylog_callback(ps_tls_ctx_ssl_ctx(ic->up_ctx), keylog_cb);
	}
	return 0;
fail:
	ps_tls_icpt_fini(ic);
	return rc;
}

void
ps_tls_icpt_fini(struct ps_tls_icpt *ic)
{
	ps_tls_ctx_free(ic->cli_ctx);
	ps_tls_ctx_free(ic->up_ctx);
	ps_tls_sess_cache_free(ic->up_sessions);
	ps_tls_sess_cache_free(ic->bypass);
	ps_webpki_ctx_free(ic->webpki);
	ic->webpki = NULL;
	ic->cli_ctx = ic->up_ctx = NULL;
	ic->up_sessions = NULL;
	ic->bypass = NULL;
	if (ic->keylog_fd >= 0)
		close(ic->keylog_fd);
	ic->keylog_fd = -1;
}
