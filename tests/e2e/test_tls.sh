#!/usr/bin/env bash
# End to end: TLS interception with real clients and servers.
#
# curl, openssl s_client and socat (OpenSSL) through the appliance to
# openssl s_server and socat: content byte-identical both ways, TLS 1.2 and
# 1.3, ECDSA and RSA server certificates, ALPN, the client sees a leaf
# forged by the appliance CA with the server's names, resumption on both
# legs, a ClientHello cut into one-byte TCP segments, bad upstream
# certificates rejected, a client that distrusts the appliance CA fails
# cleanly, non-TLS on an intercepted port relayed untouched, the key log
# is private, and the out-of-band tool port gets the decrypted
# conversation as a plain TCP connection (checked with tshark).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=t$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
in_cli() { ip netns exec "$NS_CLI" "$@"; }
tls() { stats "r['tls']['$1']"; }

if ! "$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1; then
	t_fail "test PKI made"; sed 's/^/#   /' "$T_TMP/pki.log"; exit 1
fi
check "appliance CA key is private (0600)" test "$(stat -c %a "$PKI/ca/ca.key")" = 600

dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2",
		 "tool": {"dport_rewrite": 80}}' - <<EOF
	"limits": {"max_flows": 4096},
	"intercept": {"tcp_ports": [443, 4431, 4432, 4433, 4434, 4435, 4436, 4437, 4438, 4439, 8080]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt",
		"keylog_file": "$T_TMP/keylog.txt", "bypass_pinned_clients": true,
		"known_servers": [{"sni": "known.ps.test", "cert": "$PKI/known.crt",
				   "key": "$PKI/known.key"}]},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl", "keep": 1000},
	"recording": {"dir": "$T_TMP/rec", "rotate_mb": 2, "keep_files": 50}
EOF

mkdir -p "$T_TMP/rec"
# A world-readable CA key is refused at start, with a clear message.
cp "$PKI/ca/ca.key" "$T_TMP/open.key" && chmod 644 "$T_TMP/open.key"
sed "s#$PKI/ca/ca.key#$T_TMP/open.key#" "$T_TMP/dp.json" >"$T_TMP/open.json"
out=$("$PS_DP" --config "$T_TMP/open.json" --check 2>&1)
check "a CA key readable by others is refused ($out)" sh -c "echo '$out' | grep -q 'chmod'"
out=$("$PS_DP" --config "$T_TMP/dp.json" --check 2>&1)
check "the configuration with TLS passes --check ($out)" sh -c "echo '$out' | grep -q 'TLS interception'"

bg "$NS_TOOL" "$T_TMP/tool.log" tcpdump -n -i eth0 -Q in -U -w "$T_TMP/tool.pcap"
TOOL_PID=$T_LAST_PID
dp_up "$T_TMP/dp.json" "plainsight-dp starts with TLS interception"

# Servers: s_server -WWW for files, one per certificate kind.
mkdir -p "$T_TMP/www"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T_TMP/www/big.bin"
echo "hello through plainsight" >"$T_TMP/www/index.html"
srv() {	# port cert key [s_server options]
	local port=$1 cert=$2 key=$3; shift 3
	(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
		-accept "$SRV4:$port" -cert "$cert" -key "$key" "$@") >"$T_TMP/srv-$port.log" 2>&1 &
	T_PIDS+=($!)
}
srv 443 "$PKI/www.crt" "$PKI/www.key" -alpn http/1.1
srv 4431 "$PKI/rsa.crt" "$PKI/rsa.key"
srv 4432 "$PKI/expired.crt" "$PKI/expired.key"
srv 4433 "$PKI/self.crt" "$PKI/self.key"
srv 4434 "$PKI/other.crt" "$PKI/other.key"
srv 4435 "$PKI/www.crt" "$PKI/www.key" -tls1_2
srv 4437 "$PKI/www.crt" "$PKI/www.key" -Verify 1 -CAfile "$PKI/root.crt"
srv 4438 "$PKI/known.crt" "$PKI/known.key"
srv 4439 "$PKI/nosan.crt" "$PKI/nosan.key"
sleep 1

CURL="in_cli curl -sS --max-time 20 --cacert $PKI/ca/ca.crt"
res() { echo "--resolve $1:$2:$SRV4 https://$1:$2"; }

