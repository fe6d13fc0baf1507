#!/usr/bin/env bash
# End to end: interception never weakens security (upstream profile, no
# downgrade, client-facing hardening, per-install CA keys).
#
#   * The appliance's own ClientHello to the server, captured with tshark
#     while clients offering weak things connect (TLS 1.0, RC4, 3DES,
#     NULL, CBC, DHE, SHA-1/MD5 signatures, P-521/ffdhe groups,
#     compression, heartbeat, an extension nobody knows): graded, and its
#     random is not the client's.
#   * A TLS 1.2-only server: the client leg is TLS 1.2 too, with no
#     downgrade sentinel; both legs in the session record. Servers outside
#     the profile (CBC-only, TLS 1.1, DHE-only, 3DES, NULL) are blocked:
#     the client gets an alert, never the server's page or certificate,
#     the record names the reason, a counter rises.
#   * TLS_FALLBACK_SCSV answered as the real server would.
#   * The client-facing side: testssl (a subset) finds nothing HIGH or
#     CRITICAL; renegotiation refused, no compression; forged leaves carry
#     only the validated names, serverAuth, a random serial, a notAfter no
#     later than the real one, SHA-256 or better, nothing copied (AIA,
#     OCSP, SCTs, policies, CRL distribution points); the forged key is
#     never stronger than the real one.
#   * scripts/mkca.sh: two installs, two different CAs; no overwrite; 0600.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=h$(($$ % 1000000))
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
tls() { stats "r['tls']['$1']"; }
# rec PORT EXPR: EXPR over the newest session record to server port PORT.
rec() {
	"$PS_CTL" --socket "$SOCK" --json sessions --port "$1" >"$T_TMP/s.json" &&
		json_get "$T_TMP/s.json" "(lambda s: 'ok' if $2 else sys.exit(json.dumps(s)))(max(r['sessions'], key=lambda s: (s['start_ms'], s['id'])))"
}
# first_cert FILE: the first PEM certificate in FILE (s_client -showcerts).
first_cert() { sed -n '/BEGIN CERT/,/END CERT/p' "$1" | sed '/END CERT/q'; }

# ------------------------------------------------------------------
# Item 7: every install makes its own CA (no network needed).
MKCA=$PS_ROOT/scripts/mkca.sh
"$MKCA" --cn "install one" "$T_TMP/inst1" >/dev/null 2>&1
"$MKCA" --cn "install one" "$T_TMP/inst2" >/dev/null 2>&1
pub() { openssl pkey -in "$1/ca.key" -pubout 2>/dev/null | sha256sum | cut -d' ' -f1; }
ser() { openssl x509 -in "$1/ca.crt" -noout -serial 2>/dev/null; }
check "mkca: two installs, two different CA keys" sh -c \
	"test -n '$(pub "$T_TMP/inst1")' && test '$(pub "$T_TMP/inst1")' != '$(pub "$T_TMP/inst2")' &&
	 test '$(pub "$T_TMP/inst1")' != '$(pub /dev/null)'"
check "mkca: two installs, two different CA serials ($(ser "$T_TMP/inst1"), $(ser "$T_TMP/inst2"))" sh -c \
	"test -n '$(ser "$T_TMP/inst1")' && test '$(ser "$T_TMP/inst1")' != '$(ser "$T_TMP/inst2")'"
check "mkca: the key matches its certificate" sh -c \
	"test \"\$(openssl x509 -in '$T_TMP/inst1/ca.crt' -noout -pubkey | sha256sum)\" = \"\$(openssl pkey -in '$T_TMP/inst1/ca.key' -pubout | sha256sum)\""
check "mkca: ca.key is 0600, ca.crt 0644" sh -c \
	"test \$(stat -c %a '$T_TMP/inst1/ca.key') = 600 && test \$(stat -c %a '$T_TMP/inst1/ca.crt') = 644"
sum1=$(cat "$T_TMP/inst1/ca.key" "$T_TMP/inst1/ca.crt" | sha256sum)
"$MKCA" --cn "install one" "$T_TMP/inst1" >"$T_TMP/mkca-again.out" 2>&1
rc=$?
check "mkca: refuses to overwrite an existing CA (exit $rc: $(head -c 100 "$T_TMP/mkca-again.out"))" sh -c \
	"test $rc -ne 0 && test \"\$(cat '$T_TMP/inst1/ca.key' '$T_TMP/inst1/ca.crt' | sha256sum)\" = '$sum1'"
