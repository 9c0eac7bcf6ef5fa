//! DuckDB as the suite drives it: nothing to start; a place is the project's own file
//! (warehouse.duckdb, its derived tables in `main_derived`).

use std::path::Path;

use crate::common::faults::Rules;
use crate::common::{self, TempProject};

use super::{Harness, Table};

pub struct DuckDbFile;

impl Harness for DuckDbFile {
    const KIND: &'static str = "duckdb";
    const JSON_EVENTS: bool = true;
    /// The fixture group in all three syntaxes (the compat fixture runs in each).
    const SYNTAXES: &'static [&'static str] = &["snowflake", "bigquery", "databricks"];
    /// DuckDB's own rules (transactional DDL) never leave a window half-written; what the stops
    /// test here is the window plan under the rules of the other warehouses: DDL committing on
    /// its own (Snowflake, BigQuery) and no transactions at all (Databricks).
    const FAULT_RULES: &'static [Rules] = &[Rules::AutocommitDdl, Rules::NoTransactions];
    const STOP_WORKERS: usize = 2;
    const LOCK_REFUSAL: &'static str = "in use by another process";
    const REFUSAL: &'static str = "";

    fn start() -> DuckDbFile {
        DuckDbFile
    }

    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }

    fn profile(&mut self, project: &TempProject, _place: &str) -> String {
        // TempProject's own: warehouse.duckdb in the project
        std::fs::read_to_string(project.path().join("profiles.yml")).unwrap()
    }

    fn load_fixture_events(&mut self, project: &TempProject, _place: &str) {
        common::stage_fixture_events(&project.connection());
    }

    fn load_events_csv(&mut self, project: &TempProject, _place: &str, csv: &Path, schema: &str) {
        sigbatch::stage_csv::stage_events_csv(&project.connection(), csv, schema, "events")
            .unwrap();
    }

    fn read(&mut self, project: &TempProject, _place: &str, table: &str) -> Table {
        common::rows(
            &project.connection(),
            &format!("SELECT * FROM main_derived.{table}"),
        )
    }

    fn written_tables(&mut self, project: &TempProject, _place: &str) -> usize {
        common::built_tables(project)
    }

    /// The lock note beside the file: `pid N since T UTC` while a run holds it.
    fn lease(&mut self, project: &TempProject, _place: &str) -> Option<Vec<Option<String>>> {
        let note = project.path().join("warehouse.duckdb.sigbatch-lock");
        let text = std::fs::read_to_string(note).ok()?;
        let pid = text
            .strip_prefix("pid ")?
            .split_whitespace()
            .next()?
            .to_string();
        Some(vec![Some(text.trim().to_string()), Some(pid)])
    }

    /// Every statement.
    fn stops(statements: usize) -> Vec<usize> {
        (0..statements).collect()
    }

    fn refused_profile(&mut self, _project: &TempProject, _place: &str) -> (String, String) {
        unreachable!("DuckDB has no credentials: the suite runs here without that case")
    }

    /// The fixture's run takes a fraction of a second here: the crash tests' demo project lasts
    /// long enough to be seen holding the lock.
    fn concurrent_project(&mut self, _place: &str) -> TempProject {
        common::demo_project()
    }
}
