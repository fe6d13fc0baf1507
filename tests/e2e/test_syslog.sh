#!/usr/bin/env bash
# End to end: session records to a real rsyslogd, and the session log
# rotated under load.
#
# rsyslogd runs inside the data plane's test namespace, on its loopback
# (UDP on 127.0.0.1, TCP on [::1]), with a configuration of this test only
# (no imuxsock, no host files), writing the messages it receives to a file
# in the test's temp dir. TLS fetches through the data plane make session
# records:
#   1. UDP: one message per logged session, RFC 5424 header fields as
#      rsyslog parsed them, MSG the JSON record whose ids match
#      `plainsight-ctl sessions`; a rule with "log": false is not sent.
#   2. TCP: the same, while the session log is renamed and the data plane
#      sent SIGHUP three times during a run of fetches: the files together
#      hold every record once. Then rsyslogd stops, more sessions end, it
#      starts again: the data plane reconnects and the queued records
#      arrive.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

command -v rsyslogd >/dev/null || { t_fail "rsyslogd installed (scripts/lib.sh PS_PACKAGES)"; exit 1; }

T_TOPO=l$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
UDP_PORT=5514
TCP_PORT=5515
in_cli() { ip netns exec "$NS_CLI" "$@"; }

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }

# rsyslogd: two inputs, one file; each line the RFC 5424 fields rsyslog
# parsed, then "|", then MSG.
mkdir -p "$T_TMP/rsyslog"
cat >"$T_TMP/rsyslog.conf" <<EOF
global(workDirectory="$T_TMP/rsyslog" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="$UDP_PORT")
input(type="imtcp" address="::1" port="$TCP_PORT")
template(name="fields" type="string"
	string="%pri%|%protocol-version%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
action(type="omfile" file="$T_TMP/syslog.out" template="fields")
EOF
RSYSLOG_PID=
start_rsyslog() {
	bg "$NS_DP" "$T_TMP/rsyslogd.log" rsyslogd -n -f "$T_TMP/rsyslog.conf" -i "$T_TMP/rsyslogd.pid"
	RSYSLOG_PID=$T_LAST_PID
	wait_for 10 ip netns exec "$NS_DP" sh -c "ss -ltn | grep -q ':$TCP_PORT ' && ss -lun | grep -q ':$UDP_PORT '"
}
if ! start_rsyslog; then
	t_fail "rsyslogd listens in the test namespace"
	sed 's/^/#   /' "$T_TMP/rsyslogd.log"
	exit 1
fi
t_ok "rsyslogd listens in the test namespace (udp 127.0.0.1:$UDP_PORT, tcp [::1]:$TCP_PORT)"

# Sessions to www.ps.test are logged; quiet.ps.test's rule says no.
cat >"$T_TMP/policy.json" <<'EOF'
{
	"rules": [
		{ "name": "quiet", "match": { "sni": ["quiet.ps.test"] }, "action": "bypass", "log": false }
	],
	"default": { "action": "decrypt", "log": true }
}
EOF

# dp_config FILE SYSLOG-URL: the appliance config of one run.
dp_config() {
	cat >"$1" <<EOF
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$T_TOPO"},
	"mempool": {"mbufs": 8191, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "seg0", "side": "a",
		 "device": "net_af_packet0,iface=net-a,framesz=16384,blocksz=16384"},
		{"name": "net-b", "role": "net", "segment": "seg0", "side": "b",
		 "device": "net_af_packet1,iface=net-b,framesz=16384,blocksz=16384"}
	],
	"intercept": {"tcp_ports": [443], "policy": "$T_TMP/policy.json"},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl", "syslog": "$2",
		"syslog_facility": "local0"},
	"control": {"socket": "$SOCK"}
}
EOF
}

mkdir -p "$T_TMP/www" && echo "syslog test page" >"$T_TMP/www/index.html"
(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
	-accept "$SRV4:443" -cert "$PKI/www.crt" -key "$PKI/www.key") >"$T_TMP/srv.log" 2>&1 &
T_PIDS+=($!)
sleep 1

# fetch NAME: one TLS session through the data plane.
fetch() {
	in_cli curl -sS --max-time 10 --cacert "$PKI/ca/ca.crt" --resolve "$1:443:$SRV4" \
		-o /dev/null "https://$1/index.html"
}