mkdir -p "$T_TMP/inst3" && echo keep >"$T_TMP/inst3/ca.key"
"$MKCA" "$T_TMP/inst3" >/dev/null 2>&1
rc=$?
check "mkca: refuses when only ca.key exists, and leaves it" sh -c \
	"test $rc -ne 0 && test \"\$(cat '$T_TMP/inst3/ca.key')\" = keep && test ! -e '$T_TMP/inst3/ca.crt'"

# ------------------------------------------------------------------
# The PKI: pki.sh's, plus a leaf carrying everything a forged leaf must
# not copy (AIA with OCSP and caIssuers, certificate policies with the
# CA/B EV OID, CRL distribution points, an SCT list).
if ! "$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1; then
	t_fail "test PKI made"; sed 's/^/#   /' "$T_TMP/pki.log"; exit 1
fi
sct=$(python3 -c '
import os, struct
sct = bytes([0]) + os.urandom(32) + struct.pack(">Q", 1700000000000) + b"\0\0" + bytes([4, 3])
sig = bytes.fromhex("3006020101020101")
sct += struct.pack(">H", len(sig)) + sig
lst = struct.pack(">H", len(sct)) + sct
lst = struct.pack(">H", len(lst)) + lst
print(":".join("%02X" % b for b in bytes([4, len(lst)]) + lst))')
(
	cd "$PKI" && umask 077 &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Ext Corp/OU=Web/CN=ext.ps.test" \
		-keyout ext.key -out ext.csr 2>/dev/null &&
	openssl x509 -req -in ext.csr -CA root.crt -CAkey root.key -CAcreateserial -days 7 -sha384 \
		-extfile <(printf '%s\n' "subjectAltName=DNS:ext.ps.test,DNS:alt.ps.test" \
			"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
			"extendedKeyUsage=serverAuth,clientAuth" \
			"authorityInfoAccess=OCSP;URI:http://ocsp.ps.test/,caIssuers;URI:http://ca.ps.test/root.crt" \
			"certificatePolicies=2.23.140.1.1,1.3.6.1.4.1.44947.1.1.1" \
			"crlDistributionPoints=URI:http://crl.ps.test/root.crl" \
			"1.3.6.1.4.1.11129.2.4.2=DER:$sct" \
			"subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid") \
		-out ext.crt 2>/dev/null && rm -f ext.csr && chmod 644 ext.crt &&
	# A leaf testssl finds no fault with (not about to expire).
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=www.ps.test" \
		-keyout long.key -out long.csr 2>/dev/null &&
	openssl x509 -req -in long.csr -CA root.crt -CAkey root.key -CAcreateserial -days 120 \
		-extfile <(printf '%s\n' "subjectAltName=DNS:www.ps.test" "basicConstraints=critical,CA:FALSE" \
			"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth") \
		-out long.crt 2>/dev/null && rm -f long.csr && chmod 644 long.crt
) || { t_fail "upstream leaf with AIA/OCSP/policies/SCTs made"; exit 1; }
openssl x509 -in "$PKI/ext.crt" -noout -text >"$T_TMP/ext-real.txt"
check "the upstream ext leaf carries AIA, OCSP, policies, CRL DP and SCTs" sh -c \
	"grep -q 'Authority Information Access' '$T_TMP/ext-real.txt' && grep -q 'OCSP - URI' '$T_TMP/ext-real.txt' &&
	 grep -q 'Policy: 2.23.140.1.1' '$T_TMP/ext-real.txt' && grep -q 'CRL Distribution' '$T_TMP/ext-real.txt' &&
	 grep -q 'Signed Certificate Timestamp' '$T_TMP/ext-real.txt'"

# ------------------------------------------------------------------
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"

PORTS="443, 4431, 4432, 4433, 4434, 4435, 4436, 4437, 4438, 4439, 4440, 4441, 4442"
dp_config "$T_TMP/dp.json" 1 "" - <<EOF || exit 1
	"intercept": {"tcp_ports": [$PORTS]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"},
	"sessions": {"keep": 1000}
EOF
dp_up "$T_TMP/dp.json" "plainsight-dp starts"

mkdir -p "$T_TMP/www" && echo "hardening test page" >"$T_TMP/www/index.html"
srv() {	# PORT NAME [s_server options]
	local port=$1 name=$2; shift 2
	(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
		-accept "$SRV4:$port" -cert "$PKI/$name.crt" -key "$PKI/$name.key" "$@") \
		>"$T_TMP/srv-$port.log" 2>&1 &
	T_PIDS+=($!)
}
srv 443 www						# TLS 1.3 and 1.2
srv 4431 www -tls1_2					# TLS 1.2 only
srv 4432 ext						# the leaf with everything
srv 4433 www -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256	# CBC only
srv 4434 www -tls1_1 -cipher 'ALL:@SECLEVEL=0'		# TLS 1.1
srv 4435 rsa -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256	# DHE only
srv 4436 www -tls1_2 -cipher 'AECDH-AES128-SHA:ADH-AES128-GCM-SHA256:@SECLEVEL=0'	# anonymous
srv 4437 rsa -tls1_2 -cipher 'NULL-SHA256:@SECLEVEL=0'	# NULL encryption
srv 4438 rsa						# RSA-2048 leaf, TLS 1.3
srv 4439 www -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384	# AES-256 only
srv 4440 www -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256	# TLS 1.2 AES-128 only
srv 4441 www -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256	# TLS 1.3 AES-128 only
srv 4442 long						# for testssl: a 120-day leaf
wait_for 10 sh -c "test \$(ip netns exec $NS_SRV ss -Hltn | grep -c '$SRV4:44[34]') -ge 13"

# sc OUT PORT HOST [s_client options]: openssl s_client through the
# appliance, trusting its CA; stdin empty.
sc() {
	local out=$1 port=$2 host=$3; shift 3
	in_cli timeout 20 openssl s_client -connect "$SRV4:$port" -servername "$host" \
		-CAfile "$PKI/ca/ca.crt" "$@" </dev/null >"$out" 2>&1
}

# ------------------------------------------------------------------
# Item 3: the upstream ClientHello, graded.
bg "$NS_SRV" "$T_TMP/tshark-up.log" timeout 120 tshark -n -i eth0 -f 'tcp dst port 443' -w "$T_TMP/up.pcap"
TSHARK=$T_LAST_PID
wait_for 15 grep -q "Capturing on" "$T_TMP/tshark-up.log"
sleep 0.5

# A raw ClientHello: everything weak, one unknown extension (0xfe77), a
# random we know.
cat >"$T_TMP/hello.py" <<'PY'
import os, socket, struct, sys
host, port, rnd_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def ext(t, body): return struct.pack(">HH", t, len(body)) + body
def u16s(v): b = b"".join(struct.pack(">H", x) for x in v); return struct.pack(">H", len(b)) + b
sni = b"www.ps.test"
suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc013, 0xc009, 0x002f, 0x0035, 0x000a,
          0x0005, 0x0004, 0x003b, 0x0002, 0x0033, 0x009e, 0x0018, 0xc011, 0x00ff]
exts = (ext(0, struct.pack(">HBH", len(sni) + 3, 0, len(sni)) + sni)
        + ext(10, u16s([0x001d, 0x0017, 0x0018, 0x0019, 0x0013, 0x0100, 0x0101]))
        + ext(11, bytes([3, 0, 1, 2]))
        + ext(13, u16s([0x0403, 0x0804, 0x0401, 0x0201, 0x0203, 0x0301, 0x0303, 0x0101, 0x0202]))
        + ext(15, bytes([1]))
        + ext(16, struct.pack(">H", 9) + b"\x08http/1.1")
        + ext(22, b"") + ext(23, b"") + ext(35, b"")
        + ext(43, bytes([8, 3, 4, 3, 3, 3, 2, 3, 1]))
        + ext(45, bytes([1, 1]))
        + ext(51, struct.pack(">HHH", 36, 0x001d, 32) + os.urandom(32))
        + ext(0xfe77, b"plainsight must not forward this"))
rnd = os.urandom(32)
body = (struct.pack(">H", 0x0303) + rnd + bytes([32]) + os.urandom(32) + u16s(suites)
        + bytes([2, 1, 0]) + struct.pack(">H", len(exts)) + exts)
hs = bytes([1]) + struct.pack(">I", len(body))[1:] + body
rec = bytes([22]) + struct.pack(">HH", 0x0301, len(hs)) + hs
open(rnd_file, "w").write(rnd.hex())
s = socket.create_connection((host, port), timeout=10)
s.sendall(rec)
try:
    print("answer bytes", len(s.recv(65536)))
except OSError as e:
    print("answer", e)
s.close()
PY
in_cli timeout 20 python3 "$T_TMP/hello.py" "$SRV4" 443 "$T_TMP/client-random.txt" >"$T_TMP/hello.out" 2>&1
# openssl s_client offering TLS 1.0 to 1.3, every suite, weak groups and
# signature schemes.
sc "$T_TMP/weak-client.txt" 443 www.ps.test -cipher 'ALL:@SECLEVEL=0' -min_protocol TLSv1 \
	-groups X25519:P-256:P-384:P-521:ffdhe2048 \
	-sigalgs 'ECDSA+SHA256:RSA+SHA1:ECDSA+SHA1:RSA+SHA224:ECDSA+SHA224:RSA+SHA256'
check "a client offering TLS 1.0 and weak suites is still served (TLS 1.3)" \
	grep -q "^New, TLSv1.3, Cipher is TLS_AES" "$T_TMP/weak-client.txt"
sleep 1
stop_pid "$TSHARK" INT
timeout 120 tshark -n -r "$T_TMP/up.pcap" -Y "tls.handshake.type == 1" -T fields \
	-E separator=';' -E occurrence=a -E aggregator=, \
	-e tls.record.version -e tls.handshake.version -e tls.handshake.extensions.supported_version \
	-e tls.handshake.ciphersuite -e tls.handshake.extensions_supported_group \
	-e tls.handshake.sig_hash_alg -e tls.handshake.extension.type -e tls.handshake.comp_method \
	-e tls.handshake.random -e tls.handshake.extensions_server_name \
	>"$T_TMP/up-hellos.txt" 2>"$T_TMP/up-hellos.err"
echo "# upstream ClientHellos captured: $(wc -l <"$T_TMP/up-hellos.txt")"
# grade NAME PYTHON: PYTHON asserts over H (a list of dicts, one per hello).
grade() {
	check "upstream ClientHello: $1" python3 -c "
import sys
H = []
for line in open('$T_TMP/up-hellos.txt'):
    f = line.rstrip('\n').split(';')
    num = lambda s: [int(x, 16) if x.startswith('0x') else int(x) for x in s.split(',') if x]
    H.append(dict(rec=num(f[0]), ver=num(f[1]), sv=num(f[2]), suites=num(f[3]), groups=num(f[4]),
                  sigs=num(f[5]), exts=num(f[6]), comp=num(f[7]), random=f[8], sni=f[9]))
assert len(H) >= 2, 'want both clients\' upstream hellos, got %d' % len(H)
$2
"
}
grade "two captured, both for www.ps.test" "assert all(h['sni'] == 'www.ps.test' for h in H), H"
grade "record and hello version TLS 1.2 (0x0303), never lower" \
	"assert all(set(h['ver']) == {0x0303} and set(h['rec']) <= {0x0301, 0x0303} for h in H), [(h['rec'], h['ver']) for h in H]"
grade "supported_versions only TLS 1.3 and 1.2" \
	"assert all(h['sv'] and set(h['sv']) <= {0x0304, 0x0303} for h in H), [h['sv'] for h in H]"
grade "suites only ECDHE AEAD (and TLS 1.3 AEAD)" "
ok = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca8, 0xcca9, 0x00ff}
assert all(h['suites'] and set(h['suites']) <= ok for h in H), [sorted(set(h['suites']) - ok) for h in H]"
grade "groups only X25519, P-256, P-384" \
	"assert all(h['groups'] and set(h['groups']) <= {0x001d, 0x0017, 0x0018} for h in H), [h['groups'] for h in H]"
