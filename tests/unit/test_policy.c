/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests of the traffic policy (policy/): matching per criterion,
 * first-match order, the default and undecided verdicts, every class of
 * validation error with its exact message, and a brute-force cross-check
 * of ps_pol_eval() against a naive linear matcher written here.
 *
 * Runs with tests/unit as its working directory. Inline policies use
 * single quotes; jq() turns them into JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_policy.h"

#define DOCS	"../../docs/examples/"
#define ALL	0xffffffffu	/* every query field known */

static char *
jq(const char *s)
{
	char *out = strdup(s);
	char *p;

	assert_non_null(out);
	for (p = out; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return out;
}

static int
compile(const char *inline_json, struct ps_pol **pol, struct ps_pol_errors *errs)
{
	char *text = jq(inline_json);
	int rc;

	rc = ps_pol_compile(text, strlen(text), "p.json", pol, errs);
	free(text);
	return rc;
}

/* A policy that must compile. */
static struct ps_pol *
good(const char *inline_json)
{
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;

	if (compile(inline_json, &pol, &errs) != 0)
		fail_msg("refused: %s", errs.n > 0 ? errs.msg[0] : "(no message)");
	assert_non_null(pol);
	return pol;
}

/* The one error of a policy that must be refused. */
static void
bad1(const char *inline_json, const char *msg)
{
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;

	assert_int_equal(compile(inline_json, &pol, &errs), -EINVAL);
	assert_null(pol);
	if (errs.n != 1) {
		unsigned int i;

		for (i = 0; i < errs.n; i++)
			print_message("  %s\n", errs.msg[i]);
		fail_msg("%u messages, expected 1", errs.n);
	}
	assert_string_equal(errs.msg[0], msg);
}

static void
q_init(struct ps_pol_query *q)
{
	memset(q, 0, sizeof(*q));
	q->known = ALL;
}

static void
q_sni(struct ps_pol_query *q, const char *sni)
{
	q->sni = sni;
	q->sni_len = sni != NULL ? strlen(sni) : 0;
}

static void
q_addr(struct ps_pol_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->bytes) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, s, a->bytes) == 1)
		a->family = 6;
	else
		fail_msg("bad test address %s", s);
}

/* The deciding rule's name for q. */
static const char *
rule_of(const struct ps_pol *pol, const struct ps_pol_query *q)
{
	const struct ps_pol_verdict *v = ps_pol_eval(pol, q);

	assert_non_null(v);
	return v->rule;
}

static const char *
by_sni(const struct ps_pol *pol, const char *sni)
{
	struct ps_pol_query q;

	q_init(&q);
	q_sni(&q, sni);
	return rule_of(pol, &q);
}

static const char *
by_dst(const struct ps_pol *pol, const char *addr)
{
	struct ps_pol_query q;

	q_init(&q);
	q_addr(&q.dst, addr);
	return rule_of(pol, &q);
}

/* ---- SNI ---- */

static void
test_sni_exact(void **state)
{
	struct ps_pol *pol = good("{'rules':[{'name':'r','match':{'sni':['Exact.Example.']},"
				  "'action':'decrypt'}]}");

	(void)state;
	assert_string_equal(by_sni(pol, "exact.example"), "r");
	assert_string_equal(by_sni(pol, "EXACT.example."), "r");
	assert_string_equal(by_sni(pol, "a.exact.example"), "default");
	assert_string_equal(by_sni(pol, "xexact.example"), "default");
	assert_string_equal(by_sni(pol, "exact.example.com"), "default");
	assert_string_equal(by_sni(pol, NULL), "default");
	assert_string_equal(by_sni(pol, ""), "default");
	ps_pol_free(pol);
}

static void
test_sni_wildcard(void **state)
{
	struct ps_pol *pol = good("{'rules':[{'name':'w','match':{'sni':['*.wild.example']},"
				  "'action':'decrypt'}]}");

	(void)state;
	assert_string_equal(by_sni(pol, "a.wild.example"), "w");
	assert_string_equal(by_sni(pol, "A.Wild.Example."), "w");
	assert_string_equal(by_sni(pol, "wild.example"), "default");
	assert_string_equal(by_sni(pol, "a.b.wild.example"), "default");
	assert_string_equal(by_sni(pol, ".wild.example"), "default");
	assert_string_equal(by_sni(pol, "awild.example"), "default");
	ps_pol_free(pol);
}

static void
test_sni_suffix(void **state)
{
	struct ps_pol *pol = good("{'rules':[{'name':'s','match':{'sni':['.suffix.example']},"
				  "'action':'decrypt'}]}");

	(void)state;
	assert_string_equal(by_sni(pol, "suffix.example"), "s");
	assert_string_equal(by_sni(pol, "a.suffix.example"), "s");
	assert_string_equal(by_sni(pol, "a.b.c.suffix.example."), "s");
	assert_string_equal(by_sni(pol, "xsuffix.example"), "default");
	assert_string_equal(by_sni(pol, "example"), "default");
	ps_pol_free(pol);
}

