#!/usr/bin/env bash
# End to end: the policy's per-rule options and its operation while the
# data plane runs.
#
# With real clients (openssl s_client, curl) and servers (openssl s_server):
# a rule on the certificate's names decides a flow without SNI at the
# certificate; a shadow rule records what it would have done and never
# acts; a rule's TLS profile shapes the upstream leg; a rule's
# on_invalid_cert bypass lets the client judge a bad chain itself; a rule's
# tool chain picks the tool ports. `policy show` names version, hash and
# hits; a wholly shadow policy runs beside the enforced one; the bypass
# list is listed, added to and deleted from; policies applied in a loop
# while connections run break none of them; `policy watch` re-applies a
# changed file.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=v$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
ctl() { "$PS_CTL" --socket "$SOCK" "$@"; }
# last_session NAME: the most recent record whose SNI or certificate matches NAME.
last_session() { ctl --json sessions --cert "$1" --limit 1 >"$T_TMP/s.json"; }
rec() { json_get "$T_TMP/s.json" "$1"; }

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }

cat >"$T_TMP/policy.json" <<'EOF'
{
	"version": "e2e-1",
	"tls_profiles": { "tls12": { "versions": ["1.2"] } },
	"settings": { "tools": { "ids": { "ports": ["tool0"] } } },
	"rules": [
		{ "name": "would-block", "shadow": true, "match": { "alpn": ["shadow-test"] },
		  "action": "reject" },
		{ "name": "by-cert", "match": { "cert_san": ["other.ps.test"] }, "action": "bypass",
		  "log": true },
		{ "name": "legacy", "match": { "dst_port": [4433] }, "action": "decrypt",
		  "tls_profile": "tls12", "log": true },
		{ "name": "lenient", "match": { "sni": ["wrong.ps.test"] }, "action": "decrypt",
		  "on_invalid_cert": "bypass", "log": true },
		{ "name": "quiet", "match": { "sni": ["quiet.ps.test"] }, "action": "decrypt",
		  "tools": [], "log": true },
		{ "name": "web", "match": { "dst_port": [443] }, "action": "decrypt",
		  "tools": ["ids"], "log": true }
	],
	"default": { "action": "decrypt", "log": true }
}
EOF
# The same rules with another version: for the apply loop and watch.
sed 's/"e2e-1"/"e2e-2"/' "$T_TMP/policy.json" >"$T_TMP/policy2.json"
cat >"$T_TMP/shadow.json" <<'EOF'
{
	"shadow": true,
	"rules": [ { "name": "try-reject-www", "match": { "sni": ["www.ps.test"] }, "action": "reject" } ],
	"default": { "action": "decrypt" }
}
EOF
cat >"$T_TMP/badtool.json" <<'EOF'
{
	"settings": { "tools": { "ids": { "ports": ["nosuchport"] } } },
	"rules": [ { "name": "web", "action": "decrypt", "tools": ["ids"] } ]
}
EOF

dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}' - <<EOF
	"intercept": {"tcp_ports": [443, 4432, 4433, 4434], "policy": "$T_TMP/policy.json"},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt", "bypass_ttl_s": 600},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl"}
EOF
dp_up "$T_TMP/dp.json" "plainsight-dp starts with the policy"

mkdir -p "$T_TMP/www" && echo "live policy page" >"$T_TMP/www/index.html"
serve() {	# serve PORT CERT [s_server options]
	local port=$1 cert=$2; shift 2
	(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
		-accept "$SRV4:$port" -cert "$PKI/$cert.crt" -key "$PKI/$cert.key" "$@") \
		>"$T_TMP/srv$port.log" 2>&1 &
	T_PIDS+=($!)
}
serve 443 www
serve 4432 other
serve 4433 www
serve 4434 www -verify 1
sleep 1

# issuer PORT [s_client options]: the issuer of the certificate the client was shown.
issuer() {
	local port=$1; shift
	in_cli timeout 20 openssl s_client -connect "$SRV4:$port" "$@" </dev/null 2>/dev/null |
		openssl x509 -noout -issuer 2>/dev/null
}

# ---- decision at the certificate ----
i=$(issuer 4432 -noservername)
check "no SNI, a rule on the certificate's SAN: bypassed, the client sees the real certificate ($i)" \
	sh -c "echo '$i' | grep -q 'Test Web Root'"
last_session other.ps.test
check "its record: decided at the certificate by rule by-cert, passthrough" \
	rec "'ok' if r['sessions'][0]['decided_at'] == 'certificate' and r['sessions'][0]['rule'] == 'by-cert' and r['sessions'][0]['state'] == 'passthrough' else sys.exit(1)"
i=$(issuer 443 -servername www.ps.test)
check "the same rule does not match another certificate: www.ps.test decrypted ($i)" \
	sh -c "echo '$i' | grep -q 'plainsight test CA'"
last_session www.ps.test
check "its record: rule web, action decrypt, at the certificate, policy version e2e-1" \
	rec "'ok' if r['sessions'][0]['rule'] == 'web' and r['sessions'][0]['action'] == 'decrypt' and r['sessions'][0]['decided_at'] == 'certificate' and 'e2e-1' in r['sessions'][0]['policy_version'] else sys.exit(1)"
