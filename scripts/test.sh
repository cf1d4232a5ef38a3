#!/usr/bin/env bash
# The whole test suite, with its set-up: fetches the models into the model cache (idempotent),
# then runs every crate's tests. Tests that need PostgreSQL run when TACT_TEST_DATABASE_URL is
# set (.ci/run sets it) and say they were skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 models/fetch.py

# Test processes run in parallel; candle's quantized kernels spin-wait for their worker
# threads, which collapses throughput when processes share cores. One worker each (the
# binary's default, engine.decode_threads) keeps the suite fast on small machines.
export CANDLE_NUM_THREADS="${CANDLE_NUM_THREADS:-1}"

if command -v cargo-nextest >/dev/null 2>&1 && [ "${TACT_TEST_RUNNER:-nextest}" = nextest ]; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