static void
test_sni_list(void **state)
{
	struct ps_pol *pol = good(
		"{'lists':{'finance':['bank.example','*.pay.example','.corp.example'],"
		"'#note':'a comment','empty':[]},"
		"'rules':[{'name':'fin','match':{'sni':['@finance','other.example']},"
		"'action':'bypass'},{'name':'none','match':{'sni':['@empty']},"
		"'action':'drop'}]}");

	(void)state;
	assert_string_equal(by_sni(pol, "bank.example"), "fin");
	assert_string_equal(by_sni(pol, "x.pay.example"), "fin");
	assert_string_equal(by_sni(pol, "pay.example"), "default");
	assert_string_equal(by_sni(pol, "corp.example"), "fin");
	assert_string_equal(by_sni(pol, "a.b.corp.example"), "fin");
	assert_string_equal(by_sni(pol, "other.example"), "fin");
	assert_string_equal(by_sni(pol, "x.bank.example"), "default");
	ps_pol_free(pol);
}

/* ---- addresses ---- */

static void
test_cidr_v4(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'host','match':{'dst':['192.0.2.7/32']},'action':'drop'},"
		"{'name':'bare','match':{'dst':['192.0.2.9']},'action':'drop'},"
		"{'name':'net','match':{'dst':['198.18.0.0/15']},'action':'decrypt'},"
		"{'name':'v4','match':{'dst':['0.0.0.0/0']},'action':'bypass'}]}");

	(void)state;
	assert_string_equal(by_dst(pol, "192.0.2.7"), "host");
	assert_string_equal(by_dst(pol, "192.0.2.9"), "bare");
	assert_string_equal(by_dst(pol, "192.0.2.8"), "v4");
	assert_string_equal(by_dst(pol, "198.18.0.0"), "net");
	assert_string_equal(by_dst(pol, "198.19.255.255"), "net");
	assert_string_equal(by_dst(pol, "198.20.0.0"), "v4");
	assert_string_equal(by_dst(pol, "198.17.255.255"), "v4");
	assert_string_equal(by_dst(pol, "2001:db8::1"), "default");
	ps_pol_free(pol);
}

static void
test_cidr_v6(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'host','match':{'dst':['2001:db8::1/128']},'action':'drop'},"
		"{'name':'net','match':{'dst':['2001:db8::/32']},'action':'decrypt'},"
		"{'name':'v6','match':{'dst':['::/0']},'action':'bypass'}]}");

	(void)state;
	assert_string_equal(by_dst(pol, "2001:db8::1"), "host");
	assert_string_equal(by_dst(pol, "2001:db8::2"), "net");
	assert_string_equal(by_dst(pol, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "net");
	assert_string_equal(by_dst(pol, "2001:db9::"), "v6");
	assert_string_equal(by_dst(pol, "::"), "v6");
	assert_string_equal(by_dst(pol, "10.0.0.1"), "default");
	ps_pol_free(pol);
}

static void
test_cidr_src(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'lan','match':{'src':['10.0.0.0/8','fd00::/8']},"
		"'action':'decrypt'}]}");
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q_addr(&q.src, "10.1.2.3");
	assert_string_equal(rule_of(pol, &q), "lan");
	q_addr(&q.src, "fd12::1");
	assert_string_equal(rule_of(pol, &q), "lan");
	q_addr(&q.src, "11.0.0.1");
	assert_string_equal(rule_of(pol, &q), "default");
	/* the destination is not the source */
	q_addr(&q.src, "11.0.0.1");
	q_addr(&q.dst, "10.1.2.3");
	assert_string_equal(rule_of(pol, &q), "default");
	/* no address known to be present */
	memset(&q.src, 0, sizeof(q.src));
	assert_string_equal(rule_of(pol, &q), "default");
	ps_pol_free(pol);
}

/* ---- other criteria ---- */

static void
test_ports(void **state)
{
	struct ps_pol *pol = good("{'rules':[{'name':'p','match':{'dst_port':[443,'8000-8100',"
				  "'1-1','65535-65535']},'action':'decrypt'}]}");
	struct ps_pol_query q;
	static const struct {
		uint16_t port;
		const char *rule;
	} cases[] = {
		{ 443, "p" }, { 442, "default" }, { 444, "default" },
		{ 8000, "p" }, { 8050, "p" }, { 8100, "p" }, { 7999, "default" },
		{ 8101, "default" }, { 1, "p" }, { 2, "default" }, { 65535, "p" },
		{ 0, "default" },
	};
	size_t i;

	(void)state;
	q_init(&q);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		q.dst_port = cases[i].port;
		assert_string_equal(rule_of(pol, &q), cases[i].rule);
	}
	ps_pol_free(pol);
}

static void
test_vlan_segment(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'v','match':{'vlan':[100,4094]},'action':'drop'},"
		"{'name':'s','match':{'segment':['seg1']},'action':'reject'}]}");
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q.vlan = 100;
	assert_string_equal(rule_of(pol, &q), "v");
	q.vlan = 4094;
	assert_string_equal(rule_of(pol, &q), "v");
	q.vlan = 101;
	assert_string_equal(rule_of(pol, &q), "default");
	q.vlan = 0;
	assert_string_equal(rule_of(pol, &q), "default");
	q.segment = "seg1";
	assert_string_equal(rule_of(pol, &q), "s");
	assert_int_equal(ps_pol_eval(pol, &q)->action, PS_POL_REJECT);
	q.segment = "seg10";
	assert_string_equal(rule_of(pol, &q), "default");
	ps_pol_free(pol);
}

