#!/usr/bin/env bash
# Builds the sigbatch wheel (the binary inside a Python wheel, `bindings = "bin"` in
# pyproject.toml) from the cached static DuckDB, and prints the wheel's path on stdout.
#   scripts/wheel.sh                 a release wheel into target/wheels (what users install)
#   scripts/wheel.sh --check         CI: a wheel of the dev build `cargo test` already made,
#                                    installed into a fresh venv with nothing compiled, then
#                                    `sigbatch --version` and the demo run from it
# maturin comes from PyPI into ~/.cache/sigbatch/venvs once. It checks the binary's glibc and
# libstdc++ symbol versions, as `auditwheel show` does, and tags the wheel with the oldest
# manylinux that holds them all (it refuses a tag the binary does not meet).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sigbatch/target}"
[ -n "${DUCKDB_LIB_DIR:-}" ] || eval "$(scripts/duckdb-lib.sh)"

check=false
[ "${1:-}" = "--check" ] && check=true

python=""
for candidate in "${SIGBATCH_PYTHON:-}" /root/.pyenv/versions/3.11.7/bin/python3 python3.11 python3.12 python3; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
done
[ -n "$python" ] || { echo "scripts/wheel.sh: no python3 found" >&2; exit 1; }

venv="${SIGBATCH_VENVS:-$HOME/.cache/sigbatch/venvs}/maturin-1.16.0"
if [ ! -f "$venv/.complete" ]; then
  echo "scripts/wheel.sh: installing maturin 1.16.0 into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet 'maturin==1.16.0' >&2
  touch "$venv/.complete"
fi

out="$CARGO_TARGET_DIR/wheels"
if $check; then
  # the dev profile with cargo test's own flags: maturin finds that build fresh and only packs
  # it (no --strip: a flag of its own would relink the binary, and cargo test again after it)
  out="$CARGO_TARGET_DIR/wheels-check"
  profile=(--profile dev --compression-level 1)
else
  profile=(--release --strip)
fi
rm -rf "$out"
"$venv/bin/maturin" build --locked --quiet "${profile[@]}" --out "$out" >&2
wheel=$(ls "$out"/sigbatch-*.whl)

if $check; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  "$python" -m venv "$scratch/venv" >&2
  # --no-index: nothing is fetched, nothing built; the wheel is all there is
  "$scratch/venv/bin/pip" install --quiet --no-index --no-deps --only-binary :all: "$wheel" >&2
  PATH="$scratch/venv/bin:$PATH"
  [ "$(command -v sigbatch)" = "$scratch/venv/bin/sigbatch" ] || { echo "scripts/wheel.sh: sigbatch is not on the venv's PATH" >&2; exit 1; }
  version=$(sigbatch --version)
  expected="sigbatch $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
  [ "$version" = "$expected" ] || { echo "scripts/wheel.sh: --version says '$version', not '$expected'" >&2; exit 1; }
  sigbatch demo --dir "$scratch/demo" --users 200 --days 7 --quiet >"$scratch/demo.txt"
  grep -q "one row per user" "$scratch/demo.txt" \
    || { echo "scripts/wheel.sh: the demo did not print the attributes table" >&2; exit 1; }
  echo "scripts/wheel.sh: $(basename "$wheel") installs with nothing compiled; --version and the demo run from it" >&2
fi
echo "$wheel"
