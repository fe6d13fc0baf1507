#!/usr/bin/env bash
# Integration: the deployment pieces, as far as a machine without a spare
# NIC or hugepages allows (docs/deploy.md).
#
# - scripts/hugepages.sh and scripts/nic-bind.sh: dry runs print the
#   dpdk-*.py commands and change nothing; usage errors exit 2; unknown and
#   management NICs are refused. Every command the scripts may run is
#   shadowed on PATH by a fake that records its arguments, so no check can
#   change this machine even if a script misbehaves; the real runs go to
#   those fakes (and nic-bind.sh to a fake sysfs tree), which checks that a
#   dry run prints exactly what the real run executes.
# - meson install of $PS_BUILD (default build/) into a DESTDIR: the two
#   programs and plainsight-dp.service with the build's paths and the
#   hardening keys; systemd-analyze verify; and the unit's capability set
#   is enough to run plainsight-dp on af_packet ports (and CAP_NET_RAW is
#   needed for them).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

HUGE=$PS_ROOT/scripts/hugepages.sh
NIC=$PS_ROOT/scripts/nic-bind.sh
FAKE=$T_TMP/fake
LOG=$T_TMP/fake.log
FSYS=$T_TMP/sys
STATE=$T_TMP/nic-state
NS=psdep$$
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "/var/run/dpdk/ps-deploy-$$"; t_cleanup' EXIT

# --- fakes ------------------------------------------------------------------
mkdir -p "$FAKE"
: >"$LOG"
mkdir -p "$FAKE/h"
for c in dpdk-hugepages.py dpdk-devbind.py modprobe mount h/mkdir; do
	cat >"$FAKE/$c" <<EOF
#!/bin/sh
echo "${c#h/} \$*" >>"$LOG"
EOF
	chmod +x "$FAKE/$c"
done
# hugepages.sh runs mkdir for the mount point; nic-bind.sh's own mkdir of
# its state directory is not a command it prints.
echo 'exec /bin/mkdir "$@"' >>"$FAKE/h/mkdir"
# modprobe "loads" a driver into the fake sysfs; dpdk-devbind.py binds in it
# (or, with FAKE_FAIL=1, quietly does nothing, as the real one does when
# the kernel refuses).
cat >>"$FAKE/modprobe" <<'EOF'
[ -z "${PS_SYSFS:-}" ] || /bin/mkdir -p "$PS_SYSFS/bus/pci/drivers/$1"
EOF
cat >>"$FAKE/dpdk-devbind.py" <<'EOF'
[ -n "${PS_SYSFS:-}" ] && [ -z "${FAKE_FAIL:-}" ] || exit 0
drv=
for a in "$@"; do
	case $a in
	--bind=*) drv=${a#--bind=} ;;
	--unbind) drv=none ;;
	-*) ;;
	*) if [ "$drv" = none ]; then rm -f "$PS_SYSFS/bus/pci/devices/$a/driver"
	   else ln -sfn "../../drivers/$drv" "$PS_SYSFS/bus/pci/devices/$a/driver"; fi ;;
	esac
done
EOF

