#!/usr/bin/env bash
# Builds DuckDB once per crate version as a static library in a cache directory outside the
# clone, and prints the environment that makes the `duckdb` crate link it instead of compiling
# DuckDB's C++ again (about 2,200 CPU-seconds each time otherwise).
#
#   eval "$(scripts/duckdb-lib.sh)"     # builds when missing (20-30 min on 2 cores), then exports
#
# The cache key is the libduckdb-sys version plus the extensions compiled in, so bumping the
# crate in Cargo.toml builds a fresh library beside the old one.
set -euo pipefail

version="1.20000.1"
cache_root="${SIGBATCH_CACHE_DIR:-$HOME/.cache/sigbatch}"
lib_dir="$cache_root/libduckdb-$version-json"

if [ ! -f "$lib_dir/libduckdb_static.a" ] || [ ! -f "$lib_dir/libduckdb_static_extension_autoregister.a" ]; then
  echo "sigbatch: building DuckDB $version as a static library into $lib_dir (once per version; 20-30 min on 2 cores)" >&2
  work="$cache_root/build-libduckdb-$version"
  rm -rf "$work"
  mkdir -p "$work/src"
  cat >"$work/Cargo.toml" <<TOML
[package]
name = "build-libduckdb"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
libduckdb-sys = { version = "=$version", default-features = false, features = ["capi-v1", "bundled", "json"] }

[profile.release]
debug = false
TOML
  echo 'pub use libduckdb_sys as _duckdb;' >"$work/src/lib.rs"
  ( cd "$work" && CARGO_TARGET_DIR="$work/target" cargo build --release --quiet ) >&2
  out=$(dirname "$(find "$work/target/release/build" -name libduckdb.a -path '*libduckdb-sys-*/out/*' | head -n 1)")
  [ -f "$out/libduckdb.a" ] || { echo "sigbatch: DuckDB build produced no libduckdb.a under $work/target" >&2; exit 1; }
  tmp="$lib_dir.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp "$out/libduckdb.a" "$tmp/libduckdb_static.a"
  cp "$out/libduckdb_static_extension_autoregister.a" "$tmp/"
  rm -rf "$lib_dir"
  mv "$tmp" "$lib_dir"   # atomic publish: a killed build never leaves a half-written cache
  rm -rf "$work"
fi

echo "export DUCKDB_LIB_DIR='$lib_dir'"
echo "export DUCKDB_STATIC=1"
