/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: session records, their search filters and JSON form.
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
#include <cmocka.h>

#include "ps_session.h"

static struct ps_sess_rec
mkrec(const char *cli, const char *srv, uint16_t port, const char *sni)
{
	struct ps_sess_rec r;

	memset(&r, 0, sizeof(r));
	r.id = 7;
	r.verify_result = -1;
	r.family = strchr(cli, ':') != NULL ? 6 : 4;
	assert_int_equal(inet_pton(r.family == 6 ? AF_INET6 : AF_INET, cli, r.cli_addr), 1);
	assert_int_equal(inet_pton(r.family == 6 ? AF_INET6 : AF_INET, srv, r.srv_addr), 1);
	r.cli_port = 40000;
	r.srv_port = port;
	snprintf(r.kind, sizeof(r.kind), "tls");
	snprintf(r.sni, sizeof(r.sni), "%s", sni);
	return r;
}

static bool
match_host(const struct ps_sess_rec *r, const char *glob)
{
	struct ps_sess_filter f = { .host = glob };

	return ps_sess_match(r, &f);
}

/* --sni: the SNI, the CN or any DNS SAN, fnmatch wildcards, any case. */
static void
test_host_glob(void **state)
{
	struct ps_sess_rec r = mkrec("10.0.0.1", "192.0.2.1", 443, "www.Example.com");

	(void)state;
	assert_true(match_host(&r, "www.example.com"));
	assert_true(match_host(&r, "*.EXAMPLE.com"));
	assert_true(match_host(&r, "*"));
	assert_true(match_host(&r, "w?w.example.*"));
	assert_true(match_host(&r, "*ample*"));
	assert_true(match_host(&r, "www*example*com"));
	assert_true(match_host(&r, "[vw]ww.example.com"));
	assert_false(match_host(&r, "example.com"));
	assert_false(match_host(&r, "*.example.org"));
	assert_false(match_host(&r, "www.example.co"));
	assert_false(match_host(&r, "*ample*x"));
	assert_false(match_host(&r, "www*com*com"));
	assert_false(match_host(&r, "x*"));
	assert_true(match_host(&r, "*e*e*"));	/* "Example": two of them */
	assert_false(match_host(&r, "*e*e*e*"));	/* each piece found after the last */
	assert_true(match_host(&r, "*W*E*.C*"));
	assert_false(match_host(&r, "*.c*W*"));
	/* A star is not a literal match of the pieces around it twice. */
	assert_false(match_host(&r, "www.example.com*www.example.com"));

	/* No SNI: the certificate's CN, then each DNS SAN (never an IP SAN). */
	r.sni[0] = '\0';
	assert_false(match_host(&r, "*"));
	snprintf(r.cert_cn, sizeof(r.cert_cn), "cn.example.net");
	snprintf(r.cert_san, sizeof(r.cert_san),
		 "DNS:alt.example.org,DNS:*.cdn.example,IP:192.0.2.1,DNS:last.example");
	assert_true(match_host(&r, "CN.example.net"));
	assert_true(match_host(&r, "alt.example.*"));
	assert_true(match_host(&r, "last.example"));
	assert_true(match_host(&r, "\\*.cdn.example"));	/* an escaped star is literal */
	assert_false(match_host(&r, "192.0.2.1"));
	assert_false(match_host(&r, "alt.example"));	/* no prefix match of a SAN */
	assert_false(match_host(&r, "DNS:*"));
}

/* --sni stays SNI only, --cert the certificate only; both together must both match. */
static void
test_sni_cert(void **state)
{
	struct ps_sess_rec r = mkrec("10.0.0.1", "192.0.2.1", 443, "a.example");
	struct ps_sess_filter f;

	(void)state;
	snprintf(r.cert_cn, sizeof(r.cert_cn), "b.example");
	memset(&f, 0, sizeof(f));
	f.sni = "a.*";
	assert_true(ps_sess_match(&r, &f));
	f.sni = "b.*";
	assert_false(ps_sess_match(&r, &f));
	f.sni = NULL;
	f.cert = "B.EXAMPLE";
	assert_true(ps_sess_match(&r, &f));
	f.cert = "a.example";
	assert_false(ps_sess_match(&r, &f));
	f.cert = "b.example";
	f.host = "a.example";
	assert_true(ps_sess_match(&r, &f));
	f.host = "c.example";
	assert_false(ps_sess_match(&r, &f));
}