# fk NAME CMD...: run CMD with the fakes first on PATH; NAME.out, .err, .rc
fk() {
	local n=$1; shift
	PATH=$FAKE:$PATH PS_NIC_STATE_DIR=$STATE "$@" >"$T_TMP/$n.out" 2>"$T_TMP/$n.err"
	echo $? >"$T_TMP/$n.rc"
}
hk() { PATH=$FAKE/h:$PATH fk "$@"; }
rc_is() { [ "$(cat "$T_TMP/$1.rc")" = "$2" ] || { echo "exit $(cat "$T_TMP/$1.rc"), expected $2"; cat "$T_TMP/$1.err"; return 1; }; }
# out_is NAME TEXT: stdout is exactly TEXT (lines)
out_is() { diff <(printf '%s\n' "$2") "$T_TMP/$1.out"; }
err_has() { grep -qF -- "$2" "$T_TMP/$1.err" || { echo "stderr lacks: $2"; cat "$T_TMP/$1.err"; return 1; }; }
log_empty() { [ ! -s "$LOG" ] || { echo "commands ran:"; cat "$LOG"; return 1; }; }
# ran_as_printed DRY REAL: the real run executed exactly the commands the
# dry run printed, and both exited alike.
ran_as_printed() {
	diff "$T_TMP/$1.out" "$LOG" && [ "$(cat "$T_TMP/$1.rc")" = "$(cat "$T_TMP/$2.rc")" ]
}
snapshot() {
	grep -E '^HugePages_(Total|Free|Rsvd)' /proc/meminfo
	grep hugetlbfs /proc/mounts
	for d in /sys/bus/pci/devices/*; do echo "$d $(readlink "$d/driver")"; done
	ls -d /sys/module/vfio* 2>/dev/null
	[ ! -e "$STATE" ] || echo "state dir exists"
}

check "fakes shadow the real tools" eval \
	'test "$(PATH=$FAKE:$PATH command -v dpdk-devbind.py)" = "$FAKE/dpdk-devbind.py" &&
	 test "$(PATH=$FAKE/h:$FAKE:$PATH command -v mkdir)" = "$FAKE/h/mkdir"' 
snapshot >"$T_TMP/before.txt"

# --- hugepages.sh ------------------------------------------------------------
# The mount line is expected when no 2 MiB hugetlbfs is mounted yet.
mnt2m=$(awk '$3 == "hugetlbfs" && $4 ~ /pagesize=2M/ {print $2; exit}' /proc/mounts)
hk h_res "$HUGE" --dry-run reserve 2G
if [ -n "$mnt2m" ]; then
	exp="dpdk-hugepages.py --pagesize 2M --reserve 2G"
else
	exp="dpdk-hugepages.py --pagesize 2M --reserve 2G"
	[ -d /dev/hugepages ] || exp="$exp"$'\n'"mkdir -p /dev/hugepages"
	exp="$exp"$'\n'"mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages"
fi
check "hugepages: dry-run reserve 2G exits 0" rc_is h_res 0
check "hugepages: dry-run reserve 2G prints the dpdk-hugepages.py and mount commands" out_is h_res "$exp"
hk h_res2 "$HUGE" --dry-run --node 0 reserve 1024M
check "hugepages: dry-run --node 0 reserve 1024M -> --reserve 1G --node 0" \
	eval 'head -1 "$T_TMP/h_res2.out" | grep -qx "dpdk-hugepages.py --pagesize 2M --reserve 1G --node 0"'
hk h_rel "$HUGE" --dry-run release
check "hugepages: dry-run release prints dpdk-hugepages.py --clear" out_is h_rel "dpdk-hugepages.py --clear"
hk h_rel2 "$HUGE" --dry-run --pagesize 2M release
check "hugepages: dry-run --pagesize 2M release prints --reserve 0" \
	out_is h_rel2 "dpdk-hugepages.py --pagesize 2M --reserve 0"
hk h_1g "$HUGE" --dry-run --pagesize 1G reserve 2G
if [ -d /sys/kernel/mm/hugepages/hugepages-1048576kB ]; then
	check "hugepages: dry-run --pagesize 1G reserve 2G" \
		eval 'head -1 "$T_TMP/h_1g.out" | grep -qx "dpdk-hugepages.py --pagesize 1G --reserve 2G"'
else
	check "hugepages: 1G pages refused where the CPU has none (exit 1, says so)" \
		eval 'rc_is h_1g 1 && err_has h_1g "page size 1G is not offered"'
fi
check "hugepages: dry runs executed nothing" log_empty

for u in ":" "frob" "reserve" "reserve 2048" "reserve 3M" "reserve 0G" "reserve 2G 4G" \
	"--bogus show" "--force reserve 2M" "--node x reserve 2M" "release 2G"; do
	# shellcheck disable=SC2086 # split into words on purpose
	hk h_usage "$HUGE" --dry-run ${u#:}
	check "hugepages: usage error exits 2: '${u#:}'" rc_is h_usage 2
done

hk h_dry "$HUGE" --dry-run --mount-dir "$T_TMP/huge" reserve 64M
check "hugepages: dry run with --mount-dir: mkdir and mount there" eval \
	'grep -qx "mkdir -p $T_TMP/huge" "$T_TMP/h_dry.out" && grep -qx "mount -t hugetlbfs -o pagesize=2M nodev $T_TMP/huge" "$T_TMP/h_dry.out"'
: >"$LOG"
hk h_real "$HUGE" --mount-dir "$T_TMP/huge" reserve 64M
check "hugepages: reserve runs exactly what its dry run printed" ran_as_printed h_dry h_real
hk h_dryrel "$HUGE" --dry-run release
: >"$LOG"
hk h_realrel "$HUGE" release
check "hugepages: release runs exactly what its dry run printed" ran_as_printed h_dryrel h_realrel
: >"$LOG"

# --- nic-bind.sh on this machine's sysfs: dry runs and refusals -------------
absent=
for p in 0000:ff:1f.7 0000:fe:1f.6 0000:fd:1e.5; do
	[ -e "/sys/bus/pci/devices/$p" ] || { absent=$p; break; }
done
fk n_absent "$NIC" --dry-run bind "$absent"
check "nic-bind: a PCI address that does not exist is refused (exit 1)" rc_is n_absent 1
check "nic-bind: ... with a clear message" err_has n_absent "$absent: no such PCI device"
fk n_absent2 "$NIC" unbind "$absent"
check "nic-bind: unbind of a PCI address that does not exist is refused" \
	eval 'rc_is n_absent2 1 && err_has n_absent2 "no such PCI device"'

for u in ":" "frob" "bind" "unbind" "bind zz:00.0" "bind 0000:00:20.0" "bind 00:00.8" \
	"bind lo" "--to ixgbe bind 00:00.0" "--force unbind 00:00.0" "status x" "--bogus status" \
	"unbind 00:00.0 --to a/b"; do
	# shellcheck disable=SC2086 # split into words on purpose
	fk n_usage "$NIC" --dry-run ${u#:}
	check "nic-bind: usage error exits 2: '${u#:}'" rc_is n_usage 2
done

# The management interface: the NIC under the default route, if it is PCI.
mif=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
mpci=
if [ -n "$mif" ] && [ -e "/sys/class/net/$mif/device" ]; then
	mpci=$(readlink -f "/sys/class/net/$mif/device" | tr / '\n' |
		grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -1)
fi
if [ -n "$mpci" ]; then
	fk n_mgmt "$NIC" --dry-run bind "$mpci"
	check "nic-bind: the management NIC ($mpci, $mif) is refused (exit 1)" rc_is n_mgmt 1
	check "nic-bind: ... naming the interface, the default route and why" eval \
		'err_has n_mgmt "$mif carries the default route" && err_has n_mgmt "management interface" && err_has n_mgmt "--force"'
	check "nic-bind: ... and printing no command" test ! -s "$T_TMP/n_mgmt.out"
	fk n_force "$NIC" --dry-run --force bind "$mpci"
	exp="dpdk-devbind.py --force --bind=vfio-pci $mpci"
	[ -d /sys/bus/pci/drivers/vfio-pci ] || exp="modprobe vfio-pci"$'\n'"$exp"
	check "nic-bind: dry-run --force bind prints modprobe (if needed) and dpdk-devbind.py" out_is n_force "$exp"
	short=${mpci#0000:}
	fk n_short "$NIC" --dry-run --force bind "${short^^}"
	check "nic-bind: BB:DD.F in any case is the same device" out_is n_short "$exp"
else
	t_ok "nic-bind: management NIC refusal # SKIP no PCI NIC under the default route"
fi
nonnet=
for d in /sys/bus/pci/devices/*; do
	[[ $(cat "$d/class") == 0x02* ]] || { nonnet=${d##*/}; break; }
