#!/usr/bin/env bash
# Engine benchmark: the TCP proxy's own cost, in memory, one core, no EAL.
#   scripts/bench/engine.sh [MB] [CONNECTIONS]     (default 1000 MB, 100000)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ps_install_deps
ps_build "$PS_ROOT/build"
exec "$PS_ROOT/build/tests/bench/bench_engine" "${1:-1000}" "${2:-100000}"
