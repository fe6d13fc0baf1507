/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests of the appliance configuration loader (dataplane/conf).
 *
 * Runs with tests/unit as its working directory: fixtures are read from
 * configs/ and the documented examples from ../../docs/examples/.
 *
 * Inline configs are written with single quotes for readability; jq()
 * turns them into JSON before parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_config.h"

#define DOCS		"../../docs/examples/"
#define ERR_LEN		512

/* A valid config: one segment on two net_ring ports, everything else default. */
#define LC		"'lcores':{'main':0,'workers':[1]}"
#define NET_A		"{'name':'net-a','device':'net_ring0','role':'net','segment':'seg0','side':'a'}"
#define NET_B		"{'name':'net-b','device':'net_ring1','role':'net','segment':'seg0','side':'b'}"
#define MINIMAL		"{" LC ",'ports':[" NET_A "," NET_B "]}"
/* MINIMAL plus more top-level members */
#define CFG(extra)	"{" LC ",'ports':[" NET_A "," NET_B "]" extra "}"
/* MINIMAL with other ports */
#define CFG_PORTS(p)	"{" LC ",'ports':[" p "]}"
/* a port with the given name, device and role-specific members */
#define PORT(name, dev, rest) \
	"{'name':'" name "','device':'" dev "'," rest "}"
#define NET(seg, side)	"'role':'net','segment':'" seg "','side':'" side "'"

/* The inline config s with ' turned into ", in a buffer the caller frees. */
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
parse(const char *inline_json, struct ps_config *cfg, char *err, size_t errlen)
{
	char *text = jq(inline_json);
	int rc;

	rc = ps_config_parse(text, strlen(text), "t.json", cfg, err, errlen);
	free(text);
	return rc;
}

/* ---- valid configs ---- */

static void
test_defaults(void **state)
{
	struct ps_config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	ps_config_defaults(&cfg);
	assert_int_equal(cfg.memory_mb, 512);
	assert_true(cfg.hugepages);
	assert_string_equal(cfg.file_prefix, "plainsight");
	assert_int_equal(cfg.n_eal_args, 0);
	assert_int_equal(cfg.mbufs, 8191);
	assert_int_equal(cfg.mbuf_data_size, 2176);
	assert_int_equal(cfg.mbuf_cache, 256);
	assert_int_equal(cfg.n_ports, 0);
	assert_int_equal(cfg.n_workers, 0);
	assert_int_equal(cfg.rx_desc, 1024);
	assert_int_equal(cfg.tx_desc, 1024);
	assert_int_equal(cfg.burst, 32);
	assert_int_equal(cfg.max_flows, 65536);
	assert_int_equal(cfg.malformed, PS_MALFORMED_FORWARD);
	assert_string_equal(cfg.socket_path, "/run/plainsight/dp.sock");
	assert_int_equal(cfg.log_level, PS_LOG_INFO);
	assert_int_equal(cfg.n_intercept_ports, 0);
	assert_int_equal(cfg.overflow, PS_OVERFLOW_DROP);
	assert_int_equal(cfg.flow_idle_timeout_s, 3600);
	assert_int_equal(cfg.tcp_syn_retries, 5);
	assert_int_equal(cfg.tcp_data_retries, 8);
	assert_int_equal(cfg.tcp_snd_buf_kb, 256);
	assert_int_equal(cfg.tcp_rcv_buf_kb, 256);
	assert_int_equal(cfg.tcp_time_wait_ms, 2000);
}

