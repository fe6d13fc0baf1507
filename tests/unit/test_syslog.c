/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: session records over syslog (RFC 5424 header, RFC 6587
 * octet-counting framing, the bounded TCP queue and its drops), rotation
 * of the session log without losing or repeating a record, and the
 * "sessions" keys of the appliance configuration. Collectors are sockets
 * on 127.0.0.1 in this process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ps_config.h"
#include "ps_session.h"
#include "ps_syslog.h"

/* 2023-11-14T22:13:20.123Z */
#define T_END_MS	1700000000123ull

/* A loopback socket of type on an ephemeral port; its port to *port. */
static int
loopback(int type, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
test_header_exact(void **state)
{
	char out[PS_SYSLOG_HEADER_MAX];
	static const char hdr[] = "<134>1 2023-11-14T22:13:20.123Z appliance plainsight 4242 session - ";
	size_t n;

	(void)state;
	/* local0 (16) * 8 + informational (6) = 134 */
	n = ps_syslog_header(out, sizeof(out), 16 * 8 + 6, T_END_MS, "appliance", 4242, (size_t)-1);
	assert_string_equal(out, hdr);
	assert_int_equal(n, strlen(hdr));
	/* Octet counting: MSG-LEN covers the header and a 2-byte MSG "{}". */
	n = ps_syslog_header(out, sizeof(out), 134, T_END_MS, "appliance", 4242, 2);
	assert_int_equal(strlen(hdr) + 2, 70);
	assert_string_equal(out, "70 <134>1 2023-11-14T22:13:20.123Z appliance plainsight 4242 session - ");
	assert_int_equal(n, strlen(out));
	/* No time: NILVALUE; the milliseconds keep their zeros. */
	ps_syslog_header(out, sizeof(out), 3 * 8 + 6, 0, "h", 1, (size_t)-1);
	assert_string_equal(out, "<30>1 - h plainsight 1 session - ");
	ps_syslog_header(out, sizeof(out), 134, 1000, "h", 1, (size_t)-1);
	assert_string_equal(out, "<134>1 1970-01-01T00:00:01.000Z h plainsight 1 session - ");
}

static void
test_url_parse(void **state)
{
	static const char *const bad[] = {
		"udp://", "udp://:514", "udp://10.0.0.1", "udp://10.0.0.1:", "udp://10.0.0.1:0",
		"udp://10.0.0.1:65536", "udp://10.0.0.1:0514", "udp://10.0.0.1:+514",
		"udp://10.0.0.1:51 4", "udp://logs.example:514", "udp://[2001:db8::1:514",
		"udp://2001:db8::1:514", "udp://[10.0.0.1]:514", "http://10.0.0.1:514",
		"UDP://10.0.0.1:514", "tcp://10.0.0.1:514:1", "tcp://10.0.0.256:514", NULL
	};
	struct sockaddr_storage ss;
	enum ps_syslog_proto proto;
	socklen_t len;
	unsigned int i;

	(void)state;
	assert_int_equal(ps_syslog_url_parse("udp://192.0.2.1:514", &proto, &ss, &len), 0);
	assert_int_equal(proto, PS_SYSLOG_UDP);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 514);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ps_syslog_url_parse("tcp://[2001:db8::9]:6514", &proto, &ss, &len), 0);
	assert_int_equal(proto, PS_SYSLOG_TCP);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 6514);
	assert_int_equal(ps_syslog_url_parse("tcp://127.0.0.1:65535", &proto, &ss, &len), 0);
	for (i = 0; bad[i] != NULL; i++) {
		if (ps_syslog_url_parse(bad[i], &proto, &ss, &len) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
}

/* A closed record with every field the log writes for a decrypted session. */
static struct ps_sess_rec
fixed_rec(void)
{
	struct ps_sess_rec r;

	memset(&r, 0, sizeof(r));
	r.start_ms = T_END_MS - 1000;
	r.end_ms = T_END_MS;
	r.state = PS_SESS_DECRYPTED;
	r.family = 4;
	inet_pton(AF_INET, "198.18.0.1", r.cli_addr);
	inet_pton(AF_INET, "198.18.0.2", r.srv_addr);
	r.cli_port = 40000;
	r.srv_port = 443;
	r.verify_result = -1;
	snprintf(r.kind, sizeof(r.kind), "tls");
	snprintf(r.sni, sizeof(r.sni), "www.ps.test");
	snprintf(r.rule, sizeof(r.rule), "web");
	snprintf(r.action, sizeof(r.action), "decrypt");
	r.bytes[0] = 100;
	r.bytes[1] = 2000;
	return r;
}

/* Open, close and return the id of one session with content r. */
static uint64_t
one_session(struct ps_sess_store *s, const struct ps_sess_rec *r)
{
	struct ps_sess_live *l = ps_sess_open(s, r);
	uint64_t id;

	assert_non_null(l);
	id = ps_sess_id(l);
	ps_sess_close(s, l, r);
	return id;
}

/* A whole record through the store to a UDP collector: the exact datagram. */
static void
test_udp_exact(void **state)
{
	static const char want[] =
		"<134>1 2023-11-14T22:13:20.123Z appliance plainsight 4242 session - "
		"{\"id\":1,\"state\":\"decrypted\",\"start_ms\":1700000000123,\"kind\":\"tls\","
		"\"client\":\"198.18.0.1\",\"client_port\":40000,\"server\":\"198.18.0.2\","
		"\"server_port\":443,\"vlan\":0,\"bytes_client_to_server\":100,"
		"\"bytes_server_to_client\":2000,\"live\":false,\"end_ms\":1700000000123,"
		"\"sni\":\"www.ps.test\",\"rule\":\"web\",\"action\":\"decrypt\"}";
	struct ps_sess_store s;
	struct ps_sess_log_opts o = { .syslog_facility = 16 };
	struct ps_sess_rec r = fixed_rec();
	char url[64], err[256], buf[4096];
	uint16_t port;
	int fd = loopback(SOCK_DGRAM, &port);
	ssize_t n;
	json_t *stats;

	(void)state;
	r.start_ms = T_END_MS;	/* one timestamp to read in want */
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", port);
	o.syslog_url = url;
	assert_int_equal(ps_sess_store_init(&s, 16, NULL, err, sizeof(err)), 0);
	assert_int_equal(ps_sess_log_setup(&s, &o, err, sizeof(err)), 0);
	snprintf(s.syslog->host, sizeof(s.syslog->host), "appliance");
	s.syslog->pid = 4242;
	assert_int_equal(one_session(&s, &r), 1);
	r.no_log = true;	/* its rule says log: false: not sent either */
	one_session(&s, &r);
	assert_int_equal(ps_sess_log_drain(&s), 2);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
	assert_true(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);	/* nothing more */
	assert_int_equal(s.syslog->st.sent, 1);
	stats = ps_sess_log_stats(&s);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(stats, "syslog"),
							    "sent")), 1);
	assert_true(json_is_true(json_object_get(json_object_get(stats, "syslog"), "connected")));
	json_decref(stats);
	ps_sess_store_fini(&s);
	close(fd);
}

