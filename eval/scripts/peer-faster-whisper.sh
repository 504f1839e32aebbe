#!/usr/bin/env bash
# Side by side: Xiao'an's recogniser against the peer, Python faster-whisper, on the
# same manifest and the same Whisper base weights (the CTranslate2 model the set-up
# unpacked), on this machine, in one run.
#
#   eval/scripts/peer-faster-whisper.sh [MANIFEST] [OUT_DIR]
#
# MANIFEST  evaluation-contract manifest (default tests/fixtures/manifest.jsonl)
# OUT_DIR   where the peer's predictions and the run's log go (default out/peer)
#
# The peer runs in two configurations (the issue's):
#   careful  faster-whisper's defaults (beam 5, temperature fallback 0.0..1.0)
#   fast     one temperature, 0 (no fallback)
# both on cpu, int8, $PEER_THREADS threads (default 2), language zh. Ours:
# `xiaoan bench asr` with $XIAOAN_ENGINES (default onnx,whisper:f16,whisper:q8_0,candle),
# once per config file in $XIAOAN_CONFIGS (space-separated; default: the usual config),
# e.g. one with a greedy final and one with `[asr.final]` beam search and language model:
# each row's engine label names the final's search (`onnx/beam5+lm0.3`).
# Both sides are scored by the same code: the peer's transcripts are written as
# predictions and scored by `xiaoan bench asr --score` (the project's CER: Traditional
# -> Simplified, full-width folding, punctuation and spaces removed).
#
# faster-whisper is installed with pip (a pinned version) into a venv under
# $XIAOAN_CACHE the first time; it is only the peer, never part of the product.
# Environment: XIAOAN_HOME, XIAOAN_CACHE, XIAOAN_BIN (default target/release/xiaoan,
# honouring CARGO_TARGET_DIR), PEER_THREADS, XIAOAN_ENGINES, XIAOAN_CONFIGS.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
manifest="${1:-$here/tests/fixtures/manifest.jsonl}"
out="${2:-$here/out/peer}"
XIAOAN_HOME="${XIAOAN_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/xiaoan}"
XIAOAN_CACHE="${XIAOAN_CACHE:-$XIAOAN_HOME/cache}"
export XIAOAN_HOME XIAOAN_CACHE
bin="${XIAOAN_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/xiaoan}"
threads="${PEER_THREADS:-2}"
engines="${XIAOAN_ENGINES:-onnx,whisper:f16,whisper:q8_0,candle}"
configs="${XIAOAN_CONFIGS:-}"
fw_version="1.2.1"
ct2="$XIAOAN_HOME/models/src/whisper-base-ct2"
venv="$XIAOAN_CACHE/peer-faster-whisper/venv"

say() { printf '\033[1m[peer]\033[0m %s\n' "$*" >&2; }
die() { echo "peer-faster-whisper: $*" >&2; exit 1; }

[ -f "$manifest" ] || die "no manifest at $manifest"
[ -x "$bin" ] || die "no $bin: build it first (cargo build --release --workspace --all-features)"
[ -f "$ct2/model.bin" ] || die "no CTranslate2 model in $ct2: run make setup"
PY="$(command -v python3 || true)"
[ -n "$PY" ] || die "python3 is needed to run the peer"

# ------------------------------------------------------------- the peer's venv
if ! "$venv/bin/python" -c "import faster_whisper as f; assert f.__version__ == '$fw_version'" 2>/dev/null; then
  say "installing faster-whisper==$fw_version into $venv"
  mkdir -p "$(dirname "$venv")"
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "faster-whisper==$fw_version"
fi
peer_versions="$("$venv/bin/python" -c 'import faster_whisper, ctranslate2; print(f"faster-whisper {faster_whisper.__version__}, ctranslate2 {ctranslate2.__version__}")')"

mkdir -p "$out"
log="$out/run.log"
: >"$log"

