#!/usr/bin/env bash
# End to end: flow tracking of the intercept selector with two workers.
#
# The data plane runs two workers on af_packet ports with two queue pairs;
# TCP connections to the selected server ports get a flow on the worker that
# owns them (software dispatch by a symmetric flow hash), everything else is
# only bridged. Checks: data intact through dispatch, every connection
# counted open and closed, a full table follows the configured overflow
# behaviour (bypass: connections still work; drop: their SYNs are dropped),
# unselected traffic untouched.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=f$(($$ % 1000000))	# unique: runs may overlap
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
in_cli() { ip netns exec "$NS_CLI" "$@"; }

write_cfg() {	# file max_flows overflow
	cat >"$1" <<EOF
{
	"lcores": {"main": 0, "workers": [1, 2]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$T_TOPO"},
	"mempool": {"mbufs": 4095, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "seg0", "side": "a",
		 "device": "net_af_packet0,iface=net-a,qpairs=2,framesz=16384,blocksz=16384"},
		{"name": "net-b", "role": "net", "segment": "seg0", "side": "b",
		 "device": "net_af_packet1,iface=net-b,qpairs=2,framesz=16384,blocksz=16384"},
		{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}
	],
	"limits": {"max_flows": $2},
	"intercept": {"tcp_ports": [5001, 5002], "overflow": "$3", "idle_timeout_s": 60},
	"control": {"socket": "$T_TMP/dp.sock"}
}
EOF
}
SOCK=$T_TMP/dp.sock

# Echo server on 5002 (selected) and 5003 (not selected), bulk sink on 5001.
bg "$NS_SRV" "$T_TMP/echo2.log" socat TCP-LISTEN:5002,bind=$SRV4,fork,reuseaddr,backlog=256 EXEC:cat
bg "$NS_SRV" "$T_TMP/echo3.log" socat TCP-LISTEN:5003,bind=$SRV4,fork,reuseaddr EXEC:cat

# held_clients N PORT [HOLD [CONNECT_TIMEOUT]]: N concurrent connections,
# each sends one line, holds the connection HOLD s (3), and records the echo;
# prints how many got it back.
held_clients() {
	local n=$1 port=$2 hold=${3:-3} cto=${4:-4} i
	rm -f "$T_TMP"/held.*
	for i in $(seq "$n"); do
		in_cli sh -c "(echo client-$i; sleep $hold) | timeout 20 socat -t 2 - TCP:$SRV4:$port,connect-timeout=$cto" \
			>"$T_TMP/held.$i" 2>/dev/null &
	done
	wait_for 30 sh -c "! pgrep -f 'socat -t 2 - TCP:$SRV4:$port' >/dev/null"
	local got=0
	for i in $(seq "$n"); do
		grep -qx "client-$i" "$T_TMP/held.$i" && got=$((got + 1))
	done
	echo "$got"
}

write_cfg "$T_TMP/bypass.json" 64 bypass
dp_up "$T_TMP/bypass.json" "plainsight-dp starts with two workers"
check "two workers, two rx queues per net port, software dispatch (af_packet has no RSS)" \
	sh -c "'$PS_CTL' --socket '$SOCK' --json status | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not (len(r[\"workers\"]) == 2 and r[\"ports\"][0][\"rx_queues\"] == 2 and r[\"dispatch\"] == \"software\" and not r[\"ports\"][0][\"rss\"]))'"

# Bulk data through a tracked, dispatched flow.
head -c $((50 * 1024 * 1024)) /dev/urandom >"$T_TMP/big.bin"
bg "$NS_SRV" "$T_TMP/sink.log" timeout 120 socat -u TCP-LISTEN:5001,bind=$SRV4,reuseaddr OPEN:"$T_TMP/big.out",creat,trunc
SINK=$T_LAST_PID
sleep 0.3
in_cli timeout 120 socat -u OPEN:"$T_TMP/big.bin" TCP:$SRV4:5001
wait "$SINK" 2>/dev/null
check "50 MB over a selected port, sha256 equal at both ends" \
	test "$(sha256sum <"$T_TMP/big.bin" | cut -d' ' -f1)" = "$(sha256sum <"$T_TMP/big.out" | cut -d' ' -f1)"
check "the transfer's flow was opened and closed" \
	wait_for 5 stats "'ok' if r['flows']['flows_opened'] == 1 and r['flows']['flows_closed'] + r['flows']['flows_reset'] == 1 else sys.exit(1)"

# 100 concurrent connections held 8 s, 64 flows of room: the rest are
# bypassed (the bridge carries them untracked).
got=$(held_clients 100 5002 8)
check "bypass: all 100 concurrent connections echo (got $got)" test "$got" = 100
stats "r['flows']" | sed 's/^/# /'
check "bypass: opened + table_full_bypassed = 101, the table filled" \
	stats "'ok' if r['flows']['flows_opened'] + r['flows']['table_full_bypassed'] == 101 and r['flows']['table_full_bypassed'] > 0 else sys.exit(1)"
check "every tracked flow ended (closed or reset), none active" \
	wait_for 10 stats "'ok' if r['flows']['flows_active'] == 0 and r['flows']['flows_closed'] + r['flows']['flows_reset'] == r['flows']['flows_opened'] else sys.exit(1)"
check "dispatch: segments crossed between workers, none lost" \
	stats "'ok' if r['flows']['dispatched_out'] > 0 and r['flows']['dispatched_in'] == r['flows']['dispatched_out'] else sys.exit(1)"

# Unselected traffic: no flow.
before=$(stats "r['flows']['flows_opened']")
got=$(held_clients 10 5003)
check "unselected port 5003: 10 connections echo, no flow opened" \
	sh -c "test '$got' = 10 && test \"\$(ctl_json() { '$PS_CTL' --socket '$SOCK' --json stats; }; ctl_json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"flows\"][\"flows_opened\"])')\" = '$before'"
check "ping still crosses" in_cli ping -c 2 -i 0.2 -W 2 "$SRV4"
stop_pid "$DP_PID"

# Overflow "drop": 4 flows of room (2 per worker); the other SYNs are dropped.
write_cfg "$T_TMP/drop.json" 4 drop
if start_dp "$NS_DP" "$T_TMP/drop.json" "$SOCK"; then
	# Held 6 s, connect timeout 2.5 s: a dropped SYN's retries (1 s, 3 s)
	# cannot find room freed by a finished connection.
	got=$(held_clients 10 5002 6 2.5)
	check "drop: only connections with a flow succeed (got $got)" \
		stats "'ok' if r['flows']['flows_opened'] == $got and 1 <= $got <= 4 else sys.exit(1)"
	check "drop: the others' SYNs were dropped and counted" \
		stats "'ok' if r['flows']['table_full_dropped'] >= 10 - $got else sys.exit(1)"
	stats "r['flows']" | sed 's/^/# /'
	stop_pid "$DP_PID"
else
	t_fail "plainsight-dp restarts with overflow drop"
fi

exit $((T_FAILED > 0))
