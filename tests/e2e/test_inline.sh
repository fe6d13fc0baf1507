#!/usr/bin/env bash
# End to end: an inline tool between the two TLS legs.
#
# The tool is a Linux bridge in its own namespace between the data
# plane's ports ips-a and ips-b: every decrypted flow gets a plaintext TCP
# connection through it, and only what comes out of it is re-encrypted
# for the other side. With an nftables rule in the bridge that drops
# segments carrying a chosen request (an IPS), that request fails while
# others on other flows succeed. Taking the tool's link down: heartbeats
# stop, the tool is marked down, and new flows go around it (fail-open)
# or are refused (fail-closed); when the link returns, so does the tool.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=i$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" inline || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_ips() { ip netns exec "$NS_IPS" "$@"; }
tools() { ctl_json "$SOCK" tools >"$T_TMP/tools.json" && json_get "$T_TMP/tools.json" "$1"; }
ctl() { "$PS_CTL" --socket "$SOCK" "$@"; }
fetch() {	# fetch PATH OUT: HTTPS through the appliance, at most 8 s
	in_cli curl -sS --max-time 8 --cacert "$PKI/ca/ca.crt" --resolve www.ps.test:443:$SRV4 \
		-o "$2" "https://www.ps.test/$1" 2>>"$T_TMP/curl.err"
}
health() { tools "r['inline'][0]['health']"; }

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }

policy() {	# policy FAILURE FILE
	cat >"$2" <<EOF
{
	"settings": { "tools": { "ips": { "ports": ["ips-a"], "failure": "$1" } } },
	"rules": [ { "name": "web", "match": { "dst_port": [443] }, "action": "decrypt",
		     "tools": ["ips"], "log": true } ],
	"default": { "action": "decrypt" }
}
EOF
}
policy fail-open "$T_TMP/open.json"
policy fail-closed "$T_TMP/closed.json"

dp_config "$T_TMP/dp.json" 2 '{"name": "ips-a", "role": "tool-inline", "pair": "ips", "side": "a",
		 "heartbeat_ms": 100, "heartbeat_misses": 5,
		 "device": "net_af_packet2,iface=ips-a,qpairs=2,framesz=16384,blocksz=16384"},
		{"name": "ips-b", "role": "tool-inline", "pair": "ips", "side": "b",
		 "device": "net_af_packet3,iface=ips-b,qpairs=2,framesz=16384,blocksz=16384"}' - <<EOF
	"intercept": {"tcp_ports": [443], "policy": "$T_TMP/open.json"},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"}
EOF
dp_up "$T_TMP/dp.json" "plainsight-dp starts with an inline tool"

mkdir -p "$T_TMP/www"
echo "inline tool page" >"$T_TMP/www/index.html"
echo "the IPS must never let this through" >"$T_TMP/www/evil.html"
head -c 2000000 /dev/urandom >"$T_TMP/www/big.bin"
bg "$NS_SRV" "$T_TMP/srv.log" python3 "$PS_ROOT/tests/e2e/https_server.py" "$SRV4" 443 "$PKI/www.crt" \
	"$PKI/www.key" "$T_TMP/www"
wait_for 10 ip netns exec "$NS_SRV" python3 -c \
	"import socket; socket.create_connection(('$SRV4', 443), 1)" ||
	t_fail "the test's HTTPS server listens"
# A capture inside the tool: what the tool sees is plaintext.
bg "$NS_IPS" "$T_TMP/tcpdump.log" tcpdump -i eth0 -U -w "$T_TMP/tool.pcap" tcp
sleep 1

check "the inline tool is up (heartbeats pass through the bridge)" wait_for 5 sh -c \
	"'$PS_CTL' --socket '$SOCK' --json tools | grep -q '\"health\": \"up\"'"

fetch index.html "$T_TMP/page.out"
check "a fetch through the appliance and the inline tool: content intact" \
	cmp "$T_TMP/www/index.html" "$T_TMP/page.out"
fetch big.bin "$T_TMP/big.out"
check "2 MB through the inline tool: sha256 equal" \
	test "$(sha_of "$T_TMP/www/big.bin")" = "$(sha_of "$T_TMP/big.out")"
check "the flows went through the tool (legs opened, bytes counted)" \
	tools "'ok' if r['inline'][0]['flows'] >= 2 and r['inline'][0]['bytes_server_to_client'] >= 2000000 else sys.exit(1)"
