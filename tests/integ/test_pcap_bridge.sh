#!/usr/bin/env bash
# Integration: the real worker loop on net_pcap ports, no kernel in the path.
# Crafted frames (QinQ, three tags, fragments, IPv4 options, IPv6 extension
# headers, TCP options, bad checksums, a truncated header, a runt, non-IP) are
# replayed into each side of a segment; what leaves the other side must be
# the same frames, byte for byte and in order. Then the same with
# bridge.malformed = "drop": the malformed frames are counted and dropped.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

FRAMES="python3 $PS_ROOT/tests/e2e/frames.py"
$FRAMES craft-extended "$T_TMP/a-in.pcap" 02:00:00:00:00:01 02:00:00:00:00:02
$FRAMES craft-extended "$T_TMP/b-in.pcap" 02:00:00:00:00:02 02:00:00:00:00:01
N=$($FRAMES count "$T_TMP/a-in.pcap")

run_dp() {	# name malformed-action stop-signal
	local name=$1 action=$2 sig=$3
	SOCK=$T_TMP/$name.sock
	cat >"$T_TMP/$name.json" <<EOF
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 256, "hugepages": false, "file_prefix": "ps-integ-$name-$$"},
	"mempool": {"mbufs": 2047, "mbuf_data_size": 4224, "cache": 64},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "s0", "side": "a",
		 "device": "net_pcap0,rx_pcap=$T_TMP/a-in.pcap,tx_pcap=$T_TMP/$name-a-out.pcap"},
		{"name": "net-b", "role": "net", "segment": "s0", "side": "b",
		 "device": "net_pcap1,rx_pcap=$T_TMP/b-in.pcap,tx_pcap=$T_TMP/$name-b-out.pcap"}
	],
	"bridge": {"malformed": "$action"},
	"control": {"socket": "$SOCK"}
}
EOF
	start_dp "" "$T_TMP/$name.json" "$SOCK" || return 1
	all_in() {
		ctl_json "$SOCK" stats >"$T_TMP/$name-stats.json" &&
			json_get "$T_TMP/$name-stats.json" \
				"'ok' if r['ports'][0]['rx_packets'] == $N and r['ports'][1]['rx_packets'] == $N else sys.exit(1)"
	}
	wait_for 20 all_in
	local rc=$?
	kill -"$sig" "$DP_PID"
	wait "$DP_PID"
	DP_RC=$?
	return $rc
}

check "forward: plainsight-dp replays $N frames into each side" run_dp fwd forward TERM
check "forward: exit code 0 after SIGTERM" test "$DP_RC" = 0
check "forward: a->b frames identical and in order" $FRAMES same "$T_TMP/a-in.pcap" "$T_TMP/fwd-b-out.pcap"
check "forward: b->a frames identical and in order" $FRAMES same "$T_TMP/b-in.pcap" "$T_TMP/fwd-a-out.pcap"
check "forward: malformed frames counted (truncated header, three tags, runt, twice)" \
	json_get "$T_TMP/fwd-stats.json" \
	"'ok' if r['bridge']['malformed_forwarded'] == 6 and r['parser']['eth_trunc'] == 2 and r['parser']['vlan_too_deep'] == 2 else sys.exit(1)"
check "forward: per-port tx counters match" \
	json_get "$T_TMP/fwd-stats.json" \
	"'ok' if r['ports'][0]['tx_packets'] == $N and r['ports'][1]['tx_packets'] == $N else sys.exit(1)"

check "drop: plainsight-dp replays $N frames into each side" run_dp drop drop INT
check "drop: exit code 0 after SIGINT" test "$DP_RC" = 0
out=$($FRAMES count "$T_TMP/drop-b-out.pcap")
check "drop: the 3 malformed frames of each side are dropped ($out of $N left)" test "$out" = $((N - 3))
check "drop: malformed_dropped counted" \
	json_get "$T_TMP/drop-stats.json" "'ok' if r['bridge']['malformed_dropped'] == 6 else sys.exit(1)"

exit $((T_FAILED > 0))
