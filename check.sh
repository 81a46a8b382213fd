#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this after installing what a fresh
# machine lacks): formatting, lints, the GUI-free core build, then every test.
set -euo pipefail
cd "$(dirname "$0")"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "== core builds without the GUI"
cargo check --lib --no-default-features

echo "== cargo test"
log=$(mktemp)
set +e
cargo test --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
echo
echo "all tests: ${passed} passed, ${failed} failed"
exit "$status"
