#!/usr/bin/env bash
# plainsight demo: builds the appliance and runs it on network namespaces.
# A real client (curl) fetches over HTTPS from a real server (openssl
# s_server) through plainsight-dp, and the demo shows what crossed the data
# plane and what its tool port saw.
#
# Today the appliance terminates the selected TCP connection (port 8443)
# with its own TCP endpoints towards the client and the server and relays
# the bytes between them; TLS interception on top of that is not built yet,
# so the TLS crosses undecrypted and the tool port sees nothing. The demo
# says so rather than pretending.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ps_install_deps
ps_build "$PS_ROOT/build"
CTL=$PS_ROOT/build/control/plainsight-ctl
P=demo
TMP=$(mktemp -d /tmp/ps-demo.XXXXXX)
SOCK=$TMP/dp.sock
PIDS=()

cleanup() {
	local pid
	ps_dp_stop "$TMP/dp.log"
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	"$PS_ROOT/scripts/topo.sh" down $P
	rm -rf "$TMP"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "topology: client ns <-> plainsight-dp (af_packet) <-> server ns, plus a tool ns"
"$PS_ROOT/scripts/topo.sh" up $P
eval "$("$PS_ROOT/scripts/topo.sh" env $P)"

cat >"$TMP/dp.json" <<EOJ
{
	"#": "demo: one segment (net-a client side, net-b server side) and one out-of-band tool port",
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-demo"},
	"mempool": {"mbufs": 4095, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "device": "net_af_packet0,iface=net-a,framesz=16384,blocksz=16384",
		 "role": "net", "segment": "seg0", "side": "a"},
		{"name": "net-b", "device": "net_af_packet1,iface=net-b,framesz=16384,blocksz=16384",
		 "role": "net", "segment": "seg0", "side": "b"},
		{"name": "tool0", "device": "net_af_packet2,iface=tool0", "role": "tool-oob"}
	],
	"intercept": {"tcp_ports": [8443]},
	"control": {"socket": "$SOCK"}
}
EOJ

say "server: openssl s_server on https://$SRV4:8443 (throw-away key made now)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=demo.plainsight.test" -addext "subjectAltName=DNS:demo.plainsight.test" \
	-keyout "$TMP/srv.key" -out "$TMP/srv.crt" 2>/dev/null
chmod 600 "$TMP/srv.key"
mkdir -p "$TMP/www" && echo "hello from the server behind plainsight" >"$TMP/www/index.html"
(cd "$TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -accept 8443 \
	-cert "$TMP/srv.crt" -key "$TMP/srv.key" -WWW) >"$TMP/server.log" 2>&1 &
PIDS+=($!)

say "tool port: tcpdump on the tool namespace"
ip netns exec "$NS_TOOL" tcpdump -n -i eth0 -Q in -U -w "$TMP/tool.pcap" >"$TMP/tool.log" 2>&1 &
TOOL_PID=$!
PIDS+=($TOOL_PID)

say "data plane: plainsight-dp --config $TMP/dp.json"
ps_dp_start "$NS_DP" "$TMP/dp.json" "$SOCK" "$TMP/dp.log"
"$CTL" --socket "$SOCK" status

ip netns exec "$NS_CLI" tcpdump -n -S -l -i eth0 -Q out -c 1 'tcp[tcpflags] & tcp-syn != 0' >"$TMP/syn-cli.txt" 2>/dev/null &
PIDS+=($!)
ip netns exec "$NS_SRV" tcpdump -n -S -l -i eth0 -Q in -c 1 'tcp[tcpflags] & tcp-syn != 0' >"$TMP/syn-srv.txt" 2>/dev/null &
PIDS+=($!)
sleep 1

say "client: curl https://demo.plainsight.test:8443/index.html (resolved to $SRV4)"
ip netns exec "$NS_CLI" curl -sS --max-time 10 --cacert "$TMP/srv.crt" \
	--resolve demo.plainsight.test:8443:$SRV4 -v https://demo.plainsight.test:8443/index.html 2>&1 |
	grep -E '^(\* (SSL connection|Server certificate|  subject)|< HTTP|hello)' || true

sleep 1
say "two TCP connections, not one: the SYN the client sent and the SYN the server got"
echo "client sent:  $(grep -o 'Flags \[S\], seq [0-9]*' "$TMP/syn-cli.txt" || echo '?')"
echo "server got:   $(grep -o 'Flags \[S\], seq [0-9]*' "$TMP/syn-srv.txt" || echo '?')  (the appliance's own SYN)"

say "what crossed the data plane"
"$CTL" --socket "$SOCK" stats

say "what the tool port saw"
kill -INT "$TOOL_PID" 2>/dev/null; wait "$TOOL_PID" 2>/dev/null || true
n=$(python3 "$PS_ROOT/tests/e2e/frames.py" count "$TMP/tool.pcap" 2>/dev/null || echo 0)
echo "$n frames on the tool port."
cat <<'EOT'

plainsight today: a bump in the wire that terminates the selected TCP
connections. The HTTPS exchange above ran over two TCP connections, client <->
appliance and appliance <-> server, with the original addresses and ports
on both; everything else crossed the bridge unchanged. Its TLS was NOT
decrypted, so the tool port received nothing: TLS interception (terminating
the client's TLS, re-originating it to the server, and feeding the plaintext
to tool ports) is not built yet.
EOT

ps_dp_stop "$TMP/dp.log"
say "plainsight-dp stopped"