static void
test_alpn_version(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'a','match':{'alpn':['h2']},'action':'decrypt'},"
		"{'name':'t','match':{'tls_version':['1.0','1.1']},'action':'reject'}]}");
	static const char *const both[] = { "http/1.1", "h2" };
	static const char *const old[] = { "http/1.1" };
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q.alpn = both;
	q.n_alpn = 2;
	assert_string_equal(rule_of(pol, &q), "a");
	q.alpn = old;
	q.n_alpn = 1;
	assert_string_equal(rule_of(pol, &q), "default");
	q.n_alpn = 0;
	q.tls_versions = PS_POL_TLS12 | PS_POL_TLS13;
	assert_string_equal(rule_of(pol, &q), "default");
	q.tls_versions = PS_POL_TLS11 | PS_POL_TLS12;
	assert_string_equal(rule_of(pol, &q), "t");
	q.tls_versions = 0;
	assert_string_equal(rule_of(pol, &q), "default");
	ps_pol_free(pol);
}

/* A rule matches only when every criterion it has matches. */
static void
test_all_criteria(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'and','match':{'sni':['.x.example'],'dst':['10.0.0.0/8'],"
		"'dst_port':[443]},'action':'decrypt','log':true}]}");
	const struct ps_pol_verdict *v;
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q_sni(&q, "a.x.example");
	q_addr(&q.dst, "10.9.9.9");
	q.dst_port = 443;
	v = ps_pol_eval(pol, &q);
	assert_string_equal(v->rule, "and");
	assert_int_equal(v->rule_id, 0);
	assert_int_equal(v->action, PS_POL_DECRYPT);
	assert_true(v->log);
	q.dst_port = 444;
	assert_string_equal(rule_of(pol, &q), "default");
	q.dst_port = 443;
	q_addr(&q.dst, "11.0.0.1");
	assert_string_equal(rule_of(pol, &q), "default");
	q_addr(&q.dst, "10.0.0.1");
	q_sni(&q, "y.example");
	assert_string_equal(rule_of(pol, &q), "default");
	ps_pol_free(pol);
}

/* ---- order, default, undecided ---- */

static void
test_first_match(void **state)
{
	struct ps_pol *narrow_first = good(
		"{'rules':[{'name':'narrow','match':{'sni':['a.example']},'action':'bypass'},"
		"{'name':'broad','match':{'sni':['.example']},'action':'decrypt'}]}");
	struct ps_pol *broad_first = good(
		"{'rules':[{'name':'broad','match':{'sni':['.example']},'action':'decrypt'},"
		"{'name':'narrow','match':{'sni':['a.example']},'action':'bypass'}]}");

	(void)state;
	assert_string_equal(by_sni(narrow_first, "a.example"), "narrow");
	assert_string_equal(by_sni(narrow_first, "b.example"), "broad");
	assert_string_equal(by_sni(broad_first, "a.example"), "broad");
	assert_string_equal(by_sni(broad_first, "b.example"), "broad");
	ps_pol_free(narrow_first);
	ps_pol_free(broad_first);
}

/* A rule without "match" matches everything; later rules never decide. */
static void
test_match_all_rule(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'x','match':{'dst_port':[22]},'action':'drop'},"
		"{'name':'all','action':'decrypt'},"
		"{'name':'never','match':{'dst_port':[443]},'action':'bypass'}]}");
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q.dst_port = 22;
	assert_string_equal(rule_of(pol, &q), "x");
	q.dst_port = 443;
	assert_string_equal(rule_of(pol, &q), "all");
	ps_pol_free(pol);
}

static void
test_default(void **state)
{
	struct ps_pol *pol = good("{'rules':[],'default':{'action':'reject','log':true}}");
	struct ps_pol *none = good("{'#':'no rules, no default'}");
	const struct ps_pol_verdict *v;
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	v = ps_pol_eval(pol, &q);
	assert_int_equal(v->rule_id, PS_POL_RULE_DEFAULT);
	assert_string_equal(v->rule, "default");
	assert_int_equal(v->action, PS_POL_REJECT);
	assert_true(v->log);
	v = ps_pol_eval(none, &q);
	assert_int_equal(v->action, PS_POL_BYPASS);
	assert_false(v->log);
	assert_int_equal(ps_pol_n_rules(none), 0);
	ps_pol_free(pol);
	ps_pol_free(none);
}

/* At the client SYN the SNI is unknown: a rule that tests it may decide. */
static void
test_undecided(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'by-name','match':{'sni':['a.example']},'action':'bypass'},"
		"{'name':'by-addr','match':{'dst':['10.0.0.0/8']},'action':'decrypt'}]}");
	const struct ps_pol_verdict *v;
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q.known = PS_POL_F_DST | PS_POL_F_SRC | PS_POL_F_DST_PORT;
	q_addr(&q.dst, "10.0.0.1");
	v = ps_pol_eval(pol, &q);
	assert_int_equal(v->action, PS_POL_UNDECIDED);
	assert_int_equal(v->rule_id, 0);
	assert_string_equal(v->rule, "by-name");
	/* once the SNI is known and differs, the address rule decides */
	q.known = ALL;
	q_sni(&q, "b.example");
	assert_string_equal(rule_of(pol, &q), "by-addr");
	/* a decided earlier rule needs no unknown field */
	q.known = PS_POL_F_DST;
	q_addr(&q.dst, "11.0.0.1");
	assert_int_equal(ps_pol_eval(pol, &q)->action, PS_POL_UNDECIDED);
	ps_pol_free(pol);
	pol = good("{'rules':[{'name':'d','match':{'dst':['10.0.0.0/8']},'action':'drop'},"
		   "{'name':'n','match':{'sni':['a.example']},'action':'bypass'}]}");
	q_addr(&q.dst, "10.0.0.1");
	assert_string_equal(rule_of(pol, &q), "d");
	assert_string_equal(ps_pol_action_name(ps_pol_eval(pol, &q)->action), "drop");
	ps_pol_free(pol);
}