/*
 * Read RFC 6587 octet-counted frames from fd until want frames arrived or
 * a second passes; each MSG after the header must be msg. Returns how many.
 */
static unsigned int
read_frames(int fd, unsigned int want, const char *msg)
{
	static char buf[1 << 20];
	size_t len = 0, off = 0;
	unsigned int got = 0;

	while (got < want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			break;
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		for (;;) {
			char *sp = memchr(buf + off, ' ', len - off);
			size_t count, hl;
			const char *frame;

			if (sp == NULL)
				break;
			count = strtoul(buf + off, NULL, 10);
			frame = sp + 1;
			if ((size_t)(frame - buf) + count > len)
				break;
			/* The MSG is what follows "- " (no STRUCTURED-DATA). */
			hl = (size_t)(strstr(frame, " session - ") - frame) + strlen(" session - ");
			assert_int_equal(count - hl, strlen(msg));
			assert_memory_equal(frame + hl, msg, strlen(msg));
			assert_memory_equal(frame, "<134>1 ", 7);
			off = (size_t)(frame - buf) + count;
			got++;
		}
	}
	return got;
}

/* Poll the sender (on a clock of our own) until connected, at most ~2 s. */
static void
service_until_up(struct ps_syslog *sl, uint64_t *now)
{
	unsigned int i;

	for (i = 0; i < 200 && !ps_syslog_connected(sl); i++) {
		ps_syslog_service(sl, *now);
		if (!ps_syslog_connected(sl))
			usleep(10000);
		*now += 10;
	}
	assert_true(ps_syslog_connected(sl));
	ps_syslog_service(sl, *now);	/* flush */
}

