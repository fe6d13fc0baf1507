/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight appliance configuration: the validated, compiled form of the
 * JSON file given to `plainsight-dp --config FILE`.
 *
 * The loader (dataplane/conf/) is a pure library: no EAL, no global state.
 * Everything the data plane needs at start is here as plain values; the data
 * plane itself never looks at JSON.
 */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_NAME_MAX		32	/* port, segment and pair names, incl. NUL */
#define PS_DEV_MAX		256	/* DPDK device string, incl. NUL */
#define PS_PORTS_MAX		16
#define PS_WORKERS_MAX		16
#define PS_RSS_KEY_MAX		52	/* bytes of a Toeplitz key (40 or 52) */
#define PS_RSS_QUEUES_MAX	64	/* rx queues per port */
#define PS_LCORE_MAX		128	/* RTE_MAX_LCORE of Debian's build */
#define PS_EAL_ARGS_MAX		32
#define PS_EAL_ARG_LEN		128
#define PS_SOCKET_PATH_MAX	108	/* sizeof(sun_path) */
#define PS_PATH_MAX		4096
#define PS_INTERCEPT_PORTS_MAX	64
#define PS_STARTTLS_PORTS_MAX	20
#define PS_CONFIG_FILE_MAX	(1024 * 1024)	/* larger files are refused */
#define PS_PEER_NONE		(~0u)	/* ps_port_cfg.peer of a tool-oob port */

enum ps_port_role {
	PS_ROLE_NET,		/* one side of a segment, bridged to its peer */
	PS_ROLE_TOOL_OOB,	/* out-of-band tool: copy only, never reinjected */
	PS_ROLE_TOOL_INLINE,	/* one side of an inline tool pair */
};

enum ps_malformed_action {
	PS_MALFORMED_FORWARD,	/* count it, pass it through unchanged */
	PS_MALFORMED_DROP,	/* count it, drop it */
};

enum ps_overflow_action {
	PS_OVERFLOW_BYPASS,	/* flow table full: bridge the connection, count it */
	PS_OVERFLOW_DROP,	/* flow table full: drop the SYN, count it */
};

enum ps_log_level {
	PS_LOG_ERR,
	PS_LOG_WARNING,
	PS_LOG_NOTICE,
	PS_LOG_INFO,
	PS_LOG_DEBUG,
};

/* What a tool port is sent of each decrypted flow (role tool-oob). */
struct ps_tool_port_cfg {
	uint16_t dport_rewrite;		/* 0: keep; else the server port tools see */
	bool has_vlan;
	uint16_t vlan_tci;		/* single 802.1Q tag replacing the flow's tags */
	bool has_dst_mac;
	uint8_t dst_mac[6];
	bool has_src_mac;		/* "decrypted" marker: fixed source MAC */
	uint8_t src_mac[6];
	uint16_t mss;			/* segment size of the synthesized conversation,
					 * 0: 1460 over IPv4, 1440 over IPv6 */
};

enum ps_verify_fail_action {
	PS_VERIFY_FAIL_REJECT,		/* alert to the client, close */
	PS_VERIFY_FAIL_RESIGN_UNTRUSTED,/* forge with the untrusted CA */
};

#define PS_KNOWN_SERVERS_MAX	64
#define PS_CRL_FILES_MAX	16

/* Known-key mode: the operator's own server, shown with its real certificate. */
struct ps_known_server_cfg {
	char sni[254];			/* exact name or "*.suffix", "" for any */
	bool has_addr;
	uint8_t family;			/* 4 or 6 */
	uint8_t addr[16];		/* server address, wire order */
	char cert[PS_PATH_MAX];		/* PEM/DER/PKCS#12: leaf then chain */
	char key[PS_PATH_MAX];		/* "" when cert is PKCS#12 with the key */
	char passphrase_file[PS_PATH_MAX];
};

