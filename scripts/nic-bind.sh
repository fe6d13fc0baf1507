#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Hand NICs to the data plane (bind to vfio-pci) and give them back to the
# kernel, wrapping DPDK's dpdk-devbind.py (Debian package "dpdk").
#
# Before anything runs, every device is checked: the address must exist and
# be a network controller, and a NIC whose interface (or the bond or bridge
# it belongs to) carries the default route or a global address is refused:
# that is the management port, and binding it cuts the box off the network.
# The kernel driver a NIC had is recorded at bind time, so that unbind puts
# it back. With --dry-run the commands are printed, one per line on stdout,
# and none runs. Notes and warnings go to stderr. See docs/deploy.md.
#
# Exit: 0 done, 1 refused or failed, 2 usage.
#
# Environment: PS_NIC_STATE_DIR (default /var/lib/plainsight/nic-bind)
# holds the recorded drivers; PS_SYSFS (default /sys) is where devices are
# looked up, for tests on a fake tree (the commands still act on /sys).
set -euo pipefail

prog=${0##*/}
DEVBIND=dpdk-devbind.py
SYS=${PS_SYSFS:-/sys}
STATE=${PS_NIC_STATE_DIR:-/var/lib/plainsight/nic-bind}
DPDK_DRIVERS=" vfio-pci uio_pci_generic igb_uio "

usage() {
	cat >&2 <<EOF
usage: $prog [--dry-run] [--force] bind PCI...
       $prog [--dry-run] unbind PCI... [--to DRIVER]
       $prog [--dry-run] status

  bind PCI...      give the NICs to the data plane (vfio-pci; loads the
                   module when needed) and record their kernel driver
  unbind PCI...    give them back to the kernel driver recorded at bind
                   time, or to --to DRIVER ("none": leave them unbound)
  status           network devices and their drivers, and what is recorded

  PCI              DDDD:BB:DD.F or BB:DD.F, as in the configuration's
                   "device" (e.g. 0000:3b:00.0)
  --dry-run        print the commands that would run; run nothing
  --force          bind even the management interface or a device that is
                   not a network controller
EOF
	exit 2
}

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
bad() { printf '%s: %s\n' "$prog" "$*" >&2; exit 2; }
note() { printf '%s: %s\n' "$prog" "$*" >&2; }

run() {
	if [ "$dry" = 1 ]; then
		printf '%q' "$1"
		shift
		[ $# -eq 0 ] || printf ' %q' "$@"
		printf '\n'
	else
		"$@"
	fi
}

# driver_of PCI: the driver bound now, or nothing.
driver_of() {
	local l=$SYS/bus/pci/devices/$1/driver
	[ -L "$l" ] || return 0
	l=$(readlink "$l")
	echo "${l##*/}"
}

# pci_of ARG: the canonical form (0000:3b:00.0) of a PCI address, or
# nothing when ARG is not one. Same syntax as the configuration's is_pci.
pci_of() {
	local a=${1,,}
	[[ $a =~ ^([0-9a-f]{4}:)?[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$ ]] || return 0
	[ -n "${BASH_REMATCH[1]}" ] || a=0000:$a
	echo "$a"
}

# mgmt_reason PCI: why the NIC looks like the management interface (its
# interfaces, or the bond/bridge above them, with the default route or a
# global address), or nothing.
mgmt_reason() {
	local n ifc m r a why=''
	# virtio NICs have their interface one level down (virtioN/net/).
	for n in "$SYS/bus/pci/devices/$1/net"/* "$SYS/bus/pci/devices/$1"/*/net/*; do
		[ -e "$n" ] || continue
		ifc=${n##*/}
		m=$ifc
		for _ in 1 2 3; do
			r=
			if [ -n "$(ip -4 route show default dev "$m" 2>/dev/null)$(ip -6 route show default dev "$m" 2>/dev/null)" ]; then
				r="carries the default route"
			fi
			a=$(ip -o addr show dev "$m" scope global 2>/dev/null | awk '{printf " %s", $4}')
			if [ -n "$a" ]; then
				r="${r:+$r and }has address(es)$a"
			fi
			if [ -n "$r" ]; then
				if [ "$m" = "$ifc" ]; then
					why="${why:+$why; }$ifc $r"
				else
					why="${why:+$why; }$ifc is under $m, which $r"
				fi
			fi
			[ -L "$SYS/class/net/$m/master" ] || break
			m=$(readlink "$SYS/class/net/$m/master")
			m=${m##*/}
		done
	done
	echo "$why"
}

# check_dev ARG: the canonical address of an existing device, or exit.
check_dev() {
	local p hint=
	p=$(pci_of "$1")
	if [ -z "$p" ]; then
		if [ -e "$SYS/class/net/$1/device" ]; then
			# The PCI device is the nearest PCI-looking component of
			# the path (virtio NICs hang one level below theirs).
			hint=$(readlink -f "$SYS/class/net/$1/device" | tr / '\n' |
				grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -1)
			[ -z "$hint" ] || hint=" (interface $1 is $hint)"
		fi
		bad "'$1' is not a PCI address: expected DDDD:BB:DD.F or BB:DD.F$hint"
	fi
	[ -e "$SYS/bus/pci/devices/$p" ] ||
		die "$p: no such PCI device (not in $SYS/bus/pci/devices; '$prog status' lists the NICs)"
	echo "$p"
}

dry=0 force=0 to='' cmd='' args=()
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run|-n) dry=1 ;;
	--force|-f) force=1 ;;
	--to) [ $# -ge 2 ] || usage; to=$2; shift ;;
	--to=*) to=${1#*=} ;;
	-h|--help) usage ;;
	-*) note "unknown option $1"; usage ;;
	*) if [ -z "$cmd" ]; then cmd=$1; else args+=("$1"); fi ;;
	esac
	shift