static bool
match_prefix(const struct ps_sess_rec *r, const char *src, const char *dst)
{
	struct ps_sess_filter f;

	memset(&f, 0, sizeof(f));
	if (src != NULL)
		assert_int_equal(ps_sess_prefix_parse(src, &f.src), 0);
	if (dst != NULL)
		assert_int_equal(ps_sess_prefix_parse(dst, &f.dst), 0);
	return ps_sess_match(r, &f);
}

static void
test_prefix_parse(void **state)
{
	static const char *const bad[] = { "", "10.0.0", "10.0.0.1/", "10.0.0.1/33",
		"10.0.0.1/-1", "10.0.0.1/+8", "10.0.0.1/ 8", "10.0.0.1/8x", "::1/129",
		"host.example", "10.0.0.1/8/8", "1.2.3.4.5",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/1" };
	struct ps_sess_prefix p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ps_sess_prefix_parse(bad[i], &p), -EINVAL);
		assert_int_equal(p.family, 0);
	}
	assert_int_equal(ps_sess_prefix_parse(NULL, &p), -EINVAL);
	/* Host bits are cleared, not refused: an operator pastes an address. */
	assert_int_equal(ps_sess_prefix_parse("10.1.2.3/12", &p), 0);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.len, 12);
	assert_int_equal(p.addr[0], 10);
	assert_int_equal(p.addr[1], 0);
	assert_int_equal(p.addr[2], 0);
	assert_int_equal(ps_sess_prefix_parse("2001:db8:ffff::1/36", &p), 0);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.len, 36);
	assert_int_equal(p.addr[4], 0xf0);
	assert_int_equal(p.addr[5], 0);
	assert_int_equal(p.addr[15], 0);
	assert_int_equal(ps_sess_prefix_parse("192.0.2.9", &p), 0);
	assert_int_equal(p.len, 32);
	assert_int_equal(p.addr[3], 9);
	assert_int_equal(ps_sess_prefix_parse("::", &p), 0);
	assert_int_equal(p.len, 128);
}

/* --src / --dst: the client / the server, each family on its own. */
static void
test_prefix_match(void **state)
{
	struct ps_sess_rec v4 = mkrec("10.1.2.3", "192.0.2.77", 443, "x");
	struct ps_sess_rec v6 = mkrec("2001:db8:1::5", "2001:db8:ff::1", 443, "x");

	(void)state;
	assert_true(match_prefix(&v4, "10.0.0.0/8", NULL));
	assert_true(match_prefix(&v4, "10.1.2.3", NULL));
	assert_true(match_prefix(&v4, "10.1.2.0/23", NULL));
	assert_true(match_prefix(&v4, "10.1.3.255/23", NULL));	/* host bits */
	assert_false(match_prefix(&v4, "10.1.4.0/23", NULL));
	assert_false(match_prefix(&v4, "10.1.2.4", NULL));
	assert_true(match_prefix(&v4, "0.0.0.0/0", NULL));
	assert_true(match_prefix(&v4, "255.255.255.255/0", NULL));
	assert_false(match_prefix(&v4, "::/0", NULL));		/* other family */
	assert_false(match_prefix(&v4, "192.0.2.0/24", NULL));	/* that is the server */
	assert_true(match_prefix(&v4, NULL, "192.0.2.64/26"));
	assert_false(match_prefix(&v4, NULL, "192.0.2.0/26"));
	assert_true(match_prefix(&v4, "10.0.0.0/8", "192.0.2.77/32"));
	assert_false(match_prefix(&v4, "10.0.0.0/8", "192.0.2.78/32"));

	assert_true(match_prefix(&v6, "2001:db8::/32", NULL));
	assert_true(match_prefix(&v6, "2001:db8:1::/48", NULL));
	assert_true(match_prefix(&v6, "2001:db8:1::5", NULL));
	assert_false(match_prefix(&v6, "2001:db8:1::6", NULL));
	assert_true(match_prefix(&v6, "2001:db8:1:ffff::/47", NULL));
	assert_false(match_prefix(&v6, "2001:db8:2::/48", NULL));
	assert_true(match_prefix(&v6, "::/0", NULL));
	assert_false(match_prefix(&v6, "0.0.0.0/0", NULL));
	assert_true(match_prefix(&v6, NULL, "2001:db8:ff::/49"));
	assert_false(match_prefix(&v6, NULL, "2001:db8:ff:8000::/49"));
}

