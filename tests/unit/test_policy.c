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
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
	     "dst_port, vlan, segment, alpn, tls_version, cert_cn, cert_san, cert_issuer)");
	bad1("{'rule':[]}",
	     "p.json: rule: unknown key (expected one of: version, lists, rules, default, "
	     "shadow, tls_profiles, settings)");
	bad1("{'default':{'action':'drop','color':1}}",
	     "p.json: default.color: unknown key (expected one of: action, log, tools, "
	     "tls_profile, on_invalid_cert)");
	bad1("{'default':{'shadow':true}}",
	     "p.json: default.shadow: unknown key (expected one of: action, log, tools, "
	     "tls_profile, on_invalid_cert)");
	bad1("{'rules':[{'name':'a','action':'drop','a b':1}]}",
	     "p.json: rules[0][\"a b\"]: unknown key (expected one of: name, match, action, "
	     "log, tools, tls_profile, on_invalid_cert, shadow)");
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

/* ---- certificate criteria ---- */

static void
q_cert(struct ps_pol_query *q, const char *cn, const char *const *san,
       unsigned int n_san, const char *issuer_cn, const char *issuer)
{
	q->cert_cn = cn;
	q->cert_san = san;
	q->n_cert_san = n_san;
	q->cert_issuer_cn = issuer_cn;
	q->cert_issuer = issuer;
}

static void
test_cert_criteria(void **state)
{
	struct ps_pol *pol = good(
		"{'lists':{'banks':['.bank.example']},"
		"'rules':[{'name':'cn','match':{'cert_cn':['*.cn.example']},'action':'drop'},"
		"{'name':'san','match':{'cert_san':['@banks','exact.example']},'action':'bypass'},"
		"{'name':'iss-cn','match':{'cert_issuer':['Evil CA']},'action':'reject'},"
		"{'name':'iss-dn','match':{'cert_issuer':['CN=Example CA,O=Example,C=US']},"
		"'action':'decrypt'}]}");
	static const char *const san_bank[] = { "other.example", "WWW.Bank.Example." };
	static const char *const san_wild[] = { "*.bank.example" };
	static const char *const san_bad[] = { "bank example", "a..bank.example" };
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q_sni(&q, "x.example");
	q_cert(&q, "a.cn.example", NULL, 0, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "cn");
	q_cert(&q, "a.b.cn.example", NULL, 0, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "default");
	q_cert(&q, "not a host", san_bank, 2, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "san");
	/* a wildcard certificate is matched as written */
	q_cert(&q, NULL, san_wild, 1, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "san");
	q_cert(&q, NULL, san_bad, 2, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "default");
	/* only the first n_cert_san names are read */
	q_cert(&q, NULL, san_bank, 1, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "default");
	q_cert(&q, NULL, NULL, 0, "EVIL ca", "CN=EVIL ca");
	assert_string_equal(rule_of(pol, &q), "iss-cn");
	q_cert(&q, NULL, NULL, 0, "Example CA", "cn=example ca,o=example,c=us");
	assert_string_equal(rule_of(pol, &q), "iss-dn");
	/* a DN element is not an issuer CN, nor a CN element a DN */
	q_cert(&q, NULL, NULL, 0, "CN=Example CA,O=Example,C=US", "Evil CA");
	assert_string_equal(rule_of(pol, &q), "default");
	/* before the certificate: undecided at the first rule testing it */
	q.known = ALL & ~PS_POL_F_CERT;
	q_cert(&q, "a.cn.example", NULL, 0, NULL, NULL);
	assert_int_equal(ps_pol_eval(pol, &q)->action, PS_POL_UNDECIDED);
	assert_string_equal(rule_of(pol, &q), "cn");
	ps_pol_free(pol);
	/* a sure match before a certificate rule needs no certificate */
	pol = good("{'rules':[{'name':'port','match':{'dst_port':[22]},'action':'drop'},"
		   "{'name':'cn','match':{'cert_cn':['a.example']},'action':'bypass'}]}");
	q.dst_port = 22;
	assert_string_equal(rule_of(pol, &q), "port");
	assert_int_equal(ps_pol_eval(pol, &q)->action, PS_POL_DROP);
	ps_pol_free(pol);
}

/* A flow without SNI: "sni" waits for the certificate, then tests its names. */
static void
test_sni_from_cert(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'bank','match':{'sni':['.bank.example']},'action':'bypass'},"
		"{'name':'rest','match':{'dst_port':[443]},'action':'decrypt'}]}");
	static const char *const san[] = { "web.example", "login.bank.example" };
	static const char *const other[] = { "web.example" };
	const struct ps_pol_verdict *v;
	struct ps_pol_query q;

	(void)state;
	q_init(&q);
	q.dst_port = 443;
	q_sni(&q, NULL);
	q.known = ALL & ~PS_POL_F_CERT;
	v = ps_pol_eval(pol, &q);
	assert_int_equal(v->action, PS_POL_UNDECIDED);
	assert_string_equal(v->rule, "bank");
	q.known = ALL;
	q_cert(&q, "web.example", san, 2, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "bank");
	/* with DNS SANs the CN is not used */
	q_cert(&q, "x.bank.example", other, 1, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "rest");
	/* without, the CN is */
	q_cert(&q, "x.bank.example", NULL, 0, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "bank");
	q_cert(&q, NULL, NULL, 0, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "rest");
	/* a flow with SNI never uses the certificate's names for "sni" */
	q_sni(&q, "web.example");
	q_cert(&q, "x.bank.example", san, 2, NULL, NULL);
	assert_string_equal(rule_of(pol, &q), "rest");
	q.known = ALL & ~PS_POL_F_CERT;
	assert_string_equal(rule_of(pol, &q), "rest");
	ps_pol_free(pol);
}

