#!/usr/bin/env bash
# TLS interception benchmark, end to end on the namespace topology
# (scripts/topo.sh): handshakes per second from the client namespace to an
# `openssl s_server` in the server namespace, each connection a TLS
# handshake and a small GET (`openssl s_time -www`), measured in one run
# three ways:
#
#   direct      plainsight-dp as a plain L2 bridge (no intercepted port),
#               then the same veths on a Linux bridge (sslsplit's baseline)
#   plainsight  plainsight-dp intercepting port 443 (tls section as in
#               tests/e2e/test_tls.sh: appliance CA, trust bundle)
#   sslsplit    Debian's sslsplit in the dp namespace, transparent: the
#               veths on a Linux bridge, nftables moves port-443 frames from
#               the bridge to the local stack and REDIRECTs them to sslsplit
#               (netfilter NAT engine), which connects to the original
#               destination and verifies it (VerifyPeer, the test root)
#
# The direct baseline runs in the same configuration as the interceptor it
# is compared with: a second s_server on port 4443, which is not
# intercepted (plainsight-dp bridges it, the nftables rule leaves it on the
# bridge), and the two ports are measured in alternating turns, so that
# the machine's other load weighs on both alike. New connections (full
# handshake on the client's leg) and resumed ones (s_time -reuse), TLS 1.2
# for all (sslsplit 0.5.5 has no TLS 1.3) and TLS 1.3 for plainsight. CPU time of the interceptor from
# /proc/PID/stat (utime + stime; sslsplit with its children): plainsight's
# worker polls, so its raw figure counts idle polling; the "busy" figure
# is the worker's own count of the time it spent in polls that returned
# frames (busy_us in its stats). p50
# connection setup (TCP connect to handshake done, Python client,
# alternating between the two ports), and p50 time of a 64-byte request
# and its answer on an established TLS 1.3 connection (a line echo server
# on an intercepted and a bridged port, alternating). Not a test: shared machines, ratios
# only.
#
#   scripts/bench/tls.sh [SECONDS]     (default 2 per s_time run; 24 runs, about 70 s)
#   PS_BUILD=DIR scripts/bench/tls.sh  (a build directory of your own, used as is)
#   PS_TLS_ROUNDS=N                    (turns per path and kind, default 2)
#   PS_TLS_LAT_N=N                     (connections per latency sample, default 100)
#
# s_time runs one connection at a time, so its rate is 1 / (setup + GET):
# a latency figure. The capacity of a core is what the CPU lines say (and
# tests/bench/bench_tls in memory).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
PS_PACKAGES+=(sslsplit)
ps_install_deps
if [ -n "${PS_BUILD:-}" ]; then
	[ -x "$PS_BUILD/dataplane/dpdk/plainsight-dp" ] ||
		ps_die "$PS_BUILD: no plainsight-dp (meson setup and ninja it first)"
else
	PS_BUILD=$PS_ROOT/build
	ps_build "$PS_BUILD"
fi
export PS_BUILD
CTL=$PS_BUILD/control/plainsight-ctl
SECS=${1:-2}
ROUNDS=${PS_TLS_ROUNDS:-2}
DPORT=4443	# the same server, never intercepted: the direct baseline
NLAT=${PS_TLS_LAT_N:-100}	# connections per latency measurement
P=tls$(($$ % 100000))
TMP=$(mktemp -d /tmp/ps-tlsbench.XXXXXX)
PKI=$TMP/pki
SPLIT_PID=
SPLIT_KIDS=
PIDS=()
BR_MAC=02:00:00:00:00:fe BR4=198.18.0.254

cleanup() {
	local p
	ps_dp_stop "$TMP/dp.log"
	for p in $SPLIT_PID "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# sslsplit's privilege-separation child, by the PID noted at start.
	for p in $SPLIT_KIDS; do
		kill "$p" 2>/dev/null || true
	done
	"$PS_ROOT/scripts/topo.sh" down "$P"
	rm -rf "$TMP"
}
trap cleanup EXIT
"$PS_ROOT/scripts/topo.sh" up "$P"
eval "$("$PS_ROOT/scripts/topo.sh" env "$P")"
in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_dp() { ip netns exec "$NS_DP" "$@"; }
# New connections back to back: reuse TIME_WAIT ports.
in_cli sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"