# The appliance's own ClientHello to the server, as the server's side sees
# it: TLS 1.3/1.2 only, forward-secret AEAD suites, X25519/P-256/P-384, no
# SHA-1/SHA-224 signature schemes, extended master secret and secure
# renegotiation signalled, no compression.
bg "$NS_SRV" "$T_TMP/up-hello.log" tcpdump -n -i eth0 -Q in -U -c 30 -w "$T_TMP/up-hello.pcap" 'tcp port 443'
UPCAP=$T_LAST_PID
sleep 1

# Plain fetch (TLS 1.3 both legs), the file byte-identical.
$CURL -o "$T_TMP/index.out" $(res www.ps.test 443)/index.html 2>"$T_TMP/curl1.err"
check "curl through the appliance: content intact" cmp "$T_TMP/www/index.html" "$T_TMP/index.out"
$CURL -o "$T_TMP/big.out" $(res www.ps.test 443)/big.bin 2>"$T_TMP/curl2.err"
check "3 MB download through both TLS legs: sha256 equal" \
	test "$(sha_of "$T_TMP/www/big.bin")" = "$(sha_of "$T_TMP/big.out")"

stop_pid "$UPCAP" INT
timeout 120 tshark -n -r "$T_TMP/up-hello.pcap" -Y "tls.handshake.type == 1" -T fields -E 'separator=;' \
	-e tls.handshake.ciphersuite -e tls.handshake.extensions.supported_version \
	-e tls.handshake.extensions_supported_group -e tls.handshake.sig_hash_alg \
	-e tls.handshake.extension.type -e tls.handshake.comp_method 2>/dev/null | head -1 >"$T_TMP/up-hello.txt"
check "upstream ClientHello: only the appliance's modern profile ($(cut -c1-120 "$T_TMP/up-hello.txt")...)" python3 -c "
f = open('$T_TMP/up-hello.txt').read().strip().split(';')
num = lambda s: {int(x, 16) if x.startswith('0x') else int(x) for x in s.split(',') if x}
suites, versions, groups, sigs, exts, comp = (num(x) for x in f)
assert suites and suites <= {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x00ff}, suites
assert versions and versions <= {0x0304, 0x0303}, versions
assert groups and groups <= {0x001d, 0x0017, 0x0018}, groups
assert sigs and not sigs & {0x0201, 0x0203, 0x0202, 0x0301, 0x0302, 0x0303}, sigs
assert 23 in exts and (65281 in exts or 0x00ff in suites), exts
assert 15 not in exts and comp == {0}, (exts, comp)
"

# The leaf the client sees: forged by the appliance CA, with the server's names.
in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername www.ps.test -CAfile "$PKI/ca/ca.crt" \
	-verify_return_error -showcerts </dev/null >"$T_TMP/sc.txt" 2>&1
check "s_client verifies the forged chain against the appliance CA" grep -q "Verify return code: 0 (ok)" "$T_TMP/sc.txt"
check "the forged leaf is issued by the appliance CA" grep -q "i:.*CN = plainsight test CA" "$T_TMP/sc.txt"
openssl x509 -in <(sed -n '/BEGIN CERT/,/END CERT/p' "$T_TMP/sc.txt" | sed '/END CERT/q') \
	-noout -ext subjectAltName >"$T_TMP/san.txt" 2>&1
check "the forged leaf copies the server's SANs (DNS and IP)" \
	sh -c "grep -q 'DNS:www.ps.test' '$T_TMP/san.txt' && grep -q 'IP Address:198.18.0.2' '$T_TMP/san.txt'"
check "the client leg is TLS 1.3 with an AEAD suite" grep -Eq "TLSv1.3.*(AES_(128|256)_GCM|CHACHA20)" "$T_TMP/sc.txt"

# TLS 1.2-only client; TLS 1.2-only server; RSA server certificate.
$CURL --tlsv1.2 --tls-max 1.2 -o "$T_TMP/t12.out" $(res www.ps.test 443)/index.html 2>"$T_TMP/curl3.err"
check "TLS 1.2-only client" cmp "$T_TMP/www/index.html" "$T_TMP/t12.out"
$CURL -o "$T_TMP/s12.out" $(res www.ps.test 4435)/index.html 2>"$T_TMP/curl4.err"
check "TLS 1.2-only server" cmp "$T_TMP/www/index.html" "$T_TMP/s12.out"
$CURL -o "$T_TMP/rsa.out" $(res rsa.ps.test 4431)/index.html 2>"$T_TMP/curl5.err"
check "RSA server certificate" cmp "$T_TMP/www/index.html" "$T_TMP/rsa.out"
in_cli timeout 20 openssl s_client -connect "$SRV4:4431" -servername rsa.ps.test -CAfile "$PKI/ca/ca.crt" \
	-sigalgs "RSA-PSS+SHA256:RSA+SHA256" </dev/null >"$T_TMP/sc-rsa.txt" 2>&1