/*
 * TCP: while no collector listens, records wait in the queue up to its
 * size, then the newest are dropped and counted; once it listens (after
 * the backoff) the queued ones arrive framed, in order. A collector that
 * closes the connection is noticed before the next write, the records
 * queue again, and the reconnection is counted.
 */
static void
test_tcp_queue_framing(void **state)
{
	static const char msg[] = "{\"id\":1,\"pad\":\"0123456789012345678901234567890123456789\"}";
	struct ps_syslog sl;
	char url[64], err[256], hdr[PS_SYSLOG_HEADER_MAX];
	size_t frame, qmax;
	unsigned int i, fit;
	uint64_t now = 1000000;
	uint16_t port;
	int lfd = loopback(SOCK_STREAM, &port), cfd;

	(void)state;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	frame = ps_syslog_header(hdr, sizeof(hdr), 134, T_END_MS, "h", 7, strlen(msg)) +
		strlen(msg);
	qmax = frame * 10 + frame / 2;	/* room for 10 frames and a half */
	assert_int_equal(ps_syslog_open(&sl, url, 16, qmax, err, sizeof(err)), 0);
	snprintf(sl.host, sizeof(sl.host), "h");
	sl.pid = 7;

	/* Bound but not listening: the connection is refused. */
	ps_syslog_service(&sl, now);
	ps_syslog_service(&sl, now + 10);
	assert_false(ps_syslog_connected(&sl));
	assert_true(sl.st.errors >= 1);
	for (i = 0; i < 25; i++)
		ps_syslog_send(&sl, T_END_MS, msg, strlen(msg));
	fit = 10;
	assert_int_equal(sl.q_len, fit * frame);
	assert_int_equal(sl.st.dropped, 25 - fit);
	assert_int_equal(sl.st.sent, 0);

	/* Backoff: no new attempt before a second has passed. */
	assert_int_equal(listen(lfd, 4), 0);
	ps_syslog_service(&sl, now + 500);
	assert_false(ps_syslog_connected(&sl));
	now += 2000;
	service_until_up(&sl, &now);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(read_frames(cfd, fit, msg), fit);
	assert_int_equal(sl.st.sent, fit);
	assert_int_equal(sl.q_len, 0);
	assert_int_equal(sl.st.reconnects, 0);

	/* Sent at once while up. */
	ps_syslog_send(&sl, T_END_MS, msg, strlen(msg));
	assert_int_equal(read_frames(cfd, 1, msg), 1);
	assert_int_equal(sl.st.sent, fit + 1);

	/* The collector goes away: noticed, records queue, then reconnect. */
	close(cfd);
	usleep(20000);
	ps_syslog_service(&sl, now);
	assert_false(ps_syslog_connected(&sl));
	for (i = 0; i < 3; i++)
		ps_syslog_send(&sl, T_END_MS, msg, strlen(msg));
	assert_int_equal(sl.q_len, 3 * frame);
	now += PS_SYSLOG_BACKOFF_MAX_MS;
	service_until_up(&sl, &now);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(read_frames(cfd, 3, msg), 3);
	assert_int_equal(sl.st.reconnects, 1);
	assert_int_equal(sl.st.sent, fit + 4);
	assert_int_equal(sl.st.dropped, 25 - fit);

	ps_syslog_close(&sl, 0);
	close(cfd);
	close(lfd);
}