# ------------------------------------------------------------- the peer
for config in careful fast; do
  say "faster-whisper, $config configuration"
  "$venv/bin/python" "$here/eval/scripts/peer_faster_whisper.py" "$ct2" "$manifest" \
      "$out/faster-whisper-$config.jsonl" --config "$config" --threads "$threads" 2>>"$log"
done

# ------------------------------------------------------------- ours, then scoring
if [ -z "$configs" ]; then
  say "xiaoan bench asr --engines $engines"
  ours="$("$bin" bench asr "$manifest" --engines "$engines" 2>>"$log")"
else
  ours=""
  for c in $configs; do
    [ -f "$c" ] || die "no config file $c"
    say "xiaoan --config $c bench asr --engines $engines"
    ours+="$("$bin" --config "$c" bench asr "$manifest" --engines "$engines" 2>>"$log")"$'\n'
  done
fi
peer=""
for config in careful fast; do
  peer+="$("$bin" bench asr "$manifest" --score "$out/faster-whisper-$config.jsonl" \
      --label "fw-$config" 2>>"$log")"$'\n'
done
printf '%s\n%s' "$ours" "$peer" | tee -a "$log" >"$out/bench-lines.txt"

# ------------------------------------------------------------- the table
"$PY" - "$out/bench-lines.txt" "$peer_versions" "$threads" "$manifest" <<'PYEOF'
import re, sys
path, versions, threads, manifest = sys.argv[1:]
rows = {}
for line in open(path, encoding="utf-8"):
    m = re.search(r"engine=(\S+)", line)
    if not m:
        continue
    def num(rx):
        x = re.search(rx, line)
        return float(x.group(1)) if x else None
    cer_part = re.search(r"CER ([\d.]+) \(([^)]*)\)", line)
    per = {}
    if cer_part:
        for kv in cer_part.group(2).split(","):
            k, _, v = kv.strip().partition(" ")
            per[k] = float(v)
    rows[m.group(1)] = {
        "rtf": num(r"RTF p50 ([\d.]+)"),
        "final": num(r"final p50 ([\d.]+) ms"),
        "cer": float(cer_part.group(1)) if cer_part else None,
        "cmn": per.get("cmn"),
        "yue": per.get("yue"),
        "machine": re.search(r"; ([^;\]]*)\]\s*$", line).group(1) if re.search(r"; ([^;\]]*)\]\s*$", line) else "",
    }
fast, careful = rows.get("fw-fast"), rows.get("fw-careful")
f = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"
print()
print(f"Peer comparison on {manifest}")
print(f"machine: {next(iter(rows.values()))['machine'] if rows else '?'}; peer: {versions}, cpu int8, {threads} threads")
print("RTF p50 = median over clips of processing time / audio length (model loading excluded);")
print("CER = the project's (Traditional->Simplified, punctuation and spaces removed), all clips and per dialect.")
print()
hdr = f"| {'system':<14} | RTF p50 | speech end → final p50 ms | CER all | CER cmn | CER yue | speed vs fw-fast | CER vs fw-careful (cmn) |"
print(hdr)
print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
for name, r in rows.items():
    speed = (fast["rtf"] / r["rtf"]) if fast and r["rtf"] else None
    ratio = (r["cmn"] / careful["cmn"]) if careful and careful["cmn"] and r["cmn"] is not None else None
    fin = "-" if r["final"] is None else f"{r['final']:.0f}"
    print(f"| {name:<14} | {f(r['rtf']):>7} | {fin:>25} | {f(r['cer']):>7} | {f(r['cmn']):>7} | {f(r['yue']):>7} | "
          f"{('-' if speed is None else f'{speed:.2f}x faster'):>16} | {('-' if ratio is None else f'{ratio:.2f}'):>23} |")
print()
print("Goal (issue #3): speed vs fw-fast >= 2.00x faster AND CER vs fw-careful < 1.00, in one of our rows.")
PYEOF
say "peer predictions and log in $out"
