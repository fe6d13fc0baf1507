#!/usr/bin/env bash
# End to end: a chain of tools on one flow, and copies of traffic the
# appliance does not decrypt.
#
# Two inline tools in series (Linux bridges in PFX-ips and PFX-ips2, each
# an IPS with its own nftables rule), the recording listed before them
# and the out-of-band port tool0 after them:
#
#   client -TLS- [ recorder | ips | ips2 | tool0 ] -TLS- server
#
# - a fetch passes both tools; each tool's own capture shows plaintext;
# - a request the first IPS drops: the recording (before it) has it,
#   tool0 (after the chain) and the server never see it; the same for the
#   second IPS, whose drop the first tool did see;
# - the session record lists the chain in order, and the initial
#   sequence numbers it gives are the ones of tool0's synthesized SYN;
# - the second tool down (fail-open): flows go around it, still through
#   the first;
# - a rule that bypasses by SNI with a tool: the client sees the real
#   certificate, tool0 gets the TLS conversation as it is (the ClientHello
#   with its SNI); a rule that bypasses a port not intercepted with a tool:
#   tool0 gets its frames as they are, another port's are not copied.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=c$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" inline2 || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
ctl() { "$PS_CTL" --socket "$SOCK" "$@"; }
tools() { ctl_json "$SOCK" tools >"$T_TMP/tools.json" && json_get "$T_TMP/tools.json" "$1"; }
fetch() {	# fetch PATH OUT: HTTPS through the appliance, at most 8 s
	in_cli curl -sS --max-time 8 --cacert "$PKI/ca/ca.crt" --resolve www.ps.test:443:$SRV4 \
		-o "$2" "https://www.ps.test/$1" 2>>"$T_TMP/curl.err"
}
# inline_of NAME EXPR: EXPR over the inline tool NAME of `plainsight-ctl tools` (t)
inline_of() { tools "(lambda t: $2)([t for t in r['inline'] if t['name'] == '$1'][0])"; }
# ips_rule NS HEX: the bridge in NS drops TCP payloads starting with HEX (8 bytes)
ips_rule() {
	ip netns exec "$1" nft add table bridge ips &&
		ip netns exec "$1" nft add chain bridge ips fw '{ type filter hook forward priority 0; }' &&
		ip netns exec "$1" nft add rule bridge ips fw meta l4proto tcp @ih,0,64 "$2" counter drop
}

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }

cat >"$T_TMP/policy.json" <<EOF
{
	"version": "chain-1",
	"settings": { "tools": {
		"raw": { "ports": ["recorder"] },
		"ips": { "ports": ["ips-a"], "failure": "fail-closed" },
		"ips2": { "ports": ["ips2-a"], "failure": "fail-open" },
		"ids": { "ports": ["tool0"] }
	} },
	"rules": [
		{ "name": "bank", "match": { "sni": ["bank.ps.test"] }, "action": "bypass",
		  "tools": ["ids"] },
		{ "name": "telnet-copy", "match": { "dst_port": [2323] }, "action": "bypass",
		  "tools": ["ids"] },
		{ "name": "chain", "match": { "dst_port": [443] }, "action": "decrypt",
		  "tools": ["raw", "ips", "ips2", "ids"] }
	],
	"default": { "action": "bypass" }
}
EOF

dp_config "$T_TMP/dp.json" 1 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0",
		 "tool": {"dport_rewrite": 80}},
		{"name": "ips-a", "role": "tool-inline", "pair": "ips", "side": "a",
		 "heartbeat_ms": 100, "heartbeat_misses": 5,
		 "device": "net_af_packet3,iface=ips-a,framesz=16384,blocksz=16384"},
		{"name": "ips-b", "role": "tool-inline", "pair": "ips", "side": "b",
		 "device": "net_af_packet4,iface=ips-b,framesz=16384,blocksz=16384"},
		{"name": "ips2-a", "role": "tool-inline", "pair": "ips2", "side": "a",
		 "heartbeat_ms": 100, "heartbeat_misses": 5,
		 "device": "net_af_packet5,iface=ips2-a,framesz=16384,blocksz=16384"},
		{"name": "ips2-b", "role": "tool-inline", "pair": "ips2", "side": "b",
		 "device": "net_af_packet6,iface=ips2-b,framesz=16384,blocksz=16384"}' - <<EOF
	"intercept": {"tcp_ports": [443], "policy": "$T_TMP/policy.json"},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl"},
	"recording": {"dir": "$T_TMP/rec"}
