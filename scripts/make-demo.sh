#!/usr/bin/env bash
# Render the demo conversation's clips with espeak-ng (16 kHz mono 16-bit WAV).
# They are synthetic speech; the demo shows the pipeline, not real dialect accuracy.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/demo"
mkdir -p "$out"
render() { # file voice text
  local tmp; tmp="$(mktemp --suffix=.wav)"
  espeak-ng -v "$2" -s "${RATE:-150}" -g "${GAP:-12}" -w "$tmp" "$3"
  sox "$tmp" -r 16000 -c 1 -b 16 "$out/$1" pad 0.3 0.5
  rm -f "$tmp"
}
M=cmn-latn-pinyin
render 01-hello.wav $M "你好小安"
render 02-senior-card.wav $M "老年人优待卡怎么办"
render 03-repeat.wav $M "再说一遍"
render 04-slower.wav $M "说慢一点"
render 05-yue-senior-card.wav yue "我想問下長者卡點樣辦"
render 06-certificate.wav $M "我要开一个居住证明"
render 07-name.wav $M "我叫王小明"
render 08-kind.wav $M "居住证明"
render 09-purpose.wav $M "孩子上学用"
render 10-address.wav $M "三号楼五零二室"
render 11-yes.wav $M "对的"
render 12-agree.wav $M "同意"
render 13-dispute.wav $M "楼上天天半夜吵，想找人调解"
echo "demo clips written to $out"
