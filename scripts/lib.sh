# Shared shell helpers for plainsight's scripts. Source it; it defines
# functions only.

PS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ps_log() { printf '%s\n' "$*" >&2; }
ps_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Packages every plainsight command needs on a Debian 12 machine: build,
# run, and the real clients, servers and capture tools of the tests and demo.
PS_PACKAGES=(
	build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
	libdpdk-dev dpdk libjansson-dev libpcap-dev libssl-dev libcmocka-dev
	iproute2 ethtool nftables tcpdump iputils-ping socat curl openssl
	python3 procps psmisc kmod tshark
	prometheus
	exim4-daemon-light dovecot-imapd dovecot-pop3d vsftpd tinyproxy rsyslog
	nginx-light testssl.sh
)

# Install whatever of PS_PACKAGES is missing. Quiet when nothing is.
ps_install_deps() {
	local missing=() p
	for p in "${PS_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || ps_die "missing packages (${missing[*]}); run as root or install them"
	ps_log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The test servers (exim4, dovecot, vsftpd, tinyproxy) run only inside
	# the tests' namespaces: installing them must not start them on the
	# host. policy-rc.d 101 tells Debian's maintainer scripts not to.
	local rcd=/usr/sbin/policy-rc.d own_rcd=""
	if [ ! -e "$rcd" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$rcd" && chmod 755 "$rcd" && own_rcd=1
	fi
	apt-get update -qq >/dev/null || { [ -n "$own_rcd" ] && rm -f "$rcd"; ps_die "apt-get update failed"; }
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
		[ -n "$own_rcd" ] && rm -f "$rcd"
		ps_die "apt-get install failed for: ${missing[*]}"
	}
	[ -n "$own_rcd" ] && rm -f "$rcd"
	return 0
}

# Configure (once) and build a meson build directory.
#   ps_build DIR [meson options...]
ps_build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$PS_ROOT" "$@" >"$dir.setup.log" 2>&1 || {
			cat "$dir.setup.log" >&2
			ps_die "meson setup $dir failed"
		}
	fi
	ninja -C "$dir" -j2 >"$dir.ninja.log" 2>&1 || {
		tail -50 "$dir.ninja.log" >&2
		ps_die "build in $dir failed"
	}
}

# ps_dp_start NETNS CONFIG SOCKET LOG: start plainsight-dp of $PS_BUILD
# (default build/; in NETNS, or "" for none), wait up to 10 s for its
# control socket; sets PS_DP_PID. On failure prints the log and exits.
ps_dp_start() {
	local ns=$1 cfg=$2 sock=$3 log=$4 i b=${PS_BUILD:-$PS_ROOT/build}
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$b/dataplane/dpdk/plainsight-dp" --config "$cfg" >"$log" 2>&1 &
	else
		"$b/dataplane/dpdk/plainsight-dp" --config "$cfg" >"$log" 2>&1 &
	fi
	PS_DP_PID=$!
	for i in $(seq 100); do
		"$b/control/plainsight-ctl" --socket "$sock" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$log" >&2
	ps_die "plainsight-dp did not start"
}

# ps_dp_stop LOG: SIGTERM PS_DP_PID and wait; an abnormal exit is reported.
ps_dp_stop() {
	[ -n "${PS_DP_PID:-}" ] || return 0
	kill "$PS_DP_PID" 2>/dev/null || true
	if ! wait "$PS_DP_PID"; then
		ps_log "plainsight-dp exited abnormally:"
		tail -5 "$1" >&2
	fi
	PS_DP_PID=
}
