//! Stages a Snowplow events CSV export (such as the upstream conformance fixture) into DuckDB, in
//! the layout the engine reads and `demo::generate_events` writes.
//!
//! Exports name self-describing columns by full schema version
//! (`contexts_nl_basjes_yauaa_context_1_0_0`); Snowflake, whose property syntax the engine
//! follows, has one VARIANT column per major version (`contexts_nl_basjes_yauaa_context_1`). So
//! each major version becomes one JSON column, the coalesce of its minor versions newest first.
//! `*_tstamp` columns become TIMESTAMP and the layout's two numeric columns are typed; the rest
//! stay VARCHAR, as read. JSON values are kept as exported (the fixture's ecommerce `revenue` stays
//! the string `"13.0"`, as on Snowflake). The file path and every identifier reach SQL only through
//! the quoting helpers at the end of the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dialect::{Dialect, DuckDb};

/// Columns typed other than VARCHAR, matching `demo::EVENTS_COLUMNS`.
const TYPED_COLUMNS: &[(&str, &str)] = &[("domain_sessionidx", "INTEGER"), ("tr_total", "DOUBLE")];

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("cannot read events csv `{path}`: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot read events csv `{path}`: the path is not UTF-8 or contains `*`, `?` or `[`, \
         which DuckDB would expand as a glob\n\
         hint: copy or rename the file to a plain path"
    )]
    UnsupportedPath { path: PathBuf },
    #[error("cannot read events csv `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: duckdb::Error,
    },
    /// `table` is the qualified target, `schema.table`.
    #[error("cannot stage events csv `{path}` into `{table}`: {source}")]
    Stage {
        path: PathBuf,
        table: String,
        source: duckdb::Error,
    },
}

/// Creates `schema.table` from the CSV (replacing the table) and returns its row count.
pub fn stage_events_csv(
    conn: &duckdb::Connection,
    csv: &Path,
    schema: &str,
    table: &str,
) -> Result<u64, StageError> {
    // DuckDB expands a leading `~` and treats `*?[` as a glob; an absolute, glob-free path means
    // the file read is exactly the file named.
    let path = std::fs::canonicalize(csv).map_err(|source| StageError::Open {
        path: csv.to_owned(),
        source,
    })?;
    let path_text = path
        .to_str()
        .filter(|p| !p.contains(['*', '?', '[']))
        .ok_or_else(|| StageError::UnsupportedPath {
            path: csv.to_owned(),
        })?;
    let source = format!(
        "read_csv({}, header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"')",
        DuckDb.string_literal(path_text)
    );
    let read_error = |source| StageError::Read {
        path: csv.to_owned(),
        source,
    };
    let header = read_header(conn, &source).map_err(read_error)?;

    let stage_error = |source| StageError::Stage {
        path: csv.to_owned(),
        table: format!("{schema}.{table}"),
        source,
    };
    let target = format!("{}.{}", quote_identifier(schema), quote_identifier(table));
    let sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {};\n\
         CREATE OR REPLACE TABLE {target} AS\nSELECT\n    {}\nFROM {source};",
        quote_identifier(schema),
        select_list(&header).join(",\n    ")
    );
    conn.execute_batch(&sql).map_err(stage_error)?;
    let rows: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {target}"), [], |row| {
            row.get(0)
        })
        .map_err(stage_error)?;
    Ok(rows as u64)
}

fn read_header(conn: &duckdb::Connection, source: &str) -> Result<Vec<String>, duckdb::Error> {
    let mut stmt = conn.prepare(&format!(
        "SELECT column_name FROM (DESCRIBE SELECT * FROM {source})"
    ))?;
    stmt.query_map([], |row| row.get(0))?.collect()
}

