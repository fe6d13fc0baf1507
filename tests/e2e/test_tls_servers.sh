#!/usr/bin/env bash
# End to end: TLS interception in front of nginx, and the handshakes that
# stretch both legs.
#
# nginx in the server namespace serves:
#   443  ECDSA leaf, TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1, WebDAV PUT
#   4431 RSA leaf, TLS 1.3 only
#   4432 ECDSA leaf, TLS 1.2 only
#   4433 a chain of more than 16 KB (two RSA-4096 intermediates, a leaf
#        with 600 names): the server's Certificate spans several records
#   4434 only the P-384 group: the appliance's upstream key share
#        (X25519) gets a HelloRetryRequest
# Through the appliance, with curl and openssl s_client: content
# byte-identical both ways; each version pair; ALPN h2; TLS 1.3 and 1.2
# resumption reported by s_client -sess_in and by the counters of both
# legs; a HelloRetryRequest on the upstream leg and one on the client leg
# (a client whose only key share is a group the appliance does not take).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

T_TOPO=n$(($$ % 1000000))
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
WWW=$T_TMP/www
in_cli() { ip netns exec "$NS_CLI" "$@"; }
tls() { ctl_json "$SOCK" stats >"$T_TMP/stats.json" && json_get "$T_TMP/stats.json" "r['tls']['$1']"; }
# get PORT PATH OUT [curl options...]: HTTPS through the appliance
get() {
	local port=$1 path=$2 out=$3; shift 3
	in_cli curl -sS --max-time 20 --cacert "$PKI/ca/ca.crt" \
		--resolve "www.ps.test:$port:$SRV4" --resolve "big.ps.test:$port:$SRV4" \
		-o "$out" "$@" "https://${HOST:-www.ps.test}:$port$path" 2>>"$T_TMP/curl.err"
}
# sclient PORT [options...]: openssl s_client through the appliance, no data
# (SNI: the server name, www.ps.test by default)
sclient() {
	local port=$1; shift
	in_cli timeout 10 openssl s_client -connect "$SRV4:$port" -servername "${SNI:-www.ps.test}" \
		-CAfile "$PKI/ca/ca.crt" "$@" </dev/null 2>&1
}

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1 || { t_fail "test PKI"; exit 1; }