/* ---- validation ---- */

static void
test_err_syntax(void **state)
{
	(void)state;
	bad1("{\n 'rules': [,\n]}",
	     "p.json:2:12: invalid JSON: unexpected token near ','");
	bad1("{'rules':[],\n'rules':[]}",
	     "p.json:2:7: invalid JSON: duplicate object key near '\"rules\"'");
}

static void
test_err_unknown_key(void **state)
{
	(void)state;
	bad1("{'rules':[{'name':'a','action':'drop','match':{'snii':['x']}}]}",
	     "p.json: rules[0].match.snii: unknown key (expected one of: sni, src, dst, "
	     "dst_port, vlan, segment, alpn, tls_version)");
	bad1("{'rule':[]}",
	     "p.json: rule: unknown key (expected one of: lists, rules, default)");
	bad1("{'default':{'action':'drop','color':1}}",
	     "p.json: default.color: unknown key (expected one of: action, log)");
	bad1("{'rules':[{'name':'a','action':'drop','a b':1}]}",
	     "p.json: rules[0][\"a b\"]: unknown key (expected one of: name, match, action, log)");
}

static void
test_err_type(void **state)
{
	(void)state;
	bad1("{'rules':[{'name':'a','action':'drop','log':'yes'}]}",
	     "p.json: rules[0].log: expected true or false, found \"yes\"");
	bad1("{'rules':{}}", "p.json: rules: expected an array of rules, found an object");
	bad1("[]", "p.json: top level: expected an object, found an empty array");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'sni':'a.example'}}]}",
	     "p.json: rules[0].match.sni: expected a non-empty array, found \"a.example\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst':[]}}]}",
	     "p.json: rules[0].match.dst: expected a non-empty array, found an empty array");
	bad1("{'rules':[{'name':7,'action':'drop'}]}",
	     "p.json: rules[0].name: expected a string of 1..255 bytes without control "
	     "characters, found 7");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'sni':['a..b']}}]}",
	     "p.json: rules[0].match.sni[0]: expected a host name, \"*.NAME\", \".NAME\" "
	     "or \"@LIST\", found \"a..b\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'sni':['a.*.b']}}]}",
	     "p.json: rules[0].match.sni[0]: expected a host name, \"*.NAME\", \".NAME\" "
	     "or \"@LIST\", found \"a.*.b\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'vlan':[4095]}}]}",
	     "p.json: rules[0].match.vlan[0]: expected a VLAN ID 1..4094, found 4095");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'tls_version':['1.4']}}]}",
	     "p.json: rules[0].match.tls_version[0]: expected one of \"1.0\", \"1.1\", "
	     "\"1.2\", \"1.3\", found \"1.4\"");
}

static void
test_err_cidr(void **state)
{
	(void)state;
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst':['10.0.0.0/33']}}]}",
	     "p.json: rules[0].match.dst[0]: expected an IPv4 or IPv6 prefix "
	     "ADDRESS[/LENGTH] without host bits, found \"10.0.0.0/33\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'src':['10.0.0.0/8','10.1.0.0/8']}}]}",
	     "p.json: rules[0].match.src[1]: expected an IPv4 or IPv6 prefix "
	     "ADDRESS[/LENGTH] without host bits, found \"10.1.0.0/8\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst':['2001:db8::/129']}}]}",
	     "p.json: rules[0].match.dst[0]: expected an IPv4 or IPv6 prefix "
	     "ADDRESS[/LENGTH] without host bits, found \"2001:db8::/129\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst':['10.0.0.0/']}}]}",
	     "p.json: rules[0].match.dst[0]: expected an IPv4 or IPv6 prefix "
	     "ADDRESS[/LENGTH] without host bits, found \"10.0.0.0/\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst':[10]}}]}",
	     "p.json: rules[0].match.dst[0]: expected an IPv4 or IPv6 prefix "
	     "ADDRESS[/LENGTH] without host bits, found 10");
}

static void
test_err_port(void **state)
{
	(void)state;
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst_port':['9000-8000']}}]}",
	     "p.json: rules[0].match.dst_port[0]: expected a port 1..65535 or a string "
	     "\"LO-HI\" with 1 <= LO <= HI <= 65535, found \"9000-8000\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst_port':[0]}}]}",
	     "p.json: rules[0].match.dst_port[0]: expected a port 1..65535 or a string "
	     "\"LO-HI\" with 1 <= LO <= HI <= 65535, found 0");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst_port':['1-65536']}}]}",
	     "p.json: rules[0].match.dst_port[0]: expected a port 1..65535 or a string "
	     "\"LO-HI\" with 1 <= LO <= HI <= 65535, found \"1-65536\"");
	bad1("{'rules':[{'name':'a','action':'drop','match':{'dst_port':['443']}}]}",
	     "p.json: rules[0].match.dst_port[0]: expected a port 1..65535 or a string "
	     "\"LO-HI\" with 1 <= LO <= HI <= 65535, found \"443\"");
}

