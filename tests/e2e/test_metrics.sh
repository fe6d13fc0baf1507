#!/usr/bin/env bash
# End to end: metrics, the control process and DPDK telemetry.
#
# plainsight-dp intercepts TLS on port 443 with no policy of its own;
# plainsight-controld runs beside it (in the data plane's namespace) with
# --policy, and a real Prometheus server in the same namespace scrapes
# controld's /metrics every second. HTTPS fetches go through the appliance;
# then Prometheus's HTTP API must give the same numbers as `plainsight-ctl
# --json stats` and `policy show` (decrypted sessions, hits per rule,
# packets per port). The data plane is restarted under controld: plainsight_up
# drops to 0 with no other series, controld gives the new data plane its
# policy again, plainsight_up returns to 1. A change of the policy file is
# applied. The HTTP server refuses what it should (404, 405, 400, 431) and
# survives it. The telemetry socket lists and answers the plainsight
# commands with the control socket's numbers.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

PS_CTLD=$PS_BUILD/control/plainsight-controld
T_TOPO=m$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
CTLD_ADDR=127.0.0.1:9417
PROM_ADDR=127.0.0.1:9090
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_dp() { ip netns exec "$NS_DP" "$@"; }
ctl() { "$PS_CTL" --socket "$SOCK" "$@"; }

command -v prometheus >/dev/null || { t_fail "prometheus installed (scripts/lib.sh PS_PACKAGES)"; exit 1; }
"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }

