#!/usr/bin/env bash
# matplotlib for benches/plot_scale.py, in a venv cached under ~/.cache/sigbatch/venvs (created
# once, from PyPI). Prints the venv's python. Only the scale bench's plot needs it.
set -euo pipefail
venv="${SIGBATCH_VENVS:-$HOME/.cache/sigbatch/venvs}/plot"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import matplotlib" 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "matplotlib==3.11.2" >&2
fi
echo "$venv/bin/python"
