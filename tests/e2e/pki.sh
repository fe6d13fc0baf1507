#!/usr/bin/env bash
# A throw-away PKI for end-to-end tests and the demo, made at run time:
#
#   pki.sh DIR
#     DIR/root.crt            a "public" web root the appliance trusts (trust_bundle)
#     DIR/www.crt, www.key    leaf for www.ps.test and 198.18.0.2, ECDSA P-256
#     DIR/rsa.crt, rsa.key    leaf for rsa.ps.test, RSA-2048
#     DIR/expired.crt/.key    leaf for www.ps.test whose validity ended
#     DIR/self.crt, self.key  self-signed leaf for www.ps.test
#     DIR/other.crt/.key      leaf for other.ps.test only (a host name mismatch for www)
#     DIR/nosan.crt/.key      leaf for www.ps.test by CN only (no SAN: WebPKI refuses)
#     DIR/known.crt/.key      leaf for known.ps.test (the appliance holds its key)
#     DIR/client.crt/.key     a client certificate (clientAuth) from the web root
#     DIR/ca/ca.crt, ca.key   the appliance CA (scripts/mkca.sh)
#
# Nothing here is shipped: every run makes new keys.
set -euo pipefail

DIR=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$DIR"
cd "$DIR"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/O=plainsight test/CN=Test Web Root" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout root.key -out root.crt 2>/dev/null

# leaf NAME SANS KEYALG [openssl x509 validity options...]
leaf() {
	local name=$1 san=$2 alg=$3; shift 3
	if [ "$alg" = rsa ]; then
		openssl req -newkey rsa:2048 -nodes -subj "/CN=${san%%,*}" -keyout "$name.key" \
			-out "$name.csr" 2>/dev/null
	else
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${san%%,*}" \
			-keyout "$name.key" -out "$name.csr" 2>/dev/null
	fi
	local ext="subjectAltName=$(echo "$san" | sed 's/\([^,]*\)/DNS:\1/g; s/DNS:\([0-9.]*\)\(,\|$\)/IP:\1\2/g')
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
	openssl x509 -req -in "$name.csr" -CA root.crt -CAkey root.key -CAcreateserial \
		-extfile <(echo "$ext") -out "$name.crt" "$@" 2>/dev/null
	rm -f "$name.csr"
}

leaf www "www.ps.test,198.18.0.2" ec -days 10
leaf rsa "rsa.ps.test" rsa -days 10
leaf other "other.ps.test" ec -days 10
leaf known "known.ps.test" ec -days 10
# Expired: valid for one day, ten days ago (openssl ca sets both dates).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=www.ps.test" \
	-keyout expired.key -out expired.csr 2>/dev/null
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
printf '%s\n' '[ca]' 'default_ca = test' '[test]' 'database = ca-db/index.txt' \
	'new_certs_dir = ca-db' 'serial = ca-db/serial' 'default_md = sha256' \
	'policy = any' '[any]' 'commonName = supplied' '[ext]' \
	'subjectAltName = DNS:www.ps.test' 'basicConstraints = critical,CA:FALSE' \
	'extendedKeyUsage = serverAuth' >ca-db/ca.cnf
openssl ca -batch -config ca-db/ca.cnf -cert root.crt -keyfile root.key -extensions ext \
	-startdate "$(date -u -d '-10 days' +%y%m%d%H%M%SZ)" \
	-enddate "$(date -u -d '-9 days' +%y%m%d%H%M%SZ)" \
	-in expired.csr -out expired.crt 2>/dev/null
rm -rf expired.csr ca-db
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 \
	-subj "/CN=www.ps.test" -addext "subjectAltName=DNS:www.ps.test" \
	-keyout self.key -out self.crt 2>/dev/null
# A leaf for www.ps.test by CN only, no subjectAltName: OpenSSL's host
# check falls back to the CN, browsers (and plainsight) refuse it.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=www.ps.test" \
	-keyout nosan.key -out nosan.csr 2>/dev/null
openssl x509 -req -in nosan.csr -CA root.crt -CAkey root.key -CAcreateserial -days 10 \
	-extfile <(printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n') \
	-out nosan.crt 2>/dev/null
rm -f nosan.csr
# A client certificate (for servers that require one), from the web root.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=client.ps.test" \
	-keyout client.key -out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA root.crt -CAkey root.key -CAcreateserial -days 10 \
	-extfile <(printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n') \
	-out client.crt 2>/dev/null
rm -f client.csr

rm -rf ca
"$ROOT/scripts/mkca.sh" --cn "plainsight test CA" ca >/dev/null
chmod 644 ./*.crt ca/ca.crt
