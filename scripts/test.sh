#!/usr/bin/env bash
# The test suite: unit tests, then integration tests against a real PostgreSQL and a real
# Kafka-protocol broker that the tests start themselves (initdb in a temp dir, free ports).
set -euo pipefail
cd "$(dirname "$0")/.."
# --show-output: the fault and crash tests print how many faults they injected.
# --no-fail-fast: one failing test binary does not hide the results of the ones after it.
cargo test --locked --all-targets --no-fail-fast -- --test-threads=2 --show-output