# closed_ids FILE: ids of the closed sessions whose rule logs, one a line.
closed_ids() {
	"$PS_CTL" --socket "$SOCK" --json sessions --closed --limit 10000 >"$T_TMP/sessions.json" &&
		json_get "$T_TMP/sessions.json" \
			"'\n'.join(str(s['id']) for s in r['sessions'] if s.get('rule') != 'quiet')" |
		sed '/^$/d' | sort -n >"$1"
}

# syslog_ids PID FILE: ids in rsyslog's file from data plane PID, one a line.
syslog_ids() {
	python3 - "$T_TMP/syslog.out" "$1" >"$2" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
	f = line.rstrip('\n').split('|', 8)
	if f[5] == sys.argv[2]:
		print(json.loads(f[8])['id'])
EOF
	sort -n -o "$2" "$2"
}

# wait_lines N PID: rsyslog's file holds N messages of data plane PID.
wait_lines() {
	wait_for "${3:-10}" sh -c "test \$(grep -c '|plainsight|$2|' '$T_TMP/syslog.out' 2>/dev/null) -ge $1"
}

# stats_check NAME EXPR: a check of EXPR on the syslog counters of
# `plainsight-ctl stats` (s: its sessions.syslog), said skipped when the
# reply does not carry them.
stats_syslog() {
	python3 - "$T_TMP/stats.json" "$1" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))['sessions']['syslog']
print(s)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}
stats_check() {
	ctl_json "$SOCK" stats >"$T_TMP/stats.json"
	if json_get "$T_TMP/stats.json" "r['sessions']['syslog']" >/dev/null 2>&1; then
		check "$1" stats_syslog "$2"
	else
		echo "# skipped, stats has no sessions.syslog: $1"
	fi
}

# ---- 1. UDP ----
dp_config "$T_TMP/dp-udp.json" "udp://127.0.0.1:$UDP_PORT"
dp_up "$T_TMP/dp-udp.json" "plainsight-dp starts with a UDP syslog target"
n_ok=0
for i in 1 2 3 4 5; do fetch www.ps.test && n_ok=$((n_ok + 1)); done
# The quiet rule bypasses: s_client sees the server itself.
in_cli timeout 10 openssl s_client -connect "$SRV4:443" -servername quiet.ps.test \
	</dev/null >/dev/null 2>&1
check "5 fetches through the data plane ($n_ok ok)" test "$n_ok" -eq 5
wait_lines 5 "$DP_PID"
sleep 1	# a sixth message (the quiet one) would have come by now
check "UDP: one message per logged session (5), none for the log:false rule" \
	test "$(grep -c "|plainsight|$DP_PID|" "$T_TMP/syslog.out")" -eq 5
closed_ids "$T_TMP/want.ids"
syslog_ids "$DP_PID" "$T_TMP/got.ids"
check "UDP: the JSON ids are those of plainsight-ctl sessions ($(tr '\n' ' ' <"$T_TMP/got.ids"))" \
	sh -c "test -s '$T_TMP/want.ids' && cmp '$T_TMP/want.ids' '$T_TMP/got.ids'"
check "UDP: RFC 5424 fields as rsyslog parsed them (local0.info, version 1, plainsight, session, no SD)" \
	python3 - "$T_TMP/syslog.out" "$DP_PID" "$(hostname)" <<'EOF'
import json, sys
rows = [l.rstrip('\n').split('|', 8) for l in open(sys.argv[1])]
rows = [r for r in rows if r[5] == sys.argv[2]]
assert rows
for pri, ver, ts, host, app, pid, msgid, sd, msg in rows:
	assert (pri, ver, app, msgid, sd) == ('134', '1', 'plainsight', 'session', '-'), (pri, ver, app, msgid, sd)
	assert host == sys.argv[3], host
	rec = json.loads(msg)
	# TIMESTAMP is the record's end, in UTC to the millisecond.
	import datetime
	t = datetime.datetime.fromisoformat(ts.replace('Z', '+00:00'))
	assert int(t.timestamp() * 1000) == rec['end_ms'], (ts, rec['end_ms'])
	assert rec['state'] == 'decrypted' and rec['sni'] == 'www.ps.test', rec
EOF
check "UDP: the log file has the same JSON lines as the messages" python3 - "$T_TMP/syslog.out" "$DP_PID" "$T_TMP/sessions.jsonl" <<'EOF'
import sys
msgs = [l.rstrip('\n').split('|', 8)[8] for l in open(sys.argv[1]) if l.split('|')[5] == sys.argv[2]]
lines = [l.rstrip('\n') for l in open(sys.argv[3])]
assert msgs == lines, (msgs, lines)
EOF
stats_check "UDP: counters sent 5, nothing dropped" "s['sent'] == 5 and s['dropped'] == 0 and s['errors'] == 0"
stop_pid "$DP_PID" INT
check "plainsight-dp (UDP run) stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
rm -f "$T_TMP/sessions.jsonl"

