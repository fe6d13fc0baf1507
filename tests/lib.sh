# Helpers for plainsight's integration and end-to-end test scripts.
# Each script prints one line per check, "ok - NAME" or "not ok - NAME",
# which scripts/test.sh counts. Every process a script starts is recorded
# and stopped by PID on exit; every namespace it creates is deleted.

PS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PS_BUILD=${PS_BUILD:-$PS_ROOT/build}
PS_DP=$PS_BUILD/dataplane/dpdk/plainsight-dp
PS_CTL=$PS_BUILD/control/plainsight-ctl

T_PIDS=()
T_FAILED=0
T_TMP=$(mktemp -d /tmp/ps-test.XXXXXX)
T_TOPO=""

t_ok() { echo "ok - $*"; }
t_fail() { echo "not ok - $*"; T_FAILED=$((T_FAILED + 1)); }

# check NAME CMD...: one check, passes when CMD exits 0.
check() {
	local name=$1; shift
	if "$@" >"$T_TMP/check.out" 2>&1; then
		t_ok "$name"
	else
		t_fail "$name"
		sed 's/^/#   /' "$T_TMP/check.out" | tail -20
	fi
}

# bg NS LOGFILE CMD...: start CMD in namespace NS (or "" for none), in the
# background; its PID is kept for cleanup and left in $T_LAST_PID.
bg() {
	local ns=$1 log=$2; shift 2
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@" >"$log" 2>&1 &
	else
		"$@" >"$log" 2>&1 &
	fi
	T_LAST_PID=$!
	T_PIDS+=("$T_LAST_PID")
}

# stop_pid PID [SIGNAL]: signal it, wait up to 10 s, then SIGKILL.
stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

t_cleanup() {
	local pid
	for pid in "${T_PIDS[@]}"; do
		stop_pid "$pid"
	done
	if [ -n "$T_TOPO" ]; then
		"$PS_ROOT/scripts/topo.sh" down "$T_TOPO"
	fi
	if [ -n "${PS_KEEP_TMP:-}" ]; then
		echo "# kept: $T_TMP"
	else
		rm -rf "$T_TMP"
	fi
}
trap t_cleanup EXIT

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$1 i; shift
	for i in $(seq $((limit * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# start_dp NS CONFIG SOCKET: run plainsight-dp and wait for its socket.
start_dp() {
	local ns=$1 cfg=$2 sock=$3
	bg "$ns" "$T_TMP/dp.log" "$PS_DP" --config "$cfg" --socket "$sock"
	DP_PID=$T_LAST_PID
	if ! wait_for 20 "$PS_CTL" --socket "$sock" status; then
		echo "# plainsight-dp did not come up:"
		sed 's/^/#   /' "$T_TMP/dp.log"
		return 1
	fi
}

# dp_up CONFIG NAME: start_dp in the topology's data-plane namespace on
# $SOCK; a check named NAME, and the test ends here when it fails.
dp_up() {
	if ! start_dp "$NS_DP" "$1" "$SOCK"; then
		t_fail "$2"
		exit 1
	fi
	t_ok "$2"
}

# stats EXPR: EXPR (python, r the reply) over the data plane's stats on $SOCK.
stats() { ctl_json "$SOCK" stats >"$T_TMP/stats.json" && json_get "$T_TMP/stats.json" "$1"; }

# dp_config FILE WORKERS [EXTRA_PORTS [MEMBERS]]: write the data plane
# configuration most end-to-end tests share: WORKERS (1 or 2) worker lcores,
# ports net-a and net-b of segment seg0 on the topology's veths (one queue
# pair per worker, 16 KB frames for the kernel's reassembled fragments),
# EXTRA_PORTS (JSON objects, comma separated) after them, then MEMBERS
# (top-level JSON members, comma separated: "intercept", "tls", ...; "-"
# reads them from standard input, e.g. a here-document) and the control
# socket $SOCK. The EAL file prefix is the test's own ($T_TOPO).
dp_config() {
	local file=$1 workers=$2 ports=${3:-} members=${4:-} wl=1 mbufs=4095
	[ "$members" = - ] && members=$(cat)
	if [ "$workers" = 2 ]; then
		wl="1, 2"
		mbufs=8191
	fi
	cat >"$file" <<EOF
{
	"lcores": {"main": 0, "workers": [$wl]},
	"eal": {"memory_mb": 512, "hugepages": false, "file_prefix": "ps-$T_TOPO"},
	"mempool": {"mbufs": $mbufs, "mbuf_data_size": 16512, "cache": 128},
	"ports": [
		{"name": "net-a", "role": "net", "segment": "seg0", "side": "a",
		 "device": "net_af_packet0,iface=net-a,qpairs=$workers,framesz=16384,blocksz=16384"},
		{"name": "net-b", "role": "net", "segment": "seg0", "side": "b",
		 "device": "net_af_packet1,iface=net-b,qpairs=$workers,framesz=16384,blocksz=16384"}${ports:+,
		$ports}
	],${members:+
	$members,}
	"control": {"socket": "$SOCK"}
}
EOF
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$file" ||
		{ echo "# dp_config: $file is not valid JSON"; cat "$file"; return 1; }
}

# ctl_json SOCKET CMD: the JSON reply of plainsight-ctl
ctl_json() { "$PS_CTL" --socket "$1" --json "$2"; }

# jq-less field access: json_get FILE PYTHON-EXPR (r is the parsed JSON)
json_get() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# make_bulk_files MB: $T_TMP/up.bin and $T_TMP/down.bin of random bytes.
make_bulk_files() {
	head -c $(($1 * 1024 * 1024)) /dev/urandom >"$T_TMP/up.bin"
	head -c $(($1 * 1024 * 1024)) /dev/urandom >"$T_TMP/down.bin"
	MB=$1
}

sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# bulk NAME: at once, up.bin client->server on port 5001 and down.bin
# server->client on port 5002 (NS_CLI, NS_SRV, SRV4 from topo.sh env); one
# check per direction compares sha256.
bulk() {
	local name=$1 up down c1 c2 t0 t1
	rm -f "$T_TMP/up.out" "$T_TMP/down.out"
	bg "$NS_SRV" "$T_TMP/sink.log" timeout 300 socat -u TCP-LISTEN:5001,bind=$SRV4,reuseaddr OPEN:"$T_TMP/up.out",creat,trunc
	up=$T_LAST_PID
	bg "$NS_SRV" "$T_TMP/source.log" timeout 300 socat -u OPEN:"$T_TMP/down.bin" TCP-LISTEN:5002,bind=$SRV4,reuseaddr
	down=$T_LAST_PID
	sleep 0.3
	t0=$(date +%s.%N)
	ip netns exec "$NS_CLI" timeout 300 socat -u OPEN:"$T_TMP/up.bin" TCP:$SRV4:5001 &
	c1=$!
	ip netns exec "$NS_CLI" timeout 300 socat -u TCP:$SRV4:5002 OPEN:"$T_TMP/down.out",creat,trunc &
	c2=$!
	wait $c1 $c2 "$up" "$down" 2>/dev/null
	t1=$(date +%s.%N)
	check "$name: $MB MB client->server, sha256 equal" test "$(sha_of "$T_TMP/up.bin")" = "$(sha_of "$T_TMP/up.out" 2>/dev/null)"
	check "$name: $MB MB server->client, sha256 equal" test "$(sha_of "$T_TMP/down.bin")" = "$(sha_of "$T_TMP/down.out" 2>/dev/null)"
	echo "# $name: $((2 * MB)) MB in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
}
