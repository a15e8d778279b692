#!/usr/bin/env bash
# Usage: scripts/setup-test-deps.sh
#   Installs (idempotently) curl, jq, prometheus-alertmanager (the real-Alertmanager test,
#   tests/integration/alerts.rs) and prometheus (the real-Prometheus scrape test,
#   tests/integration/prometheus.rs) from Debian if missing, and creates a Python venv with pyarrow
#   and duckdb (the external-reader test, tests/integration/parquet_external.rs) and the
#   OpenTelemetry Python SDK with its OTLP HTTP and gRPC exporters (the real-client OTLP test,
#   tests/integration/otlp_sdk.rs, peer tests/peers/otel_trace.py), rfc8785 (the JCS peer,
#   tests/integration/jcs_peer.rs), the official MCP Python SDK (the MCP client test,
#   tests/integration/tools.rs, peer tests/peers/mcp_client.py), and the browser test's
#   Debian `chromium` with Playwright for Python (tests/integration/ui.rs, peer
#   tests/peers/ui_test.py; Playwright drives the system chromium, it downloads no browser),
#   moto's S3 server (the S3 cold store tests, tests/integration/cold_s3.rs, peer
#   tests/peers/s3_server.py; it honours conditional PUTs, If-None-Match) and the `deltalake`
#   package (the independent reader of the cold tier's Delta tables).
#   Prints the venv's python path on the last line.
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
# The dashboard's browser test (tests/integration/ui.rs) runs Debian's headless chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The real-Prometheus scrape test (tests/integration/prometheus.rs).
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
ensure 'import mcp.client.stdio, mcp.client.streamable_http' mcp
ensure 'import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.exporter.otlp.proto.grpc.trace_exporter' \
    opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc
# The independent RFC 8785 implementation the report-hash canonicalization is checked against
# (tests/integration/jcs_peer.rs, peer tests/peers/jcs.py).
ensure 'import rfc8785' rfc8785
# Playwright's Python API only: tests/peers/ui_test.py launches the system chromium through
# executable_path, so `playwright install` (a browser download) is never run.
ensure 'import playwright.sync_api' playwright
# An S3-protocol server on loopback (tests/peers/s3_server.py) and the independent Delta Lake
# reader (tests/integration/cold_s3.rs).
ensure 'import moto.server, boto3' 'moto[server]'
ensure 'import deltalake' deltalake

echo "$venv/bin/python"
