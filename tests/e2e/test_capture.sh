#!/usr/bin/env bash
# End to end: plainsight-ctl capture. The data plane bridges client and
# server; a capture of net-a filtered on the server's IPv4 address takes
# ping and a TCP exchange (both directions: what net-a receives and what
# it sends), stops at its frame count, and the file opens in tshark with
# only that host's frames, mode 0600. A second capture while one runs is
# refused, so is a file that exists; a capture with nothing to match ends
# at its time limit with a valid empty file; a port filter keeps one TCP
# port; bad arguments exit 2; stats count the captures.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=k$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }
ctl() { "$PS_CTL" --socket "$SOCK" "$@"; }
# frames FILE [FILTER]: frames of a pcap (matching a tshark display filter).
frames() { timeout 120 tshark -n -r "$1" ${2:+-Y "$2"} 2>/dev/null | wc -l; }

cat >"$T_TMP/dp.json" <<EOF
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$T_TOPO"},
	"mempool": {"mbufs": 4095, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "device": "net_af_packet0,iface=net-a,framesz=16384,blocksz=16384",
		 "role": "net", "segment": "seg0", "side": "a"},
		{"name": "net-b", "device": "net_af_packet1,iface=net-b,framesz=16384,blocksz=16384",
		 "role": "net", "segment": "seg0", "side": "b"}
	],
	"control": {"socket": "$SOCK"}
}
EOF
if ! start_dp "$NS_DP" "$T_TMP/dp.json" "$SOCK"; then
	t_fail "plainsight-dp starts"
	exit 1
fi
check "bridge: ping before any capture" in_cli ping -c 2 -i 0.2 -W 2 "$SRV4"

# tcp_exchange PORT: one TCP connection client -> server:PORT, a line each way.
tcp_exchange() {
	bg "$NS_SRV" "$T_TMP/srv$1.log" timeout 20 socat -T 5 TCP-LISTEN:"$1",bind=$SRV4,reuseaddr \
		SYSTEM:'read l; echo "pong $l"'
	local srv=$T_LAST_PID
	sleep 0.3
	in_cli sh -c "echo ping$1 | timeout 10 socat -T 5 - TCP:$SRV4:$1" >"$T_TMP/cli$1.out" 2>&1
	wait "$srv" 2>/dev/null
}

# --- usage errors: exit 2 before or at the data plane ---------------------------
for bad in "--port net-a" "-w $T_TMP/x.pcap" "--port net-a -w $T_TMP/x.pcap --count 0" \
	"--port net-a -w $T_TMP/x.pcap --count 100001" "--port net-a -w $T_TMP/x.pcap --seconds 301" \
	"--port net-a -w $T_TMP/x.pcap --host 198.18.0.300" \
	"--port net-a -w $T_TMP/x.pcap --tcp-port 70000" "--port net-a -w $T_TMP/x.pcap extra"; do
	# shellcheck disable=SC2086
	ctl capture $bad >/dev/null 2>"$T_TMP/err"
	check "usage: capture $bad exits 2" test $? = 2
done
ctl capture --port net-z -w "$T_TMP/x.pcap" >/dev/null 2>"$T_TMP/err"
check "usage: an unknown port is named by the data plane, exit 2" \
	sh -c "[ $? = 2 ] && grep -q 'unknown port \"net-z\"' '$T_TMP/err'"
check "usage: nothing was created" test ! -e "$T_TMP/x.pcap"

# --- a host capture, stopped by its count ---------------------------------------
A=$T_TMP/a.pcap
bg "" "$T_TMP/a.log" "$PS_CTL" --socket "$SOCK" capture --port net-a --host "$SRV4" \
	--count 20 --seconds 30 -w "$A"
CAP_A=$T_LAST_PID
check "capture A is armed" wait_for 5 sh -c "'$PS_CTL' --socket '$SOCK' --json stats |
	python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"capture\"][\"running\"] == 1 else 1)'"

ctl capture --port net-b -w "$T_TMP/b.pcap" --seconds 2 >/dev/null 2>"$T_TMP/err"
RC=$?
check "a second capture while one runs: refused, exit 1" \
	sh -c "[ $RC = 1 ] && grep -q 'already running' '$T_TMP/err'"
check "the refused capture created no file" test ! -e "$T_TMP/b.pcap"

# IPv6 (no IPv4 address at all) must not match, IPv4 ping and TCP must.
in_cli ping -6 -c 3 -i 0.2 -W 2 "$SRV6" >/dev/null 2>&1
in_cli ping -c 8 -i 0.2 -W 2 "$SRV4" >/dev/null 2>&1
tcp_exchange 8080
check "TCP exchange through the bridge during the capture" grep -qx "pong ping8080" "$T_TMP/cli8080.out"
wait_for 15 sh -c "! kill -0 $CAP_A 2>/dev/null"
wait "$CAP_A"
RC=$?
check "capture A exits 0" test "$RC" = 0
check "capture A reports 20 frames written, none dropped" \
	grep -qxF "20 frames written to $A (0 dropped)" "$T_TMP/a.log"
