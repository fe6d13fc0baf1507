/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-dp: the data-plane process.
 *
 *   plainsight-dp --config FILE [--socket PATH] [--check]
 *
 * Loads and validates the configuration before EAL sees anything, turns it
 * into EAL arguments, starts the ports and the workers, serves the control
 * socket, and stops cleanly on SIGINT/SIGTERM. Only this file exits.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "ps_capture.h"
#include "ps_config.h"
#include "ps_decide.h"
#include "ps_dp.h"
#include "ps_record.h"
#include "ps_telemetry.h"
#include "ps_version.h"

#define EAL_ARGV_MAX	(16 + 2 * PS_PORTS_MAX + PS_EAL_ARGS_MAX)

static struct ps_dp *the_dp;

static void
on_signal(int sig)
{
	(void)sig;
	if (the_dp != NULL)
		__atomic_store_n(&the_dp->quit, 1, __ATOMIC_RELAXED);
}

/* SIGHUP: logrotate renamed the session log; the next drain reopens it. */
static void
on_hangup(int sig)
{
	(void)sig;
	if (the_dp != NULL && the_dp->sessions_on)
		ps_sess_log_reopen(&the_dp->sessions);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: plainsight-dp --config FILE [--socket PATH] [--check]\n"
		"\n"
		"  -c, --config FILE   appliance configuration (JSON, see docs/config.md)\n"
		"  -s, --socket PATH   control socket (overrides control.socket)\n"
		"      --check         validate the configuration and exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this text\n");
}

/* EAL arguments live in one static arena: EAL keeps pointers into argv. */
struct eal_argv {
	int argc;
	char *argv[EAL_ARGV_MAX];
	char arena[EAL_ARGV_MAX][PS_DEV_MAX + 16];
};

