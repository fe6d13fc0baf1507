#!/usr/bin/env bash
# The certificate matrix: one server chain per check of the WebPKI profile
# (docs/security.md, docs/webpki.md), made at run time with the openssl CLI.
#
#   pki_matrix.sh DIR
#     DIR/cases.tsv           NAME<TAB>HOST<TAB>accept|reject<TAB>REASON, one case a line:
#                             HOST is the SNI a client sends, REASON the name the
#                             session record must carry (ok when accepted)
#     DIR/cases/NAME/chain.pem  what the server sends: its leaf first, then the rest
#     DIR/cases/NAME/key.pem    the leaf's key (0600)
#     DIR/roots.pem           the trust bundle the appliance uses (tls.trust_bundle)
#     DIR/ca/ca.crt, ca.key   the appliance CA (scripts/mkca.sh)
#     DIR/work/               the test CAs' keys and certificates
#
# Every run makes new keys; nothing is committed. Keys that are not the
# point of a case are shared: one P-256 leaf key, one RSA root and one RSA
# intermediate (RSA so that they can sign with MD5 and SHA-1).
set -euo pipefail

DIR=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
umask 077
rm -rf "$DIR/cases" "$DIR/work" "$DIR/ca" "$DIR/cases.tsv" "$DIR/roots.pem"
mkdir -p "$DIR/cases" "$DIR/work/db"
W=$DIR/work
cd "$W"

# An RSA-8192 key with two primes takes 15 s to a minute to find; four
# primes of 2048 bits (RFC 8017 multi-prime) take a second or two, and the
# public key, certificate and signatures are the same 8192-bit RSA. Started
# first, collected last.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192 -pkeyopt rsa_keygen_primes:4 \
	-out rsa8192.key 2>/dev/null &
RSA8192_PID=$!

date_at() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

# key NAME ALG: W/NAME.key; ALG p256, p384, rsaBITS or dsa.
key() {
	case $2 in
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1.key" ;;
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" -out "$1.key" ;;
	dsa)
		openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 \
			-pkeyopt dsa_paramgen_q_bits:256 -out dsa.param
		openssl genpkey -paramfile dsa.param -out "$1.key"
		;;
	esac 2>/dev/null
}

# Extension profiles (openssl x509v3_config lines).
CA_EXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash'
SUB_EXT="$CA_EXT
authorityKeyIdentifier=keyid"
# leaf_ext SAN [EXTRA LINES]: a well-formed server leaf
leaf_ext() {
	printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
		'extendedKeyUsage=serverAuth' 'subjectKeyIdentifier=hash' \
		'authorityKeyIdentifier=keyid' "subjectAltName=$1"
	[ $# -lt 2 ] || printf '%s\n' "$2"
}

# `openssl ca` for certificates with chosen dates; one database for all.
cat >ca.cnf <<EOF
[ca]
default_ca = matrix
[matrix]
database = $W/db/index.txt
new_certs_dir = $W/db
serial = $W/db/serial
default_md = sha256
unique_subject = no
policy = any
[any]
commonName = optional
organizationName = optional
EOF
: >db/index.txt
echo 4D41545249580001 >db/serial

# cert OUT ISSUER KEY SUBJ EXT [OPTION...]: W/OUT.crt for KEY's public key.
# ISSUER names W/ISSUER.crt and W/ISSUER.key ("-": self-signed with KEY);
# EXT the extension lines ("": none, an X.509 v1 certificate). Options:
#   md=DIGEST          signature hash (sha256)
#   from=D to=D        validity as GNU date strings, both or none
#                      (default: from now for 30 days)
#   serial=N           serial number, decimal or 0x hex (default: random)
cert() {
	local out=$1 iss=$2 k=$3 subj=$4 ext=$5 md=sha256 from= to= o
	local serial
	local -a sign extf=()
	shift 5
	printf -v serial '0x4d%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM"
	for o in "$@"; do
		case $o in
		md=*) md=${o#md=} ;;
		from=*) from=${o#from=} ;;
		to=*) to=${o#to=} ;;
		serial=*) serial=${o#serial=} ;;
		*) echo "cert: unknown option $o" >&2; return 1 ;;
		esac
	done
	if [ -n "$ext" ]; then
		printf '%s\n' "$ext" >"$out.ext"
		extf=(-extfile "$out.ext")
	fi
	if [ -n "$from" ]; then
		# Chosen dates: only `openssl ca` sets them (OpenSSL 3.0).
		if [ "$iss" = - ]; then
			sign=(-keyfile "$k" -selfsign)
		else
			sign=(-cert "$iss.crt" -keyfile "$iss.key")
		fi
		printf '%s\n' "${serial#0x}" >db/serial
		openssl req -new -key "$k" -subj "$subj" -out "$out.csr" 2>/dev/null
		openssl ca -batch -config ca.cnf "${sign[@]}" -in "$out.csr" -out "$out.crt" \
			-md "$md" -preserveDN -notext -startdate "$(date_at "$from")" \
			-enddate "$(date_at "$to")" "${extf[@]}" 2>/dev/null
		rm -f "$out.csr"
	else
		# From now for 30 days; any serial, zero and negative ones too.
		if [ "$iss" = - ]; then
			sign=(-key "$k")
		else
			[ -s "$k.pub" ] || openssl pkey -in "$k" -pubout -out "$k.pub"
			sign=(-force_pubkey "$k.pub" -CA "$iss.crt" -CAkey "$iss.key")
		fi
		openssl x509 -new -subj "$subj" "${sign[@]}" -set_serial "$serial" -days 30 \
			-"$md" "${extf[@]}" -out "$out.crt" 2>/dev/null
	fi
	rm -f "$out.ext"
	test -s "$out.crt"
}