"$PS_ROOT/tests/e2e/pki.sh" "$PKI" >/dev/null 2>&1 || ps_die "test PKI"
# sslsplit forges with the same CA; its leaf key is ECDSA P-256 like
# plainsight's for ECDSA-capable clients (its default is RSA-2048).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/leaf-ec.key" 2>/dev/null
cat "$PKI/root.crt" "$PKI/ca/ca.crt" >"$TMP/bundle.pem"
mkdir -p "$TMP/www"
echo "hello through plainsight" >"$TMP/www/index.html"

for port in 443 $DPORT; do
	(cd "$TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -WWW \
		-accept "$SRV4:$port" -cert "$PKI/www.crt" -key "$PKI/www.key") \
		>"$TMP/srv-$port.log" 2>&1 &
	PIDS+=($!)
done
# Requests on an established connection: a line echo (reversed) on
# RTT_PORT (intercepted) and RTT_DPORT (never).
RTT_PORT=5443 RTT_DPORT=6443
for port in $RTT_PORT $RTT_DPORT; do
	ip netns exec "$NS_SRV" openssl s_server -quiet -rev -accept "$SRV4:$port" \
		-cert "$PKI/www.crt" -key "$PKI/www.key" >"$TMP/srv-$port.log" 2>&1 &
	PIDS+=($!)
done

# ---- measurements ----

# stime PORT new|reuse 1_2|1_3: "CONNECTIONS WALL_MS RESUMED"
stime() {
	local w0 w1 out
	w0=$(date +%s%N)
	out=$(in_cli openssl s_time -connect "$SRV4:$1" -www /index.html -"$2" -tls"$3" \
		-time "$SECS" -CAfile "$TMP/bundle.pem" 2>&1) || true
	w1=$(date +%s%N)
	python3 - "$out" "$(((w1 - w0) / 1000000))" <<'EOPY'
import re, sys
out, wall_ms = sys.argv[1], sys.argv[2]
m = re.search(r"(\d+) connections in [\d.]+ real seconds", out) or \
    re.search(r"(\d+) connections in [\d.]+s;", out)
n = int(m.group(1)) if m else 0
# s_time prints one character per connection: 'r' when it was resumed.
marks = "".join(l for l in out.splitlines() if re.fullmatch(r"[*rtT123]+", l.strip() or "x"))
print(n, wall_ms, marks.count("r"))
EOPY
}

# lat 1.2|1.3: "P50_DIRECT_MS P50_INTERCEPTED_MS", NLAT new connections to
# each port, alternating; setup = TCP connect + handshake
lat() {
	in_cli python3 - "$SRV4" "$TMP/bundle.pem" "$1" "$NLAT" "$DPORT" <<'EOPY'
import socket, ssl, sys, time
host, ca, ver, n, dport = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
v = ssl.TLSVersion.TLSv1_2 if ver == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
ts = {dport: [], 443: []}
for i in range(2 * n):
    port = dport if i % 2 == 0 else 443
    t0 = time.perf_counter()
    s = socket.create_connection((host, port), timeout=10)
    c = ctx.wrap_socket(s, server_hostname="www.ps.test")
    ts[port].append(time.perf_counter() - t0)
    c.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    try:
        while c.recv(65536):
            pass
    except (ssl.SSLError, OSError):
        pass
    c.close()
p50 = lambda l: 1000 * sorted(l)[len(l) // 2]
print("%.2f %.2f" % (p50(ts[dport]), p50(ts[443])))
EOPY
}

ticks_of() {	# PID and its children: utime + stime, clock ticks
	local p t=0
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$t"
}

dp_stats() {	# "BUSY_US - CLI_FULL CLI_RESUMED UP_FULL UP_RESUMED FAILED"
	"$CTL" --socket "$TMP/dp.sock" --json stats | python3 -c '
import json, sys
r = json.load(sys.stdin)
w, t = r["workers"], r["tls"]
print(sum(x["busy_us"] for x in w), "-",
      t["client_handshakes_full"], t["client_handshakes_resumed"],
      t["upstream_handshakes_full"], t["upstream_handshakes_resumed"],
      t["client_handshakes_failed"] + t["upstream_handshakes_failed"])'
}

declare -A R	# results, summed over turns: R[phase.path.version.mode.what]
add() { R[$1]=$((${R[$1]:-0} + $2)); }

# one PHASE PATH V MODE: one s_time run (PATH direct: port DPORT, icpt:
# 443), summed into R; the interceptor's CPU around the icpt runs.
one() {
	local ph=$1 path=$2 v=$3 mode=$4 k="$1.$2.$3.$4" n w r t0 t1 i
	local -a s0 s1
	if [ "$path" = direct ]; then
		read -r n w r <<<"$(stime "$DPORT" "$mode" "$v")"
	elif [ "$ph" = ps ]; then
		read -r -a s0 <<<"$(dp_stats)"
		t0=$(ticks_of "$PS_DP_PID")
		read -r n w r <<<"$(stime 443 "$mode" "$v")"
		t1=$(ticks_of "$PS_DP_PID")
		read -r -a s1 <<<"$(dp_stats)"
		add "$k.ticks" $((t1 - t0))
		add "$k.busy_us" $((s1[0] - s0[0]))
		for i in 2 3 4 5 6; do add "$k.c$i" $((s1[i] - s0[i])); done
	else
		t0=$(ticks_of "$SPLIT_PID")
		read -r n w r <<<"$(stime 443 "$mode" "$v")"
		t1=$(ticks_of "$SPLIT_PID")
		add "$k.ticks" $((t1 - t0))
	fi
	add "$k.n" "$n"
	add "$k.ms" "$w"
	add "$k.r" "$r"
}

# rtt: "P50_DIRECT_US P50_INTERCEPTED_US": one TLS 1.3 connection to each
# echo port, NLAT x 10 requests of 64 bytes on each, alternating, each
# timed from send to the whole answer.
rtt() {
	in_cli python3 - "$SRV4" "$TMP/bundle.pem" "$((NLAT * 10))" "$RTT_DPORT" "$RTT_PORT" <<'EOPY'
import socket, ssl, sys, time
host, ca, n, ports = sys.argv[1], sys.argv[2], int(sys.argv[3]), (int(sys.argv[4]), int(sys.argv[5]))
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
conns, ts = {}, {p: [] for p in ports}
for p in ports:
    s = socket.create_connection((host, p), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conns[p] = ctx.wrap_socket(s, server_hostname="www.ps.test")
msg = b"x" * 63 + b"\n"
for i in range(2 * n):
    p = ports[i % 2]
    c = conns[p]
    t0 = time.perf_counter()
    c.sendall(msg)
    got = b""
    while not got.endswith(b"\n"):
        got += c.recv(4096)
    ts[p].append(time.perf_counter() - t0)
for c in conns.values():
    c.close()
p50 = lambda l: 1e6 * sorted(l)[len(l) // 2]
print("%.0f %.0f" % (p50(ts[ports[0]]), p50(ts[ports[1]])))
EOPY
}

# turns PHASE V MODE: ROUNDS turns of each path, the order alternating
turns() {
	local i
	for i in $(seq "$ROUNDS"); do
		if ((i % 2)); then
			one "$1" direct "$2" "$3"
			one "$1" icpt "$2" "$3"
		else
			one "$1" icpt "$2" "$3"
			one "$1" direct "$2" "$3"
		fi
	done
}

issuer_check() {	# PORT WANT: the leaf the client gets on PORT is issued by WANT
	in_cli openssl s_client -connect "$SRV4:$1" -servername www.ps.test \
		-CAfile "$TMP/bundle.pem" </dev/null >"$TMP/check-$1.txt" 2>&1 || true
	grep -q "i:.*CN = $2" "$TMP/check-$1.txt" || {
		cat "$TMP/check-$1.txt" "$TMP/sslsplit.log" >&2 2>/dev/null
		ps_die "port $1: the client's leaf is not issued by $2"; }
}

# (i) and (ii): plainsight-dp intercepting 443, bridging DPORT
cat >"$TMP/dp.json" <<EOJ
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$P"},
	"mempool": {"mbufs": 8191, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "s", "side": "a",
		 "device": "net_af_packet0,iface=net-a,framesz=16384,blocksz=16384"},
		{"name": "net-b", "role": "net", "segment": "s", "side": "b",
		 "device": "net_af_packet1,iface=net-b,framesz=16384,blocksz=16384"}
	],
	"limits": {"max_flows": 65536},
	"intercept": {"tcp_ports": [443, 5443]},
	"tls": {"ca_cert": "$PKI/ca/ca.crt", "ca_key": "$PKI/ca/ca.key",
		"trust_system": false, "trust_bundle": "$PKI/root.crt"},
	"control": {"socket": "$TMP/dp.sock"}
}
EOJ
ps_dp_start "$NS_DP" "$TMP/dp.json" "$TMP/dp.sock" "$TMP/dp.log"
issuer_check 443 "plainsight test CA"
issuer_check "$DPORT" "Test Web Root"
for v in 1_3 1_2; do
	for mode in new reuse; do
		turns ps "$v" "$mode"
	done
	R[ps.lat.$v]=$(lat "${v/_/.}")
done
R[ps.rtt]=$(rtt)
ps_dp_stop "$TMP/dp.log"

# (iii): the same veths on a Linux bridge; port 443 from the client leaves
# the bridge for the local stack and is redirected to sslsplit, DPORT stays
# on the bridge; sslsplit's own connections to the server leave from $BR4.
in_dp sh -e -c "
	ip link add br0 address $BR_MAC type bridge
	echo 1 > /proc/sys/net/ipv6/conf/br0/disable_ipv6
	ip link set net-a master br0
	ip link set net-b master br0
	ip link set br0 up
	ip addr add $BR4/24 dev br0"
in_dp nft -f - <<EONFT
table bridge ps_tls_bench {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		iifname "net-a" ip daddr $SRV4 tcp dport 443 meta pkttype set host ether daddr set $BR_MAC accept
	}
}
table ip ps_tls_bench {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "br0" ip daddr $SRV4 tcp dport 443 redirect to :8443
	}
}
EONFT
echo "VerifyPeer yes" >"$TMP/sslsplit.conf"
ip netns exec "$NS_DP" env SSL_CERT_FILE="$PKI/root.crt" sslsplit -f "$TMP/sslsplit.conf" -u root \
	-c "$PKI/ca/ca.crt" -k "$PKI/ca/ca.key" -K "$PKI/leaf-ec.key" \
	ssl 0.0.0.0 8443 >"$TMP/sslsplit.log" 2>&1 &
