#!/usr/bin/env bash
# usage: scripts/ci.sh
# What CI runs on a fresh clone: the architecture check, formatting, clippy with warnings
# denied, and the whole test suite (scripts/test.sh, the README's test command). The build
# cache lives outside the clone so the same machine reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/waylog-target}
export CARGO_TERM_COLOR=never
echo "== architecture (layering, no transport below the edge, self-contained)"
scripts/check-architecture.sh
scripts/check-architecture.sh --self-test
echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
cargo clippy --lib --tests --features failpoints -- -D warnings
echo "== tests"
scripts/test.sh
