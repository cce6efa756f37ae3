#!/usr/bin/env bash
# Sets up, builds and runs monobody on the bundled demo photo (examples/data/messi5.jpg): people and 2D
# keypoints -> 3D joints -> body model -> JSON, pictures, meshes and a 3D viewer. Outputs go to out/demo/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release
bin="$root/build/apps/monobody/monobody"
out="$root/out/demo"
"$bin" run "$root/examples/data/messi5.jpg" -o "$out"
echo "demo: open $out/messi5.html (3D viewer, works offline); pictures $out/messi5.overlay.png and"
echo "      $out/messi5.side.png; 3D people in $out/messi5.json, meshes $out/messi5.person0.obj and $out/messi5.glb"
