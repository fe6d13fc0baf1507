/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness for the appliance configuration loader.
 *
 * Any bytes go to ps_config_parse(). An accepted config must satisfy the
 * invariants the data plane relies on without checking (port counts, peer
 * links, ranges, terminated strings); a refused one must come with a single
 * terminated line, and a shorter error buffer must get a prefix of it.
 *
 * Seeds: tests/fuzz/corpus/config/ and docs/examples/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_config.h"

#define CHECK(cond)			\
	do {				\
		if (!(cond))		\
			abort();	\
	} while (0)

#define ERR_LEN		512

static bool
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool
one_line(const char *err, size_t size)
{
	size_t i, n;

	if (!terminated(err, size))
		return false;
	n = strlen(err);
	for (i = 0; i < n; i++) {
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			return false;
	}
	return true;
}

static void
check_port(const struct ps_config *cfg, unsigned int i)
{
	const struct ps_port_cfg *p = &cfg->ports[i];
	const struct ps_port_cfg *q;
	unsigned int j;

	CHECK(terminated(p->name, sizeof(p->name)) && p->name[0] != '\0');
	CHECK(terminated(p->device, sizeof(p->device)) && p->device[0] != '\0');
	CHECK(terminated(p->group, sizeof(p->group)));
	CHECK(p->mtu >= 68 && p->mtu <= 9600);
	CHECK(ps_config_port_index(cfg, p->name) == (int)i);
	for (j = 0; j < i; j++)
		CHECK(strcmp(cfg->ports[j].device, p->device) != 0);

	switch (p->role) {
	case PS_ROLE_TOOL_OOB:
		CHECK(p->side == 0);
		CHECK(p->peer == PS_PEER_NONE);
		CHECK(p->group[0] == '\0');
		break;
	case PS_ROLE_NET:
	case PS_ROLE_TOOL_INLINE:
		CHECK(p->side == 'a' || p->side == 'b');
		CHECK(p->group[0] != '\0');
		CHECK(p->peer < cfg->n_ports && p->peer != i);
		q = &cfg->ports[p->peer];
		CHECK(q->role == p->role);
		CHECK(q->peer == i);
		CHECK(q->side != p->side);
		CHECK(strcmp(q->group, p->group) == 0);
		break;
	default:
		CHECK(0);
	}
}

static void
check_config(const struct ps_config *cfg)
{
	unsigned int i, j, n_net = 0;

	CHECK(terminated(cfg->path, sizeof(cfg->path)));
	CHECK(cfg->main_lcore < PS_LCORE_MAX);
	CHECK(cfg->n_workers >= 1 && cfg->n_workers <= PS_WORKERS_MAX);
	for (i = 0; i < cfg->n_workers; i++) {
		CHECK(cfg->workers[i] < PS_LCORE_MAX);
		CHECK(cfg->workers[i] != cfg->main_lcore);
		for (j = 0; j < i; j++)
			CHECK(cfg->workers[j] != cfg->workers[i]);
	}

	CHECK(cfg->memory_mb >= 64);
	CHECK(terminated(cfg->file_prefix, sizeof(cfg->file_prefix)) &&
	      cfg->file_prefix[0] != '\0');
	CHECK(cfg->n_eal_args <= PS_EAL_ARGS_MAX);
	for (i = 0; i < cfg->n_eal_args; i++)
		CHECK(terminated(cfg->eal_args[i], PS_EAL_ARG_LEN) &&
		      cfg->eal_args[i][0] != '\0');
	CHECK(cfg->mbufs >= 1023 && cfg->mbufs <= 16777215);
	CHECK(cfg->mbuf_data_size >= 1024 && cfg->mbuf_data_size <= 65535);
	CHECK(cfg->mbuf_cache <= 512 && cfg->mbuf_cache * 3 <= cfg->mbufs * 2);

	CHECK(cfg->n_ports >= 2 && cfg->n_ports <= PS_PORTS_MAX);
	for (i = 0; i < cfg->n_ports; i++) {
		check_port(cfg, i);
		if (cfg->ports[i].role == PS_ROLE_NET)
			n_net++;
	}
	CHECK(n_net >= 2);

	CHECK(cfg->rx_desc >= 64 && cfg->rx_desc <= 16384);
	CHECK(cfg->tx_desc >= 64 && cfg->tx_desc <= 16384);
	CHECK(cfg->burst >= 1 && cfg->burst <= 256);
	CHECK(cfg->max_flows >= 1 && cfg->max_flows <= 16777216);
	CHECK(cfg->malformed == PS_MALFORMED_FORWARD ||
	      cfg->malformed == PS_MALFORMED_DROP);
	CHECK(terminated(cfg->socket_path, sizeof(cfg->socket_path)) &&
	      cfg->socket_path[0] == '/');
	CHECK(cfg->log_level <= PS_LOG_DEBUG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * libFuzzer entry point: data/size are borrowed for the call. Returns 0;
 * a broken invariant aborts, which libFuzzer reports with the input.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ps_config cfg;
	char err[ERR_LEN], small[ERR_LEN];
	size_t small_len = 1 + size % 64;
	int rc;

	rc = ps_config_parse((const char *)data, size, "fuzz.json", &cfg, err,
			     sizeof(err));
	if (rc == 0) {
		CHECK(err[0] == '\0');
		check_config(&cfg);
		return 0;
	}
	CHECK(rc < 0);
	CHECK(one_line(err, sizeof(err)) && err[0] != '\0');

	/* a short buffer gets a terminated prefix of the same line */
	memset(small, 'X', sizeof(small));
	CHECK(ps_config_parse((const char *)data, size, "fuzz.json", &cfg,
			      small, small_len) == rc);
	CHECK(one_line(small, small_len));
	CHECK(strncmp(small, err, strlen(small)) == 0);
	CHECK(small[small_len] == 'X');
	return 0;
}