/* --port (server port), --action, --rule, --kind, --id: exact. */
static void
test_exact_fields(void **state)
{
	struct ps_sess_rec r = mkrec("10.0.0.1", "192.0.2.1", 8443, "x");
	struct ps_sess_filter f;

	(void)state;
	snprintf(r.action, sizeof(r.action), "bypass");
	snprintf(r.rule, sizeof(r.rule), "banks");
	memset(&f, 0, sizeof(f));
	f.srv_port = 8443;
	assert_true(ps_sess_match(&r, &f));
	f.srv_port = 40000;			/* the client's port is not the server's */
	assert_false(ps_sess_match(&r, &f));
	f.srv_port = 0;
	f.action = "bypass";
	assert_true(ps_sess_match(&r, &f));
	f.action = "decrypt";
	assert_false(ps_sess_match(&r, &f));
	f.action = NULL;
	f.rule = "banks";
	assert_true(ps_sess_match(&r, &f));
	f.rule = "bank";
	assert_false(ps_sess_match(&r, &f));
	f.rule = "BANKS";
	assert_false(ps_sess_match(&r, &f));
	f.rule = NULL;
	f.kind = "tls";
	assert_true(ps_sess_match(&r, &f));
	f.kind = "smtp-starttls";
	assert_false(ps_sess_match(&r, &f));
	f.kind = NULL;
	f.id = 7;
	assert_true(ps_sess_match(&r, &f));
	f.id = 8;
	assert_false(ps_sess_match(&r, &f));
	/* A record without a decision matches no action or rule. */
	r.action[0] = r.rule[0] = '\0';
	memset(&f, 0, sizeof(f));
	f.action = "bypass";
	assert_false(ps_sess_match(&r, &f));
}

static void
store_init(struct ps_sess_store *s, unsigned int keep)
{
	char err[128];

	assert_int_equal(ps_sess_store_init(s, keep, NULL, err, sizeof(err)), 0);
}

static json_int_t
id_at(json_t *a, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(a, i), "id"));
}

/* Live first, newest first, then closed, newest first; --live, --closed, limit. */
static void
test_query_live_closed(void **state)
{
	struct ps_sess_live *l[6];
	struct ps_sess_store s;
	struct ps_sess_filter f;
	struct ps_sess_rec r = mkrec("10.0.0.1", "192.0.2.1", 443, "a.example");
	json_t *a;
	unsigned int i;

	(void)state;
	store_init(&s, 10);
	for (i = 0; i < 6; i++) {
		r.srv_port = (uint16_t)(i % 2 == 0 ? 443 : 8443);
		l[i] = ps_sess_open(&s, &r);
		assert_non_null(l[i]);
		assert_int_equal(ps_sess_id(l[i]), i + 1);
	}
	r.srv_port = 443;
	ps_sess_close(&s, l[1], &r);		/* id 2: its closed record says 443 */
	ps_sess_close(&s, l[3], &r);		/* id 4 */
	memset(&f, 0, sizeof(f));
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 6);
	assert_int_equal(id_at(a, 0), 6);
	assert_int_equal(id_at(a, 1), 5);
	assert_int_equal(id_at(a, 2), 3);
	assert_int_equal(id_at(a, 3), 1);
	assert_int_equal(id_at(a, 4), 4);
	assert_int_equal(id_at(a, 5), 2);
	assert_true(json_is_true(json_object_get(json_array_get(a, 0), "live")));
	assert_true(json_is_false(json_object_get(json_array_get(a, 4), "live")));
	json_decref(a);

	f.live_only = true;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 4);
	json_decref(a);
	f.live_only = false;
	f.closed_only = true;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(id_at(a, 0), 4);
	json_decref(a);

	/* The limit counts across live and closed records. */
	memset(&f, 0, sizeof(f));
	f.limit = 5;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 5);
	assert_int_equal(id_at(a, 4), 4);
	json_decref(a);
	f.limit = 1;
	f.srv_port = 8443;			/* live 6 only: the closed ones say 443 */
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(id_at(a, 0), 6);
	json_decref(a);
	f.limit = 0;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	f.id = 4;
	f.srv_port = 0;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(id_at(a, 0), 4);
	json_decref(a);
	f.id = 99;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	ps_sess_store_fini(&s);
}

