"""Run the peer, Python faster-whisper (CTranslate2), over a manifest and write
predictions in the evaluation contract's format, so that `xiaoan bench asr --score`
scores them with the project's own CER (same normalisation, same edit distance).

Used by peer-faster-whisper.sh; not part of the product.

    python peer_faster_whisper.py MODEL_DIR MANIFEST OUT.jsonl --config careful|fast

Configurations (the issue's peer, measured on the same CTranslate2 weights):
  careful  faster-whisper's defaults: beam 5, temperature fallback 0.0..1.0 (best of 5
           when sampling), compression-ratio / log-prob / no-speech checks.
  fast     the same with a single temperature, 0 (decode once, no fallback).
Both: language zh (the project decodes every dialect with <|zh|>), cpu, int8, the given
thread count, no VAD filter, no word timestamps.

Timing: `elapsed_ms` covers `transcribe()` and consuming its segments (feature
extraction, encoder, decoding, fallbacks) for audio already decoded to 16 kHz samples;
model loading and file decoding are outside it, as in `xiaoan bench asr`.
"""

import argparse
import json
import os
import sys
import time


def read_manifest(path):
    items = []
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as e:
                items.append({"id": f"line-{n}", "_error": f"bad manifest line {n}: {e}"})
    return items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("manifest")
    ap.add_argument("out")
    ap.add_argument("--config", choices=["careful", "fast"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--language", default="zh")
    a = ap.parse_args()

    from faster_whisper import WhisperModel, decode_audio

    model = WhisperModel(
        a.model_dir,
        device="cpu",
        compute_type=a.compute_type,
        cpu_threads=a.threads,
        num_workers=1,
        local_files_only=True,
    )
    kwargs = {"language": a.language, "vad_filter": False, "word_timestamps": False}
    if a.config == "fast":
        kwargs["temperature"] = 0.0

    base = os.path.dirname(os.path.abspath(a.manifest))
    preds = []
    for item in read_manifest(a.manifest):
        pid = item.get("id", "")
        pred = {"id": pid, "transcript": None, "dialect": item.get("dialect"), "error": None}
        if "_error" in item:
            pred["error"] = item["_error"]
            preds.append(pred)
            continue
        if "audio" not in item:
            continue  # text items have nothing to recognise
        path = os.path.join(base, item["audio"])
        try:
            audio = decode_audio(path, sampling_rate=16000)
        except Exception as e:  # noqa: BLE001 - one bad file is that item's error
            pred["error"] = f"{path}: {e}"
            preds.append(pred)
            continue
        audio_s = len(audio) / 16000.0
        t0 = time.perf_counter()
        segments, _info = model.transcribe(audio, **kwargs)
        text = "".join(s.text for s in segments).strip()
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        pred.update(transcript=text, audio_s=round(audio_s, 3), elapsed_ms=round(elapsed_ms, 1))
        print(
            f"  {a.config:<7} {pid}: {elapsed_ms:7.0f} ms  RTF {elapsed_ms / 1000.0 / max(audio_s, 1e-3):.3f}  [{text}]",
            file=sys.stderr,
        )
        preds.append(pred)
    with open(a.out, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
