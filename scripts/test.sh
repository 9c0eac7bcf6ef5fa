#!/usr/bin/env bash
# Runs the whole test suite: links the cached static DuckDB (built once if missing), then
# `cargo test`. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sigbatch/target}"
eval "$(scripts/duckdb-lib.sh)"
eval "$(scripts/dbt-venv.sh)"
cargo test --locked "$@"
