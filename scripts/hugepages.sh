#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Reserve or release the hugepages plainsight-dp runs on, and make sure a
# hugetlbfs of that page size is mounted. A thin wrapper around DPDK's
# dpdk-hugepages.py (Debian package "dpdk"): it checks the request first
# (size syntax, page size the CPU offers, pages still in use) and with
# --dry-run prints the commands, one per line on stdout, and runs none.
# Notes go to stderr. See docs/deploy.md.
#
# Exit: 0 done, 1 refused or failed, 2 usage.
set -euo pipefail

prog=${0##*/}
HP=dpdk-hugepages.py
SYS_HP=/sys/kernel/mm/hugepages

usage() {
	cat >&2 <<EOF
usage: $prog [--dry-run] [--pagesize SIZE] [--node N] [--mount-dir DIR] reserve SIZE
       $prog [--dry-run] [--pagesize SIZE] [--force] release
       $prog [--dry-run] show

  reserve SIZE     reserve SIZE of hugepages (e.g. 2G, 1024M: a whole number
                   of pages), then mount a hugetlbfs of that page size if
                   none is mounted
  release          give the hugepages back to the kernel: every page size,
                   or only --pagesize SIZE
  show             the current reservations and mounts

  --dry-run        print the commands that would run; run nothing
  --pagesize SIZE  2M (default) or 1G (if the CPU has it: "pdpe1gb")
  --node N         reserve on NUMA node N only (without it, dpdk-hugepages.py
                   reserves SIZE on every node)
  --mount-dir DIR  where to mount hugetlbfs when none of the page size is
                   mounted (default /dev/hugepages for the kernel's default
                   page size, /dev/hugepages-SIZE for another)
  --force          release even while pages are in use
EOF
	exit 2
}

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
bad() { printf '%s: %s\n' "$prog" "$*" >&2; exit 2; }
note() { printf '%s: %s\n' "$prog" "$*" >&2; }

# run CMD...: the one place a command is executed, or printed instead.
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

# to_kb SIZE: a size with a K, M or G suffix in KiB, or nothing when the
# syntax is wrong. A bare number is refused: dpdk-hugepages.py would read
# "2048" as 2048 bytes.
to_kb() {
	local n u
	[[ $1 =~ ^([0-9]{1,9})([KkMmGg])$ ]] || return 0
	n=$((10#${BASH_REMATCH[1]}))
	u=${BASH_REMATCH[2]^^}
	case $u in
	K) echo "$n" ;;
	M) echo $((n * 1024)) ;;
	G) echo $((n * 1024 * 1024)) ;;
	esac
}

# fmt_kb KB: 2048 -> 2M, 1048576 -> 1G (the form the kernel and
# dpdk-hugepages.py both accept).
fmt_kb() {
	local kb=$1
	if [ $((kb % 1048576)) -eq 0 ]; then echo "$((kb / 1048576))G"
	elif [ $((kb % 1024)) -eq 0 ]; then echo "$((kb / 1024))M"
	else echo "${kb}K"
	fi
}

# mounts_of KB: the hugetlbfs mount points of that page size, one a line.
mounts_of() {
	local dir type opts rest o
	while read -r _ dir type opts rest; do
		[ "$type" = hugetlbfs ] || continue
		for o in ${opts//,/ }; do
			if [ "${o%%=*}" = pagesize ] && [ "$(to_kb "${o#pagesize=}")" = "$1" ]; then
				printf '%b\n' "$dir"
			fi
		done
	done </proc/mounts
}

# in_use KB: pages of that size mapped by some process.
in_use() {
	local d=$SYS_HP/hugepages-${1}kB
	echo $(($(cat "$d/nr_hugepages") - $(cat "$d/free_hugepages")))
}

dry=0 force=0 pagesize='' node='' mountdir='' cmd='' args=()
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run|-n) dry=1 ;;
	--force|-f) force=1 ;;
	--pagesize|-p) [ $# -ge 2 ] || usage; pagesize=$2; shift ;;
	--pagesize=*) pagesize=${1#*=} ;;
	--node) [ $# -ge 2 ] || usage; node=$2; shift ;;
	--node=*) node=${1#*=} ;;
	--mount-dir) [ $# -ge 2 ] || usage; mountdir=$2; shift ;;
	--mount-dir=*) mountdir=${1#*=} ;;
	-h|--help) usage ;;
	-*) note "unknown option $1"; usage ;;
	*) if [ -z "$cmd" ]; then cmd=$1; else args+=("$1"); fi ;;
	esac
	shift
done