/* ---- shadow ---- */

static void
test_shadow_rules(void **state)
{
	struct ps_pol *pol = good(
		"{'rules':[{'name':'try-block','shadow':true,'match':{'dst_port':[443]},"
		"'action':'drop'},"
		"{'name':'try-name','shadow':true,'match':{'sni':['a.example']},'action':'reject'},"
		"{'name':'web','match':{'dst_port':[443,8443]},'action':'decrypt'},"
		"{'name':'late','shadow':true,'match':{'dst_port':[8443]},'action':'drop'}],"
		"'default':{'action':'bypass'}}");
	const struct ps_pol_verdict *v, *sv;
	struct ps_pol_query q;

	(void)state;
	assert_false(ps_pol_is_shadow(pol));
	q_init(&q);
	q.dst_port = 443;
	v = ps_pol_eval_ex(pol, &q, &sv);
	assert_string_equal(v->rule, "web");
	assert_false(v->shadow);
	assert_non_null(sv);
	assert_string_equal(sv->rule, "try-block");
	assert_true(sv->shadow);
	assert_int_equal(sv->action, PS_POL_DROP);
	assert_ptr_equal(ps_pol_eval(pol, &q), v);
	/* a shadow rule after the enforced one is not reported */
	q.dst_port = 8443;
	v = ps_pol_eval_ex(pol, &q, &sv);
	assert_string_equal(v->rule, "web");
	assert_null(sv);
	/* before the default, every shadow match counts */
	q.dst_port = 80;
	q_sni(&q, "a.example");
	v = ps_pol_eval_ex(pol, &q, &sv);
	assert_int_equal(v->rule_id, PS_POL_RULE_DEFAULT);
	assert_string_equal(sv->rule, "try-name");
	/* a shadow rule needing an unknown field: undecided shadow only */
	q.dst_port = 8443;
	q.known = ALL & ~PS_POL_F_SNI;
	v = ps_pol_eval_ex(pol, &q, &sv);
	assert_string_equal(v->rule, "web");
	assert_int_equal(v->action, PS_POL_DECRYPT);
	assert_int_equal(sv->action, PS_POL_UNDECIDED);
	assert_string_equal(sv->rule, "try-name");
	assert_true(sv->shadow);
	v = ps_pol_eval_ex(pol, &q, NULL);
	assert_string_equal(v->rule, "web");
	ps_pol_free(pol);

	/* a wholly shadow policy decides as usual, every verdict shadow */
	pol = good("{'shadow':true,'rules':[{'name':'s','shadow':false,"
		   "'match':{'dst_port':[443]},'action':'drop'},"
		   "{'name':'t','shadow':true,'action':'reject'}],'default':{'action':'decrypt'}}");
	assert_true(ps_pol_is_shadow(pol));
	q_init(&q);
	q.dst_port = 443;
	v = ps_pol_eval_ex(pol, &q, &sv);
	assert_string_equal(v->rule, "s");
	assert_true(v->shadow);
	assert_null(sv);
	q.dst_port = 80;
	assert_string_equal(ps_pol_eval_ex(pol, &q, &sv)->rule, "t");
	assert_true(ps_pol_rule(pol, PS_POL_RULE_DEFAULT)->shadow);
	ps_pol_free(pol);
}

/* ---- per-rule options ---- */

