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
  # Leak checking stays on: Mesa, the loader and the validation layer report no leaks here.
  # FOVEA_TEST_QUICK trims test_ops to the first cases of each op family (see test_ops.c).
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 FOVEA_TEST_QUICK=1 \
    ctest --output-on-failure)
fi