# ---- 2. TCP, SIGHUP rotation, collector restart ----
dp_config "$T_TMP/dp-tcp.json" "tcp://[::1]:$TCP_PORT"
dp_up "$T_TMP/dp-tcp.json" "plainsight-dp starts with a TCP syslog target"
N=40
(for i in $(seq $N); do fetch www.ps.test && echo ok; done) >"$T_TMP/fetch.log" 2>&1 &
FETCH_PID=$!
T_PIDS+=("$FETCH_PID")
# logrotate's create + postrotate, three times while the fetches run:
# once a quarter, a half and three quarters of the records are logged
# (a record is written when its flow is over, TIME_WAIT included).
for r in 1 2 3; do
	wait_for 60 sh -c "test \$(cat '$T_TMP'/sessions.jsonl* 2>/dev/null | wc -l) -ge $((r * N / 4))"
	mv "$T_TMP/sessions.jsonl" "$T_TMP/sessions.jsonl.$r" 2>/dev/null
	kill -HUP "$DP_PID"
done
wait "$FETCH_PID"
check "$N fetches during the renames ($(grep -c '^ok$' "$T_TMP/fetch.log") ok)" \
	test "$(grep -c '^ok$' "$T_TMP/fetch.log")" -eq $N
check "SIGHUP: plainsight-dp still runs" kill -0 "$DP_PID"
wait_lines $N "$DP_PID" 15
closed_ids "$T_TMP/want.ids"
n_closed=$(wc -l <"$T_TMP/want.ids")
check "TCP: $N fetches made $N closed sessions ($n_closed)" test "$n_closed" -eq $N
check "SIGHUP rotation: the 4 files hold every record once (lines $(cat "$T_TMP"/sessions.jsonl* | wc -l))" \
	python3 - "$T_TMP/want.ids" "$T_TMP"/sessions.jsonl "$T_TMP"/sessions.jsonl.{1,2,3} <<'EOF'
import json, sys
want = [int(l) for l in open(sys.argv[1])]
got = []
per = []
for p in sys.argv[2:]:
	ids = [json.loads(l)['id'] for l in open(p)]
	per.append(len(ids))
	got += ids
assert sorted(got) == sorted(want), (len(got), len(want))
assert all(n > 0 for n in per), per	# the renames fell among the records
print(per)
EOF
check "the reopened log file has mode 0640" test "$(stat -c %a "$T_TMP/sessions.jsonl")" = 640
syslog_ids "$DP_PID" "$T_TMP/got.ids"
check "TCP: one message per session, ids those of plainsight-ctl sessions" cmp "$T_TMP/want.ids" "$T_TMP/got.ids"
check "TCP: octet-counted frames parsed as RFC 5424 by rsyslog" \
	sh -c "! grep '|plainsight|$DP_PID|' '$T_TMP/syslog.out' | grep -v '^134|1|'"

# The collector stops: sessions go on, records wait, then arrive.
stop_pid "$RSYSLOG_PID"
n_ok=0
for i in 1 2 3 4 5; do fetch www.ps.test && n_ok=$((n_ok + 1)); done
sleep 2
stats_check "collector down: stats say not connected, records queued" \
	"not s['connected'] and s['queued_bytes'] > 0"
if ! start_rsyslog; then
	t_fail "rsyslogd restarts"
	exit 1
fi
wait_lines $((N + n_ok)) "$DP_PID" 45
closed_ids "$T_TMP/want.ids"
syslog_ids "$DP_PID" "$T_TMP/got.ids"
check "after the collector's restart: the queued records arrived, every session once ($(wc -l <"$T_TMP/got.ids") of $(wc -l <"$T_TMP/want.ids"))" \
	cmp "$T_TMP/want.ids" "$T_TMP/got.ids"
stats_check "counters: reconnected, nothing dropped (the queue never filled)" \
	"s['connected'] and s['reconnects'] >= 1 and s['dropped'] == 0 and s['sent'] == $((N + n_ok))"

stop_pid "$DP_PID" INT
check "plainsight-dp (TCP run) stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
exit 0
