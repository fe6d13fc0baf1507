#!/usr/bin/env bash
# End to end: the traffic policy decides per flow, and is replaced live.
#
# With TLS interception on port 443 and a policy: a name on a bypass list
# is relayed untouched (the client sees the real certificate), a name on a
# reject rule gets a TLS alert, the rest is decrypted; each session record
# names its rule. Then `plainsight-ctl policy apply` replaces the policy
# while the data plane runs: a rule on addresses and ports alone bypasses
# at the SYN (the connection is not even terminated); an invalid policy is
# refused with every error and the running one stays.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=q$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
ctl() { "$PS_CTL" --socket "$SOCK" "$@"; }

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }
# A second appliance CA that clients do not trust, for verify_failure resign-untrusted.
"$PS_ROOT/scripts/mkca.sh" --cn "plainsight untrusted CA" "$PKI/untrusted" >/dev/null 2>&1 ||
	{ t_fail "untrusted CA"; exit 1; }

cat >"$T_TMP/policy1.json" <<'EOF'
{
	"lists": { "private": ["bank.ps.test", ".health.ps.test"] },
	"rules": [
		{ "name": "private", "match": { "sni": ["@private"] }, "action": "bypass", "log": true },
		{ "name": "blocked", "match": { "sni": ["blocked.ps.test"] }, "action": "reject", "log": true },
		{ "name": "web", "match": { "dst_port": [443, 4432] }, "action": "decrypt", "log": true }
	],
	"default": { "action": "bypass", "log": false }
}
EOF
cat >"$T_TMP/policy2.json" <<'EOF'
{
	"rules": [
		{ "name": "hands-off", "match": { "dst": ["198.18.0.2/32"], "dst_port": [443] }, "action": "bypass" }
	],
	"default": { "action": "decrypt" }
}
EOF
cat >"$T_TMP/bad.json" <<'EOF'
{
	"rules": [
		{ "name": "a", "match": { "dst": ["198.18.0.300/32"] }, "action": "bypass" },
		{ "name": "a", "match": { "sni": ["@nolist"] }, "action": "explode" }
	]
}
EOF

dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}' - <<EOF
	"intercept": {"tcp_ports": [443, 4432], "policy": "$T_TMP/policy1.json"},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt",
		"verify_failure": "resign-untrusted",
		"untrusted_ca_cert": "$PKI/untrusted/ca.crt", "untrusted_ca_key": "$PKI/untrusted/ca.key"},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl"}
EOF
check "policy check accepts the policy" "$PS_CTL" policy check "$T_TMP/policy1.json"
dp_up "$T_TMP/dp.json" "plainsight-dp starts with a policy"
ctl --json status >"$T_TMP/status.json"
check "status names the policy and its rules" \
	json_get "$T_TMP/status.json" "'ok' if r['policy']['rules'] == 3 and r['policy']['path'].endswith('policy1.json') else sys.exit(1)"

mkdir -p "$T_TMP/www" && echo "policy test page" >"$T_TMP/www/index.html"
(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
	-accept "$SRV4:443" -cert "$PKI/www.crt" -key "$PKI/www.key") >"$T_TMP/srv.log" 2>&1 &
T_PIDS+=($!)
(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
	-accept "$SRV4:4432" -cert "$PKI/other.crt" -key "$PKI/other.key") >"$T_TMP/srv2.log" 2>&1 &
T_PIDS+=($!)
sleep 1

# issuer NAME: the issuer CN of the certificate the client was shown for SNI NAME.
issuer() {
	in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername "$1" </dev/null 2>/dev/null |
		openssl x509 -noout -issuer 2>/dev/null
}
i=$(issuer www.ps.test)
check "decrypt rule: www.ps.test is shown the appliance's leaf ($i)" sh -c "echo '$i' | grep -q 'plainsight test CA'"
i=$(issuer bank.ps.test)
check "bypass list: bank.ps.test is shown the server's real certificate ($i)" sh -c "echo '$i' | grep -q 'Test Web Root'"
i=$(issuer x.health.ps.test)
check "bypass list suffix: x.health.ps.test is relayed untouched ($i)" sh -c "echo '$i' | grep -q 'Test Web Root'"
in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername blocked.ps.test </dev/null >"$T_TMP/blocked.txt" 2>&1
check "reject rule: blocked.ps.test gets a handshake_failure alert" grep -q "alert handshake failure" "$T_TMP/blocked.txt"
# verify_failure resign-untrusted: a server certificate for another name is
# shown to the client re-signed by the untrusted CA, so the client itself
# refuses it (as it would the real one).
i=$(in_cli timeout 20 openssl s_client -connect "$SRV4:4432" -servername www.ps.test </dev/null 2>/dev/null |
	openssl x509 -noout -issuer 2>/dev/null)
