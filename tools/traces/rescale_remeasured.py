#!/usr/bin/env python3
"""Puts the runs of re-measured models into the time units of the trace they extend.

`photolabel trace --extend OLD` re-measures only the models missing from OLD; when that runs on
a machine (or in a session) of another speed, the new runs' times are in other units than the
reused ones, and the scheduler would see the re-measured models as cheaper or dearer than they
are. This script measures the speed factor on `--anchor` models, whose new run does the same
work as their old run (e.g. mtcnn_onet, which computes the shared faces stage first in both),
as sum(new time) / sum(old time) over all photos, and divides every re-measured run's time and
stage times by it. It is the same idea as the app's device scale (src/label/costs.rs), with a
sum instead of a median because the anchors agree closely. Prints the factors it used.

    python3 tools/traces/rescale_remeasured.py OLD RAW OUT --anchor mtcnn_onet \
        --anchor ppocr_v4_det --anchor ppocr_v5_det
"""
import argparse
import json


def read(path):
    with open(path) as f:
        header = json.loads(f.readline())
        return header, [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--anchor", action="append", required=True)
    a = ap.parse_args()
    _, old = read(a.old)
    header, raw = read(a.raw)
    old_runs = {p["photo"]: {r["model"]: r for r in p["runs"]} for p in old}
    # Models whose runs differ from the old trace's: the re-measured ones.
    remeasured = set()
    for p in raw:
        for r in p["runs"]:
            o = old_runs[p["photo"]].get(r["model"])
            # Reused runs keep their time (up to float formatting).
            if o is None or abs(o["time_ms"] - r["time_ms"]) > 1e-6 or r.get("stages"):
                remeasured.add(r["model"])
    new_sum = old_sum = 0.0
    for p in raw:
        for r in p["runs"]:
            if r["model"] in a.anchor:
                new_sum += r["time_ms"]
                old_sum += old_runs[p["photo"]][r["model"]]["time_ms"]
    for m in a.anchor:
        n = sum(r["time_ms"] for p in raw for r in p["runs"] if r["model"] == m)
        o = sum(old_runs[p["photo"]][m]["time_ms"] for p in raw)
        print(f"{m}: new / old = {n / o:.3f}")
    factor = new_sum / old_sum
    print(f"factor {factor:.3f}; re-measured models rescaled: {sorted(remeasured)}")
    with open(a.out, "w") as f:
        f.write(json.dumps(header, separators=(",", ":")) + "\n")
        for p in raw:
            for r in p["runs"]:
                if r["model"] in remeasured:
                    r["time_ms"] /= factor
                    for s in r.get("stages", []):
                        s["time_ms"] /= factor
            f.write(json.dumps(p, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
