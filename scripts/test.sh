#!/usr/bin/env bash
# Sets up, builds and runs every test: the optimised build, then the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, then a short libFuzzer run on the model reader.
# This is what CI runs (.ci/run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
jobs="${MONOBODY_JOBS:-$(nproc)}"

echo "== release build and tests"
"$root/scripts/build.sh" release
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

echo "== ASan/UBSan build and tests"
"$root/scripts/build.sh" asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs"

echo "== fuzzing the TFLite model reader (libFuzzer, 60 s)"
"$root/src/nn/fuzz.sh" 60
