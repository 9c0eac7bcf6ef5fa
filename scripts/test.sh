#!/usr/bin/env bash
# Runs the whole test suite: links the cached static DuckDB (built once if missing), then
# `cargo test`, then (the whole suite only) the wheel check: the dev build `cargo test` made,
# packed as a wheel, installed into a fresh venv with nothing compiled, `sigbatch --version`
# and the demo run from it (scripts/wheel.sh --check, about 30 s). Extra arguments go to cargo
# test and skip the wheel check.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sigbatch/target}"
eval "$(scripts/duckdb-lib.sh)"
eval "$(scripts/dbt-venv.sh)"
cargo test --locked "$@"
if [ $# -eq 0 ]; then
  scripts/wheel.sh --check >/dev/null
fi
