#!/usr/bin/env bash
# Fuzzes the HL7 v2 parser, serializer and ACK builder (Fuzz/, libFuzzer) for N seconds, default 60,
# starting from the sample messages in Adapters/samples/ (FUZZ_RUNS=N for a repeatable run of N inputs). Exits non-zero when the fuzzer finds a crash;
# the crashing input is left in Fuzz/artifacts/. Usage: scripts/fuzz-hl7.sh [seconds]
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/Fuzz"

# -sanitize=fuzzer alone builds a binary that does not fuzz; it needs address as well (TOOLCHAIN.md).
swift build -c release --scratch-path .build-fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address

corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
cp "$root"/Adapters/samples/*.hl7 "$corpus"/
mkdir -p artifacts

# FUZZ_RUNS=N (with FUZZ_SEED, default 1) makes a run repeatable: the same inputs every time, as
# CI needs; otherwise the fuzzer runs for `seconds` from a random seed, to find new inputs.
if [ -n "${FUZZ_RUNS:-}" ]; then
  budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
else
  budget=(-max_total_time="$seconds")
fi

# Swift's backtracer would catch the crash before libFuzzer could save the input.
SWIFT_BACKTRACE=enable=no .build-fuzz/release/HL7Fuzz \
  "${budget[@]}" -max_len=4096 -timeout=10 -print_final_stats=1 \
  -dict=hl7.dict -artifact_prefix=artifacts/ "$corpus"