static void
test_err_duplicate_name(void **state)
{
	(void)state;
	bad1("{'rules':[{'name':'web','action':'drop'},{'name':'x','action':'drop'},"
	     "{'name':'web','action':'bypass'}]}",
	     "p.json: rules[2].name: duplicate rule name \"web\" (first in rules[0])");
}

static void
test_err_undefined_list(void **state)
{
	(void)state;
	bad1("{'lists':{'finance':['bank.example']},'rules':[{'name':'a','action':'drop',"
	     "'match':{'sni':['@finance','@nosuch']}}]}",
	     "p.json: rules[0].match.sni[1]: expected the name of a list defined in "
	     "\"lists\", found \"@nosuch\"");
	bad1("{'lists':{'l':['@other']}}",
	     "p.json: lists.l[0]: expected a host name, \"*.NAME\" or \".NAME\", "
	     "found \"@other\"");
}

static void
test_err_action(void **state)
{
	(void)state;
	bad1("{'rules':[{'name':'a','action':'allow'}]}",
	     "p.json: rules[0].action: expected one of \"decrypt\", \"bypass\", \"reject\", "
	     "\"drop\", found \"allow\"");
	bad1("{'rules':[{'name':'a'}]}", "p.json: rules[0]: missing required key \"action\"");
	bad1("{'rules':[{'action':'drop'}]}", "p.json: rules[0]: missing required key \"name\"");
}

/* Every error of a file is reported, each one line, in file order. */
static void
test_err_all_reported(void **state)
{
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;
	char big[64 * 80 + 64];
	size_t o = 0;
	unsigned int i;

	(void)state;
	assert_int_equal(compile("{'rules':[{'name':'a','action':'allow'},"
				 "{'name':'b','action':'drop','match':{'dst':['1.2.3.4/40']}},"
				 "{'name':'a','action':'drop','match':{'sni':['@x']}}]}",
				 &pol, &errs), -EINVAL);
	assert_null(pol);
	assert_int_equal(errs.n, 4);
	assert_int_equal(errs.dropped, 0);
	assert_non_null(strstr(errs.msg[0], "rules[0].action: expected one of"));
	assert_non_null(strstr(errs.msg[1], "rules[1].match.dst[0]: expected an IPv4"));
	assert_non_null(strstr(errs.msg[2], "rules[2].match.sni[0]: expected the name of a list"));
	assert_non_null(strstr(errs.msg[3], "rules[2].name: duplicate rule name \"a\""));

	assert_int_equal(compile("{'rules':[{'name':'a','action':'drop','log':1,"
				 "'match':{'vlan':[0]}}],'x':1}", &pol, &errs), -EINVAL);
	assert_int_equal(errs.n, 3);

	/* beyond PS_POL_ERRORS_MAX the rest are counted */
	o += (size_t)snprintf(big + o, sizeof(big) - o, "{'rules':[{'name':'a','action':'drop',"
			      "'match':{'vlan':[");
	for (i = 0; i < PS_POL_ERRORS_MAX + 6; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s0", i == 0 ? "" : ",");
	snprintf(big + o, sizeof(big) - o, "]}}]}");
	assert_int_equal(compile(big, &pol, &errs), -EINVAL);
	assert_int_equal(errs.n, PS_POL_ERRORS_MAX);
	assert_int_equal(errs.dropped, 6);
	assert_non_null(strstr(errs.msg[PS_POL_ERRORS_MAX - 1],
			       "rules[0].match.vlan[63]: expected a VLAN ID"));
	/* NULL errs is allowed */
	assert_int_equal(compile("{'x':1}", &pol, NULL), -EINVAL);
}

static void
test_err_one_line(void **state)
{
	static const char text[] = "{\"rules\":[{\"name\":\"a\\nb\\u0001\",\"action\":\"drop\","
				   "\"match\":{\"alpn\":[\"h2\\n\"]}}]}";
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;
	size_t i;

	(void)state;
	assert_int_equal(ps_pol_compile(text, sizeof(text) - 1, "bad\nname", &pol, &errs),
			 -EINVAL);
	assert_int_equal(errs.n, 2);
	for (i = 0; i < errs.n; i++)
		assert_null(strpbrk(errs.msg[i], "\n\r\001"));
	assert_string_equal(errs.msg[0], "bad?name: rules[0].name: expected a string of 1..255 "
			    "bytes without control characters, found \"a\\u000ab\\u0001\"");
}

static void
test_load(void **state)
{
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;
	struct ps_pol_query q;

	(void)state;
	assert_int_equal(ps_pol_load("no/such/file.json", &pol, &errs), -ENOENT);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msg[0],
			    "no/such/file.json: cannot read: No such file or directory");
	if (ps_pol_load(DOCS "policy.json", &pol, &errs) != 0)
		fail_msg("example refused: %s", errs.msg[0]);
	assert_true(ps_pol_n_rules(pol) >= 4);
	q_init(&q);
	q_sni(&q, "www.bank.example");
	assert_int_equal(ps_pol_eval(pol, &q)->action, PS_POL_BYPASS);
	ps_pol_free(pol);
	assert_int_equal(ps_pol_compile(NULL, 1, "x", &pol, &errs), -EINVAL);
	assert_string_equal(errs.msg[0], "x: invalid arguments");
	ps_pol_free(NULL);
}

