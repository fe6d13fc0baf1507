#!/usr/bin/env bash
# Benchmark on the end-to-end topology (veth + net_af_packet): the same
# traffic through the plain bridge and through the TCP proxy, in one run,
# reported as ratios. Not a test: numbers vary with the machine's load.
#
#   scripts/bench/veth.sh [SECONDS]      (default 10 per measurement)
#
# Throughput: iperf3, one stream, client -> server. New connections per
# second: a client that opens, exchanges one byte and closes connections
# back to back against an echo server for the same time.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
PS_PACKAGES+=(iperf3)
ps_install_deps
ps_build "$PS_ROOT/build"
CTL=$PS_ROOT/build/control/plainsight-ctl
SECS=${1:-10}
P=bench$(($$ % 1000))
TMP=$(mktemp -d /tmp/ps-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	ps_dp_stop "$TMP/dp.log"
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	"$PS_ROOT/scripts/topo.sh" down "$P"
	rm -rf "$TMP"
}
trap cleanup EXIT
"$PS_ROOT/scripts/topo.sh" up "$P"
eval "$("$PS_ROOT/scripts/topo.sh" env "$P")"
# The connection-rate client closes first: let it reuse TIME_WAIT ports.
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_port_range="1024 65535"

run_dp() {	# intercept ports as a JSON array
	cat >"$TMP/dp.json" <<EOJ
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$P"},
	"mempool": {"mbufs": 8191, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "s", "side": "a",
		 "device": "net_af_packet0,iface=net-a,framesz=16384,blocksz=16384"},
		{"name": "net-b", "role": "net", "segment": "s", "side": "b",
		 "device": "net_af_packet1,iface=net-b,framesz=16384,blocksz=16384"}
	],
	"limits": {"max_flows": 65536},
	"intercept": {"tcp_ports": $1},
	"control": {"socket": "$TMP/dp.sock"}
}
EOJ
	ps_dp_start "$NS_DP" "$TMP/dp.json" "$TMP/dp.sock" "$TMP/dp.log"
}
stop_dp() { ps_dp_stop "$TMP/dp.log"; }

ip netns exec "$NS_SRV" iperf3 -s -B "$SRV4" >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$NS_SRV" python3 "$PS_ROOT/tests/e2e/tcpkit.py" echo-server "$SRV4" 7 >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

gbps() {
	ip netns exec "$NS_CLI" iperf3 -c "$SRV4" -t "$SECS" -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
cps() {
	ip netns exec "$NS_CLI" python3 - "$SRV4" "$SECS" <<'EOPY'
import socket, sys, time
addr, secs = sys.argv[1], float(sys.argv[2])
n, end = 0, time.time() + secs
while time.time() < end:
    s = socket.create_connection((addr, 7), timeout=5)
    s.sendall(b"x")
    s.recv(1)
    s.close()
    n += 1
print("%.0f" % (n / secs))
EOPY
}

run_dp '[]'
b_gbps=$(gbps)
b_cps=$(cps)
stop_dp
run_dp '[5201, 7]'
p_gbps=$(gbps)
p_cps=$(cps)
opened=$("$CTL" --socket "$TMP/dp.sock" --json stats |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"]["flows_opened"])')
stop_dp

printf '%-28s %12s %12s %8s\n' "veth, 1 worker, $SECS s" bridge proxy ratio
printf '%-28s %12s %12s %7.0f%%\n' "throughput (Gbit/s)" "$b_gbps" "$p_gbps" \
	"$(python3 -c "print(100*$p_gbps/$b_gbps)")"
printf '%-28s %12s %12s %7.0f%%\n' "new connections/s" "$b_cps" "$p_cps" \
	"$(python3 -c "print(100*$p_cps/$b_cps)")"
echo "(proxied flows opened during the proxy run: $opened)"
