#!/usr/bin/env bash
# Creates, once, a Python venv with dbt-core 1.11 and dbt-duckdb 1.11 from PyPI under
# ~/.cache/sigbatch/venvs/dbt, and prints the line that points the export-dbt tests at it:
#   eval "$(scripts/dbt-venv.sh)"
# (dbt-core 1.12 does not install offline: its parser downloads a wheel at build time.)
set -euo pipefail
venv="${SIGBATCH_DBT_VENV:-$HOME/.cache/sigbatch/venvs/dbt}"
# a venv hard-codes its path, so it is built in place; `.complete` marks a finished install
if [ ! -f "$venv/.complete" ]; then
  python=""
  for candidate in "${SIGBATCH_PYTHON:-}" /root/.pyenv/versions/3.11.7/bin/python3 python3.11 python3.12 python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
  [ -n "$python" ] || { echo "scripts/dbt-venv.sh: no python3 found" >&2; exit 1; }
  echo "scripts/dbt-venv.sh: installing dbt-core 1.11 and dbt-duckdb 1.11 into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet 'dbt-core==1.11.*' 'dbt-duckdb==1.11.*' >&2
  touch "$venv/.complete"
fi
echo "export SIGBATCH_DBT=$venv/bin/dbt"
