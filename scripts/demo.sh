#!/usr/bin/env bash
# Sets up, builds and runs monobody on the bundled demo photo (examples/data/messi5.jpg):
# 2D people and keypoints -> 3D joints -> body model. Outputs go to out/demo/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
bin="$root/build/apps/monobody/monobody"
out="$root/out/demo"
mkdir -p "$out"
"$bin" detect "$root/examples/data/messi5.jpg" -o "$out"
"$bin" lift "$out/messi5.json" -o "$out/messi5_3d.json"
"$bin" fit "$out/messi5_3d.json" --image "$root/examples/data/messi5.jpg" -o "$out/body"
echo "demo: see $out/messi5.overlay.png (2D), $out/messi5_3d.json (3D joints), $out/body/overlay.png (body)"
