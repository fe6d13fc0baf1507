/* SPDX-License-Identifier: BSD-3-Clause
 * Session records: live list, ring of closed records, JSON lines log and
 * syslog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ps_session.h"

struct ps_sess_live {
	struct ps_sess_live *prev, *next;
	struct ps_sess_rec rec;
};

static const char *const state_names[PS_SESS_STATE_MAX] = {
#define PS_SESS_STATE_NAME(name, str) str,
	PS_SESS_STATES(PS_SESS_STATE_NAME)
#undef PS_SESS_STATE_NAME
};

const char *
ps_sess_state_name(enum ps_sess_state st)
{
	return (unsigned int)st < PS_SESS_STATE_MAX ? state_names[st] : "invalid";
}

/* Open path for appending, mode 0640, created if missing; its size to *size. */
static FILE *
log_open(const char *path, uint64_t *size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	struct stat st;
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "a");
	if (f == NULL) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	*size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return f;
}

int
ps_sess_store_init(struct ps_sess_store *s, unsigned int keep, const char *log_path,
		   char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (keep == 0)
		keep = 1;
	s->ring = calloc(keep, sizeof(*s->ring));
	if (s->ring == NULL) {
		snprintf(err, errlen, "session records: cannot allocate %u records", keep);
		return -ENOMEM;
	}
	s->keep = keep;
	s->next_id = 1;
	s->log_keep = 1;
	pthread_mutex_init(&s->lock, NULL);
	if (log_path != NULL && log_path[0] != '\0') {
		int e = ENOMEM;

		s->log_path = strdup(log_path);
		if (s->log_path == NULL || (s->log = log_open(log_path, &s->log_size)) == NULL) {
			if (s->log_path != NULL)
				e = errno;
			snprintf(err, errlen, "%s: cannot open the session log: %s", log_path,
				 strerror(e));
			free(s->log_path);
			free(s->ring);
			pthread_mutex_destroy(&s->lock);
			memset(s, 0, sizeof(*s));
			return -e;
		}
	}
	return 0;
}

int
ps_sess_log_setup(struct ps_sess_store *s, const struct ps_sess_log_opts *o,
		  char *err, size_t errlen)
{
	int rc;

	s->log_rotate_bytes = o->rotate_bytes;
	s->log_keep = o->keep != 0 ? o->keep : 1;
	if (o->syslog_url == NULL || o->syslog_url[0] == '\0')
		return 0;
	s->syslog = calloc(1, sizeof(*s->syslog));
	s->syslog_url = strdup(o->syslog_url);
	if (s->syslog == NULL || s->syslog_url == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "syslog: out of memory");
		goto err_free;
	}
	rc = ps_syslog_open(s->syslog, o->syslog_url, o->syslog_facility, o->syslog_queue,
			    err, errlen);
	if (rc < 0)
		goto err_free;
	return 0;
err_free:
	free(s->syslog);
	free(s->syslog_url);
	s->syslog = NULL;
	s->syslog_url = NULL;
	return rc;
}

void
ps_sess_log_reopen(struct ps_sess_store *s)
{
	__atomic_store_n(&s->log_reopen, 1, __ATOMIC_RELEASE);
}

