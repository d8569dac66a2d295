#!/usr/bin/env bash
# Installs what is missing, builds quote_service (Release) and runs it in the foreground; it
# starts its flaky upstream itself. Ctrl-C or SIGTERM drains and exits 0. Arguments go to it:
#   build/server.sh [--port 8080] [--upstream-fail-rate 0.2] [--upstream-latency-ms 10] ...
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh
cmake --preset release -DJOBS_BUILD_TESTS=OFF -DJOBS_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target quote_service >/dev/null
exec build/release/example/server/quote_service "$@"
