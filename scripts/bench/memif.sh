#!/usr/bin/env bash
# Benchmark without the kernel: plainsight-dp on two net_memif ports, fed by
# ps-tgen (tests/bench/tgen.c), an in-process TCP source and sink built on
# plainsight's own TCP library. The same traffic through the plain bridge
# and through the TCP proxy, in one run, as ratios. Not a test.
#
#   scripts/bench/memif.sh [SECONDS [RESTARTS]]
#
# SECONDS per measurement (default 10). With RESTARTS (> 1), one more
# measurement: one proxying data plane, the connection generator run in
# RESTARTS rounds, each starting as a restarted generator would (in-flight
# connections forgotten, the same client ports again), so each round reuses
# the 4-tuples of the one before; every rate should be about the first.
# (Rounds inside one generator: restarting a net_memif peer while the data
# plane polls can crash DPDK 22.11's memif driver, see docs/performance.md.)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ps_install_deps
ps_build "$PS_ROOT/build"
B=$PS_ROOT/build
SECS=${1:-10}
RESTARTS=${2:-0}
TMP=$(mktemp -d /tmp/ps-memif.XXXXXX)
cleanup() {
	ps_dp_stop "$TMP/dp.log"
	rm -rf "$TMP"
}
trap cleanup EXIT

run_dp() {	# intercept ports as a JSON array
	rm -f "$TMP"/*.sock
	cat >"$TMP/dp.json" <<EOJ
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 256, "hugepages": false, "file_prefix": "ps-memif-$$"},
	"mempool": {"mbufs": 8191, "mbuf_data_size": 2176, "cache": 128},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "s", "side": "a",
		 "device": "net_memif0,role=server,socket=$TMP/a.sock"},
		{"name": "net-b", "role": "net", "segment": "s", "side": "b",
		 "device": "net_memif1,role=server,socket=$TMP/b.sock"}
	],
	"limits": {"max_flows": 262144},
	"intercept": {"tcp_ports": $1},
	"control": {"socket": "$TMP/dp.sock"}
}
EOJ
	ps_dp_start "" "$TMP/dp.json" "$TMP/dp.sock" "$TMP/dp.log"
}
stop_dp() { ps_dp_stop "$TMP/dp.log"; }
tgen() {	# bulk|conns [ROUNDS]: the rate of each round
	"$B/tests/bench/ps-tgen" -l 0 --no-huge -m 256 --no-pci --file-prefix "ps-tgen-$$" \
		--log-level=error \
		--vdev "net_memif0,role=client,socket=$TMP/a.sock" \
		--vdev "net_memif1,role=client,socket=$TMP/b.sock" -- "$1" "$SECS" "${2:-1}" 2>/dev/null
}

run_dp '[]'
b_gbps=$(tgen bulk)
b_cps=$(tgen conns)
stop_dp
run_dp '[80]'
p_gbps=$(tgen bulk)
stop_dp
# A fresh data plane: the bulk run's flows must not be in the way.
run_dp '[80]'
p_cps=$(tgen conns)
opened=$("$B/control/plainsight-ctl" --socket "$TMP/dp.sock" --json stats |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"]["flows_opened"])')
stop_dp

printf '%-34s %12s %12s %8s\n' "memif, 1 worker, $SECS s" bridge proxy ratio
printf '%-34s %12s %12s %7.0f%%\n' "throughput (Gbit/s, 4 streams)" "$b_gbps" "$p_gbps" \
	"$(python3 -c "print(100*$p_gbps/$b_gbps)")"
printf '%-34s %12s %12s %7.0f%%\n' "new connections/s (32 in flight)" "$b_cps" "$p_cps" \
	"$(python3 -c "print(100*$p_cps/$b_cps)")"
echo "(proxied flows opened during the proxy connection run: $opened)"

if [ "$RESTARTS" -gt 1 ]; then
	run_dp '[80]'
	rates=$(tgen conns "$RESTARTS" | tr '\n' ' ')
	stop_dp
	echo "new connections/s, one proxy, rounds reusing 4-tuples: $rates"
fi