EOF
mkdir -p "$T_TMP/rec"
dp_up "$T_TMP/dp.json" "plainsight-dp starts with two inline tools"

mkdir -p "$T_TMP/www"
echo "tool chain page" >"$T_TMP/www/index.html"
echo "the first IPS must stop this" >"$T_TMP/www/evil.html"
echo "the second IPS must stop this" >"$T_TMP/www/bad.html"
bg "$NS_SRV" "$T_TMP/srv.log" python3 "$PS_ROOT/tests/e2e/https_server.py" "$SRV4" 443 \
	"$PKI/www.crt" "$PKI/www.key" "$T_TMP/www"
wait_for 10 ip netns exec "$NS_SRV" python3 -c \
	"import socket; socket.create_connection(('$SRV4', 443), 1)" ||
	t_fail "the test's HTTPS server listens"
bg "$NS_IPS" "$T_TMP/ips.cap.log" tcpdump -i eth0 -U -w "$T_TMP/ips.pcap" tcp
IPS_CAP=$T_LAST_PID
bg "$NS_IPS2" "$T_TMP/ips2.cap.log" tcpdump -i eth0 -U -w "$T_TMP/ips2.pcap" tcp
IPS2_CAP=$T_LAST_PID
bg "$NS_TOOL" "$T_TMP/tool.cap.log" tcpdump -i eth0 -U -w "$T_TMP/tool.pcap" tcp
TOOL_CAP=$T_LAST_PID
sleep 1
check "both inline tools are up" wait_for 10 sh -c \
	"test \$('$PS_CTL' --socket '$SOCK' --json tools | grep -c '\"health\": \"up\"') -eq 2"

# ---- through both tools ----
fetch index.html "$T_TMP/page.out"
check "a fetch through two inline tools in series: content intact" \
	cmp "$T_TMP/www/index.html" "$T_TMP/page.out"
check "the flow went through the first tool (a leg, bytes out of it)" \
	inline_of ips "'ok' if t['flows'] >= 1 and t['bytes_server_to_client'] > 0 else sys.exit(t)"
check "... and through the second" \
	inline_of ips2 "'ok' if t['flows'] >= 1 and t['bytes_server_to_client'] > 0 else sys.exit(t)"

# ---- the first IPS drops one request, the second another ----
ips_rule "$NS_IPS" 0x474554202f657669	# "GET /evi"
ips_rule "$NS_IPS2" 0x474554202f626164	# "GET /bad"
fetch evil.html "$T_TMP/evil.out"
rc_evil=$?
fetch bad.html "$T_TMP/bad.out"
rc_bad=$?
fetch index.html "$T_TMP/page2.out"
check "the first IPS's drop: the request fails (curl exit $rc_evil)" \
	sh -c "test $rc_evil -ne 0 && ! grep -q 'must stop' '$T_TMP/evil.out' 2>/dev/null"
check "the second IPS's drop: the request fails (curl exit $rc_bad)" \
	sh -c "test $rc_bad -ne 0 && ! grep -q 'must stop' '$T_TMP/bad.out' 2>/dev/null"
check "other flows still pass both tools" cmp "$T_TMP/www/index.html" "$T_TMP/page2.out"
check "the server never got either request" \
	sh -c "! grep -Eq 'GET /(evil|bad)' '$T_TMP/srv.log'"
for ns in "$NS_IPS" "$NS_IPS2"; do
	ip netns exec "$ns" nft delete table bridge ips
