#!/usr/bin/env bash
# The test suite: unit tests, then integration tests against a real PostgreSQL and a real
# Kafka-protocol broker that the tests start themselves (initdb in a temp dir, free ports).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets -- --test-threads=2
