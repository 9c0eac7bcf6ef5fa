//! Links the DuckDB static library that `scripts/duckdb-lib.sh` builds once per crate version.
//!
//! `libduckdb-sys` links `libduckdb_static.a` from `DUCKDB_LIB_DIR` when `DUCKDB_STATIC` is set,
//! but not the archive that registers the compiled-in extensions (json, core_functions) at
//! start-up, nor the C++ runtime; both are added here. With the `bundled` feature DuckDB is
//! compiled from source instead and nothing is needed.
use std::env;

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=DUCKDB_STATIC");
    if env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    let Some(lib_dir) = env::var_os("DUCKDB_LIB_DIR") else {
        panic!(
            "DUCKDB_LIB_DIR is not set.\n\
             hint: run `eval \"$(scripts/duckdb-lib.sh)\"` first (builds DuckDB once into a cache), \
             or build with `--features bundled` to compile DuckDB from source"
        );
    };
    let lib_dir = std::path::PathBuf::from(lib_dir);
    let autoregister = lib_dir.join("libduckdb_static_extension_autoregister.a");
    if autoregister.exists() {
        println!("cargo:rustc-link-search=native={}", lib_dir.display());
        println!("cargo:rustc-link-lib=static:+whole-archive=duckdb_static_extension_autoregister");
    }
    println!("cargo:rustc-link-lib=dylib=stdc++");
}