done
sleep 1
stop_pid "$IPS_CAP" INT
stop_pid "$IPS2_CAP" INT
stop_pid "$TOOL_CAP" INT
cat "$T_TMP"/rec/*.pcap >/dev/null 2>&1	# (the recorder writes as it goes)
rec=$(ls "$T_TMP"/rec/*.pcap 2>/dev/null | head -1)
payloads() { tcpdump -n -r "$1" -A 2>/dev/null; }
check "the first tool saw plaintext, and the request the second one dropped" \
	sh -c "$(declare -f payloads); payloads '$T_TMP/ips.pcap' | grep -q 'GET /index.html' &&
		payloads '$T_TMP/ips.pcap' | grep -q 'GET /bad.html'"
check "the second tool saw plaintext, never the request the first one dropped" \
	sh -c "$(declare -f payloads); payloads '$T_TMP/ips2.pcap' | grep -q 'GET /index.html' &&
		! payloads '$T_TMP/ips2.pcap' | grep -q 'GET /evil'"
check "the recording (listed before the inline tools) has every request" \
	sh -c "$(declare -f payloads); test -n '$rec' && payloads '$rec' | grep -q 'GET /evil.html' &&
		payloads '$rec' | grep -q 'GET /bad.html'"
check "tool0 (listed after them) has only what went on to the server" \
	sh -c "$(declare -f payloads); payloads '$T_TMP/tool.pcap' | grep -q 'GET /index.html' &&
		! payloads '$T_TMP/tool.pcap' | grep -Eq 'GET /(evil|bad)'"

# ---- the session record: the chain, and a key into tool0's capture ----
ctl --json sessions --sni www.ps.test --all >"$T_TMP/s.json"
check "the record lists the chain in order (recorder, ips, ips2, tool0)" \
	json_get "$T_TMP/s.json" "(lambda t: 'ok' if [(x['name'], x['kind']) for x in t] == [('recorder', 'recorder'), ('ips', 'inline'), ('ips2', 'inline'), ('tool0', 'out-of-band')] and t[0]['after_inline'] == 0 and t[3]['after_inline'] == 2 and t[3]['server_port'] == 80 else sys.exit(str(t)))(r['sessions'][0]['tools'])"
timeout 120 tshark -n -r "$T_TMP/tool.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' \
	-T fields -e tcp.seq_raw -e tcp.dstport >"$T_TMP/syns.txt" 2>/dev/null
check "tool0's conversations are found by the records' client_isn (a join key)" \
	python3 -c "
import json, sys
recs = json.load(open('$T_TMP/s.json'))['sessions']
syns = {int(l.split()[0]) for l in open('$T_TMP/syns.txt') if l.strip()}
isns = {x['client_isn'] for s in recs for x in s.get('tools', []) if x['name'] == 'tool0'}
assert isns and isns <= syns, (isns, syns)
"
check "plainsight-ctl sessions show prints the tools" \
	sh -c "'$PS_CTL' --socket '$SOCK' sessions show \$(python3 -c \"import json; print(json.load(open('$T_TMP/s.json'))['sessions'][0]['id'])\") | grep -q 'ips2'"

# ---- per tool in plainsight-ctl tools and in controld's metrics ----
check "plainsight-ctl tools: frames into and out of each inline tool" \
	inline_of ips2 "'ok' if t['frames_into_tool'] > 0 and t['frames_out_of_tool'] > 0 else sys.exit(t)"
bg "$NS_DP" "$T_TMP/ctld.log" "$PS_BUILD/control/plainsight-controld" --socket "$SOCK" \
	--listen 127.0.0.1:9418
CTLD_PID=$T_LAST_PID
wait_for 10 ip netns exec "$NS_DP" curl -sS -o "$T_TMP/m.txt" --max-time 5 http://127.0.0.1:9418/metrics
check "metrics: each inline tool up, with its flows" \
	sh -c "grep -qx 'plainsight_inline_tool_up{tool=\"ips\"} 1' '$T_TMP/m.txt' &&
		grep -qx 'plainsight_inline_tool_up{tool=\"ips2\"} 1' '$T_TMP/m.txt' &&
		grep -Eq '^plainsight_inline_tool_flows_total\{tool=\"ips2\"\} [1-9]' '$T_TMP/m.txt'"
check "metrics: frames per out-of-band tool port" \
	grep -Eq '^plainsight_tool_port_frames_total\{port="tool0"\} [1-9]' "$T_TMP/m.txt"
stop_pid "$CTLD_PID"

# ---- the second tool goes down: fail-open, around it only ----
ip netns exec "$NS_IPS2" ip link set dev eth0 down
check "heartbeats stop: the second tool is marked down" wait_for 10 sh -c \
	"'$PS_CTL' --socket '$SOCK' --json tools | grep -q '\"health\": \"down\"'"
f1=$(inline_of ips "t['flows']")
f2=$(inline_of ips2 "t['flows']")
fetch index.html "$T_TMP/page3.out"
check "fail-open: the flow goes around the second tool, content intact" \
	cmp "$T_TMP/www/index.html" "$T_TMP/page3.out"
check "... still through the first tool" inline_of ips "'ok' if t['flows'] == $f1 + 1 else sys.exit(t)"
check "... not through the second" inline_of ips2 "'ok' if t['flows'] == $f2 else sys.exit(t)"
ctl --json sessions --sni www.ps.test >"$T_TMP/s3.json"
check "... and its record lists the chain without it" \
	json_get "$T_TMP/s3.json" "(lambda t: 'ok' if [x['name'] for x in t] == ['recorder', 'ips', 'tool0'] else sys.exit(str(t)))(max(r['sessions'], key=lambda s: s['id'])['tools'])"
ip netns exec "$NS_IPS2" ip link set dev eth0 up
check "the second tool is up again" wait_for 10 sh -c \
	"test \$('$PS_CTL' --socket '$SOCK' --json tools | grep -c '\"health\": \"up\"') -eq 2"

# ---- copies of traffic that is not decrypted ----
bg "$NS_TOOL" "$T_TMP/tool2.cap.log" tcpdump -i eth0 -U -w "$T_TMP/tool2.pcap"
TOOL_CAP=$T_LAST_PID
sleep 1
# (TLS 1.2: the certificate is in the clear for the tool to see)
in_cli timeout 10 openssl s_client -connect "$SRV4:443" -servername bank.ps.test \
	-CAfile "$PKI/root.crt" -tls1_2 </dev/null >"$T_TMP/bank.out" 2>&1
check "bypassed by SNI: the client sees the server's own certificate" \
	grep -q 'Verification: OK' "$T_TMP/bank.out"
bg "$NS_SRV" "$T_TMP/copy-srv.log" socat -u TCP-LISTEN:2323,reuseaddr,fork OPEN:"$T_TMP/copy.out",creat,append
wait_for 10 ip netns exec "$NS_SRV" python3 -c \
	"import socket; socket.create_connection(('$SRV4', 2323), 1)"
bg "$NS_SRV" "$T_TMP/nocopy-srv.log" socat -u TCP-LISTEN:2424,reuseaddr,fork OPEN:"$T_TMP/nocopy.out",creat,append
wait_for 10 ip netns exec "$NS_SRV" python3 -c \
	"import socket; socket.create_connection(('$SRV4', 2424), 1)"
echo "copied-telnet-bytes" | in_cli timeout 5 socat -u STDIN TCP:$SRV4:2323
echo "uncopied-other-bytes" | in_cli timeout 5 socat -u STDIN TCP:$SRV4:2424
sleep 1
stop_pid "$TOOL_CAP" INT
timeout 120 tshark -n -r "$T_TMP/tool2.pcap" -Y 'tls.handshake.type == 1' \
	-T fields -e tls.handshake.extensions_server_name -e tcp.dstport >"$T_TMP/hellos.txt" 2>/dev/null
check "tool0 got the bypassed TLS conversation as it is: the ClientHello with its SNI, port 443" \
	grep -q '^bank.ps.test[[:space:]]443$' "$T_TMP/hellos.txt"
check "tool0 got the server's own certificate in it (never decrypted)" \
	sh -c "timeout 120 tshark -n -r '$T_TMP/tool2.pcap' -Y 'tls.handshake.type == 11' -V 2>/dev/null | grep -q 'Test Web Root'"
ctl --json sessions --sni bank.ps.test --all >"$T_TMP/bank.json"
check "the bypassed session's record names tool0 with the real port" \
	json_get "$T_TMP/bank.json" "(lambda s: 'ok' if s['action'] == 'bypass' and [(x['name'], x['server_port']) for x in s['tools']] == [('tool0', 443)] else sys.exit(str(s)))(r['sessions'][0])"
check "a port not intercepted, bypassed with a tool: its frames are copied as they are" \
	sh -c "tcpdump -n -r '$T_TMP/tool2.pcap' -A 'tcp port 2323' 2>/dev/null | grep -q copied-telnet-bytes"
check "... both directions (the server's ACKs too)" \
	sh -c "test \$(tcpdump -n -r '$T_TMP/tool2.pcap' 'tcp src port 2323' 2>/dev/null | wc -l) -ge 2"
check "a port no rule copies is not copied" \
	sh -c "! tcpdump -n -r '$T_TMP/tool2.pcap' -A 'tcp port 2424' 2>/dev/null | grep -q uncopied"
check "the bytes got through: $(cat "$T_TMP/copy.out" 2>/dev/null)" grep -q copied-telnet-bytes "$T_TMP/copy.out"
check "copies counted (flows.bypassed_frames_copied)" \
	stats "'ok' if r['flows']['bypassed_frames_copied'] >= 3 else sys.exit(r['flows'])"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
