#!/usr/bin/env bash
# Render the speech fixtures under tests/fixtures/ as 16 kHz mono 16-bit WAV and write
# tests/fixtures/fixtures.tsv (file, voice, text):
#   - Mandarin with the project's neural voice (`xiaoan say`), at varied rates and pitches;
#   - Cantonese with espeak-ng `yue` (there is no neural Cantonese voice), marked as such.
# The old espeak-ng Mandarin clips stay in tests/fixtures/espeak/ as the hard case
# (`--espeak` renders them again). Needs `make setup` (the binary and the voice).
# Re-running rewrites the same files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/tests/fixtures"
xiaoan="${CARGO_TARGET_DIR:-$here/target}/release/xiaoan"
command -v sox >/dev/null || { echo "make-fixtures: sox is not installed" >&2; exit 1; }
command -v espeak-ng >/dev/null || { echo "make-fixtures: espeak-ng is not installed" >&2; exit 1; }
[ -x "$xiaoan" ] || { echo "make-fixtures: $xiaoan is not built (run make setup)" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

if [ "${1:-}" = "--espeak" ]; then
  dir="$out/espeak"; mkdir -p "$dir"
  printf 'file\tvoice\ttext\n' > "$dir/fixtures.tsv"; : > "$dir/manifest.jsonl"
  while IFS=$'\t' read -r name text; do
    espeak-ng -v cmn-latn-pinyin -s 150 -w "$tmp/$name.wav" "$text"
    sox "$tmp/$name.wav" -r 16000 -c 1 -b 16 "$dir/$name.wav"
    printf '%s.wav\tcmn-latn-pinyin\t%s\n' "$name" "$text" >> "$dir/fixtures.tsv"
    printf '{"id": "%s", "audio": "%s.wav", "dialect": "cmn", "transcript": "%s"}\n' "$name" "$name" "$text" >> "$dir/manifest.jsonl"
  done <<'ITEMS'
cmn-shebaoka	我想办理社保卡
cmn-youdaika	老年人优待卡怎么办
cmn-juzhuzheng	居住证需要带什么材料
cmn-tiaojie	楼上天天半夜吵，想找人调解
cmn-yibao	医保报销要去哪个窗口
ITEMS
  echo "make-fixtures: espeak-ng hard case written to $dir"
  exit 0
fi

# file            dialect rate pitch text
items=(
  "cmn-shebaoka    cmn 150 50 我想办理社保卡"
  "cmn-youdaika    cmn 135 44 老年人优待卡怎么办"
  "cmn-juzhuzheng  cmn 165 56 居住证需要带什么材料"
  "cmn-tiaojie     cmn 140 50 楼上天天半夜吵，想找人调解"
  "cmn-yibao       cmn 160 40 医保报销要去哪个窗口"
  "yue-zhangzheka  yue 150 50 我想問下點樣辦長者卡"
)
tsv="$out/fixtures.tsv"
manifest="$out/manifest.jsonl"
printf 'file\tvoice\ttext\n' > "$tsv"
: > "$manifest"
for it in "${items[@]}"; do
  read -r name dialect rate pitch text <<<"$it"
  if [ "$dialect" = yue ]; then
    voice=yue
    espeak-ng -v yue -s "$rate" -p "$pitch" -w "$tmp/$name.wav" "$text"
  else
    voice=neural
    "$xiaoan" say "$text" --dialect "$dialect" --rate "$rate" --pitch "$pitch" --out "$tmp/$name.wav" >/dev/null
  fi
  # a little silence around the speech, as a microphone would hear it
  sox "$tmp/$name.wav" -r 16000 -c 1 -b 16 "$out/$name.wav" pad 0.2 0.4
  printf '%s.wav\t%s\t%s\n' "$name" "$voice" "$text" >> "$tsv"
  printf '{"id": "%s", "audio": "%s.wav", "dialect": "%s", "transcript": "%s"}\n' "$name" "$name" "$dialect" "$text" >> "$manifest"
done
echo "make-fixtures: wrote ${#items[@]} clips to $out (Mandarin: neural voice; Cantonese: espeak-ng yue)"