/// One expression per output column, in CSV order; a self-describing major version appears where
/// its first minor version was.
fn select_list(header: &[String]) -> Vec<String> {
    let mut versions: BTreeMap<&str, Vec<(u32, u32, &str)>> = BTreeMap::new();
    for column in header {
        if let Some((major, minor, patch)) = self_describing(column) {
            versions
                .entry(major)
                .or_default()
                .push((minor, patch, column));
        }
    }
    let mut list = Vec::new();
    for column in header {
        let quoted = quote_identifier(column);
        if let Some((major, ..)) = self_describing(column) {
            let Some(mut sources) = versions.remove(major) else {
                continue;
            };
            sources.sort_by_key(|&(minor, patch, _)| std::cmp::Reverse((minor, patch)));
            // An empty cell is a missing context, not an empty JSON document.
            let values: Vec<String> = sources
                .iter()
                .map(|(.., name)| format!("nullif({}, '')", quote_identifier(name)))
                .collect();
            list.push(format!(
                "CAST(coalesce({}) AS JSON) AS {}",
                values.join(", "),
                quote_identifier(major)
            ));
        } else if let Some((_, ty)) = TYPED_COLUMNS.iter().find(|(name, _)| name == column) {
            list.push(format!("CAST(nullif({quoted}, '') AS {ty}) AS {quoted}"));
        } else if column.ends_with("_tstamp") {
            list.push(format!(
                "CAST(nullif({quoted}, '') AS TIMESTAMP) AS {quoted}"
            ));
        } else {
            list.push(quoted);
        }
    }
    list
}

/// Splits `contexts_x_y_1_0_2` into (`contexts_x_y_1`, 0, 2); `None` for other columns.
fn self_describing(column: &str) -> Option<(&str, u32, u32)> {
    if !(column.starts_with("contexts_") || column.starts_with("unstruct_event_")) {
        return None;
    }
    let mut parts = column.rsplitn(3, '_');
    let patch = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let (name, major) = rest.rsplit_once('_')?;
    (!name.ends_with('_') && major.parse::<u32>().is_ok()).then_some((rest, minor, patch))
}

