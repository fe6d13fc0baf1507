/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the traffic policy compiler (policy/).
 *
 * Any bytes go to ps_pol_compile(). A refused policy must come with at
 * least one message, each a single terminated line naming the file. An
 * accepted one is evaluated with queries built from the input's own
 * bytes (names, addresses, ports, certificate names and issuers), with
 * every field known and with some, by ps_pol_eval_ex(): each verdict must
 * be coherent (a rule of the policy or the default), the shadow one a
 * shadow rule before the enforced one, and the accessors must agree.
 *
 * Seeds: tests/fuzz/corpus/policy/ and docs/examples/policy.json.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_policy.h"

#define CHECK(cond)			\
	do {				\
		if (!(cond))		\
			abort();	\
	} while (0)

static void
check_errors(const struct ps_pol_errors *errs)
{
	unsigned int i;
	size_t j, n;

	CHECK(errs->n >= 1 && errs->n <= PS_POL_ERRORS_MAX);
	for (i = 0; i < errs->n; i++) {
		CHECK(memchr(errs->msg[i], '\0', PS_POL_ERROR_LEN) != NULL);
		n = strlen(errs->msg[i]);
		CHECK(strncmp(errs->msg[i], "fuzz.json", 9) == 0);
		for (j = 0; j < n; j++)
			CHECK((unsigned char)errs->msg[i][j] >= 0x20 && errs->msg[i][j] != 0x7f);
	}
}

static void
check_verdict(const struct ps_pol *pol, const struct ps_pol_verdict *v,
	      uint32_t known)
{
	unsigned int i;

	CHECK(v != NULL && v->rule != NULL);
	CHECK(v->profile < ps_pol_n_profiles(pol));
	CHECK(v->on_invalid_cert <= PS_POL_INVALID_BYPASS);
	CHECK(v->tools_set || v->n_tools == 0);
	for (i = 0; i < v->n_tools; i++)
		CHECK(ps_pol_tool(pol, v->tools[i]) != NULL);
	CHECK(ps_pol_rule(pol, v->rule_id) != NULL);
	CHECK(strcmp(ps_pol_rule(pol, v->rule_id)->rule, v->rule) == 0);
	if (v->rule_id == PS_POL_RULE_DEFAULT) {
		CHECK(strcmp(v->rule, "default") == 0);
		CHECK(v->action != PS_POL_UNDECIDED);
		return;
	}
	CHECK(v->rule_id < ps_pol_n_rules(pol));
	CHECK(v->action <= PS_POL_UNDECIDED);
	/* with every field known, nothing can wait for one */
	if (known == 0xffffffffu)
		CHECK(v->action != PS_POL_UNDECIDED);
}

/* Queries from the input: its printable runs as names, its bytes as addresses. */
static void
evaluate(const struct ps_pol *pol, const uint8_t *data, size_t size)
{
	static const char *const alpn[] = { "h2", "http/1.1" };
	const struct ps_pol_verdict *v, *sv;
	const char *san[2];
	struct ps_pol_query q;
	char name[300];
	size_t i, n, off = 0;
	unsigned int k;

	for (k = 0; k < 4; k++) {
		memset(&q, 0, sizeof(q));
		q.known = k == 3 ? (size > 1 ? data[0] | (uint32_t)data[1] << 8 : 0u) :
			  0xffffffffu;
		/* the next run of name characters */
		while (off < size && !(data[off] > 0x20 && data[off] < 0x7f && data[off] != '"'))
			off++;
		for (n = 0; off < size && n < sizeof(name) - 1 && data[off] > 0x20 &&
			    data[off] < 0x7f && data[off] != '"'; off++)
			name[n++] = (char)data[off];
		name[n] = '\0';
		q.sni = k == 2 ? NULL : name;
		q.sni_len = n;
		q.src.family = (k & 1) ? 6 : 4;
		q.dst.family = (k & 1) ? 4 : 6;
		for (i = 0; i < 16 && i < size; i++) {
			q.src.bytes[i] = data[(off + i) % size];
			q.dst.bytes[i] = data[(off + 2 * i) % size];
		}
		q.dst_port = size >= 2 ? (uint16_t)(data[size - 1] | data[size - 2] << 8) : 443;
		q.vlan = (uint16_t)(size % 4096);
		q.segment = "seg0";
		q.alpn = alpn;
		q.n_alpn = k % 3;
		q.tls_versions = k == 0 ? 0 : (uint32_t)(size & 15);
		/* the same name as certificate names and issuer, in turns */
		san[0] = name;
		san[1] = "*.example";
		q.cert_san = san;
		q.n_cert_san = k % 3;
		q.cert_cn = k == 1 ? NULL : name;
		q.cert_issuer_cn = k & 1 ? name : NULL;
		q.cert_issuer = k & 2 ? name : NULL;
		v = ps_pol_eval_ex(pol, &q, &sv);
		check_verdict(pol, v, q.known);
		CHECK(ps_pol_eval(pol, &q) == v);
		CHECK(!v->shadow || ps_pol_is_shadow(pol));
		if (sv != NULL) {
			check_verdict(pol, sv, q.known);
			CHECK(sv->shadow && !ps_pol_is_shadow(pol));
			CHECK(sv->rule_id < v->rule_id);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * libFuzzer entry point: data/size are borrowed for the call. Returns 0;
 * a broken invariant aborts, which libFuzzer reports with the input.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ps_pol_errors errs;
	struct ps_pol *pol = NULL;
	int rc;

	rc = ps_pol_compile((const char *)data, size, "fuzz.json", &pol, &errs);
	if (rc != 0) {
		CHECK(pol == NULL);
		check_errors(&errs);
		return 0;
	}
	CHECK(pol != NULL);
	CHECK(strlen(ps_pol_hash(pol)) == 64);
	CHECK(strlen(ps_pol_version(pol)) < 64);
	CHECK(ps_pol_n_profiles(pol) >= 1);
	CHECK(strcmp(ps_pol_profile(pol, 0)->name, "default") == 0);
	CHECK(ps_pol_settings(pol) != NULL);
	evaluate(pol, data, size);
	ps_pol_free(pol);
	return 0;
}
