#!/usr/bin/env bash
# Configures and builds monobody. Usage: scripts/build.sh [release|asan]  (default release)
#   release -> build/        optimised, with tests and benchmarks
#   asan    -> build-asan/   Debug with AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-release}"
jobs="${MONOBODY_JOBS:-$(nproc)}"
case "$kind" in
  release) dir="$root/build"; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir="$root/build-asan"; flags=(-DCMAKE_BUILD_TYPE=Debug -DMONOBODY_SANITIZE=ON -DMONOBODY_BUILD_BENCH=OFF) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