done
case $cmd in
bind|unbind) [ ${#args[@]} -gt 0 ] || { note "$cmd needs at least one PCI address"; usage; } ;;
status) [ ${#args[@]} -eq 0 ] || { note "status takes no argument"; usage; } ;;
'') usage ;;
*) note "unknown command '$cmd'"; usage ;;
esac
[ -z "$to" ] || [ "$cmd" = unbind ] || bad "--to applies to unbind only"
[ "$force" = 0 ] || [ "$cmd" = bind ] || bad "--force applies to bind only"
if [ -n "$to" ] && ! [[ $to =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
	bad "--to: '$to' is not a driver name"
fi
command -v "$DEVBIND" >/dev/null || die "$DEVBIND not found: install Debian's dpdk package (apt-get install dpdk)"
if [ "$dry" = 0 ] && [ "$cmd" != status ] && [ "$(id -u)" != 0 ]; then
	die "$cmd needs root (--dry-run shows the commands)"
fi

# Check every device before touching any, so that a refusal leaves all of
# them as they were.
devs=()
for a in "${args[@]}"; do
	p=$(check_dev "$a") || exit $?
	case " ${devs[*]} " in *" $p "*) continue ;; esac
	devs+=("$p")
done

failed=0
case $cmd in
status)
	run "$DEVBIND" --status-dev net
	if [ "$dry" = 0 ] && [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ]; then
		echo
		echo "Kernel drivers recorded by $prog (unbind restores them, $STATE):"
		for f in "$STATE"/*; do
			printf '%s drv=%s now=%s\n' "${f##*/}" "$(cat "$f")" "$(driver_of "${f##*/}")"
		done
	fi
	;;
