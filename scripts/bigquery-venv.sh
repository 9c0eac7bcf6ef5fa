#!/usr/bin/env bash
# The BigQuery emulator the tests run against: local-bigquery 0.4.0 in a Python 3.13 venv cached
# under ~/.cache/sigbatch/venvs (created once, from PyPI), with DuckDB 1.4.4 and the extension
# wheels it would otherwise download from DuckDB's own host (pip warns about the pin; the launcher
# tests/standins/bigquery/serve.py bridges the rest). Prints the venv's python.
set -euo pipefail
venv="${SIGBATCH_VENVS:-$HOME/.cache/sigbatch/venvs}/local-bigquery-0.4.0"
# `.complete` marks a finished install (the extension wheels come after local-bigquery)
if [ ! -f "$venv/.complete" ] || ! "$venv/bin/python" -c "import local_bigquery, duckdb" 2>/dev/null; then
    python=""
    for candidate in python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do
        if "$candidate" -c "import sys; assert sys.version_info >= (3, 13)" 2>/dev/null; then
            python=$(command -v "$candidate"); break
        fi
    done
    [ -n "$python" ] || { echo "python3.13 is required for the BigQuery emulator (pyenv install 3.13)" >&2; exit 1; }
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "local-bigquery==0.4.0" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==1.4.4" \
        "duckdb-ext-icu==1.4.4.20260205" "duckdb-ext-ducklake==1.4.4.20260205" \
        "duckdb-ext-spatial==1.4.4.20260205" >&2
    "$venv/bin/python" -c "import local_bigquery, duckdb" >&2 && touch "$venv/.complete"
fi
echo "$venv/bin/python"
