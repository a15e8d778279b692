#!/usr/bin/env bash
# usage: scripts/test.sh [cargo test args...]
# Runs the whole test suite (unit + integration) after installing the test peers (Debian
# prometheus-alertmanager and prometheus, a Python venv with pyarrow, duckdb and the
# OpenTelemetry SDK with its OTLP exporters). This is the README's test command and what CI
# runs. Without arguments it then runs the crash/reopen tests of every failpoint: the lib test
# binary built with `--features failpoints` (one extra lib build, no second build of the
# integration binary).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/waylog-target}
python_bin=$(scripts/setup-test-deps.sh | tail -n 1)
export WAYLOG_TEST_PYTHON="$python_bin"
cargo test "$@"
if [ $# -eq 0 ]; then
  cargo test --lib --features failpoints -- failpoint_tests power_loss_tests
fi
