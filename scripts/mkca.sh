#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Create a fresh plainsight appliance CA: the CA that signs the leaves the
# appliance forges in resign mode (docs/tls-forge.md). Writes DIR/ca.crt
# (0644) and DIR/ca.key (0600, unencrypted, created under umask 077 so it
# is never readable by anyone else, not even briefly). Never overwrites.
set -eu

prog=${0##*/}

usage() {
	cat >&2 <<EOF
usage: $prog [--rsa] [--days N] [--cn NAME] DIR

Create a new appliance CA in DIR (created if missing): DIR/ca.crt and
DIR/ca.key. ECDSA P-256 by default.

  --rsa       RSA-3072 instead of ECDSA P-256
  --days N    validity in days (default 3650)
  --cn NAME   subject common name (default "plainsight appliance CA")
EOF
	exit 2
}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

rsa=0
days=3650
cn="plainsight appliance CA"
dir=
while [ $# -gt 0 ]; do
	case $1 in
	--rsa) rsa=1 ;;
	--days) [ $# -ge 2 ] || usage; days=$2; shift ;;
	--days=*) days=${1#--days=} ;;
	--cn) [ $# -ge 2 ] || usage; cn=$2; shift ;;
	--cn=*) cn=${1#--cn=} ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) printf '%s: unknown option %s\n' "$prog" "$1" >&2; usage ;;
	*) [ -z "$dir" ] || usage; dir=$1 ;;
	esac
	shift
done
if [ $# -gt 0 ]; then
	if [ -n "$dir" ] || [ $# -ne 1 ]; then
		usage
	fi
	dir=$1
fi
[ -n "$dir" ] || usage
case $days in
''|*[!0-9]*) die "--days wants a whole number of days, not '$days'" ;;
esac
# Strip leading zeros so that the shell does not read the number as octal.
days=$(printf '%s' "$days" | sed 's/^0*//')
if [ -z "$days" ] || [ "${#days}" -gt 5 ] || [ "$days" -gt 36500 ]; then
	die "--days must be between 1 and 36500"
fi
[ -n "$cn" ] || die "--cn must not be empty"
[ "${#cn}" -le 64 ] || die "--cn is longer than 64 characters (X.520 limit)"
case $cn in
*"
"*) die "--cn must be one line" ;;
esac
command -v openssl >/dev/null 2>&1 || die "the openssl command is not installed"

key=$dir/ca.key
crt=$dir/ca.crt
if [ -e "$key" ] || [ -L "$key" ]; then
	die "$key exists: refusing to overwrite a CA key (move it away first)"
fi
if [ -e "$crt" ] || [ -L "$crt" ]; then
	die "$crt exists: refusing to overwrite (move it away first)"
fi
mkdir -p -- "$dir"

cfg=$(mktemp)
made_key=0
cleanup() {
	rc=$?
	rm -f -- "$cfg"
	if [ "$rc" -ne 0 ] && [ "$made_key" -eq 1 ]; then
		rm -f -- "$key" "$crt"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Our own configuration, so that the system's openssl.cnf adds nothing.
cat > "$cfg" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = v3_ca
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

if [ "$rsa" -eq 1 ]; then
	set -- -algorithm RSA -pkeyopt rsa_keygen_bits:3072
	what="RSA-3072"
else
	set -- -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve
	what="ECDSA P-256"
fi
# umask 077 from the start: the key file is born 0600. noclobber (set -C)
# makes the redirection fail rather than truncate a key created meanwhile.
(
	umask 077
	set -C
	openssl genpkey -quiet "$@" > "$key"
) || die "could not create $key"
made_key=1
chmod 600 -- "$key"

# A random positive 128-bit serial: the top nibble in 4..7 keeps it 16
# bytes long with the sign bit clear.
hex=$(openssl rand -hex 16)
first=${hex%"${hex#?}"}
case $first in
0|4|8|c) first=4 ;;
1|5|9|d) first=5 ;;
2|6|a|e) first=6 ;;
*) first=7 ;;
esac
serial=$first${hex#?}

# -subj: a backslash or a slash inside the name must be escaped.
subj_cn=$(printf '%s' "$cn" | sed 's/[\\/]/\\&/g')
openssl req -config "$cfg" -new -x509 -utf8 -key "$key" -sha256 -days "$days" \
	-set_serial "0x$serial" -subj "/CN=$subj_cn" -extensions v3_ca -out "$crt" ||
	die "could not create $crt"
chmod 644 -- "$crt"

printf 'created %s (0644) and %s (0600): %s CA "%s", valid %s days\n' \
	"$crt" "$key" "$what" "$cn" "$days"
openssl x509 -in "$crt" -noout -fingerprint -sha256
printf 'Install %s as a trusted root CA on every client whose TLS the appliance decrypts;\n' "$crt"
printf 'keep %s on the appliance only, never copy it elsewhere.\n' "$key"