check "counter: decided at the certificate" \
	stats "'ok' if r['tls']['policy_decided_at_certificate'] >= 2 else sys.exit(1)"

# ---- shadow rule ----
i=$(issuer 443 -servername www.ps.test -alpn shadow-test,http/1.1)
check "a shadow reject rule never acts: the flow it matches is decrypted ($i)" \
	sh -c "echo '$i' | grep -q 'plainsight test CA'"
ctl --json sessions --sni www.ps.test --limit 1 >"$T_TMP/s.json"
check "its record names the shadow rule and what it would have done" \
	rec "'ok' if r['sessions'][0]['shadow_rule'] == 'would-block' and r['sessions'][0]['shadow_action'] == 'reject' and r['sessions'][0]['rule'] == 'web' else sys.exit(1)"

# ---- per-rule TLS profile ----
in_cli timeout 20 openssl s_client -connect "$SRV4:4433" -servername www.ps.test </dev/null \
	>"$T_TMP/legacy.txt" 2>&1
check "client leg of a tls12-profile rule: TLS 1.2 too, never more than the server leg" \
	grep -q "New, TLSv1.2" "$T_TMP/legacy.txt"
ctl --json sessions --sni www.ps.test --limit 5 >"$T_TMP/s.json"
check "upstream leg of a tls12-profile rule: TLS 1.2 to a server that speaks 1.3" \
	rec "'ok' if any(s['rule'] == 'legacy' and s['server_leg']['version'] == 'TLSv1.2' and s['client_leg']['version'] == 'TLSv1.2' for s in r['sessions']) else sys.exit(1)"

# ---- per-rule on_invalid_cert ----
i=$(issuer 443 -servername wrong.ps.test)
check "on_invalid_cert bypass: a name the server's certificate lacks is relayed, the client judges the real chain ($i)" \
	sh -c "echo '$i' | grep -q 'Test Web Root'"
check "counter: invalid upstream certificate bypassed" \
	stats "'ok' if r['tls']['upstream_verify_bypassed'] >= 1 else sys.exit(1)"

# ---- per-rule tool chain ----
convs=$(stats "r['tools']['convs']")
in_cli curl -sS --max-time 10 --cacert "$PKI/ca/ca.crt" --resolve quiet.ps.test:443:$SRV4 \
	-o /dev/null -k https://quiet.ps.test/index.html 2>/dev/null
check "a rule with an empty tool chain: no tool conversation" \
	stats "'ok' if r['tools']['convs'] == $convs else sys.exit(1)"
in_cli curl -sS --max-time 10 --cacert "$PKI/ca/ca.crt" --resolve www.ps.test:443:$SRV4 \
	-o "$T_TMP/page.out" https://www.ps.test/index.html 2>"$T_TMP/curl.err"
check "a rule with tool chain ids (tool0): the page intact" cmp "$T_TMP/www/index.html" "$T_TMP/page.out"
check "tool conversations counted for it" \
	stats "'ok' if r['tools']['convs'] == $convs + 1 else sys.exit(1)"
ctl_json "$SOCK" tools >"$T_TMP/tools.json"
check "plainsight-ctl tools: counters per tool port (tool0 has every conversation)" \
	json_get "$T_TMP/tools.json" "'ok' if r['out_of_band'][0]['port'] == 'tool0' and r['out_of_band'][0]['convs'] == $convs + 1 and r['out_of_band'][0]['frames'] > 0 else sys.exit(1)"

# ---- policy show, stats ----
ctl --json policy show >"$T_TMP/show.json"
sha=$(sha256sum <"$T_TMP/policy.json" | cut -d' ' -f1)
check "policy show: version, file version, sha256 of the file" \
	json_get "$T_TMP/show.json" "'ok' if r['policy']['file_version'] == 'e2e-1' and r['policy']['sha256'] == '$sha' and r['policy']['version'].endswith('(e2e-1)') else sys.exit(1)"
check "policy show: hits per rule, shadow hits on the shadow rule" \
	json_get "$T_TMP/show.json" "'ok' if {x['name']: x['hits'] for x in r['policy']['rules']}['web'] >= 3 and {x['name']: x['hits'] for x in r['policy']['rules']}['would-block'] >= 1 and {x['name']: x['hits'] for x in r['policy']['rules']}['by-cert'] == 1 else sys.exit(1)"
check "policy show (table) lists every rule" sh -c "'$PS_CTL' --socket '$SOCK' policy show | grep -q 'would-block.*reject.*shadow'"
check "stats: hits per rule" stats "'ok' if r['policy_rules']['policy']['web'] >= 3 else sys.exit(1)"

# ---- a wholly shadow policy ----
out=$(ctl policy apply "$T_TMP/shadow.json" 2>&1)
check "a shadow policy is applied beside the enforced one ($out)" sh -c "echo '$out' | grep -q 'as the shadow policy'"
i=$(issuer 443 -servername www.ps.test)
check "the shadow policy's reject does not act ($i)" sh -c "echo '$i' | grep -q 'plainsight test CA'"
last_session www.ps.test
check "the record names the shadow policy's rule" \
	rec "'ok' if r['sessions'][0]['shadow_rule'] == 'try-reject-www' and r['sessions'][0]['shadow_action'] == 'reject' else sys.exit(1)"
