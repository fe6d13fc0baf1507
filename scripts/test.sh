#!/usr/bin/env bash
# plainsight's test command: installs what is missing, builds, runs every
# test layer and ends with "N passed, N failed" (exit 1 if anything failed).
#
#   scripts/test.sh            everything
#   PS_FUZZ_SECONDS=60 scripts/test.sh    longer fuzz runs (default 15 s each)
#   PS_LAYERS="unit integ" scripts/test.sh  a subset: unit asan fuzz integ e2e
set -uo pipefail
. "$(dirname "$0")/lib.sh"

LAYERS=${PS_LAYERS:-unit asan fuzz integ e2e}
FUZZ_SECONDS=${PS_FUZZ_SECONDS:-15}
PASSED=0
FAILED=0
LOGDIR=$PS_ROOT/build-logs
mkdir -p "$LOGDIR"

has_layer() { [[ " $LAYERS " == *" $1 "* ]]; }
pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

# Run one cmocka program and count its test cases.
run_cmocka() {	# label exe workdir
	local label=$1 exe=$2 wd=$3 log p f
	log=$LOGDIR/$label-$(basename "$exe").log
	(cd "$wd" && "$exe") >"$log" 2>&1
	local rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0}
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	if [ "$rc" -ne 0 ] || [ "$p" -eq 0 ]; then
		[ "$f" -eq 0 ] && FAILED=$((FAILED + 1))
		echo "FAIL: $label $(basename "$exe") (exit $rc), log: $log"
		grep -E 'FAILED|ERROR|runtime error|Sanitizer' "$log" | head -20
	fi
	printf '%-6s %-28s %3s passed %3s failed\n' "$label" "$(basename "$exe")" "$p" "$f"
}

# Run a script that prints "ok - ..." / "not ok - ..." lines.
run_script() {	# label script
	local label=$1 script=$2 log p f rc
	log=$LOGDIR/$label-$(basename "$script" .sh).log
	timeout 900 bash "$script" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		FAILED=$((FAILED + 1))
		echo "FAIL: $script exited $rc without a failed check"
	fi
	printf '%-6s %-28s %3s passed %3s failed\n' "$label" "$(basename "$script")" "$p" "$f"
	if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
		grep -A12 '^not ok ' "$log" | head -60
		echo "  log: $log"
	fi
}

ps_install_deps

echo "== build"
ps_build "$PS_ROOT/build"
UNIT_TESTS=(test_proto test_csum test_config test_flow test_tcp test_tcp_net test_proxy test_tool test_tls_hello test_tls_conn test_tls_forge test_webpki test_tls_flow test_policy)

if has_layer unit; then
	echo "== unit"
	for t in "${UNIT_TESTS[@]}"; do
		run_cmocka unit "$PS_ROOT/build/tests/unit/$t" "$PS_ROOT/tests/unit"
	done
fi

if has_layer asan; then
	echo "== unit under AddressSanitizer + UndefinedBehaviorSanitizer"
	ps_build "$PS_ROOT/build-san" -Dprograms=false -Db_sanitize=address,undefined -Db_lundef=false
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	for t in "${UNIT_TESTS[@]}"; do
		run_cmocka asan "$PS_ROOT/build-san/tests/unit/$t" "$PS_ROOT/tests/unit"
	done
fi

if has_layer fuzz; then
	echo "== fuzz (${FUZZ_SECONDS} s per harness)"
	CC=clang ps_build "$PS_ROOT/build-fuzz" -Dfuzz=true
	for fz in "$PS_ROOT"/build-fuzz/tests/fuzz/fuzz_*; do
		[ -f "$fz" ] && [ -x "$fz" ] || continue
		name=$(basename "$fz")
		corpus=$(mktemp -d)
		seeds=$PS_ROOT/tests/fuzz/corpus/${name#fuzz_}
		log=$LOGDIR/fuzz-$name.log
		if "$fz" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$LOGDIR/$name-" "$corpus" \
			$( [ -d "$seeds" ] && echo "$seeds" ) >"$log" 2>&1; then
			pass
			printf '%-6s %-28s ok (%s)\n' fuzz "$name" \
				"$(grep -o 'Done [0-9]* runs' "$log" | tail -1)"
		else
			fail "fuzz $name found a crash, see $log"
			grep -E 'ERROR|runtime error|SUMMARY' "$log" | head -10
		fi
		rm -rf "$corpus"
	done
fi

if has_layer integ; then
	echo "== integration"
	for s in "$PS_ROOT"/tests/integ/test_*.sh; do
		run_script integ "$s"
	done
fi

if has_layer e2e; then
	echo "== end to end"
	for s in "$PS_ROOT"/tests/e2e/test_*.sh; do
		run_script e2e "$s"
	done
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
