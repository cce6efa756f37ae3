#!/usr/bin/env bash
# Builds the model-reader fuzzer with clang (libFuzzer + ASan + UBSan) in build-fuzz/ and runs it for a
# time budget. Usage: src/nn/fuzz.sh [SECONDS]  (default 60). Exits non-zero on any finding; the
# crashing input is left in build-fuzz/ for reproduction: build-fuzz/src/nn/monobody_nn_fuzz FILE
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-60}"
dir="$root/build-fuzz"
command -v clang++ >/dev/null || { echo "fuzz: clang++ not installed (Debian packages clang, libclang-rt-dev)" >&2; exit 1; }
cmake -S "$root" -B "$dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMONOBODY_FUZZ=ON \
  -DMONOBODY_BUILD_TESTS=OFF -DMONOBODY_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" --target monobody_nn_fuzz monobody_nn_fuzz_seeds -j "${MONOBODY_JOBS:-$(nproc)}"
corpus="$dir/fuzz-corpus"
mkdir -p "$corpus"
"$dir/src/nn/monobody_nn_fuzz_seeds" "$corpus"
cd "$dir"
"$dir/src/nn/monobody_nn_fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus"