/// Quoted as DuckDB quotes an identifier (the file's names are user text).
fn quote_identifier(name: &str) -> String {
    DuckDb.ident(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::Connection;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream-0.4/events.csv"
    );

    fn staged_fixture() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        let rows = stage_events_csv(&conn, Path::new(FIXTURE), "atomic", "events").unwrap();
        assert_eq!(rows, 52);
        conn
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn column_type(conn: &Connection, table: &str, column: &str) -> Option<String> {
        let sql = "SELECT data_type FROM information_schema.columns \
                   WHERE table_name = ? AND column_name = ?";
        conn.query_row(sql, [table, column], |row| row.get(0)).ok()
    }

    /// A scratch directory named after the test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("sigbatch-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn stages_the_upstream_fixture() {
        let conn = staged_fixture();
        assert_eq!(count(&conn, "SELECT count(*) FROM atomic.events"), 52);
        assert_eq!(
            count(
                &conn,
                "SELECT count(DISTINCT domain_userid) FROM atomic.events"
            ),
            9
        );
        let copies = "SELECT count(*) FROM atomic.events WHERE event_id = 'event_8392'";
        assert_eq!(count(&conn, copies), 2);
        let macos = "SELECT count(*) FROM atomic.events WHERE json_extract_string(\
                     contexts_nl_basjes_yauaa_context_1, '$[0].operatingSystemName') = 'MacOS'";
        assert!(count(&conn, macos) > 0);
        assert_eq!(
            column_type(&conn, "events", "contexts_nl_basjes_yauaa_context_1_0_0"),
            None
        );
        // The export's string revenue ("13.0") stays a string, as on Snowflake.
        let revenue = "SELECT sum(CAST(\
                       contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1->>'$[0].revenue' \
                       AS DOUBLE)) FROM atomic.events";
        assert_eq!(
            conn.query_row(revenue, [], |row| row.get::<_, f64>(0))
                .unwrap(),
            14.0
        );
    }

    #[test]
    fn types_the_columns_and_replaces_the_table() {
        let conn = staged_fixture();
        stage_events_csv(&conn, Path::new(FIXTURE), "atomic", "events").unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM atomic.events"), 52);
        for (column, expected) in [
            ("load_tstamp", "TIMESTAMP"),
            ("derived_tstamp", "TIMESTAMP"),
            ("domain_sessionidx", "INTEGER"),
            ("tr_total", "DOUBLE"),
            ("geo_country", "VARCHAR"),
            ("contexts_nl_basjes_yauaa_context_1", "JSON"),
            (
                "unstruct_event_com_snowplowanalytics_snowplow_consent_preferences_1",
                "JSON",
            ),
        ] {
            assert_eq!(
                column_type(&conn, "events", column).as_deref(),
                Some(expected),
                "{column}"
            );
        }
        let first: chrono::NaiveDateTime = conn
            .query_row("SELECT min(load_tstamp) FROM atomic.events", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(first.to_string(), "2025-01-01 01:02:28");
    }

    #[test]
    fn coalesces_minor_versions_newest_first_and_quotes_everything() {
        let scratch = Scratch::new("stage-quotes");
        // Quotes in the file name, a column name, the schema and the table must stay inside
        // their literals and identifiers.
        let csv = scratch.file(
            "it's events.csv",
            "event_id,\"we\"\"ird\",contexts_a_b_1_0_0,contexts_a_b_1_0_10,contexts_a_b_1_0_2\n\
             e1,x,\"[{\"\"v\"\":0}]\",,\"[{\"\"v\"\":2}]\"\n\
             e2,y,\"[{\"\"v\"\":0}]\",\"[{\"\"v\"\":10}]\",\n\
             e3,z,,,\n",
        );
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(
            stage_events_csv(&conn, &csv, "my \"schema\"", "t'1").unwrap(),
            3
        );
        let sql = "SELECT event_id, \"we\"\"ird\", contexts_a_b_1->>'$[0].v' \
                   FROM \"my \"\"schema\"\"\".\"t'1\" ORDER BY 1";
        let mut stmt = conn.prepare(sql).unwrap();
        let rows: Vec<(String, String, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected = [
            ("e1", "x", Some("2")),
            ("e2", "y", Some("10")),
            ("e3", "z", None),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.map(str::to_owned)));
        assert_eq!(rows, expected);
    }

    #[test]
    fn errors_name_the_file() {
        let conn = Connection::open_in_memory().unwrap();
        let missing = Path::new("/nonexistent/events.csv");
        let err = stage_events_csv(&conn, missing, "atomic", "events").unwrap_err();
        assert!(matches!(err, StageError::Open { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with("cannot read events csv `/nonexistent/events.csv`: "),
            "{message}"
        );

        let scratch = Scratch::new("stage-errors");
        let glob = scratch.file("events[1].csv", "event_id\ne1\n");
        let err = stage_events_csv(&conn, &glob, "atomic", "events").unwrap_err();
        assert!(matches!(err, StageError::UnsupportedPath { .. }), "{err:?}");

        let bad = scratch.file("bad.csv", "event_id,load_tstamp\ne1,not a time\n");
        let err = stage_events_csv(&conn, &bad, "atomic", "events").unwrap_err();
        assert!(matches!(err, StageError::Stage { .. }), "{err:?}");
        assert!(
            err.to_string().contains("bad.csv` into `atomic.events`: "),
            "{err}"
        );
    }

    #[test]
    fn recognises_self_describing_columns() {
        assert_eq!(
            self_describing("contexts_nl_basjes_yauaa_context_1_0_0"),
            Some(("contexts_nl_basjes_yauaa_context_1", 0, 0))
        );
        assert_eq!(
            self_describing("unstruct_event_com_acme_x_2_1_3"),
            Some(("unstruct_event_com_acme_x_2", 1, 3))
        );
        assert_eq!(self_describing("contexts_nl_basjes_yauaa_context_1"), None);
        assert_eq!(self_describing("load_tstamp"), None);
    }
}