/* A search longer than one lock slice sees every record once, in order. */
static void
test_query_many(void **state)
{
	struct ps_sess_live **l;
	struct ps_sess_store s;
	struct ps_sess_filter f;
	struct ps_sess_rec r = mkrec("10.0.0.1", "192.0.2.1", 443, "x.example");
	const unsigned int n = 5000;
	json_t *a;
	unsigned int i;

	(void)state;
	store_init(&s, 3000);
	l = calloc(n, sizeof(*l));
	assert_non_null(l);
	for (i = 0; i < n; i++) {
		snprintf(r.sni, sizeof(r.sni), "h%u.%s.example", i, i % 100 == 0 ? "hit" : "miss");
		l[i] = ps_sess_open(&s, &r);
		assert_non_null(l[i]);
	}
	for (i = 0; i < n; i += 2) {
		snprintf(r.sni, sizeof(r.sni), "h%u.%s.example", i, i % 100 == 0 ? "hit" : "miss");
		ps_sess_close(&s, l[i], &r);
	}
	memset(&f, 0, sizeof(f));
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 2500 + 2500);
	for (i = 1; i < 2500; i++)		/* live: odd ids, newest first */
		assert_true(id_at(a, i) < id_at(a, i - 1));
	json_decref(a);
	f.host = "*.HIT.example";
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 50);	/* every 100th, all closed */
	assert_int_equal(id_at(a, 0), 4901);
	assert_int_equal(id_at(a, 49), 1);
	json_decref(a);
	f.limit = 10;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 10);
	json_decref(a);
	for (i = 1; i < n; i += 2)
		ps_sess_close(&s, l[i], &r);
	free(l);
	ps_sess_store_fini(&s);
}

/* The ring keeps the most recent closed records only. */
static void
test_ring_wrap(void **state)
{
	struct ps_sess_store s;
	struct ps_sess_filter f;
	struct ps_sess_rec r = mkrec("10.0.0.1", "192.0.2.1", 443, "x");
	json_t *a;
	unsigned int i;

	(void)state;
	store_init(&s, 4);
	for (i = 0; i < 11; i++) {
		struct ps_sess_live *l = ps_sess_open(&s, &r);

		assert_non_null(l);
		ps_sess_close(&s, l, &r);
	}
	assert_int_equal(s.n_closed, 11);
	assert_int_equal(s.n_live, 0);
	memset(&f, 0, sizeof(f));
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 4);
	assert_int_equal(id_at(a, 0), 11);
	assert_int_equal(id_at(a, 3), 8);
	json_decref(a);
	f.id = 7;			/* overwritten */
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	f.id = 8;
	f.closed_only = true;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	f.closed_only = false;
	f.live_only = true;
	a = ps_sess_query(&s, &f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	/* No log: nothing drained, and overwritten unlogged records are counted. */
	assert_int_equal(s.log_dropped, 7);
	ps_sess_store_fini(&s);
}

