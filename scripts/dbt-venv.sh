#!/usr/bin/env bash
# Creates, once, two Python venvs from PyPI under ~/.cache/sigbatch/venvs and prints the lines
# that point the export-dbt tests at them:
#   eval "$(scripts/dbt-venv.sh)"
# - dbt: dbt-core 1.11 and dbt-duckdb 1.11 (the exports run on DuckDB), about 40 s;
# - dbt-adapters: dbt-core 1.11, dbt-snowflake 1.11 and dbt-bigquery 1.11 (`dbt parse` of the
#   Snowflake and BigQuery exports with dummy profiles; no connection), a few minutes.
# dbt-core 1.12 does not install offline: its parser downloads a wheel at build time.
set -euo pipefail
root="${SIGBATCH_VENVS:-$HOME/.cache/sigbatch/venvs}"

python=""
for candidate in "${SIGBATCH_PYTHON:-}" /root/.pyenv/versions/3.11.7/bin/python3 python3.11 python3.12 python3; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
done

# a venv hard-codes its path, so it is built in place; `.complete` marks a finished install
venv() {
  local dir="$root/$1"; shift
  if [ ! -f "$dir/.complete" ]; then
    [ -n "$python" ] || { echo "scripts/dbt-venv.sh: no python3 found" >&2; exit 1; }
    echo "scripts/dbt-venv.sh: installing $* into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$root"
    "$python" -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet "$@" >&2
    touch "$dir/.complete"
  fi
}

venv dbt 'dbt-core==1.11.*' 'dbt-duckdb==1.11.*'
venv dbt-adapters 'dbt-core==1.11.*' 'dbt-snowflake==1.11.*' 'dbt-bigquery==1.11.*'
echo "export SIGBATCH_DBT=$root/dbt/bin/dbt"
echo "export SIGBATCH_DBT_ADAPTERS=$root/dbt-adapters/bin/dbt"
