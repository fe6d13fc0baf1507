/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the traffic policy compiler (policy/).
 *
 * Any bytes go to ps_pol_compile(). A refused policy must come with at
 * least one message, each a single terminated line naming the file. An
 * accepted one is evaluated with queries built from the input's own
 * bytes (names, addresses, ports), with every field known and with none,
 * and each verdict must be coherent: a rule of the policy or the default.
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
	CHECK(v != NULL && v->rule != NULL);
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
	struct ps_pol_query q;
	char name[300];
	size_t i, n, off = 0;
	unsigned int k;

	for (k = 0; k < 4; k++) {
		memset(&q, 0, sizeof(q));
		q.known = k == 3 ? (size > 0 ? data[0] : 0u) : 0xffffffffu;
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
		check_verdict(pol, ps_pol_eval(pol, &q), q.known);
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
	evaluate(pol, data, size);
	ps_pol_free(pol);
	return 0;
}
