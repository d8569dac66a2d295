#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the demo (a live
# dashboard of a mix of jobs; see example/demo/main.cpp). Arguments go to the demo:
#   build/demo.sh [--jobs N] [--seconds S] [--plain]
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh
cmake --preset release -DJOBS_BUILD_TESTS=OFF -DJOBS_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target demo >/dev/null
exec build/release/example/demo "$@"
