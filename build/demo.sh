#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh
cmake --preset release -DJOBS_BUILD_TESTS=OFF -DJOBS_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target job_quick_start >/dev/null
exec build/release/example/job_quick_start "$@"
