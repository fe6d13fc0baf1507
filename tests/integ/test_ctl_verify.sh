#!/usr/bin/env bash
# Integration: plainsight-ctl verify --chain FILE, which judges a server
# chain with the data plane's own validator (OpenSSL's verification as the
# upstream TLS context does it, then the WebPKI profile) and needs no data
# plane. Certificates from tests/e2e/pki.sh plus a few made here: a good
# chain, a wrong name, an expired leaf (accepted at a time inside its
# validity), dates around a good leaf, self-signed, CN-only, an unknown
# root, a chain through the appliance CA (refused only with the data
# plane's configuration), revocation from the configuration's CRLs, DER,
# JSON, unreadable files and usage errors.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

CTL=$PS_CTL
OUT=$T_TMP/out
ERR=$T_TMP/err
PKI=$T_TMP/pki

# run ARGS...: plainsight-ctl ARGS, stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	"$CTL" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
# has FILE LINE: FILE holds LINE exactly (a whole line, no regex).
has() { grep -qxF -- "$2" "$1" || { echo "missing: $2"; echo "got:"; cat "$1"; return 1; }; }
# verdict CODE LINE: the last run exited CODE and its first line is LINE.
verdict() {
	[ "$RC" = "$1" ] || { echo "exit $RC, expected $1"; cat "$OUT" "$ERR"; return 1; }
	[ "$(head -1 "$OUT")" = "$2" ] || { echo "first line: $(head -1 "$OUT")"; return 1; }
}
# web ARGS...: verify against the test web root only (no system store).
web() { run verify --trust "$PKI/root.crt" --no-system "$@"; }

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }
cd "$PKI" || exit 1

# A root valid since 20 days ago, and a leaf of it valid from 10 to 9 days
# ago: an expired leaf whose chain was good at some time in the past.
mkdir -p old-db && : >old-db/index.txt && echo 2000 >old-db/serial
printf '%s\n' '[ca]' 'default_ca = t' '[t]' 'database = old-db/index.txt' \
	'new_certs_dir = old-db' 'serial = old-db/serial' 'default_md = sha256' 'unique_subject = no' \
	'policy = any' '[any]' 'commonName = supplied' 'organizationName = optional' \
	'[root]' 'basicConstraints = critical,CA:TRUE' 'keyUsage = critical,keyCertSign,cRLSign' \
	'subjectKeyIdentifier = hash' \
	'[leaf]' 'subjectAltName = DNS:old.ps.test' 'basicConstraints = critical,CA:FALSE' \
	'keyUsage = critical,digitalSignature' 'extendedKeyUsage = serverAuth' >old-db/ca.cnf
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/O=plainsight test/CN=Old Root" -keyout oldroot.key -out oldroot.csr 2>/dev/null
openssl ca -batch -selfsign -config old-db/ca.cnf -keyfile oldroot.key -extensions root \
	-startdate "$(date -u -d '-20 days' +%y%m%d%H%M%SZ)" \
	-enddate "$(date -u -d '+20 days' +%y%m%d%H%M%SZ)" \
	-in oldroot.csr -out oldroot.crt 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=old.ps.test" \
	-keyout old.key -out old.csr 2>/dev/null
openssl ca -batch -config old-db/ca.cnf -cert oldroot.crt -keyfile oldroot.key -extensions leaf \
	-startdate "$(date -u -d '-10 days' +%y%m%d%H%M%SZ)" \
	-enddate "$(date -u -d '-9 days' +%y%m%d%H%M%SZ)" \
	-in old.csr -out old.crt 2>/dev/null
# A current leaf of the old root, then revoked in its CRL.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=old.ps.test" \
	-keyout rev.key -out rev.csr 2>/dev/null
openssl ca -batch -config old-db/ca.cnf -cert oldroot.crt -keyfile oldroot.key -extensions leaf \
	-days 5 -in rev.csr -out rev.crt 2>/dev/null
openssl ca -config old-db/ca.cnf -cert oldroot.crt -keyfile oldroot.key -revoke rev.crt 2>/dev/null
openssl ca -config old-db/ca.cnf -cert oldroot.crt -keyfile oldroot.key -gencrl -crldays 5 \
	-out old.crl 2>/dev/null
# A leaf for www.ps.test issued by the appliance's own CA.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=www.ps.test" \
	-keyout loop.key -out loop.csr 2>/dev/null
