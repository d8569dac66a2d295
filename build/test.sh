#!/usr/bin/env bash
# The README's second command: installs what is missing, then builds and runs every test —
# unit tests and examples in a normal (Debug) build, the unit tests again under
# AddressSanitizer+UndefinedBehaviorSanitizer and under ThreadSanitizer, the libFuzzer targets
# (clang++; job_fuzz 60 s, selector_fuzz 30 s, http_router_fuzz 20 s) from their committed corpora — and builds a
# consumer project against the installed package; example/server's load test (wrk) runs once,
# in a Release build.
#   build/test.sh            everything
#   build/test.sh dev        only the given presets (dev, asan, tsan, fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(dev asan tsan fuzz)
jobs=$(nproc)

if [[ " ${presets[*]} " == *" fuzz "* ]]; then
  build/deps.sh clang libclang-rt-14-dev  # clang++ and its libFuzzer runtime
else
  build/deps.sh
fi

for preset in "${presets[@]}"; do
  if [ "$preset" = fuzz ]; then
    echo "=== fuzz: configure, build, run job_fuzz for 60 s and selector_fuzz for 30 s"
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz --target job_fuzz selector_fuzz http_router_fuzz -j"$jobs"
    # libFuzzer adds the inputs it finds to its first corpus directory: it gets a copy, so that
    # the committed corpus stays as it is. A crash leaves its input in build/fuzz/artifacts/.
    corpus=$(mktemp -d)
    trap 'rm -rf "$corpus"' EXIT
    cp test/fuzz/corpus/* "$corpus"/
    mkdir -p build/fuzz/artifacts
    build/fuzz/test/fuzz/job_fuzz "$corpus" -max_total_time=60 -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/
    selector_corpus=$(mktemp -d)
    trap 'rm -rf "$corpus" "$selector_corpus"' EXIT
    cp test/fuzz/corpus_selector/* "$selector_corpus"/
    build/fuzz/test/fuzz/selector_fuzz "$selector_corpus" -max_total_time=30 -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/
    http_corpus=$(mktemp -d)
    trap 'rm -rf "$corpus" "$selector_corpus" "$http_corpus"' EXIT
    cp test/fuzz/corpus_http/* "$http_corpus"/
    build/fuzz/test/fuzz/http_router_fuzz "$http_corpus" -max_total_time=20 -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/
    continue
  fi
  echo "=== ${preset}: configure, build, test"
  extra=()
  # The sanitizer builds run the unit tests; the examples run in the dev build.
  # The multi-process jobs::pg tests run once, in the dev build.
  # Their test suites are compiled in batches of files (JOBS_UNITY_TESTS): half the CPU time.
  [ "$preset" = dev ] || extra=(-DJOBS_BUILD_EXAMPLES=OFF -DJOBS_PG_MULTIPROCESS_TESTS=OFF -DJOBS_UNITY_TESTS=ON)
  cmake --preset "$preset" "${extra[@]}" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  ctest --preset "$preset" -j"$jobs"
done

if [[ " ${presets[*]} " == *" dev "* ]]; then
  # Once, not under the sanitizers: wrk against quote_service built in Release (the same build
  # as build/server.sh), /quote (jobs::executor) against /bare/quote (a hand-written loop).
  echo "=== load: quote_service (Release) under wrk, 64 connections, 10 s per endpoint"
  cmake --preset release -DJOBS_BUILD_TESTS=OFF -DJOBS_BUILD_BENCH=OFF >/dev/null
  cmake --build build/release -j"$jobs" --target quote_service
  example/server/load_test.sh build/release/example/server/quote_service
  echo "=== consumer: find_package(jobs) from the installed package"
  prefix="$PWD/build/dev/install"
  rm -rf "$prefix" build/dev/consumer
  cmake --install build/dev --prefix "$prefix" >/dev/null
  cmake -S test/consumer -B build/dev/consumer -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build/dev/consumer -j"$jobs"
  build/dev/consumer/consumer
fi
echo "=== all tests passed"
