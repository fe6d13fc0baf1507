#!/usr/bin/env bash
# End to end: the transparent TCP proxy with real Linux TCP on both ends.
#
# Selected connections are terminated by the appliance (two TCP endpoints
# per flow, two workers); checks: 200 MB each way intact, the two sides are
# really separate connections (own ISNs), a closed server port resets the
# client, a silent server resets the client after the configured SYN
# retries, an abort on either side resets the other, 1000 concurrent
# connections, unselected traffic still bridged, then the same bulk
# transfers with 2% loss and 2% duplication on both sides.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=p$(($$ % 1000000))	# unique: runs may overlap
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
KIT="python3 $PS_ROOT/tests/e2e/tcpkit.py"
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }
flow() { stats "r['flows']['$1']"; }

dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}' - <<EOF
	"limits": {"max_flows": 4096},
	"intercept": {"tcp_ports": [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008]},
	"tcp": {"syn_retries": 2}
EOF
dp_up "$T_TMP/dp.json" "plainsight-dp starts"

MB=${PS_PROXY_MB:-200}
make_bulk_files "$MB"
# Separate connections: the SYN the server sees is the appliance's, not
# the client's (another ISN), and it left before the client was answered.
bg "$NS_CLI" "$T_TMP/syn-cli.log" tcpdump -n -S -l -i eth0 -Q out -c 1 'tcp port 5001 and tcp[tcpflags] & tcp-syn != 0'
SYN_CLI=$T_LAST_PID
bg "$NS_SRV" "$T_TMP/syn-srv.log" tcpdump -n -S -l -i eth0 -Q in -c 1 'tcp port 5001 and tcp[tcpflags] & tcp-syn != 0'
SYN_SRV=$T_LAST_PID
sleep 1
bulk "clean path"
wait_for 5 sh -c "! kill -0 $SYN_CLI 2>/dev/null && ! kill -0 $SYN_SRV 2>/dev/null"
seq_of() { grep -o 'seq [0-9]*' "$1" | head -1 | cut -d' ' -f2; }
c=$(seq_of "$T_TMP/syn-cli.log") s=$(seq_of "$T_TMP/syn-srv.log")
check "terminated: the server's SYN carries the appliance's ISN ($s), not the client's ($c)" \
	sh -c "test -n '$c' && test -n '$s' && test '$c' != '$s'"
check "both bulk flows closed cleanly" \
	wait_for 10 stats "'ok' if r['flows']['flows_closed'] >= 2 and r['flows']['flows_active'] == 0 else sys.exit(1)"

# IPv6 through the proxy.
before=$(flow flows_opened)
bg "$NS_SRV" "$T_TMP/v6.log" timeout 60 socat -u TCP6-LISTEN:5008,bind=[$SRV6],reuseaddr OPEN:"$T_TMP/v6.out",creat,trunc
V6=$T_LAST_PID
sleep 0.3
head -c $((20 * 1024 * 1024)) "$T_TMP/up.bin" >"$T_TMP/v6.bin"
in_cli timeout 60 socat -u OPEN:"$T_TMP/v6.bin" TCP6:[$SRV6]:5008
wait "$V6"
check "IPv6: 20 MB through the proxy, sha256 equal" test "$(sha_of "$T_TMP/v6.bin")" = "$(sha_of "$T_TMP/v6.out")"
check "IPv6: the connection was proxied" stats "'ok' if r['flows']['flows_opened'] == $before + 1 else sys.exit(1)"

# Closed port: the server's RST reaches the client as a refusal.
out=$(in_cli $KIT connect "$SRV4" 5003 10)
check "closed server port: client refused ($out)" sh -c "echo '$out' | grep -q '^refused'"

# Silent server: no host answers at 198.18.0.3 (the server namespace drops
# it). With syn_retries 2 the proxy gives up after 1+2+4 s and resets.
SRV_MAC=$(in_srv cat /sys/class/net/eth0/address)
in_cli ip neigh replace 198.18.0.3 lladdr "$SRV_MAC" dev eth0
out=$(in_cli $KIT connect 198.18.0.3 5004 20)
check "silent server: client reset after the SYN retries ($out)" \
	sh -c "echo '$out' | awk '{ exit !(\$1 == \"refused\" && \$2 >= 6 && \$2 <= 12) }'"

