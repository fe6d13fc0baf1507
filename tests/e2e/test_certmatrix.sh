#!/usr/bin/env bash
# End to end: the certificate matrix of the WebPKI profile.
#
# tests/e2e/pki_matrix.sh makes one server chain per check (refused:
# a CA leaf, no SAN, v1, EKU and KU errors, MD5/SHA-1, DSA, RSA-1024, bad
# serials, dates of leaf, intermediate and root, self-signed, unknown or
# spoofed root, bad signature, issuer errors, name constraints and their
# holes, host names, an incomplete chain, the appliance's own CA;
# accepted: reversed order, extra certificates, cross-signed roots, the
# root sent, a SHA-1 self-signed root, P-256/P-384, RSA 4096/8192, 1,200
# SANs, an IDN, a wildcard, a 20-octet serial). Each case gets its own
# openssl s_server presenting its chain, all on intercepted ports of one
# data plane, and one curl through the appliance trusting only the
# appliance CA. One check per case: accepted cases give the page under a
# leaf issued by the appliance CA; refused ones an alert (no hang); the
# session record's validation names the expected reason. Then the
# per-reason counters, and the offline validator (plainsight-ctl verify)
# against the records. See docs/security.md, "Tested: the certificate
# matrix".
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=m$(($$ % 1000000))
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
PORT0=4400
in_cli() { ip netns exec "$NS_CLI" "$@"; }

t0=$(date +%s)
"$PS_ROOT/tests/e2e/pki_matrix.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 ||
	{ t_fail "certificate matrix generated"; sed 's/^/#   /' "$T_TMP/pki.log" | tail -20; exit 1; }
NAMES=() HOSTS=() EXPECTS=() REASONS=()
while IFS=$'\t' read -r name host expect reason; do
	NAMES+=("$name") HOSTS+=("$host") EXPECTS+=("$expect") REASONS+=("$reason")
