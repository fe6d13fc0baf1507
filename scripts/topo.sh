#!/usr/bin/env bash
# Test topology of network namespaces joined by veth pairs:
#
#   [PFX-cli] eth0 ──veth── net-a [PFX-dp] net-b ──veth── eth0 [PFX-srv]
#                                  tool0
#                                    └──veth── eth0 [PFX-tool]
#
# plainsight-dp runs inside PFX-dp on net_af_packet ports net-a, net-b and
# tool0. The client and the server share one subnet, so everything between
# them crosses the data plane:
#   client 198.18.0.1/24  fd00:5053::1/64
#   server 198.18.0.2/24  fd00:5053::2/64
# (198.18.0.0/15 is the benchmarking range of RFC 2544; fd00::/8 is local.)
# VLAN-tagged traffic is sent and captured with raw sockets by the tests
# (tests/e2e/frames.py): kernels without 802.1Q support are common on the
# virtual machines this runs on.
#
#   scripts/topo.sh up [PFX] [wan]  create (replacing a stale one); with
#                                 "wan", a namespace PFX-wana between the
#                                 client and net-a and PFX-wanb between net-b
#                                 and the server, each holding a veth pair
#                                 (c0/d0) for a fault-injecting bridge
#                                 (tests/e2e/impair.py, nftables)
#   scripts/topo.sh up PFX inline also an inline tool: namespace PFX-ips
#                                 joined to the data plane by ips-a and
#                                 ips-b (its eth0 and eth1), with a Linux
#                                 bridge br0 over both: a bump in the wire
#   scripts/topo.sh up PFX inline2  the same, and a second inline tool:
#                                 PFX-ips2 on ips2-a and ips2-b
#   scripts/topo.sh down [PFX]    delete everything it created
#   scripts/topo.sh env [PFX]     print the names as shell variables
# PFX defaults to "ps"; tests use their own so they never collide.
set -euo pipefail

cmd=${1:-}
P=${2:-${PS_TOPO:-ps}}
WAN=${3:-}
[[ $P =~ ^[a-z0-9]{1,8}$ ]] || { echo "topo: prefix must be 1-8 of [a-z0-9]" >&2; exit 2; }

NS_CLI=$P-cli NS_SRV=$P-srv NS_TOOL=$P-tool NS_DP=$P-dp NS_WANA=$P-wana NS_WANB=$P-wanb
NS_IPS=$P-ips NS_IPS2=$P-ips2
CLI4=198.18.0.1 SRV4=198.18.0.2 CLI6=fd00:5053::1 SRV6=fd00:5053::2

quiet_offloads() {	# ns ifname
	# Partial checksums and GSO/GRO super-frames must not reach the data
	# plane through af_packet: every frame on the wire is a real frame.
	ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off \
		>/dev/null 2>&1 || true
}

no_ipv6() {	# ns ifname: the interface itself sends nothing (no RS/MLD/DAD)
	ip netns exec "$1" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$2/disable_ipv6"
}

link() {	# ns_a if_a ns_b if_b
	local t1=${P}tmp1 t2=${P}tmp2
	ip link add "$t1" type veth peer name "$t2"
	ip link set "$t1" netns "$1" name "$2"
	ip link set "$t2" netns "$3" name "$4"
	for side in "$1 $2" "$3 $4"; do
		set -- $side
		ip netns exec "$1" ip link set "$2" up
		quiet_offloads "$1" "$2"
	done
}

down() {
	local ns
	for ns in "$NS_CLI" "$NS_SRV" "$NS_TOOL" "$NS_DP" "$NS_WANA" "$NS_WANB" "$NS_IPS" "$NS_IPS2"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	ip link del "${P}tmp1" 2>/dev/null || true
}

up() {
	down
	local ns
	for ns in "$NS_CLI" "$NS_SRV" "$NS_TOOL" "$NS_DP"; do
		ip netns add "$ns"
		ip netns exec "$ns" ip link set lo up
	done
	if [ "$WAN" = wan ]; then
		for ns in "$NS_WANA" "$NS_WANB"; do
			ip netns add "$ns"
			ip netns exec "$ns" ip link set lo up
		done
		link "$NS_CLI" eth0 "$NS_WANA" c0
		link "$NS_WANA" d0 "$NS_DP" net-a
		link "$NS_DP" net-b "$NS_WANB" d0
		link "$NS_WANB" c0 "$NS_SRV" eth0
		for ns in "$NS_WANA" "$NS_WANB"; do
			no_ipv6 "$ns" c0
			no_ipv6 "$ns" d0
		done
	else
		link "$NS_CLI" eth0 "$NS_DP" net-a
		link "$NS_SRV" eth0 "$NS_DP" net-b
	fi
	link "$NS_TOOL" eth0 "$NS_DP" tool0
	for ifc in net-a net-b tool0; do no_ipv6 "$NS_DP" "$ifc"; done
	bump() {	# ns port-prefix: a Linux bridge between PREFIX-a and PREFIX-b
		ip netns add "$1"
		ip netns exec "$1" ip link set lo up
		link "$NS_DP" "$2-a" "$1" eth0
		link "$NS_DP" "$2-b" "$1" eth1
		for ifc in "$2-a" "$2-b"; do no_ipv6 "$NS_DP" "$ifc"; done
		no_ipv6 "$1" eth0
		no_ipv6 "$1" eth1
		ip netns exec "$1" ip link add br0 type bridge
		ip netns exec "$1" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/br0/disable_ipv6' \
			2>/dev/null || true
		ip netns exec "$1" ip link set dev eth0 master br0
		ip netns exec "$1" ip link set dev eth1 master br0
		ip netns exec "$1" ip link set br0 up
	}
	case $WAN in
	inline) bump "$NS_IPS" ips ;;
	inline2) bump "$NS_IPS" ips; bump "$NS_IPS2" ips2 ;;
	esac
	no_ipv6 "$NS_TOOL" eth0

	addr() {	# ns v4 v6
		ip netns exec "$1" ip addr add "$2/24" dev eth0
		ip netns exec "$1" ip -6 addr add "$3/64" dev eth0 nodad
	}
	addr "$NS_CLI" $CLI4 $CLI6
	addr "$NS_SRV" $SRV4 $SRV6
}

case $cmd in
up) up ;;
down) down ;;
env)
	cat <<EOV
NS_CLI=$NS_CLI NS_SRV=$NS_SRV NS_TOOL=$NS_TOOL NS_DP=$NS_DP NS_WANA=$NS_WANA NS_WANB=$NS_WANB
NS_IPS=$NS_IPS NS_IPS2=$NS_IPS2
CLI4=$CLI4 SRV4=$SRV4 CLI6=$CLI6 SRV6=$SRV6
EOV
	;;
*) echo "usage: $0 up|down|env [PREFIX] [wan|inline|inline2]" >&2; exit 2 ;;
esac
