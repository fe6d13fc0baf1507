/* SPDX-License-Identifier: BSD-3-Clause
 * Session records: live list, ring of closed records, JSON lines log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
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
	pthread_mutex_init(&s->lock, NULL);
	if (log_path != NULL && log_path[0] != '\0') {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		if (fd < 0 || (s->log = fdopen(fd, "a")) == NULL) {
			int e = errno;

			snprintf(err, errlen, "%s: cannot open the session log: %s", log_path,
				 strerror(e));
			if (fd >= 0)
				close(fd);
			free(s->ring);
			s->ring = NULL;
			return -e;
		}
	}
	return 0;
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
	for (l = s->live; l != NULL; l = next) {
		next = l->next;
		free(l);
	}
	free(s->ring);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
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
	pthread_mutex_lock(&s->lock);
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

	pthread_mutex_lock(&s->lock);
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

	pthread_mutex_lock(&s->lock);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		s->live = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
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

static bool
glob_ok(const char *pattern, const char *name)
{
	return name[0] != '\0' && fnmatch(pattern, name, FNM_CASEFOLD) == 0;
}

/* Does the certificate carry a name matching pattern (CN or a DNS SAN)? */
static bool
cert_match(const char *pattern, const struct ps_sess_rec *r)
{
	const char *p = r->cert_san;

	if (glob_ok(pattern, r->cert_cn))
		return true;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char name[PS_SESS_NAME_MAX + 8];

		if (n > 4 && n < sizeof(name) && strncmp(p, "DNS:", 4) == 0) {
			memcpy(name, p + 4, n - 4);
			name[n - 4] = '\0';
			if (glob_ok(pattern, name))
				return true;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

bool
ps_sess_match(const struct ps_sess_rec *r, const struct ps_sess_filter *f)
{
	if (f->id != 0 && r->id != f->id)
		return false;
	if (f->sni != NULL && !glob_ok(f->sni, r->sni))
		return false;
	if (f->cert != NULL && !cert_match(f->cert, r))
		return false;
	if (f->kind != NULL && strcmp(f->kind, r->kind) != 0)
		return false;
	return true;
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
	return o;
}

json_t *
ps_sess_query(struct ps_sess_store *s, const struct ps_sess_filter *f)
{
	json_t *out = json_array();
	const struct ps_sess_live *l;
	unsigned int n = 0;
	uint64_t i, first;

	if (out == NULL)
		return NULL;
	pthread_mutex_lock(&s->lock);
	for (l = s->live; !f->closed_only && l != NULL; l = l->next) {
		if (f->limit != 0 && n >= f->limit)
			break;
		if (ps_sess_match(&l->rec, f)) {
			json_array_append_new(out, ps_sess_rec_json(&l->rec));
			n++;
		}
	}
	first = s->n_closed > s->keep ? s->n_closed - s->keep : 0;
	for (i = s->n_closed; !f->live_only && i > first; i--) {
		const struct ps_sess_rec *r = &s->ring[(i - 1) % s->keep];

		if (f->limit != 0 && n >= f->limit)
			break;
		if (ps_sess_match(r, f)) {
			json_array_append_new(out, ps_sess_rec_json(r));
			n++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

/*
 * Records are copied out under the lock in batches and written without it:
 * a slow disk never holds up a worker opening or closing a session.
 */
#define LOG_BATCH	32u

unsigned int
ps_sess_log_drain(struct ps_sess_store *s)
{
	struct ps_sess_rec *batch;
	unsigned int n = 0, k, i;

	if (s->log == NULL)
		return 0;
	batch = malloc(LOG_BATCH * sizeof(*batch));
	if (batch == NULL)
		return 0;
	do {
		pthread_mutex_lock(&s->lock);
		for (k = 0; k < LOG_BATCH && s->n_logged < s->n_closed; k++)
			batch[k] = s->ring[s->n_logged++ % s->keep];
		pthread_mutex_unlock(&s->lock);
		for (i = 0; i < k; i++) {
			json_t *o;

			if (batch[i].no_log)
				continue;	/* its policy rule says so */
			o = ps_sess_rec_json(&batch[i]);

			if (o == NULL || json_dumpf(o, s->log, JSON_COMPACT) < 0 ||
			    fputc('\n', s->log) == EOF)
				s->log_errors++;
			json_decref(o);
		}
		n += k;
	} while (k == LOG_BATCH);
	free(batch);
	if (n > 0 && fflush(s->log) != 0)
		s->log_errors++;
	return n;
}