done
if [ -n "$nonnet" ]; then
	fk n_class "$NIC" --dry-run bind "$nonnet"
	check "nic-bind: a device that is not a NIC ($nonnet) is refused" \
		eval 'rc_is n_class 1 && err_has n_class "is not a network controller"'
fi
fk n_status "$NIC" --dry-run status
check "nic-bind: dry-run status prints dpdk-devbind.py --status-dev net" \
	out_is n_status "dpdk-devbind.py --status-dev net"
check "nic-bind: dry runs executed nothing" log_empty
snapshot >"$T_TMP/after.txt"
check "dry runs changed nothing (hugepages, mounts, PCI drivers, modules, state)" \
	diff "$T_TMP/before.txt" "$T_TMP/after.txt"

# --- nic-bind.sh real runs, on a fake sysfs and the fakes --------------------
mkdir -p "$FSYS/bus/pci/drivers/ixgbe" "$FSYS/bus/pci/drivers/i40e" "$FSYS/class/net"
mkdev() {	# pci class driver ifname
	local d=$FSYS/bus/pci/devices/$1
	mkdir -p "$d/net/$4"
	echo "$2" >"$d/class"
	[ -z "$3" ] || ln -s "../../drivers/$3" "$d/driver"
}
mkdev 0000:7e:00.0 0x020000 ixgbe psfake0
mkdev 0000:7e:00.1 0x020000 i40e psfake1
mkdev 0000:7e:00.2 0x010802 "" ""
mkdev 0000:7e:00.3 0x020000 vfio-pci psfake3
nb() { PS_SYSFS=$FSYS fk "$@"; }
drv() { basename "$(readlink "$FSYS/bus/pci/devices/$1/driver")"; }

