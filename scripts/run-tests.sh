#!/usr/bin/env bash
# Runs the built test suite and, when it fails, repeats the failing tests' lines at the very end:
# CI keeps only the tail of the output, and XCTest's failures scroll far above swift-testing's
# summary otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
log=.build/test-output.log
"${SWIFT:-swift}" test --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo
    echo "== failing tests (from $log) =="
    grep -E ": error: |' failed \(|✘ |Fatal error|Exited with (signal|unexpected)" "$log" | grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' | tail -40
    echo "== swift test exited $status =="
fi
exit "$status"