openssl x509 -req -in loop.csr -CA ca/ca.crt -CAkey ca/ca.key -CAcreateserial -days 10 \
	-extfile <(printf 'subjectAltName=DNS:www.ps.test\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n') \
	-out loop.crt 2>/dev/null
# Someone put the appliance CA into the upstream trust bundle.
cat root.crt ca/ca.crt >bundle.pem
cat www.crt root.crt >www-root.pem
openssl x509 -in www.crt -outform DER -out www.der
for f in oldroot.crt old.crt rev.crt old.crl loop.crt www.der; do
	[ -s "$f" ] || { t_fail "test certificate $f"; exit 1; }
done
cat >dp.json <<EOF
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false},
	"ports": [
		{"name": "net-a", "device": "net_null0", "role": "net", "segment": "s", "side": "a"},
		{"name": "net-b", "device": "net_null1", "role": "net", "segment": "s", "side": "b"}
	],
	"intercept": {"tcp_ports": [443]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/bundle.pem"}
}
EOF

# --- a good chain ---------------------------------------------------------------
web --chain www.crt --name www.ps.test
check "good: accepted, exit 0" verdict 0 "accepted"
check "good: the chain built runs from the leaf to the trusted root" \
	test "$(grep -c 'subject:' "$OUT")" = 2 -a \
	"$(grep -m1 'subject:' "$OUT")" = "  0 subject: CN=www.ps.test" -a \
	"$(grep -m1 'issuer:' "$OUT")" = "    issuer:  O=plainsight test, CN=Test Web Root"
web --chain www.crt --name 198.18.0.2
check "good: its IP address SAN matches an IP --name" verdict 0 "accepted"
web --chain www.der --name www.ps.test
check "good: a DER certificate is read too" verdict 0 "accepted"
web --chain www.crt
check "good: without --name no name is checked" verdict 0 "accepted"

# --- names ----------------------------------------------------------------------
web --chain www.crt --name other.ps.test
check "wrong name: refused host_mismatch, exit 1" verdict 1 "refused: host_mismatch"
web --chain www.crt --name 198.18.0.9
check "wrong IP: refused host_mismatch" verdict 1 "refused: host_mismatch"
web --chain nosan.crt --name www.ps.test
check "CN only, no SAN: refused leaf_no_san (OpenSSL alone would take the CN)" \
	verdict 1 "refused: leaf_no_san"
check "CN only: OpenSSL's own verification does accept it" \
	openssl verify -CAfile root.crt -verify_hostname www.ps.test nosan.crt

# --- time -----------------------------------------------------------------------
web --chain expired.crt --name www.ps.test
check "expired: refused expired" verdict 1 "refused: expired"
run verify --trust oldroot.crt --no-system --chain old.crt --name old.ps.test
check "expired (old root): refused expired now" verdict 1 "refused: expired"
IN=$(date -u -d '-9 days -12 hours' +%Y-%m-%dT%H:%M:%SZ)
run verify --trust oldroot.crt --no-system --chain old.crt --name old.ps.test --time "$IN"
check "expired: accepted with --time inside its validity ($IN)" verdict 0 "accepted"
run verify --trust oldroot.crt --no-system --chain old.crt --name old.ps.test \
	--time "$(date -u -d '-9 days -12 hours' +%s)"
check "expired: the same time as UNIX seconds" verdict 0 "accepted"
web --chain www.crt --name www.ps.test --time "$(date -u -d '+15 days' +%Y-%m-%d)"
check "good leaf after its validity (--time +15 days): refused expired" \
	verdict 1 "refused: expired"
web --chain www.crt --name www.ps.test --time "$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%S)"
check "good leaf before its validity (--time -2 days): refused not_yet_valid" \
	verdict 1 "refused: not_yet_valid"

# --- trust ----------------------------------------------------------------------
web --chain self.crt --name www.ps.test
check "self-signed (a CA:TRUE leaf without EKU): refused, self_signed first" \
	verdict 1 "refused: self_signed, leaf_is_ca, eku_missing"
run verify --trust ca/ca.crt --no-system --chain www-root.pem --name www.ps.test
check "unknown root (sent, not trusted): refused unknown_root" verdict 1 "refused: unknown_root"
run verify --trust ca/ca.crt --no-system --chain www.crt --name www.ps.test
check "issuer neither sent nor trusted: refused incomplete_chain" \
	verdict 1 "refused: incomplete_chain"