nb f_dry "$NIC" --dry-run bind 7e:00.0 0000:7e:00.1
check "nic-bind (fake sysfs): dry-run bind of two NICs" out_is f_dry \
	"modprobe vfio-pci"$'\n'"dpdk-devbind.py --bind=vfio-pci 0000:7e:00.0"$'\n'"dpdk-devbind.py --bind=vfio-pci 0000:7e:00.1"
check "nic-bind (fake sysfs): the dry run says which drivers it would record" \
	err_has f_dry "would record that 0000:7e:00.0 was bound to ixgbe"
nb f_bind "$NIC" bind 7e:00.0 0000:7e:00.1
check "nic-bind (fake sysfs): bind runs exactly what its dry run printed" ran_as_printed f_dry f_bind
check "nic-bind (fake sysfs): both NICs now on vfio-pci" \
	test "$(drv 0000:7e:00.0) $(drv 0000:7e:00.1)" = "vfio-pci vfio-pci"
check "nic-bind (fake sysfs): their kernel drivers are recorded" \
	test "$(cat "$STATE/0000:7e:00.0" "$STATE/0000:7e:00.1" | tr '\n' ' ')" = "ixgbe i40e "
: >"$LOG"
nb f_again "$NIC" bind 7e:00.0
check "nic-bind (fake sysfs): binding again is a no-op" eval \
	'rc_is f_again 0 && log_empty && err_has f_again "already bound to vfio-pci"'

nb f_udry "$NIC" --dry-run unbind 7e:00.0
check "nic-bind (fake sysfs): dry-run unbind restores the recorded driver" \
	out_is f_udry "dpdk-devbind.py --bind=ixgbe 0000:7e:00.0"