static void
test_rule_options(void **state)
{
	struct ps_pol *pol = good(
		"{'settings':{'tools':{'ids':{'ports':['tool0','tool1'],'failure':'fail-closed'},"
		"'rec':{'ports':['recorder']}}},"
		"'tls_profiles':{'legacy':{'versions':['1.0','1.2']}},"
		"'rules':[{'name':'a','action':'decrypt','tools':['rec','ids'],"
		"'tls_profile':'legacy','on_invalid_cert':'resign-untrusted'},"
		"{'name':'b','action':'decrypt','tools':[],'tls_profile':'default',"
		"'on_invalid_cert':'bypass'},{'name':'c','action':'bypass'}],"
		"'default':{'action':'decrypt','tools':['ids'],'on_invalid_cert':'reject'}}");
	const struct ps_pol_verdict *v;
	const struct ps_pol_tool *t;

	(void)state;
	assert_int_equal(ps_pol_n_tools(pol), 2);
	t = ps_pol_tool(pol, 0);
	assert_string_equal(t->name, "ids");
	assert_int_equal(t->n_ports, 2);
	assert_string_equal(t->ports[1], "tool1");
	assert_true(t->fail_closed);
	assert_true(ps_pol_tool(pol, 1)->fail_closed);	/* the default: fail closed */
	assert_null(ps_pol_tool(pol, 2));
	v = ps_pol_rule(pol, 0);
	assert_true(v->tools_set);
	assert_int_equal(v->n_tools, 2);
	assert_int_equal(v->tools[0], 1);
	assert_int_equal(v->tools[1], 0);
	assert_string_equal(ps_pol_profile(pol, v->profile)->name, "legacy");
	assert_int_equal(ps_pol_profile(pol, v->profile)->versions, PS_POL_TLS10 | PS_POL_TLS12);
	assert_int_equal(v->on_invalid_cert, PS_POL_INVALID_RESIGN_UNTRUSTED);
	v = ps_pol_rule(pol, 1);
	assert_true(v->tools_set);
	assert_int_equal(v->n_tools, 0);
	assert_int_equal(v->profile, 0);
	assert_string_equal(ps_pol_invalid_name(v->on_invalid_cert), "bypass");
	v = ps_pol_rule(pol, 2);
	assert_false(v->tools_set);
	assert_int_equal(v->on_invalid_cert, PS_POL_INVALID_DEFAULT);
	assert_false(v->shadow);
	v = ps_pol_rule(pol, PS_POL_RULE_DEFAULT);
	assert_string_equal(v->rule, "default");
	assert_int_equal(v->n_tools, 1);
	assert_int_equal(v->tools[0], 0);
	assert_int_equal(v->on_invalid_cert, PS_POL_INVALID_REJECT);
	assert_null(ps_pol_rule(pol, 3));
	assert_string_equal(ps_pol_invalid_name(PS_POL_INVALID_DEFAULT), "default");
	assert_string_equal(ps_pol_invalid_name(PS_POL_INVALID_REJECT), "reject");
	ps_pol_free(pol);

	bad1("{'rules':[{'name':'a','action':'drop','tools':['x']}]}",
	     "p.json: rules[0].tools[0]: expected the name of a tool defined in "
	     "\"settings.tools\", found \"x\"");
	bad1("{'settings':{'tools':{'t':{'ports':['p']}}},"
	     "'rules':[{'name':'a','action':'drop','tools':['t','t']}]}",
	     "p.json: rules[0].tools[1]: duplicate tool \"t\"");
	bad1("{'rules':[{'name':'a','action':'drop','tls_profile':'modern'}]}",
	     "p.json: rules[0].tls_profile: expected \"default\" or the name of a profile "
	     "defined in \"tls_profiles\", found \"modern\"");
	bad1("{'default':{'on_invalid_cert':'ignore'}}",
	     "p.json: default.on_invalid_cert: expected one of \"reject\", "
	     "\"resign-untrusted\", \"bypass\", found \"ignore\"");
	bad1("{'rules':[{'name':'a','action':'drop','shadow':1}]}",
	     "p.json: rules[0].shadow: expected true or false, found 1");
	bad1("{'shadow':'yes'}", "p.json: shadow: expected true or false, found \"yes\"");
}

/* ---- TLS profiles ---- */

static void
test_profiles(void **state)
{
	struct ps_pol *pol = good(
		"{'tls_profiles':{'legacy':{'versions':['1.0','1.1','1.2','1.3'],"
		"'ciphers':'ECDHE-RSA-AES128-GCM-SHA256:HIGH:!aNULL',"
		"'ciphersuites':'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',"
		"'groups':'X25519:P-256'},'only-groups':{'groups':'P-384'}}}");
	const struct ps_pol_profile *p;

	(void)state;
	assert_int_equal(ps_pol_n_profiles(pol), 3);
	p = ps_pol_profile(pol, 0);
	assert_string_equal(p->name, "default");
	assert_int_equal(p->versions, 0);
	assert_null(p->ciphers);
	p = ps_pol_profile(pol, 1);
	assert_string_equal(p->name, "legacy");
	assert_int_equal(p->versions, 15);
	assert_string_equal(p->ciphers, "ECDHE-RSA-AES128-GCM-SHA256:HIGH:!aNULL");
	assert_string_equal(p->groups, "X25519:P-256");
	p = ps_pol_profile(pol, 2);
	assert_null(p->ciphersuites);
	assert_string_equal(p->groups, "P-384");
	assert_null(ps_pol_profile(pol, 3));
	ps_pol_free(pol);
	pol = good("{}");
	assert_int_equal(ps_pol_n_profiles(pol), 1);
	ps_pol_free(pol);

	bad1("{'tls_profiles':{'x':{'ciphers':'NO-SUCH-CIPHER'}}}",
	     "p.json: tls_profiles.x.ciphers: expected an OpenSSL cipher list (TLS 1.2 and "
	     "below) that selects at least one cipher, found \"NO-SUCH-CIPHER\"");
	bad1("{'tls_profiles':{'x':{'ciphersuites':'TLS_AES_128_GCM_SHA256:TLS_FOO'}}}",
	     "p.json: tls_profiles.x.ciphersuites: expected TLS 1.3 cipher suites known to "
	     "OpenSSL, separated by \":\", found \"TLS_AES_128_GCM_SHA256:TLS_FOO\" "
	     "(OpenSSL does not know \"TLS_FOO\")");
	bad1("{'tls_profiles':{'x':{'ciphersuites':'TLS_FOO'}}}",
	     "p.json: tls_profiles.x.ciphersuites: expected TLS 1.3 cipher suites known to "
	     "OpenSSL, separated by \":\", found \"TLS_FOO\"");
	bad1("{'tls_profiles':{'x':{'groups':'X25519:P-999'}}}",
	     "p.json: tls_profiles.x.groups: expected groups known to OpenSSL, separated by "
	     "\":\" (\"X25519:P-256\"), found \"X25519:P-999\"");
	bad1("{'tls_profiles':{'x':{'versions':['1.4']}}}",
	     "p.json: tls_profiles.x.versions[0]: expected one of \"1.0\", \"1.1\", \"1.2\", "
	     "\"1.3\", found \"1.4\"");
	bad1("{'tls_profiles':{'x':{}}}",
	     "p.json: tls_profiles.x: expected at least one of versions, ciphers, "
	     "ciphersuites, groups, found none");
	bad1("{'tls_profiles':{'default':{'groups':'P-256'}}}",
	     "p.json: tls_profiles.default: the name \"default\" is reserved for the "
	     "appliance's own profile");
	bad1("{'tls_profiles':{'x':{'cipher':'HIGH','groups':'P-256'}}}",
	     "p.json: tls_profiles.x.cipher: unknown key (expected one of: versions, ciphers, "
	     "ciphersuites, groups)");
}