check "policy clear-shadow removes it" sh -c "'$PS_CTL' --socket '$SOCK' policy clear-shadow && '$PS_CTL' --socket '$SOCK' --json policy show | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"shadow_policy\"] is None else 1)'"

# ---- a policy naming a tool port the data plane lacks ----
ctl policy apply "$T_TMP/badtool.json" >"$T_TMP/badtool.out" 2>&1
rc=$?
check "a tool on a port the data plane lacks is refused (exit $rc)" \
	sh -c "test $rc -eq 1 && grep -q nosuchport '$T_TMP/badtool.out'"

# ---- the bypass list ----
in_cli timeout 20 openssl s_client -connect "$SRV4:4434" -servername www.ps.test </dev/null >/dev/null 2>&1
ctl --json bypass list >"$T_TMP/bl.json"
check "bypass list: a server asking for a client certificate, with reason, evidence, expiry" \
	json_get "$T_TMP/bl.json" "'ok' if any(e['port'] == 4434 and 'client certificate' in e['reason'] and e['session'] > 0 and 0 < e['expires_in_s'] <= 600 for e in r) else sys.exit(1)"
check "bypass add" ctl bypass add "$SRV4" 443 --sni www.ps.test --ttl 300 --reason "e2e"
i=$(issuer 443 -servername www.ps.test)
check "an added entry is relayed untouched ($i)" sh -c "echo '$i' | grep -q 'Test Web Root'"
check "bypass list shows the operator's entry" sh -c "'$PS_CTL' --socket '$SOCK' bypass list | grep -q 'www.ps.test.*operator: e2e'"
check "bypass del" ctl bypass del "$SRV4" 443 --sni www.ps.test
i=$(issuer 443 -servername www.ps.test)
check "after bypass del it is decrypted again ($i)" sh -c "echo '$i' | grep -q 'plainsight test CA'"
out=$(ctl bypass del "$SRV4" 443 --sni www.ps.test 2>&1)
rc=$?
check "deleting a missing entry fails clearly (exit $rc)" sh -c "test $rc -eq 1 && echo '$out' | grep -q 'no such entry'"
check "a bad bypass address is refused before asking the data plane" \
	sh -c "'$PS_CTL' --socket '$SOCK' bypass add 10.0.0.300 443; test \$? -eq 2"

# ---- applying policies in a loop while connections run ----
(
	fails=0
	for n in $(seq 40); do
		in_cli curl -sS --max-time 10 --cacert "$PKI/ca/ca.crt" \
			--resolve www.ps.test:443:$SRV4 -o "$T_TMP/loop.out" \
			https://www.ps.test/index.html 2>>"$T_TMP/loop.err" &&
			cmp -s "$T_TMP/www/index.html" "$T_TMP/loop.out" || fails=$((fails + 1))
	done
	echo "$fails" >"$T_TMP/loop.fails"
) &
LOOP=$!
T_PIDS+=($LOOP)
applied=0
while kill -0 "$LOOP" 2>/dev/null; do
	f=$T_TMP/policy.json
	[ $((applied % 2)) -eq 1 ] && f=$T_TMP/policy2.json
	ctl policy apply "$f" >/dev/null 2>&1 && applied=$((applied + 1))
done
wait "$LOOP"
check "40 fetches while $applied policies were applied: none failed" \
	sh -c "test \"\$(cat '$T_TMP/loop.fails')\" = 0 && test $applied -ge 5"

# ---- policy watch ----
cp "$T_TMP/policy.json" "$T_TMP/watched.json"
bg "" "$T_TMP/watch.log" "$PS_CTL" --socket "$SOCK" policy watch "$T_TMP/watched.json"
WATCH=$T_LAST_PID
wait_for 10 grep -q "applied" "$T_TMP/watch.log"
sed -i 's/"e2e-1"/"e2e-watched"/' "$T_TMP/watched.json"
check "policy watch re-applies a changed file" \
	wait_for 15 sh -c "'$PS_CTL' --socket '$SOCK' --json status | grep -q 'e2e-watched'"
echo '{ "rules": [ { "name": "x", "action": "nonsense" } ] }' >"$T_TMP/watched.json"
check "policy watch reports a bad version and the running policy stays" \
	wait_for 15 sh -c "grep -q nonsense '$T_TMP/watch.log' && '$PS_CTL' --socket '$SOCK' --json status | grep -q 'e2e-watched'"
stop_pid "$WATCH"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
check "the session log carries action, decision point and policy version" python3 -c "
import json
recs = [json.loads(l) for l in open('$T_TMP/sessions.jsonl')]
assert any(r.get('decided_at') == 'certificate' and r.get('action') == 'bypass' for r in recs), recs[:3]
assert all('policy_version' in r for r in recs if r.get('kind') == 'tls'), recs[:3]"
exit 0
