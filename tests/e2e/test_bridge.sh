#!/usr/bin/env bash
# End to end: the transparent bridge on net_af_packet ports between two
# network namespaces, with real Linux stacks on both ends.
#
# Checks: ping over IPv4 and IPv6 (also fragmented), a VLAN-tagged flow and
# other frames a bridge must not touch (captured on both sides, compared byte
# for byte), UDP, a 100 MB TCP transfer compared by sha256, nothing on the
# tool port, counters in plainsight-ctl, a clean stop on SIGTERM.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=b$(($$ % 1000000))	# unique: runs may overlap
"$PS_ROOT/scripts/topo.sh" up $T_TOPO || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env $T_TOPO)"
SOCK=$T_TMP/dp.sock
FRAMES="python3 $PS_ROOT/tests/e2e/frames.py"
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }

cat >"$T_TMP/dp.json" <<EOF
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$T_TOPO"},
	"mempool": {"mbufs": 4095, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "device": "net_af_packet0,iface=net-a,framesz=16384,blocksz=16384",
		 "role": "net", "segment": "seg0", "side": "a"},
		{"name": "net-b", "device": "net_af_packet1,iface=net-b,framesz=16384,blocksz=16384",
		 "role": "net", "segment": "seg0", "side": "b"},
		{"name": "tool0", "device": "net_af_packet2,iface=tool0", "role": "tool-oob"}
	],
	"control": {"socket": "$SOCK"}
}
EOF

# Everything the tool namespace receives, from before the data plane starts.
bg "$NS_TOOL" "$T_TMP/tool.tcpdump.log" tcpdump -n -i eth0 -Q in -U -w "$T_TMP/tool.pcap"
TOOL_CAP=$T_LAST_PID

dp_up "$T_TMP/dp.json" "plainsight-dp starts on af_packet ports"
# What the client sends and what the server receives, for byte comparison.
bg "$NS_CLI" "$T_TMP/cli.tcpdump.log" tcpdump -n -i eth0 -Q out -U -s 0 -w "$T_TMP/cli-out.pcap" not tcp
CLI_CAP=$T_LAST_PID
bg "$NS_SRV" "$T_TMP/srv.tcpdump.log" tcpdump -n -i eth0 -Q in -U -s 0 -w "$T_TMP/srv-in.pcap" not tcp
SRV_CAP=$T_LAST_PID
sleep 1	# tcpdump attached

check "ping IPv4 through the bridge" in_cli ping -c 3 -i 0.2 -W 2 "$SRV4"
check "ping IPv6 through the bridge" in_cli ping -6 -c 3 -i 0.2 -W 2 "$SRV6"
check "fragmented ping IPv4 (3000 bytes)" in_cli ping -c 2 -i 0.2 -W 2 -s 3000 "$SRV4"
check "fragmented ping IPv6 (3000 bytes)" in_cli ping -6 -c 2 -i 0.2 -W 2 -s 3000 "$SRV6"

# UDP: a datagram each way.
bg "$NS_SRV" "$T_TMP/udp.out" socat -u UDP-RECV:5353,bind=$SRV4 STDOUT
UDP_PID=$T_LAST_PID
sleep 0.3
in_cli sh -c "printf 'udp through plainsight\n' | socat -u STDIN UDP-SENDTO:$SRV4:5353"
udp_ok() { grep -q 'udp through plainsight' "$T_TMP/udp.out"; }
check "UDP datagram through the bridge" wait_for 5 udp_ok
stop_pid "$UDP_PID"

