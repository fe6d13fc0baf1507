#!/usr/bin/env bash
# plainsight demo: builds the appliance and runs its main job end to end on
# network namespaces. A real client (curl) fetches over HTTPS from a real
# server (openssl s_server) through plainsight-dp, which terminates the
# client's TLS with a leaf forged by its own CA (made now, for this run),
# re-originates TLS to the server after verifying the server's chain, and
# hands the decrypted conversation to its out-of-band tool port, where
# tshark shows it as the tool saw it.
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

say "certificates: a web PKI for the server and a fresh appliance CA (scripts/mkca.sh)"
"$PS_ROOT/tests/e2e/pki.sh" "$TMP/pki" >/dev/null
echo "appliance CA: $TMP/pki/ca/ca.crt (key mode $(stat -c %a "$TMP/pki/ca/ca.key"))"

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
		{"name": "tool0", "device": "net_af_packet2,iface=tool0", "role": "tool-oob",
		 "tool": {"#": "tools parse it as HTTP", "dport_rewrite": 80}}
	],
	"intercept": {"tcp_ports": [443]},
	"tls": {"ca_cert": "$TMP/pki/ca/ca.crt", "ca_key": "$TMP/pki/ca/ca.key",
		"trust_system": true, "trust_bundle": "$TMP/pki/root.crt"},
	"control": {"socket": "$SOCK"}
}
EOJ

say "server: openssl s_server on https://www.ps.test ($SRV4:443), certificate from the web root"
mkdir -p "$TMP/www" && echo "hello from the server behind plainsight" >"$TMP/www/index.html"
(cd "$TMP/www" && exec ip netns exec "$NS_SRV" openssl s_server -quiet -accept 443 \
	-cert "$TMP/pki/www.crt" -key "$TMP/pki/www.key" -WWW) >"$TMP/server.log" 2>&1 &
PIDS+=($!)

say "tool port: tcpdump on the tool namespace"
ip netns exec "$NS_TOOL" tcpdump -n -i eth0 -Q in -U -w "$TMP/tool.pcap" >"$TMP/tool.log" 2>&1 &
TOOL_PID=$!
PIDS+=($TOOL_PID)

say "data plane: plainsight-dp --config $TMP/dp.json"
ps_dp_start "$NS_DP" "$TMP/dp.json" "$SOCK" "$TMP/dp.log"
"$CTL" --socket "$SOCK" status

sleep 1
say "client: curl https://www.ps.test/index.html, trusting the appliance CA"
ip netns exec "$NS_CLI" curl -sS --max-time 10 --cacert "$TMP/pki/ca/ca.crt" \
	--resolve www.ps.test:443:$SRV4 -v https://www.ps.test/index.html 2>&1 |
	grep -E '^(\* +(SSL connection|Server certificate|subject|issuer|SSL certificate verify)|< HTTP|hello)' || true

sleep 1
say "what crossed the data plane"
"$CTL" --socket "$SOCK" stats

say "what the tool port saw: a plain TCP conversation, decrypted (tshark)"
kill -INT "$TOOL_PID" 2>/dev/null; wait "$TOOL_PID" 2>/dev/null || true
timeout 120 tshark -n -r "$TMP/tool.pcap" 2>/dev/null | head -20
timeout 120 tshark -n -r "$TMP/tool.pcap" -q -z follow,tcp,ascii,0 2>/dev/null

ps_dp_stop "$TMP/dp.log"
say "plainsight-dp stopped"