void
ps_sess_store_fini(struct ps_sess_store *s)
{
	struct ps_sess_live *l, *next;

	if (s->ring == NULL)
		return;
	(void)ps_sess_log_drain(s);
	if (s->log != NULL)
		fclose(s->log);
	if (s->syslog != NULL) {
		/* Shutting down: what waits for a TCP collector gets a second. */
		ps_syslog_close(s->syslog, 1000);
		free(s->syslog);
	}
	free(s->syslog_url);
	free(s->log_path);
	for (l = s->live; l != NULL; l = next) {
		next = l->next;
		free(l);
	}
	free(s->ring);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/*
 * Take the store's lock, spinning a while before sleeping: it is only ever
 * held for a short copy or one slice of a search, and a worker put to
 * sleep on it would come back late (waking a thread takes far longer than
 * the wait). Workers also say when they wait, so that a search, which
 * takes the lock slice by slice, lets them in between slices instead of
 * taking it straight back (a mutex is not fair).
 */
static void
store_lock(struct ps_sess_store *s, bool worker)
{
	unsigned int spins;

	if (pthread_mutex_trylock(&s->lock) == 0)
		return;
	if (worker)
		__atomic_add_fetch(&s->waiting, 1, __ATOMIC_RELAXED);
	for (spins = 0; spins < 100000; spins++) {
		cpu_relax();
		if (pthread_mutex_trylock(&s->lock) == 0)
			goto locked;
	}
	pthread_mutex_lock(&s->lock);
locked:
	if (worker)
		__atomic_sub_fetch(&s->waiting, 1, __ATOMIC_RELAXED);
}

/* Take m (a session or a search's marker) out of the live list. */
static void
live_unlink(struct ps_sess_store *s, struct ps_sess_live *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		s->live = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	m->prev = m->next = NULL;
}

struct ps_sess_live *
ps_sess_open(struct ps_sess_store *s, const struct ps_sess_rec *rec)
{
	struct ps_sess_live *l = malloc(sizeof(*l));

	if (l == NULL)
		return NULL;
	l->rec = *rec;
	l->rec.live = true;
	l->prev = NULL;
	store_lock(s, true);
	l->rec.id = s->next_id++;
	l->next = s->live;
	if (s->live != NULL)
		s->live->prev = l;
	s->live = l;
	s->n_live++;
	pthread_mutex_unlock(&s->lock);
	return l;
}

uint64_t
ps_sess_id(const struct ps_sess_live *l)
{
	return l->rec.id;	/* set before l was published, never changed */
}

void
ps_sess_update(struct ps_sess_store *s, struct ps_sess_live *l, const struct ps_sess_rec *rec)
{
	uint64_t id = l->rec.id;

	store_lock(s, true);
	l->rec = *rec;
	l->rec.id = id;
	l->rec.live = true;
	pthread_mutex_unlock(&s->lock);
}

void
ps_sess_close(struct ps_sess_store *s, struct ps_sess_live *l, const struct ps_sess_rec *rec)
{
	uint64_t id = l->rec.id;
	struct ps_sess_rec *slot;

	store_lock(s, true);
	live_unlink(s, l);
	s->n_live--;
	slot = &s->ring[s->n_closed % s->keep];
	*slot = *rec;
	slot->id = id;
	slot->live = false;
	s->n_closed++;
	if (s->n_closed - s->n_logged > s->keep) {
		/* The oldest unlogged record was just overwritten. */
		s->log_dropped += s->n_closed - s->n_logged - s->keep;
		s->n_logged = s->n_closed - s->keep;
	}
	pthread_mutex_unlock(&s->lock);
	free(l);
}

/*
 * A glob prepared once per query. Most searches are "*.example.com" or a
 * plain name: the literal text before the first wildcard and after the last
 * one rule out nearly every record with two string comparisons. When '*' is
 * the only wildcard, finding the literal pieces between the stars in order
 * decides the rest; fnmatch() is left the patterns with '?', '[' or '\\'.
 */
struct glob {
	const char *pat;		/* NULL: no criterion */
	size_t len;
	size_t head_len;		/* literal text before the first wildcard */
	const char *tail;		/* literal text after the last wildcard */
	size_t tail_len;
	bool literal;			/* no wildcard: a case-insensitive comparison */
	bool stars;			/* '*' the only wildcard: no fnmatch() needed */
};

/* The criteria of a query, prepared once: globs, and nothing per record. */
struct query {
	const struct ps_sess_filter *f;
	struct glob host, sni, cert;
};

static void
glob_prepare(struct glob *g, const char *pat)
{
	const char *first, *last = NULL, *p;
	unsigned int n_stars = 0, n_meta = 0;

	memset(g, 0, sizeof(*g));
	g->pat = pat;
	if (pat == NULL)
		return;
	g->len = strlen(pat);
	g->tail = pat + g->len;		/* no literal tail until one is found */
	if (strchr(pat, '\\') != NULL)
		return;		/* escapes: leave every case to fnmatch() */
	first = strpbrk(pat, "*?[");
	if (first == NULL) {
		g->literal = true;
		return;
	}
	for (p = first; *p != '\0'; p++) {
		/* ']' ends a bracket: the tail is what follows the last one. */
		if (strchr("*?[]", *p) != NULL) {
			last = p;
			n_meta++;
			n_stars += *p == '*';
		}
	}
	g->head_len = (size_t)(first - pat);
	g->tail = last + 1;
	g->tail_len = strlen(g->tail);
	g->stars = n_meta == n_stars;
}

/*
 * Does the middle of a '*'-only pattern, pat (n bytes, e.g. "*ab*cd*"),
 * match name (len bytes)? Each piece between stars is found leftmost, in
 * order: taking the earliest place never loses a match for the next.
 */
static bool
stars_match(const char *pat, size_t n, const char *name, size_t len)
{
	size_t i = 0, at = 0;

	while (i < n) {
		size_t piece;

		if (pat[i] == '*') {
			i++;
			continue;
		}
		for (piece = 0; i + piece < n && pat[i + piece] != '*'; piece++)
			;
		for (;; at++) {
			if (at + piece > len)
				return false;
			if (strncasecmp(name + at, pat + i, piece) == 0)
				break;
		}
		at += piece;
		i += piece;
	}
	return true;
}

/* Does name (n bytes, not necessarily NUL-terminated) match g? */
static bool
glob_match(const struct glob *g, const char *name, size_t n)
{
	char buf[PS_SESS_SAN_MAX];

	if (n == 0)
		return false;
	if (g->literal)
		return n == g->len && strncasecmp(name, g->pat, n) == 0;
	if (n < g->head_len + g->tail_len ||
	    strncasecmp(name, g->pat, g->head_len) != 0 ||
	    strncasecmp(name + n - g->tail_len, g->tail, g->tail_len) != 0)
		return false;
	if (g->stars)
		return stars_match(g->pat + g->head_len, g->len - g->head_len - g->tail_len,
				   name + g->head_len, n - g->head_len - g->tail_len);
	if (name[n] != '\0') {
		if (n >= sizeof(buf))
			return false;
		memcpy(buf, name, n);
		buf[n] = '\0';
		name = buf;
	}
	return fnmatch(g->pat, name, FNM_CASEFOLD) == 0;
}

/* Does the certificate carry a name matching g (CN or a DNS SAN)? */
static bool
cert_match(const struct glob *g, const struct ps_sess_rec *r)
{
	const char *p = r->cert_san;

	if (glob_match(g, r->cert_cn, strlen(r->cert_cn)))
		return true;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > 4 && strncmp(p, "DNS:", 4) == 0 && glob_match(g, p + 4, n - 4))
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

static bool
prefix_match(const struct ps_sess_prefix *pfx, uint8_t family, const uint8_t *a)
{
	unsigned int full = pfx->len / 8u, rest = pfx->len % 8u;

	if (pfx->family == 0)
		return true;
	if (pfx->family != family)
		return false;
	if (memcmp(a, pfx->addr, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ pfx->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static void
query_prepare(struct query *q, const struct ps_sess_filter *f)
{
	q->f = f;
	glob_prepare(&q->host, f->host);
	glob_prepare(&q->sni, f->sni);
	glob_prepare(&q->cert, f->cert);
}

/* Cheapest criteria first: most records fail on an integer or a prefix. */
static bool
query_match(const struct query *q, const struct ps_sess_rec *r)
{
	const struct ps_sess_filter *f = q->f;

	if (f->id != 0 && r->id != f->id)
		return false;
	if (f->srv_port != 0 && r->srv_port != f->srv_port)
		return false;
	if (!prefix_match(&f->src, r->family, r->cli_addr) ||
	    !prefix_match(&f->dst, r->family, r->srv_addr))
		return false;
	if (f->kind != NULL && strcmp(f->kind, r->kind) != 0)
		return false;
	if (f->action != NULL && strcmp(f->action, r->action) != 0)
		return false;
	if (f->rule != NULL && strcmp(f->rule, r->rule) != 0)
		return false;
	if (q->sni.pat != NULL && !glob_match(&q->sni, r->sni, strlen(r->sni)))
		return false;
	if (q->cert.pat != NULL && !cert_match(&q->cert, r))
		return false;
	if (q->host.pat != NULL && !glob_match(&q->host, r->sni, strlen(r->sni)) &&
	    !cert_match(&q->host, r))
		return false;
	return true;
}

bool
ps_sess_match(const struct ps_sess_rec *r, const struct ps_sess_filter *f)
{
	struct query q;

	query_prepare(&q, f);
	return query_match(&q, r);
}

int
ps_sess_prefix_parse(const char *text, struct ps_sess_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned int i, max;
	long len;

	memset(out, 0, sizeof(*out));
	if (text == NULL || strlen(text) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, strlen(text) + 1);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = 6;
	else
		return -EINVAL;
	max = out->family == 4 ? 32 : 128;
	len = (long)max;
	if (slash != NULL) {
		const char *l = slash + 1;

		/* Digits only: strtol() would take " 8", "+8" or "0x8". */
		if (*l < '0' || *l > '9')
			goto bad;
		len = strtol(l, &end, 10);
		if (*end != '\0' || len > (long)max)
			goto bad;
	}
	out->len = (uint8_t)len;
	for (i = 0; i < 16; i++) {
		unsigned int bit = i * 8u;

		if (bit >= out->len)
			out->addr[i] = 0;
		else if (bit + 8 > out->len)
			out->addr[i] &= (uint8_t)(0xff << (8 - (out->len - bit)));
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

static void
addr_str(uint8_t family, const uint8_t *a, char *out, size_t len)
{
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

static void
set_str(json_t *o, const char *key, const char *v)
{
	if (v[0] != '\0')
		json_object_set_new(o, key, json_string(v));
}

json_t *
ps_sess_rec_json(const struct ps_sess_rec *r)
{
	char cli[INET6_ADDRSTRLEN], srv[INET6_ADDRSTRLEN];
	json_t *o, *leg;

	addr_str(r->family, r->cli_addr, cli, sizeof(cli));
	addr_str(r->family, r->srv_addr, srv, sizeof(srv));
	o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:i, s:s, s:i, s:i, s:I, s:I}",
		      "id", (json_int_t)r->id,
		      "state", ps_sess_state_name((enum ps_sess_state)r->state),
		      "start_ms", (json_int_t)r->start_ms,
		      "kind", r->kind,
		      "client", cli, "client_port", (int)r->cli_port,
		      "server", srv, "server_port", (int)r->srv_port,
		      "vlan", (int)r->vlan,
		      "bytes_client_to_server", (json_int_t)r->bytes[0],
		      "bytes_server_to_client", (json_int_t)r->bytes[1]);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "live", json_boolean(r->live));
	if (r->end_ms != 0)
		json_object_set_new(o, "end_ms", json_integer((json_int_t)r->end_ms));
	set_str(o, "ingress", r->ingress);
	set_str(o, "sni", r->sni);
	set_str(o, "connect_host", r->connect_host);
	set_str(o, "alpn", r->alpn);
	if (r->cli_version[0] != '\0') {
		leg = json_pack("{s:s, s:s, s:b}", "version", r->cli_version,
				"cipher", r->cli_cipher, "resumed", r->cli_resumed);
		if (r->leaf_type[0] != '\0')
			json_object_set_new(leg, "leaf", json_string(r->leaf_type));
		json_object_set_new(o, "client_leg", leg);
	}
	if (r->up_version[0] != '\0')
		json_object_set_new(o, "server_leg", json_pack("{s:s, s:s, s:b}",
			"version", r->up_version, "cipher", r->up_cipher,
			"resumed", r->up_resumed));
	if (r->cert_sha256[0] != '\0') {
		json_t *c = json_object();

		set_str(c, "cn", r->cert_cn);
		set_str(c, "subject", r->cert_subject);
		set_str(c, "issuer", r->cert_issuer);
		set_str(c, "san", r->cert_san);
		set_str(c, "sha256", r->cert_sha256);
		json_object_set_new(o, "server_cert", c);
	}
	if (r->verify_result >= 0)
		json_object_set_new(o, "validation", json_pack("{s:b, s:I, s:s}",
			"ok", r->verify_result == 0, "code", (json_int_t)r->verify_result,
			"reason", r->verify_reason));
	set_str(o, "close_reason", r->close_reason);
	set_str(o, "rule", r->rule);
	set_str(o, "action", r->action);
	set_str(o, "decided_at", r->decided_at);
	set_str(o, "policy_version", r->policy_version);
	set_str(o, "shadow_rule", r->shadow_rule);
	set_str(o, "shadow_action", r->shadow_action);
	if (r->n_tools > 0) {
		static const char *const kinds[] = {
			[PS_SESS_TOOL_OOB] = "out-of-band",
			[PS_SESS_TOOL_RECORDER] = "recorder",
			[PS_SESS_TOOL_INLINE] = "inline",
		};
		json_t *a = json_array();
		unsigned int i;

		for (i = 0; i < r->n_tools && i < PS_SESS_TOOLS_MAX; i++) {
			const struct ps_sess_tool *t = &r->tools[i];
			json_t *e = json_pack("{s:s, s:s, s:i}", "name", t->name,
					      "kind", t->kind <= PS_SESS_TOOL_INLINE &&
					      kinds[t->kind] != NULL ? kinds[t->kind] : "?",
					      "server_port", (int)t->srv_port);

			if (t->kind != PS_SESS_TOOL_INLINE) {
				json_object_set_new(e, "after_inline", json_integer(t->tap));
				json_object_set_new(e, "client_isn", json_integer(t->isn[0]));
				json_object_set_new(e, "server_isn", json_integer(t->isn[1]));
			}
			json_array_append_new(a, e);
		}
		json_object_set_new(o, "tools", a);
	}
	return o;
}

/*
 * A search holds the lock for at most QUERY_SCAN records looked at or
 * QUERY_BATCH copied out, then builds the JSON of its copies without it:
 * over 100k live sessions a worker opening or closing one waits for one
 * slice (tens of microseconds), never for the whole search. Between slices
 * a marker node (id 0, which no session has) keeps the place in the live
 * list: sessions open at the head and close anywhere, and both leave the
 * marker where it is.
 */
#define QUERY_SCAN	256u
#define QUERY_BATCH	64u

/*
 * Records are 3 KiB apart in memory, and a name search reads three places
 * in each (SNI, CN, SANs): fetch them for the next record while this one
 * is compared, or every record costs a handful of cache misses in a row.
 */
static inline void
prefetch_rec(const struct ps_sess_rec *r)
{
	__builtin_prefetch(r);
	__builtin_prefetch(r->sni);
	__builtin_prefetch(r->cert_cn);
	__builtin_prefetch(r->cert_san);
}

/* Put m just before l, which is in the list. */
static void
mark_insert(struct ps_sess_store *s, struct ps_sess_live *m, struct ps_sess_live *l)
{
	m->next = l;
	m->prev = l->prev;
	if (l->prev != NULL)
		l->prev->next = m;
	else
		s->live = m;
	l->prev = m;
}

/*
 * Between slices: let the workers that queued up behind the last one have
 * the lock first. Bounded: workers contending among themselves could keep
 * the count above zero, and the search must end.
 */
static void
yield_to_workers(struct ps_sess_store *s)
{
	unsigned int i;

	for (i = 0; i < 1000 && __atomic_load_n(&s->waiting, __ATOMIC_RELAXED) != 0; i++)
		sched_yield();
}

json_t *
ps_sess_query(struct ps_sess_store *s, const struct ps_sess_filter *f)
{
	json_t *out = json_array();
	struct ps_sess_rec *batch = malloc(QUERY_BATCH * sizeof(*batch));
	struct ps_sess_live *mark = calloc(1, sizeof(*mark));
	bool live_done = f->closed_only, marked = false, done = false;
	uint64_t n = 0, i = 0;
	struct query q;

	if (out == NULL || batch == NULL || mark == NULL) {
		json_decref(out);
		out = NULL;
		goto out;
	}
	query_prepare(&q, f);
	store_lock(s, false);
	/* Records closed from now on were live when the search began. */
	i = f->live_only ? 0 : s->n_closed;
	while (!done) {
		struct ps_sess_live *l;
		unsigned int k = 0, scanned = 0, j;
		uint64_t first;

		if (!live_done) {
			l = marked ? mark->next : s->live;
			if (marked) {
				live_unlink(s, mark);
				marked = false;
			}
			for (; l != NULL && k < QUERY_BATCH && scanned < QUERY_SCAN; l = l->next) {
				if (f->limit != 0 && n + k >= f->limit)
					break;
				if (l->next != NULL)
					prefetch_rec(&l->next->rec);
				if (l->rec.id == 0)
					continue;	/* another search's marker */
				scanned++;
				if (query_match(&q, &l->rec))
					batch[k++] = l->rec;
			}
			if (l == NULL || (f->limit != 0 && n + k >= f->limit)) {
				live_done = true;
			} else {
				mark_insert(s, mark, l);
				marked = true;
			}
		}
		first = s->n_closed > s->keep ? s->n_closed - s->keep : 0;
		for (; live_done && i > first && k < QUERY_BATCH && scanned < QUERY_SCAN; i--) {
			const struct ps_sess_rec *r = &s->ring[(i - 1) % s->keep];

			if (f->limit != 0 && n + k >= f->limit)
				break;
			scanned++;
			if (query_match(&q, r))
				batch[k++] = *r;
		}
		done = live_done && (i <= first || (f->limit != 0 && n + k >= f->limit));
		pthread_mutex_unlock(&s->lock);

		for (j = 0; j < k; j++)
			json_array_append_new(out, ps_sess_rec_json(&batch[j]));
		n += k;
		if (!done) {
			yield_to_workers(s);
			store_lock(s, false);
		}
	}
out:
	free(mark);
	free(batch);
	return out;
}

/*
 * Records are copied out under the lock in batches and written without it:
 * a slow disk never holds up a worker opening or closing a session.
 */
#define LOG_BATCH	32u

/*
 * logrotate's "create" or a SIGHUP: the file was renamed; open a new one by
 * the name. The new one is opened before the old one is closed, so when it
 * cannot be, records keep going to the old (renamed) file and the next
 * request tries again: a record is never written nowhere.
 */
static void
log_reopen(struct ps_sess_store *s)
{
	uint64_t size;
	FILE *f = log_open(s->log_path, &size);

	if (f == NULL) {
		s->log_errors++;
		return;
	}
	if (fclose(s->log) != 0)
		s->log_errors++;
	s->log = f;
	s->log_size = size;
}

/*
 * Rotation by size, as logrotate names files: FILE.N-1 becomes FILE.N (the
 * oldest, FILE.N, is replaced), ..., FILE becomes FILE.1, and a new FILE is
 * opened. Only this thread writes the log, and only between records, so
 * every record lands whole in exactly one file.
 */
static void
log_rotate(struct ps_sess_store *s)
{
	size_t len = strlen(s->log_path) + 16;
	char *from = malloc(len), *to = malloc(len);
	unsigned int i;

	if (from == NULL || to == NULL || fflush(s->log) != 0) {
		s->log_errors++;
		goto out;
	}
	for (i = s->log_keep; i > 1; i--) {
		snprintf(from, len, "%s.%u", s->log_path, i - 1);
		snprintf(to, len, "%s.%u", s->log_path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			s->log_errors++;
	}
	snprintf(to, len, "%s.1", s->log_path);
	/* ENOENT: renamed by someone else (logrotate before its SIGHUP). */
	if (rename(s->log_path, to) < 0 && errno != ENOENT) {
		s->log_errors++;
		goto out;
	}
	s->log_rotations++;
	log_reopen(s);
out:
	/* Failed or not, the next attempt waits for another rotate_bytes. */
	s->log_size = 0;
	free(from);
	free(to);
}

static void
log_write(struct ps_sess_store *s, const char *line, size_t len)
{
	if (fwrite(line, 1, len, s->log) != len || fputc('\n', s->log) == EOF) {
		s->log_errors++;
		return;
	}
	s->log_size += len + 1;
	if (s->log_rotate_bytes != 0 && s->log_size >= s->log_rotate_bytes)
		log_rotate(s);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned int
ps_sess_log_drain(struct ps_sess_store *s)
{
	struct ps_sess_rec *batch;
	unsigned int n = 0, k, i;

	if (s->log == NULL && s->syslog == NULL)
		return 0;
	if (s->log != NULL && __atomic_exchange_n(&s->log_reopen, 0, __ATOMIC_ACQ_REL) != 0) {
		if (fflush(s->log) != 0)
			s->log_errors++;
		log_reopen(s);
	}
	/* First notice a collector gone, so that records queue instead. */
	if (s->syslog != NULL)
		ps_syslog_service(s->syslog, mono_ms());
	batch = malloc(LOG_BATCH * sizeof(*batch));
	if (batch == NULL)
		return 0;
	do {
		store_lock(s, false);
		for (k = 0; k < LOG_BATCH && s->n_logged < s->n_closed; k++)
			batch[k] = s->ring[s->n_logged++ % s->keep];
		pthread_mutex_unlock(&s->lock);
		for (i = 0; i < k; i++) {
			json_t *o;
			char *line;

			if (batch[i].no_log)
				continue;	/* its policy rule says so */
			o = ps_sess_rec_json(&batch[i]);
			line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
			json_decref(o);
			if (line == NULL) {
				s->log_errors++;
				continue;
			}
			/* The same bytes in the file and as the syslog MSG. */
			if (s->log != NULL)
				log_write(s, line, strlen(line));
			if (s->syslog != NULL)
				ps_syslog_send(s->syslog, batch[i].end_ms, line, strlen(line));
			free(line);
		}
		n += k;
	} while (k == LOG_BATCH);
	free(batch);
	if (n > 0 && s->log != NULL && fflush(s->log) != 0)
		s->log_errors++;
	return n;
}

json_t *
ps_sess_log_stats(const struct ps_sess_store *s)
{
	json_t *o = json_pack("{s:I, s:I, s:I}",
		"live", (json_int_t)__atomic_load_n(&s->n_live, __ATOMIC_RELAXED),
		"closed", (json_int_t)__atomic_load_n(&s->n_closed, __ATOMIC_RELAXED),
		"log_dropped", (json_int_t)__atomic_load_n(&s->log_dropped, __ATOMIC_RELAXED));

	if (o == NULL)
		return NULL;
	if (s->log_path != NULL)
		json_object_set_new(o, "log_file", json_pack("{s:s, s:I, s:I, s:I}",
			"path", s->log_path, "bytes", (json_int_t)s->log_size,
			"rotations", (json_int_t)s->log_rotations,
			"errors", (json_int_t)s->log_errors));
	if (s->syslog != NULL) {
		const struct ps_syslog *sl = s->syslog;

		json_object_set_new(o, "syslog", json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I}",
			"target", s->syslog_url, "connected", ps_syslog_connected(sl),
			"sent", (json_int_t)sl->st.sent, "dropped", (json_int_t)sl->st.dropped,
			"errors", (json_int_t)sl->st.errors,
			"reconnects", (json_int_t)sl->st.reconnects,
			"oversize", (json_int_t)sl->st.oversize,
			"queued_bytes", (json_int_t)sl->q_len));
	}
	return o;
}
