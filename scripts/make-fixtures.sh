#!/usr/bin/env bash
# Render the speech fixtures under tests/fixtures/ with espeak-ng, as 16 kHz mono
# 16-bit WAV (sox), and write tests/fixtures/fixtures.tsv (file, voice, text).
# Re-running rewrites the same files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/tests/fixtures"
mkdir -p "$out"
command -v espeak-ng >/dev/null || { echo "make-fixtures: espeak-ng is not installed" >&2; exit 1; }
command -v sox >/dev/null || { echo "make-fixtures: sox is not installed" >&2; exit 1; }

# file            voice             text
items=(
  "cmn-shebaoka    cmn-latn-pinyin  我想办理社保卡"
  "cmn-youdaika    cmn-latn-pinyin  老年人优待卡怎么办"
  "cmn-juzhuzheng  cmn-latn-pinyin  居住证需要带什么材料"
  "cmn-tiaojie     cmn-latn-pinyin  楼上天天半夜吵，想找人调解"
  "cmn-yibao       cmn-latn-pinyin  医保报销要去哪个窗口"
  "yue-zhangzheka  yue              我想問下點樣辦長者卡"
)
tsv="$out/fixtures.tsv"
printf 'file\tvoice\ttext\n' > "$tsv"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for it in "${items[@]}"; do
  read -r name voice text <<<"$it"
  espeak-ng -v "$voice" -s 150 -w "$tmp/$name.wav" "$text"
  sox "$tmp/$name.wav" -r 16000 -c 1 -b 16 "$out/$name.wav"
  printf '%s.wav\t%s\t%s\n' "$name" "$voice" "$text" >> "$tsv"
done
echo "make-fixtures: wrote $(( ${#items[@]} )) clips to $out"