nb f_unbind "$NIC" unbind 7e:00.0
check "nic-bind (fake sysfs): unbind runs exactly what its dry run printed" ran_as_printed f_udry f_unbind
check "nic-bind (fake sysfs): ... the NIC is back on ixgbe and the record gone" \
	eval 'test "$(drv 0000:7e:00.0)" = ixgbe && test ! -e "$STATE/0000:7e:00.0"'
: >"$LOG"
nb f_to "$NIC" unbind 7e:00.1 --to none
check "nic-bind (fake sysfs): unbind --to none leaves the NIC unbound" eval \
	'rc_is f_to 0 && test "$(cat "$LOG")" = "dpdk-devbind.py --unbind 0000:7e:00.1" && test ! -e "$FSYS/bus/pci/devices/0000:7e:00.1/driver"'
: >"$LOG"
nb f_norec "$NIC" unbind 7e:00.3
check "nic-bind (fake sysfs): unbind without a record or --to is refused, nothing run" \
	eval 'rc_is f_norec 1 && err_has f_norec "no kernel driver recorded" && log_empty'
nb f_mod "$NIC" --dry-run unbind 7e:00.3 --to ice
check "nic-bind (fake sysfs): unbind --to a driver not loaded loads it first" \
	out_is f_mod "modprobe ice"$'\n'"dpdk-devbind.py --bind=ice 0000:7e:00.3"
nb f_nvme "$NIC" bind 7e:00.2
check "nic-bind (fake sysfs): a storage controller is refused, nothing run" \
	eval 'rc_is f_nvme 1 && err_has f_nvme "class 0x010802 is not a network controller" && log_empty'
nb f_partial "$NIC" bind 7e:00.0 7e:00.2
check "nic-bind (fake sysfs): one refused device stops the whole command before any change" \
	eval 'rc_is f_partial 1 && log_empty && test "$(drv 0000:7e:00.0)" = ixgbe'
FAKE_FAIL=1 nb f_fail "$NIC" bind 7e:00.0
check "nic-bind (fake sysfs): a bind the kernel refuses is reported (exit 1)" \
	eval 'rc_is f_fail 1 && err_has f_fail "binding to vfio-pci failed"'
check "nic-bind (fake sysfs): ... and its record dropped" test ! -e "$STATE/0000:7e:00.0"

# --- meson install and the unit ----------------------------------------------
DEST=$T_TMP/dest
meson introspect "$PS_BUILD" --buildoptions >"$T_TMP/opts.json" 2>/dev/null
opt() { json_get "$T_TMP/opts.json" "[o['value'] for o in r if o['name'] == '$1'][0]"; }
prefix=$(opt prefix)
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
sbindir=$(abs "$(opt sbindir)")
bindir=$(abs "$(opt bindir)")
sysconfdir=$(abs "$(opt sysconfdir)")
UNIT=$DEST$prefix/lib/systemd/system/plainsight-dp.service
[ -f "$PS_BUILD/systemd/plainsight-dp.service" ] ||
	echo "# $PS_BUILD has no systemd/plainsight-dp.service: build it first (ninja -C $PS_BUILD)"
check "meson install --destdir ($PS_BUILD, prefix $prefix)" \
	meson install -C "$PS_BUILD" --destdir "$DEST" --no-rebuild
check "install: plainsight-dp in $sbindir" test -x "$DEST$sbindir/plainsight-dp"
check "install: plainsight-ctl in $bindir" test -x "$DEST$bindir/plainsight-ctl"
check "install: plainsight-dp.service in $prefix/lib/systemd/system" test -f "$UNIT"
key() { sed -n "s/^$1=//p" "$UNIT"; }
check "unit: ExecStart runs $sbindir/plainsight-dp on $sysconfdir/plainsight/plainsight.json" \
	test "$(key ExecStart)" = "$sbindir/plainsight-dp --config $sysconfdir/plainsight/plainsight.json"
check "unit: ExecStartPre checks the same configuration first" \
	test "$(key ExecStartPre)" = "$sbindir/plainsight-dp --check --config $sysconfdir/plainsight/plainsight.json"