/* ---- settings ---- */

/* A temporary file of mode mode; its path in path[64]. */
static void
tmp_file(char *path, mode_t mode)
{
	int fd;

	snprintf(path, 64, "/tmp/test_policy.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_settings(void **state)
{
	char cert[64], key[64], pass[64], open_key[64], text[2048], msg[PS_POL_ERROR_LEN];
	const struct ps_pol_settings *set;
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;

	(void)state;
	tmp_file(cert, 0644);
	tmp_file(key, 0600);
	tmp_file(pass, 0400);
	tmp_file(open_key, 0644);
	snprintf(text, sizeof(text),
		 "{'settings':{'starttls_ports':[25,587],"
		 "'ca':{'cert':'%s','key':'%s','passphrase_file':'%s'},"
		 "'untrusted_ca':{'cert':'%s'},"
		 "'known_servers':[{'sni':'*.Corp.example','cert':'%s','key':'%s'},"
		 "{'address':'2001:db8::1','cert':'%s'}],"
		 "'session_cache':{'entries':0,'timeout_s':86400},"
		 "'overflow':'drop','verify_failure':'resign-untrusted',"
		 "'log':{'file':'/var/log/plainsight/sessions.log',"
		 "'syslog':'tcp://[2001:db8::9]:6514'}}}",
		 cert, key, pass, cert, cert, key, cert);
	pol = good(text);
	set = ps_pol_settings(pol);
	assert_true(set->has_starttls_ports);
	assert_int_equal(set->n_starttls_ports, 2);
	assert_int_equal(set->starttls_ports[1], 587);
	assert_string_equal(set->ca_cert, cert);
	assert_string_equal(set->ca_key, key);
	assert_string_equal(set->ca_passphrase_file, pass);
	assert_string_equal(set->untrusted_ca_cert, cert);
	assert_null(set->untrusted_ca_key);
	assert_true(set->has_known_servers);
	assert_int_equal(set->n_known, 2);
	assert_string_equal(set->known[0].sni, "*.Corp.example");
	assert_false(set->known[0].has_addr);
	assert_null(set->known[1].sni);
	assert_true(set->known[1].has_addr);
	assert_int_equal(set->known[1].addr.family, 6);
	assert_null(set->known[1].key);
	assert_true(set->has_session_cache);
	assert_int_equal(set->session_cache_entries, 0);
	assert_int_equal(set->session_timeout_s, 86400);
	assert_int_equal(set->overflow, 1);
	assert_int_equal(set->verify_failure, 1);
	assert_string_equal(set->syslog_url, "tcp://[2001:db8::9]:6514");
	ps_pol_free(pol);

	pol = good("{'settings':{'starttls_ports':[]}}");
	set = ps_pol_settings(pol);
	assert_true(set->has_starttls_ports);
	assert_int_equal(set->n_starttls_ports, 0);
	ps_pol_free(pol);
	pol = good("{}");
	set = ps_pol_settings(pol);
	assert_false(set->has_starttls_ports || set->has_known_servers ||
		     set->has_session_cache);
	assert_int_equal(set->overflow, -1);
	assert_int_equal(set->verify_failure, -1);
	assert_null(set->ca_cert);
	assert_null(set->syslog_url);
	ps_pol_free(pol);

	bad1("{'settings':{'starttls_ports':[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
	     "19,20,21]}}",
	     "p.json: settings.starttls_ports: expected at most 20 ports, found 21");
	bad1("{'settings':{'starttls_ports':[25,0]}}",
	     "p.json: settings.starttls_ports[1]: expected a port 1..65535, found 0");
	bad1("{'settings':{'starttls_ports':[25,25]}}",
	     "p.json: settings.starttls_ports[1]: duplicate port 25");
	bad1("{'settings':{'ca':{'cert':'/no/such/ca.pem'}}}",
	     "p.json: settings.ca.cert: cannot read /no/such/ca.pem: No such file or directory");
	snprintf(text, sizeof(text), "{'settings':{'ca':{'cert':'%s','key':'%s'}}}",
		 cert, open_key);
	snprintf(msg, sizeof(msg),
		 "p.json: settings.ca.key: %s is readable by others (mode 0644): chmod 600 it",
		 open_key);
	bad1(text, msg);
	snprintf(text, sizeof(text), "{'settings':{'ca':{'key':'%s'}}}", key);
	bad1(text, "p.json: settings.ca: missing required key \"cert\"");
	snprintf(text, sizeof(text), "{'settings':{'known_servers':[{'cert':'%s'}]}}", cert);
	bad1(text, "p.json: settings.known_servers[0]: expected \"sni\" or \"address\" "
	     "(or both), found neither");
	snprintf(text, sizeof(text), "{'settings':{'known_servers':[{'sni':'.x.example',"
		 "'cert':'%s'}]}}", cert);
	bad1(text, "p.json: settings.known_servers[0].sni: expected an exact host name or "
	     "\"*.SUFFIX\", found \".x.example\"");
	bad1("{'settings':{'session_cache':{'entries':10000001,'timeout_s':1}}}",
	     "p.json: settings.session_cache.entries: expected an integer 0..10000000, "
	     "found 10000001");
	bad1("{'settings':{'session_cache':{'entries':1}}}",
	     "p.json: settings.session_cache: missing required key \"timeout_s\"");
	bad1("{'settings':{'overflow':'queue'}}",
	     "p.json: settings.overflow: expected one of \"bypass\", \"drop\", found \"queue\"");
	bad1("{'settings':{'tools':{'bad name':{'ports':['p']}}}}",
	     "p.json: settings.tools[\"bad name\"]: expected a name of 1..63 characters "
	     "[A-Za-z0-9_.-] as a tool name");
	bad1("{'settings':{'tools':{'t':{'ports':[]}}}}",
	     "p.json: settings.tools.t.ports: expected a non-empty array of port names, "
	     "found an empty array");
	bad1("{'settings':{'tools':{'t':{'ports':['a-port-name-longer-than-31-chars']}}}}",
	     "p.json: settings.tools.t.ports[0]: expected a port name of 1..31 printable "
	     "characters without spaces, found \"a-port-name-longer-than-31-chars\"");
	bad1("{'settings':{'tools':{'t':{'ports':['p'],'failure':'open'}}}}",
	     "p.json: settings.tools.t.failure: expected one of \"fail-open\", "
	     "\"fail-closed\", found \"open\"");
	bad1("{'settings':{'log':{'syslog':'udp://logs.example:514'}}}",
	     "p.json: settings.log.syslog: expected \"udp://HOST:PORT\" or \"tcp://HOST:PORT\" "
	     "with HOST an IPv4 address or [IPv6 address] and PORT 1..65535, found "
	     "\"udp://logs.example:514\"");
	bad1("{'settings':{'log':{'syslog':'udp://192.0.2.1:65536'}}}",
	     "p.json: settings.log.syslog: expected \"udp://HOST:PORT\" or \"tcp://HOST:PORT\" "
	     "with HOST an IPv4 address or [IPv6 address] and PORT 1..65535, found "
	     "\"udp://192.0.2.1:65536\"");
	bad1("{'settings':{'starttls':[25]}}",
	     "p.json: settings.starttls: unknown key (expected one of: starttls_ports, ca, "
	     "untrusted_ca, known_servers, session_cache, overflow, verify_failure, tools, log)");
	bad1("{'settings':{\n'ca':{'cert':'x',}}}",
	     "p.json:2:18: invalid JSON: string or '}' expected near '}'");
	pol = good("{'settings':{'log':{'syslog':'udp://192.0.2.1:514'}}}");
	ps_pol_free(pol);
	unlink(cert);
	unlink(key);
	unlink(pass);
	unlink(open_key);
	(void)errs;
}

/* ---- version and hash ---- */

static void
test_version_hash(void **state)
{
	struct ps_pol *a = good("{'version':'2024-06 r3','rules':[]}");
	struct ps_pol *b = good("{'version':'2024-06 r4','rules':[]}");
	struct ps_pol *n = good("{'version':42}");
	struct ps_pol *none = good("{}");
	const char *h;
	size_t i;

	(void)state;
	assert_string_equal(ps_pol_version(a), "2024-06 r3");
	assert_string_equal(ps_pol_version(n), "42");
	assert_string_equal(ps_pol_version(none), "");
	h = ps_pol_hash(a);
	assert_int_equal(strlen(h), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", h[i]));
	assert_string_not_equal(ps_pol_hash(a), ps_pol_hash(b));
	/* SHA-256 of "{}" */
	assert_string_equal(ps_pol_hash(none),
			    "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
	ps_pol_free(a);
	ps_pol_free(b);
	ps_pol_free(n);
	ps_pol_free(none);
	bad1("{'version':''}", "p.json: version: expected a string of 1..63 printable ASCII "
	     "characters or an integer >= 0, found \"\"");
	bad1("{'version':-1}", "p.json: version: expected a string of 1..63 printable ASCII "
	     "characters or an integer >= 0, found -1");
}

/*
 * docs/examples/policy-full.json with its /etc/plainsight/ files made
 * under a temporary directory (mode 0600), so every key is compiled.
 */
static void
test_load_full_example(void **state)
{
	static const char *const files[] = {
		"ca/ca.pem", "ca/ca.key", "ca/ca.pass", "ca/untrusted.pem",
		"ca/untrusted.key", "known/intranet.pem", "known/intranet.key",
		"known/mail.p12", "known/mail.pass",
	};
	char dir[] = "/tmp/test_policy.XXXXXX", path[256], *text, *out;
	const struct ps_pol_settings *set;
	struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;
	size_t len, i, o = 0, dl;
	const char *p, *hit;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dl = strlen(dir);
	snprintf(path, sizeof(path), "%s/ca", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/known", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	f = fopen(DOCS "policy-full.json", "r");
	assert_non_null(f);
	text = calloc(1, 65536);
	out = calloc(1, 65536 * 2);
	assert_non_null(text);
	assert_non_null(out);
	len = fread(text, 1, 65535, f);
	fclose(f);
	/* "/etc/plainsight/" -> "DIR/" */
	for (p = text; (hit = strstr(p, "/etc/plainsight/")) != NULL;
	     p = hit + strlen("/etc/plainsight/")) {
		memcpy(out + o, p, (size_t)(hit - p));
		o += (size_t)(hit - p);
		memcpy(out + o, dir, dl);
		o += dl;
		out[o++] = '/';
	}
	memcpy(out + o, p, strlen(p));
	o += strlen(p);
	assert_true(len > 0);
	if (ps_pol_compile(out, o, "policy-full.json", &pol, &errs) != 0)
		fail_msg("example refused: %s", errs.msg[0]);
	assert_int_equal(ps_pol_n_rules(pol), 5);
	assert_string_equal(ps_pol_version(pol), "2024-06-r1");
	assert_int_equal(ps_pol_n_tools(pol), 3);
	assert_int_equal(ps_pol_n_profiles(pol), 2);
	set = ps_pol_settings(pol);
	assert_int_equal(set->n_starttls_ports, 5);
	assert_int_equal(set->n_known, 2);
	assert_non_null(set->ca_passphrase_file);
	assert_true(ps_pol_rule(pol, 2)->shadow);
	assert_int_equal(ps_pol_rule(pol, 3)->profile, 1);
	assert_int_equal(ps_pol_rule(pol, 4)->n_tools, 2);
	ps_pol_free(pol);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/ca", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/known", dir);
	rmdir(path);
	rmdir(dir);
	free(text);
	free(out);
}

/* ---- brute-force cross-check against a naive linear matcher ---- */

#define R_RULES		40
#define R_ITEMS		3
#define R_LISTS		2
#define R_TEXT		(96 * 1024)
#define R_CRIT		11	/* sni .. tls_version, cert_cn, cert_san, cert_issuer */

enum { NO, YES, UNK };

struct r_pfx {
	uint8_t family, len;
	uint8_t b[16];
};

struct r_rule {
	uint32_t has;		/* PS_POL_F_* */
	char sni[R_ITEMS][40];	/* patterns, or "@lN" */
	char cn[R_ITEMS][40], san[R_ITEMS][40];	/* the same, cert_cn, cert_san */
	int iss[R_ITEMS];	/* r_issuers */
	struct r_pfx src[R_ITEMS], dst[R_ITEMS];
	uint16_t plo[R_ITEMS], phi[R_ITEMS], vlan[R_ITEMS];
	int seg[R_ITEMS], alpn[R_ITEMS];
	int n[R_CRIT];		/* items per criterion, order of "match" keys */
	uint32_t versions;
	int action;
	bool log;
	bool shadow;
};

struct r_pol {
	struct r_rule rules[R_RULES];
	int n_rules;
	char lists[R_LISTS][R_ITEMS][40];
	int n_list[R_LISTS];
	int dflt;
	bool shadow;		/* the whole policy */
};

static const char *const r_labels[] = { "a", "b", "c" };
static const char *const r_segs[] = { "seg0", "seg1", "seg2", "seg3" };
static const char *const r_alpns[] = { "h2", "http/1.1", "x" };
static const char *const r_actions[] = { "decrypt", "bypass", "reject", "drop" };
/* issuer elements: a CN, or a DN (with '=') */
static const char *const r_issuers[] = {
	"Example CA", "CN=Example CA,O=Example,C=US", "other ca", "CN=Other,O=X",
};

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
	rp->shadow = rnd(10) == 0;
	for (i = 0; i < rp->n_rules; i++) {
		struct r_rule *r = &rp->rules[i];

		r->action = (int)rnd(4);
		r->log = rnd(2);
		r->shadow = rnd(5) == 0;
		for (k = 0; k < R_CRIT; k++) {
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
				case 7:
					r->versions |= 1u << rnd(4);
					break;
				case 8:
					r_pattern(r->cn[j], sizeof(r->cn[j]));
					break;
				case 9:
					if (rnd(5) == 0)
						snprintf(r->san[j], sizeof(r->san[j]), "@l%u",
							 rnd(R_LISTS));
					else
						r_pattern(r->san[j], sizeof(r->san[j]));
					break;
				default:
					r->iss[j] = (int)rnd(4);
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
		"cert_cn", "cert_san", "cert_issuer",
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

		emit(t, "%s{\"name\":\"r%d\",\"action\":\"%s\",\"log\":%s,\"shadow\":%s,"
		     "\"match\":{", i ? "," : "", i, r_actions[r->action],
		     r->log ? "true" : "false", r->shadow ? "true" : "false");
		for (k = 0, j = 0; k < R_CRIT; k++) {
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
				case 8:
					emit(t, "\"%s\"", r->cn[m]);
					break;
				case 9:
					emit(t, "\"%s\"", r->san[m]);
					break;
				case 10:
					emit(t, "\"%s\"", r_issuers[r->iss[m]]);
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
	emit(t, "],\"shadow\":%s,\"default\":{\"action\":\"%s\"}}",
	     rp->shadow ? "true" : "false", r_actions[rp->dflt]);
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

/* A pattern or "@lN" of rp against name (NULL: matches nothing). */
static bool
naive_pat_or_list(const struct r_pol *rp, const char *pat, const char *name)
{
	int l, m;

	if (name == NULL)
		return false;
	if (pat[0] != '@')
		return naive_pattern(pat, name);
	l = pat[2] - '0';
	for (m = 0; m < rp->n_list[l]; m++) {
		if (naive_pattern(rp->lists[l][m], name))
			return true;
	}
	return false;
}

/*
 * A certificate name normalised into out (lower case, no trailing dot),
 * or NULL when it is not a host name or "*." and a host name.
 */
static const char *
naive_cert_name(const char *s, char *out, size_t len)
{
	size_t n, i, label = 0, start;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= len)
		return NULL;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	start = strncmp(out, "*.", 2) == 0 ? 2 : 0;
	if (n - start > 253 || n == start)
		return NULL;
	for (i = start; i < n; i++) {
		if (out[i] == '.') {
			if (label == 0)
				return NULL;
			label = 0;
		} else if (!(islower((unsigned char)out[i]) || isdigit((unsigned char)out[i]) ||
			     out[i] == '-' || out[i] == '_') || ++label > 63) {
			return NULL;
		}
	}
	return label > 0 ? out : NULL;
}

/* Any pattern of pats[0..n) against any certificate name of names[0..nn). */
static bool
naive_cert_names(const struct r_pol *rp, const char (*pats)[40], int n,
		 const char *const *names, unsigned int nn)
{
	char buf[300];
	unsigned int a;
	int j;

	for (a = 0; a < nn; a++) {
		const char *name = naive_cert_name(names[a], buf, sizeof(buf));

		for (j = 0; j < n; j++) {
			if (naive_pat_or_list(rp, pats[j], name))
				return true;
		}
	}
	return false;
}

static bool
naive_crit(const struct r_pol *rp, const struct r_rule *r, int k,
	   const struct ps_pol_query *q, const char *name)
{
	int j;
	unsigned int a;

	if (k == 0 && name == NULL) {
		/* no SNI: the certificate's DNS names, else its CN */
		if (q->n_cert_san > 0)
			return naive_cert_names(rp, r->sni, r->n[0], q->cert_san,
						q->n_cert_san);
		return naive_cert_names(rp, r->sni, r->n[0], &q->cert_cn, 1);
	}
	if (k == 8)
		return naive_cert_names(rp, r->cn, r->n[8], &q->cert_cn, 1);
	if (k == 9)
		return naive_cert_names(rp, r->san, r->n[9], q->cert_san, q->n_cert_san);
	for (j = 0; j < r->n[k]; j++) {
		switch (k) {
		case 0:
			if (naive_pat_or_list(rp, r->sni[j], name))
				return true;
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
		case 7:
			return (q->tls_versions & r->versions) != 0;
		default: {
			const char *is = r_issuers[r->iss[j]];
			const char *qv = strchr(is, '=') != NULL ? q->cert_issuer :
					 q->cert_issuer_cn;

			if (qv != NULL && strcasecmp(qv, is) == 0)
				return true;
			break;
		}
		}
	}
	return false;
}

/* Whether q knows what criterion k of a rule needs. */
static bool
naive_known(const struct ps_pol_query *q, int k)
{
	if (k >= 8)
		return (q->known & PS_POL_F_CERT) != 0;
	if (!(q->known & (1u << k)))
		return false;
	return k != 0 || q->sni != NULL || (q->known & PS_POL_F_CERT);
}

/*
 * The first deciding rule among rules[0..end) that are shadow (shadow
 * true) or not: its id and action (PS_POL_UNDECIDED when a rule needing
 * an unknown field comes first), or false when none.
 */
static bool
naive_first(const struct r_pol *rp, const int *res, int end, bool shadow,
	    uint32_t *id, int *action)
{
	int i;

	for (i = 0; i < end; i++) {
		if (rp->rules[i].shadow != shadow && !rp->shadow)
			continue;
		if (res[i] == UNK) {
			*id = (uint32_t)i;
			*action = PS_POL_UNDECIDED;
			return true;
		}
		if (res[i] == YES) {
			*id = (uint32_t)i;
			*action = rp->rules[i].action;
			return true;
		}
	}
	return false;
}

/*
 * rule_id and action of the enforced verdict, PS_POL_UNDECIDED included,
 * and of the shadow one (*s_id UINT32_MAX: none).
 */
static void
naive_eval(const struct r_pol *rp, const struct ps_pol_query *q, uint32_t *id,
	   int *action, uint32_t *s_id, int *s_action)
{
	char name[300];
	const char *np = NULL;
	int i, k, res[R_RULES];
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

		res[i] = YES;
		for (k = 0; k < R_CRIT && res[i] != NO; k++) {
			if (!(r->has & (1u << k)))
				continue;
			if (!naive_known(q, k))
				res[i] = UNK;
			else if (!naive_crit(rp, r, k, q, np))
				res[i] = NO;
		}
	}
	*s_id = UINT32_MAX;
	*s_action = -1;
	if (!naive_first(rp, res, rp->n_rules, false, id, action)) {
		*id = PS_POL_RULE_DEFAULT;
		*action = rp->dflt;
	}
	if (!rp->shadow)
		naive_first(rp, res, *id == PS_POL_RULE_DEFAULT ? rp->n_rules : (int)*id,
			    true, s_id, s_action);
}

static void
test_random_cross_check(void **state)
{
	static struct r_pol rp;
	static char text[R_TEXT];
	static const char *alpn[3];
	static const char *const cnames[] = {
		"a.ex", "B.a.EX.", "*.a.ex", "*.ex", "c.b.a.ex", "bad name", "a..ex", "ex",
	};
	static const char *const icn[] = { "example ca", "Other CA", "nobody", NULL };
	static const char *const idn[] = {
		"cn=example ca,o=example,c=us", "CN=Other,O=X", "CN=Example CA", NULL,
	};
	const char *san[4];
	const struct ps_pol_verdict *v, *sv;
	struct ps_pol_errors errs;
	struct r_text t;
	struct ps_pol *pol;
	struct ps_pol_query q;
	char sni[64], upper[64];
	int round, i, action, s_action, matched = 0, undecided = 0, shadowed = 0;
	int by_cert = 0;
	uint32_t id, s_id;
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
				q.known = rnd(512);
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
			q.cert_cn = rnd(4) == 0 ? NULL : cnames[rnd(8)];
			q.n_cert_san = rnd(4);
			for (k = 0; k < q.n_cert_san; k++)
				san[k] = cnames[rnd(8)];
			q.cert_san = san;
			q.cert_issuer_cn = icn[rnd(4)];
			q.cert_issuer = idn[rnd(4)];
			naive_eval(&rp, &q, &id, &action, &s_id, &s_action);
			v = ps_pol_eval_ex(pol, &q, &sv);
			if (v->rule_id != id || (int)v->action != action)
				fail_msg("round %d query %d: eval rule %u action %d, naive rule "
					 "%u action %d\n%s", round, i, v->rule_id, v->action,
					 id, action, t.p);
			if ((sv == NULL) != (s_id == UINT32_MAX) ||
			    (sv != NULL && (sv->rule_id != s_id || (int)sv->action != s_action)))
				fail_msg("round %d query %d: shadow rule %d, naive %d\n%s", round,
					 i, sv != NULL ? (int)sv->rule_id : -1, (int)s_id, t.p);
			assert_true(v->shadow == (rp.shadow || (v->rule_id != PS_POL_RULE_DEFAULT &&
								  rp.rules[v->rule_id].shadow)));
			assert_true(sv == NULL || sv->shadow);
			assert_ptr_equal(ps_pol_eval(pol, &q), v);
			matched += id != PS_POL_RULE_DEFAULT && action != PS_POL_UNDECIDED;
			undecided += action == PS_POL_UNDECIDED;
			shadowed += sv != NULL;
			by_cert += q.sni == NULL && id != PS_POL_RULE_DEFAULT &&
				   action != PS_POL_UNDECIDED && (rp.rules[id].has & 1u);
		}
		ps_pol_free(pol);
	}
	/* the generator must exercise both outcomes, or the check proves little */
	assert_true(matched > 1000);
	assert_true(undecided > 100);
	assert_true(shadowed > 100);
	assert_true(by_cert > 10);
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
		cmocka_unit_test(test_cert_criteria),
		cmocka_unit_test(test_sni_from_cert),
		cmocka_unit_test(test_shadow_rules),
		cmocka_unit_test(test_rule_options),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_version_hash),
		cmocka_unit_test(test_load_full_example),
		cmocka_unit_test(test_random_cross_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