case $cmd in
reserve) [ ${#args[@]} -eq 1 ] || { note "reserve takes one SIZE"; usage; } ;;
release|show) [ ${#args[@]} -eq 0 ] || { note "$cmd takes no argument"; usage; } ;;
'') usage ;;
*) note "unknown command '$cmd'"; usage ;;
esac

page_kb=2048
if [ -n "$pagesize" ]; then
	page_kb=$(to_kb "$pagesize")
	[ -n "$page_kb" ] || bad "--pagesize: expected 2M or 1G, not '$pagesize'"
fi
[ -z "$node$mountdir" ] || [ "$cmd" = reserve ] || bad "--node and --mount-dir apply to reserve only"
[ "$force" = 0 ] || [ "$cmd" = release ] || bad "--force applies to release only"
[ -z "$pagesize" ] || [ "$cmd" != show ] || bad "--pagesize does not apply to show"
if [ -n "$node" ]; then
	[[ $node =~ ^[0-9]{1,4}$ ]] || bad "--node: expected a NUMA node number, not '$node'"
	[ -d "/sys/devices/system/node/node$node" ] || die "--node $node: no such NUMA node (see /sys/devices/system/node)"
fi
if [ -n "$mountdir" ] && [[ $mountdir != /* ]]; then
	bad "--mount-dir: expected an absolute path, not '$mountdir'"
fi
command -v "$HP" >/dev/null || die "$HP not found: install Debian's dpdk package (apt-get install dpdk)"
if [ "$cmd" = reserve ] || [ -n "$pagesize" ]; then
	if [ ! -d "$SYS_HP/hugepages-${page_kb}kB" ]; then
		die "page size $(fmt_kb "$page_kb") is not offered by this kernel/CPU (offered: $(ls "$SYS_HP" 2>/dev/null | sed 's/hugepages-//' | tr '\n' ' '))"
	fi
fi
if [ "$dry" = 0 ] && [ "$cmd" != show ] && [ "$(id -u)" != 0 ]; then
	die "$cmd needs root (--dry-run shows the commands)"
fi
ps=$(fmt_kb "$page_kb")

case $cmd in
show)
	run "$HP" --show
	;;
reserve)
	size_kb=$(to_kb "${args[0]}")
	[ -n "$size_kb" ] || bad "SIZE: expected a number with a K, M or G suffix (2G, 1024M), not '${args[0]}'"
	[ "$size_kb" -gt 0 ] || bad "SIZE: 0 reserves nothing; to give pages back use: $prog release"
	[ $((size_kb % page_kb)) -eq 0 ] ||
		bad "SIZE: ${args[0]} is not a whole number of $ps pages"
	size=$(fmt_kb "$size_kb")
	if [ -n "$node" ]; then
		run "$HP" --pagesize "$ps" --reserve "$size" --node "$node"
		where="on NUMA node $node"
	else
		run "$HP" --pagesize "$ps" --reserve "$size"
		nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
		where=$([ "$nodes" -gt 1 ] && echo "on each of the $nodes NUMA nodes" || echo "")
	fi
	mounted=$(mounts_of "$page_kb" | head -1)
	if [ -n "$mounted" ] && { [ -z "$mountdir" ] || [ "$mounted" = "$mountdir" ]; }; then
		note "$ps hugetlbfs already mounted on $mounted"
	else
		if [ -z "$mountdir" ]; then
			def_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
			if [ "$page_kb" = "$def_kb" ]; then
				mountdir=/dev/hugepages
			else
				mountdir=/dev/hugepages-$ps
			fi
		fi
		[ -d "$mountdir" ] || run mkdir -p "$mountdir"
		run mount -t hugetlbfs -o "pagesize=$ps" nodev "$mountdir"
		mounted=$mountdir
	fi
	if [ "$dry" = 1 ]; then
		note "dry run: nothing changed; would reserve $((size_kb / page_kb)) pages of $ps ($size)${where:+ $where}, hugetlbfs on $mounted"
	else
		note "reserved $((size_kb / page_kb)) pages of $ps ($size)${where:+ $where}, hugetlbfs on $mounted"
	fi
	;;
release)
	if [ -n "$pagesize" ]; then
		sizes=("$page_kb")
	else
		sizes=()
		for d in "$SYS_HP"/hugepages-*kB; do
			[ -d "$d" ] || continue
			d=${d##*/hugepages-}
			sizes+=("${d%kB}")
		done
	fi
	# A DPDK process keeps a shared lock on each page file it uses, and
	# leaves the files behind when it stops (the next start reuses or
	# removes them); until then they hold their pages. Files no process
	# holds are removed, and their pages are not counted as in use.
	busy='' stale=()
	for kb in "${sizes[@]}"; do
		held=0
		while read -r dir; do
			[ -n "$dir" ] || continue
			for f in "$dir"/*; do
				[ -f "$f" ] || continue
				flock -n -x "$f" true 2>/dev/null || continue
				stale+=("$f")
				held=$((held + ($(stat -c %s "$f") + kb * 1024 - 1) / (kb * 1024)))
			done
		done < <(mounts_of "$kb")
		n=$(($(in_use "$kb") - held))
		[ "$n" -le 0 ] || busy="$busy $n of $(fmt_kb "$kb"),"
	done
	if [ -n "$busy" ]; then
		busy=${busy%,}
		if [ "$force" = 1 ]; then
			note "warning: hugepages in use:$busy; the kernel frees them when their owner exits"
		else
			die "hugepages in use:$busy. Stop plainsight-dp first (systemctl stop plainsight-dp), or --force"
		fi
	fi
	if [ ${#stale[@]} -gt 0 ]; then
		note "${#stale[@]} page file(s) left by a stopped DPDK process: removing them"
		run rm -f -- "${stale[@]}"
	fi
	if [ -n "$pagesize" ]; then
		run "$HP" --pagesize "$ps" --reserve 0
	else
		run "$HP" --clear
	fi
	[ "$dry" = 1 ] && note "dry run: nothing changed"
	;;
esac
exit 0