# Raw frames: VLAN-tagged, double-tagged, options, bad checksum, IPv6
# extension headers, truncated header, LLDP, non-IP.
CLI_MAC=$(in_cli cat /sys/class/net/eth0/address)
SRV_MAC=$(in_srv cat /sys/class/net/eth0/address)
$FRAMES craft "$T_TMP/raw.pcap" "$CLI_MAC" "$SRV_MAC"
$FRAMES craft "$T_TMP/raw-rev.pcap" "$SRV_MAC" "$CLI_MAC"
bg "$NS_SRV" "$T_TMP/raw.tcpdump.log" tcpdump -n -i eth0 -Q in -U -s 0 -w "$T_TMP/raw-in.pcap" ether src "$CLI_MAC"
RAW_CAP=$T_LAST_PID
bg "$NS_CLI" "$T_TMP/raw-rev.tcpdump.log" tcpdump -n -i eth0 -Q in -U -s 0 -w "$T_TMP/raw-rev-in.pcap" ether src "$SRV_MAC"
RAW_REV_CAP=$T_LAST_PID
sleep 1
in_cli $FRAMES send eth0 "$T_TMP/raw.pcap"
in_srv $FRAMES send eth0 "$T_TMP/raw-rev.pcap"
sleep 1
stop_pid "$RAW_CAP" INT
stop_pid "$RAW_REV_CAP" INT
check "client->server: VLAN-tagged, non-IP, malformed and option-carrying frames pass byte for byte" \
	$FRAMES compare "$T_TMP/raw.pcap" "$T_TMP/raw-in.pcap"
check "server->client: the same frames pass byte for byte" \
	$FRAMES compare "$T_TMP/raw-rev.pcap" "$T_TMP/raw-rev-in.pcap"

# 100 MB of TCP, sha256 at both ends.
head -c $((100 * 1024 * 1024)) /dev/urandom >"$T_TMP/big.bin"
bg "$NS_SRV" "$T_TMP/tcp.log" timeout 120 socat -u TCP-LISTEN:5001,bind=$SRV4,reuseaddr OPEN:"$T_TMP/big.out",creat,trunc
TCP_PID=$T_LAST_PID
sleep 0.3
start=$(date +%s.%N)
in_cli timeout 120 socat -u OPEN:"$T_TMP/big.bin" TCP:$SRV4:5001
wait "$TCP_PID" 2>/dev/null
end=$(date +%s.%N)
a=$(sha256sum <"$T_TMP/big.bin" | cut -d' ' -f1)
b=$(sha256sum <"$T_TMP/big.out" 2>/dev/null | cut -d' ' -f1)
check "100 MB TCP transfer, sha256 equal at both ends" test "$a" = "$b"
echo "# 100 MB in $(python3 -c "print(f'{$end - $start:.2f}')") s"

sleep 0.5
stop_pid "$CLI_CAP" INT
stop_pid "$SRV_CAP" INT
check "ping and UDP frames identical on both sides (MACs, TTL, checksums, fragments)" \
	$FRAMES compare "$T_TMP/cli-out.pcap" "$T_TMP/srv-in.pcap"

ctl_json "$SOCK" stats >"$T_TMP/stats.json"
check "stats: net-a received and net-b sent the client's packets" \
	json_get "$T_TMP/stats.json" "'ok' if r['ports'][0]['rx_packets'] > 70000 and r['ports'][1]['tx_packets'] >= r['ports'][0]['rx_packets'] - r['bridge']['malformed_dropped'] else sys.exit(1)"
check "stats: the truncated frame was counted by reason" \
	json_get "$T_TMP/stats.json" "'ok' if r['parser']['ip4_hdr_len'] + r['parser'].get('ip4_total_len', 0) >= 1 else sys.exit(1)"
check "stats: refragmented IPv4 datagrams counted" \
	json_get "$T_TMP/stats.json" "'ok' if r['bridge']['refragmented_datagrams'] >= 4 else sys.exit(1)"
check "stats: nothing sent to the tool port" \
	json_get "$T_TMP/stats.json" "'ok' if r['ports'][2]['tx_packets'] == 0 else sys.exit(1)"
check "plainsight-ctl status names the segment" sh -c "'$PS_CTL' --socket '$SOCK' status | grep -q 'net-a .*seg0'"

stop_pid "$TOOL_CAP" INT
tool_count=$($FRAMES count "$T_TMP/tool.pcap" 2>/dev/null || echo -1)
check "tool port received nothing (captured $tool_count frames)" test "$tool_count" = 0

kill -TERM "$DP_PID"
wait "$DP_PID"
rc=$?
check "SIGTERM stops plainsight-dp with exit code 0" test "$rc" = 0
check "control socket removed on stop" test ! -e "$SOCK"
grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log" || sed 's/^/#   /' "$T_TMP/dp.log" | tail -20

exit $((T_FAILED > 0))
