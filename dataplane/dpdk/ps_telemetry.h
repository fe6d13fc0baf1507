/* SPDX-License-Identifier: BSD-3-Clause
 * The data plane's commands in DPDK telemetry (docs/metrics.md):
 * /plainsight/status, /plainsight/stats[,FAMILY] and /plainsight/policy,
 * the same numbers as the control socket's status, stats and policy_show,
 * for dpdk-telemetry.py and any client of the telemetry socket.
 */
#ifndef PS_TELEMETRY_H
#define PS_TELEMETRY_H

struct ps_dp;

/*
 * Register the commands for dp (borrowed: it must stay valid until the
 * process exits; the callbacks answer "stopping" once dp->quit is set).
 * Main lcore, once, after the workers and the ports exist. Returns 0 or a
 * negative errno (a registration refused by the telemetry library).
 */
int ps_telemetry_init(struct ps_dp *dp);

#endif /* PS_TELEMETRY_H */