/* ---- brute-force cross-check against a naive linear matcher ---- */

#define R_RULES		40
#define R_ITEMS		3
#define R_LISTS		2
#define R_TEXT		(64 * 1024)

enum { NO, YES, UNK };

struct r_pfx {
	uint8_t family, len;
	uint8_t b[16];
};

struct r_rule {
	uint32_t has;		/* PS_POL_F_* */
	char sni[R_ITEMS][40];	/* patterns, or "@lN" */
	struct r_pfx src[R_ITEMS], dst[R_ITEMS];
	uint16_t plo[R_ITEMS], phi[R_ITEMS], vlan[R_ITEMS];
	int seg[R_ITEMS], alpn[R_ITEMS];
	int n[8];		/* items per criterion, enum order of PS_POL_F_* */
	uint32_t versions;
	int action;
	bool log;
};

struct r_pol {
	struct r_rule rules[R_RULES];
	int n_rules;
	char lists[R_LISTS][R_ITEMS][40];
	int n_list[R_LISTS];
	int dflt;
};

static const char *const r_labels[] = { "a", "b", "c" };
static const char *const r_segs[] = { "seg0", "seg1", "seg2", "seg3" };
static const char *const r_alpns[] = { "h2", "http/1.1", "x" };
static const char *const r_actions[] = { "decrypt", "bypass", "reject", "drop" };

static uint64_t r_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
	r_state ^= r_state << 13;
	r_state ^= r_state >> 7;
	r_state ^= r_state << 17;
	return (uint32_t)(r_state % n);
}

/* A name of 0..extra labels over "ex". */
static void
r_name(char *out, size_t len, uint32_t extra)
{
	uint32_t i, n = rnd(extra + 1);

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strncat(out, r_labels[rnd(3)], len - strlen(out) - 1);
		strncat(out, ".", len - strlen(out) - 1);
	}
	strncat(out, "ex", len - strlen(out) - 1);
}

static void
r_pattern(char *out, size_t len)
{
	char name[32];

	r_name(name, sizeof(name), 2);
	switch (rnd(3)) {
	case 0:
		snprintf(out, len, "%s", name);
		break;
	case 1:
		snprintf(out, len, "*.%s", name);
		break;
	default:
		snprintf(out, len, ".%s", name);
		break;
	}
}

static void
r_addr(struct r_pfx *p, bool v6)
{
	static const uint8_t bytes[] = { 0, 1, 0x80, 0xff };
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->family = v6 ? 6 : 4;
	p->b[0] = v6 ? (rnd(2) ? 0x20 : 0xfd) : (rnd(2) ? 10 : 11);
	for (i = 1; i < (v6 ? 16u : 4u); i++)
		p->b[i] = (v6 && i >= 4 && i < 15) ? 0 : bytes[rnd(4)];
	p->len = v6 ? 128 : 32;
}

static void
r_prefix(struct r_pfx *p)
{
	static const uint8_t l4[] = { 0, 1, 7, 8, 9, 16, 24, 31, 32 };
	static const uint8_t l6[] = { 0, 8, 16, 17, 32, 64, 120, 127, 128 };
	unsigned int i;

	r_addr(p, rnd(2));
	p->len = p->family == 4 ? l4[rnd(9)] : l6[rnd(9)];
	for (i = p->len; i < 128; i++)
		p->b[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static void
r_gen(struct r_pol *rp)
{
	int i, j, k;

	memset(rp, 0, sizeof(*rp));
	for (i = 0; i < R_LISTS; i++) {
		rp->n_list[i] = (int)rnd(R_ITEMS + 1);
		for (j = 0; j < rp->n_list[i]; j++)
			r_pattern(rp->lists[i][j], sizeof(rp->lists[i][j]));
	}
	rp->n_rules = (int)rnd(R_RULES + 1);
	rp->dflt = (int)rnd(4);
	for (i = 0; i < rp->n_rules; i++) {
		struct r_rule *r = &rp->rules[i];

		r->action = (int)rnd(4);
		r->log = rnd(2);
		for (k = 0; k < 8; k++) {
			if (rnd(10) >= 3)
				continue;
			r->has |= 1u << k;
			r->n[k] = 1 + (int)rnd(R_ITEMS);
			for (j = 0; j < r->n[k]; j++) {
				switch (k) {
				case 0:
					if (rnd(5) == 0)
						snprintf(r->sni[j], sizeof(r->sni[j]), "@l%u",
							 rnd(R_LISTS));
					else
						r_pattern(r->sni[j], sizeof(r->sni[j]));
					break;
				case 1:
					r_prefix(&r->src[j]);
					break;
				case 2:
					r_prefix(&r->dst[j]);
					break;
				case 3:
					r->plo[j] = (uint16_t)(1 + rnd(20));
					r->phi[j] = (uint16_t)(r->plo[j] + rnd(6));
					break;
				case 4:
					r->vlan[j] = (uint16_t)(1 + rnd(5));
					break;
				case 5:
					r->seg[j] = (int)rnd(3);
					break;
				case 6:
					r->alpn[j] = (int)rnd(3);
					break;
				default:
					r->versions |= 1u << rnd(4);
					break;
				}
			}
		}
	}
}

struct r_text {
	char *p;
	size_t o;
};

static void __attribute__((format(printf, 2, 3)))
emit(struct r_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->p + t->o, R_TEXT - t->o, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < R_TEXT - t->o);
	t->o += (size_t)n;
}

static void
emit_pfx(struct r_text *t, const struct r_pfx *p)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->b, a, sizeof(a));
	emit(t, "\"%s/%u\"", a, p->len);
}

