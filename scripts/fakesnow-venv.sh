#!/usr/bin/env bash
# The Snowflake emulator the tests run against: fakesnow 0.12.1 in a venv cached under
# ~/.cache/sigbatch/venvs (created once, from PyPI). Prints the venv's python.
# fakesnow needs snowflake-connector-python < 5 (5.x breaks it). The venv also holds
# libfaketime, for the tests that move sigbatch's clock.
set -euo pipefail
venv="${SIGBATCH_VENVS:-$HOME/.cache/sigbatch/venvs}/fakesnow-0.12.1"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import fakesnow.server, uvicorn" 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "fakesnow[server]==0.12.1" "snowflake-connector-python<5" >&2
fi
# libfaketime (a prebuilt libfaketime.so.1 in a wheel): the lease test moves sigbatch's clock
if ! "$venv/bin/python" -c "import libfaketime" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "libfaketime==2.1.0" >&2
fi
echo "$venv/bin/python"
