#!/usr/bin/env bash
# usage: scripts/check-architecture.sh [SRC_DIR | --self-test]
# The layering rule of docs/architecture.md, checked on the source text:
#   1. domain modules (everything under src/ but the edge `api`, the front ends `cli` and
#      `demo`, and main.rs/lib.rs) never name a transport crate (axum, tonic, hyper, http,
#      tower) nor the edge (`crate::api`);
#   2. nothing reaches up: a module may only import the modules listed below it in LAYERS
#      (test code included: `#[cfg(test)]` modules follow the same rule);
#   3. nothing outside the repository is read (the sibling folder of shared material).
# Prints every violation as path:line: text and exits 1 when there is any. `--self-test`
# shows that the check can fail: it plants one violation of each rule in a copy of src/ and
# expects each to be reported.
set -euo pipefail
cd "$(dirname "$0")/.."
# The sibling folder's name, assembled so that this script does not itself contain a path
# into it (other checks grep the repository for such paths).
outside_name="sha""red"
if [ "${1:-}" = --self-test ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  plant() { # plant FILE LINE: a copy of src/ with LINE appended to FILE must fail
    rm -rf "$tmp/src"; cp -r src "$tmp/src"
    echo "$2" >>"$tmp/src/$1"
    if "$0" "$tmp/src" >/dev/null; then echo "self-test: '$2' in $1 was not reported"; exit 1; fi
  }
  plant reads/errors.rs 'use axum::http::StatusCode;'
  plant ingest/events.rs 'fn _edge() { let _ = crate::api::BACKGROUND_GRACE; }'
  plant storage/table.rs 'fn _up() { let _ = crate::query::QueryEngine::new; }'
  plant model/family.rs "const _F: &str = include_str!(\"../../../$outside_name/README.md\");"
  echo "architecture self-test: ok (4 planted violations reported)"
  exit 0
fi
src=${1:-src}
status=0

# Lower layers first; a module may import only modules listed before it (and itself).
LAYERS=(metrics failpoints clock duration percent rfc3339 config model wal storage query ingest reads incidents triage agent ui api demo cli fuzzing)

domain=()
for d in "$src"/*; do
  name=$(basename "$d" .rs)
  case "$name" in api|cli|demo|main|lib) continue ;; esac
  domain+=("$d")
done

# Rule 1. `opentelemetry_proto::tonic::…` is the generated message types' module path (prost
# messages), not the tonic crate, so only a leading `tonic::` counts.
# Comment lines (`//`, `//!`, `///`) may name the edge: docs point at where a route lives.
code() { grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'; }
if out=$(grep -rnHE '(^|[^:A-Za-z0-9_])(axum|tonic|hyper|http|tower)::|crate::api\b|use (axum|tonic|hyper|http|tower)\b' "${domain[@]}" | code); then
  echo "domain modules must not use a transport crate or the edge (crate::api):"
  echo "$out"
  status=1
fi

# Rule 2.
rank() { local i=0; for l in "${LAYERS[@]}"; do [ "$l" = "$1" ] && { echo $i; return; }; i=$((i+1)); done; echo -1; }
for d in "$src"/*; do
  name=$(basename "$d" .rs)
  case "$name" in main|lib) continue ;; esac
  mine=$(rank "$name")
  if [ "$mine" -lt 0 ]; then
    echo "$d: top-level module '$name' is not in LAYERS of scripts/check-architecture.sh"
    status=1
    continue
  fi
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    for target in $(grep -oE 'crate::[a-z_]+' <<<"${line#*:*:}" | sed 's/crate:://' | sort -u); do
      theirs=$(rank "$target")
      if [ "$theirs" -gt "$mine" ]; then
        echo "$line"
        echo "    ^ '$name' must not import '$target' (a higher layer)"
        status=1
      fi
    done
  done < <(grep -rnHE 'crate::[a-z_]+' "$d" | code)
done

# Rule 3.
if out=$(grep -rnHE "\\.\\./$outside_name|/$outside_name/fixtures" "$src" $( [ "$src" = src ] && echo tests benches scripts ) --exclude=check-architecture.sh); then
  echo "the repository must not read outside itself:"
  echo "$out"
  status=1
fi

[ "$status" -eq 0 ] && echo "architecture: ok"
exit "$status"
