#!/usr/bin/env bash
# End to end: StartTLS, HTTP CONNECT and TLS on any port (issue 7), with
# real servers and clients from Debian.
#
# Servers, in the server namespace, each on a temporary configuration in
# $T_TMP and stopped by PID:
#   exim4 (exim4-daemon-light)  SMTP with STARTTLS on 25; on 587 the same
#                               daemon does not offer it (503 to STARTTLS)
#   dovecot                     IMAP STARTTLS on 143, POP3 STLS on 110
#                               (passwd-file user, plaintext login refused)
#   vsftpd                      FTP AUTH TLS on 21, passive data 30000-30009
#                               (intercepted: TLS on any port); a second
#                               one on 2121 asks for a client certificate
#   tinyproxy                   HTTP proxy on 3128 (CONNECT) in front of
#   openssl s_server -WWW       HTTPS on 8443, and plain TLS on 9993
# Clients, in the client namespace: curl (smtp://, imap://, pop3://, ftp://
# with --ssl-reqd, -x through the proxy), openssl s_client (-starttls,
# -proxy) and python3 (smtplib, imaplib), trusting only the appliance CA.
#
# Checked for each protocol: the transfer works with its content intact;
# the certificate the client saw is issued by the appliance CA; the session
# record names the detected protocol (and the CONNECT host); the
# out-of-band tool port (tcpdump, then tshark's follow) has the plaintext
# preamble and the decrypted conversation after it, in one TCP
# conversation. A server that refuses STARTTLS keeps working in plaintext;
# a StartTLS server asking for a client certificate is relayed untouched;
# a 21st StartTLS port is refused by configuration validation. The proxy
# resolves the CONNECT host through /etc/netns/NS/hosts (made for this
# run's namespaces only, removed on exit).
#
# PS_STARTTLS_DIRECT=1: no data plane. A kernel bridge joins the client and
# server sides, clients trust the web root and see the servers' real
# certificates: proves the servers and clients themselves work.
#
# Names of the implementation's interface (record kinds and fields,
# configuration keys, counters) are the variables below, in one place; they
# follow docs/interception.md ("StartTLS and HTTP CONNECT") and
# docs/config.md (intercept.starttls_ports).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# --- interface of the implementation (align here) ----------------------
KIND_TLS=tls			# session record "kind" of each detected protocol
KIND_SMTP=smtp-starttls
KIND_IMAP=imap-starttls
KIND_POP3=pop3-stls
KIND_FTP=ftp-auth-tls
KIND_CONNECT=http-connect
REC_CONNECT_HOST=connect_host	# session record field: the CONNECT host
STATE_DECRYPTED=decrypted	# session record "state" values
STATE_PASSTHROUGH=passthrough
# The StartTLS ports, in the data plane configuration: "intercept":
# {"starttls_ports": [...]}, at most 20 (default 25, 587, 143, 110, 21).
STARTTLS_SECTION=intercept
STARTTLS_KEY=starttls_ports
STARTTLS_MAX=20
# Counters (stats JSON "tls"): each upgrade seen, and a refused one.
CNT_SMTP=starttls_smtp CNT_IMAP=starttls_imap CNT_POP3=stls_pop3 CNT_FTP=auth_tls_ftp
CNT_CONNECT=http_connect CNT_REFUSED=upgrade_refused_by_server
# -----------------------------------------------------------------------

DIRECT=${PS_STARTTLS_DIRECT:-}
SMTP=25 SUBMIT=587 IMAP=143 POP3=110 FTP=21 PROXY=3128 HTTPS=8443 ODD=9993
FTP_CCERT=2121	# a second vsftpd that asks for a client certificate
PASV_MIN=30000 PASV_MAX=30009	# FTP data: intercepted (TLS on any port)
PASV2_MIN=30010 PASV2_MAX=30019	# FTP data of the second vsftpd: bridged
USER_NAME=alice USER_PASS=s3cret-pw
HOST=www.ps.test

T_TOPO=s$(($$ % 1000000))	# unique: runs may overlap
"$PS_ROOT/scripts/topo.sh" up "$T_TOPO" || { t_fail "topology up"; exit 1; }
eval "$("$PS_ROOT/scripts/topo.sh" env "$T_TOPO")"
SOCK=$T_TMP/dp.sock
PKI=$T_TMP/pki
TOOL_PCAP=$T_TMP/tool.pcap

