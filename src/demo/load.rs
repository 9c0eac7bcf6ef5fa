//! Loads generated events into `atomic.events` through a temporary CSV file.
//!
//! See `columns` for why a CSV file and not the appender. The file lives in the system's
//! temporary directory under a name unique to the process and the call, and is deleted afterwards
//! whatever happens.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::columns::{self, COLUMNS};
use super::events::Event;
use crate::dialect::{Dialect, DuckDb};

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// A file in the temporary directory, deleted when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        // Nothing useful to do if it is already gone or cannot be removed.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writing the CSV file failed; reported through `duckdb::Error::ToSqlConversionFailure`,
/// because the file is how the rows are converted for DuckDB.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the demo events to `{path}`: {source}")]
struct WriteError {
    path: PathBuf,
    source: std::io::Error,
}

/// Creates schema `atomic` and table `atomic.events` (replacing it) and loads `events` into it.
pub(crate) fn load_events(
    conn: &duckdb::Connection,
    events: &[Event],
) -> Result<(), duckdb::Error> {
    let id = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let file = TempFile(
        std::env::temp_dir().join(format!("sigbatch-demo-{}-{id}.csv", std::process::id())),
    );
    write_csv(&file.0, events).map_err(|source| {
        duckdb::Error::ToSqlConversionFailure(Box::new(WriteError {
            path: file.0.clone(),
            source,
        }))
    })?;
    let path = file
        .0
        .to_str()
        .ok_or_else(|| duckdb::Error::InvalidPath(file.0.clone()))?;

    let definitions: Vec<String> = COLUMNS
        .iter()
        .map(|(name, ty)| format!("{} {ty}", DuckDb.ident(name)))
        .collect();
    let csv_types: Vec<String> = COLUMNS
        .iter()
        .map(|&(name, ty)| {
            format!(
                "{}: '{}'",
                DuckDb.string_literal(name),
                if ty == "TIMESTAMP" { "BIGINT" } else { ty }
            )
        })
        .collect();
    let values: Vec<String> = COLUMNS
        .iter()
        .map(|&(name, ty)| {
            let column = DuckDb.ident(name);
            if ty == "TIMESTAMP" {
                format!("epoch_ms({column})")
            } else {
                column
            }
        })
        .collect();
    conn.execute_batch(&format!(
        "CREATE SCHEMA IF NOT EXISTS atomic;\n\
         CREATE OR REPLACE TABLE atomic.events ({});\n\
         INSERT INTO atomic.events SELECT {} FROM read_csv({}, auto_detect = false, header = false, \
         delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false, columns = {{{}}});",
        definitions.join(", "),
        values.join(", "),
        DuckDb.string_literal(path),
        csv_types.join(", ")
    ))
}

fn write_csv(path: &Path, events: &[Event]) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut record = String::new();
    for event in events {
        record.clear();
        columns::write_record(&mut record, event);
        out.write_all(record.as_bytes())?;
    }
    out.flush()
}