# ---- a chain of more than 16 KB from the test's web root ----
mkbig() (
	set -e
	cd "$PKI"
	umask 077
	inter() {	# NAME ISSUER_CRT ISSUER_KEY
		openssl req -newkey rsa:4096 -nodes -subj "/O=plainsight test/CN=Big Intermediate $1" \
			-keyout "$1.key" -out "$1.csr" 2>/dev/null
		openssl x509 -req -in "$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -days 10 \
			-extfile <(printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n') \
			-out "$1.crt" 2>/dev/null
	}
	inter int1 root.crt root.key
	inter int2 int1.crt int1.key
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=big.ps.test" \
		-keyout big.key -out big.csr 2>/dev/null
	sans="DNS:big.ps.test"
	for i in $(seq 600); do sans="$sans,DNS:host-$i.big.ps.test"; done
	openssl x509 -req -in big.csr -CA int2.crt -CAkey int2.key -CAcreateserial -days 10 \
		-extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$sans") \
		-out big.crt 2>/dev/null
	cat big.crt int2.crt int1.crt >big-chain.crt
	chmod 644 ./*.crt
	rm -f ./*.csr
	test "$(openssl crl2pkcs7 -nocrl -certfile big-chain.crt -outform DER | wc -c)" -gt 16384
)
mkbig >"$T_TMP/big.log" 2>&1 || { t_fail "a chain over 16 KB"; cat "$T_TMP/big.log"; exit 1; }
t_ok "test PKI with a chain of $(cat "$PKI"/big-chain.crt | openssl crl2pkcs7 -nocrl -certfile /dev/stdin -outform DER | wc -c) bytes (DER)"

# ---- nginx ----
mkdir -p "$WWW/dav" "$T_TMP/nginx"
echo "nginx through plainsight" >"$WWW/index.html"
head -c 3000000 /dev/urandom >"$WWW/big.bin"
head -c 5000000 /dev/urandom >"$T_TMP/up.bin"
chmod -R a+rwX "$WWW"
cat >"$T_TMP/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $T_TMP/nginx/nginx.pid;
error_log $T_TMP/nginx/error.log warn;
events { worker_connections 256; }
http {
	access_log $T_TMP/nginx/access.log;
	client_body_temp_path $T_TMP/nginx/body;
	proxy_temp_path $T_TMP/nginx/proxy;
	fastcgi_temp_path $T_TMP/nginx/fastcgi;
	uwsgi_temp_path $T_TMP/nginx/uwsgi;
	scgi_temp_path $T_TMP/nginx/scgi;
	client_max_body_size 64m;
	ssl_session_cache shared:ps:1m;
	ssl_session_tickets on;
	root $WWW;
	server {
		listen $SRV4:443 ssl http2;
		ssl_certificate $PKI/www.crt;
		ssl_certificate_key $PKI/www.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		location /dav/ { dav_methods PUT; create_full_put_path on; }
	}
	server {
		listen $SRV4:4431 ssl;
		ssl_certificate $PKI/rsa.crt;
		ssl_certificate_key $PKI/rsa.key;
		ssl_protocols TLSv1.3;
	}
	server {
		listen $SRV4:4432 ssl;
		ssl_certificate $PKI/www.crt;
		ssl_certificate_key $PKI/www.key;
		ssl_protocols TLSv1.2;
	}
	server {
		listen $SRV4:4433 ssl;
		ssl_certificate $PKI/big-chain.crt;
		ssl_certificate_key $PKI/big.key;
		ssl_protocols TLSv1.2 TLSv1.3;
	}
	server {
		listen $SRV4:4434 ssl;
		ssl_certificate $PKI/www.crt;
		ssl_certificate_key $PKI/www.key;
		ssl_protocols TLSv1.3;
		ssl_ecdh_curve secp384r1;
	}
}
EOF
bg "$NS_SRV" "$T_TMP/nginx.log" nginx -c "$T_TMP/nginx.conf"
NGINX=$T_LAST_PID
check "nginx listens" wait_for 10 ip netns exec "$NS_SRV" python3 -c \
	"import socket; socket.create_connection(('$SRV4', 4434), 1)"

dp_config "$T_TMP/dp.json" 1 "" - <<EOF
	"intercept": {"tcp_ports": [443, 4431, 4432, 4433, 4434]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl"}
EOF
dp_up "$T_TMP/dp.json" "plainsight-dp starts"

# A capture on the server's side of the appliance: what nginx is sent.
bg "$NS_SRV" "$T_TMP/srv.cap.log" tcpdump -i eth0 -U -w "$T_TMP/srv.pcap" tcp port 4434
SRV_CAP=$T_LAST_PID
bg "$NS_CLI" "$T_TMP/cli.cap.log" tcpdump -i eth0 -U -w "$T_TMP/cli.pcap" tcp port 4431
CLI_CAP=$T_LAST_PID
sleep 1

# ---- content, both ways ----
get 443 /index.html "$T_TMP/index.out"
check "nginx through the appliance: page intact" cmp "$WWW/index.html" "$T_TMP/index.out"
get 443 /big.bin "$T_TMP/big.out" --http1.1
check "3 MB download (HTTP/1.1): sha256 equal" \
	test "$(sha_of "$WWW/big.bin")" = "$(sha_of "$T_TMP/big.out")"
get 443 /dav/up.bin /dev/null --http1.1 -T "$T_TMP/up.bin"
check "5 MB upload (WebDAV PUT): what nginx stored is byte-identical" \
	test "$(sha_of "$T_TMP/up.bin")" = "$(sha_of "$WWW/dav/up.bin" 2>/dev/null)"
get 443 /big.bin "$T_TMP/big2.out" --http2 -w '%{http_version}' >"$T_TMP/h2.txt"
check "ALPN h2: curl speaks HTTP/2 with nginx through the appliance ($(cat "$T_TMP/h2.txt"))" \
	sh -c "test \"\$(cat '$T_TMP/h2.txt')\" = 2 && cmp '$WWW/big.bin' '$T_TMP/big2.out'"
ctl_json "$SOCK" sessions >"$T_TMP/s.json"
check "the session record has the ALPN nginx chose (h2)" \
	json_get "$T_TMP/s.json" "'ok' if any(s.get('alpn') == 'h2' for s in r['sessions']) else sys.exit(1)"

# ---- versions and key types ----
SNI=rsa.ps.test sclient 4431 -tls1_3 >"$T_TMP/v13.txt"
check "TLS 1.3-only nginx (RSA leaf), TLS 1.3 client" \
	sh -c "grep -q 'New, TLSv1.3' '$T_TMP/v13.txt' && grep -q 'Verify return code: 0' '$T_TMP/v13.txt'"
SNI=rsa.ps.test sclient 4431 -tls1_2 >"$T_TMP/v13x.txt"
check "TLS 1.3-only nginx, TLS 1.2-only client: a TLS 1.2 AEAD client leg" \
	grep -q 'New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256' "$T_TMP/v13x.txt"
ctl_json "$SOCK" sessions >"$T_TMP/s13x.json"
check "... and TLS 1.3 upstream, never lower than the client offered (record)" \
	json_get "$T_TMP/s13x.json" "'ok' if any(s['server_port'] == 4431 and s['client_leg']['version'] == 'TLSv1.2' and s['server_leg']['version'] == 'TLSv1.3' for s in r['sessions'] if 'client_leg' in s) else sys.exit(1)"
sclient 4432 >"$T_TMP/v12.txt"
check "TLS 1.2-only nginx, TLS 1.3 client: the client leg is TLS 1.2" \
	sh -c "grep -q 'New, TLSv1.2' '$T_TMP/v12.txt' && grep -q 'Verify return code: 0' '$T_TMP/v12.txt'"
get 4432 /index.html "$T_TMP/v12.out" --tlsv1.2 --tls-max 1.2
check "TLS 1.2 both ends: page intact" cmp "$WWW/index.html" "$T_TMP/v12.out"

# ---- a chain of more than 16 KB ----
HOST=big.ps.test get 4433 /index.html "$T_TMP/bigchain.out"
check "a server chain over 16 KB: verified upstream, page intact" cmp "$WWW/index.html" "$T_TMP/bigchain.out"
in_cli timeout 10 openssl s_client -connect "$SRV4:4433" -servername host-599.big.ps.test \
	-CAfile "$PKI/ca/ca.crt" -verify_hostname host-599.big.ps.test </dev/null >"$T_TMP/bigleaf.txt" 2>&1
check "the forged leaf carries all 601 names (a name near the end verifies)" \
	grep -q 'Verify return code: 0' "$T_TMP/bigleaf.txt"

# ---- resumption, both legs ----
for v in 1.3 1.2; do
	opt=-tls1_3
	[ $v = 1.2 ] && opt="-tls1_2 -no_ticket"
	up0=$(tls upstream_handshakes_resumed)
	cli0=$(tls client_handshakes_resumed)
	# The TLS 1.3 ticket comes after the handshake: s_client stays a second.
	# shellcheck disable=SC2086
	sleep 1 | in_cli timeout 10 openssl s_client -connect "$SRV4:443" -servername www.ps.test \
		-CAfile "$PKI/ca/ca.crt" $opt -sess_out "$T_TMP/sess$v.pem" >"$T_TMP/r1-$v.txt" 2>&1
	# shellcheck disable=SC2086
	sclient 443 $opt -sess_in "$T_TMP/sess$v.pem" >"$T_TMP/r2-$v.txt"
	check "TLS $v: s_client -sess_in says Reused" grep -q "^Reused, TLSv$v" "$T_TMP/r2-$v.txt"
	check "TLS $v: counters: the client leg resumed" \
		sh -c "test $(tls client_handshakes_resumed) -gt $cli0"
	check "TLS $v: counters: the upstream leg resumed with nginx" \
		sh -c "test $(tls upstream_handshakes_resumed) -gt $up0"
done

# ---- HelloRetryRequest ----
get 4434 /index.html "$T_TMP/hrr.out"
check "upstream HelloRetryRequest (nginx takes only P-384): page intact" \
	cmp "$WWW/index.html" "$T_TMP/hrr.out"
# The client's only key share is ffdhe2048, a group the client leg does not
# take: it asks again for one of its own.
SNI=rsa.ps.test sclient 4431 -tls1_3 -groups ffdhe2048:X25519 >"$T_TMP/hrr-cli.txt"
check "client-leg HelloRetryRequest (the client's key share is ffdhe2048): handshake done" \
	sh -c "grep -q 'New, TLSv1.3' '$T_TMP/hrr-cli.txt' && grep -q 'Verify return code: 0' '$T_TMP/hrr-cli.txt'"
sleep 1
stop_pid "$SRV_CAP" INT
stop_pid "$CLI_CAP" INT
HRR_RANDOM=cf:21:ad:74:e5:9a:61:11:be:1d:8c:02:1e:65:b8:91:c2:a2:11:16:7a:bb:8c:5e:07:9e:09:e2:c8:a8:33:9c
hrr_count() {	# PCAP PORT: HelloRetryRequests in it
	timeout 120 tshark -n -r "$1" -d "tcp.port==$2,tls" \
		-Y "tls.handshake.random == $HRR_RANDOM" 2>/dev/null | wc -l
}
check "the capture at nginx shows its HelloRetryRequest to the appliance" \
	test "$(hrr_count "$T_TMP/srv.pcap" 4434)" -ge 1
check "the capture at the client shows the appliance's HelloRetryRequest" \
	test "$(hrr_count "$T_TMP/cli.pcap" 4431)" -ge 1

check "nginx logged no error" sh -c "! grep -E '\\[(crit|alert|emerg)\\]' '$T_TMP/nginx/error.log'"
stop_pid "$NGINX" QUIT
stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
