#!/usr/bin/env bash
# Sets up, builds and runs monobody on the bundled demo photo (examples/data/messi5.jpg).
# Outputs go to out/demo/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
MONOBODY_BUILD_TESTS="${MONOBODY_BUILD_TESTS:-}" "$root/scripts/build.sh" release
mkdir -p "$root/out/demo"
"$root/build/apps/monobody/monobody" --version
echo "demo: the detection stage is not built yet; see the README's status table."