bind)
	todo=()
	for p in "${devs[@]}"; do
		cur=$(driver_of "$p")
		if [ "$cur" = vfio-pci ]; then
			note "$p: already bound to vfio-pci"
			continue
		fi
		class=$(cat "$SYS/bus/pci/devices/$p/class" 2>/dev/null || echo unknown)
		if [[ $class != 0x02* ]]; then
			[ "$force" = 1 ] || die "$p: refusing: class $class is not a network controller (0x02xxxx); --force binds it anyway"
			note "warning: $p: class $class is not a network controller; binding it (--force)"
		fi
		why=$(mgmt_reason "$p")
		if [ -n "$why" ]; then
			[ "$force" = 1 ] ||
				die "$p: refusing: $why. This looks like the management interface: binding it to vfio-pci takes it from the kernel, and remote access with it. Use another port, or --force."
			note "warning: $p: $why; binding it anyway (--force)"
		fi
		if [ ! -e "$SYS/bus/pci/devices/$p/iommu_group" ]; then
			note "warning: $p: no IOMMU group: vfio-pci will refuse it unless the IOMMU is on (intel_iommu=on or amd_iommu=on, and iommu=pt, on the kernel command line) or vfio's unsafe no-IOMMU mode is enabled"
		fi
		todo+=("$p")
	done
	[ ${#todo[@]} -gt 0 ] || exit 0
	[ -d "$SYS/bus/pci/drivers/vfio-pci" ] || run modprobe vfio-pci
	for p in "${todo[@]}"; do
		cur=$(driver_of "$p")
		fresh=0
		if [ "$dry" = 1 ]; then
			note "dry run: would record that $p was bound to ${cur:-no driver}"
		elif [ ! -e "$STATE/$p" ]; then
			fresh=1
			# Recorded before the bind: a failure half-way still
			# leaves the way back. An existing record is older, and
			# so is the driver it names.
			mkdir -p "$STATE"
			echo "${cur:-none}" >"$STATE/$p"
		fi
		if [ "$force" = 1 ]; then
			run "$DEVBIND" --force --bind=vfio-pci "$p" || true
		else
			run "$DEVBIND" --bind=vfio-pci "$p" || true
		fi
		[ "$dry" = 0 ] || continue
		now=$(driver_of "$p")
		if [ "$now" != vfio-pci ]; then
			note "$p: binding to vfio-pci failed (driver: ${now:-none}); the kernel log (dmesg) says why"
			[ "$fresh" = 0 ] || [ "$now" != "$cur" ] || rm -f "$STATE/$p"
			failed=1
		else
			note "$p: bound to vfio-pci (was ${cur:-unbound})"
		fi
	done
	;;
unbind)
	todo=() targets=()
	for p in "${devs[@]}"; do
		cur=$(driver_of "$p")
		if [[ $DPDK_DRIVERS != *" $cur "* ]]; then
			note "$p: not bound to a DPDK driver (driver: ${cur:-none}); nothing to do"
			continue
		fi
		t=$to
		if [ -z "$t" ]; then
			[ -r "$STATE/$p" ] ||
				die "$p: no kernel driver recorded for it (it was not bound by $prog); give one with --to DRIVER (ixgbe, i40e, ice, mlx5_core, ...)"
			t=$(cat "$STATE/$p")
			[[ $t =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "$p: bad record in $STATE/$p ('$t'); give --to DRIVER"
		fi
		todo+=("$p")
		targets+=("$t")
	done
	for i in "${!todo[@]}"; do
		p=${todo[$i]} t=${targets[$i]}
		if [ "$t" = none ]; then
			run "$DEVBIND" --unbind "$p" || true
		else
			[ -d "$SYS/bus/pci/drivers/$t" ] || run modprobe "$t"
			run "$DEVBIND" --bind="$t" "$p" || true
		fi
		if [ "$dry" = 1 ]; then
			note "dry run: would forget the record of $p"
			continue
		fi
		now=$(driver_of "$p")
		if { [ "$t" = none ] && [ -z "$now" ]; } || [ "$now" = "$t" ]; then
			rm -f "$STATE/$p"
			note "$p: bound to ${now:-no driver}"
		else
			note "$p: giving it to $t failed (driver: ${now:-none}); the kernel log (dmesg) says why"
			failed=1
		fi
	done
	;;
esac
[ "$dry" = 0 ] || [ "$cmd" = status ] || note "dry run: nothing changed"
exit "$failed"