/* The policy fields in JSON: present when set, omitted when empty. */
static void
test_json_policy_fields(void **state)
{
	struct ps_sess_rec r = mkrec("2001:db8::1", "2001:db8::2", 443, "x.example");
	json_t *o;

	(void)state;
	o = ps_sess_rec_json(&r);
	assert_non_null(o);
	assert_null(json_object_get(o, "action"));
	assert_null(json_object_get(o, "decided_at"));
	assert_null(json_object_get(o, "policy_version"));
	assert_null(json_object_get(o, "shadow_rule"));
	assert_null(json_object_get(o, "shadow_action"));
	assert_null(json_object_get(o, "rule"));
	assert_string_equal(json_string_value(json_object_get(o, "client")), "2001:db8::1");
	json_decref(o);

	snprintf(r.rule, sizeof(r.rule), "web");
	snprintf(r.action, sizeof(r.action), "decrypt");
	snprintf(r.decided_at, sizeof(r.decided_at), "hello");
	snprintf(r.policy_version, sizeof(r.policy_version), "3 (2024-05-01)");
	snprintf(r.shadow_rule, sizeof(r.shadow_rule), "new-web");
	snprintf(r.shadow_action, sizeof(r.shadow_action), "bypass");
	o = ps_sess_rec_json(&r);
	assert_string_equal(json_string_value(json_object_get(o, "rule")), "web");
	assert_string_equal(json_string_value(json_object_get(o, "action")), "decrypt");
	assert_string_equal(json_string_value(json_object_get(o, "decided_at")), "hello");
	assert_string_equal(json_string_value(json_object_get(o, "policy_version")),
			    "3 (2024-05-01)");
	assert_string_equal(json_string_value(json_object_get(o, "shadow_rule")), "new-web");
	assert_string_equal(json_string_value(json_object_get(o, "shadow_action")), "bypass");
	assert_int_equal(json_integer_value(json_object_get(o, "server_port")), 443);
	json_decref(o);
}

/* The tools of a record in JSON: in order, out-of-band ones with their keys. */
static void
test_json_tools(void **state)
{
	struct ps_sess_rec r = mkrec("192.0.2.1", "192.0.2.2", 443, "x.example");
	json_t *o, *a, *e;

	(void)state;
	o = ps_sess_rec_json(&r);
	assert_null(json_object_get(o, "tools"));
	json_decref(o);

	r.n_tools = 2;
	snprintf(r.tools[0].name, sizeof(r.tools[0].name), "ips");
	r.tools[0].kind = PS_SESS_TOOL_INLINE;
	r.tools[0].srv_port = 443;
	snprintf(r.tools[1].name, sizeof(r.tools[1].name), "tool0");
	r.tools[1].kind = PS_SESS_TOOL_OOB;
	r.tools[1].tap = 1;
	r.tools[1].srv_port = 80;
	r.tools[1].isn[0] = 4000000000u;
	r.tools[1].isn[1] = 7;
	o = ps_sess_rec_json(&r);
	a = json_object_get(o, "tools");
	assert_int_equal(json_array_size(a), 2);
	e = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(e, "name")), "ips");
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "inline");
	assert_null(json_object_get(e, "client_isn"));
	e = json_array_get(a, 1);
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "out-of-band");
	assert_int_equal(json_integer_value(json_object_get(e, "server_port")), 80);
	assert_int_equal(json_integer_value(json_object_get(e, "after_inline")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "client_isn")), 4000000000LL);
	assert_int_equal(json_integer_value(json_object_get(e, "server_isn")), 7);
	json_decref(o);

	/* A kind out of range is shown as such, never read out of bounds. */
	r.n_tools = 1;
	r.tools[0].kind = 200;
	o = ps_sess_rec_json(&r);
	e = json_array_get(json_object_get(o, "tools"), 0);
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "?");
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_glob),
		cmocka_unit_test(test_json_tools),
		cmocka_unit_test(test_sni_cert),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_prefix_match),
		cmocka_unit_test(test_exact_fields),
		cmocka_unit_test(test_query_live_closed),
		cmocka_unit_test(test_query_many),
		cmocka_unit_test(test_ring_wrap),
		cmocka_unit_test(test_json_policy_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