# leaf OUT ISSUER HOST [SAN [EXTRA_EXT_LINES [OPTION...]]]: a P-256 server
# leaf (the shared key) for HOST; SAN defaults to DNS:HOST.
leaf() {
	local out=$1 iss=$2 host=$3 san=${4:-} extra=${5:-}
	shift $(($# < 5 ? $# : 5))
	cert "$out" "$iss" leaf.key "/CN=$host" "$(leaf_ext "${san:-DNS:$host}" "$extra")" "$@"
}

# add NAME HOST EXPECT REASON LEAF_KEY CERT...: the case directory and its line.
add() {
	local name=$1 host=$2 expect=$3 reason=$4 k=$5 c d=$DIR/cases/$1
	shift 5
	mkdir -p "$d"
	: >"$d/chain.pem"
	for c in "$@"; do
		cat "$c.crt" >>"$d/chain.pem"	# PEM only (-notext)
	done
	cp "$k" "$d/key.pem"
	chmod 600 "$d/key.pem"
	chmod 644 "$d/chain.pem"
	printf '%s\t%s\t%s\t%s\n' "$name" "$host" "$expect" "$reason" >>"$DIR/cases.tsv"
}

# ---------------------------------------------------------------------------
# Keys and the trusted roots.
key leaf p256
for k in root inter rootsha1; do key "$k" rsa2048; done
for k in rooteku rootold rootnew rootexp rootnyv fake unknown imd5 isha1 iexp inyv \
	inotca iv1 ipl0 iplsub itop isub incperm incexcl incwild incip incipx ixnew iekuc iku \
	extra; do
	key "$k" p256
done
key idsa dsa
key rsa1024 rsa1024
key rsa4096 rsa4096
key p384 p384

cert root - root.key "/O=plainsight test/CN=Matrix Root" "$CA_EXT"
cert inter root inter.key "/O=plainsight test/CN=Matrix Intermediate" "$SUB_EXT"
cert rooteku - rooteku.key "/O=plainsight test/CN=Matrix Root with EKU" \
	"$CA_EXT
extendedKeyUsage=serverAuth"
cert rootold - rootold.key "/O=plainsight test/CN=Matrix Old Root" "$CA_EXT"
cert rootexp - rootexp.key "/O=plainsight test/CN=Matrix Expired Root" "$CA_EXT" \
	from=-30days to=-1day
cert rootnyv - rootnyv.key "/O=plainsight test/CN=Matrix Future Root" "$CA_EXT" \
	from=+1day to=+30days
# An old root whose self-signature is SHA-1: a trust anchor is trusted as
# installed, its self-signature is not part of any path.
cert rootsha1 - rootsha1.key "/O=plainsight test/CN=Matrix SHA-1 Root" "$CA_EXT" md=sha1
cat root.crt rooteku.crt rootold.crt rootexp.crt rootnyv.crt rootsha1.crt >"$DIR/roots.pem"
chmod 644 "$DIR/roots.pem"

# The appliance CA.
"$ROOT/scripts/mkca.sh" --cn "plainsight test CA" "$DIR/ca" >/dev/null
chmod 644 "$DIR/ca/ca.crt"
ln -s "$DIR/ca/ca.crt" appliance.crt
ln -s "$DIR/ca/ca.key" appliance.key

# ---------------------------------------------------------------------------
# Unusual but valid chains: accepted.
leaf good inter good.ps.test
add good good.ps.test accept ok leaf.key good inter

# root -> itop -> isub -> leaf, sent as leaf, itop, isub.
cert itop root itop.key "/O=plainsight test/CN=Matrix Top Intermediate" "$SUB_EXT"
cert isub itop isub.key "/O=plainsight test/CN=Matrix Sub Intermediate" "$SUB_EXT"
leaf reversed isub reversed.ps.test
add reversed reversed.ps.test accept ok leaf.key reversed itop isub

# Unrelated certificates along with the chain: another root, a stranger's
# leaf, the intermediate twice.
cert extra - extra.key "/O=elsewhere/CN=Unrelated Root" "$CA_EXT"
leaf stranger extra stranger.ps.test
leaf extra_leaf inter extra.ps.test
add extra_certs extra.ps.test accept ok leaf.key extra_leaf extra stranger inter inter

# A new root cross-signed by the trusted old one; the new root itself is
# not trusted. Sent: leaf, its intermediate, the cross certificate.
cert rootnew - rootnew.key "/O=plainsight test/CN=Matrix New Root" "$CA_EXT"
cert crossnew rootold rootnew.key "/O=plainsight test/CN=Matrix New Root" "$SUB_EXT"
cert ixnew rootnew ixnew.key "/O=plainsight test/CN=Matrix New Intermediate" "$SUB_EXT"
leaf cross ixnew cross.ps.test
add cross_signed cross.ps.test accept ok leaf.key cross ixnew crossnew
# ... and the new root itself after the cross certificate.
leaf cross2 ixnew cross2.ps.test
add cross_signed_new_root_sent cross2.ps.test accept ok leaf.key cross2 ixnew crossnew rootnew

# The trusted root sent too.
leaf rootsent inter rootsent.ps.test
add root_sent rootsent.ps.test accept ok leaf.key rootsent inter root

leaf sha1root_leaf rootsha1 sha1root.ps.test
add root_sha1_self_signature sha1root.ps.test accept ok leaf.key sha1root_leaf

# A serial of 20 octets, the longest allowed.
leaf serial20 inter serial20.ps.test "" "" "serial=0x7f$(openssl rand -hex 19)"
add serial_20_octets serial20.ps.test accept ok leaf.key serial20 inter

add_p() {	# NAME HOST KEYFILE: a leaf of KEYFILE for HOST from the intermediate
	cert "$1" inter "$3" "/CN=$2" "$(leaf_ext "DNS:$2")"
	add "$1" "$2" accept ok "$3" "$1" inter
}
add_p ecdsa_p256 p256.ps.test leaf.key
add_p ecdsa_p384 p384.ps.test p384.key
add_p rsa4096 rsa4096.ps.test rsa4096.key

# 1,200 DNS names.
many="DNS:many.ps.test"
for i in $(seq 1 1199); do
	many+=",DNS:n$i.many.ps.test"
done
leaf many_sans inter many.ps.test "$many"
add many_sans many.ps.test accept ok leaf.key many_sans inter

# An IDN: bücher.ps.test as its A-label.
leaf idn inter xn--bcher-kva.ps.test
add idn xn--bcher-kva.ps.test accept ok leaf.key idn inter

leaf wildcard inter "*.wild.ps.test"
add wildcard www.wild.ps.test accept ok leaf.key wildcard inter

# ---------------------------------------------------------------------------
# Refused, with the reason the session record must name.

# The leaf itself.
cert leaf_ca inter leaf.key /CN=leafca.ps.test \
	"$(leaf_ext DNS:leafca.ps.test | sed 's/CA:FALSE/CA:TRUE/; s/digitalSignature/&,keyCertSign/')"
add leaf_is_ca leafca.ps.test reject leaf_is_ca leaf.key leaf_ca inter

cert leaf_nosan inter leaf.key /CN=nosan.ps.test \
	"$(printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
		'extendedKeyUsage=serverAuth' 'authorityKeyIdentifier=keyid')"
add leaf_no_san nosan.ps.test reject leaf_no_san leaf.key leaf_nosan inter

cert leaf_v1 inter leaf.key /CN=v1.ps.test ""
add leaf_x509_v1 v1.ps.test reject x509_v1 leaf.key leaf_v1 inter

cert eku_missing inter leaf.key /CN=noeku.ps.test \
	"$(leaf_ext DNS:noeku.ps.test | grep -v extendedKeyUsage)"
add eku_missing noeku.ps.test reject eku_missing leaf.key eku_missing inter

cert eku_any inter leaf.key /CN=anyeku.ps.test \
	"$(leaf_ext DNS:anyeku.ps.test | sed 's/=serverAuth/=anyExtendedKeyUsage/')"
add eku_any_only anyeku.ps.test reject eku_any_only leaf.key eku_any inter

cert eku_client inter leaf.key /CN=clienteku.ps.test \
	"$(leaf_ext DNS:clienteku.ps.test | sed 's/=serverAuth/=clientAuth,emailProtection/')"
add eku_no_server_auth clienteku.ps.test reject eku_no_server_auth leaf.key eku_client inter

cert ku_wrong inter leaf.key /CN=ku.ps.test \
	"$(leaf_ext DNS:ku.ps.test | sed 's/=critical,digitalSignature/=critical,keyCertSign/')"
add key_usage ku.ps.test reject key_usage leaf.key ku_wrong inter

leaf crit inter crit.ps.test "" "1.3.6.1.4.1.55555.7=critical,ASN1:UTF8String:plainsight test"
add unknown_critical_ext crit.ps.test reject unknown_critical_ext leaf.key crit inter

leaf root_eku_leaf rooteku rooteku.ps.test
add root_has_eku rooteku.ps.test reject root_has_eku leaf.key root_eku_leaf

# Signatures and keys.
leaf leaf_md5 inter md5.ps.test "" "" md=md5
add leaf_md5 md5.ps.test reject weak_signature_md5 leaf.key leaf_md5 inter
leaf leaf_sha1 inter sha1.ps.test "" "" md=sha1
add leaf_sha1 sha1.ps.test reject weak_signature_sha1 leaf.key leaf_sha1 inter
cert imd5 root imd5.key "/O=plainsight test/CN=Matrix MD5 Intermediate" "$SUB_EXT" md=md5
leaf imd5_leaf imd5 imd5.ps.test
add intermediate_md5 imd5.ps.test reject weak_signature_md5 leaf.key imd5_leaf imd5
cert isha1 root isha1.key "/O=plainsight test/CN=Matrix SHA-1 Intermediate" "$SUB_EXT" md=sha1
leaf isha1_leaf isha1 isha1.ps.test
add intermediate_sha1 isha1.ps.test reject weak_signature_sha1 leaf.key isha1_leaf isha1
cert idsa root idsa.key "/O=plainsight test/CN=Matrix DSA Intermediate" "$SUB_EXT"
leaf idsa_leaf idsa dsa.ps.test
add dsa_key dsa.ps.test reject weak_key_dsa leaf.key idsa_leaf idsa
cert rsa1024 inter rsa1024.key /CN=rsa1024.ps.test "$(leaf_ext DNS:rsa1024.ps.test)"
add rsa1024 rsa1024.ps.test reject weak_key_rsa rsa1024.key rsa1024 inter

# A signature with one byte flipped (the last one: inside ECDSA's s).
leaf badsig inter badsig.ps.test
openssl x509 -in badsig.crt -outform DER -out badsig.der
python3 - badsig.der <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[-1] ^= 0x01
open(sys.argv[1], 'wb').write(b)
EOF
openssl x509 -inform DER -in badsig.der -out badsig.crt
add bad_signature badsig.ps.test reject bad_signature leaf.key badsig inter

# Serial numbers.
leaf serial0 inter serial0.ps.test "" "" serial=0
add serial_zero serial0.ps.test reject serial_bad leaf.key serial0 inter
leaf serialneg inter serialneg.ps.test "" "" serial=-4242
add serial_negative serialneg.ps.test reject serial_bad leaf.key serialneg inter
leaf seriallong inter seriallong.ps.test "" "" "serial=0x7f$(openssl rand -hex 20)"
add serial_too_long seriallong.ps.test reject serial_bad leaf.key seriallong inter

# Time.
leaf expired inter expired.ps.test "" "" from=-20days to=-2days
add leaf_expired expired.ps.test reject expired leaf.key expired inter
leaf future inter future.ps.test "" "" from=+2days to=+30days
add leaf_not_yet_valid future.ps.test reject not_yet_valid leaf.key future inter
cert iexp root iexp.key "/O=plainsight test/CN=Matrix Expired Intermediate" "$SUB_EXT" \
	from=-30days to=-1day
leaf iexp_leaf iexp iexp.ps.test
add intermediate_expired iexp.ps.test reject expired leaf.key iexp_leaf iexp
cert inyv root inyv.key "/O=plainsight test/CN=Matrix Future Intermediate" "$SUB_EXT" \
	from=+1day to=+30days
leaf inyv_leaf inyv inyv.ps.test
add intermediate_not_yet_valid inyv.ps.test reject not_yet_valid leaf.key inyv_leaf inyv
leaf rootexp_leaf rootexp rootexp.ps.test
add root_expired rootexp.ps.test reject expired leaf.key rootexp_leaf
leaf rootnyv_leaf rootnyv rootnyv.ps.test
add root_not_yet_valid rootnyv.ps.test reject not_yet_valid leaf.key rootnyv_leaf

# Trust.
cert self - leaf.key /CN=self.ps.test "$(leaf_ext DNS:self.ps.test | grep -v authorityKeyIdentifier)"
add self_signed self.ps.test reject self_signed leaf.key self
cert unknown - unknown.key "/O=plainsight test/CN=Matrix Unknown Root" "$CA_EXT"
leaf unknown_leaf unknown unknown.ps.test
add unknown_root unknown.ps.test reject unknown_root leaf.key unknown_leaf unknown
# Same subject as the trusted Matrix Root, another key.
cert fake - fake.key "/O=plainsight test/CN=Matrix Root" "$CA_EXT"
leaf fake_leaf fake fakeroot.ps.test
add fake_root fakeroot.ps.test reject unknown_root leaf.key fake_leaf fake
leaf incomplete inter incomplete.ps.test
add incomplete_chain incomplete.ps.test reject incomplete_chain leaf.key incomplete
leaf loop appliance loop.ps.test
add appliance_ca loop.ps.test reject signed_by_appliance_ca leaf.key loop

# Issuers.
cert inotca root inotca.key "/O=plainsight test/CN=Matrix Non-CA Intermediate" \
	"$(printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,keyCertSign' \
		'authorityKeyIdentifier=keyid')"
leaf inotca_leaf inotca inotca.ps.test
add intermediate_not_ca inotca.ps.test reject intermediate_not_ca leaf.key inotca_leaf inotca
cert iv1 root iv1.key "/O=plainsight test/CN=Matrix V1 Intermediate" ""
cert iv1_leaf iv1 leaf.key /CN=iv1.ps.test \
	"$(leaf_ext DNS:iv1.ps.test | grep -v authorityKeyIdentifier)"
add intermediate_x509_v1 iv1.ps.test reject x509_v1 leaf.key iv1_leaf iv1
cert ipl0 root ipl0.key "/O=plainsight test/CN=Matrix PathLen 0 Intermediate" \
	"$(printf '%s\n' 'basicConstraints=critical,CA:TRUE,pathlen:0' \
		'keyUsage=critical,keyCertSign,cRLSign' 'subjectKeyIdentifier=hash' \
		'authorityKeyIdentifier=keyid')"
cert iplsub ipl0 iplsub.key "/O=plainsight test/CN=Matrix Below PathLen 0" "$SUB_EXT"
leaf pathlen_leaf iplsub pathlen.ps.test
add path_len pathlen.ps.test reject path_len leaf.key pathlen_leaf iplsub ipl0
cert iekuc root iekuc.key "/O=plainsight test/CN=Matrix clientAuth Intermediate" "$SUB_EXT
extendedKeyUsage=clientAuth"
leaf iekuc_leaf iekuc iekuc.ps.test
add intermediate_eku_client iekuc.ps.test reject eku_no_server_auth leaf.key iekuc_leaf iekuc
cert iku root iku.key "/O=plainsight test/CN=Matrix digitalSignature Intermediate" \
	"$(printf '%s\n' "$SUB_EXT" | sed 's/=critical,keyCertSign,cRLSign/=critical,digitalSignature/')"
leaf iku_leaf iku iku.ps.test
add intermediate_key_usage iku.ps.test reject key_usage leaf.key iku_leaf iku

# Name constraints.
nc_ca() {	# NAME CONSTRAINTS
	cert "$1" root "$1.key" "/O=plainsight test/CN=Matrix Constrained $1" "$SUB_EXT
nameConstraints=critical,$2"
}
nc_ca incperm "permitted;DNS:allowed.ps.test"
leaf ncperm_leaf incperm ncperm.ps.test
add nc_permitted ncperm.ps.test reject name_constraints leaf.key ncperm_leaf incperm
nc_ca incexcl "excluded;DNS:ncexcl.ps.test"
leaf ncexcl_leaf incexcl ncexcl.ps.test
add nc_excluded ncexcl.ps.test reject name_constraints leaf.key ncexcl_leaf incexcl
# Holes OpenSSL's own check leaves open: a wildcard covering an excluded
# host; a CN-only leaf outside the permitted subtree (no SAN to check).
nc_ca incwild "excluded;DNS:secret.ncwild.ps.test"
leaf ncwild_leaf incwild "*.ncwild.ps.test"
add nc_wildcard_excluded www.ncwild.ps.test reject name_constraints leaf.key ncwild_leaf incwild
cert nccn_leaf incperm leaf.key /CN=nccn.ps.test \
	"$(leaf_ext DNS:x | grep -v subjectAltName)"
add nc_cn_only nccn.ps.test reject leaf_no_san leaf.key nccn_leaf incperm
# An IP SAN outside the permitted addresses, the DNS name inside.
nc_ca incip "permitted;DNS:ncip.ps.test,permitted;IP:198.18.0.0/255.255.255.0"
leaf ncip_leaf incip ncip.ps.test "DNS:ncip.ps.test,IP:203.0.113.7"
add nc_ip_outside ncip.ps.test reject name_constraints leaf.key ncip_leaf incip
nc_ca incipx "excluded;IP:203.0.113.0/255.255.255.0"
leaf ncipx_leaf incipx ncipx.ps.test "DNS:ncipx.ps.test,IP:203.0.113.9"
add nc_ip_excluded ncipx.ps.test reject name_constraints leaf.key ncipx_leaf incipx

# Host names.
leaf mismatch inter right.ps.test
add host_mismatch wrong.ps.test reject host_mismatch leaf.key mismatch inter
leaf wild_mid inter wildmid.ps.test "DNS:www.*.wildmid.ps.test"
add wildcard_not_leftmost www.x.wildmid.ps.test reject host_mismatch leaf.key wild_mid inter
leaf wild_two inter wild2.ps.test "DNS:*.wild2.ps.test"
add wildcard_two_labels a.b.wild2.ps.test reject host_mismatch leaf.key wild_two inter
leaf cn_match inter cnmatch.ps.test "DNS:elsewhere.ps.test"
add san_but_cn_matches cnmatch.ps.test reject host_mismatch leaf.key cn_match inter

# ---------------------------------------------------------------------------
wait "$RSA8192_PID"
add_p rsa8192 rsa8192.ps.test rsa8192.key
chmod 644 "$DIR/cases.tsv"
