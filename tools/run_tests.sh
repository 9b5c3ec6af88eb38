#!/usr/bin/env bash
# Builds Fovea with warnings as errors and runs the test suite with the Khronos validation layer
# on (ctest sets FOVEA_VALIDATE=1). With --sanitize, also builds and runs it under ASan+UBSan.
# Build trees: build/ (release) and build-asan/ (sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFOVEA_WERROR=ON
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure)
if [ "${1:-}" = "--sanitize" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFOVEA_SANITIZE=ON -DFOVEA_WERROR=ON
  cmake --build build-asan -j"$jobs"
  # Mesa and the Vulkan loader keep a few allocations for the process lifetime; leak checking
  # would report theirs, not ours. Everything else ASan and UBSan find fails the run.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure)
fi