check "a client without ECDSA signature algorithms gets an RSA leaf" \
	grep -Eq "Peer signature type: RSA|Server public key is 2048 bit" "$T_TMP/sc-rsa.txt"

# ALPN: the client offers h2 and http/1.1, the server picks http/1.1.
in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername www.ps.test -CAfile "$PKI/ca/ca.crt" \
	-alpn h2,http/1.1 </dev/null >"$T_TMP/alpn.txt" 2>&1
check "ALPN: the client sees the server's choice (http/1.1)" grep -q "ALPN protocol: http/1.1" "$T_TMP/alpn.txt"

# Known-key mode: the operator's own server shows its real certificate.
in_cli timeout 20 openssl s_client -connect "$SRV4:4438" -servername known.ps.test -CAfile "$PKI/root.crt" \
	-verify_return_error </dev/null >"$T_TMP/known.txt" 2>&1
fp_seen=$(sed -n '/BEGIN CERT/,/END CERT/p' "$T_TMP/known.txt" | openssl x509 -noout -fingerprint -sha256 2>/dev/null)
fp_real=$(openssl x509 -in "$PKI/known.crt" -noout -fingerprint -sha256)
check "known-key mode: the client sees the server's real certificate (same fingerprint)" \
	sh -c "test -n '$fp_seen' && test '$fp_seen' = '$fp_real' && grep -q 'Verify return code: 0' '$T_TMP/known.txt'"
check "counters: a known-key session" sh -c "test $(tls known_key_sessions) -ge 1"

# Upload, 8 MB client -> server through socat (OpenSSL) on both ends.
head -c $((8 * 1024 * 1024)) /dev/urandom >"$T_TMP/up.bin"
bg "$NS_SRV" "$T_TMP/sink.log" timeout 60 socat -u \
	OPENSSL-LISTEN:4436,bind=$SRV4,reuseaddr,cert=$PKI/www.crt,key=$PKI/www.key,verify=0 \
	OPEN:"$T_TMP/up.out",creat,trunc
SINK=$T_LAST_PID
sleep 0.5
in_cli timeout 60 socat -u OPEN:"$T_TMP/up.bin" \
	OPENSSL:www.ps.test:4436,cafile=$PKI/ca/ca.crt,snihost=www.ps.test,commonname=www.ps.test,connect-timeout=10 \
	2>"$T_TMP/socat.err" || in_cli timeout 60 socat -u OPEN:"$T_TMP/up.bin" \
	OPENSSL:$SRV4:4436,cafile=$PKI/ca/ca.crt,commonname=www.ps.test 2>>"$T_TMP/socat.err"
wait "$SINK" 2>/dev/null
check "8 MB upload through both TLS legs: sha256 equal" \
	test "$(sha_of "$T_TMP/up.bin")" = "$(sha_of "$T_TMP/up.out")"

# Resumption on both legs: the second s_client run resumes its session.
in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername www.ps.test -CAfile "$PKI/ca/ca.crt" \
	-tls1_2 -sess_out "$T_TMP/sess.pem" </dev/null >"$T_TMP/r1.txt" 2>&1
up_before=$(tls upstream_handshakes_resumed)
in_cli timeout 20 openssl s_client -connect "$SRV4:443" -servername www.ps.test -CAfile "$PKI/ca/ca.crt" \
	-tls1_2 -sess_in "$T_TMP/sess.pem" </dev/null >"$T_TMP/r2.txt" 2>&1
check "client leg: TLS 1.2 session resumed (s_client says Reused)" grep -q "^Reused" "$T_TMP/r2.txt"
check "counters: client-leg resumptions" sh -c "test $(tls client_handshakes_resumed) -ge 1"
check "counters: upstream leg resumed from the appliance's session cache" \
	sh -c "test $(tls upstream_handshakes_resumed) -gt $up_before"