check "unit: no @VARIABLE@ left" eval '! grep -n "@[A-Z_]*@" "$UNIT"'
for kv in Type=exec Restart=on-failure KillSignal=SIGTERM LimitMEMLOCK=infinity \
	ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
	RuntimeDirectoryMode=0750 StateDirectory=plainsight LogsDirectory=plainsight; do
	check "unit: $kv" test "$(key "${kv%%=*}")" = "${kv#*=}"
done
check "unit: RestartSec and TimeoutStopSec set" eval '[ -n "$(key RestartSec)" ] && [ -n "$(key TimeoutStopSec)" ]'
check "unit: RuntimeDirectory has plainsight" eval 'key RuntimeDirectory | tr " " "\n" | grep -qx plainsight'
for p in /run/plainsight /var/lib/plainsight /var/log/plainsight -/dev/hugepages; do
	check "unit: ReadWritePaths has $p" eval 'key ReadWritePaths | tr " " "\n" | grep -qx -- "$p"'
done
caps="CAP_DAC_OVERRIDE CAP_IPC_LOCK CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_RAWIO"
for k in CapabilityBoundingSet AmbientCapabilities; do
	check "unit: $k is exactly $caps" test "$(key $k | tr ' ' '\n' | sort | tr '\n' ' ')" = "$caps "
done

# The control process's unit: installed, filled in, restarted on failure.
CUNIT=$DEST$prefix/lib/systemd/system/plainsight-controld.service
check "install: plainsight-controld in $sbindir" test -x "$DEST$sbindir/plainsight-controld"
check "install: plainsight-controld.service" test -f "$CUNIT"
check "controld unit: no @VARIABLE@ left" eval '! grep -n "@[A-Z_]*@" "$CUNIT"'
check "controld unit: runs $sbindir/plainsight-controld on the data plane's socket" \
	eval 'grep -q "^ExecStart=$sbindir/plainsight-controld --socket /run/plainsight/dp.sock" "$CUNIT"'
for kv in Restart=on-failure ProtectSystem=strict NoNewPrivileges=yes; do
	check "controld unit: $kv" grep -qx "$kv" "$CUNIT"
done

# Syntax: sections, key=value lines, no key twice (but list keys).
cat >"$T_TMP/unitlint.py" <<'EOF'
import re, sys
multi = {"After", "Wants", "Documentation", "ExecStartPre", "Environment", "SystemCallFilter",
         "RestrictAddressFamilies", "ReadWritePaths", "CapabilityBoundingSet"}
sec, seen, bad = None, set(), []
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.startswith(("#", ";")):
        continue
    m = re.fullmatch(r"\[(Unit|Service|Install)\]", line)
    if m:
        sec = m.group(1)
        continue
    m = re.fullmatch(r"([A-Z][A-Za-z]+)=(.*)", line)
    if not m or sec is None:
        bad.append(f"{n}: not a key=value line in a section: {line}")
        continue
    if (sec, m.group(1)) in seen and m.group(1) not in multi:
        bad.append(f"{n}: {m.group(1)} twice in [{sec}]")
    seen.add((sec, m.group(1)))
for s in ("Unit", "Service", "Install"):
    if not any(k[0] == s for k in seen):
        bad.append(f"no [{s}] section")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
check "unit: syntax (sections, key=value, no duplicate key)" python3 "$T_TMP/unitlint.py" "$UNIT"
check "controld unit: syntax" python3 "$T_TMP/unitlint.py" "$CUNIT"
sed 's/^ProtectHome=yes/ProtectHome=yes\nProtectHome=no/' "$UNIT" >"$T_TMP/dup.service"
check "unit: the syntax check catches a duplicate key" eval '! python3 "$T_TMP/unitlint.py" "$T_TMP/dup.service"'

