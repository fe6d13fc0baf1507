#!/usr/bin/env bash
# End to end: revocation of upstream certificates from CRL files.
#
# A test CA run with `openssl ca` issues two leaves and revokes one of them
# (`openssl ca -revoke`, then `-gencrl`); a second CA issues a leaf and
# publishes no CRL. The data plane loads the first CA's CRL
# (tls.crl_files) and intercepts three openssl s_server instances:
#   443  good leaf            -> decrypted, the client gets the page
#   4432 revoked leaf         -> the client gets an alert; record: revoked
#   4433 leaf, no CRL loaded  -> revocation_unknown "reject": alert;
#                                "allow": decrypted, the record notes it
# Configuration errors (an unreadable or undecodable CRL file, a bad
# revocation_unknown) stop the data plane at start (plainsight-dp --check).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=r$(($$ % 1000000))
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
# record SNI EXPR: EXPR over the newest session record for SNI (s).
record() {
	"$PS_CTL" --socket "$SOCK" --json sessions --sni "$1" >"$T_TMP/s.json" &&
		json_get "$T_TMP/s.json" "(lambda s: 'ok' if $2 else sys.exit(str(s.get('validation'))))(r['sessions'][0])"
}

# ------------------------------------------------------------------
# The PKI: CA 1 (with a CRL), CA 2 (without), the appliance CA.
mkdir -p "$PKI" && chmod 700 "$PKI"
"$PS_ROOT/scripts/mkca.sh" --cn "plainsight test CA" "$PKI/ca" >/dev/null 2>&1 ||
	{ t_fail "appliance CA"; exit 1; }
mkpki() (
	set -e
	cd "$PKI"
	umask 077
	export SAN=DNS:unused.ps.test	# ca.cnf names it: defined for every openssl ca call
	# ca NAME CN: a root with its own `openssl ca` database.
	ca() {
		mkdir -p "$1/certs"
		: >"$1/index.txt"
		echo 1000 >"$1/serial"
		echo 1000 >"$1/crlnumber"
		cat >"$1/ca.cnf" <<EOC
[ca]
default_ca = ca_default
[ca_default]
dir = $PKI/$1
database = \$dir/index.txt
new_certs_dir = \$dir/certs
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
default_md = sha256
default_days = 10
default_crl_days = 7
policy = any
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \$ENV::SAN
EOC
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
			-subj "/O=plainsight test/CN=$2" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null
	}
	# leaf CA NAME HOST
	leaf() {
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
			-keyout "$2.key" -out "$2.csr" 2>/dev/null
		SAN="DNS:$3" openssl ca -batch -config "$1/ca.cnf" -extensions leaf \
			-in "$2.csr" -out "$2.crt" 2>/dev/null
		rm -f "$2.csr"
	}
	ca ca1 "Revocation Test Root 1"
	ca ca2 "Revocation Test Root 2"
	leaf ca1 good good.ps.test
	leaf ca1 revoked revoked.ps.test
	leaf ca2 nocrl nocrl.ps.test
	openssl ca -batch -config ca1/ca.cnf -revoke revoked.crt -crl_reason keyCompromise 2>/dev/null
	openssl ca -batch -config ca1/ca.cnf -gencrl -out ca1.crl 2>/dev/null
	openssl crl -in ca1.crl -outform DER -out ca1.crl.der
	cat ca1/ca.crt ca2/ca.crt >roots.pem
	# (set -e does not hold under the caller's ||: check the results.)
	test -s good.crt && test -s revoked.crt && test -s nocrl.crt && test -s ca1.crl.der
)
mkpki >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI with openssl ca"; cat "$T_TMP/pki.log"; exit 1; }
check "openssl ca: the CRL lists the revoked leaf's serial" sh -c \
	"openssl crl -in '$PKI/ca1.crl' -noout -text | grep -q \"\$(openssl x509 -in '$PKI/revoked.crt' -noout -serial | cut -d= -f2)\""
check "openssl itself: the revoked leaf fails -crl_check" sh -c \
	"openssl verify -crl_check -CAfile '$PKI/ca1/ca.crt' -CRLfile '$PKI/ca1.crl' '$PKI/revoked.crt' 2>&1 | grep -q 'certificate revoked'"

# rev_config FILE CRL_FILES_JSON [EXTRA_TLS_JSON]
rev_config() {
	dp_config "$1" 1 "" - <<EOF
	"intercept": {"tcp_ports": [443, 4432, 4433]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/roots.pem",
		"crl_files": $2${3:+, $3}}
EOF
}

# ------------------------------------------------------------------
# Start-up refusals (no traffic needed).
dp_check() { "$PS_DP" --config "$T_TMP/check.json" --check; }
rev_config "$T_TMP/check.json" "[\"$PKI/ca1.crl\", \"$PKI/ca1.crl.der\"]"
check "--check accepts a PEM and a DER CRL file" dp_check
rev_config "$T_TMP/check.json" "[\"$PKI/missing.crl\"]"
out=$(dp_check 2>&1)
check "an unreadable CRL file stops the start ($out)" sh -c \
	"echo '$out' | grep -q 'tls.crl_files\[0\]: $PKI/missing.crl: cannot read: No such file'"