# A ClientHello cut into one-byte TCP segments is reassembled.
in_cli timeout 60 python3 - "$SRV4" "$PKI/ca/ca.crt" >"$T_TMP/split.txt" 2>&1 <<'PY' &
import socket, ssl, sys, time
host, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="www.ps.test")
s = socket.create_connection((host, 443), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
for b in hello:
    s.send(bytes([b]))
    time.sleep(0.002)
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        data = out.read()
        if data:
            s.sendall(data)
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed during handshake")
        inc.write(chunk)
s.sendall(out.read())
obj.write(b"GET /index.html HTTP/1.0\r\n\r\n")
s.sendall(out.read())
body = b""
while True:
    try:
        piece = obj.read(65536)
        if not piece:
            break
        body += piece
    except ssl.SSLWantReadError:
        chunk = s.recv(65536)
        if not chunk:
            break
        inc.write(chunk)
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        break
print("hello bytes", len(hello), "segments", len(hello))
print(body.decode(errors="replace"))
PY
SPLIT=$!
T_PIDS+=($SPLIT)
wait "$SPLIT"
check "a ClientHello in one-byte TCP segments is reassembled and intercepted" \
	sh -c "grep -q 'hello through plainsight' '$T_TMP/split.txt' || { cat '$T_TMP/split.txt'; false; }"

# Bad upstream certificates: rejected (alert to the client), counted.
rej0=$(tls upstream_verify_rejected)
for case in "expired:4432:www.ps.test" "self-signed:4433:www.ps.test" "wrong host:4434:www.ps.test" \
	"CN-only (no SAN, OpenSSL would accept):4439:www.ps.test"; do
	name=${case%%:*} rest=${case#*:}; port=${rest%%:*} host=${rest#*:}
	$CURL -o /dev/null $(res "$host" "$port")/index.html 2>"$T_TMP/bad.err"
	rc=$?
	check "$name upstream certificate: the client's handshake fails (curl exit $rc)" \
		sh -c "test $rc -eq 35 && grep -qi 'alert' '$T_TMP/bad.err'"
done
check "counters: four upstream verification failures rejected" \
	sh -c "test $(tls upstream_verify_rejected) -eq $((rej0 + 4))"
"$PS_CTL" --socket "$SOCK" --json sessions >"$T_TMP/rej.json"
check "session records name each validation failure (expired, self_signed, host_mismatch, leaf_no_san)" \
	json_get "$T_TMP/rej.json" "'ok' if {'expired', 'self_signed', 'host_mismatch', 'leaf_no_san'} <= {s['validation']['reason'].split(',')[0] for s in r['sessions'] if s['state'] == 'rejected'} else sys.exit(1)"

# A client that does not trust the appliance CA fails cleanly; with
# bypass_pinned_clients it is remembered, and its next flow to that server
# is relayed untouched (it then sees the real certificate).
in_cli curl -sS --max-time 10 -o /dev/null $(res www.ps.test 4435)/index.html 2>"$T_TMP/distrust.err"
rc=$?
check "a client distrusting the appliance CA fails its handshake (curl exit $rc)" test "$rc" -eq 60
check "counters: the failed client handshake, remembered as pinning" \
	sh -c "test $(tls client_handshakes_failed) -ge 1 && test $(tls client_refused_leaf_remembered) -ge 1"
in_cli curl -sS --max-time 10 --cacert "$PKI/root.crt" -o "$T_TMP/pinned.out" \
	$(res www.ps.test 4435)/index.html 2>"$T_TMP/pinned.err"
check "the pinning client's next flow is relayed untouched (real certificate)" \
	cmp "$T_TMP/www/index.html" "$T_TMP/pinned.out"

# A server that asks for a client certificate cannot be intercepted: the
# held hello is replayed on a fresh connection and the flow relayed; the
# client (with its certificate) never notices; the server is remembered.
for i in 1 2; do
	in_cli curl -sS --max-time 10 --cacert "$PKI/root.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" -o "$T_TMP/ccert$i.out" $(res www.ps.test 4437)/index.html \
		2>"$T_TMP/ccert$i.err"
	check "client-certificate server, flow $i: the client gets the page" \
		cmp "$T_TMP/www/index.html" "$T_TMP/ccert$i.out"
done
check "counters: bypassed for its client certificate request, then remembered" \
	sh -c "test $(tls pass_server_wants_client_cert) -eq 1 && test $(tls pass_remembered_bypass) -ge 2"

# Non-TLS on an intercepted port: relayed untouched.
bg "$NS_SRV" "$T_TMP/http.log" timeout 30 sh -c "cd '$T_TMP/www' && exec python3 -m http.server --bind $SRV4 8080"
wait_for 10 sh -c "ip netns exec $NS_SRV ss -Hltn 'sport = :8080' | grep -q 8080"
in_cli curl -sS --max-time 10 -o "$T_TMP/plain.out" "http://$SRV4:8080/index.html" 2>"$T_TMP/plain.err"
check "plain HTTP on an intercepted port is relayed untouched" cmp "$T_TMP/www/index.html" "$T_TMP/plain.out"
check "counters: the flow was classified not TLS" sh -c "test $(tls pass_not_tls) -ge 1"

# The appliance is still serving after all of the above.
$CURL -o "$T_TMP/last.out" $(res www.ps.test 443)/index.html 2>/dev/null
check "still intercepting after the failures" cmp "$T_TMP/www/index.html" "$T_TMP/last.out"

# Key log: private, both legs' secrets.
check "key log is mode 0600" test "$(stat -c %a "$T_TMP/keylog.txt")" = 600
check "key log holds TLS 1.3 and TLS 1.2 secrets" \
	sh -c "grep -q '^CLIENT_TRAFFIC_SECRET_0 ' '$T_TMP/keylog.txt' && grep -q '^CLIENT_RANDOM ' '$T_TMP/keylog.txt'"

# Session records: searchable by SNI and by certificate name, and logged.
sess() { "$PS_CTL" --socket "$SOCK" --json sessions "$@" >"$T_TMP/sess.json" &&
	json_get "$T_TMP/sess.json" "$SESS_EXPR"; }
SESS_EXPR="'ok' if any(s['state'] == 'decrypted' and s['server_cert']['cn'] == 'www.ps.test' and s['validation']['ok'] and s['client_leg']['version'] == 'TLSv1.3' and s['bytes_server_to_client'] > 3000000 for s in r['sessions']) else sys.exit(1)"
check "sessions --sni (case-insensitive glob) finds the decrypted 3 MB download" sess --sni 'WWW.PS.*'
SESS_EXPR="'ok' if r['sessions'] and all(s['state'] == 'rejected' and not s['validation']['ok'] for s in r['sessions']) else sys.exit(1)"
check "sessions --cert finds the rejected wrong-host session, with its validation failure" \
	sess --cert 'other.ps.test'
SESS_EXPR="'ok' if any(s['client_leg']['resumed'] and s['server_leg']['resumed'] for s in r['sessions'] if 'client_leg' in s) else sys.exit(1)"
check "a session record shows resumption on both legs" sess --sni www.ps.test
SESS_EXPR="'ok' if any(s['kind'] == 'not-tls' and s['state'] == 'passthrough' and s['server_port'] == 8080 for s in r['sessions']) else sys.exit(1)"
check "the plain HTTP flow has a pass-through record" sess --closed
"$PS_CTL" --socket "$SOCK" sessions >"$T_TMP/sess.txt" 2>&1
check "sessions prints a table" grep -q "decrypted .*www.ps.test .*1.3/1.3" "$T_TMP/sess.txt"
check "the session log has one JSON line per closed session" python3 -c "
import json, sys
recs = [json.loads(l) for l in open('$T_TMP/sessions.jsonl')]
assert len(recs) >= 10, len(recs)
assert all(r['end_ms'] >= r['start_ms'] > 0 and not r['live'] for r in recs)
assert any(r.get('sni') == 'www.ps.test' and r['state'] == 'decrypted' for r in recs)"

# Recording: the same conversations in rotated pcap files; one session
# exported by its ID (found by SNI) is the whole decrypted download.
sleep 1
"$PS_CTL" --socket "$SOCK" --json sessions --sni www.ps.test >"$T_TMP/big.json"
big_id=$(json_get "$T_TMP/big.json" "[s['id'] for s in r['sessions'] if s['bytes_server_to_client'] > 3000000][0]")
"$PS_CTL" --socket "$SOCK" sessions export "$big_id" --pcap "$T_TMP/export.pcap" >"$T_TMP/export.txt" 2>&1
check "sessions export writes the session's recorded frames ($(cat "$T_TMP/export.txt"))" \
	grep -q "frames written" "$T_TMP/export.txt"
check "the export is private (0600) and the recordings are 0640, rotated at 2 MB" \
	sh -c "test \$(stat -c %a '$T_TMP/export.pcap') = 600 && test \$(ls '$T_TMP/rec' | wc -l) -ge 2 && test -z \"\$(find '$T_TMP/rec' -name '*.pcap' ! -perm 640)\""
timeout 120 tshark -n -r "$T_TMP/export.pcap" -q -z follow,tcp,raw,0 2>/dev/null |
	python3 -c '
import sys, binascii
lines = sys.stdin.read().split("\n")
body = b"".join(binascii.unhexlify(l.strip()) for l in lines if l.startswith("\t") and l.strip())
sys.stdout.buffer.write(body[body.find(b"\r\n\r\n") + 4:])' >"$T_TMP/export-big.bin"
check "the exported session, reassembled by tshark, is the 3 MB file" \
	test "$(sha_of "$T_TMP/www/big.bin")" = "$(sha_of "$T_TMP/export-big.bin")"
check "tshark sees one conversation in the export" \
	sh -c "test \$(timeout 120 tshark -n -r '$T_TMP/export.pcap' -q -z conv,tcp 2>/dev/null | grep -c '<->') -eq 1"

# The tool port: the decrypted conversation as plain TCP (port 443 -> 80).
sleep 1
stop_pid "$TOOL_PID" INT
timeout 120 tshark -n -r "$T_TMP/tool.pcap" -q -z conv,tcp >"$T_TMP/conv.txt" 2>&1
check "tool port: conversations to port 80 (rewritten from 443)" grep -q "198.18.0.2:80 " "$T_TMP/conv.txt"
timeout 120 tshark -n -r "$T_TMP/tool.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
	-Y "tcp.checksum.status == 0 || ip.checksum.status == 0 || tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment" \
	>"$T_TMP/badseg.txt" 2>/dev/null
check "tool port: no bad checksum, no lost segment (tshark)" \
	sh -c "test ! -s '$T_TMP/badseg.txt' || { head '$T_TMP/badseg.txt'; false; }"
timeout 120 tshark -n -r "$T_TMP/tool.pcap" -q -z follow,tcp,ascii,0 >"$T_TMP/follow0.txt" 2>&1
check "tool port: tshark follows the first conversation: request and response in plaintext" \
	sh -c "grep -q 'GET /index.html' '$T_TMP/follow0.txt' && grep -q 'hello through plainsight' '$T_TMP/follow0.txt'"
# The 3 MB download, reassembled by tshark from the tool port, equals the file.
timeout 120 tshark -n -r "$T_TMP/tool.pcap" -q -z follow,tcp,raw,1 2>/dev/null |
	python3 -c '
import sys, binascii
lines = sys.stdin.read().split("\n")
body = b"".join(binascii.unhexlify(l.strip()) for l in lines if l.startswith("\t") and l.strip())
sys.stdout.buffer.write(body[body.find(b"\r\n\r\n") + 4:])' >"$T_TMP/tool-big.bin"
check "tool port: the 3 MB response reassembled from the tool port equals the file" \
	test "$(sha_of "$T_TMP/www/big.bin")" = "$(sha_of "$T_TMP/tool-big.bin")"

# A live policy naming known servers: they take effect at the next start,
# and policy apply says so exactly when they differ from the running ones
# (here: the same count, another certificate file).
cp "$PKI/known.crt" "$T_TMP/known-copy.crt"
for f in same other; do
	crt=$PKI/known.crt
	[ "$f" = other ] && crt=$T_TMP/known-copy.crt
	cat >"$T_TMP/pol-$f.json" <<EOJ
{
	"settings": { "known_servers": [ { "sni": "known.ps.test", "cert": "$crt",
					    "key": "$PKI/known.key" } ] },
	"default": { "action": "decrypt" }
}
EOJ
	"$PS_CTL" --socket "$SOCK" policy apply "$T_TMP/pol-$f.json" >"$T_TMP/apply-$f.txt" 2>&1
done
check "policy apply: the running known servers again, applied, no warning" \
	sh -c "grep -q ': applied' '$T_TMP/apply-same.txt' && ! grep -q 'known_servers' '$T_TMP/apply-same.txt'"
check "policy apply: a known server's certificate changed: warned (next start)" \
	grep -q "warning: settings.known_servers differs.*next start" "$T_TMP/apply-other.txt"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" sh -c "grep -q 'plainsight-dp: stopped' '$T_TMP/dp.log'"
exit 0
