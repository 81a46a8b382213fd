#!/usr/bin/env bash
# Trains the scheduler network that ships inside photolabel (models/scheduler/default.json)
# from the committed trace of the shared photos, with the same retraining a user's library
# gets (full-information variants compared by 4-fold cross-validation on the training photos,
# early stop chosen to keep 99% of valuable labels), seed fixed: the same trace and build give
# the same file. Run it after re-recording traces/ (e.g. when the zoo gains a model).
#   bash tools/train-default-scheduler.sh [path/to/photolabel]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/photolabel}
[[ -x $bin ]] || cargo build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p models/scheduler
# A throwaway data dir: nothing of the user's library is read or written.
PHOTOLABEL_DATA_DIR=$tmp/data PHOTOLABEL_CACHE_DIR=$tmp/cache "$bin" retrain \
    --traces traces/shared-photos-18models-stages.jsonl --out models/scheduler/default.json
ls -l models/scheduler/default.json
