#!/usr/bin/env bash
# Configures and builds monobody. Usage: scripts/build.sh [release|asan]  (default release)
#   release -> build/        optimised, with tests and benchmarks
#   asan    -> build-asan/   Debug (assertions on) with AddressSanitizer + UndefinedBehaviorSanitizer, at -O1:
#                            Eigen and Ceres at -O0 made the sanitized tests ~8x slower than needed; -g1
#                            keeps file:line in the sanitizers' stack traces at a fraction of -g's build time
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-release}"
jobs="${MONOBODY_JOBS:-$(nproc)}"
case "$kind" in
  release) dir="$root/build"; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir="$root/build-asan"
        flags=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DMONOBODY_SANITIZE=ON -DMONOBODY_BUILD_BENCH=OFF) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