SPLIT_PID=$!
for i in $(seq 50); do
	in_dp ss -Hltn 'sport = :8443' | grep -q 8443 && break
	sleep 0.1
done
SPLIT_KIDS=$(ps -o pid= --ppid "$SPLIT_PID" || true)
issuer_check 443 "plainsight test CA"
issuer_check "$DPORT" "Test Web Root"
for mode in new reuse; do
	turns br 1_2 "$mode"
done
R[br.lat.1_2]=$(lat 1.2)

# ---- report ----
for k in "${!R[@]}"; do printf '%s=%s\n' "$k" "${R[$k]}"; done >"$TMP/results.txt"
python3 - "$TMP/results.txt" "$SECS" "$ROUNDS" "$NLAT" <<'EOPY'
import sys
R = {}
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split("=", 1)
    R[k] = v.split()
secs, rounds, nlat = sys.argv[2], sys.argv[3], sys.argv[4]
num = lambda k: float(R[k][0]) if k in R else 0.0

def rate(ph, path, v, m):
    k = "%s.%s.%s.%s" % (ph, path, v, m)
    return num(k + ".n") / (num(k + ".ms") / 1000.0)

print("TLS handshakes end to end (veth + af_packet, 1 worker): s_time %s s x %s turns per "
      "path and row, one connection at a time, a small GET each" % (secs, rounds))
