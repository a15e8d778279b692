#!/usr/bin/env bash
# usage: scripts/fuzz.sh [seconds per target (default 60)] [target...]
# Runs every cargo-fuzz target of tests/fuzz (or the named ones) for a bounded time, each from
# a corpus seeded with tests/fuzz/seeds/<target>/ and the matching tests/fixtures. Installs
# cargo-fuzz when missing; needs the nightly toolchain. Builds once into
# $WAYLOG_FUZZ_TARGET_DIR (default ~/.cache/waylog-fuzz-target; never the main target dir),
# keeps corpora and crash artifacts under $WAYLOG_FUZZ_WORK (default ~/.cache/waylog-fuzz).
# Sanitizer: none (safe Rust; the targets hunt panics, failed assertions, overflows with
# debug assertions on, timeouts and memory blow-ups; ASan would double the cold build of
# DataFusion). Exits 1 when any target found something, naming the artifact to turn into a
# regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
target_dir=${WAYLOG_FUZZ_TARGET_DIR:-$HOME/.cache/waylog-fuzz-target}
work=${WAYLOG_FUZZ_WORK:-$HOME/.cache/waylog-fuzz}
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
fixtures_of() {
  case "$1" in
    otlp_json) echo tests/fixtures/otlp ;;
    alert_payload) echo tests/fixtures/alerts ;;
  esac
}
run=(cargo +nightly fuzz)
common=(--fuzz-dir tests/fuzz --sanitizer none --dev --target-dir "$target_dir")
start=$(date +%s)
"${run[@]}" build "${common[@]}"
echo "fuzz: build took $(( $(date +%s) - start )) s"
failed=()
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  artifacts=$work/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  fx=$(fixtures_of "$t")
  if [ -n "$fx" ]; then cp -n "$fx"/* "$corpus"/ 2>/dev/null || true; fi
  echo "== fuzz $t (${seconds}s)"
  if ! "${run[@]}" run "${common[@]}" "$t" "$corpus" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=1048576 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 2>&1 | tail -n 25; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; artifacts under $work/artifacts (turn each into a regression test)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding"
