//! The embedded DuckDB warehouse.
//!
//! DuckDB's file lock already keeps a second writer out; its error is translated into one that
//! says which file is held and by which process, since that is what a user (or a cron job that
//! overlapped) needs to know. The profile's `threads` and `settings:` are applied with `SET`
//! before any other statement, so a backfill's `memory_limit` and `temp_directory` hold for
//! all of it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use duckdb::Connection;
use duckdb::types::ValueRef;

use super::{Row, Warehouse};
use crate::dialect::{Dialect, DuckDb};
use crate::error::{Error, Result};
use crate::project::group::Scalar;
use crate::project::profiles::{DuckDbSettings, WarehouseKind, is_setting_name};

pub struct DuckDbWarehouse {
    connection: Connection,
    /// The run-lock note this process wrote, removed again on drop.
    lock_note: Option<PathBuf>,
}

/// Beside the database, who holds the write lock and since when. DuckDB's own file lock is the
/// real exclusion (the OS drops it when a holder dies, so a dead holder never blocks); the note
/// only lets the waiting side say who it is waiting for.
fn lock_note_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sigbatch-lock");
    path.with_file_name(name)
}

impl DuckDbWarehouse {
    /// Opens for writing; waits up to `lock_timeout` for another writer to finish.
    pub fn open(
        path: &Path,
        lock_timeout: Duration,
        settings: &DuckDbSettings,
    ) -> Result<DuckDbWarehouse> {
        let started = Instant::now();
        loop {
            match Connection::open(path) {
                Ok(connection) => {
                    let note = lock_note_path(path);
                    let text = format!(
                        "pid {} since {} UTC\n",
                        std::process::id(),
                        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
                    );
                    // informative only: a note that cannot be written does not stop the run
                    let lock_note = std::fs::write(&note, text).ok().map(|_| note);
                    let warehouse = DuckDbWarehouse {
                        connection,
                        lock_note,
                    };
                    // on failure, dropping the warehouse removes the note again
                    warehouse.apply(settings)?;
                    return Ok(warehouse);
                }
                Err(error) => {
                    let message = error.to_string();
                    if !message.contains("lock") || started.elapsed() >= lock_timeout {
                        return Err(open_error(path, &message));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Opens the file without taking the write lock, for commands that only read.
    pub fn open_read_only(path: &Path, settings: &DuckDbSettings) -> Result<DuckDbWarehouse> {
        if !path.exists() {
            return Err(Error::invalid(
                WarehouseKind::DuckDb.name(),
                format!("database file `{}` does not exist", path.display()),
            )
            .with_hint("check `path` in profiles.yml, or load events first"));
        }
        let config = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .map_err(|e| open_error(path, &e.to_string()))?;
        let connection = Connection::open_with_flags(path, config)
            .map_err(|e| open_error(path, &e.to_string()))?;
        let warehouse = DuckDbWarehouse {
            connection,
            lock_note: None,
        };
        warehouse.apply(settings)?;
        Ok(warehouse)
    }

    pub fn in_memory() -> Result<DuckDbWarehouse> {
        let connection =
            Connection::open_in_memory().map_err(|e| Error::Internal(format!("duckdb: {e}")))?;
        Ok(DuckDbWarehouse {
            connection,
            lock_note: None,
        })
    }

    /// `SET` for `threads` and then every setting, in the profile's order. A refusal (a
    /// misspelt name, a size DuckDB cannot read) is the user's to fix, so it names the setting
    /// and the value as sent.
    fn apply(&self, settings: &DuckDbSettings) -> Result<()> {
        let threads = settings
            .threads
            .map(|threads| ("threads".to_string(), Scalar::Integer(threads.into())));
        for (name, value) in threads.iter().chain(&settings.values) {
            if name.eq_ignore_ascii_case("enable_external_access") && allows(value) {
                // DuckDB's default, which it refuses to be set to while open
                continue;
            }
            if !is_setting_name(name) {
                return Err(Error::Internal(format!(
                    "duckdb setting name `{name}` was not validated"
                )));
            }
            let sql = DuckDb.set_statement(name, value);
            self.connection.execute_batch(&sql).map_err(|e| {
                // the value may be a credential (`s3_secret_access_key`): never shown
                let mut said = e.to_string();
                if let Scalar::Text(text) = value
                    && !text.is_empty()
                {
                    said = said.replace(text.as_str(), "***");
                }
                Error::invalid(
                    "profiles.yml",
                    format!("DuckDB refused the setting `{name}` (value not shown): {said}"),
                )
                .with_hint(
                    "fix or remove it under the output's `threads` / `settings:` in profiles.yml; \
                     `SELECT name, description FROM duckdb_settings()` lists DuckDB's settings",
                )
            })?;
        }
        Ok(())
    }

    /// Turns off DuckDB's access to files, the network and extensions for the rest of the
    /// connection (a run reads and writes only its own database), unless the profile's
    /// `settings:` decide `enable_external_access` themselves.
    pub fn close_external_access(&self, settings: &DuckDbSettings) -> Result<()> {
        if settings
            .values
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("enable_external_access"))
        {
            return Ok(());
        }
        self.connection
            .execute_batch("SET enable_external_access = false")
            .map_err(|e| Error::Internal(format!("duckdb: turning off external access: {e}")))
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Lets a stop interrupt the statement about to run.
    fn interruptible(&self) -> crate::cancel::InFlight {
        let handle = self.connection.interrupt_handle();
        crate::cancel::in_flight(move || handle.interrupt())
    }

    fn failure(&self, sql: &str, error: duckdb::Error) -> Error {
        let message = error.to_string();
        let first_line = sql.lines().next().unwrap_or_default();
        if crate::cancel::requested() && message.contains("Interrupt") {
            return crate::cancel::stopped(format!(
                "duckdb statement interrupted: {}",
                first_line.chars().take(80).collect::<String>()
            ));
        }
        let user_fixable = message.contains("Catalog Error")
            || message.contains("Binder Error")
            || message.contains("Conversion Error");
        Error::Stage {
            stage: first_line.chars().take(80).collect(),
            message,
            hint: None,
            user_fixable,
        }
    }
}

impl Drop for DuckDbWarehouse {
    fn drop(&mut self) {
        if let Some(note) = &self.lock_note {
            let _ = std::fs::remove_file(note);
        }
    }
}

/// Whether a setting's value is "on".
fn allows(value: &Scalar) -> bool {
    match value {
        Scalar::Boolean(on) => *on,
        Scalar::Text(text) => text.eq_ignore_ascii_case("true"),
        Scalar::Integer(n) => *n != 0,
        Scalar::Double(_) => false,
    }
}

fn open_error(path: &Path, message: &str) -> Error {
    if message.contains("lock") {
        let holder = match std::fs::read_to_string(lock_note_path(path)) {
            Ok(note) => format!(" (sigbatch run, {})", note.trim()),
            Err(_) => message
                .split("PID")
                .nth(1)
                .map(|rest| {
                    rest.trim_start()
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .filter(|pid| !pid.is_empty())
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default(),
        };
        return Error::Locked {
            message: format!("the DuckDB file `{}` is in use by another process{holder}", path.display()),
            hint: Some(
                "another `sigbatch run` (or a DuckDB client) has it open; wait for it, or pass --lock-timeout SECONDS".into(),
            ),
        };
    }
    Error::invalid(
        WarehouseKind::DuckDb.name(),
        format!("cannot open `{}`: {message}", path.display()),
    )
}

fn cell(value: ValueRef<'_>) -> Option<String> {
    use duckdb::types::ValueRef as V;
    match value {
        V::Null => None,
        V::Boolean(b) => Some(b.to_string()),
        V::TinyInt(i) => Some(i.to_string()),
        V::SmallInt(i) => Some(i.to_string()),
        V::Int(i) => Some(i.to_string()),
        V::BigInt(i) => Some(i.to_string()),
        V::HugeInt(i) => Some(i.to_string()),
        V::UTinyInt(i) => Some(i.to_string()),
        V::USmallInt(i) => Some(i.to_string()),
        V::UInt(i) => Some(i.to_string()),
        V::UBigInt(i) => Some(i.to_string()),
        V::Float(f) => Some(f.to_string()),
        V::Double(f) => Some(f.to_string()),
        V::Text(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        other => Some(format!("{other:?}")),
    }
}

impl Warehouse for DuckDbWarehouse {
    fn execute(&mut self, sql: &str) -> Result<()> {
        let _in_flight = self.interruptible();
        self.connection
            .execute_batch(sql)
            .map_err(|e| self.failure(sql, e))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Row>> {
        let _in_flight = self.interruptible();
        let mut statement = self
            .connection
            .prepare(sql)
            .map_err(|e| self.failure(sql, e))?;
        let mut rows = statement.query([]).map_err(|e| self.failure(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(|e| Error::Internal(format!("duckdb: {e}")))?
        {
            let width = row.as_ref().column_count();
            out.push(
                (0..width)
                    .map(|i| row.get_ref(i).ok().and_then(cell))
                    .collect(),
            );
        }
        Ok(out)
    }

    /// `pragma_table_info` looks up the one table; `information_schema` and `duckdb_columns()`
    /// first load every table's metadata (40-60 ms on the bench's database, each run).
    fn columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>> {
        let name = format!("{}.{}", DuckDb.ident(schema), DuckDb.ident(table));
        let mut statement = self
            .connection
            .prepare("SELECT lower(name) FROM pragma_table_info(?) ORDER BY cid")
            .map_err(|e| Error::Internal(format!("duckdb: {e}")))?;
        let names = statement
            .query_map([&name], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>());
        match names {
            Ok(names) => Ok(names),
            Err(error) if error.to_string().contains("does not exist") => Ok(Vec::new()),
            Err(error) => Err(Error::Internal(format!("duckdb: {error}"))),
        }
    }

    fn tables(&mut self, schema: &str) -> Result<Vec<String>> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT table_name FROM duckdb_tables() \
                 WHERE database_name = current_database() AND schema_name = ? AND NOT temporary \
                 ORDER BY 1",
            )
            .map_err(|e| Error::Internal(format!("duckdb: {e}")))?;
        statement
            .query_map([schema], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| Error::Internal(format!("duckdb: listing the tables of `{schema}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(warehouse: &mut DuckDbWarehouse, name: &str) -> String {
        let sql = format!(
            "SELECT CAST(current_setting({}) AS VARCHAR)",
            DuckDb.string_literal(name)
        );
        warehouse.query(&sql).unwrap()[0][0].clone().unwrap()
    }

    #[test]
    fn a_schema_lists_its_stored_tables_only() {
        let mut warehouse = DuckDbWarehouse::in_memory().unwrap();
        warehouse
            .execute(
                "CREATE SCHEMA s; CREATE TABLE s.b (x INT); CREATE TABLE s.a (x INT); \
                 CREATE TABLE main.c (x INT); CREATE TEMP TABLE t (x INT)",
            )
            .unwrap();
        assert_eq!(warehouse.tables("s").unwrap(), ["a", "b"]);
        assert_eq!(warehouse.tables("main").unwrap(), ["c"]);
        assert!(warehouse.tables("nowhere").unwrap().is_empty());
    }

    #[test]
    fn profile_settings_hold_on_both_kinds_of_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let spill = dir.path().join("it's spill");
        let settings = DuckDbSettings {
            threads: Some(1),
            values: vec![
                ("memory_limit".into(), Scalar::Text("1GiB".into())),
                (
                    "temp_directory".into(),
                    Scalar::Text(spill.display().to_string()),
                ),
                ("preserve_insertion_order".into(), Scalar::Boolean(false)),
            ],
        };
        let mut warehouse = DuckDbWarehouse::open(&path, Duration::ZERO, &settings).unwrap();
        assert_eq!(current(&mut warehouse, "threads"), "1");
        assert_eq!(current(&mut warehouse, "memory_limit"), "1.0 GiB");
        assert_eq!(
            current(&mut warehouse, "temp_directory"),
            spill.display().to_string()
        );
        assert_eq!(current(&mut warehouse, "preserve_insertion_order"), "false");
        drop(warehouse);
        let mut reader = DuckDbWarehouse::open_read_only(&path, &settings).unwrap();
        assert_eq!(current(&mut reader, "threads"), "1");
        assert_eq!(current(&mut reader, "memory_limit"), "1.0 GiB");
    }

    #[test]
    fn a_run_cannot_read_files_unless_the_profile_allows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "top secret\n").unwrap();
        let read = format!("SELECT content FROM read_text('{}')", secret.display());
        let closed =
            DuckDbWarehouse::open(&path, Duration::ZERO, &DuckDbSettings::default()).unwrap();
        closed
            .close_external_access(&DuckDbSettings::default())
            .unwrap();
        let mut closed = closed;
        let refused = closed.query(&read).unwrap_err().to_string();
        assert!(refused.contains("disabled by configuration"), "{refused}");
        drop(closed);

        let allowed = DuckDbSettings {
            threads: None,
            values: vec![("enable_external_access".into(), Scalar::Boolean(true))],
        };
        let mut open = DuckDbWarehouse::open(&path, Duration::ZERO, &allowed).unwrap();
        open.close_external_access(&allowed).unwrap();
        assert_eq!(
            open.query(&read).unwrap()[0][0].as_deref(),
            Some("top secret\n")
        );
    }

    #[test]
    fn a_refused_setting_is_a_user_error_naming_it_and_sends_values_as_literals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        for (name, value) in [
            ("no_such_setting", Scalar::Integer(1)),
            (
                "memory_limit",
                Scalar::Text("1GB'; CREATE TABLE pasted (x INT); --".into()),
            ),
        ] {
            let settings = DuckDbSettings {
                threads: None,
                values: vec![(name.into(), value)],
            };
            let error = match DuckDbWarehouse::open(&path, Duration::ZERO, &settings) {
                Ok(_) => panic!("`{name}` was accepted"),
                Err(error) => error,
            };
            let text = error.to_string();
            assert!(error.is_user_error(), "{text}");
            assert!(text.contains(&format!("`{name}`")), "{text}");
            assert!(!text.contains("pasted") && !text.contains("1GB'"), "{text}");
            assert!(
                error.hint().is_some_and(|h| h.contains("settings:")),
                "{error:?}"
            );
            assert!(
                !lock_note_path(&path).exists(),
                "the lock note was left behind"
            );
        }
        let mut warehouse =
            DuckDbWarehouse::open(&path, Duration::ZERO, &DuckDbSettings::default()).unwrap();
        assert!(!warehouse.table_exists("main", "pasted").unwrap());
    }
}
