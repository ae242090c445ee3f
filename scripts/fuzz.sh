#!/usr/bin/env bash
# Fuzzes the pgoutput decoder (fuzz/fuzz_targets/pgoutput.rs) for FUZZ_SECONDS (default 600).
#
# New inputs libFuzzer finds are kept in fuzz/corpus/pgoutput; commit them so the next run
# starts from the coverage this one reached.
#
# A crash leaves its input in fuzz/artifacts/pgoutput/crash-<sha1> and this script exits 1.
# Every crash becomes a regression test before it is fixed:
#   1. reproduce:  cargo +nightly fuzz run pgoutput fuzz/artifacts/pgoutput/crash-<sha1>
#   2. copy the input next to the fixtures: cp fuzz/artifacts/pgoutput/crash-<sha1> \
#        tests/fixtures/fuzz/<short-name>.bin
#   3. add a unit test in src/source/pgoutput/decode.rs that feeds those bytes the way the
#      fuzz target does (first byte = selector, rest = one frame) and asserts an Err, not a panic
#   4. fix the decoder, rerun the test and this script; also copy the input into the corpus.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_TO_RUN=${FUZZ_SECONDS:-600}
CORPUS="$ROOT/fuzz/corpus/pgoutput"
LOG=${FUZZ_LOG:-"$ROOT/fuzz/fuzz-pgoutput.log"}

if ! command -v cargo-fuzz >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]]; then
    echo "installing cargo-fuzz into ~/.cargo/bin"
    cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi

mkdir -p "$CORPUS"
before=$(find "$CORPUS" -type f | wc -l)
cd "$ROOT"
status=0
cargo +nightly fuzz run pgoutput "$CORPUS" -- -max_total_time="$SECONDS_TO_RUN" \
    -print_final_stats=1 2>&1 | tee "$LOG" || status=$?
after=$(find "$CORPUS" -type f | wc -l)

execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$LOG" | grep -Eo '[0-9]+$' | tail -1 || true)
echo "----"
echo "executions: ${execs:-unknown}"
echo "corpus: $before -> $after entries ($CORPUS)"
if [[ $status -ne 0 ]]; then
    echo "result: FAILED (exit $status); crash inputs in fuzz/artifacts/pgoutput/" >&2
    exit 1
fi
echo "result: no crash in ${SECONDS_TO_RUN}s"