grade "no SHA-1, SHA-224 or MD5 signature schemes" "
bad = {0x0201, 0x0202, 0x0203, 0x0301, 0x0302, 0x0303, 0x0101, 0x0102, 0x0103}
assert all(h['sigs'] and not set(h['sigs']) & bad for h in H), [sorted(set(h['sigs']) & bad) for h in H]"
grade "no compression (null only)" "assert all(h['comp'] == [0] for h in H), [h['comp'] for h in H]"
grade "no heartbeat extension" "assert all(15 not in h['exts'] for h in H), [h['exts'] for h in H]"
grade "secure renegotiation signalled (renegotiation_info or SCSV)" \
	"assert all(0xff01 in h['exts'] or 0x00ff in h['suites'] for h in H)"
grade "extended_master_secret offered" "assert all(23 in h['exts'] for h in H)"
grade "the client's unknown extension 0xfe77 not forwarded; only extensions the appliance knows" "
known = {0, 5, 10, 11, 13, 16, 18, 21, 22, 23, 35, 41, 42, 43, 44, 45, 49, 50, 51, 0xff01}
assert all(0xfe77 not in h['exts'] and set(h['exts']) <= known for h in H), [h['exts'] for h in H]"
grade "its own random, not the client's" "
rnd = open('$T_TMP/client-random.txt').read().strip()
assert len(rnd) == 64 and all(h['random'].replace(':', '') != rnd for h in H), (rnd, [h['random'] for h in H])"

