#!/usr/bin/env bash
# The README's second command: installs what is missing, then builds and runs every test —
# unit tests and examples in a normal (Debug) build, the unit tests again under
# AddressSanitizer+UndefinedBehaviorSanitizer and under ThreadSanitizer — and builds a consumer
# project against the installed package.
#   build/test.sh            everything
#   build/test.sh dev        only the given presets (dev, asan, tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(dev asan tsan)
jobs=$(nproc)

for preset in "${presets[@]}"; do
  echo "=== ${preset}: configure, build, test"
  extra=()
  # The sanitizer builds run the unit tests; the examples run in the dev build.
  [ "$preset" = dev ] || extra=(-DJOBS_BUILD_EXAMPLES=OFF)
  cmake --preset "$preset" "${extra[@]}" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  ctest --preset "$preset" -j"$jobs"
done

if [[ " ${presets[*]} " == *" dev "* ]]; then
  echo "=== consumer: find_package(jobs) from the installed package"
  prefix="$PWD/build/dev/install"
  rm -rf "$prefix" build/dev/consumer
  cmake --install build/dev --prefix "$prefix" >/dev/null
  cmake -S test/consumer -B build/dev/consumer -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build/dev/consumer -j"$jobs"
  build/dev/consumer/consumer
fi
echo "=== all tests passed"