/* The intercept selector: ports kept in order, overflow and idle timeout. */
static void
test_intercept(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	if (parse(CFG(",'intercept':{'tcp_ports':[443,8443,1,65535],"
		      "'overflow':'drop','idle_timeout_s':86400}"),
		  &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.n_intercept_ports, 4);
	assert_int_equal(cfg.intercept_ports[0], 443);
	assert_int_equal(cfg.intercept_ports[1], 8443);
	assert_int_equal(cfg.intercept_ports[3], 65535);
	assert_int_equal(cfg.overflow, PS_OVERFLOW_DROP);
	assert_int_equal(cfg.flow_idle_timeout_s, 86400);
	if (parse(CFG(",'tcp':{'syn_retries':0,'data_retries':15,'snd_buf_kb':16,"
		      "'rcv_buf_kb':16384,'time_wait_ms':0}"), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.tcp_syn_retries, 0);
	assert_int_equal(cfg.tcp_data_retries, 15);
	assert_int_equal(cfg.tcp_rcv_buf_kb, 16384);
	if (parse(CFG(",'intercept':{'tcp_ports':[]}"), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.n_intercept_ports, 0);
	assert_int_equal(cfg.n_starttls_ports, 5);
	assert_int_equal(cfg.starttls_ports[0], 25);
	if (parse(CFG(",'intercept':{'starttls_ports':[2525]}"), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.n_starttls_ports, 1);
	assert_int_equal(cfg.starttls_ports[0], 2525);
}

/* rss: a symmetric key and every port's queues mapped to workers. */
static void
test_rss(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	if (parse(CFG(",'rss':{'key':'"
		      "3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a3c2a',"
		      "'queue_workers':[0,0,0]}"), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.rss_key_len, 40);
	assert_int_equal(cfg.rss_key[0], 0x3c);
	assert_int_equal(cfg.rss_key[39], 0x2a);
	assert_int_equal(cfg.n_rss_queues, 3);
	assert_int_equal(cfg.rss_queue_worker[2], 0);
	if (parse(MINIMAL, &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.rss_key_len, 0);
	assert_int_equal(cfg.n_rss_queues, 0);
	assert_int_equal(cfg.ports[0].hb_ms, 250);
	if (parse(CFG_PORTS(NET_A "," NET_B ","
			    PORT("ips-a", "net_ring2", "'role':'tool-inline','pair':'ips','side':'a',"
				 "'heartbeat_ms':100,'heartbeat_misses':3") ","
			    PORT("ips-b", "net_ring3", "'role':'tool-inline','pair':'ips','side':'b'")),
		  &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.ports[2].hb_ms, 100);
	assert_int_equal(cfg.ports[2].hb_misses, 3);
}

static void
test_minimal(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(MINIMAL, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(cfg.path, "t.json");
	assert_int_equal(cfg.main_lcore, 0);
	assert_int_equal(cfg.n_workers, 1);
	assert_int_equal(cfg.workers[0], 1);
	/* every optional section at its default */
	assert_int_equal(cfg.memory_mb, 512);
	assert_true(cfg.hugepages);
	assert_string_equal(cfg.file_prefix, "plainsight");
	assert_int_equal(cfg.n_eal_args, 0);
	assert_int_equal(cfg.mbufs, 8191);
	assert_int_equal(cfg.mbuf_data_size, 2176);
	assert_int_equal(cfg.mbuf_cache, 256);
	assert_int_equal(cfg.rx_desc, 1024);
	assert_int_equal(cfg.tx_desc, 1024);
	assert_int_equal(cfg.burst, 32);
	assert_int_equal(cfg.max_flows, 65536);
	assert_int_equal(cfg.malformed, PS_MALFORMED_FORWARD);
	assert_string_equal(cfg.socket_path, "/run/plainsight/dp.sock");
	assert_int_equal(cfg.log_level, PS_LOG_INFO);

	assert_int_equal(cfg.n_ports, 2);
	assert_string_equal(cfg.ports[0].name, "net-a");
	assert_string_equal(cfg.ports[0].device, "net_ring0");
	assert_false(cfg.ports[0].is_pci);
	assert_int_equal(cfg.ports[0].role, PS_ROLE_NET);
	assert_string_equal(cfg.ports[0].group, "seg0");
	assert_int_equal(cfg.ports[0].side, 'a');
	assert_int_equal(cfg.ports[0].peer, 1);
	assert_int_equal(cfg.ports[0].mtu, 1500);
	assert_string_equal(cfg.ports[1].name, "net-b");
	assert_string_equal(cfg.ports[1].device, "net_ring1");
	assert_int_equal(cfg.ports[1].side, 'b');
	assert_int_equal(cfg.ports[1].peer, 0);
	assert_int_equal(cfg.ports[1].mtu, 1500);
}

/* TLS interception settings and tool-port options. */
static void
test_tls(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	if (parse(CFG(""), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_false(cfg.tls.enabled);
	assert_true(cfg.tls.trust_system);
	assert_int_equal(cfg.ports[0].tool.mss, 0);
	if (parse(CFG_PORTS(NET_A "," NET_B "," PORT("t", "net_ring2", "'role':'tool-oob',"
			    "'tool':{'dport_rewrite':80,'vlan':42,'src_mac':'02:00:00:00:00:01',"
			    "'dst_mac':'aa:bb:cc:dd:ee:0f','mss':1200}")), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.ports[2].tool.dport_rewrite, 80);
	assert_true(cfg.ports[2].tool.has_vlan);
	assert_int_equal(cfg.ports[2].tool.vlan_tci, 42);
	assert_true(cfg.ports[2].tool.has_src_mac);
	assert_int_equal(cfg.ports[2].tool.src_mac[5], 1);
	assert_int_equal(cfg.ports[2].tool.dst_mac[0], 0xaa);
	assert_int_equal(cfg.ports[2].tool.dst_mac[5], 0x0f);
	assert_int_equal(cfg.ports[2].tool.mss, 1200);
	if (parse(CFG(",'tls':{'ca_cert':'/etc/ps/ca.crt','ca_key':'/etc/ps/ca.key',"
		      "'untrusted_ca_cert':'u.crt','untrusted_ca_key':'u.key',"
		      "'verify_failure':'resign-untrusted','trust_system':false,"
		      "'trust_bundle':'b.pem','session_cache':0,'session_timeout_s':60,"
		      "'forge_cache':100,'keylog_file':'/tmp/kl','bypass_ttl_s':0,"
		      "'bypass_pinned_clients':true}"), &cfg, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_true(cfg.tls.enabled);
	assert_string_equal(cfg.tls.ca_cert, "/etc/ps/ca.crt");
	assert_string_equal(cfg.tls.ca_key, "/etc/ps/ca.key");
	assert_string_equal(cfg.tls.untrusted_ca_key, "u.key");
	assert_int_equal(cfg.tls.verify_failure, PS_VERIFY_FAIL_RESIGN_UNTRUSTED);
	assert_false(cfg.tls.trust_system);
	assert_string_equal(cfg.tls.trust_bundle, "b.pem");
	assert_int_equal(cfg.tls.session_cache, 0);
	assert_int_equal(cfg.tls.session_timeout_s, 60);
	assert_int_equal(cfg.tls.forge_cache, 100);
	assert_string_equal(cfg.tls.keylog_file, "/tmp/kl");
	assert_int_equal(cfg.tls.bypass_ttl_s, 0);
	assert_true(cfg.tls.bypass_pinned_clients);
	assert_int_equal(cfg.sessions_keep, 10000);
	if (parse(CFG(",'sessions':{'keep':5,'log_file':'/var/log/ps.jsonl'}"), &cfg, err,
		  sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.sessions_keep, 5);
	assert_string_equal(cfg.sessions_log, "/var/log/ps.jsonl");
}

static void
test_docs_example(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];
	int rc;

	(void)state;
	rc = ps_config_load(DOCS "plainsight.json", &cfg, err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.path, DOCS "plainsight.json");
	assert_int_equal(cfg.main_lcore, 0);
	assert_int_equal(cfg.n_workers, 2);
	assert_int_equal(cfg.workers[0], 1);
	assert_int_equal(cfg.workers[1], 2);
	assert_int_equal(cfg.memory_mb, 1024);
	assert_false(cfg.hugepages);
	assert_string_equal(cfg.file_prefix, "plainsight");
	assert_int_equal(cfg.n_eal_args, 1);
	assert_string_equal(cfg.eal_args[0], "--log-level=pmd.net.af_packet:info");
	assert_int_equal(cfg.mbufs, 16383);
	assert_int_equal(cfg.mbuf_data_size, 2176);
	assert_int_equal(cfg.mbuf_cache, 256);

	assert_int_equal(cfg.n_ports, 3);
	assert_string_equal(cfg.ports[0].name, "net-a");
	assert_string_equal(cfg.ports[0].device, "net_af_packet0,iface=psa");
	assert_false(cfg.ports[0].is_pci);
	assert_int_equal(cfg.ports[0].role, PS_ROLE_NET);
	assert_string_equal(cfg.ports[0].group, "seg0");
	assert_int_equal(cfg.ports[0].side, 'a');
	assert_int_equal(cfg.ports[0].peer, 1);
	assert_int_equal(cfg.ports[0].mtu, 1500);
	assert_string_equal(cfg.ports[1].name, "net-b");
	assert_string_equal(cfg.ports[1].device, "net_af_packet1,iface=psb");
	assert_string_equal(cfg.ports[1].group, "seg0");
	assert_int_equal(cfg.ports[1].side, 'b');
	assert_int_equal(cfg.ports[1].peer, 0);
	assert_string_equal(cfg.ports[2].name, "tool");
	assert_string_equal(cfg.ports[2].device, "net_af_packet2,iface=pstool");
	assert_int_equal(cfg.ports[2].role, PS_ROLE_TOOL_OOB);
	assert_string_equal(cfg.ports[2].group, "");
	assert_int_equal(cfg.ports[2].side, 0);
	assert_int_equal(cfg.ports[2].peer, PS_PEER_NONE);
	assert_int_equal(cfg.ports[2].mtu, 9000);

	assert_int_equal(cfg.rx_desc, 1024);
	assert_int_equal(cfg.tx_desc, 1024);
	assert_int_equal(cfg.burst, 32);
	assert_int_equal(cfg.max_flows, 65536);
	assert_int_equal(cfg.malformed, PS_MALFORMED_FORWARD);
	assert_string_equal(cfg.socket_path, "/run/plainsight/dp.sock");
	assert_int_equal(cfg.log_level, PS_LOG_INFO);
}

static void
test_pci_example(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];
	int rc;

	(void)state;
	rc = ps_config_load(DOCS "pci.json", &cfg, err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(rc, 0);
	assert_int_equal(cfg.n_workers, 4);
	assert_int_equal(cfg.workers[3], 5);
	assert_int_equal(cfg.memory_mb, 2048);
	assert_true(cfg.hugepages);
	assert_int_equal(cfg.n_eal_args, 2);
	assert_string_equal(cfg.eal_args[0], "-n");
	assert_string_equal(cfg.eal_args[1], "4");
	assert_int_equal(cfg.mbufs, 131071);
	assert_int_equal(cfg.mbuf_cache, 512);
	assert_int_equal(cfg.n_ports, 5);
	assert_true(cfg.ports[0].is_pci);
	assert_string_equal(cfg.ports[0].device, "0000:3b:00.0");
	assert_int_equal(cfg.ports[0].peer, 1);
	assert_int_equal(cfg.ports[2].role, PS_ROLE_TOOL_INLINE);
	assert_string_equal(cfg.ports[2].group, "ips");
	assert_int_equal(cfg.ports[2].side, 'a');
	assert_int_equal(cfg.ports[2].peer, 3);
	assert_int_equal(cfg.ports[3].side, 'b');
	assert_int_equal(cfg.ports[3].peer, 2);
	assert_int_equal(cfg.ports[4].role, PS_ROLE_TOOL_OOB);
	assert_int_equal(cfg.ports[4].peer, PS_PEER_NONE);
	assert_int_equal(cfg.ports[4].mtu, 9000);
	assert_int_equal(cfg.rx_desc, 4096);
	assert_int_equal(cfg.burst, 64);
	assert_int_equal(cfg.max_flows, 1048576);
	assert_int_equal(cfg.malformed, PS_MALFORMED_DROP);
	assert_int_equal(cfg.log_level, PS_LOG_NOTICE);
}

/* "#" keys are comments at every level, whatever their value. */
static void
test_comments(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(ps_config_load("configs/comments.json", &cfg, err,
					sizeof(err)), 0);
	assert_int_equal(cfg.main_lcore, 2);
	assert_int_equal(cfg.n_workers, 2);
	assert_int_equal(cfg.workers[1], 4);
	assert_false(cfg.hugepages);
	assert_int_equal(cfg.ports[1].mtu, 1500);
	assert_int_equal(cfg.log_level, PS_LOG_WARNING);
}

/* Every range bound and enum value that must be accepted. */
static void
test_accepted_values(void **state)
{
	static const char *const ok[] = {
		"{'lcores':{'main':127,'workers':[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,126]},"
		"'ports':[" NET_A "," NET_B "]}",
		CFG(",'eal':{'memory_mb':64,'file_prefix':'" /* 63 */
		    "a23456789b123456789c123456789d123456789e123456789f123456789g12'}"),
		CFG(",'eal':{'args':['-n','4','--in-memory','--log-level=lib.eal:debug',"
		    "'-v','--huge-dir=/mnt/huge','--iova-mode=va','--no-hpet',"
		    "'--trace=lib.eal.*','--socket-limit=2048']}"),
		CFG(",'mempool':{'mbufs':1023,'mbuf_data_size':1024,'cache':0}"),
		CFG(",'mempool':{'mbufs':16777215,'mbuf_data_size':65535,'cache':512}"),
		CFG(",'limits':{'rx_desc':64,'tx_desc':16384,'burst':1,'max_flows':1}"),
		CFG(",'limits':{'rx_desc':16384,'tx_desc':64,'burst':256,'max_flows':16777216}"),
		CFG(",'bridge':{'malformed':'drop'},'log':{'level':'debug'}"),
		CFG(",'control':{'socket':'/s'}"),
		CFG(",'control':{'socket':'/" /* 107 bytes */
		    "23456789a123456789b123456789c123456789d123456789e"
		    "123456789f123456789g123456789h123456789i123456789j1234567'}"),
		CFG_PORTS(PORT("a", "net_pcap0,rx_pcap=/tmp/in.pcap,tx_pcap=/tmp/out.pcap",
			       "'mtu':68," NET("s", "a")) ","
			  PORT("b", "net_memif0,role=server,socket=/run/memif.sock,socket-abstract=no",
			       "'mtu':9600," NET("s", "b"))),
		CFG_PORTS(PORT("a", "3b:00.0", NET("s", "a")) ","
			  PORT("b", "0000:3B:1f.7,representor=[0,1]", NET("s", "b"))),
		/* two segments, given in any order */
		CFG_PORTS(PORT("a1", "net_ring0", NET("s1", "a")) ","
			  PORT("b2", "net_ring1", NET("s2", "b")) ","
			  PORT("b1", "net_ring2", NET("s1", "b")) ","
			  PORT("a2", "net_ring3", NET("s2", "a"))),
	};
	struct ps_config cfg;
	char err[ERR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse(ok[i], &cfg, err, sizeof(err)) != 0)
			fail_msg("config %zu refused: %s", i, err);
	}
	/* the last one: peers cross over */
	assert_int_equal(cfg.ports[0].peer, 2);
	assert_int_equal(cfg.ports[2].peer, 0);
	assert_int_equal(cfg.ports[1].peer, 3);
	assert_int_equal(cfg.ports[3].peer, 1);
}

static void
test_pci_devices(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(CFG_PORTS(PORT("a", "3b:00.0", NET("s", "a")) ","
					 PORT("b", "net_ring0", NET("s", "b"))),
			       &cfg, err, sizeof(err)), 0);
	assert_true(cfg.ports[0].is_pci);
	/* kept as written: DPDK accepts the short form itself */
	assert_string_equal(cfg.ports[0].device, "3b:00.0");
	assert_false(cfg.ports[1].is_pci);
}

/* ---- refused configs ---- */

struct bad_case {
	const char *name;
	const char *json;	/* inline, single-quoted, or NULL */
	const char *file;	/* fixture under tests/unit, or NULL */
	int rc;
	const char *want;	/* the exact error line */
};

#define BAD(n, j, w)		{ n, j, NULL, -EINVAL, w }
#define BAD_FILE(n, f, rc, w)	{ n, NULL, f, rc, w }

static struct bad_case bad_cases[] = {
	/* files and syntax */
	BAD_FILE("unreadable", "configs/does-not-exist.json", -ENOENT,
		 "configs/does-not-exist.json: cannot read: No such file or directory"),
	BAD_FILE("directory", "configs", -EISDIR,
		 "configs: cannot read: Is a directory"),
	BAD_FILE("empty", "configs/empty.json", -EINVAL,
		 "configs/empty.json:1:0: invalid JSON: '[' or '{' expected near end of file"),
	BAD_FILE("syntax", "configs/bad-syntax.json", -EINVAL,
		 "configs/bad-syntax.json:5:2: invalid JSON: string or '}' expected near '}'"),
	BAD_FILE("duplicate_key", "configs/duplicate-key.json", -EINVAL,
		 "configs/duplicate-key.json:3:51: invalid JSON: duplicate object key near '\"burst\"'"),
	BAD("trailing_garbage", MINIMAL " x",
	    "t.json:1:205: invalid JSON: end of file expected near 'x'"),
	BAD("top_level_array", "[]",
	    "t.json: top level: expected an object, found an empty array"),
	BAD("nul_in_string", CFG(",'log':{'level':'in\\u0000fo'}"),
	    "t.json:1:230: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"in\\u0000fo\"'"),

	/* keys */
	BAD("unknown_top_key", CFG(",'colour':'blue'"),
	    "t.json: colour: unknown key (expected one of: lcores, eal, mempool, ports, rss, limits, bridge, intercept, tcp, tls, sessions, recording, control, log)"),
	BAD("unknown_eal_key", CFG(",'eal':{'memory_mb':512,'colour':1}"),
	    "t.json: eal.colour: unknown key (expected one of: memory_mb, hugepages, file_prefix, args)"),
	BAD("unknown_port_key",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", NET("seg0", "b") ",'speed':10")),
	    "t.json: ports[1].speed: unknown key (expected one of: name, device, role, segment, pair, side, mtu, tool, heartbeat_ms, heartbeat_misses)"),
	BAD("tls_without_ca", CFG(",'tls':{'keylog_file':'/tmp/k'}"),
	    "t.json: tls: missing required key \"ca_cert\""),
	BAD("tls_empty_path", CFG(",'tls':{'ca_cert':''}"),
	    "t.json: tls.ca_cert: expected a file path, found \"\""),
	BAD("tls_bad_action", CFG(",'tls':{'ca_cert':'c','verify_failure':'ignore'}"),
	    "t.json: tls.verify_failure: expected one of \"reject\", \"resign-untrusted\", found \"ignore\""),
	BAD("tls_resign_without_ca", CFG(",'tls':{'ca_cert':'c','verify_failure':'resign-untrusted'}"),
	    "t.json: tls.verify_failure: \"resign-untrusted\" needs untrusted_ca_cert"),
	BAD("tls_no_anchor", CFG(",'tls':{'ca_cert':'c','trust_system':false}"),
	    "t.json: tls: no trust anchors for upstream servers: set trust_system or trust_bundle"),
	BAD("starttls_21_ports", CFG(",'intercept':{'starttls_ports':[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}"),
	    "t.json: intercept.starttls_ports: expected at most 20 StartTLS ports, found 21"),
	BAD("sessions_keep_zero", CFG(",'sessions':{'keep':0}"),
	    "t.json: sessions.keep: expected an integer 1..10000000, found 0"),
	BAD("tool_on_net_port",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", NET("seg0", "b") ",'tool':{'mss':1000}")),
	    "t.json: ports[1].tool: only a port of role \"tool-oob\" takes tool settings"),
	BAD("tool_multicast_mac",
	    CFG_PORTS(NET_A "," NET_B "," PORT("t", "net_ring2", "'role':'tool-oob','tool':{'src_mac':'01:00:5e:00:00:01'}")),
	    "t.json: ports[2].tool.src_mac: expected a unicast MAC address \"aa:bb:cc:dd:ee:ff\", found \"01:00:5e:00:00:01\""),
	BAD("tool_bad_vlan",
	    CFG_PORTS(NET_A "," NET_B "," PORT("t", "net_ring2", "'role':'tool-oob','tool':{'vlan':4095}")),
	    "t.json: ports[2].tool.vlan: expected an integer 1..4094, found 4095"),
	BAD("unknown_key_not_a_word", CFG(",'limits':{'max flows':1}"),
	    "t.json: limits[\"max flows\"]: unknown key (expected one of: rx_desc, tx_desc, burst, max_flows)"),
	BAD("missing_lcores", "{'ports':[" NET_A "," NET_B "]}",
	    "t.json: top level: missing required key \"lcores\""),
	BAD("missing_ports", "{" LC "}",
	    "t.json: top level: missing required key \"ports\""),
	BAD("missing_workers", "{'lcores':{'main':0},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores: missing required key \"workers\""),
	BAD("missing_port_device", CFG_PORTS(NET_A ",{'name':'net-b','role':'net'}"),
	    "t.json: ports[1]: missing required key \"device\""),

	/* types */
	/* inline tool heartbeats */
	BAD("heartbeat_on_net", CFG_PORTS(PORT("net-a", "net_ring0", NET("seg0", "a") ",'heartbeat_ms':100") ","
	    NET_B), "t.json: ports[0].heartbeat_ms: only for the side \"a\" port of a tool-inline pair"),
	/* rss */
	BAD("rss_key_asymmetric", CFG(",'rss':{'key':'"
	    "6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5b'}"),
	    "t.json: rss.key: expected a symmetric key: one 2-byte pattern repeated (e.g. 6d5a6d5a...), so that both directions of a flow hash alike, found \"6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a...\" (80 bytes)"),
	BAD("rss_key_short", CFG(",'rss':{'key':'6d5a'}"), "t.json: rss.key: expected a hex string of 40 or 52 bytes (80 or 104 hex digits), found \"6d5a\""),
	BAD("rss_key_hex", CFG(",'rss':{'key':'"
	    "6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6dxx'}"),
	    "t.json: rss.key: expected hex digits only, found \"6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a6d5a...\" (80 bytes)"),
	BAD("rss_worker_missing", CFG(",'rss':{'queue_workers':[0,1]}"), "t.json: rss.queue_workers[1]: expected an integer 0..0, found 1"),
	BAD("rss_queues_empty", CFG(",'rss':{'queue_workers':[]}"), "t.json: rss.queue_workers: expected an array of 1..64 worker indexes, one per rx queue, found an empty array"),
	BAD("type_object", CFG(",'limits':[]"),
	    "t.json: limits: expected an object, found an empty array"),
	BAD("type_integer_string", CFG(",'limits':{'burst':'32'}"),
	    "t.json: limits.burst: expected an integer 1..256, found a string \"32\""),
	BAD("type_integer_real", CFG(",'limits':{'burst':32.5}"),
	    "t.json: limits.burst: expected an integer 1..256, found a real number 32.5"),
	BAD("type_bool", CFG(",'eal':{'hugepages':'yes'}"),
	    "t.json: eal.hugepages: expected true or false, found a string \"yes\""),
	BAD("type_enum", CFG(",'log':{'level':3}"),
	    "t.json: log.level: expected one of \"err\", \"warning\", \"notice\", \"info\", \"debug\", found an integer 3"),
	BAD("type_workers", "{'lcores':{'main':0,'workers':1},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.workers: expected an array of 1..16 lcore numbers, found an integer 1"),
	BAD("type_ports", "{" LC ",'ports':{}}",
	    "t.json: ports: expected an array of 2..16 port objects, found an object"),
	BAD("type_port", CFG_PORTS(NET_A ",'net-b'"),
	    "t.json: ports[1]: expected an object, found a string \"net-b\""),
	BAD("type_args", CFG(",'eal':{'args':'-n 4'}"),
	    "t.json: eal.args: expected an array of strings, found a string \"-n 4\""),
	BAD("type_name_null", CFG_PORTS(NET_A ",{'name':null,'device':'x','role':'net'}"),
	    "t.json: ports[1].name: expected a port name of 1..31 characters from [A-Za-z0-9_.-], found null"),

	/* lcores */
	BAD("main_out_of_range", "{'lcores':{'main':128,'workers':[1]},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.main: expected an integer 0..127, found 128"),
	BAD("workers_empty", "{'lcores':{'main':0,'workers':[]},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.workers: expected 1..16 worker lcores, found 0"),
	BAD("workers_too_many",
	    "{'lcores':{'main':0,'workers':[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]},"
	    "'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.workers: expected 1..16 worker lcores, found 17"),
	BAD("worker_is_main", "{'lcores':{'main':3,'workers':[1,3]},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.workers[1]: lcore 3 is already the main lcore (lcores.main)"),
	BAD("worker_twice", "{'lcores':{'main':0,'workers':[1,2,1]},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.workers[2]: lcore 1 is already listed at lcores.workers[0]"),
	BAD("worker_negative", "{'lcores':{'main':0,'workers':[-1]},'ports':[" NET_A "," NET_B "]}",
	    "t.json: lcores.workers[0]: expected an integer 0..127, found -1"),

	/* eal */
	BAD("memory_too_small", CFG(",'eal':{'memory_mb':63}"),
	    "t.json: eal.memory_mb: expected an integer 64..1048576, found 63"),
	BAD("file_prefix_slash", CFG(",'eal':{'file_prefix':'a/b'}"),
	    "t.json: eal.file_prefix: expected a prefix of 1..63 characters from [A-Za-z0-9_-], found \"a/b\""),
	BAD("file_prefix_empty", CFG(",'eal':{'file_prefix':''}"),
	    "t.json: eal.file_prefix: expected a prefix of 1..63 characters from [A-Za-z0-9_-], found \"\""),
	BAD("file_prefix_too_long",
	    CFG(",'eal':{'file_prefix':'a23456789b123456789c123456789d123456789e123456789f123456789g1234'}"),
	    "t.json: eal.file_prefix: expected a prefix of 1..63 characters from [A-Za-z0-9_-], found \"a23456789b123456789c123456789d123456789e12345678...\" (64 bytes)"),
	BAD("eal_arg_l", CFG(",'eal':{'args':['-n','4','-l','0-3']}"),
	    "t.json: eal.args[2]: \"-l\" is set by lcores; set it there"),
	BAD("eal_arg_l_attached", CFG(",'eal':{'args':['-l0-3']}"),
	    "t.json: eal.args[0]: \"-l0-3\" (-l) is set by lcores; set it there"),
	BAD("eal_arg_grouped", CFG(",'eal':{'args':['-vc','0x3']}"),
	    "t.json: eal.args[0]: \"-vc\" (-c) is set by lcores; set it there"),
	BAD("eal_arg_lcores", CFG(",'eal':{'args':['--lcores=0@1']}"),
	    "t.json: eal.args[0]: \"--lcores=0@1\" is set by lcores; set it there"),
	BAD("eal_arg_main_lcore", CFG(",'eal':{'args':['--main-lcore','1']}"),
	    "t.json: eal.args[0]: \"--main-lcore\" is set by lcores.main; set it there"),
	BAD("eal_arg_m", CFG(",'eal':{'args':['-m512']}"),
	    "t.json: eal.args[0]: \"-m512\" (-m) is set by eal.memory_mb; set it there"),
	BAD("eal_arg_socket_mem", CFG(",'eal':{'args':['--socket-mem=512,512']}"),
	    "t.json: eal.args[0]: \"--socket-mem=512,512\" is set by eal.memory_mb; set it there"),
	BAD("eal_arg_no_huge", CFG(",'eal':{'args':['--no-huge']}"),
	    "t.json: eal.args[0]: \"--no-huge\" is set by eal.hugepages; set it there"),
	BAD("eal_arg_file_prefix", CFG(",'eal':{'args':['--file-prefix=other']}"),
	    "t.json: eal.args[0]: \"--file-prefix=other\" is set by eal.file_prefix; set it there"),
	BAD("eal_arg_abbreviated", CFG(",'eal':{'args':['--file-pre=other']}"),
	    "t.json: eal.args[0]: \"--file-pre=other\" (--file-prefix) is set by eal.file_prefix; set it there"),
	BAD("eal_arg_vdev", CFG(",'eal':{'args':['--vdev=net_tap0']}"),
	    "t.json: eal.args[0]: \"--vdev=net_tap0\" is set by ports[].device; set it there"),
	BAD("eal_arg_allow", CFG(",'eal':{'args':['-a','0000:01:00.0']}"),
	    "t.json: eal.args[0]: \"-a\" is set by ports[].device; set it there"),
	BAD("eal_arg_block", CFG(",'eal':{'args':['--block=0000:01:00.0']}"),
	    "t.json: eal.args[0]: \"--block=0000:01:00.0\" is set by ports[].device; set it there"),
	BAD("eal_arg_no_pci", CFG(",'eal':{'args':['--no-pci']}"),
	    "t.json: eal.args[0]: \"--no-pci\" is set by ports[].device; set it there"),
	BAD("eal_arg_end_of_options", CFG(",'eal':{'args':['--']}"),
	    "t.json: eal.args[0]: expected an EAL option, found \"--\" (it would end the EAL options)"),
	BAD("eal_arg_empty", CFG(",'eal':{'args':['']}"),
	    "t.json: eal.args[0]: expected an EAL argument of 1..127 bytes, found \"\""),
	BAD("eal_arg_control_char", CFG(",'eal':{'args':['--log-level=x\\ny']}"),
	    "t.json: eal.args[0]: expected an EAL argument of 1..127 bytes without control characters, found \"--log-level=x\\u000ay\""),
	BAD("eal_args_too_many",
	    CFG(",'eal':{'args':['-v','-v','-v','-v','-v','-v','-v','-v','-v','-v','-v',"
		"'-v','-v','-v','-v','-v','-v','-v','-v','-v','-v','-v','-v','-v','-v','-v',"
		"'-v','-v','-v','-v','-v','-v','-v']}"),
	    "t.json: eal.args: expected at most 32 arguments, found 33"),

	/* mempool, limits, bridge, log */
	BAD("mbufs_too_few", CFG(",'mempool':{'mbufs':1022}"),
	    "t.json: mempool.mbufs: expected an integer 1023..16777215, found 1022"),
	BAD("data_size_too_big", CFG(",'mempool':{'mbuf_data_size':65536}"),
	    "t.json: mempool.mbuf_data_size: expected an integer 1024..65535, found 65536"),
	BAD("cache_too_big", CFG(",'mempool':{'cache':513}"),
	    "t.json: mempool.cache: expected an integer 0..512, found 513"),
	BAD("burst_too_big", CFG(",'limits':{'burst':1000}"),
	    "t.json: limits.burst: expected an integer 1..256, found 1000"),
	BAD("rx_desc_too_small", CFG(",'limits':{'rx_desc':63}"),
	    "t.json: limits.rx_desc: expected an integer 64..16384, found 63"),
	BAD("tx_desc_too_big", CFG(",'limits':{'tx_desc':16385}"),
	    "t.json: limits.tx_desc: expected an integer 64..16384, found 16385"),
	BAD("max_flows_zero", CFG(",'limits':{'max_flows':0}"),
	    "t.json: limits.max_flows: expected an integer 1..16777216, found 0"),
	BAD("huge_integer", CFG(",'limits':{'max_flows':9223372036854775807}"),
	    "t.json: limits.max_flows: expected an integer 1..16777216, found 9223372036854775807"),
	BAD("malformed_unknown", CFG(",'bridge':{'malformed':'pass'}"),
	    "t.json: bridge.malformed: expected one of \"forward\", \"drop\", found \"pass\""),
	BAD("intercept_port_zero", CFG(",'intercept':{'tcp_ports':[443,0]}"),
	    "t.json: intercept.tcp_ports[1]: expected an integer 1..65535, found 0"),
	BAD("intercept_port_twice", CFG(",'intercept':{'tcp_ports':[443,8443,443]}"),
	    "t.json: intercept.tcp_ports[2]: port 443 is listed twice"),
	BAD("intercept_ports_not_array", CFG(",'intercept':{'tcp_ports':443}"),
	    "t.json: intercept.tcp_ports: expected an array of TCP ports, found an integer 443"),
	BAD("intercept_overflow_unknown", CFG(",'intercept':{'overflow':'queue'}"),
	    "t.json: intercept.overflow: expected one of \"bypass\", \"drop\", found \"queue\""),
	BAD("intercept_idle_zero", CFG(",'intercept':{'idle_timeout_s':0}"),
	    "t.json: intercept.idle_timeout_s: expected an integer 1..86400, found 0"),
	BAD("intercept_unknown_key", CFG(",'intercept':{'ports':[443]}"),
	    "t.json: intercept.ports: unknown key (expected one of: tcp_ports, overflow, idle_timeout_s, policy, starttls_ports)"),
	BAD("tcp_syn_retries_big", CFG(",'tcp':{'syn_retries':11}"),
	    "t.json: tcp.syn_retries: expected an integer 0..10, found 11"),
	BAD("tcp_buf_small", CFG(",'tcp':{'rcv_buf_kb':8}"),
	    "t.json: tcp.rcv_buf_kb: expected an integer 16..16384, found 8"),
	BAD("tcp_unknown_key", CFG(",'tcp':{'mss':1460}"),
	    "t.json: tcp.mss: unknown key (expected one of: syn_retries, data_retries, snd_buf_kb, rcv_buf_kb, time_wait_ms)"),
	BAD("log_level_unknown", CFG(",'log':{'level':'INFO'}"),
	    "t.json: log.level: expected one of \"err\", \"warning\", \"notice\", \"info\", \"debug\", found \"INFO\""),

	/* control */
	BAD("socket_relative", CFG(",'control':{'socket':'run/dp.sock'}"),
	    "t.json: control.socket: expected an absolute path of a socket file, at most 107 bytes, found \"run/dp.sock\""),
	BAD("socket_directory", CFG(",'control':{'socket':'/run/plainsight/'}"),
	    "t.json: control.socket: expected an absolute path of a socket file, at most 107 bytes, found \"/run/plainsight/\""),
	BAD("socket_too_long",
	    CFG(",'control':{'socket':'/23456789a123456789b123456789c123456789d123456789e"
		"123456789f123456789g123456789h123456789i123456789j12345678'}"),
	    "t.json: control.socket: expected an absolute path of a socket file, at most 107 bytes, found \"/23456789a123456789b123456789c123456789d12345678...\" (108 bytes)"),

	/* ports: count, names, roles */
	BAD("one_port", CFG_PORTS(NET_A),
	    "t.json: ports: expected 2..16 ports, found 1"),
	BAD_FILE("too_many_ports", "configs/too-many-ports.json", -EINVAL,
		 "configs/too-many-ports.json: ports: expected 2..16 ports, found 17"),
	BAD("name_space", CFG_PORTS(PORT("net a", "net_ring0", NET("seg0", "a")) "," NET_B),
	    "t.json: ports[0].name: expected a port name of 1..31 characters from [A-Za-z0-9_.-], found \"net a\""),
	BAD("name_too_long",
	    CFG_PORTS(PORT("a23456789b123456789c123456789d12", "net_ring0", NET("seg0", "a")) "," NET_B),
	    "t.json: ports[0].name: expected a port name of 1..31 characters from [A-Za-z0-9_.-], found \"a23456789b123456789c123456789d12\""),
	BAD("name_twice", CFG_PORTS(NET_A "," PORT("net-a", "net_ring1", NET("seg0", "b"))),
	    "t.json: ports[1].name: \"net-a\" is already the name of ports[0]"),
	BAD("role_unknown",
	    CFG_PORTS(NET_A "," NET_B "," PORT("tap", "net_ring2", "'role':'tap'")),
	    "t.json: ports[2].role: expected one of \"net\", \"tool-oob\", \"tool-inline\", found \"tap\""),
	BAD("segment_name_bad", CFG_PORTS(PORT("net-a", "net_ring0", NET("seg 0", "a")) "," NET_B),
	    "t.json: ports[0].segment: expected a segment name of 1..31 characters from [A-Za-z0-9_.-], found \"seg 0\""),
	BAD("side_unknown", CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", NET("seg0", "c"))),
	    "t.json: ports[1].side: expected one of \"a\", \"b\", found \"c\""),
	BAD("side_missing",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", "'role':'net','segment':'seg0'")),
	    "t.json: ports[1]: missing required key \"side\" (role \"net\" needs it)"),
	BAD("segment_missing", CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", "'role':'net','side':'b'")),
	    "t.json: ports[1]: missing required key \"segment\" (role \"net\" needs it)"),
	BAD("pair_on_net",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", NET("seg0", "b") ",'pair':'p'")),
	    "t.json: ports[1].pair: not allowed for role \"net\" (a net port names its \"segment\")"),
	BAD("segment_on_inline",
	    CFG_PORTS(NET_A "," NET_B ","
		      PORT("ips-a", "net_ring2", "'role':'tool-inline','segment':'seg0','side':'a'")),
	    "t.json: ports[2].segment: not allowed for role \"tool-inline\" (a tool-inline port names its \"pair\")"),
	BAD("side_on_oob",
	    CFG_PORTS(NET_A "," NET_B "," PORT("tool", "net_ring2", "'role':'tool-oob','side':'a'")),
	    "t.json: ports[2].side: not allowed for role \"tool-oob\" (an out-of-band tool port has no segment, pair or side)"),
	BAD("mtu_too_small", CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", NET("seg0", "b") ",'mtu':67")),
	    "t.json: ports[1].mtu: expected an integer 68..9600, found 67"),
	BAD("mtu_too_big", CFG_PORTS(NET_A "," PORT("net-b", "net_ring1", NET("seg0", "b") ",'mtu':9601")),
	    "t.json: ports[1].mtu: expected an integer 68..9600, found 9601"),

	/* ports: segments and pairs */
	BAD_FILE("missing_side_port", "configs/missing-side.json", -EINVAL,
		 "configs/missing-side.json: ports: segment \"seg0\" has no side \"b\" port"),
	BAD_FILE("two_a_sides", "configs/two-a-sides.json", -EINVAL,
		 "configs/two-a-sides.json: ports[1].side: segment \"seg0\" already has a side \"a\" port (\"net-a\")"),
	BAD("three_ports_one_segment",
	    CFG_PORTS(NET_A "," NET_B "," PORT("net-c", "net_ring2", NET("seg0", "b"))),
	    "t.json: ports[2].side: segment \"seg0\" already has a side \"b\" port (\"net-b\")"),
	BAD("pair_missing_side",
	    CFG_PORTS(NET_A "," NET_B "," PORT("ips-a", "net_ring2", "'role':'tool-inline','pair':'ips','side':'a'")),
	    "t.json: ports: pair \"ips\" has no side \"b\" port"),
	BAD("segment_and_pair_do_not_mix",
	    CFG_PORTS(NET_A "," PORT("ips-b", "net_ring1", "'role':'tool-inline','pair':'seg0','side':'b'")),
	    "t.json: ports: segment \"seg0\" has no side \"b\" port"),
	BAD("no_segment",
	    CFG_PORTS(PORT("t1", "net_ring0", "'role':'tool-oob'") ","
		      PORT("t2", "net_ring1", "'role':'tool-oob'")),
	    "t.json: ports: expected at least one segment (a side \"a\" and a side \"b\" port with role \"net\"), found none"),

	/* ports: devices */
	BAD("device_same",
	    CFG_PORTS(PORT("net-a", "net_af_packet0,iface=psa", NET("seg0", "a")) ","
		      PORT("net-b", "net_af_packet0,iface=psa", NET("seg0", "b"))),
	    "t.json: ports[1].device: \"net_af_packet0,iface=psa\" is already used by port \"net-a\""),
	BAD("device_same_name",
	    CFG_PORTS(PORT("net-a", "net_af_packet0,iface=psa", NET("seg0", "a")) ","
		      PORT("net-b", "net_af_packet0,iface=psb", NET("seg0", "b"))),
	    "t.json: ports[1].device: device \"net_af_packet0\" is already used by port \"net-a\" (\"net_af_packet0,iface=psa\")"),
	BAD("device_same_iface",
	    CFG_PORTS(PORT("net-a", "net_af_packet0,iface=psa", NET("seg0", "a")) ","
		      PORT("net-b", "net_af_packet1,qpairs=2,iface=psa", NET("seg0", "b"))),
	    "t.json: ports[1].device: interface \"psa\" is already used by port \"net-a\" (\"net_af_packet0,iface=psa\")"),
	BAD("device_same_pci",
	    CFG_PORTS(PORT("net-a", "0000:3B:00.0", NET("seg0", "a")) ","
		      PORT("net-b", "3b:00.0", NET("seg0", "b"))),
	    "t.json: ports[1].device: device \"0000:3b:00.0\" is already used by port \"net-a\" (\"0000:3B:00.0\")"),
	BAD("device_unknown", CFG_PORTS(NET_A "," PORT("net-b", "eth0", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected a PCI address (0000:01:00.0) or a virtual device \"net_<driver><id>[,key=value...]\", found \"eth0\""),
	BAD("device_no_id", CFG_PORTS(NET_A "," PORT("net-b", "net_ring", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected a PCI address (0000:01:00.0) or a virtual device \"net_<driver><id>[,key=value...]\", found \"net_ring\""),
	BAD("device_pci_bad_device", CFG_PORTS(NET_A "," PORT("net-b", "0000:01:20.0", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected a PCI address (0000:01:00.0) or a virtual device \"net_<driver><id>[,key=value...]\", found \"0000:01:20.0\""),
	BAD("device_empty", CFG_PORTS(NET_A "," PORT("net-b", "", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected a device string of 1..255 bytes, found \"\""),
	BAD("devarg_not_key_value", CFG_PORTS(NET_A "," PORT("net-b", "net_pcap0,iface", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected key=value after the device name, found \"iface\""),
	BAD("devarg_unbalanced", CFG_PORTS(NET_A "," PORT("net-b", "net_pcap0,a=[1,2", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected key=value after the device name, found \"a=[1,2\""),
	BAD("devarg_twice",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_pcap0,iface=a,iface=b", NET("seg0", "b"))),
	    "t.json: ports[1].device: device argument \"iface\" is given twice"),
	BAD("af_packet_without_iface",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_af_packet0,qpairs=1", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected \"net_af_packet<id>,iface=NAME\", found \"net_af_packet0,qpairs=1\" (no iface=)"),
	BAD("af_packet_bad_iface",
	    CFG_PORTS(NET_A "," PORT("net-b", "net_af_packet0,iface=a23456789b123456", NET("seg0", "b"))),
	    "t.json: ports[1].device: expected iface=NAME with an interface name of 1..15 characters without '/', ':' or spaces, found \"a23456789b123456\""),
};

static void
test_bad_config(void **state)
{
	const struct bad_case *bc = *state;
	struct ps_config cfg, before;
	char err[ERR_LEN];
	int rc;

	/* a refused config must not touch *cfg */
	memset(&cfg, 0x5a, sizeof(cfg));
	memcpy(&before, &cfg, sizeof(cfg));
	memset(err, 'X', sizeof(err));
	if (bc->file != NULL)
		rc = ps_config_load(bc->file, &cfg, err, sizeof(err));
	else
		rc = parse(bc->json, &cfg, err, sizeof(err));
	assert_string_equal(err, bc->want);
	assert_int_equal(rc, bc->rc);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* ---- messages ---- */

/* A short buffer gets the start of the line, terminated, nothing beyond. */
static void
test_tiny_errlen(void **state)
{
	struct ps_config cfg;
	char err[32];

	(void)state;
	memset(err, 'X', sizeof(err));
	assert_int_equal(parse(CFG(",'limits':{'burst':1000}"), &cfg, err, 16),
			 -EINVAL);
	assert_string_equal(err, "t.json: limits.");
	assert_int_equal(err[16], 'X');

	memset(err, 'X', sizeof(err));
	assert_int_equal(parse(CFG(",'limits':{'burst':1000}"), &cfg, err, 1),
			 -EINVAL);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'X');

	assert_int_equal(parse(CFG(",'limits':{'burst':1000}"), &cfg, NULL, 0),
			 -EINVAL);
	assert_int_equal(ps_config_load("configs/does-not-exist.json", &cfg,
					err, 8), -ENOENT);
	assert_string_equal(err, "configs");
}

/* A cut never splits a UTF-8 character. */
static void
test_cut_utf8(void **state)
{
	/* "t.json: ports[0].name: expected ..., found \"n\xc3\xa9t\"" */
	static const char json[] =
		CFG_PORTS(PORT("n\xc3\xa9t", "net_ring0", NET("seg0", "a")) "," NET_B);
	static const char full[] =
		"t.json: ports[0].name: expected a port name of 1..31 characters from [A-Za-z0-9_.-], found \"n\xc3\xa9t\"";
	struct ps_config cfg;
	char err[ERR_LEN];
	size_t at = strlen(full) - 4;	/* where the 0xc3 0xa9 of "é" starts */

	(void)state;
	assert_int_equal(parse(json, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, full);
	/* room for the 0xc3 but not the 0xa9: both go */
	assert_int_equal(parse(json, &cfg, err, at + 2), -EINVAL);
	assert_int_equal(strlen(err), at);
	assert_memory_equal(err, full, at);
	/* room for both */
	assert_int_equal(parse(json, &cfg, err, at + 3), -EINVAL);
	assert_int_equal(strlen(err), at + 2);
	assert_memory_equal(err, full, at + 2);
}

/* A long found string is cut after 48 bytes, escapes and all, and closed. */
#define U1	"\\u0001"		/* JSON (and message) escape of byte 0x01 */
#define U8	U1 U1 U1 U1 U1 U1 U1 U1
#define U48	U8 U8 U8 U8 U8 U8

static void
test_found_cut(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	/* eal.args[0]: 60 bytes of 0x01 */
	assert_int_equal(parse(CFG(",'eal':{'args':['" U48 U8 U1 U1 U1 U1 "']}"),
			       &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "t.json: eal.args[0]: expected an EAL argument of 1..127 bytes without control characters, found \"" U48 "...\" (60 bytes)");
}

/* Whatever the file name holds, the message stays on one line. */
static void
test_one_line(void **state)
{
	struct ps_config cfg;
	char *text = jq(CFG(",'limits':{'burst':0}"));
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(ps_config_parse(text, strlen(text), "a\nb.json", &cfg,
					 err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "a?b.json: limits.burst: expected an integer 1..256, found 0");
	assert_int_equal(ps_config_parse("{\"a\x01\":1}", 9, "t.json", &cfg,
					 err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\x01'));
	free(text);
}

static void
test_too_large(void **state)
{
	size_t len = PS_CONFIG_FILE_MAX + 1;
	struct ps_config cfg;
	char err[ERR_LEN];
	char *text;

	(void)state;
	text = malloc(len);
	assert_non_null(text);
	memset(text, ' ', len);
	assert_int_equal(ps_config_parse(text, len, "big.json", &cfg, err,
					 sizeof(err)), -EINVAL);
	assert_string_equal(err, "big.json: too large: the limit is 1048576 bytes (1 MiB)");
	/* exactly the limit is read and parsed (and is not JSON) */
	assert_int_equal(ps_config_parse(text, len - 1, "big.json", &cfg, err,
					 sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "big.json:1:1048576: invalid JSON: '[' or '{' expected near end of file");
	free(text);
}

static void
test_bad_arguments(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];
	char *name;

	(void)state;
	assert_int_equal(ps_config_parse("{}", 2, "t.json", NULL, err,
					 sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.json: invalid arguments");
	assert_int_equal(ps_config_parse(NULL, 2, "t.json", &cfg, err,
					 sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.json: invalid arguments");
	/* no text at all is an empty file */
	assert_int_equal(ps_config_parse(NULL, 0, NULL, &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err,
			    "(config):1:0: invalid JSON: '[' or '{' expected near end of file");
	assert_int_equal(ps_config_load(NULL, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "(config): invalid arguments");

	/* a name that does not fit cfg->path is refused, not cut */
	name = malloc(PS_PATH_MAX + 1);
	assert_non_null(name);
	memset(name, 'n', PS_PATH_MAX);
	name[PS_PATH_MAX] = '\0';
	assert_int_equal(ps_config_parse("{}", 2, name, &cfg, err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	name[PS_PATH_MAX - 1] = '\0';
	assert_int_equal(ps_config_parse("[]", 2, name, &cfg, err, sizeof(err)),
			 -EINVAL);
	free(name);
}

/* ---- lookups ---- */

static void
test_port_index(void **state)
{
	struct ps_config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(ps_config_load(DOCS "plainsight.json", &cfg, err,
					sizeof(err)), 0);
	assert_int_equal(ps_config_port_index(&cfg, "net-a"), 0);
	assert_int_equal(ps_config_port_index(&cfg, "net-b"), 1);
	assert_int_equal(ps_config_port_index(&cfg, "tool"), 2);
	assert_int_equal(ps_config_port_index(&cfg, "net"), -1);
	assert_int_equal(ps_config_port_index(&cfg, "net-a "), -1);
	assert_int_equal(ps_config_port_index(&cfg, ""), -1);
	assert_int_equal(ps_config_port_index(&cfg, NULL), -1);
	assert_int_equal(ps_config_port_index(NULL, "net-a"), -1);
}

static void
test_role_name(void **state)
{
	(void)state;
	assert_string_equal(ps_port_role_name(PS_ROLE_NET), "net");
	assert_string_equal(ps_port_role_name(PS_ROLE_TOOL_OOB), "tool-oob");
	assert_string_equal(ps_port_role_name(PS_ROLE_TOOL_INLINE), "tool-inline");
	assert_string_equal(ps_port_role_name((enum ps_port_role)42), "unknown");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_intercept),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_docs_example),
		cmocka_unit_test(test_pci_example),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_accepted_values),
		cmocka_unit_test(test_pci_devices),
		cmocka_unit_test(test_tiny_errlen),
		cmocka_unit_test(test_cut_utf8),
		cmocka_unit_test(test_found_cut),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_port_index),
		cmocka_unit_test(test_role_name),
		cmocka_unit_test(test_rss),
	};
	size_t n_bad = sizeof(bad_cases) / sizeof(bad_cases[0]);
	struct CMUnitTest *bad;
	size_t i;
	int failed;

	bad = calloc(n_bad, sizeof(*bad));
	if (bad == NULL)
		return 1;
	for (i = 0; i < n_bad; i++) {
		bad[i].name = bad_cases[i].name;
		bad[i].test_func = test_bad_config;
		bad[i].initial_state = &bad_cases[i];
	}
	failed = cmocka_run_group_tests_name("config", tests, NULL, NULL);
	failed += _cmocka_run_group_tests("config_refused", bad, n_bad, NULL, NULL);
	free(bad);
	return failed != 0;
}