print("%-32s %10s %10s %6s   %10s %10s %6s" % ("", "direct dp", "plainsight", "ratio",
                                              "direct br", "sslsplit", "ratio"))
for v, vn in (("1_3", "TLS 1.3"), ("1_2", "TLS 1.2")):
    for m, mn in (("new", "new connections/s"), ("reuse", "resumed/s")):
        d, p = rate("ps", "direct", v, m), rate("ps", "icpt", v, m)
        line = "%-32s %10.0f %10.0f %5.0f%%" % (vn + " " + mn, d, p, 100 * p / d)
        if v == "1_2":
            b, s = rate("br", "direct", v, m), rate("br", "icpt", v, m)
            line += "   %10.0f %10.0f %5.0f%%" % (b, s, 100 * s / b)
        print(line)
for v, vn in (("1_3", "TLS 1.3"), ("1_2", "TLS 1.2")):
    d, p = (float(x) for x in R["ps.lat." + v])
    line = "%-32s %10.2f %10.2f %+6.2f" % ("p50 setup ms, " + vn + ", added", d, p, p - d)
    if v == "1_2":
        b, s = (float(x) for x in R["br.lat.1_2"])
        line += "   %10.2f %10.2f %+6.2f" % (b, s, s - b)
    print(line)
d, p = (float(x) for x in R["ps.rtt"])
print("%-32s %10.0f %10.0f %+6.0f" % ("p50 request us, TLS 1.3, added", d, p, p - d))