done <"$PKI/cases.tsv"
N=${#NAMES[@]}
N_REJECT=$(grep -c $'\treject\t' "$PKI/cases.tsv")
check "certificate matrix: 50..64 cases ($N, $N_REJECT refused)" \
	test "$N" -ge 50 -a "$N" -le 64
echo "# matrix generated in $(($(date +%s) - t0)) s"

# ------------------------------------------------------------------
# The data plane: every case's port intercepted, the matrix's roots only.
ports=$(seq -s, "$PORT0" $((PORT0 + N - 1)))
dp_config "$T_TMP/dp.json" 1 "" - <<EOF
	"intercept": {"tcp_ports": [$ports]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/roots.pem"}
EOF
[ $? = 0 ] || { t_fail "data plane configuration"; exit 1; }

"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"

# One s_server per case, each presenting its chain as made (the leaf, then
# the rest in the case's order; -cert_chain keeps that order). Security
# level 0: the server itself must not refuse the weak certificates.
WWW=$T_TMP/www
mkdir -p "$WWW" && echo "certificate matrix page" >"$WWW/index.html"
for i in $(seq 0 $((N - 1))); do
	d=$T_TMP/srv/${NAMES[$i]}
	mkdir -p "$d"
	awk -v d="$d" '/-----BEGIN/ { n++ } { print > (n == 1 ? d "/leaf.pem" : d "/rest.pem") }' \
		"$PKI/cases/${NAMES[$i]}/chain.pem"
	chain=()
	[ -s "$d/rest.pem" ] && chain=(-cert_chain "$d/rest.pem")
	bg "$NS_SRV" "$d/s_server.log" sh -c 'cd "$1" && shift && exec "$@"' sh "$WWW" \
		openssl s_server -quiet -WWW -accept "$SRV4:$((PORT0 + i))" -cipher 'DEFAULT:@SECLEVEL=0' \
		-cert "$d/leaf.pem" -key "$PKI/cases/${NAMES[$i]}/key.pem" "${chain[@]}"
done
listening() { [ "$(ip netns exec "$NS_SRV" ss -ltnH | wc -l)" -ge "$N" ]; }
if ! wait_for 30 listening; then
	t_fail "$N openssl s_server listening"
	grep -l . "$T_TMP"/srv/*/s_server.log | while read -r f; do echo "# $f:"; sed 's/^/#   /' "$f"; done
	exit 1
fi

if ! start_dp "$NS_DP" "$T_TMP/dp.json" "$SOCK"; then
	t_fail "plainsight-dp starts with the matrix's trust bundle"
	exit 1
fi

# ------------------------------------------------------------------
# client I: curl through the appliance trusting its CA only; what went
# wrong, if anything, on standard output; the session record into
# $T_TMP/rec-NAME.json.
has_record() {
	"$PS_CTL" --socket "$SOCK" --json sessions --sni "${HOSTS[$1]}" --port $((PORT0 + $1)) \
		>"$T_TMP/rec-${NAMES[$1]}.json" 2>&1 && grep -q '"validation"' "$T_TMP/rec-${NAMES[$1]}.json"
}
client() {
	local i=$1 host=${HOSTS[$1]} port=$((PORT0 + $1)) out=$T_TMP/out-${NAMES[$1]} rc
	in_cli curl -sS -v --max-time 15 --cacert "$PKI/ca/ca.crt" --resolve "$host:$port:$SRV4" \
		-o "$out" "https://$host:$port/index.html" 2>"$out.err"
	rc=$?
	if [ "${EXPECTS[$i]}" = accept ]; then
		if [ "$rc" != 0 ]; then
			echo "curl exit $rc"
			grep -v '^[<>{}]' "$out.err" | tail -5
		elif ! cmp "$WWW/index.html" "$out"; then
			echo "not the page"
		elif ! grep -q '^\*  issuer: .*CN *= *plainsight test CA' "$out.err"; then
			echo "the client's leaf is not the appliance CA's:"
			grep 'issuer:' "$out.err"
		fi
	elif [ "$rc" != 35 ] || ! grep -qi 'alert' "$out.err"; then
		# 35: the handshake failed, and with an alert (not a reset or a hang).
		echo "curl exit $rc, expected 35 with an alert"
		tail -3 "$out.err"
	fi
	wait_for 5 has_record "$i"
}

t1=$(date +%s)
for i in $(seq 0 $((N - 1))); do
	client "$i" >"$T_TMP/client-${NAMES[$i]}" 2>&1
done
echo "# $N cases through the appliance in $(($(date +%s) - t1)) s"

# Every record against its expected verdict and reason (one of the
# record's reasons), in one pass: "NAME<TAB>problem" for each one wrong.
python3 - "$T_TMP" "$PKI/cases.tsv" >"$T_TMP/records.bad" <<'EOF'
import json, sys
for line in open(sys.argv[2]):
	name, host, expect, reason = line.rstrip('\n').split('\t')
	try:
		r = json.load(open('%s/rec-%s.json' % (sys.argv[1], name)))
	except (OSError, ValueError) as e:
		print('%s\tno session list: %s' % (name, e))
		continue
	s = r['sessions'][0] if r.get('sessions') else {}
	v = s.get('validation')
	if s.get('sni') != host or v is None:
		print('%s\tno record with validation for %s: %s' % (name, host, json.dumps(s)))
		continue
	if expect == 'accept':
		ok = v['ok'] and v['reason'] == 'ok'
	else:
		ok = not v['ok'] and reason in v['reason'].split(',') and s['state'] == 'rejected'
	if not ok:
		print('%s\trecord: state %s, validation %s' % (name, s['state'], json.dumps(v)))
EOF
# verdict I: the client's result and the record's.
verdict() {
	local name=${NAMES[$1]} bad=0
	if [ -s "$T_TMP/client-$name" ]; then
		cat "$T_TMP/client-$name"
		bad=1
	fi
	if grep "^$name"$'\t' "$T_TMP/records.bad"; then
		bad=1
	fi
	return $bad
}
for i in $(seq 0 $((N - 1))); do
	check "${NAMES[$i]}: ${EXPECTS[$i]} (${REASONS[$i]})" verdict "$i"
done

# ------------------------------------------------------------------
# Counters: every refusal counted once, under its first reason as the
# records give it.
ctl_json "$SOCK" stats >"$T_TMP/stats.json"
python3 - "$T_TMP/stats.json" "$T_TMP"/rec-*.json >"$T_TMP/counters.txt" <<'EOF'
import collections, json, sys
st = json.load(open(sys.argv[1]))['tls']
want = collections.Counter()
for f in sys.argv[2:]:
	try:
		s = json.load(open(f))['sessions'][0]
		if not s['validation']['ok']:
			want[s['validation']['reason'].split(',')[0]] += 1
	except (OSError, ValueError, IndexError, KeyError):
		pass
got = {k: v for k, v in st['verify_failures_by_reason'].items() if v}
for k, v in sorted(st['verify_failures_by_reason'].items()):
	print('reason %s %d' % (k, v))
print('upstream_verify_failed %s' % st.get('upstream_verify_failed'))
print('records_refused %d' % sum(want.values()))
print('by_reason_as_records %s' % ('yes' if got == dict(want) else
      'no: counters %s, records %s' % (got, dict(want))))
EOF
counter() { grep -qx "$1" "$T_TMP/counters.txt" || { cat "$T_TMP/counters.txt"; return 1; }; }
check "counters: upstream_verify_failed $N_REJECT" counter "upstream_verify_failed $N_REJECT"
check "counters: $N_REJECT refused records" counter "records_refused $N_REJECT"
check "counters: verify_failures_by_reason counts each record's first reason" \
	counter "by_reason_as_records yes"
for r in leaf_is_ca leaf_no_san weak_signature_md5 serial_bad name_constraints host_mismatch; do
	check "counters: verify_failures_by_reason.$r > 0" \
		sh -c "grep -q '^reason $r [1-9]' '$T_TMP/counters.txt' || cat '$T_TMP/counters.txt'"
done

# ------------------------------------------------------------------
# Offline: plainsight-ctl verify with the data plane's configuration gives
# the reasons of the session record, for every case.
agree() {
	local i
	for i in $(seq 0 $((N - 1))); do
		"$PS_CTL" --json verify --config "$T_TMP/dp.json" \
			--chain "$PKI/cases/${NAMES[$i]}/chain.pem" --name "${HOSTS[$i]}" \
			>"$T_TMP/off-${NAMES[$i]}.json"
	done
	python3 - "$T_TMP" "${NAMES[@]}" <<'EOF'
import json, sys
bad = []
for name in sys.argv[2:]:
	try:
		off = json.load(open('%s/off-%s.json' % (sys.argv[1], name)))
		rec = json.load(open('%s/rec-%s.json' % (sys.argv[1], name)))['sessions'][0]
		want = rec['validation']
	except (OSError, ValueError, IndexError, KeyError) as e:
		bad.append('%s: %s' % (name, e))
		continue
	got = ','.join(off['reasons']) or 'ok'
	if got != want['reason'] or off['accepted'] != want['ok']:
		bad.append('%s: offline %s, record %s' % (name, got, want['reason']))
sys.exit('\n'.join(bad) if bad else 0)
EOF
}
check "plainsight-ctl verify --config: the same reasons as the session record, all $N cases" agree
# A few by name, with the exit status.
offline_case() {	# NAME EXIT FIRST_LINE
	local i
	for i in $(seq 0 $((N - 1))) none; do
		[ "$i" = none ] && { echo "no case $1"; return 1; }
		[ "${NAMES[$i]}" = "$1" ] && break
	done
	"$PS_CTL" verify --config "$T_TMP/dp.json" --chain "$PKI/cases/$1/chain.pem" \
		--name "${HOSTS[$i]}" >"$T_TMP/off.txt"
	local rc=$?
	[ "$rc" = "$2" ] && [ "$(head -1 "$T_TMP/off.txt")" = "$3" ] ||
		{ echo "exit $rc:"; cat "$T_TMP/off.txt"; return 1; }
}
check "offline: cross_signed accepted" offline_case cross_signed 0 "accepted"
check "offline: leaf_no_san refused" offline_case leaf_no_san 1 "refused: leaf_no_san"
check "offline: nc_wildcard_excluded refused" offline_case nc_wildcard_excluded 1 \
	"refused: name_constraints"
check "offline: appliance_ca refused" offline_case appliance_ca 1 \
	"refused: signed_by_appliance_ca, incomplete_chain"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
echo "# total $(($(date +%s) - t0)) s"
exit $((T_FAILED > 0))