# controld's policy: the data plane's config names none, so after a restart
# only controld can have put this one back.
cat >"$T_TMP/policy.json" <<'EOF'
{
	"version": "metrics-1",
	"rules": [
		{ "name": "private", "match": { "sni": ["bank.ps.test"] }, "action": "bypass" },
		{ "name": "watch-www", "match": { "sni": ["www.ps.test"] }, "action": "reject", "shadow": true },
		{ "name": "web", "match": { "dst_port": [443] }, "action": "decrypt" }
	],
	"default": { "action": "bypass" }
}
EOF
dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}' - <<EOF
	"intercept": {"tcp_ports": [443]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"}
EOF
cat >"$T_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: plainsight
    static_configs:
      - targets: ["$CTLD_ADDR"]
EOF

# prom EXPR: the value of the first sample of an instant query, or nothing.
prom() {
	in_dp curl -sS --max-time 5 "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$1" |
		python3 -c "
import json, sys
r = json.load(sys.stdin)
res = r['data']['result'] if r.get('status') == 'success' else []
print(res[0]['value'][1] if res else '')" 2>/dev/null
}
# prom_is EXPR VALUE: Prometheus gives VALUE for EXPR.
prom_is() { [ "$(prom "$1")" = "$2" ]; }
pshow() { ctl --json policy show >"$T_TMP/show.json" && json_get "$T_TMP/show.json" "$1"; }
# same EXPR PYEXPR: Prometheus's value of EXPR equals the live stats' PYEXPR
# (the data plane's stats are read first, Prometheus's next scrape must agree).
same() {
	local want
	want=$(stats "$2") || return 1
	[ -n "$want" ] && prom_is "$1" "$want"
}
metrics() { in_dp curl -sS --max-time 10 "http://$CTLD_ADDR/metrics"; }
# telemetry CMD: the reply of DPDK telemetry's socket to CMD, as JSON.
TEL_SOCK=/var/run/dpdk/ps-$T_TOPO/dpdk_telemetry.v2
telemetry() {
	python3 - "$TEL_SOCK" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
json.loads(s.recv(16384))		# the greeting: version, pid, max_output_len
s.send(sys.argv[2].encode())
print(s.recv(1 << 20).decode())
EOF
}

dp_up "$T_TMP/dp.json" "plainsight-dp starts"
bg "$NS_DP" "$T_TMP/ctld.log" "$PS_CTLD" --socket "$SOCK" --listen "$CTLD_ADDR" \
	--policy "$T_TMP/policy.json"
CTLD_PID=$T_LAST_PID
check "controld applies its policy at start (status names it, 3 rules)" wait_for 10 \
	sh -c "'$PS_CTL' --socket '$SOCK' --json status | python3 -c \"
import json, sys; r = json.load(sys.stdin)
sys.exit(0 if r['policy']['path'] == '$T_TMP/policy.json' and r['policy']['rules'] == 3 else 1)\""
gen1=$(ctl --json status | python3 -c "import json,sys; print(json.load(sys.stdin)['policy']['generation'])")

bg "$NS_DP" "$T_TMP/prom.log" prometheus --config.file="$T_TMP/prometheus.yml" \
	--storage.tsdb.path="$T_TMP/prom-data" --web.listen-address="$PROM_ADDR"
PROM_PID=$T_LAST_PID

# ---- the HTTP endpoint itself ----
in_dp curl -sS -D "$T_TMP/h.txt" -o "$T_TMP/m.txt" --max-time 10 "http://$CTLD_ADDR/metrics"
check "GET /metrics: 200, Prometheus text format 0.0.4" \
	sh -c "head -1 '$T_TMP/h.txt' | grep -q '^HTTP/1.1 200' && grep -qi '^Content-Type: text/plain; version=0.0.4' '$T_TMP/h.txt'"
check "the page is valid exposition format (promtool check metrics)" \
	sh -c "promtool check metrics <'$T_TMP/m.txt' 2>&1 | { ! grep -q 'error'; }"
check "the page: plainsight_up 1, HELP and TYPE, per-port and per-rule series" \
	sh -c "grep -qx 'plainsight_up 1' '$T_TMP/m.txt' && grep -q '^# TYPE plainsight_port_rx_packets_total counter' '$T_TMP/m.txt' &&
	       grep -q '^# HELP plainsight_tls_sessions_decrypted_total ' '$T_TMP/m.txt' &&
	       grep -q 'plainsight_port_rx_packets_total{port=\"net-a\",role=\"net\"} ' '$T_TMP/m.txt' &&
	       grep -q 'plainsight_policy_rule_hits_total{slot=\"policy\",rule=\"watch-www\",action=\"reject\",shadow=\"true\"} 0' '$T_TMP/m.txt'"
check "plainsight_policy_info names the policy file" \
	grep -q "plainsight_policy_info{slot=\"policy\",path=\"$T_TMP/policy.json\"" "$T_TMP/m.txt"
code() { in_dp curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
check "GET /other: 404" test "$(code "http://$CTLD_ADDR/other")" = 404
check "POST /metrics: 405" test "$(code -X POST -d x "http://$CTLD_ADDR/metrics")" = 405
check "HTTP/1.1 without Host: 400" \
	sh -c "printf 'GET /metrics HTTP/1.1\r\n\r\n' | ip netns exec '$NS_DP' socat -t5 - TCP:$CTLD_ADDR | head -1 | grep -q ' 400 '"
check "garbage: 400" \
	sh -c "head -c 300 /dev/urandom | tr -d '\n' | { cat; printf '\r\n\r\n'; } | ip netns exec '$NS_DP' socat -t5 - TCP:$CTLD_ADDR | head -1 | grep -q ' 400 '"
check "a request head over 8 KiB: 431" \
	sh -c "{ printf 'GET /metrics HTTP/1.1\r\nHost: a\r\n'; for i in \$(seq 10); do printf 'X-Pad-%d: %01000d\r\n' \$i 0; done; printf '\r\n'; } |
	       ip netns exec '$NS_DP' socat -t5 - TCP:$CTLD_ADDR | head -1 | grep -q ' 431 '"
# Clients that connect and say nothing must not stop others from being served.
for i in 1 2 3; do
	in_dp timeout 8 sh -c "sleep 8 | socat -u - TCP:$CTLD_ADDR" >/dev/null 2>&1 &
	T_PIDS+=($!)
done
sleep 0.3
check "served while idle clients hold connections, and alive after garbage" \
	sh -c "kill -0 $CTLD_PID && ip netns exec '$NS_DP' curl -sS --max-time 5 http://$CTLD_ADDR/metrics | grep -qx 'plainsight_up 1'"

# ---- traffic through the appliance, then Prometheus against the data plane ----
mkdir -p "$T_TMP/www" && echo "metrics test page" >"$T_TMP/www/index.html"
(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
	-accept "$SRV4:443" -cert "$PKI/www.crt" -key "$PKI/www.key") >"$T_TMP/srv.log" 2>&1 &
T_PIDS+=($!)
sleep 1
fetched=0
for i in 1 2 3; do
	in_cli curl -sS --max-time 10 --cacert "$PKI/ca/ca.crt" --resolve www.ps.test:443:$SRV4 \
		-o "$T_TMP/page.out" https://www.ps.test/index.html 2>>"$T_TMP/curl.err" &&
		cmp -s "$T_TMP/page.out" "$T_TMP/www/index.html" && fetched=$((fetched + 1))
done
check "3 HTTPS fetches decrypted through the appliance ($fetched)" test "$fetched" -eq 3
bypassed=0
for i in 1 2; do
	# Relayed untouched: the client is shown the server's real certificate.
	in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername bank.ps.test </dev/null 2>/dev/null |
		openssl x509 -noout -issuer 2>/dev/null | grep -q 'Test Web Root' && bypassed=$((bypassed + 1))
done
check "2 HTTPS fetches bypassed by rule private ($bypassed)" test "$bypassed" -eq 2

check "Prometheus scrapes controld: up 1, plainsight_up 1" \
	wait_for 30 prom_is 'min(up) * min(plainsight_up)' 1
check "decrypted sessions in Prometheus = plainsight-ctl stats (3)" \
	wait_for 15 same plainsight_tls_sessions_decrypted_total "r['tls']['sessions_decrypted'] if r['tls']['sessions_decrypted'] == 3 else ''"
# hits_same RULE N: Prometheus's hits of RULE = policy show's = N.
hits_same() {
	local want
	want=$(pshow "[x['hits'] for x in r['policy']['rules'] if x['name'] == '$1'][0]") || return 1
	[ "$want" = "$2" ] && prom_is "plainsight_policy_rule_hits_total{rule=\"$1\",shadow=\"false\"}" "$want"
}
check "hits of rule web in Prometheus = policy show (3)" wait_for 15 hits_same web 3
check "hits of rule private in Prometheus = policy show (2)" wait_for 15 hits_same private 2
check "shadow rule watch-www: 3 would-be hits, labelled shadow=true" \
	wait_for 15 prom_is 'plainsight_policy_rule_hits_total{rule="watch-www",shadow="true"}' 3
check "policy bypass actions in Prometheus = stats (2)" \
	wait_for 15 same 'plainsight_policy_actions_total{action="bypass",stage="tls"}' "r['tls']['policy_bypassed']"
check "client-leg full handshakes in Prometheus = stats" \
	wait_for 15 same 'plainsight_tls_handshakes_total{leg="client",type="full"}' "r['tls']['client_handshakes_full'] or ''"
for p in net-a net-b; do
	for dir in rx tx; do
		check "$p ${dir}_packets in Prometheus = stats" wait_for 15 same \
			"plainsight_port_${dir}_packets_total{port=\"$p\"}" \
			"[x['${dir}_packets'] for x in r['ports'] if x['name'] == '$p'][0] or ''"
	done
done
check "flows opened in Prometheus = stats (5)" \
	wait_for 15 same plainsight_flows_opened_total "r['flows']['flows_opened'] if r['flows']['flows_opened'] >= 5 else ''"
# busy_ok: worker 0's busy time is counted: above 0, within its uptime.
busy_ok() {
	local v up
	v=$(prom 'plainsight_worker_busy_microseconds_total{worker="0"}')
	up=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["uptime_s"])')
	[ -n "$v" ] && [ -n "$up" ] && [ "$v" -gt 0 ] && [ "$v" -le $(((up + 1) * 1000000)) ]
}
check "worker 0's busy time in Prometheus: above 0, within the uptime" wait_for 15 busy_ok
check "session store: closed records in Prometheus (5)" \
	wait_for 15 prom_is plainsight_sessions_closed_total 5
check "no verify failures counted (all servers valid)" wait_for 5 prom_is plainsight_tls_upstream_verify_failed_total 0

# ---- telemetry ----
telemetry / >"$T_TMP/tel_list.json" 2>&1
check "telemetry lists the plainsight commands" json_get "$T_TMP/tel_list.json" \
	"'ok' if {'/plainsight/status', '/plainsight/stats', '/plainsight/policy'} <= set(r['/']) else sys.exit(1)"
telemetry /plainsight/status >"$T_TMP/tel_status.json" 2>&1
check "telemetry /plainsight/status: the data plane's pid, 3 ports" json_get "$T_TMP/tel_status.json" \
	"'ok' if r['/plainsight/status']['pid'] == $DP_PID and r['/plainsight/status']['ports'] == 3 else sys.exit(1)"
ctl --json stats >"$T_TMP/stats.json"
telemetry /plainsight/stats >"$T_TMP/tel_stats.json" 2>&1
check "telemetry /plainsight/stats: decrypted sessions and flows = control socket" python3 -c "
import json
t = json.load(open('$T_TMP/tel_stats.json'))['/plainsight/stats']
s = json.load(open('$T_TMP/stats.json'))
assert t['tls']['sessions_decrypted'] == s['tls']['sessions_decrypted'] == 3, t['tls']
assert t['flows']['flows_opened'] == s['flows']['flows_opened'], t['flows']
assert t['tcp']['drop_out_of_window'] == s['tcp']['drop_out_of_window']
assert t['ports']['net_a/rx_packets'] == [x['rx_packets'] for x in s['ports'] if x['name'] == 'net-a'][0] > 0, t['ports']"
telemetry /plainsight/stats,ports >"$T_TMP/tel_ports.json" 2>&1
check "telemetry /plainsight/stats,ports: one family" json_get "$T_TMP/tel_ports.json" \
	"'ok' if r['/plainsight/stats']['net_b/tx_packets'] > 0 and 'tls' not in r['/plainsight/stats'] else sys.exit(1)"
telemetry /plainsight/policy >"$T_TMP/tel_policy.json" 2>&1
check "telemetry /plainsight/policy: path and hits per rule = policy show" json_get "$T_TMP/tel_policy.json" \
	"'ok' if r['/plainsight/policy']['policy']['path'] == '$T_TMP/policy.json' and r['/plainsight/policy']['policy']['hits/web'] == 3 and r['/plainsight/policy']['policy']['hits/private'] == 2 and r['/plainsight/policy']['policy']['hits/watch_www'] == 3 else sys.exit(1)"

# ---- the data plane restarts under controld ----
stop_pid "$DP_PID" INT
check "data plane stopped: Prometheus sees plainsight_up 0" wait_for 20 prom_is plainsight_up 0
metrics >"$T_TMP/m0.txt"
check "data plane down: the page is plainsight_up 0 and no other series" \
	sh -c "grep -v '^#' '$T_TMP/m0.txt' | { read -r l; [ \"\$l\" = 'plainsight_up 0' ] && ! read -r x; }"
check "controld survives the data plane going away" kill -0 "$CTLD_PID"
if ! start_dp "$NS_DP" "$T_TMP/dp.json" "$SOCK"; then
	t_fail "plainsight-dp starts again"
	exit 1
fi
check "controld gives the restarted data plane its policy again (status names it)" wait_for 15 \
	sh -c "'$PS_CTL' --socket '$SOCK' --json status | python3 -c \"
import json, sys; r = json.load(sys.stdin)
sys.exit(0 if r['policy']['path'] == '$T_TMP/policy.json' and r['policy']['rules'] == 3 else 1)\""
check "controld logged the restart and the re-apply" \
	sh -c "grep -q 'data plane restarted\|reachable again' '$T_TMP/ctld.log' && test \$(grep -c 'applied (3 rules' '$T_TMP/ctld.log') -ge 2"
check "Prometheus: plainsight_up back to 1 after the restart" wait_for 20 prom_is plainsight_up 1
check "Prometheus: counters of the new data plane (decrypted 0)" \
	wait_for 15 prom_is plainsight_tls_sessions_decrypted_total 0

# ---- a change of the policy file is applied ----
python3 - "$T_TMP/policy.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p['version'] = 'metrics-2'
p['rules'].insert(0, {"name": "hands-off", "match": {"sni": ["other.ps.test"]}, "action": "bypass"})
json.dump(p, open(sys.argv[1] + '.new', 'w'))
EOF
mv "$T_TMP/policy.json.new" "$T_TMP/policy.json"
check "controld applies the changed policy file (4 rules)" wait_for 10 \
	sh -c "'$PS_CTL' --socket '$SOCK' --json status | python3 -c \"
import json, sys; r = json.load(sys.stdin)
sys.exit(0 if r['policy']['rules'] == 4 and 'metrics-2' in r['policy']['version'] else 1)\""
check "Prometheus: the new rule's series" \
	wait_for 15 prom_is 'count(plainsight_policy_rule_hits_total{rule="hands-off"})' 1
check "Prometheus: the new policy version" \
	wait_for 15 prom_is 'count(plainsight_policy_info{version=~".*metrics-2.*"})' 1
echo "{ broken" >"$T_TMP/policy.json"
sleep 3
check "a broken policy file is refused and the running one stays (4 rules)" \
	sh -c "grep -q 'refused' '$T_TMP/ctld.log' && '$PS_CTL' --socket '$SOCK' --json status |
	       python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"policy\"][\"rules\"] != 4)'"

stop_pid "$CTLD_PID" TERM
check "controld exits on SIGTERM" grep -q 'plainsight-controld: stopped' "$T_TMP/ctld.log"
stop_pid "$PROM_PID" TERM
stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
[ "$T_FAILED" -eq 0 ]
