#!/usr/bin/env bash
# Crash cycles (issue #17): labels a folder of real photos with `photolabel label`, SIGKILLs it
# at a random moment until KILLS kills have landed (the process was still running), and after
# every kill checks the library:
#   - PRAGMA integrity_check is "ok";
#   - no photo has half its results: a labelled photo has its decision log, model labels only
#     exist on labelled photos, and a pending photo has no runs;
#   - no run is recorded twice (same photo, model and decision number);
#   - nothing committed is lost: the labelled count never goes down within a round;
# and each kill is attributed to the phase the run had reached (start-up and scan, model loading,
# labelling: from the lines `label` prints when each ends). A run that finishes by itself must
# have labelled every photo (work resumed, not redone); the library then starts again empty (a
# new round) so that kills keep landing. Then the same for `photolabel retrain` (its checkpoint
# files must always parse: written to a temporary file and renamed).
#
#   tools/reliability/crash-cycles.sh BIN PHOTO_DIR [KILLS] [CACHE_DIR]
#
# BIN is the photolabel binary; CACHE_DIR a model cache with the weights already fetched
# (`photolabel models fetch`), default a fresh one fetched first. MAX_S (default 60) is the
# longest wait before a kill, RETRAIN_CYCLES (default 5) the retrain kills, RETRAIN_MAX_S
# (default 20) the longest wait before one.
set -euo pipefail
BIN=$(realpath "$1")
PHOTOS=$(realpath "$2")
KILLS=${3:-50}
work=$(mktemp -d)
export PHOTOLABEL_DB=$work/library.sqlite PHOTOLABEL_DATA_DIR=$work/data
export PHOTOLABEL_CACHE_DIR=${4:-$work/cache}
trap 'rm -rf "$work"' EXIT
if [[ -z ${4:-} ]]; then "$BIN" models fetch >/dev/null; fi

check() {
    python3 - "$PHOTOLABEL_DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = lambda sql: db.execute(sql).fetchall()
problems = []
if q("PRAGMA integrity_check") != [("ok",)]:
    problems.append("integrity_check: %r" % q("PRAGMA integrity_check")[:3])
n = q("""SELECT count(*) FROM photos p WHERE label_status = 'labelled'
         AND NOT EXISTS (SELECT 1 FROM model_runs r WHERE r.photo_id = p.id)""")[0][0]
if n: problems.append(f"{n} labelled photos without their decision log")
n = q("""SELECT count(*) FROM labels l JOIN photos p ON p.id = l.photo_id
         WHERE l.source = 'model' AND p.label_status = 'pending'""")[0][0]
if n: problems.append(f"{n} model labels on pending photos")
n = q("""SELECT count(*) FROM model_runs r JOIN photos p ON p.id = r.photo_id
         WHERE p.label_status = 'pending'""")[0][0]
if n: problems.append(f"{n} runs of pending photos")
n = q("""SELECT count(*) FROM (SELECT 1 FROM model_runs GROUP BY photo_id, model, seq
         HAVING count(*) > 1)""")[0][0]
if n: problems.append(f"{n} runs recorded twice")
labelled = q("SELECT count(*) FROM photos WHERE label_status = 'labelled'")[0][0]
total = q("SELECT count(*) FROM photos WHERE status = 'ok'")[0][0]
print(labelled, total, "; ".join(problems))
sys.exit(1 if problems else 0)
PY
}

