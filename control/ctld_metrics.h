/* SPDX-License-Identifier: BSD-3-Clause
 * plainsight-controld: the data plane's counters in the Prometheus text
 * exposition format (version 0.0.4), built at scrape time from the control
 * socket's replies. docs/metrics.md lists every metric.
 */
#ifndef CTLD_METRICS_H
#define CTLD_METRICS_H

#include <jansson.h>

#include "ctld_buf.h"

#define CTLD_METRICS_CTYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * Ask the data plane at sock for stats, policy_show and sessions, spending
 * at most budget_ms on all of them, and append the page to out. When stats
 * cannot be had the page is "plainsight_up 0" alone, so a scrape never
 * shows stale or partial counters as current. Returns 1 when the data plane
 * answered, 0 when not.
 */
int ctld_metrics_scrape(const char *sock, int budget_ms, struct ctld_buf *out);

/*
 * The page for these replies (borrowed; policy, sessions and tools may be
 * NULL when those requests failed): plainsight_up 1 and every series. Pure.
 */
void ctld_metrics_render(json_t *stats, json_t *policy, json_t *sessions, json_t *tools,
			 struct ctld_buf *out);

#endif /* CTLD_METRICS_H */