static void
r_json(const struct r_pol *rp, struct r_text *t)
{
	static const char *const keys[] = {
		"sni", "src", "dst", "dst_port", "vlan", "segment", "alpn", "tls_version",
	};
	static const char *const vers[] = { "1.0", "1.1", "1.2", "1.3" };
	int i, j, k;

	emit(t, "{\"lists\":{");
	for (i = 0; i < R_LISTS; i++) {
		emit(t, "%s\"l%d\":[", i ? "," : "", i);
		for (j = 0; j < rp->n_list[i]; j++)
			emit(t, "%s\"%s\"", j ? "," : "", rp->lists[i][j]);
		emit(t, "]");
	}
	emit(t, "},\"rules\":[");
	for (i = 0; i < rp->n_rules; i++) {
		const struct r_rule *r = &rp->rules[i];

		emit(t, "%s{\"name\":\"r%d\",\"action\":\"%s\",\"log\":%s,\"match\":{",
		     i ? "," : "", i, r_actions[r->action], r->log ? "true" : "false");
		for (k = 0, j = 0; k < 8; k++) {
			int m;

			if (!(r->has & (1u << k)))
				continue;
			emit(t, "%s\"%s\":[", j++ ? "," : "", keys[k]);
			for (m = 0; k != 7 && m < r->n[k]; m++) {
				if (m > 0)
					emit(t, ",");
				switch (k) {
				case 0:
					emit(t, "\"%s\"", r->sni[m]);
					break;
				case 1:
					emit_pfx(t, &r->src[m]);
					break;
				case 2:
					emit_pfx(t, &r->dst[m]);
					break;
				case 3:
					emit(t, "\"%u-%u\"", r->plo[m], r->phi[m]);
					break;
				case 4:
					emit(t, "%u", r->vlan[m]);
					break;
				case 5:
					emit(t, "\"%s\"", r_segs[r->seg[m]]);
					break;
				case 6:
					emit(t, "\"%s\"", r_alpns[r->alpn[m]]);
					break;
				default:
					break;
				}
			}
			if (k == 7) {
				int v, first = 1;

				for (v = 0; v < 4; v++) {
					if (r->versions & (1u << v)) {
						emit(t, "%s\"%s\"", first ? "" : ",", vers[v]);
						first = 0;
					}
				}
			}
			emit(t, "]");
		}
		emit(t, "}}");
	}
	emit(t, "],\"default\":{\"action\":\"%s\"}}", r_actions[rp->dflt]);
}

/* Naive pattern match: name lower case, no trailing dot. */
static bool
naive_pattern(const char *pat, const char *name)
{
	size_t n = strlen(name), b;
	const char *base;

	if (pat[0] == '*') {
		base = pat + 2;
		b = strlen(base);
		return n > b + 1 && strcmp(name + n - b, base) == 0 &&
		       name[n - b - 1] == '.' && memchr(name, '.', n - b - 1) == NULL;
	}
	if (pat[0] == '.') {
		base = pat + 1;
		b = strlen(base);
		return strcmp(name, base) == 0 ||
		       (n > b + 1 && strcmp(name + n - b, base) == 0 && name[n - b - 1] == '.');
	}
	return strcmp(pat, name) == 0;
}