prev=0
bad=0
kills=0
cycles=0
rounds=1
declare -A phases=()
progression=""
started=$(date +%s)
while ((kills < KILLS)); do
    cycles=$((cycles + 1))
    "$BIN" label "$PHOTOS" >"$work/run.log" 2>&1 &
    pid=$!
    # A random moment up to MAX_S: during start-up, the scan, model loading, labelling, writing.
    sleep "$(python3 -c "import random; print(round(random.uniform(0.5, ${MAX_S:-60}), 2))")"
    kill -9 "$pid" 2>/dev/null || true
    status=0
    wait "$pid" 2>/dev/null || status=$?
    # Landed only if the kill ended it (137), not a run that had just finished by itself.
    landed=$((status == 137))
    if ((landed)); then
        kills=$((kills + 1))
        if grep -q '^device ' "$work/run.log"; then
            phase=labelling
        elif grep -q '^scanned ' "$work/run.log"; then
            phase=load
        else
            phase=scan
        fi
        phases[$phase]=$((${phases[$phase]:-0} + 1))
    fi
    read -r labelled total problems < <(check || true) || true
    if [[ -n ${problems:-} ]]; then
        echo "cycle $cycles: $problems"
        bad=$((bad + 1))
    fi
    if ((labelled < prev)); then
        echo "cycle $cycles: labelled went down from $prev to $labelled"
        bad=$((bad + 1))
    fi
    prev=$labelled
    progression+=" $labelled"
    if ((landed)); then
        echo "cycle $cycles: killed during $phase, $labelled of $total labelled"
        continue
    fi
    # It finished by itself: everything must be labelled.
    echo "cycle $cycles: finished (status $status), $labelled of $total labelled"
    if ((status != 0 || labelled != total)); then
        echo "cycle $cycles: an uninterrupted run left $((total - labelled)) photos (status $status)"
        tail -5 "$work/run.log"
        bad=$((bad + 1))
    fi
    if ((kills < KILLS)); then
        # A new round on an empty library, so that kills keep landing during labelling.
        rm -rf "$PHOTOLABEL_DB" "$PHOTOLABEL_DB"-* "$PHOTOLABEL_DATA_DIR"
        rounds=$((rounds + 1))
        prev=0
        progression+=" |"
    fi
done
"$BIN" label "$PHOTOS" >/dev/null 2>&1
read -r labelled total problems < <(check || true) || true
echo "after an uninterrupted run: $labelled of $total labelled ${problems:-}"
((labelled == total)) || bad=$((bad + 1))
echo "labelled after each cycle (| = a new round):$progression"
echo "kills by phase: $(for p in "${!phases[@]}"; do printf '%s %s, ' "$p" "${phases[$p]}"; done)"
echo "labelling: $kills kills landed in $cycles cycles, $rounds rounds, $(($(date +%s) - started)) s"

# Retraining, killed while it trains: the installed checkpoint must always parse. Retraining
# needs ten photos with every model's results: a trace of twelve of the photos.
mkdir -p "$work/trace-photos"
find "$PHOTOS" -maxdepth 1 -type f | sort | head -12 | xargs -I{} cp {} "$work/trace-photos/"
"$BIN" trace "$work/trace-photos" --out "$work/trace.jsonl" >/dev/null 2>&1
t0=$(date +%s)
"$BIN" retrain --force --traces "$work/trace.jsonl" >"$work/retrain.log" 2>&1 ||
    { echo "retrain fails uninterrupted:"; tail -3 "$work/retrain.log"; bad=$((bad + 1)); }
echo "an uninterrupted retrain took $(($(date +%s) - t0)) s"
retrain_kills=0
for ((i = 1; i <= ${RETRAIN_CYCLES:-5}; i++)); do
    "$BIN" retrain --force --traces "$work/trace.jsonl" >/dev/null 2>&1 &
    pid=$!
    sleep "$(python3 -c "import random; print(round(random.uniform(0.5, ${RETRAIN_MAX_S:-20}), 2))")"
    kill -9 "$pid" 2>/dev/null || true
    status=0
    wait "$pid" 2>/dev/null || status=$?
    if ((status == 137)); then retrain_kills=$((retrain_kills + 1)); fi
    for f in "$PHOTOLABEL_DATA_DIR"/scheduler/*.json; do
        [[ -f $f ]] || continue
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" ||
            { echo "retrain cycle $i: torn checkpoint $f"; bad=$((bad + 1)); }
    done
    read -r labelled total problems < <(check || true) || true
    [[ -z ${problems:-} ]] || { echo "retrain cycle $i: $problems"; bad=$((bad + 1)); }
done
echo "summary: $kills kills landed during labelling runs in $cycles cycles, $retrain_kills of ${RETRAIN_CYCLES:-5} retrain kills landed, $bad problems"
((bad == 0))
