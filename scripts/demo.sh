#!/usr/bin/env bash
# Builds sigbatch and runs the demo: a generated events dataset in DuckDB, a demo project with a
# dozen attributes, three incremental runs, and a summary of the attributes table.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sigbatch/target}"
eval "$(scripts/duckdb-lib.sh)"
cargo build --locked --quiet
"$CARGO_TARGET_DIR/debug/sigbatch" demo --dir "${DEMO_DIR:-target/demo}" "$@"
