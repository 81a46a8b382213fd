#!/usr/bin/env bash
# Runs AFL++ on fuzz targets one after another (one core), each for EXECS executions (default
# one million) or SECS seconds if set, and prints each target's figures from fuzzer_stats.
# Usage (from the repository root, after the build in README.md):
#   bash fuzz/run.sh [target ...]        # default: every target
# Environment: EXECS, SECS, OUT (findings, default /work/fuzz-out), CARGO_TARGET_DIR (as built).
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
((${#targets[@]})) || targets=(photo thumbnail query trace onnx tfjs xmp)
bin=${CARGO_TARGET_DIR:-target}/release
out=${OUT:-/work/fuzz-out}
execs=${EXECS:-1000000}
# Bounds per target: memory (MB of address space) and time per input (ms). The image decoders
# may legitimately allocate a 250-megapixel image (detect::MAX_PIXELS) and take seconds on it.
declare -A mem=([photo]=4096 [thumbnail]=4096)
declare -A tmo=([photo]=2000 [thumbnail]=5000)
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
mkdir -p "$out"
for t in "${targets[@]}"; do
    limit=(-E "$execs")
    [[ -n ${SECS:-} ]] && limit=(-V "$SECS")
    dict=()
    [[ -f dicts/$t.dict ]] && dict=(-x "dicts/$t.dict")
    rm -rf "${out:?}/$t"
    cmd=(cargo afl fuzz -i "seeds/$t" -o "$out/$t" -m "${mem[$t]:-1024}" -t "${tmo[$t]:-1000}"
        -s 17 "${limit[@]}" "${dict[@]}" -- "$bin/$t")
    echo "== $t: ${cmd[*]}"
    "${cmd[@]}" >"$out/$t.log" 2>&1 || { tail -30 "$out/$t.log"; exit 1; }
    stats=$out/$t/default/fuzzer_stats
    awk -v t="$t" '/^(execs_done|execs_per_sec|run_time|saved_crashes|saved_hangs|corpus_count|bitmap_cvg|stability) /{printf "%s %s=%s", (n++ ? "" : t), $1, $3} END {print ""}' "$stats"
done
