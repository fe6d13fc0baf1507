#!/usr/bin/env bash
# Build plainsight (release-like build in build/). Installs missing packages.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ps_install_deps
ps_build "$PS_ROOT/build"
echo "built: $PS_ROOT/build/dataplane/dpdk/plainsight-dp $PS_ROOT/build/control/plainsight-ctl"