/* Every line of every file in dir whose name starts with base: ids seen. */
static unsigned int
count_ids(const char *dir, const char *base, unsigned char *seen, unsigned int n_ids,
	  unsigned int *dups)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int lines = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[512], line[8192];
		FILE *f;

		if (strncmp(e->d_name, base, strlen(base)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL) {
			json_t *o = json_loads(line, 0, NULL);
			json_int_t id;

			assert_non_null(o);
			id = json_integer_value(json_object_get(o, "id"));
			assert_true(id >= 1 && id <= (json_int_t)n_ids);
			if (seen[id]++ != 0)
				(*dups)++;
			lines++;
			json_decref(o);
		}
		fclose(f);
	}
	closedir(d);
	return lines;
}

/*
 * Many records, the log rotated by size (keeping every file) and renamed
 * under the writer as logrotate would, then reopened: every record is in
 * exactly one file, whole.
 */
static void
test_rotation_no_loss(void **state)
{
	enum { N = 3000 };
	char dir[] = "/tmp/ps-rot.XXXXXX", path[256], moved[300], err[256];
	struct ps_sess_log_opts o = { .rotate_bytes = 64 * 1024, .keep = 1000 };
	struct ps_sess_rec r = fixed_rec();
	static unsigned char seen[N + 1];
	struct ps_sess_store s;
	unsigned int i, dups = 0, missing = 0;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sessions.jsonl", dir);
	assert_int_equal(ps_sess_store_init(&s, 64, path, err, sizeof(err)), 0);
	assert_int_equal(ps_sess_log_setup(&s, &o, err, sizeof(err)), 0);
	for (i = 1; i <= N; i++) {
		one_session(&s, &r);
		if (i % 37 == 0)
			ps_sess_log_drain(&s);
		if (i == N / 2) {
			/* logrotate: rename, then SIGHUP; records come in between. */
			snprintf(moved, sizeof(moved), "%s/sessions.jsonl-rotated", dir);
			assert_int_equal(rename(path, moved), 0);
			one_session(&s, &r);
			ps_sess_log_drain(&s);
			ps_sess_log_reopen(&s);
			i++;
		}
	}
	ps_sess_log_drain(&s);
	assert_true(s.log_rotations >= 5);
	assert_int_equal(s.log_dropped, 0);
	assert_int_equal(s.log_errors, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	ps_sess_store_fini(&s);
	assert_int_equal(count_ids(dir, "sessions.jsonl", seen, N, &dups), N);
	for (i = 1; i <= N; i++)
		missing += seen[i] == 0;
	assert_int_equal(missing, 0);
	assert_int_equal(dups, 0);
	/* Rotated at the size: FILE.1 holds at least rotate_bytes. */
	snprintf(moved, sizeof(moved), "%s.1", path);
	assert_int_equal(stat(moved, &st), 0);
	assert_true(st.st_size >= 64 * 1024);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* log_keep: FILE.1 .. FILE.keep, the oldest beyond are replaced. */
static void
test_rotation_keep(void **state)
{
	char dir[] = "/tmp/ps-rot.XXXXXX", path[256], name[300], err[256];
	struct ps_sess_log_opts o = { .rotate_bytes = 1024, .keep = 2 };
	struct ps_sess_rec r = fixed_rec();
	struct ps_sess_store s;
	struct stat st;
	unsigned int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.log", dir);
	assert_int_equal(ps_sess_store_init(&s, 64, path, err, sizeof(err)), 0);
	assert_int_equal(ps_sess_log_setup(&s, &o, err, sizeof(err)), 0);
	for (i = 0; i < 40; i++) {
		one_session(&s, &r);
		ps_sess_log_drain(&s);
	}
	assert_true(s.log_rotations >= 4);
	ps_sess_store_fini(&s);
	snprintf(name, sizeof(name), "%s.1", path);
	assert_int_equal(stat(name, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	snprintf(name, sizeof(name), "%s.2", path);
	assert_int_equal(stat(name, &st), 0);
	snprintf(name, sizeof(name), "%s.3", path);
	assert_int_equal(stat(name, &st), -1);
	snprintf(name, sizeof(name), "rm -rf '%s'", dir);
	assert_int_equal(system(name), 0);
}

/* ---- the "sessions" section of the appliance configuration ---- */

#define CFG_HEAD "{\"lcores\":{\"main\":0,\"workers\":[1]},\"ports\":[" \
	"{\"name\":\"net-a\",\"device\":\"net_ring0\",\"role\":\"net\",\"segment\":\"s\",\"side\":\"a\"}," \
	"{\"name\":\"net-b\",\"device\":\"net_ring1\",\"role\":\"net\",\"segment\":\"s\",\"side\":\"b\"}]," \
	"\"sessions\":"

static int
parse_sessions(const char *sessions, struct ps_config *cfg, char *err, size_t errlen)
{
	char text[2048];

	snprintf(text, sizeof(text), CFG_HEAD "%s}", sessions);
	return ps_config_parse(text, strlen(text), "t.json", cfg, err, errlen);
}

static void
test_config_keys(void **state)
{
	static const struct {
		const char *sessions;
		const char *err;
	} bad[] = {
		{ "{\"syslog\":\"udp://logs.example:514\"}",
		  "t.json: sessions.syslog: expected \"udp://IP:PORT\" or \"tcp://IP:PORT\" with IP "
		  "an IPv4 address or [IPv6 address] and PORT 1..65535, found \"udp://logs.example:514\"" },
		{ "{\"syslog\":\"tcp://[2001:db8::1]:0\"}",
		  "t.json: sessions.syslog: expected \"udp://IP:PORT\" or \"tcp://IP:PORT\" with IP "
		  "an IPv4 address or [IPv6 address] and PORT 1..65535, found \"tcp://[2001:db8::1]:0\"" },
		{ "{\"syslog\":514}",
		  "t.json: sessions.syslog: expected \"udp://IP:PORT\" or \"tcp://IP:PORT\" with IP "
		  "an IPv4 address or [IPv6 address] and PORT 1..65535, found an integer 514" },
		{ "{\"syslog_facility\":\"local9\"}", NULL },
		{ "{\"log_keep\":0}",
		  "t.json: sessions.log_keep: expected an integer 1..1000, found 0" },
		{ "{\"log_rotate_mb\":-1}", NULL },
		{ "{\"log_rotate\":1}", NULL },
	};
	struct ps_config cfg;
	char err[1024];
	unsigned int i;

	(void)state;
	assert_int_equal(parse_sessions("{}", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.sessions_log_rotate_mb, 0);
	assert_int_equal(cfg.sessions_log_keep, 5);
	assert_string_equal(cfg.sessions_syslog, "");
	assert_int_equal(cfg.sessions_syslog_facility, 16);
	assert_int_equal(parse_sessions("{\"log_file\":\"/var/log/s.jsonl\",\"log_rotate_mb\":100,"
					"\"log_keep\":9,\"syslog\":\"tcp://[2001:db8::9]:6514\","
					"\"syslog_facility\":\"local3\"}", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.sessions_log_rotate_mb, 100);
	assert_int_equal(cfg.sessions_log_keep, 9);
	assert_string_equal(cfg.sessions_syslog, "tcp://[2001:db8::9]:6514");
	assert_int_equal(cfg.sessions_syslog_facility, 19);
	assert_int_equal(parse_sessions("{\"syslog\":\"udp://192.0.2.1:514\","
					"\"syslog_facility\":\"daemon\"}", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.sessions_syslog, "udp://192.0.2.1:514");
	assert_int_equal(cfg.sessions_syslog_facility, 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse_sessions(bad[i].sessions, &cfg, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted %s", bad[i].sessions);
		if (bad[i].err != NULL)
			assert_string_equal(err, bad[i].err);
		else
			assert_non_null(strstr(err, "t.json: sessions."));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_exact),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_udp_exact),
		cmocka_unit_test(test_tcp_queue_framing),
		cmocka_unit_test(test_rotation_no_loss),
		cmocka_unit_test(test_rotation_keep),
		cmocka_unit_test(test_config_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
