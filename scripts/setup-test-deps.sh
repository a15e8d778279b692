#!/usr/bin/env bash
# Usage: scripts/setup-test-deps.sh
#   Installs (idempotently) curl, jq, prometheus-alertmanager (the real-Alertmanager test,
#   tests/integration/alerts.rs) and prometheus (the real-Prometheus scrape test,
#   tests/integration/prometheus.rs) from Debian if missing, and creates a Python venv with pyarrow
#   and duckdb (the external-reader test, tests/integration/parquet_external.rs) and the
#   OpenTelemetry Python SDK with its OTLP HTTP and gRPC exporters (the real-client OTLP test,
#   tests/integration/otlp_sdk.rs, peer tests/peers/otel_trace.py). Prints the venv's python path
#   on the last line.
#   Venv location: ${WAYLOG_VENV:-$HOME/.cache/waylog-venv}. Then run, for example:
#     WAYLOG_TEST_PYTHON="$(scripts/setup-test-deps.sh | tail -n1)" cargo test --test integration
set -euo pipefail

venv="${WAYLOG_VENV:-$HOME/.cache/waylog-venv}"

# Debian packages: tools the shell scripts under test use (scripts/demo-lib.sh: curl,
# jq), a real Prometheus Alertmanager for tests/integration/alerts.rs and a real Prometheus
# for tests/integration/prometheus.rs.
missing=()
for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
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

upgraded_pip=false
# ensure IMPORT-CHECK PACKAGE...: pip-install the packages only when the import check fails.
ensure() {
    local check=$1
    shift
    if ! "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
        if [ "$upgraded_pip" = false ]; then
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
            upgraded_pip=true
        fi
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    fi
    "$venv/bin/python" -c "$check" >&2
}
ensure 'import pyarrow, duckdb' pyarrow duckdb
ensure 'import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.exporter.otlp.proto.grpc.trace_exporter' \
    opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc

echo "$venv/bin/python"
