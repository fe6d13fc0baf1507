#!/usr/bin/env bash
# End to end: the TCP proxy on a bad network, on both sides.
#
#   client ── [wana: impair.py + nftables] ── plainsight-dp ── [wanb: same] ── server
#
# In each WAN namespace a small AF_PACKET bridge (tests/e2e/impair.py) holds
# back 3% of the frames by 2-6 ms (delay, jitter, reordering) and nftables
# netdev egress chains drop 2% and duplicate 2% of what leaves each
# interface: every direction on both sides of the appliance is impaired.
# Checks: proxied transfers both ways stay intact, the appliance saw
# reordering, duplicates and losses and recovered, bridged traffic through
# the same network also stays intact.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=q$(($$ % 1000000))	# unique: runs may overlap
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" wan || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock

for ns in "$NS_WANA" "$NS_WANB"; do
	bg "$ns" "$T_TMP/$ns.impair.log" python3 "$PS_ROOT/tests/e2e/impair.py" c0 d0 \
		--reorder 3 --delay-ms 2 --jitter-ms 4 --seed $RANDOM
	ip netns exec "$ns" nft -f - <<EON || t_fail "nftables impairment in $ns"
table netdev impair {
	chain c0 { type filter hook egress device "c0" priority 0; numgen random mod 100 < 2 drop; numgen random mod 100 < 2 dup to "c0"; }
	chain d0 { type filter hook egress device "d0" priority 0; numgen random mod 100 < 2 drop; numgen random mod 100 < 2 dup to "d0"; }
}
EON
done

dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}' - <<EOF
	"intercept": {"tcp_ports": [5001, 5002]}
EOF
dp_up "$T_TMP/dp.json" "plainsight-dp starts"
check "ping crosses the impaired path" ip netns exec "$NS_CLI" ping -c 5 -i 0.2 -W 2 "$SRV4"

make_bulk_files "${PS_FAULTS_MB:-20}"
bulk "reorder+loss+dup, proxied"
stats "r['tcp']" | sed 's/^/# tcp: /'
check "the appliance's endpoints saw out-of-order segments" \
	stats "'ok' if r['tcp']['ooo_segs'] > 0 else sys.exit(1)"
check "the appliance's endpoints saw duplicates and retransmitted losses" \
	stats "'ok' if r['tcp']['dup_segs'] > 0 and r['tcp']['retransmits'] > 0 else sys.exit(1)"
# A flow may end with a reset: after the transfer, a retransmitted FIN can
# meet a socket the host already closed, which answers with RST.
check "both proxied flows ended, none left" \
	wait_for 10 stats "'ok' if r['flows']['flows_closed'] + r['flows']['flows_reset'] == 2 and r['flows']['flows_active'] == 0 else sys.exit(1)"

# The same faults on the bridged path: Linux TCP end to end copes.
bg "$NS_SRV" "$T_TMP/plain.log" timeout 120 socat -u TCP-LISTEN:7001,bind=$SRV4,reuseaddr OPEN:"$T_TMP/plain.out",creat,trunc
PLAIN=$T_LAST_PID
sleep 0.3
ip netns exec "$NS_CLI" timeout 120 socat -u OPEN:"$T_TMP/up.bin" TCP:$SRV4:7001
wait "$PLAIN"
check "bridged transfer through the same faults intact" test "$(sha_of "$T_TMP/up.bin")" = "$(sha_of "$T_TMP/plain.out")"

stop_pid "$DP_PID"
for p in "${T_PIDS[@]}"; do stop_pid "$p"; done
grep -h 'impair:' "$T_TMP"/*.impair.log | sed 's/^/# /'
exit $((T_FAILED > 0))
