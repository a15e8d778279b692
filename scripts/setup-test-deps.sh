#!/usr/bin/env bash
# Usage: scripts/setup-test-deps.sh
#   Creates (idempotently) a Python venv with pyarrow and duckdb for the external-reader test
#   (tests/integration/parquet_external.rs) and prints the venv's python path on the last line.
#   Venv location: ${WAYLOG_VENV:-$HOME/.cache/waylog-venv}. Then run, for example:
#     WAYLOG_TEST_PYTHON="$(scripts/setup-test-deps.sh | tail -n1)" cargo test --test integration
set -euo pipefail

venv="${WAYLOG_VENV:-$HOME/.cache/waylog-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" >&2
fi

if ! "$venv/bin/python" -c 'import pyarrow, duckdb' >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check pyarrow duckdb >&2
fi

"$venv/bin/python" -c 'import pyarrow, duckdb' >&2
echo "$venv/bin/python"
