"""Render the speech held-out sentences (intents/data/speech_heldout.tsv: reference
text, intent, service id, espeak-ng rate) as a manifest of espeak-ng clips, so that the
recogniser and everything after it can be scored on sentences no training text holds:

    python3 eval/scripts/render-speech-heldout.py out/heldout
    target/release/xiaoan eval out/heldout/manifest.jsonl --fast --dialect given

Needs the espeak-ng program (the set-up installs it). SYNTHETIC audio.
"""
import json
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
tsv = os.path.join(here, "..", "..", "intents", "data", "speech_heldout.tsv")
out = sys.argv[1] if len(sys.argv) > 1 else "out/heldout"
os.makedirs(os.path.join(out, "wav"), exist_ok=True)
rows = [l.rstrip("\n").split("\t") for l in open(tsv, encoding="utf-8")
        if l.strip() and not l.startswith("#")]
with open(os.path.join(out, "manifest.jsonl"), "w", encoding="utf-8") as m:
    for i, r in enumerate(rows):
        _, intent, dialect, _, ref, rendering, sid = r[:7]
        rate = re.search(r"(\d+) wpm", rendering).group(1)
        voice = re.search(r"espeak-ng (\S+)", rendering).group(1)
        wid = f"ho-{i:03d}-r{rate}"
        subprocess.run(["espeak-ng", "-v", voice, "-s", rate, "-w",
                        os.path.join(out, "wav", wid + ".wav"), "--stdin"],
                       input=ref.encode("utf-8"), check=True)
        item = {"id": wid, "audio": f"wav/{wid}.wav", "dialect": dialect,
                "transcript": ref, "intent": intent, "synthetic": True}
        if sid and sid != "-":
            item["service_id"] = sid
        m.write(json.dumps(item, ensure_ascii=False) + "\n")
print(f"{len(rows)} clips: {os.path.join(out, 'manifest.jsonl')}")