static bool
naive_pfx(const struct r_pfx *p, const struct ps_pol_addr *a)
{
	unsigned int i;

	if (a->family != p->family)
		return false;
	for (i = 0; i < p->len; i++) {
		if (((p->b[i / 8] ^ a->bytes[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	}
	return true;
}

static bool
naive_crit(const struct r_pol *rp, const struct r_rule *r, int k,
	   const struct ps_pol_query *q, const char *name)
{
	int j, m;
	unsigned int a;

	for (j = 0; j < r->n[k]; j++) {
		switch (k) {
		case 0:
			if (name == NULL)
				return false;
			if (r->sni[j][0] == '@') {
				int l = r->sni[j][2] - '0';

				for (m = 0; m < rp->n_list[l]; m++) {
					if (naive_pattern(rp->lists[l][m], name))
						return true;
				}
			} else if (naive_pattern(r->sni[j], name)) {
				return true;
			}
			break;
		case 1:
			if (naive_pfx(&r->src[j], &q->src))
				return true;
			break;
		case 2:
			if (naive_pfx(&r->dst[j], &q->dst))
				return true;
			break;
		case 3:
			if (q->dst_port >= r->plo[j] && q->dst_port <= r->phi[j])
				return true;
			break;
		case 4:
			if (q->vlan == r->vlan[j])
				return true;
			break;
		case 5:
			if (q->segment != NULL && strcmp(q->segment, r_segs[r->seg[j]]) == 0)
				return true;
			break;
		case 6:
			for (a = 0; a < q->n_alpn; a++) {
				if (strcmp(q->alpn[a], r_alpns[r->alpn[j]]) == 0)
					return true;
			}
			break;
		default:
			return (q->tls_versions & r->versions) != 0;
		}
	}
	return false;
}

/* rule_id and action of the first match, PS_POL_UNDECIDED included. */
static void
naive_eval(const struct r_pol *rp, const struct ps_pol_query *q, uint32_t *id,
	   int *action)
{
	char name[300];
	const char *np = NULL;
	int i, k, first_unk = -1;
	size_t n, c;

	if (q->sni != NULL) {
		n = q->sni_len;
		if (n > 0 && q->sni[n - 1] == '.')
			n--;
		for (c = 0; c < n; c++)
			name[c] = (char)(q->sni[c] >= 'A' && q->sni[c] <= 'Z' ?
					 q->sni[c] + 32 : q->sni[c]);
		name[n] = '\0';
		np = name;
	}
	for (i = 0; i < rp->n_rules; i++) {
		const struct r_rule *r = &rp->rules[i];
		int res = YES;

		for (k = 0; k < 8 && res != NO; k++) {
			if (!(r->has & (1u << k)))
				continue;
			if (!(q->known & (1u << k)))
				res = UNK;
			else if (!naive_crit(rp, r, k, q, np))
				res = NO;
		}
		if (res == UNK && first_unk < 0)
			first_unk = i;
		if (res == YES) {
			if (first_unk >= 0)
				break;
			*id = (uint32_t)i;
			*action = r->action;
			return;
		}
	}
	if (first_unk >= 0) {
		*id = (uint32_t)first_unk;
		*action = PS_POL_UNDECIDED;
		return;
	}
	*id = PS_POL_RULE_DEFAULT;
	*action = rp->dflt;
}

static void
test_random_cross_check(void **state)
{
	static struct r_pol rp;
	static char text[R_TEXT];
	static const char *alpn[3];
	const struct ps_pol_verdict *v;
	struct ps_pol_errors errs;
	struct r_text t;
	struct ps_pol *pol;
	struct ps_pol_query q;
	char sni[64], upper[64];
	int round, i, action, matched = 0, undecided = 0;
	uint32_t id;
	size_t c;

	(void)state;
	t.p = text;
	for (round = 0; round < 400; round++) {
		r_gen(&rp);
		t.o = 0;
		r_json(&rp, &t);
		pol = NULL;
		if (ps_pol_compile(t.p, t.o, "rand.json", &pol, &errs) != 0)
			fail_msg("random policy refused: %s\n%s", errs.msg[0], t.p);
		for (i = 0; i < 300; i++) {
			struct r_pfx a;
			unsigned int k;

			q_init(&q);
			if (rnd(5) == 0)
				q.known = rnd(256);
			if (rnd(8) != 0) {
				r_name(sni, sizeof(sni), 4);
				if (rnd(4) == 0)
					strncat(sni, ".", sizeof(sni) - strlen(sni) - 1);
				if (rnd(4) == 0) {
					for (c = 0; c <= strlen(sni); c++)
						upper[c] = (char)(sni[c] >= 'a' && sni[c] <= 'z' ?
								  sni[c] - 32 : sni[c]);
					q_sni(&q, upper);
				} else {
					q_sni(&q, sni);
				}
			}
			if (rnd(8) != 0) {
				r_addr(&a, rnd(2));
				q.src.family = a.family;
				memcpy(q.src.bytes, a.b, 16);
			}
			if (rnd(8) != 0) {
				r_addr(&a, rnd(2));
				q.dst.family = a.family;
				memcpy(q.dst.bytes, a.b, 16);
			}
			q.dst_port = (uint16_t)rnd(27);
			q.vlan = (uint16_t)rnd(7);
			q.segment = rnd(5) == 0 ? NULL : r_segs[rnd(4)];
			q.n_alpn = 0;
			for (k = 0; k < 3; k++) {
				if (rnd(2))
					alpn[q.n_alpn++] = r_alpns[k];
			}
			q.alpn = alpn;
			q.tls_versions = rnd(16);
			naive_eval(&rp, &q, &id, &action);
			v = ps_pol_eval(pol, &q);
			if (v->rule_id != id || (int)v->action != action)
				fail_msg("round %d query %d: eval rule %u action %d, naive rule "
					 "%u action %d\n%s", round, i, v->rule_id, v->action,
					 id, action, t.p);
			matched += id != PS_POL_RULE_DEFAULT && action != PS_POL_UNDECIDED;
			undecided += action == PS_POL_UNDECIDED;
		}
		ps_pol_free(pol);
	}
	/* the generator must exercise both outcomes, or the check proves little */
	assert_true(matched > 1000);
	assert_true(undecided > 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_exact),
		cmocka_unit_test(test_sni_wildcard),
		cmocka_unit_test(test_sni_suffix),
		cmocka_unit_test(test_sni_list),
		cmocka_unit_test(test_cidr_v4),
		cmocka_unit_test(test_cidr_v6),
		cmocka_unit_test(test_cidr_src),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_vlan_segment),
		cmocka_unit_test(test_alpn_version),
		cmocka_unit_test(test_all_criteria),
		cmocka_unit_test(test_first_match),
		cmocka_unit_test(test_match_all_rule),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_undecided),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_type),
		cmocka_unit_test(test_err_cidr),
		cmocka_unit_test(test_err_port),
		cmocka_unit_test(test_err_duplicate_name),
		cmocka_unit_test(test_err_undefined_list),
		cmocka_unit_test(test_err_action),
		cmocka_unit_test(test_err_all_reported),
		cmocka_unit_test(test_err_one_line),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_random_cross_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