static int
eal_add(struct eal_argv *ea, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
eal_add(struct eal_argv *ea, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ea->argc >= EAL_ARGV_MAX - 1)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(ea->arena[ea->argc], sizeof(ea->arena[0]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(ea->arena[0]))
		return -ENAMETOOLONG;
	ea->argv[ea->argc] = ea->arena[ea->argc];
	ea->argc++;
	ea->argv[ea->argc] = NULL;
	return 0;
}

static int
eal_build(const struct ps_config *cfg, const char *prog, struct eal_argv *ea)
{
	static const char *const levels[] = {
		[PS_LOG_ERR] = "error", [PS_LOG_WARNING] = "warning",
		[PS_LOG_NOTICE] = "notice", [PS_LOG_INFO] = "info",
		[PS_LOG_DEBUG] = "debug",
	};
	char lcores[24 * (PS_WORKERS_MAX + 1)];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool any_pci = false;
	size_t off = 0;
	unsigned int i;
	int rc = 0;

	/* lcore ID@CPU. An lcore ID beyond the machine's CPUs shares a CPU
	 * (ID mod CPUs): fine for trials on small machines, announced at start,
	 * never what a production box with enough cores gets. */
	if (ncpu < 1)
		ncpu = 1;
	for (i = 0; i <= cfg->n_workers && off < sizeof(lcores); i++) {
		unsigned int id = i == 0 ? cfg->main_lcore : cfg->workers[i - 1];

		off += (size_t)snprintf(lcores + off, sizeof(lcores) - off,
					"%s%u@%lu", i == 0 ? "" : ",", id,
					(unsigned long)id % (unsigned long)ncpu);
		if (id >= (unsigned long)ncpu)
			printf("plainsight-dp: lcore %u shares CPU %lu (this machine "
			       "has %ld CPUs)\n", id, (unsigned long)id % (unsigned long)ncpu,
			       ncpu);
	}

	ea->argc = 0;
	rc |= eal_add(ea, "%s", prog);
	rc |= eal_add(ea, "--lcores=%s", lcores);
	rc |= eal_add(ea, "--main-lcore=%u", cfg->main_lcore);
	rc |= eal_add(ea, "-m");
	rc |= eal_add(ea, "%u", cfg->memory_mb);
	if (!cfg->hugepages)
		rc |= eal_add(ea, "--no-huge");
	rc |= eal_add(ea, "--file-prefix=%s", cfg->file_prefix);
	rc |= eal_add(ea, "--log-level=%s",
		      cfg->log_level >= PS_LOG_DEBUG ? "debug" : "notice");
	rc |= eal_add(ea, "--log-level=user1:%s", levels[cfg->log_level]);
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].is_pci) {
			any_pci = true;
			rc |= eal_add(ea, "-a");
		} else {
			rc |= eal_add(ea, "--vdev");
		}
		rc |= eal_add(ea, "%s", cfg->ports[i].device);
	}
	if (!any_pci)
		rc |= eal_add(ea, "--no-pci");
	for (i = 0; i < cfg->n_eal_args; i++)
		rc |= eal_add(ea, "%s", cfg->eal_args[i]);
	return rc != 0 ? -E2BIG : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ps_config cfg;
	static struct eal_argv ea;
	static struct ps_dp dp;
	const char *config_path = NULL;
	const char *socket_path = NULL;
	struct ps_mgmt *mgmt = NULL;
	char err[512];
	bool check_only = false;
	unsigned int i;
	int opt, rc, status = EXIT_FAILURE;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:s:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'k':
			check_only = true;
			break;
		case 'V':
			printf("plainsight-dp %s\n", PS_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "plainsight-dp: %s: unknown option or "
				"missing argument (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plainsight-dp: unexpected argument \"%s\" "
			"(see --help)\n", argv[optind]);
		return 2;
	}
	if (config_path == NULL) {
		fprintf(stderr, "plainsight-dp: --config FILE is required "
			"(see --help)\n");
		return 2;
	}

	rc = ps_config_load(config_path, &cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: %s\n", err);
		return EXIT_FAILURE;
	}
	if (socket_path != NULL) {
		if (socket_path[0] != '/' ||
		    strlen(socket_path) >= sizeof(cfg.socket_path)) {
			fprintf(stderr, "plainsight-dp: --socket: expected an "
				"absolute path shorter than %zu bytes\n",
				sizeof(cfg.socket_path));
			return 2;
		}
		snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s",
			 socket_path);
	}
	if (cfg.policy_file[0] != '\0') {
		/* The policy's global settings override the configuration's. */
		static struct ps_pol_errors perr;
		struct ps_pol *pol = NULL;
		unsigned int e;

		rc = ps_pol_load(cfg.policy_file, &pol, &perr);
		if (rc == 0)
			rc = ps_policy_settings_to_config(pol, &cfg, err, sizeof(err));
		else if (perr.n == 0)
			snprintf(err, sizeof(err), "%.200s: cannot load the policy: %s",
				 cfg.policy_file, strerror(-rc));
		else
			err[0] = '\0';
		ps_pol_free(pol);
		if (rc < 0) {
			for (e = 0; e < perr.n; e++)
				fprintf(stderr, "plainsight-dp: %s\n", perr.msg[e]);
			if (err[0] != '\0')
				fprintf(stderr, "plainsight-dp: %s\n", err);
			return EXIT_FAILURE;
		}
	}
	/* Keys and certificates are checked with the configuration. */
	dp.cfg = &cfg;
	dp.checking = check_only;
	rc = ps_tls_start(&dp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: %s\n", err);
		ps_tls_stop(&dp);
		return EXIT_FAILURE;
	}
	if (check_only) {
		printf("%s: configuration OK (%u ports, %u workers%s)\n",
		       config_path, cfg.n_ports, cfg.n_workers,
		       dp.tls_on ? ", TLS interception" : "");
		ps_tls_stop(&dp);
		return EXIT_SUCCESS;
	}

	rc = eal_build(&cfg, argv[0], &ea);
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: too many EAL arguments\n");
		ps_tls_stop(&dp);
		return EXIT_FAILURE;
	}
	if (rte_eal_init(ea.argc, ea.argv) < 0) {
		fprintf(stderr, "plainsight-dp: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		ps_tls_stop(&dp);
		return EXIT_FAILURE;
	}

	dp.started = time(NULL);
	the_dp = &dp;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, on_hangup);

	dp.pool = rte_pktmbuf_pool_create("ps_pkt", cfg.mbufs, cfg.mbuf_cache,
					  0, (uint16_t)cfg.mbuf_data_size,
					  (int)rte_socket_id());
	if (dp.pool == NULL) {
		fprintf(stderr, "plainsight-dp: cannot create the packet pool "
			"(%u mbufs of %u bytes): %s; lower mempool.mbufs or raise "
			"eal.memory_mb\n", cfg.mbufs, cfg.mbuf_data_size,
			rte_strerror(rte_errno));
		goto out_eal;
	}
	rc = ps_sess_store_init(&dp.sessions, cfg.sessions_keep, cfg.sessions_log,
				err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: %s\n", err);
		goto out_pool;
	}
	dp.sessions_on = true;
	rc = ps_workers_create(&dp);
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: cannot allocate workers: %s\n",
			strerror(-rc));
		goto out_pool;
	}
	rc = ps_capture_init(&dp);	/* packet capture (ps_capture.h) */
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: cannot set up packet capture: %s\n", strerror(-rc));
		goto out_ports;
	}
	rc = ps_policy_init(&dp);
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: cannot set up policy readers: %s\n", strerror(-rc));
		goto out_ports;
	}
	if (cfg.policy_file[0] != '\0') {
		static struct ps_pol_errors perr;
		unsigned int e;

		rc = ps_policy_apply(&dp, cfg.policy_file, &perr, NULL);
		if (rc < 0) {
			for (e = 0; e < perr.n; e++)
				fprintf(stderr, "plainsight-dp: %s\n", perr.msg[e]);
			if (perr.n == 0)
				fprintf(stderr, "plainsight-dp: %s: cannot load the policy: %s\n",
					cfg.policy_file, strerror(-rc));
			goto out_ports;
		}
	}
	rc = ps_record_start(&dp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: %s\n", err);
		goto out_ports;
	}
	rc = ps_ports_start(&dp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: %s\n", err);
		goto out_ports;
	}
	{
		/* After the policy: its settings may name the syslog target. */
		const struct ps_sess_log_opts lo = {
			.rotate_bytes = (uint64_t)cfg.sessions_log_rotate_mb << 20,
			.keep = cfg.sessions_log_keep,
			.syslog_url = cfg.sessions_syslog,
			.syslog_facility = cfg.sessions_syslog_facility,
		};

		rc = ps_sess_log_setup(&dp.sessions, &lo, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "plainsight-dp: %s\n", err);
			goto out_ports;
		}
	}
	rc = ps_mgmt_start(&dp, cfg.socket_path, &mgmt, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "plainsight-dp: %s\n", err);
		goto out_ports;
	}
	/* The same counters for DPDK telemetry clients (docs/metrics.md). */
	if (ps_telemetry_init(&dp) < 0)
		fprintf(stderr, "plainsight-dp: warning: telemetry commands not registered\n");
	for (i = 0; i < dp.n_workers; i++) {
		rc = rte_eal_remote_launch(ps_worker_main, dp.workers[i],
					   dp.workers[i]->lcore);
		if (rc != 0) {
			fprintf(stderr, "plainsight-dp: cannot launch worker on "
				"lcore %u: %s\n", dp.workers[i]->lcore,
				strerror(-rc));
			__atomic_store_n(&dp.quit, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	if (!__atomic_load_n(&dp.quit, __ATOMIC_RELAXED)) {
		printf("plainsight-dp %s: running, %u ports, %u workers, control "
		       "socket %s\n", PS_VERSION, dp.n_ports, dp.n_workers,
		       cfg.socket_path);
		fflush(stdout);
		status = EXIT_SUCCESS;
	}
	while (!__atomic_load_n(&dp.quit, __ATOMIC_RELAXED)) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	rte_eal_mp_wait_lcore();
	ps_mgmt_stop(mgmt);
	printf("plainsight-dp: stopped\n");
out_ports:
	ps_capture_fini(&dp);	/* before the workers and dp->rcu go */
	ps_record_stop(&dp);
	ps_ports_stop(&dp);
	ps_workers_free(&dp);
	ps_policy_fini(&dp);
out_pool:
	if (dp.sessions_on)
		ps_sess_store_fini(&dp.sessions);
	rte_mempool_free(dp.pool);
out_eal:
	rte_eal_cleanup();
	ps_tls_stop(&dp);
	return status;
}