# ------------------------------------------------------------------
# Item 4: no downgrade, no deception.
sc "$T_TMP/s12.txt" 4431 www.ps.test -verify_return_error -msg
check "TLS 1.2-only server, client offers 1.3: the client leg is TLS 1.2" \
	grep -q "^New, TLSv1.2, Cipher is ECDHE-" "$T_TMP/s12.txt"
check "TLS 1.2-only server: no RFC 8446 downgrade sentinel in the client leg's ServerHello" python3 -c "
import re
t = open('$T_TMP/s12.txt').read()
m = re.search(r'<<< TLS 1\\.[23], Handshake \\[length [0-9a-f]+\\], ServerHello\\n((?:    [0-9a-f ]+\\n)+)', t)
b = bytes.fromhex(''.join(m.group(1).split()))
assert b[0] == 2 and b[4:6] == b'\\x03\\x03', b[:6]
assert b[30:38] not in (b'DOWNGRD\\x01', b'DOWNGRD\\x00'), b[6:38]"
check "TLS 1.2-only server: no downgrade abort, the client completes the handshake" sh -c \
	"grep -q 'Verify return code: 0 (ok)' '$T_TMP/s12.txt' && ! grep -qi 'inappropriate fallback\|illegal parameter\|downgrade' '$T_TMP/s12.txt'"