rev_config "$T_TMP/check.json" "[\"$PKI/ca1.crl\", \"$PKI/good.crt\"]"
out=$(dp_check 2>&1)
check "a file without a CRL stops the start ($out)" sh -c \
	"echo '$out' | grep -q 'tls.crl_files\[1\]: .*no \"X509 CRL\" PEM block'"
rev_config "$T_TMP/check.json" "[\"$PKI/ca1.crl\"]" '"revocation_unknown": "maybe"'
out=$(dp_check 2>&1)
check "revocation_unknown takes reject or allow only ($out)" sh -c \
	"echo '$out' | grep -q 'tls.revocation_unknown'"
rev_config "$T_TMP/check.json" "[\"$PKI/ca1.crl\", \"$PKI/ca1.crl\"]"
out=$(dp_check 2>&1)
check "a CRL file named twice is refused ($out)" sh -c \
	"echo '$out' | grep -q 'tls.crl_files\[1\]: .*already crl_files\[0\]'"

# ------------------------------------------------------------------
# Traffic.
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"

mkdir -p "$T_TMP/www" && echo "revocation test page" >"$T_TMP/www/index.html"
serve() {	# PORT NAME
	(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
		-accept "$SRV4:$1" -cert "$PKI/$2.crt" -key "$PKI/$2.key") >"$T_TMP/srv-$1.log" 2>&1 &
	T_PIDS+=($!)
}
serve 443 good
serve 4432 revoked
serve 4433 nocrl
sleep 1

# get HOST PORT OUT: curl through the appliance, trusting its CA; exit code.
get() {
	in_cli curl -sS --max-time 15 --cacert "$PKI/ca/ca.crt" --resolve "$1:$2:$SRV4" \
		-o "$3" "https://$1:$2/index.html" 2>"$3.err"
}

# Run 1: revocation_unknown reject (the default).
rev_config "$T_TMP/dp.json" "[\"$PKI/ca1.crl\"]"
dp_up "$T_TMP/dp.json" "plainsight-dp starts with tls.crl_files"

get good.ps.test 443 "$T_TMP/good.out"
check "good leaf: decrypted, the client gets the page" cmp "$T_TMP/www/index.html" "$T_TMP/good.out"
check "good leaf: record says ok" record good.ps.test "s['validation']['reason'] == 'ok'"

get revoked.ps.test 4432 "$T_TMP/revoked.out"
rc=$?
check "revoked leaf: curl fails the handshake (exit $rc: $(head -c 120 "$T_TMP/revoked.out.err"))" \
	sh -c "test $rc -eq 35 && grep -qi 'alert' '$T_TMP/revoked.out.err'"
in_cli timeout 15 openssl s_client -connect "$SRV4:4432" -servername revoked.ps.test \
	</dev/null >"$T_TMP/revoked.sc" 2>&1
check "revoked leaf: openssl s_client gets a handshake_failure alert" \
	grep -q "alert handshake failure" "$T_TMP/revoked.sc"
check "revoked leaf: record says revoked, rejected" \
	record revoked.ps.test "s['validation']['reason'] == 'revoked' and not s['validation']['ok'] and s['state'] == 'rejected'"

get nocrl.ps.test 4433 "$T_TMP/nocrl.out"
rc=$?
check "no CRL for the issuer, reject: the client gets an alert (exit $rc)" test "$rc" -eq 35
check "no CRL for the issuer, reject: record says revocation_unknown" \
	record nocrl.ps.test "s['validation']['reason'] == 'revocation_unknown' and s['state'] == 'rejected'"
check "counters: verify failures by reason revoked 2, revocation_unknown 1" \
	stats "'ok' if r['tls']['verify_failures_by_reason']['revoked'] == 2 and r['tls']['verify_failures_by_reason']['revocation_unknown'] == 1 else sys.exit(str(r['tls']['verify_failures_by_reason']))"
stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"

# Run 2: revocation_unknown allow, the CRL as DER this time.
rev_config "$T_TMP/dp.json" "[\"$PKI/ca1.crl.der\"]" '"revocation_unknown": "allow"'
if ! start_dp "$NS_DP" "$T_TMP/dp.json" "$SOCK"; then
	t_fail "plainsight-dp starts with revocation_unknown allow"
	exit 1
fi
t_ok "plainsight-dp starts with revocation_unknown allow (DER CRL)"
get nocrl.ps.test 4433 "$T_TMP/nocrl2.out"
check "no CRL for the issuer, allow: decrypted, the client gets the page" \
	cmp "$T_TMP/www/index.html" "$T_TMP/nocrl2.out"
check "no CRL for the issuer, allow: record ok, notes the allowed unknown status" \
	record nocrl.ps.test "s['validation']['ok'] and s['validation']['reason'] == 'ok; allowed: revocation_unknown'"
get revoked.ps.test 4432 "$T_TMP/revoked2.out"
rc=$?
check "allow does not let a revoked leaf through (exit $rc)" test "$rc" -eq 35
check "allow: the revoked leaf's record says revoked" \
	record revoked.ps.test "s['validation']['reason'].startswith('revoked')"
get good.ps.test 443 "$T_TMP/good2.out"
check "allow: good leaf decrypted" cmp "$T_TMP/www/index.html" "$T_TMP/good2.out"
stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly (allow)" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
exit 0