run verify --trust bundle.pem --no-system --chain loop.crt --name www.ps.test
check "appliance-CA leaf with only a trust bundle holding that CA: accepted" \
	verdict 0 "accepted"
run verify --config dp.json --chain loop.crt --name www.ps.test
check "appliance-CA leaf with --config: refused signed_by_appliance_ca" \
	verdict 1 "refused: signed_by_appliance_ca"
run verify --config dp.json --chain www.crt --name www.ps.test
check "--config: its trust bundle accepts the good chain" verdict 0 "accepted"
run verify --config dp.json --chain www.crt --name other.ps.test
check "--config: a wrong name is still refused" verdict 1 "refused: host_mismatch"

# Revocation: the configuration's CRLs, as the data plane loads them.
sed -e "s|$PKI/bundle.pem|$PKI/oldroot.crt|" -e 's|"trust_bundle"|"crl_files": ["'"$PKI"'/old.crl"], "trust_bundle"|' \
	dp.json >dp-crl.json
run verify --trust oldroot.crt --no-system --chain rev.crt --name old.ps.test
check "revoked leaf without CRLs: accepted" verdict 0 "accepted"
run verify --config dp-crl.json --chain rev.crt --name old.ps.test
check "revoked leaf with --config and its tls.crl_files: refused revoked" verdict 1 "refused: revoked"
sed -e "s|$PKI/bundle.pem|$PKI/root.crt|" -e 's|"trust_bundle"|"crl_files": ["'"$PKI"'/old.crl"], "revocation_unknown": "allow", "trust_bundle"|' \
	dp.json >dp-allow.json
run verify --config dp-allow.json --chain www.crt --name www.ps.test
check "no CRL of its issuer, revocation_unknown allow: accepted, and said" \
	sh -c "[ $RC = 0 ] && grep -qx '  allowed by configuration: revocation_unknown' '$OUT'"
sed -i 's|, "revocation_unknown": "allow"||' dp-allow.json
run verify --config dp-allow.json --chain www.crt --name www.ps.test
check "no CRL of its issuer, revocation_unknown reject: refused revocation_unknown" \
	verdict 1 "refused: revocation_unknown"

# --- JSON -----------------------------------------------------------------------
run --json verify --trust root.crt --no-system --chain expired.crt --name other.ps.test
check "json: exit 1" test "$RC" = 1
check "json: not accepted, both reasons in order, the chain of two" \
	json_get "$OUT" "'ok' if r['accepted'] is False and r['reasons'] == ['expired', \
		'host_mismatch'] and len(r['chain']) == 2 and r['name'] == 'other.ps.test' \
		else sys.exit(1)"
run verify --json --trust root.crt --no-system --chain www.crt --name www.ps.test
check "json (option after verify): accepted, no reasons, leaf fingerprint" \
	json_get "$OUT" "'ok' if r['accepted'] is True and r['reasons'] == [] and \
		len(r['chain'][0]['sha256']) == 64 else sys.exit(1)"

# --- unreadable files, usage ----------------------------------------------------
run verify --trust root.crt --no-system --chain "$T_TMP/nosuch.pem" --name www.ps.test
check "missing chain file: exit 1, named on stderr" \
	sh -c "[ $RC = 1 ] && grep -q 'nosuch.pem' '$ERR' && [ ! -s '$OUT' ]"
printf 'not a certificate\n' >junk.pem
run verify --trust root.crt --no-system --chain junk.pem
check "a file without a certificate: exit 1" test "$RC" = 1
run verify --config "$T_TMP/nosuch.json" --chain www.crt
check "missing --config file: exit 1" test "$RC" = 1
run verify --chain www.crt --time 2026-02-30
check "bad --time (February 30): exit 2" sh -c "[ $RC = 2 ] && grep -q -- '--time' '$ERR'"
run verify --chain www.crt --time yesterday
check "bad --time (a word): exit 2" test "$RC" = 2
run verify --name www.ps.test
check "no --chain: exit 2" test "$RC" = 2
run verify --config dp.json --trust root.crt --chain www.crt
check "--config with --trust: exit 2" test "$RC" = 2
run verify --no-system --chain www.crt
check "--no-system without --trust: exit 2" test "$RC" = 2

exit $((T_FAILED > 0))