in_cli timeout 20 curl -sS --max-time 15 --cacert "$PKI/ca/ca.crt" --resolve "www.ps.test:4431:$SRV4" \
	-o "$T_TMP/s12.page" -w '%{ssl_verify_result}\n' https://www.ps.test:4431/index.html >"$T_TMP/s12.curl" 2>&1
check "TLS 1.2-only server: curl (offering 1.3) gets the page" cmp "$T_TMP/www/index.html" "$T_TMP/s12.page"
check "TLS 1.2-only server: the record shows TLS 1.2 on both legs, and both ciphers" rec 4431 \
	"s['client_leg']['version'] == 'TLSv1.2' and s['server_leg']['version'] == 'TLSv1.2' and s['client_leg']['cipher'].startswith('ECDHE-') and s['server_leg']['cipher'].startswith('ECDHE-')"
sc "$T_TMP/s13.txt" 443 www.ps.test
check "a TLS 1.3 server: the client leg is TLS 1.3" grep -q "^New, TLSv1.3" "$T_TMP/s13.txt"

# Cipher strength: never more on the client leg than on the server leg.
bits() {	# cipher name -> its key bits
	case $1 in *AES_256*|*AES256*|*CHACHA20*) echo 256 ;; *AES_128*|*AES128*) echo 128 ;; *) echo 0 ;; esac
}
for port in 4439 4440 4441; do
	sc "$T_TMP/bits-$port.txt" "$port" www.ps.test
	"$PS_CTL" --socket "$SOCK" --json sessions --port "$port" >"$T_TMP/bits.json"
	legs=$(json_get "$T_TMP/bits.json" "(lambda s: s['client_leg']['cipher'] + ' ' + s['server_leg']['cipher'])(r['sessions'][0])" 2>/dev/null)
	set -- $legs
	check "port $port: client leg cipher ${1:-?} not stronger than the server leg's ${2:-?}" \
		sh -c "test -n '${2:-}' && test $(bits "${1:-}") -gt 0 && test $(bits "${1:-}") -le $(bits "${2:-}")"
done

# Key and hash of the certificate: an RSA-2048 server to a client that
# accepts ECDSA and RSA.
sc "$T_TMP/rsa-leaf.txt" 4438 rsa.ps.test -showcerts
first_cert "$T_TMP/rsa-leaf.txt" | openssl x509 -noout -text >"$T_TMP/rsa-forged.txt" 2>&1
check "RSA-2048 server: the forged leaf's key is RSA, 2048 bits (not a stronger key)" \
	grep -q "Public-Key: (2048 bit)" "$T_TMP/rsa-forged.txt"
