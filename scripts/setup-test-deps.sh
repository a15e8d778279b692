#!/usr/bin/env bash
# Usage: scripts/setup-test-deps.sh
#   Installs (idempotently) curl, jq and prometheus-alertmanager from Debian if missing, and creates a Python venv with pyarrow and duckdb for the external-reader test
#   (tests/integration/parquet_external.rs) and prints the venv's python path on the last line.
#   Venv location: ${WAYLOG_VENV:-$HOME/.cache/waylog-venv}. Then run, for example:
#     WAYLOG_TEST_PYTHON="$(scripts/setup-test-deps.sh | tail -n1)" cargo test --test integration
set -euo pipefail

venv="${WAYLOG_VENV:-$HOME/.cache/waylog-venv}"

# Debian packages: tools the shell scripts under test use (scripts/rollup-comparison.sh: curl,
# jq) and a real Prometheus Alertmanager for tests/integration/alerts.rs.
missing=()
for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >&2
fi
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