check "the file opens with tshark" timeout 120 tshark -n -r "$A" -c 1
check "count limit: exactly 20 frames" test "$(frames "$A")" = 20
check "host filter: every frame is from or to $SRV4" test "$(frames "$A" "not ip.addr == $SRV4")" = 0
check "both directions: received on net-a (to the server) and sent (from it)" \
	test "$(frames "$A" "ip.dst == $SRV4")" -gt 0 -a "$(frames "$A" "ip.src == $SRV4")" -gt 0
check "ICMP echo frames captured" test "$(frames "$A" "icmp.type == 8")" -gt 0
check "file mode 0600" test "$(stat -c %a "$A")" = 600
check "timestamps are wall clock (within the last minute)" \
	python3 -c "
import struct, sys, time
d = open('$A', 'rb').read()
sec = struct.unpack_from('<I', d, 24)[0]
sys.exit(0 if abs(time.time() - sec) < 60 else 1)"

# --- an existing file is never overwritten --------------------------------------
SIZE=$(stat -c %s "$A")
ctl capture --port net-a -w "$A" --seconds 1 >/dev/null 2>"$T_TMP/err"
RC=$?
check "a capture to an existing file: refused, exit 1" sh -c "[ $RC = 1 ] && grep -q 'exists' '$T_TMP/err'"
check "the existing file is untouched" test "$(stat -c %s "$A")" = "$SIZE"

# --- nothing matches: the time limit ends it ------------------------------------
E=$T_TMP/empty.pcap
T0=$(date +%s.%N)
ctl capture --port net-a --host 198.18.0.77 --seconds 2 -w "$E" >"$T_TMP/e.out" 2>&1
RC=$?
T1=$(date +%s.%N)
check "time limit: exit 0, 0 frames" sh -c "[ $RC = 0 ] && grep -qxF '0 frames written to $E (0 dropped)' '$T_TMP/e.out'"
check "time limit: ended after 2 s (within 2..6 s)" \
	python3 -c "import sys; sys.exit(0 if 2 <= $T1 - $T0 < 6 else 1)"
check "time limit: an empty but valid pcap" sh -c "timeout 120 tshark -n -r '$E' >/dev/null 2>&1 && [ \$(timeout 120 tshark -n -r '$E' 2>/dev/null | wc -l) = 0 ]"

# --- a port filter, relative path, on the other port ----------------------------
P=c.pcap
bg "" "$T_TMP/c.log" sh -c "cd '$T_TMP' && exec '$PS_CTL' --socket '$SOCK' capture --port net-b \
	--tcp-port 8081 --seconds 3 -w $P"
CAP_C=$T_LAST_PID
wait_for 5 sh -c "'$PS_CTL' --socket '$SOCK' --json stats | grep -q '\"running\": 1'"
in_cli ping -c 3 -i 0.2 -W 2 "$SRV4" >/dev/null 2>&1
tcp_exchange 8081
wait "$CAP_C"
check "port capture exits 0, the relative path made absolute" \
	sh -c "[ $? = 0 ] && grep -q ' frames written to $T_TMP/$P ' '$T_TMP/c.log'"
check "port filter: TCP frames of port 8081 captured" test "$(frames "$T_TMP/$P" "tcp.port == 8081")" -gt 3
check "port filter: nothing else" test "$(frames "$T_TMP/$P" "not tcp.port == 8081")" = 0

# --- interrupted: the capture is stopped, the file complete ----------------------
I=$T_TMP/int.pcap
bg "" "$T_TMP/int.log" "$PS_CTL" --socket "$SOCK" capture --port net-a --seconds 60 -w "$I"
CAP_I=$T_LAST_PID
wait_for 5 sh -c "'$PS_CTL' --socket '$SOCK' --json stats | grep -q '\"running\": 1'"
in_cli ping -c 2 -i 0.2 -W 2 "$SRV4" >/dev/null 2>&1
kill -INT "$CAP_I"
wait_for 5 sh -c "! kill -0 $CAP_I 2>/dev/null"
wait "$CAP_I"
RC=$?
check "interrupted: the ctl stops the capture and exits 0 at once" \
	sh -c "[ $RC = 0 ] && grep -q ' frames written to $I ' '$T_TMP/int.log'"
check "interrupted: the file holds the ping (>= 4 frames) and opens" \
	test "$(frames "$I" icmp)" -ge 4

# --- counters -------------------------------------------------------------------
check "stats: 4 captures started, 1 refused as busy" \
	test "$(stats "r['capture']['started'], r['capture']['refused_busy'], r['capture']['running']")" = "4 1 0"
check "stats: frames_written is the sum of the files" \
	test "$(stats "r['capture']['frames_written']")" = "$((20 + $(frames "$T_TMP/$P") + $(frames "$I")))"
ctl stats >"$T_TMP/stats.txt" 2>&1
check "plainsight-ctl stats shows the capture counters" \
	sh -c "grep -qx 'packet captures (non-zero):' '$T_TMP/stats.txt' &&
	       grep -qE '^  started +4\$' '$T_TMP/stats.txt'"
check "bridge: ping after the captures" in_cli ping -c 2 -i 0.2 -W 2 "$SRV4"

stop_pid "$DP_PID"
check "plainsight-dp stopped cleanly" sh -c "! grep -qi 'panic\|segmentation' '$T_TMP/dp.log'"
exit $((T_FAILED > 0))
