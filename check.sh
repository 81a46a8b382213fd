#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this after installing what a fresh
# machine lacks): formatting, lints, the GUI-free core build, every test, then the packaging
# checks (packaging/linux/check-deb.sh: .desktop validation, the .deb built from the debug binary
# the tests built, its contents, and the installed binary started under Xvfb).
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

echo "== packaging (packaging/linux/check-deb.sh)"
pkg_status=0
bash packaging/linux/check-deb.sh || pkg_status=$?
if ((pkg_status)); then
    echo "packaging checks FAILED"
else
    echo "packaging checks passed"
fi
if ((status)); then
    exit "$status"
fi
exit "$pkg_status"
