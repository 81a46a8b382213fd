#!/usr/bin/env python3
"""Times onnxruntime on the CPU for ONNX model files and prints JSON on stdout.

Used by `benches/zoo.rs` so burn and onnxruntime are measured in the same run, on the same
machine and the same input: for each model the input is the bench's deterministic pattern
(float32, value i = sin(0.013 * i) over the flattened shape), fed to the model's first input.
Timing follows tools/reference/reference.py: one intra-op thread (and one inter-op thread) by
default, `--warmup` runs, then the mean of `--runs` runs.

  python ort_latency.py [--threads 1] [--runs 10] [--warmup 2] ID=PATH:1x3x224x224 ...

Output: {"_machine": {...}, "ID": {"ms": mean, "runs": n, "input_shape": [...]}, ...}; a model
that fails gets {"error": "..."} instead. Exit status 3 (with a message on stderr) when
onnxruntime or numpy cannot be imported, 2 on bad arguments.
"""

import argparse
import json
import os
import sys
import time


def parse_item(item):
    """`ID=PATH:SHAPE` → (id, path, [dims])."""
    mid, rest = item.split("=", 1)
    path, shape = rest.rsplit(":", 1)
    return mid, path, [int(d) for d in shape.split("x")]


def pattern(np, shape):
    n = 1
    for d in shape:
        n *= d
    return np.sin(np.arange(n, dtype=np.float32) * np.float32(0.013)).astype(np.float32).reshape(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="ID=PATH:SHAPE, SHAPE like 1x3x224x224")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (0 = ORT default)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    try:
        items = [parse_item(m) for m in a.models]
    except ValueError as e:
        print(f"ort_latency.py: bad model argument ({e}); want ID=PATH:SHAPE", file=sys.stderr)
        return 2
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(f"ort_latency.py: {e}", file=sys.stderr)
        return 3

    out = {
        "_machine": {
            "cpus": os.cpu_count(),
            "onnxruntime": ort.__version__,
            "threads": a.threads,
            "runs": a.runs,
            "warmup": a.warmup,
        }
    }
    for mid, path, shape in items:
        try:
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            feed = {sess.get_inputs()[0].name: pattern(np, shape)}
            for _ in range(a.warmup):
                sess.run(None, feed)
            t = time.perf_counter()
            for _ in range(a.runs):
                sess.run(None, feed)
            ms = (time.perf_counter() - t) * 1000.0 / max(a.runs, 1)
            out[mid] = {"ms": round(ms, 4), "runs": a.runs, "input_shape": shape}
        except Exception as e:  # one bad model must not lose the others' figures
            out[mid] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