/* TLS interception (section "tls"); absent: intercepted flows are relayed. */
struct ps_tls_settings {
	bool enabled;
	char ca_cert[PS_PATH_MAX];	/* appliance CA: PEM, DER or PKCS#12 */
	char ca_key[PS_PATH_MAX];	/* "" when ca_cert is PKCS#12 with the key */
	char ca_passphrase_file[PS_PATH_MAX];
	char untrusted_ca_cert[PS_PATH_MAX];
	char untrusted_ca_key[PS_PATH_MAX];
	char untrusted_ca_passphrase_file[PS_PATH_MAX];
	bool trust_system;		/* the system trust store for upstream chains */
	char trust_bundle[PS_PATH_MAX];	/* extra PEM anchors, "" for none */
	enum ps_verify_fail_action verify_failure;
	char crl_files[PS_CRL_FILES_MAX][PS_PATH_MAX];	/* CRLs for upstream chains, PEM/DER */
	unsigned int n_crl_files;	/* 0: revocation is not checked */
	bool revocation_unknown_allow;	/* status unknown: accept (and note it), not refuse */
	unsigned int session_cache;	/* entries per leg cache, 0: no resumption */
	unsigned int session_timeout_s;
	unsigned int forge_cache;	/* forged leaves kept */
	char keylog_file[PS_PATH_MAX];	/* NSS key log, "" for off */
	unsigned int bypass_ttl_s;	/* remember non-interceptable servers, 0: never */
	bool bypass_pinned_clients;	/* and clients that refuse the forged leaf */
	struct ps_known_server_cfg known[PS_KNOWN_SERVERS_MAX];
	unsigned int n_known;
};

struct ps_port_cfg {
	char name[PS_NAME_MAX];		/* operator's name, e.g. "net-a" */
	char device[PS_DEV_MAX];	/* DPDK device: vdev string or PCI address */
	bool is_pci;			/* device is a PCI address (DDDD:BB:DD.F) */
	enum ps_port_role role;
	char group[PS_NAME_MAX];	/* segment (net) or pair (tool-inline) */
	char side;			/* 'a' or 'b' for net/tool-inline, 0 for tool-oob */
	unsigned int peer;		/* index of the other side (net/tool-inline) */
	uint16_t mtu;			/* L3 MTU of the port; larger IPv4 is fragmented */
	struct ps_tool_port_cfg tool;	/* role tool-oob only */
	unsigned int hb_ms;		/* tool-inline side a: heartbeat interval */
	unsigned int hb_misses;		/* heartbeats missed in a row: the tool is down */
};

struct ps_config {
	char path[PS_PATH_MAX];		/* file it was loaded from */

	/* lcores */
	unsigned int main_lcore;
	unsigned int workers[PS_WORKERS_MAX];
	unsigned int n_workers;

	/* EAL and memory */
	unsigned int memory_mb;		/* EAL -m */
	bool hugepages;			/* false: --no-huge */
	char file_prefix[64];		/* EAL --file-prefix */
	char eal_args[PS_EAL_ARGS_MAX][PS_EAL_ARG_LEN];	/* verbatim extras */
	unsigned int n_eal_args;
	unsigned int mbufs;		/* mbufs in the packet pool */
	unsigned int mbuf_data_size;	/* data room per mbuf, headroom included */
	unsigned int mbuf_cache;	/* per-lcore mempool cache */

	/* ports */
	struct ps_port_cfg ports[PS_PORTS_MAX];
	unsigned int n_ports;

	/* receive-side scaling (section "rss") */
	uint8_t rss_key[PS_RSS_KEY_MAX];	/* symmetric Toeplitz key */
	unsigned int rss_key_len;		/* 0: the built-in 6d5a key */
	uint8_t rss_queue_worker[PS_RSS_QUEUES_MAX];	/* rx queue q -> worker index */
	unsigned int n_rss_queues;		/* 0: one queue per worker, q -> q */

	/* limits */
	unsigned int rx_desc;
	unsigned int tx_desc;
	unsigned int burst;
	unsigned int max_flows;

