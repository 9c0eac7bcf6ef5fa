#!/usr/bin/env bash
# The Databricks stand-in the tests run against: Sail (pysail 0.7.2, a Spark Connect server with
# Delta) and the pyspark client for tests/standins/databricks/serve.py, in a venv cached under
# ~/.cache/sigbatch/venvs (created once, from PyPI). Prints the venv's python.
set -euo pipefail
venv="${SIGBATCH_VENVS:-$HOME/.cache/sigbatch/venvs}/sail-0.7.2"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pysail, pyspark.sql.connect" 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pysail==0.7.2" "pyspark[connect]==4.0.1" >&2
fi
echo "$venv/bin/python"