# systemd-analyze verify wants the executables to exist: verify a copy
# whose paths point into DESTDIR. It exits 0 on unknown keys and bad
# values, so any output counts as a failure.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T_TMP/verify"
	sed "s|$sbindir/|$DEST$sbindir/|g" "$UNIT" >"$T_TMP/verify/plainsight-dp.service"
	sa_verify() { out=$(systemd-analyze verify "$1" 2>&1) && [ -z "$out" ] || { echo "$out"; return 1; }; }
	check "unit: systemd-analyze verify is silent" sa_verify "$T_TMP/verify/plainsight-dp.service"
	sed 's/^ProtectHome=yes/ProtectHome=maybe/' "$T_TMP/verify/plainsight-dp.service" >"$T_TMP/verify/bad.service"
	check "unit: systemd-analyze verify flags a bad value" eval '! sa_verify "$T_TMP/verify/bad.service"'
	sed "s|$sbindir/|$DEST$sbindir/|g" "$CUNIT" >"$T_TMP/verify/plainsight-controld.service"
	check "controld unit: systemd-analyze verify is silent" \
		sa_verify "$T_TMP/verify/plainsight-controld.service"
else
	t_ok "unit: systemd-analyze verify # SKIP systemd-analyze not installed"
fi

# The installed data plane accepts the unit's ExecStartPre, and runs with
# the unit's capabilities (as root, bounding set cut to them, no new
# privileges) on af_packet ports in a namespace of its own.
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add psa0 type veth peer name psa1
ip -n "$NS" link add psb0 type veth peer name psb1
for i in psa0 psa1 psb0 psb1; do ip -n "$NS" link set "$i" up; done
cat >"$T_TMP/dp.json" <<EOF
{
	"lcores": {"main": 0, "workers": [1]},
	"eal": {"memory_mb": 256, "hugepages": false, "file_prefix": "ps-deploy-$$"},
	"mempool": {"mbufs": 2047, "cache": 64},
	"ports": [
		{"name": "net-a", "device": "net_af_packet0,iface=psa0", "role": "net", "segment": "s0", "side": "a"},
		{"name": "net-b", "device": "net_af_packet1,iface=psb0", "role": "net", "segment": "s0", "side": "b"}
	],
	"control": {"socket": "$T_TMP/dp.sock"}
}
EOF
check "installed plainsight-dp accepts the unit's ExecStartPre" \
	"$DEST$sbindir/plainsight-dp" --check --config "$T_TMP/dp.json"
bset=$(key CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
run_capped() {	# bounding-set
	local log=$T_TMP/capped.log
	ip netns exec "$NS" setpriv --bounding-set="-all,$1" --no-new-privs \
		"$DEST$sbindir/plainsight-dp" --config "$T_TMP/dp.json" >"$log" 2>&1 &
	local pid=$! up=0 i
	T_PIDS+=("$pid")
	for i in $(seq 300); do
		if "$DEST$bindir/plainsight-ctl" --socket "$T_TMP/dp.sock" status >/dev/null 2>&1; then
			up=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null && echo "plainsight-dp ignored SIGTERM for 10 s"
	wait "$pid"
	local rc=$?
	[ "$up" = 1 ] && [ "$rc" = 0 ] || { echo "up=$up exit=$rc"; tail -5 "$log"; return 1; }
}
check "plainsight-dp runs and stops cleanly with only the unit's capabilities ($bset)" run_capped "$bset"
check "... cannot open af_packet ports without CAP_NET_RAW" eval \
	'! run_capped "${bset/,+net_raw/}" && grep -q "Could not open AF_PACKET socket" "$T_TMP/capped.log"'
check "... nor start them without CAP_NET_ADMIN (promiscuous mode, MAC)" eval \
	'! run_capped "${bset/+net_admin,/}" && grep -q "Operation not permitted" "$T_TMP/capped.log"'

exit $((T_FAILED > 0))
