#!/usr/bin/env bash
# usage: scripts/ci.sh
# What CI runs on a fresh clone: the architecture check, formatting, clippy with warnings
# denied, the whole test suite (scripts/test.sh, the README's test command), and every fuzz
# target for WAYLOG_CI_FUZZ_SECONDS seconds (default 30; 0 skips) with scripts/fuzz.sh, whose
# dev-profile build lives in its own target dir (~30 min cold on a busy 2-core machine, seconds
# warm; see docs/reliability.md). The build caches live outside the clone so the same machine
# reuses them.
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
fuzz_seconds=${WAYLOG_CI_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzz (${fuzz_seconds}s per target)"
  scripts/fuzz.sh "$fuzz_seconds"
fi