	/* behaviour */
	enum ps_malformed_action malformed;

	/* intercept selector */
	uint16_t intercept_ports[PS_INTERCEPT_PORTS_MAX];	/* TCP server ports */
	unsigned int n_intercept_ports;
	enum ps_overflow_action overflow;
	unsigned int flow_idle_timeout_s;
	char policy_file[PS_PATH_MAX];	/* traffic policy, "" for none: decrypt all */
	uint16_t starttls_ports[PS_STARTTLS_PORTS_MAX];	/* intercepted ports with StartTLS */
	unsigned int n_starttls_ports;

	/* TCP endpoints of intercepted flows */
	unsigned int tcp_syn_retries;	/* SYN retransmissions towards the server */
	unsigned int tcp_data_retries;	/* consecutive RTOs before a reset */
	unsigned int tcp_snd_buf_kb;	/* per endpoint */
	unsigned int tcp_rcv_buf_kb;	/* per endpoint, also the largest window */
	unsigned int tcp_time_wait_ms;

	/* TLS interception */
	struct ps_tls_settings tls;

	/* recording of decrypted conversations */
	char record_dir[PS_PATH_MAX];	/* "" for none */
	unsigned int record_rotate_mb;
	unsigned int record_rotate_s;	/* 0: by size only */
	unsigned int record_keep_files;	/* 0: keep all */

	/* session records */
	unsigned int sessions_keep;	/* closed records kept in memory */
	char sessions_log[PS_PATH_MAX];	/* JSON lines, "" for none */
	unsigned int sessions_log_rotate_mb;	/* rotate the log at this size, 0: never */
	unsigned int sessions_log_keep;		/* rotated files kept: FILE.1 .. FILE.N */
	char sessions_syslog[PS_PATH_MAX];	/* "udp://IP:PORT", "tcp://[IPv6]:PORT", "" none */
	unsigned int sessions_syslog_facility;	/* 0..23, default 16 (local0) */

	/* control */
	char socket_path[PS_SOCKET_PATH_MAX];

	/* logging */
	enum ps_log_level log_level;
};

/*
 * Fill cfg with the documented defaults (see docs/config.md). Used by the
 * loader before it applies the file; exposed for tests.
 */
void ps_config_defaults(struct ps_config *cfg);

/*
 * Parse and validate a configuration held in memory.
 *   text/len: the JSON bytes (need not be NUL-terminated); name: the file
 *   name used in messages.
 * On success fills *cfg and returns 0. On failure returns a negative errno
 * (-EINVAL for any content problem) and writes exactly one line, without a
 * trailing newline, into err: "NAME:LINE:COL: what was expected" when
 * jansson gives a position, "NAME: JSON.PATH: what was expected" otherwise.
 * Safe to call from any thread; no global state.
 * On failure *cfg is left untouched, so a rejected reload keeps the running
 * configuration. err may be NULL or errlen 0 (no message); a message longer
 * than errlen is cut, still terminated. Texts over PS_CONFIG_FILE_MAX bytes
 * are refused.
 */
int ps_config_parse(const char *text, size_t len, const char *name,
		    struct ps_config *cfg, char *err, size_t errlen);

/*
 * Read FILE and ps_config_parse() it. An unreadable file is reported as
 * "FILE: cannot read: <strerror>" and returns the negative errno of the
 * failed open/read (e.g. -ENOENT); a file over PS_CONFIG_FILE_MAX bytes
 * returns -EINVAL. Borrows path, which becomes cfg->path and FILE in messages.
 */
int ps_config_load(const char *path, struct ps_config *cfg, char *err,
		   size_t errlen);

/* "net", "tool-oob", "tool-inline" */
const char *ps_port_role_name(enum ps_port_role role);

/* Index of the port named name in cfg->ports, or -1 (also for NULL). */
int ps_config_port_index(const struct ps_config *cfg, const char *name);

#endif /* PS_CONFIG_H */