check "resign-untrusted: a wrong-host server is shown a leaf from the untrusted CA ($i)" \
	sh -c "echo '$i' | grep -q 'plainsight untrusted CA'"
in_cli curl -sS --max-time 10 --cacert "$PKI/ca/ca.crt" --resolve www.ps.test:4432:$SRV4 \
	-o /dev/null https://www.ps.test:4432/index.html 2>"$T_TMP/untrusted.err"
rc=$?
check "resign-untrusted: a client trusting the appliance CA refuses it itself (curl exit $rc)" test "$rc" -eq 60
check "counters: resigned with the untrusted CA" \
	stats "'ok' if r['tls']['upstream_verify_resigned_untrusted'] >= 2 and r['tls']['upstream_verify_rejected'] == 0 else sys.exit(1)"
check "counters: policy bypassed 2, rejected 1" \
	stats "'ok' if r['tls']['policy_bypassed'] == 2 and r['tls']['policy_rejected'] == 1 else sys.exit(1)"
"$PS_CTL" --socket "$SOCK" --json sessions --sni blocked.ps.test >"$T_TMP/s.json"
check "the rejected session's record names its rule" \
	json_get "$T_TMP/s.json" "'ok' if r['sessions'][0]['rule'] == 'blocked' and r['sessions'][0]['state'] == 'rejected' else sys.exit(1)"
"$PS_CTL" --socket "$SOCK" --json sessions --sni bank.ps.test >"$T_TMP/s.json"
check "the bypassed session's record: passthrough, rule private" \
	json_get "$T_TMP/s.json" "'ok' if r['sessions'][0]['rule'] == 'private' and r['sessions'][0]['state'] == 'passthrough' else sys.exit(1)"

# Live replacement: an invalid policy is refused and the running one stays.
out=$(ctl policy apply "$T_TMP/bad.json" 2>&1)
rc=$?
check "policy apply refuses an invalid policy (exit $rc) with every error" \
	sh -c "test $rc -eq 1 && echo '$out' | grep -q '198.18.0.300' && echo '$out' | grep -q 'explode' && echo '$out' | grep -qi 'duplicate'"
ctl --json status >"$T_TMP/status.json"
check "the running policy stays after a refused one" \
	json_get "$T_TMP/status.json" "'ok' if r['policy']['generation'] == 1 and r['policy']['rules'] == 3 else sys.exit(1)"

opened=$(stats "r['flows']['flows_opened']")
out=$(ctl policy apply "$T_TMP/policy2.json" 2>&1)
check "policy apply replaces the policy live ($out)" sh -c "echo '$out' | grep -q 'applied (1 rules, generation 2)'"
i=$(issuer www.ps.test)
check "after the swap: www.ps.test is relayed untouched ($i)" sh -c "echo '$i' | grep -q 'Test Web Root'"
check "an address rule bypasses at the SYN: no flow opened, counted" \
	stats "'ok' if r['flows']['flows_opened'] == $opened and r['flows']['policy_bypassed_at_syn'] >= 1 else sys.exit(1)"
in_cli curl -sS --max-time 10 --cacert "$PKI/root.crt" --resolve www.ps.test:443:$SRV4 \
	-o "$T_TMP/page.out" https://www.ps.test/index.html 2>"$T_TMP/curl.err"
check "the bypassed connection works end to end" cmp "$T_TMP/www/index.html" "$T_TMP/page.out"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
check "logged sessions: the rules with log true only (default rule: log false)" python3 -c "
import json
recs = [json.loads(l) for l in open('$T_TMP/sessions.jsonl')]
rules = {r.get('rule') for r in recs}
assert rules <= {'private', 'blocked', 'web'}, rules
assert {'private', 'blocked', 'web'} <= rules, rules"
exit 0