# Name resolution inside our namespaces only: `ip netns exec` bind-mounts
# /etc/netns/NS/hosts over /etc/hosts (the proxy resolves the CONNECT host).
st_cleanup() {
	t_cleanup
	rm -rf "/etc/netns/$NS_SRV" "/etc/netns/$NS_CLI"
	rmdir /etc/netns 2>/dev/null
	true
}
trap st_cleanup EXIT
for ns in "$NS_SRV" "$NS_CLI"; do
	mkdir -p "/etc/netns/$ns"
	printf '127.0.0.1 localhost\n%s %s\n' "$SRV4" "$HOST" >"/etc/netns/$ns/hosts"
done

in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_srv() { ip netns exec "$NS_SRV" "$@"; }
listening() { in_srv ss -Hltn "sport = :$1" | grep -q .; }

if ! "$PS_ROOT/tests/e2e/pki.sh" "$PKI" >"$T_TMP/pki.log" 2>&1; then
	t_fail "test PKI made"; sed 's/^/#   /' "$T_TMP/pki.log"; exit 1
fi
# The servers' unprivileged users reach their own files under $T_TMP.
chmod 711 "$T_TMP"

if [ -n "$DIRECT" ]; then
	echo "# direct mode: no data plane, a kernel bridge in $NS_DP"
	if ! { ip netns exec "$NS_DP" ip link add br0 type bridge &&
		ip netns exec "$NS_DP" ip link set net-a master br0 &&
		ip netns exec "$NS_DP" ip link set net-b master br0 &&
		ip netns exec "$NS_DP" ip link set br0 up; }; then
		t_fail "bridge up"; exit 1
	fi
	CLI_CA=$PKI/root.crt
	ISSUER="Test Web Root"