stop_pid "$T_LAST_PID" INT
check "the tool saw the request in plaintext (its own capture)" \
	sh -c "tcpdump -r '$T_TMP/tool.pcap' -A 2>/dev/null | grep -q 'GET /index.html'"

# ---- an IPS: the tool drops segments whose payload starts with "GET /evi" ----
in_ips nft add table bridge ips
in_ips nft add chain bridge ips fw '{ type filter hook forward priority 0; }'
in_ips nft add rule bridge ips fw meta l4proto tcp @ih,0,64 0x474554202f657669 counter drop
fetch evil.html "$T_TMP/evil.out" &
EVIL=$!
fetch index.html "$T_TMP/page2.out"
check "while the IPS holds one request back, another flow succeeds" \
	cmp "$T_TMP/www/index.html" "$T_TMP/page2.out"
wait "$EVIL"
rc=$?
check "the request the IPS drops never reaches the server (curl exit $rc)" \
	sh -c "test $rc -ne 0 && ! grep -q 'never let' '$T_TMP/evil.out' 2>/dev/null"
check "the IPS rule matched" sh -c "ip netns exec '$NS_IPS' nft list ruleset | grep -Eq 'counter packets [1-9]'"
check "while the rule holds, the server never got the request" sh -c "! grep -q 'GET /evil' '$T_TMP/srv.log'"
in_ips nft delete table bridge ips
# The IPS resets instead: the RST resets the flow on both legs at once.
in_ips nft add table bridge ips
in_ips nft add chain bridge ips fw '{ type filter hook forward priority 0; }'
in_ips nft add rule bridge ips fw meta l4proto tcp @ih,0,64 0x474554202f657669 drop
bg "$NS_IPS" "$T_TMP/ips.log" python3 "$PS_ROOT/tests/e2e/ips_reset.py" eth0 "GET /evi"
IPS=$T_LAST_PID
sleep 0.5
start=$(date +%s)
fetch evil.html "$T_TMP/evil2.out"
rc=$?
took=$(( $(date +%s) - start ))
check "a RST from the tool resets the flow: the client fails at once (curl exit $rc, ${took}s)" \
	sh -c "test $rc -ne 0 && test $took -lt 6"
check "counted: flows reset by the inline tool" \
	stats "'ok' if r['tls']['inline_tool_reset'] >= 1 else sys.exit(1)"
stop_pid "$IPS"
in_ips nft delete table bridge ips

# ---- health: the tool's link goes down ----
in_ips ip link set dev eth0 down
check "heartbeats stop: the inline tool is marked down" wait_for 10 sh -c \
	"'$PS_CTL' --socket '$SOCK' --json tools | grep -q '\"health\": \"down\"'"
fetch index.html "$T_TMP/page3.out"
check "fail-open: a new flow goes around the tool that is down" \
	cmp "$T_TMP/www/index.html" "$T_TMP/page3.out"
check "counted: flows around a tool that is down" \
	stats "'ok' if r['flows']['inline_tool_down_bypassed'] >= 1 else sys.exit(1)"
check "fail-closed policy applied" ctl policy apply "$T_TMP/closed.json"
fetch index.html "$T_TMP/page4.out"
rc=$?
check "fail-closed: a new flow is refused while the tool is down (curl exit $rc)" test "$rc" -ne 0
check "counted: flows blocked for a tool that is down" \
	stats "'ok' if r['flows']['inline_tool_down_blocked'] >= 1 else sys.exit(1)"
in_ips ip link set dev eth0 up
check "heartbeats return: the inline tool is up again" wait_for 10 sh -c \
	"'$PS_CTL' --socket '$SOCK' --json tools | grep -q '\"health\": \"up\"'"
check "health changes counted (down, up)" \
	tools "'ok' if r['inline'][0]['health_changes'] >= 2 else sys.exit(1)"
flows=$(tools "r['inline'][0]['flows']")
fetch index.html "$T_TMP/page5.out"
check "after recovery the flow goes through the tool again" \
	sh -c "cmp '$T_TMP/www/index.html' '$T_TMP/page5.out' && test \$(python3 -c \"import json,subprocess; print(json.loads(subprocess.check_output(['$PS_CTL','--socket','$SOCK','--json','tools']))['inline'][0]['flows'])\") -gt $flows"
check "plainsight-ctl tools prints the inline tool" sh -c "'$PS_CTL' --socket '$SOCK' tools | grep -q '^ips .*ips-a .*ips-b .*up'"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
exit 0