# Client aborts mid-transfer: the server sees a reset.
bg "$NS_SRV" "$T_TMP/rst1.log" $KIT read-until-reset "$SRV4" 5005 10
sleep 0.1
stop_pid "$T_LAST_PID"
bg "$NS_SRV" "$T_TMP/zero.log" timeout 20 socat -u OPEN:/dev/zero TCP-LISTEN:5005,bind=$SRV4,reuseaddr
ZERO=$T_LAST_PID
sleep 0.3
in_cli $KIT rst-client "$SRV4" 5005 1000000
wait "$ZERO"
rc=$?
check "client abort: the server's write fails (socat exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
# Server aborts mid-transfer: the client sees a reset.
bg "$NS_SRV" "$T_TMP/rst2.log" $KIT rst-server "$SRV4" 5006 100000
sleep 0.3
out=$(in_cli $KIT read-until-reset "$SRV4" 5006 10)
check "server abort: the client is reset ($out)" test "$out" = reset

# 1000 concurrent connections through the proxy.
before=$(flow flows_opened)
bg "$NS_SRV" "$T_TMP/echo.log" $KIT echo-server "$SRV4" 5007
ECHO=$T_LAST_PID
sleep 0.5
out=$(in_cli $KIT storm "$SRV4" 5007 1000 60)
check "1000 concurrent connections echo ($out)" test "$out" = "ok 1000"
check "1000 flows opened, all ended" \
	wait_for 15 stats "'ok' if r['flows']['flows_opened'] - $before == 1000 and r['flows']['flows_active'] == 0 else sys.exit(1)"
stop_pid "$ECHO"

# Unselected port: bridged, untouched.
before=$(flow flows_opened)
bg "$NS_SRV" "$T_TMP/plain.log" timeout 60 socat -u TCP-LISTEN:7001,bind=$SRV4,reuseaddr OPEN:"$T_TMP/plain.out",creat,trunc
P=$T_LAST_PID
sleep 0.3
head -c $((10 * 1024 * 1024)) "$T_TMP/up.bin" >"$T_TMP/plain.bin"
in_cli timeout 60 socat -u OPEN:"$T_TMP/plain.bin" TCP:$SRV4:7001
wait "$P"
check "unselected port: 10 MB bridged intact, no flow" \
	sh -c "test '$(sha_of "$T_TMP/plain.bin")' = \"\$(sha256sum <'$T_TMP/plain.out' | cut -d' ' -f1)\" && test \"\$('$PS_CTL' --socket '$SOCK' --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"flows\"][\"flows_opened\"])')\" = '$before'"

# 2% loss on every direction (ingress drop on both hosts and both data-plane
# ports) and 2% duplication of what each host sends (egress dup).
impair() {	# ns dev
	ip netns exec "$1" nft -f - <<EON
table netdev impair {
	chain in { type filter hook ingress device "$2" priority 0; numgen random mod 100 < 2 drop; }
	chain out { type filter hook egress device "$2" priority 0; numgen random mod 100 < 2 dup to "$2"; }
}
EON
}
if impair "$NS_CLI" eth0 && impair "$NS_SRV" eth0 &&
	ip netns exec "$NS_DP" nft -f - <<EON
table netdev impair {
	chain a { type filter hook ingress device "net-a" priority 0; numgen random mod 100 < 2 drop; }
	chain b { type filter hook ingress device "net-b" priority 0; numgen random mod 100 < 2 drop; }
}
EON
then
	t_ok "2% loss and duplication configured (nftables netdev)"
	MB=${PS_PROXY_LOSSY_MB:-20}
	make_bulk_files "$MB"
	bulk "lossy path"
	stats "r['tcp']" | sed 's/^/# tcp: /'
	check "lossy path: the appliance retransmitted" \
		stats "'ok' if r['tcp']['retransmits'] > 0 else sys.exit(1)"
else
	t_fail "2% loss and duplication configured (nftables netdev)"
fi

stop_pid "$DP_PID"
exit $((T_FAILED > 0))
