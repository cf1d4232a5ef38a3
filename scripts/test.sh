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
# The tests check plumbing, not draft quality: they run the small chat model, whatever the
# manifest's default (the test helpers pin it too; this covers anything else they start).
export TACT__MODEL__CHAT="${TACT__MODEL__CHAT:-smollm2-135m-instruct}"

status=0
if command -v cargo-nextest >/dev/null 2>&1 && [ "${TACT_TEST_RUNNER:-nextest}" = nextest ]; then
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" || status=$?
fi

# Browser tests (web review page, eval report, extension): playwright-core driving Debian's
# Chromium against the `tact` binary cargo just built.
chromium=""
for c in "${TACT_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && [ -x "$c" ]; then chromium="$c"; break; fi
done
if [ -z "$chromium" ]; then
  echo "browser tests SKIPPED: no Chromium found (apt-get install chromium, or set TACT_CHROMIUM)"
elif ! command -v npm >/dev/null 2>&1; then
  echo "browser tests SKIPPED: npm not found"
else
  export TACT_CHROMIUM="$chromium"
  export TACT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tact"
  # The cargo run above built the binary along with the CLI's integration tests (building it
  # here with `-p` would unify features differently and rebuild half the workspace).
  [ -x "$TACT_BIN" ] || { echo "error: $TACT_BIN was not built by the cargo test run"; exit 1; }
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && npm test) || status=$?
fi
exit "$status"