else
	CLI_CA=$PKI/ca/ca.crt
	ISSUER="plainsight test CA"
	dp_config "$T_TMP/dp.json" 2 '{"name": "tool0", "role": "tool-oob", "device": "net_af_packet2,iface=tool0,qpairs=2"}' - <<EOF
	"limits": {"max_flows": 4096},
	"intercept": {"tcp_ports": [$SMTP, $SUBMIT, $IMAP, $POP3, $FTP, $FTP_CCERT, $PROXY, $HTTPS, $ODD,
				    $(seq -s ', ' $PASV_MIN $PASV_MAX)],
		      "$STARTTLS_KEY": [$SMTP, $SUBMIT, $IMAP, $POP3, $FTP, $FTP_CCERT]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"},
	"sessions": {"log_file": "$T_TMP/sessions.jsonl", "keep": 1000}
EOF
	# At most $STARTTLS_MAX StartTLS ports: one more is refused at validation.
	refused() {	# RC OUTPUT KEY: a failure that names KEY, not as an unknown key
		[ "$1" -ne 0 ] && printf '%s\n' "$2" | grep -qF "$3" &&
			! printf '%s\n' "$2" | grep -q 'unknown key'
	}
	with_starttls() {	# N OUT: dp.json with N StartTLS ports
		python3 - "$T_TMP/dp.json" "$1" "$STARTTLS_SECTION" "$STARTTLS_KEY" >"$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r.setdefault(sys.argv[3], {})[sys.argv[4]] = [25, 587, 143, 110, 21] + \
	list(range(10025, 10025 + int(sys.argv[2]) - 5))
json.dump(r, sys.stdout, indent=1)
PY
	}
	with_starttls "$STARTTLS_MAX" "$T_TMP/st-max.json"
	with_starttls $((STARTTLS_MAX + 1)) "$T_TMP/st-over.json"
	out=$("$PS_DP" --config "$T_TMP/st-max.json" --check 2>&1)
	rc=$?
	check "$STARTTLS_MAX StartTLS ports ($STARTTLS_SECTION.$STARTTLS_KEY) pass --check (exit $rc: $out)" \
		test "$rc" -eq 0
	out=$("$PS_DP" --config "$T_TMP/st-over.json" --check 2>&1)
	rc=$?
	check "a 21st StartTLS port is refused by validation, naming the key (exit $rc: $out)" \
		refused "$rc" "$out" "$STARTTLS_SECTION.$STARTTLS_KEY"

	bg "$NS_TOOL" "$T_TMP/tool.log" tcpdump -n -i eth0 -Q in -U -w "$TOOL_PCAP"
	TOOL_PID=$T_LAST_PID
	dp_up "$T_TMP/dp.json" "plainsight-dp starts with TLS interception on the StartTLS ports"
fi

# --- servers -------------------------------------------------------------

# SMTP: exim4 as root with -C (it keeps root to bind 25, receives and
# delivers as Debian-exim) into one mbox file. STARTTLS is offered on 25
# only: on 587 the same daemon answers 503 to STARTTLS.
EX=$T_TMP/exim
mkdir -p "$EX/spool" "$EX/log" "$EX/mail"
install -m 0644 "$PKI/www.crt" "$EX/tls.crt"
install -m 0600 -o Debian-exim "$PKI/www.key" "$EX/tls.key"
chown -R Debian-exim:Debian-exim "$EX/spool" "$EX/log" "$EX/mail"
cat >"$EX/exim.conf" <<EOF
keep_environment =
primary_hostname = mail.ps.test
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = $EX/spool
log_file_path = $EX/log/%slog
pid_file_path = $EX/exim.pid
daemon_smtp_ports = $SMTP : $SUBMIT
local_interfaces = $SRV4
tls_advertise_hosts = \${if eq{\$received_port}{$SUBMIT}{}{*}}
tls_certificate = $EX/tls.crt
tls_privatekey = $EX/tls.key
host_lookup =
rfc1413_hosts =
domainlist local_domains = ps.test
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted
begin routers
local:
  driver = accept
  domains = +local_domains
  transport = to_file
begin transports
to_file:
  driver = appendfile
  file = $EX/mail/inbox
  user = Debian-exim
  mode = 0640
begin retry
* * F,1m,1m
EOF
bg "$NS_SRV" "$EX/daemon.log" exim4 -C "$EX/exim.conf" -bdf
EXIM_PID=$T_LAST_PID

# IMAP and POP3: dovecot, one passwd-file user, mail as nobody; logins
# without TLS refused, so a client gets in only after STARTTLS/STLS.
DV=$T_TMP/dovecot
MAILDIR=$DV/home/$USER_NAME/Maildir
mkdir -p "$DV/run" "$DV/state" "$MAILDIR/cur" "$MAILDIR/new" "$MAILDIR/tmp"
install -m 0644 "$PKI/www.crt" "$DV/tls.crt"
install -m 0600 "$PKI/www.key" "$DV/tls.key"
echo "$USER_NAME:{PLAIN}$USER_PASS::::::" >"$DV/passwd"
chmod 0644 "$DV/passwd"
python3 - >"$T_TMP/seeded.eml" <<'PY'
import base64, os
print("From: bob@ps.test\nTo: alice@ps.test\nSubject: seeded\n\nBODY-BEGIN")
print(base64.encodebytes(os.urandom(30000)).decode(), end="")
print("BODY-END")
PY
cp "$T_TMP/seeded.eml" "$MAILDIR/cur/1000000000.M1P1.mail.ps.test:2,"
chown -R nobody:nogroup "$DV/home"
cat >"$DV/dovecot.conf" <<EOF
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
protocols = imap pop3
listen = $SRV4
ssl = yes
ssl_cert = <$DV/tls.crt
ssl_key = <$DV/tls.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DV/home/%u
}
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
pop3_uidl_format = %08Xu%08Xv
service imap-login {
  inet_listener imap {
    port = $IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
bg "$NS_SRV" "$DV/daemon.log" dovecot -F -c "$DV/dovecot.conf"
DOVECOT_PID=$T_LAST_PID

# FTP: vsftpd, anonymous, AUTH TLS. require_ssl_reuse=NO: through the
# appliance the data connection's TLS is its own session upstream (a
# TLS-on-any-port flow), not a resumption of the control connection's.
# ssl_request_cert=NO on 21: vsftpd's default (YES) asks every client for
# a certificate, which the appliance cannot give (such a server is
# answered without one after the upgrade, see docs/interception.md); the
# second instance on 2121 keeps that default.
FT=$T_TMP/ftp
mkdir -p "$FT/root" "$FT/empty"
install -m 0644 "$PKI/www.crt" "$FT/tls.crt"
install -m 0600 "$PKI/www.key" "$FT/tls.key"
head -c $((1024 * 1024)) /dev/urandom >"$FT/root/file.bin"
chmod 0755 "$FT" "$FT/root" "$FT/empty"
chmod 0644 "$FT/root/file.bin"
vsftpd_conf() {	# PORT PASV_MIN PASV_MAX REQUEST_CERT
	cat <<EOF
listen=YES
listen_ipv6=NO
listen_address=$SRV4
listen_port=$1
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root=$FT/root
no_anon_password=YES
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
rsa_cert_file=$FT/tls.crt
rsa_private_key_file=$FT/tls.key
require_ssl_reuse=NO
ssl_request_cert=$4
ssl_ciphers=HIGH
pasv_enable=YES
pasv_min_port=$2
pasv_max_port=$3
pasv_address=$SRV4
secure_chroot_dir=$FT/empty
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file=$FT/vsftpd-$1.log
seccomp_sandbox=NO
EOF
}
vsftpd_conf $FTP $PASV_MIN $PASV_MAX NO >"$FT/vsftpd.conf"
vsftpd_conf $FTP_CCERT $PASV2_MIN $PASV2_MAX YES >"$FT/vsftpd-ccert.conf"
bg "$NS_SRV" "$FT/daemon.log" vsftpd "$FT/vsftpd.conf"
VSFTPD_PID=$T_LAST_PID
bg "$NS_SRV" "$FT/daemon-ccert.log" vsftpd "$FT/vsftpd-ccert.conf"
VSFTPD2_PID=$T_LAST_PID

# HTTP proxy: tinyproxy (drops to its own user), CONNECT to 8443 only.
PX=$T_TMP/proxy
mkdir -p "$PX"
chown tinyproxy "$PX"
cat >"$PX/tinyproxy.conf" <<EOF
User tinyproxy
Group tinyproxy
Port $PROXY
Listen $SRV4
Timeout 30
LogFile "$PX/tinyproxy.log"
LogLevel Info
MaxClients 20
Allow 198.18.0.0/24
ConnectPort $HTTPS
DisableViaHeader Yes
EOF
bg "$NS_SRV" "$PX/daemon.log" tinyproxy -d -c "$PX/tinyproxy.conf"
PROXY_PID=$T_LAST_PID

# HTTPS behind the proxy, and plain TLS on an odd port.
mkdir -p "$T_TMP/www"
echo "through the proxy to $HOST" >"$T_TMP/www/index.html"
head -c $((512 * 1024)) /dev/urandom >"$T_TMP/www/odd.bin"
s_server() {	# port: openssl s_server -WWW in $T_TMP/www
	(cd "$T_TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
		-accept "$SRV4:$1" -cert "$PKI/www.crt" -key "$PKI/www.key") \
		>"$T_TMP/s_server-$1.log" 2>&1 &
	T_PIDS+=($!)
	S_SERVER_PIDS+=($!)
}
S_SERVER_PIDS=()
s_server "$HTTPS"
s_server "$ODD"

for p in $SMTP $SUBMIT $IMAP $POP3 $FTP $FTP_CCERT $PROXY $HTTPS $ODD; do
	if ! wait_for 15 listening "$p"; then
		t_fail "a server listens on port $p"
		for f in "$EX/daemon.log" "$EX/log/paniclog" "$DV/daemon.log" "$DV/dovecot.log" \
			"$FT"/daemon*.log "$PX/daemon.log" "$PX/tinyproxy.log" "$T_TMP"/s_server-*.log; do
			[ -s "$f" ] && { echo "# $f:"; sed 's/^/#   /' "$f" | tail -5; }
		done
		exit 1
	fi
done
t_ok "servers listen: exim4 ($SMTP, $SUBMIT), dovecot ($IMAP, $POP3), vsftpd ($FTP, $FTP_CCERT), tinyproxy ($PROXY), s_server ($HTTPS, $ODD)"

# --- clients -------------------------------------------------------------

curl_cli() { in_cli curl -sS --max-time 30 --cacert "$CLI_CA" "$@"; }
res() { echo "$HOST:$1:$SRV4"; }

# saw_issuer FILE: the certificate in an s_client transcript verified
# against the client's CA and was issued by $ISSUER.
saw_issuer() {
	local i
	i=$(sed -n '/BEGIN CERT/,/END CERT/p' "$1" | sed '/END CERT/q' | openssl x509 -noout -issuer 2>&1)
	echo "issuer: $i"
	grep -a "Verify return code" "$1" | head -1
	echo "$i" | grep -q "$ISSUER" && grep -aq "Verify return code: 0 (ok)" "$1"
}
# s_client_starttls PROTO PORT: no SNI (an address), as StartTLS clients often do.
s_client_starttls() {
	in_cli timeout 20 openssl s_client -starttls "$1" -connect "$SRV4:$2" -CAfile "$CLI_CA" \
		-verify_ip "$SRV4" </dev/null >"$T_TMP/sc-$1.txt" 2>&1
}
# same_mail SENT RECEIVED: the body of SENT (CRLF or LF) is in RECEIVED.
same_mail() {
	python3 - "$1" "$2" <<'PY'
import sys
sent = open(sys.argv[1], newline="").read().replace("\r", "")
body = sent.split("\n\n", 1)[1]
got = open(sys.argv[2], newline="").read().replace("\r", "")
sys.exit(0 if body in got else "body not found in " + sys.argv[2])
PY
}
mail_delivered() { wait_for 10 same_mail "$1" "$EX/mail/inbox"; }

# SMTP STARTTLS: curl sends a 48 KB message, delivered intact.
python3 - >"$T_TMP/smtp.eml" <<'PY'
import base64, os, sys
m = "From: alice@ps.test\nTo: bob@ps.test\nSubject: over STARTTLS\n\nBODY-BEGIN\n"
m += base64.encodebytes(os.urandom(36000)).decode() + "BODY-END\n"
sys.stdout.write(m.replace("\n", "\r\n"))
PY
curl_cli --ssl-reqd --resolve "$(res $SMTP)" "smtp://$HOST:$SMTP/client.ps.test" --mail-from alice@ps.test \
	--mail-rcpt bob@ps.test -T "$T_TMP/smtp.eml" 2>"$T_TMP/curl-smtp.err"
check "SMTP STARTTLS (curl --ssl-reqd, exim4): 48 KB message delivered intact" \
	mail_delivered "$T_TMP/smtp.eml"
s_client_starttls smtp $SMTP
check "SMTP STARTTLS (s_client, no SNI): certificate issued by $ISSUER" saw_issuer "$T_TMP/sc-smtp.txt"

# A server that does not offer STARTTLS and refuses it: the conversation
# goes on in plaintext.
cat >"$T_TMP/plain.eml" <<'EOF'
From: alice@ps.test
To: bob@ps.test
Subject: plaintext after a refused STARTTLS

BODY-BEGIN plaintext
the server said no to STARTTLS, and this still arrives
BODY-END plaintext
EOF
in_cli timeout 30 python3 - "$SRV4" "$SUBMIT" "$T_TMP/plain.eml" >"$T_TMP/refused.txt" 2>&1 <<'PY'
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname="client.ps.test", timeout=20)
s.ehlo()
code, text = s.docmd("STARTTLS")
print("STARTTLS ->", code, text.decode())
assert code != 220, "the server accepted STARTTLS"
s.ehlo()
s.sendmail("alice@ps.test", ["bob@ps.test"], open(sys.argv[3]).read())
s.quit()
print("sent in plaintext")
PY
check "SMTP server refusing STARTTLS ($(head -1 "$T_TMP/refused.txt")): mail goes on in plaintext" \
	sh -c "grep -q 'sent in plaintext' '$T_TMP/refused.txt' || { cat '$T_TMP/refused.txt'; false; }"
check "... and is delivered intact" mail_delivered "$T_TMP/plain.eml"
curl_cli --ssl-reqd --resolve "$(res $SUBMIT)" "smtp://$HOST:$SUBMIT/client.ps.test" --mail-from alice@ps.test \
	--mail-rcpt bob@ps.test -T "$T_TMP/plain.eml" 2>"$T_TMP/curl-587.err"
rc=$?
check "curl --ssl-reqd to the server without STARTTLS fails cleanly (exit $rc, 64 expected)" test "$rc" -eq 64

# IMAP STARTTLS: the seeded 40 KB message fetched by curl (AUTHENTICATE
# PLAIN, SELECT, UID FETCH) and by python3's imaplib (LOGIN, SELECT, FETCH;
# $HOST resolves through /etc/netns).
curl_cli --ssl-reqd --resolve "$(res $IMAP)" -o "$T_TMP/imap.out" \
	"imap://$USER_NAME:$USER_PASS@$HOST:$IMAP/INBOX;UID=1" 2>"$T_TMP/curl-imap.err"
check "IMAP STARTTLS (curl --ssl-reqd, dovecot): the 40 KB message fetched intact" \
	cmp <(tr -d '\r' <"$T_TMP/imap.out") "$T_TMP/seeded.eml"
in_cli timeout 30 python3 - "$HOST" "$IMAP" "$CLI_CA" "$USER_NAME" "$USER_PASS" \
	>"$T_TMP/imaplib.out" 2>"$T_TMP/imaplib.err" <<'PY'
import imaplib, ssl, sys
host, port, ca, user, pw = sys.argv[1:]
imap = imaplib.IMAP4(host, int(port), timeout=20)
imap.starttls(ssl.create_default_context(cafile=ca))
imap.login(user, pw)
imap.select("INBOX")
typ, data = imap.fetch("1", "(BODY.PEEK[])")
sys.stdout.write(data[0][1].decode().replace("\r", ""))
imap.logout()
PY
check "IMAP STARTTLS (python3 imaplib: LOGIN, SELECT, FETCH): the message intact" \
	sh -c "cmp '$T_TMP/imaplib.out' '$T_TMP/seeded.eml' || { cat '$T_TMP/imaplib.err'; false; }"
s_client_starttls imap $IMAP
check "IMAP STARTTLS (s_client, no SNI): certificate issued by $ISSUER" saw_issuer "$T_TMP/sc-imap.txt"

# POP3 STLS: RETR of the same message.
curl_cli --ssl-reqd --resolve "$(res $POP3)" -o "$T_TMP/pop3.out" \
	"pop3://$USER_NAME:$USER_PASS@$HOST:$POP3/1" 2>"$T_TMP/curl-pop3.err"
check "POP3 STLS (curl --ssl-reqd, dovecot): the 40 KB message retrieved intact" \
	cmp <(tr -d '\r' <"$T_TMP/pop3.out") "$T_TMP/seeded.eml"
s_client_starttls pop3 $POP3
check "POP3 STLS (s_client, no SNI): certificate issued by $ISSUER" saw_issuer "$T_TMP/sc-pop3.txt"

# FTP AUTH TLS: protected control, clear data (PROT C); then protected
# data too (PROT P), whose TLS on a passive port is TLS on any port.
curl_cli --ftp-ssl-control --resolve "$(res $FTP)" -o "$T_TMP/ftp-c.out" "ftp://$HOST:$FTP/file.bin" 2>"$T_TMP/curl-ftp-c.err"
check "FTP AUTH TLS, clear data (curl --ftp-ssl-control, vsftpd): 1 MB file intact" \
	cmp "$FT/root/file.bin" "$T_TMP/ftp-c.out"
curl_cli --ssl-reqd --resolve "$(res $FTP)" -o "$T_TMP/ftp-p.out" "ftp://$HOST:$FTP/file.bin" 2>"$T_TMP/curl-ftp-p.err"
check "FTP AUTH TLS, protected data (curl --ssl-reqd): 1 MB file intact" \
	cmp "$FT/root/file.bin" "$T_TMP/ftp-p.out"
s_client_starttls ftp $FTP
check "FTP AUTH TLS (s_client, no SNI): certificate issued by $ISSUER" saw_issuer "$T_TMP/sc-ftp.txt"
# A StartTLS server that asks for (but does not require) a client
# certificate: after a preamble the appliance cannot replay the flow on a
# fresh connection, so its upstream leg answers without a certificate;
# vsftpd accepts that and the flow is decrypted. Its data connections
# (TLS from the first byte, also asking for a certificate) are bypassed
# untouched, showing the server's real certificate: the client trusts both.
cat "$CLI_CA" "$PKI/root.crt" >"$T_TMP/both-cas.pem"
in_cli curl -sS --max-time 30 --cacert "$T_TMP/both-cas.pem" --ssl-reqd --resolve "$(res $FTP_CCERT)" \
	-o "$T_TMP/ftp-ccert.out" "ftp://$HOST:$FTP_CCERT/file.bin" 2>"$T_TMP/curl-ftp-ccert.err"
check "FTP AUTH TLS to a server asking for a client certificate: 1 MB file intact" \
	sh -c "cmp '$FT/root/file.bin' '$T_TMP/ftp-ccert.out' || { cat '$T_TMP/curl-ftp-ccert.err'; false; }"

# HTTP CONNECT through tinyproxy to the HTTPS server on 8443.
curl_cli -x "http://$SRV4:$PROXY" -o "$T_TMP/connect.out" "https://$HOST:$HTTPS/index.html" \
	2>"$T_TMP/curl-connect.err"
check "HTTP CONNECT (curl -x, tinyproxy): page intact" cmp "$T_TMP/www/index.html" "$T_TMP/connect.out"
in_cli timeout 20 openssl s_client -proxy "$SRV4:$PROXY" -connect "$HOST:$HTTPS" -noservername \
	-CAfile "$CLI_CA" -verify_hostname "$HOST" </dev/null >"$T_TMP/sc-connect.txt" 2>&1
check "HTTP CONNECT without SNI (s_client -proxy): certificate for $HOST issued by $ISSUER" \
	saw_issuer "$T_TMP/sc-connect.txt"

# Plain TLS on an odd port.
curl_cli --resolve "$(res $ODD)" -o "$T_TMP/odd.out" "https://$HOST:$ODD/odd.bin" 2>"$T_TMP/curl-odd.err"
check "TLS on port $ODD (curl): 512 KB file intact" cmp "$T_TMP/www/odd.bin" "$T_TMP/odd.out"
in_cli timeout 20 openssl s_client -connect "$SRV4:$ODD" -servername "$HOST" -CAfile "$CLI_CA" \
	-verify_hostname "$HOST" </dev/null >"$T_TMP/sc-odd.txt" 2>&1
check "TLS on port $ODD (s_client): certificate issued by $ISSUER" saw_issuer "$T_TMP/sc-odd.txt"

# --- what the appliance saw ------------------------------------------------

stop_servers() {
	local pid
	for pid in "$EXIM_PID" "$DOVECOT_PID" "$VSFTPD_PID" "$VSFTPD2_PID" "$PROXY_PID" \
		"${S_SERVER_PIDS[@]}"; do
		stop_pid "$pid"
	done
}
no_server_left() {	# every process in the server namespace is gone
	local left
	left=$(ip netns pids "$NS_SRV")
	[ -z "$left" ] && return 0
	ps -o pid,user,args -p "$(echo "$left" | paste -sd,)"
	return 1
}

if [ -n "$DIRECT" ]; then
	stop_servers
	check "every server stopped by PID, none left in $NS_SRV" wait_for 10 no_server_left
	exit 0
fi

sleep 1
ctl_json "$SOCK" sessions >"$T_TMP/sessions.json"
"$PS_CTL" --socket "$SOCK" --json sessions --kind "$KIND_IMAP" >"$T_TMP/kind.json"
check "sessions --kind $KIND_IMAP lists IMAP sessions only" \
	json_get "$T_TMP/kind.json" "'ok' if r['sessions'] and all(s['kind'] == '$KIND_IMAP' for s in r['sessions']) else sys.exit(1)"
# rec DESC PYTHON-PREDICATE(s): some session record matches.
rec() {
	check "session record: $1" json_get "$T_TMP/sessions.json" \
		"'ok' if any($2 for s in r['sessions']) else sys.exit(1)"
}
dec() { echo "s['kind'] == '$1' and s['server_port'] == $2 and s['state'] == '$STATE_DECRYPTED'"; }
rec "$KIND_SMTP, decrypted, port $SMTP" "$(dec "$KIND_SMTP" $SMTP)"
rec "$KIND_SMTP without SNI (s_client), decrypted" "$(dec "$KIND_SMTP" $SMTP) and not s.get('sni')"
rec "$KIND_IMAP, decrypted, port $IMAP" "$(dec "$KIND_IMAP" $IMAP)"
rec "$KIND_POP3, decrypted, port $POP3" "$(dec "$KIND_POP3" $POP3)"
rec "$KIND_FTP, decrypted, port $FTP" "$(dec "$KIND_FTP" $FTP)"
rec "$KIND_TLS, decrypted, on an FTP passive data port" \
	"s['kind'] == '$KIND_TLS' and $PASV_MIN <= s['server_port'] <= $PASV_MAX and s['state'] == '$STATE_DECRYPTED'"
rec "$KIND_CONNECT, decrypted, port $PROXY, $REC_CONNECT_HOST $HOST" \
	"$(dec "$KIND_CONNECT" $PROXY) and str(s.get('$REC_CONNECT_HOST', '')) in ('$HOST', '$HOST:$HTTPS')"
check "session records: both CONNECT tunnels (curl, s_client without SNI) decrypted, $REC_CONNECT_HOST $HOST" \
	json_get "$T_TMP/sessions.json" "'ok' if sum(1 for s in r['sessions'] if $(dec "$KIND_CONNECT" $PROXY) and str(s.get('$REC_CONNECT_HOST', '')) in ('$HOST', '$HOST:$HTTPS')) >= 2 else sys.exit(1)"
rec "$KIND_TLS, decrypted, odd port $ODD" "$(dec "$KIND_TLS" $ODD)"
rec "$KIND_FTP to the server asking for a client certificate: $STATE_DECRYPTED (answered without one)" \
	"s['kind'] == '$KIND_FTP' and s['server_port'] == $FTP_CCERT and s['state'] == '$STATE_DECRYPTED'"
check "session records: the server refusing STARTTLS ($SUBMIT) relayed in plaintext, never decrypted" \
	json_get "$T_TMP/sessions.json" "'ok' if [s for s in r['sessions'] if s['server_port'] == $SUBMIT] and all(s['state'] == '$STATE_PASSTHROUGH' for s in r['sessions'] if s['server_port'] == $SUBMIT) else sys.exit(1)"
"$PS_CTL" --socket "$SOCK" --json stats >"$T_TMP/stats.json" 2>&1
check "counters: $CNT_SMTP, $CNT_IMAP, $CNT_POP3, $CNT_FTP, $CNT_CONNECT, $CNT_REFUSED" \
	json_get "$T_TMP/stats.json" "'ok' if all(r['tls'][k] >= n for k, n in (('$CNT_SMTP', 2), ('$CNT_IMAP', 3), ('$CNT_POP3', 2), ('$CNT_FTP', 3), ('$CNT_CONNECT', 2), ('$CNT_REFUSED', 1))) else sys.exit(str({k: v for k, v in r['tls'].items() if k in ('$CNT_SMTP', '$CNT_IMAP', '$CNT_POP3', '$CNT_FTP', '$CNT_CONNECT', '$CNT_REFUSED')}))"
echo "# tls counters: $(json_get "$T_TMP/stats.json" "' '.join(f'{k}={v}' for k, v in r.get('tls', {}).items() if v and not isinstance(v, dict))" 2>/dev/null)"

# The tool port: each conversation, preamble then decrypted content.
sleep 1
stop_pid "$TOOL_PID" INT
# tool_conv PORT PATTERN...: one tool-port conversation to PORT holds every
# PATTERN, in this order. The conversation is tshark's follow,tcp,raw
# decoded and joined (follow,tcp,ascii prints each segment apart, and the
# preamble reaches the tool one line per segment).
tool_conv() {
	local port=$1 s f; shift
	for s in $(timeout 120 tshark -n -r "$TOOL_PCAP" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == $port" \
		-T fields -e tcp.stream 2>/dev/null | sort -un); do
		f=$T_TMP/follow-$port-$s.txt
		timeout 120 tshark -n -r "$TOOL_PCAP" -q -z "follow,tcp,raw,$s" 2>/dev/null | python3 -c '
import binascii, re, sys
out = b""
for line in sys.stdin.read().split("\n"):
    h = line.strip()
    if h and re.fullmatch(r"([0-9a-f]{2})+", h):
        out += binascii.unhexlify(h)
sys.stdout.write(out.decode("latin-1"))' >"$f"
		python3 - "$f" "$@" <<'PY' && return 0
import sys
text = open(sys.argv[1], encoding="latin-1").read()
at = 0
for p in sys.argv[2:]:
    at = text.find(p, at)
    if at < 0:
        sys.exit(1)
    at += len(p)
PY
	done
	echo "no tool conversation to port $port holds, in order: $*"
	for f in "$T_TMP"/follow-"$port"-*.txt; do
		[ -f "$f" ] && head -c 1500 "$f"
		break
	done
	return 1
}
check "tool port, SMTP: EHLO, STARTTLS in plaintext, then MAIL FROM, RCPT TO and the message decrypted" \
	tool_conv $SMTP "EHLO client.ps.test" "STARTTLS" "MAIL FROM:<alice@ps.test>" "RCPT TO:<bob@ps.test>" \
	"BODY-BEGIN" "BODY-END"
check "tool port, IMAP (curl): STARTTLS, then AUTHENTICATE, SELECT and the message decrypted" \
	tool_conv $IMAP "STARTTLS" "AUTHENTICATE PLAIN" "SELECT INBOX" "BODY-BEGIN" "BODY-END"
check "tool port, IMAP (imaplib): STARTTLS, then LOGIN, SELECT and the message decrypted" \
	tool_conv $IMAP "STARTTLS" "LOGIN $USER_NAME" "SELECT INBOX" "BODY-BEGIN" "BODY-END"
check "tool port, POP3: STLS, then RETR and the message decrypted" \
	tool_conv $POP3 "STLS" "RETR 1" "BODY-BEGIN" "BODY-END"
check "tool port, FTP: AUTH (curl says AUTH SSL) and 234, then USER, RETR and 226 decrypted" \
	tool_conv $FTP "AUTH " "234" "USER anonymous" "RETR file.bin" "226 Transfer complete"
check "tool port, HTTP CONNECT: CONNECT and the proxy's 200, then the tunnelled GET and page decrypted" \
	tool_conv $PROXY "CONNECT $HOST:$HTTPS" " 200 " "GET /index.html" "through the proxy to $HOST"
check "tool port, TLS on port $ODD: the request decrypted" tool_conv $ODD "GET /odd.bin"

check "the session log has each protocol's kind" python3 -c "
import json
kinds = {json.loads(l).get('kind') for l in open('$T_TMP/sessions.jsonl')}
want = {'$KIND_TLS', '$KIND_SMTP', '$KIND_IMAP', '$KIND_POP3', '$KIND_FTP', '$KIND_CONNECT'}
assert want <= kinds, sorted(want - kinds)"

stop_pid "$DP_PID" INT
check "plainsight-dp stops cleanly" grep -q 'plainsight-dp: stopped' "$T_TMP/dp.log"
stop_servers
check "every server stopped by PID, none left in $NS_SRV" wait_for 10 no_server_left
exit 0