print()
print("CPU of the interceptor during its TLS 1.2 turns (ticks of 10 ms; plainsight busy: "
      "the worker's busy_us)")
print("%-32s %10s %8s %8s %10s %8s" % ("", "handshakes", "wall s", "CPU-s", "hs/CPU-s",
                                       "vs split"))
for m, mn in (("new", "new"), ("reuse", "resumed")):
    k, ks = "ps.icpt.1_2." + m, "br.icpt.1_2." + m
    n, wall, raw = num(k + ".n"), num(k + ".ms") / 1000.0, num(k + ".ticks") / 100.0
    busy = max(num(k + ".busy_us") / 1e6, 0.01)
    ns, swall, st = num(ks + ".n"), num(ks + ".ms") / 1000.0, max(num(ks + ".ticks") / 100.0, 0.01)
    split = ns / st
    print("%-32s %10d %8.2f %8.2f %10.0f" % ("sslsplit " + mn, ns, swall, st, split))
    print("%-32s %10d %8.2f %8.2f %10.0f %7.2fx" % ("plainsight " + mn + ", raw", n, wall,
                                                  raw, n / raw, (n / raw) / split))
    print("%-32s %10d %8s %8.2f %10.0f %7.2fx" % ("plainsight " + mn + ", busy", n, "",
                                                busy, n / busy, (n / busy) / split))
print()
print("plainsight's counters over its turns: client full/resumed, upstream full/resumed, failed;")
print("s_time's connections marked resumed:")
for v in ("1_3", "1_2"):
    for m in ("new", "reuse"):
        k = "ps.icpt.%s.%s" % (v, m)
        c = "/".join("%d" % num("%s.c%d" % (k, i)) for i in range(2, 7))
        print("  plainsight TLS %s %-5s %6d connections, %6d resumed; counters %s" %
              (v.replace("_", "."), m, num(k + ".n"), num(k + ".r"), c))
for k, name in (("ps.direct.1_3.reuse", "direct dp TLS 1.3"), ("ps.direct.1_2.reuse", "direct dp TLS 1.2"),
                ("br.direct.1_2.reuse", "direct br TLS 1.2"), ("br.icpt.1_2.reuse", "sslsplit TLS 1.2")):
    print("  %-22s reuse %6d connections, %6d resumed" % (name, num(k + ".n"), num(k + ".r")))
EOPY