check "RSA-2048 server: the record says forged-rsa" rec 4438 "s['client_leg']['leaf'] == 'forged-rsa'"
check "RSA-2048 server: the forged leaf is signed with SHA-256" \
	grep -q "Signature Algorithm: ecdsa-with-SHA256\|Signature Algorithm: sha256WithRSAEncryption" "$T_TMP/rsa-forged.txt"

# Servers outside the profile: blocked, never passed through.
failed0=$(tls upstream_handshakes_failed)
fp_www=$(openssl x509 -in "$PKI/www.crt" -noout -fingerprint -sha256 | cut -d= -f2)
fp_rsa=$(openssl x509 -in "$PKI/rsa.crt" -noout -fingerprint -sha256 | cut -d= -f2)
n_blocked=0
# (This OpenSSL build has neither 3DES nor RC4 to offer.)
for case in "CBC-only TLS 1.2:4433:www:alert handshake fail|no shared cipher|wrong cipher" \
	"TLS 1.1 only:4434:www:alert protocol vers|unsupported protocol|wrong version" \
	"DHE only:4435:rsa:alert handshake fail|no shared cipher|wrong cipher" \
	"anonymous (aNULL) only:4436:www:alert handshake fail|no shared cipher|wrong cipher" \
	"NULL encryption only:4437:rsa:alert handshake fail|no shared cipher|wrong cipher"; do
	name=${case%%:*} rest=${case#*:}; port=${rest%%:*} rest=${rest#*:}; leaf=${rest%%:*} why=${rest#*:}
	fp=$fp_www; [ "$leaf" = rsa ] && fp=$fp_rsa
	# The client would take the weak server's offer itself: only the
	# appliance stands between them.
	sc "$T_TMP/weak-$port.txt" "$port" "$leaf.ps.test" -cipher 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' \
		-min_protocol TLSv1 -showcerts
	in_cli timeout 20 curl -sS --max-time 15 -k --resolve "$leaf.ps.test:$port:$SRV4" \
		--ciphers 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' --tlsv1 \
		-o "$T_TMP/weak-$port.page" "https://$leaf.ps.test:$port/index.html" >"$T_TMP/weak-$port.curl" 2>&1
	seen=$(sed -n '/BEGIN CERT/,/END CERT/p' "$T_TMP/weak-$port.txt" | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2)
	check "$name server: the client gets an alert, no session ($(grep -m1 -o 'alert [a-z ]*\|errno=[0-9]*' "$T_TMP/weak-$port.txt" | head -1))" sh -c \
		"grep -q 'alert\|errno=104' '$T_TMP/weak-$port.txt' && grep -q 'Cipher is (NONE)\|Cipher    : 0000' '$T_TMP/weak-$port.txt'"
	check "$name server: never the server's certificate nor its page (even with curl -k)" sh -c \
		"test '$seen' != '$fp' && test ! -s '$T_TMP/weak-$port.page'"
	check "$name server: the record names the upstream failure" rec "$port" \
		"s['state'] in ('failed', 'rejected') and s.get('close_reason', '').startswith('upstream handshake failed') and __import__('re').search(r'$why', s['close_reason'])"
	n_blocked=$((n_blocked + 2))
done
check "counters: each blocked server counted (upstream_handshakes_failed +$n_blocked)" \
	sh -c "test $(tls upstream_handshakes_failed) -ge $((failed0 + n_blocked))"

# Item 5: TLS_FALLBACK_SCSV, answered as the real server would.
sc "$T_TMP/fallback13.txt" 443 www.ps.test -tls1_2 -fallback_scsv
check "fallback SCSV at TLS 1.2 to a TLS 1.3 server: inappropriate_fallback" \
	grep -q "alert inappropriate fallback" "$T_TMP/fallback13.txt"
sc "$T_TMP/fallback12.txt" 4431 www.ps.test -tls1_2 -fallback_scsv -verify_return_error
check "fallback SCSV at TLS 1.2 to a TLS 1.2-only server: accepted (as that server would)" sh -c \
	"grep -q 'Protocol  : TLSv1.2' '$T_TMP/fallback12.txt' && grep -q 'Verify return code: 0 (ok)' '$T_TMP/fallback12.txt'"

# ------------------------------------------------------------------
# Item 5: the client-facing side.
# Client-initiated renegotiation: refused, no second handshake.
(sleep 2; echo R; sleep 3) | in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername www.ps.test \
	-CAfile "$PKI/ca/ca.crt" -tls1_2 >"$T_TMP/reneg.txt" 2>&1
check "renegotiation: secure renegotiation signalled (RFC 5746)" \
	grep -q "Secure Renegotiation IS supported" "$T_TMP/reneg.txt"
check "renegotiation: a client-initiated renegotiation fails, no second handshake" sh -c \
	"grep -q RENEGOTIATING '$T_TMP/reneg.txt' && test \$(grep -c '^depth=0' '$T_TMP/reneg.txt') -eq 1 &&
	 grep -qi 'no renegotiation\|alert\|errno\|closed' '$T_TMP/reneg.txt'"
check "no compression on the client leg" grep -q "^Compression: NONE" "$T_TMP/reneg.txt"

# Forged leaves.
sc "$T_TMP/leaf-www.txt" 443 www.ps.test -showcerts -verify_return_error
sc "$T_TMP/leaf-ext.txt" 4432 ext.ps.test -showcerts -verify_return_error
first_cert "$T_TMP/leaf-www.txt" >"$T_TMP/forged-www.pem"
first_cert "$T_TMP/leaf-ext.txt" >"$T_TMP/forged-ext.pem"
openssl x509 -in "$T_TMP/forged-ext.pem" -noout -text >"$T_TMP/forged-ext.txt" 2>&1
check "forged ext leaf verifies against the appliance CA" \
	grep -q "Verify return code: 0 (ok)" "$T_TMP/leaf-ext.txt"
check "forged leaf: subject only the CN (no O/OU copied)" sh -c \
	"test \"\$(openssl x509 -in '$T_TMP/forged-ext.pem' -noout -subject -nameopt RFC2253)\" = 'subject=CN=ext.ps.test'"
check "forged leaf: SAN exactly the validated names" sh -c \
	"openssl x509 -in '$T_TMP/forged-ext.pem' -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | grep -qx 'DNS:ext.ps.test,DNS:alt.ps.test' &&
	 openssl x509 -in '$T_TMP/forged-www.pem' -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | grep -qx 'DNS:www.ps.test,IPAddress:198.18.0.2'"
check "forged leaf: EKU serverAuth only (the real one also has clientAuth)" sh -c \
	"openssl x509 -in '$T_TMP/forged-ext.pem' -noout -ext extendedKeyUsage | tail -n +2 | tr -d ' ' | grep -qx 'TLSWebServerAuthentication'"
check "forged leaf: CA:FALSE" grep -q "CA:FALSE" "$T_TMP/forged-ext.txt"
check "forged leaf: nothing copied: no AIA, OCSP, policies, CRL DP, SCTs" python3 -c "
import re, sys
t = open('$T_TMP/forged-ext.txt').read()
bad = [w for w in ('Authority Information Access', 'OCSP', 'CA Issuers', 'Certificate Policies', '2.23.140.1.1',
                   'CRL Distribution', 'Signed Certificate Timestamp', '1.3.6.1.4.1.11129.2.4.2') if w in t]
assert not bad, bad"
check "forged leaf: only basicConstraints, keyUsage, EKU, SAN, SKID, AKID" python3 -c "
import re
t = open('$T_TMP/forged-ext.txt').read()
t = t[t.index('X509v3 extensions:'):t.index('Signature Algorithm', t.index('X509v3 extensions:'))]
exts = set(re.findall(r'^ {12}([^ ].*?):', t, re.M))
want = {'X509v3 Basic Constraints', 'X509v3 Key Usage', 'X509v3 Extended Key Usage',
        'X509v3 Subject Alternative Name', 'X509v3 Subject Key Identifier', 'X509v3 Authority Key Identifier'}
assert exts == want, exts ^ want"
s_www=$(openssl x509 -in "$T_TMP/forged-www.pem" -noout -serial 2>/dev/null | cut -d= -f2)
s_ext=$(openssl x509 -in "$T_TMP/forged-ext.pem" -noout -serial 2>/dev/null | cut -d= -f2)
s_real=$(openssl x509 -in "$PKI/ext.crt" -noout -serial | cut -d= -f2)
check "forged leaf: serials random (>= 64 bits), different for two upstream certs, not the real one ($s_www, $s_ext)" \
	sh -c "test ${#s_www} -ge 16 && test ${#s_ext} -ge 16 && test '$s_www' != '$s_ext' && test '$s_ext' != '$s_real'"
enddate() { date -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)" +%s; }
for n in www ext; do
	check "forged $n leaf: notAfter no later than the real leaf's" sh -c \
		"test $(enddate "$T_TMP/forged-$n.pem" 2>/dev/null || echo 9999999999) -le $(enddate "$PKI/$n.crt")"
done
check "forged leaf: signed with SHA-256 or better" sh -c \
	"grep -m1 'Signature Algorithm' '$T_TMP/forged-ext.txt' | grep -Eq 'SHA(256|384|512)'"

# The client leg's suites: ECDHE with AEAD only.
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA384 AES128-GCM-SHA256 DHE-RSA-AES128-GCM-SHA256 \
	ECDHE-ECDSA-NULL-SHA AECDH-AES128-SHA; do
	sc "$T_TMP/cs-$c.txt" 443 www.ps.test -tls1_2 -cipher "$c:@SECLEVEL=0"
	check "client leg refuses TLS 1.2 suite $c" sh -c \
		"grep -q 'Cipher is (NONE)' '$T_TMP/cs-$c.txt' && ! grep -q '^New, TLSv1.2, Cipher is $c' '$T_TMP/cs-$c.txt'"
done
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305; do
	sc "$T_TMP/cs-$c.txt" 443 www.ps.test -tls1_2 -cipher "$c"
	check "client leg takes TLS 1.2 suite $c" grep -q "^New, TLSv1.2, Cipher is $c" "$T_TMP/cs-$c.txt"
done

# testssl against the client-facing side (through the appliance to a
# TLS 1.3 server). The regular run takes a subset that finishes in about
# a minute: protocols, renegotiation, compression, fallback SCSV, CCS,
# heartbleed (the suites and the leaf are checked directly above).
# PS_TESTSSL_FULL=1 adds cipher categories, forward secrecy, server
# defaults and every vulnerability check (several minutes).
TS_SET="--protocols -R -C -Z -I -H"
TS_IDS="'TLS1_3', 'heartbleed', 'CCS', 'secure_renego', 'secure_client_renego', 'CRIME_TLS', 'fallback_SCSV'"
if [ -n "${PS_TESTSSL_FULL:-}" ]; then
	TS_SET="--protocols --std --fs --server-defaults --vulnerable"
	TS_IDS="$TS_IDS, 'cipherlist_NULL', 'cipherlist_3DES_IDEA', 'PFS', 'cert_trust <cert#1>'"
fi
t0=$(date +%s)
in_cli timeout 600 testssl --quiet --color 0 --warnings off --nodns none --ip "$SRV4" \
	--connect-timeout 5 --openssl-timeout 10 --add-ca "$PKI/ca/ca.crt" $TS_SET \
	--jsonfile "$T_TMP/testssl.json" "https://www.ps.test:4442" >"$T_TMP/testssl.txt" 2>&1
rc=$?
echo "# testssl $TS_SET: $(( $(date +%s) - t0 )) s, exit $rc"
check "testssl ran its checks and wrote its findings" python3 -c "
import json
r = json.load(open('$T_TMP/testssl.json'))
ids = {f['id'] for f in r}
want = {$TS_IDS}
assert want <= ids, sorted(want - ids)"
# The one HIGH finding a forged leaf always has (server defaults, full
# run only): no CRL or OCSP URL. By design: the appliance publishes no
# revocation for the leaves it forges (docs/security.md, Forged leaves).
check "testssl: no HIGH or CRITICAL finding" python3 -c "
import json
r = json.load(open('$T_TMP/testssl.json'))
bad = [(f['id'], f['severity'], f['finding']) for f in r if f['severity'] in ('HIGH', 'CRITICAL')
       and not (f['id'].startswith('cert_revocation') and f['finding'] == 'Neither CRL nor OCSP URI provided')]
assert not bad, bad"
check "testssl: SSLv2/3 and TLS 1.0/1.1 not offered, TLS 1.2/1.3 offered" python3 -c "
import json
r = {f['id']: f['finding'] for f in json.load(open('$T_TMP/testssl.json'))}
assert all(r[p].startswith('not offered') for p in ('SSLv2', 'SSLv3', 'TLS1', 'TLS1_1')), r
assert r['TLS1_2'].startswith('offered') and r['TLS1_3'].startswith('offered'), r"

check "the appliance still intercepts after all of the above" sh -c \
	"in_cli() { ip netns exec '$NS_CLI' \"\$@\"; }; in_cli curl -sS --max-time 15 --cacert '$PKI/ca/ca.crt' \
	 --resolve www.ps.test:443:$SRV4 https://www.ps.test/index.html | grep -q 'hardening test page'"
stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
exit 0
