#!/usr/bin/env python3
"""Puts the runs of models added with `photolabel trace --extend` into the time units of the
trace they extend, when the added models' own runs cannot anchor the factor.

`rescale_remeasured.py` measures the speed factor on anchor models re-measured in the same
recording. When a model is added to a trace, nothing else is re-measured: the faces stage the
new model needs was recorded earlier on each photo, so its new run keeps only its own time
(`src/sched/record.rs`, forget_recorded_stages). A second, short recording over a subset of the
photos (ANCHOR) re-measures the anchor models and the added models together; from it:

  speed = sum(ANCHOR anchor time) / sum(OLD anchor time)      (this machine vs the trace's units)
  load  = sum(RAW model time) / sum(ANCHOR model time)        (the long recording vs the short)

both over the photos of ANCHOR, and every run of `--model` in RAW is divided by speed * load
(time and stage times). Prints the factors.

    python3 tools/traces/rescale_with_anchor_trace.py OLD RAW ANCHOR OUT \
        --anchor mtcnn_onet --model faceres
"""
import argparse
import json


def read(path):
    with open(path) as f:
        header = json.loads(f.readline())
        return header, [json.loads(line) for line in f if line.strip()]


def runs_by_photo(photos):
    return {p["photo"]: {r["model"]: r for r in p["runs"]} for p in photos}


def total(runs, photos, models):
    return sum(runs[p][m]["time_ms"] for p in photos for m in models if m in runs[p])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("raw")
    ap.add_argument("anchor_trace")
    ap.add_argument("out")
    ap.add_argument("--anchor", action="append", required=True)
    ap.add_argument("--model", action="append", required=True)
    a = ap.parse_args()
    old = runs_by_photo(read(a.old)[1])
    header, raw_photos = read(a.raw)
    raw = runs_by_photo(raw_photos)
    anchor = runs_by_photo(read(a.anchor_trace)[1])
    subset = [p for p in anchor if p in old and p in raw]
    speed = total(anchor, subset, a.anchor) / total(old, subset, a.anchor)
    load = total(raw, subset, a.model) / total(anchor, subset, a.model)
    factor = speed * load
    print(f"{len(subset)} anchor photos: speed {speed:.3f} (anchors {a.anchor}), "
          f"load {load:.3f} (models {a.model}); dividing {a.model} by {factor:.3f}")
    with open(a.out, "w") as f:
        f.write(json.dumps(header, separators=(",", ":")) + "\n")
        for p in raw_photos:
            for r in p["runs"]:
                if r["model"] in a.model:
                    r["time_ms"] /= factor
                    for s in r.get("stages") or []:
                        s["time_ms"] /= factor
            f.write(json.dumps(p, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
