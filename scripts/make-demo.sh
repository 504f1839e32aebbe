#!/usr/bin/env bash
# Render the demo conversation's clips (16 kHz mono 16-bit WAV): Mandarin turns with the
# project's neural voice (`xiaoan say`), the Cantonese turn with espeak-ng `yue`.
# They are synthetic speech: the demo shows the pipeline, not real dialect accuracy.
# Needs `make setup` (the binary and the voice).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/tests/fixtures/demo"
xiaoan="${CARGO_TARGET_DIR:-$here/target}/release/xiaoan"
[ -x "$xiaoan" ] || { echo "make-demo: $xiaoan is not built (run make setup)" >&2; exit 1; }
mkdir -p "$out"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
render() { # file text
  "$xiaoan" say "$2" --rate "${RATE:-140}" --out "$tmp/x.wav" >/dev/null
  sox "$tmp/x.wav" -r 16000 -c 1 -b 16 "$out/$1" pad 0.3 0.5
}
render_yue() { # file text
  espeak-ng -v yue -s "${RATE:-150}" -w "$tmp/x.wav" "$2"
  sox "$tmp/x.wav" -r 16000 -c 1 -b 16 "$out/$1" pad 0.3 0.5
}
render 01-hello.wav "你好小安"
render 02-senior-card.wav "老年人优待卡怎么办"
render 03-repeat.wav "再说一遍"
render 04-slower.wav "说慢一点"
render_yue 05-yue-senior-card.wav "我想問下長者卡點樣辦"
render 06-certificate.wav "我要开一个居住证明"
render 07-name.wav "我叫王小明"
render 08-kind.wav "我要居住证明"
render 09-purpose.wav "孩子上学用"
render 10-address.wav "三号楼五零二室"
render 11-yes.wav "对，没错"
render 12-agree.wav "同意"
render 13-dispute.wav "楼上天天半夜吵，想找人调解"
echo "demo clips written to $out"
