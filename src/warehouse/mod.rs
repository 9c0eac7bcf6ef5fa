//! Warehouses execute SQL and return rows: DuckDB in-process, Snowflake, BigQuery and Databricks
//! over their REST APIs, one folder each behind the `Warehouse` trait. A `--dry-run` opens the
//! warehouse read-only and executes nothing that writes (`execute`, `Mode::DryRun`).

pub mod bigquery;
pub mod databricks;
pub mod duckdb;
pub(crate) mod http;
pub mod snowflake;

use std::time::Duration;

use crate::error::Result;
use crate::project::profiles::{Output, Target};

/// A cell read back from a warehouse, as text (NULL is `None`); state tables are small.
pub type Row = Vec<Option<String>>;

/// Cell `column` of `row` as a number: counts and sums, 0 when the row or cell is absent or NULL.
/// A whole number written as a float ("50.0", as an emulator may send a SUM) reads as 50.
pub fn number_cell<T: std::str::FromStr + Default>(row: Option<&Row>, column: usize) -> T {
    row.and_then(|r| r.get(column).cloned().flatten())
        .and_then(|v| {
            v.parse().ok().or_else(|| {
                v.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0)
                    .and_then(|f| format!("{f:.0}").parse().ok())
            })
        })
        .unwrap_or_default()
}

/// What a warehouse reported about the statement it ran last; `None` where it reports nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementStats {
    /// The warehouse's own id (Snowflake query id, BigQuery job id, Databricks statement id).
    pub id: Option<String>,
    pub bytes_processed: Option<u64>,
    pub bytes_billed: Option<u64>,
}

/// One statement of a script as it ran: its own time and what the warehouse reported of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptStep {
    pub took: Duration,
    pub stats: StatementStats,
}

/// A script as it ran: each statement's step, and the requests it took (the script, and where
/// the statements' statistics are read apart, that reading).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptRun {
    pub steps: Vec<ScriptStep>,
    pub requests: usize,
}

/// A script that failed at statement `at` (those before it ran; in a transaction, rolled back).
#[derive(Debug)]
pub struct ScriptFailure {
    pub at: usize,
    pub error: crate::error::Error,
}

pub trait Warehouse {
    /// Runs one statement that returns no rows.
    fn execute(&mut self, sql: &str) -> Result<()>;

    /// Runs one query; every cell is cast to text by the caller's SQL or read as text.
    fn query(&mut self, sql: &str) -> Result<Vec<Row>>;

    /// Whether DDL runs inside a transaction and rolls back with it (DuckDB). Where it commits
    /// on its own (Snowflake, BigQuery), a window runs its DDL before its transaction.
    fn transactional_ddl(&self) -> bool {
        true
    }

    /// Runs `statements` as one request (a script), inside one transaction the script begins and
    /// commits when `transaction` (a failure rolls it back); each statement's time and
    /// statistics, in order. `None` where the warehouse takes one statement per request: the
    /// executor then sends them one by one. Where a request costs a second or more before any
    /// work (BigQuery), a window is then two requests instead of thirty.
    fn execute_script(
        &mut self,
        _statements: &[&str],
        _transaction: bool,
    ) -> Option<std::result::Result<ScriptRun, ScriptFailure>> {
        None
    }

    /// Whether statements can be grouped in a transaction at all. Where they cannot (Databricks:
    /// each statement is its own commit), a window deletes the run state before it writes any
    /// row and writes it last, so a run stopped anywhere leaves none and the next run rebuilds
    /// every table (`render::window_plan`).
    fn transactions(&self) -> bool {
        true
    }

    /// Another connection to the same place, for the run lease's heartbeat; `None` where the
    /// warehouse keeps runs apart itself (DuckDB's file lock).
    fn lease_connection(&self) -> Result<Option<Box<dyn Warehouse + Send>>> {
        Ok(None)
    }

    /// Ends what a killed run left open here (`open_work` ids its client registered: sessions,
    /// statements), before a run takes over its expired lease; one line per id saying what was
    /// ended or why it could not be. Nothing where the warehouse keeps nothing open for a run.
    fn end_open_work(&mut self, _ids: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// Whether a window re-asserts the run lease inside its transaction (`lease::Fence`).
    /// Not where any concurrent change to a table the transaction changed aborts it: there the
    /// heartbeat's renewal would abort every window longer than a heartbeat.
    fn fences_in_transaction(&self) -> bool {
        true
    }

    fn begin(&mut self) -> Result<()> {
        self.execute("BEGIN TRANSACTION")
    }

    fn commit(&mut self) -> Result<()> {
        self.execute("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        self.execute("ROLLBACK")
    }

    /// Whether `schema.table` exists.
    fn table_exists(&mut self, schema: &str, table: &str) -> Result<bool> {
        Ok(!self.columns(schema, table)?.is_empty())
    }

    /// What the warehouse reported about the last `execute` or `query`.
    fn last_statement_stats(&self) -> StatementStats {
        StatementStats::default()
    }

    /// The bytes `sql` would read, asked of the warehouse without running it (BigQuery's dry
    /// run); `None` where the warehouse cannot say.
    fn estimate_bytes(&mut self, _sql: &str) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Column names of the events table `schema.table` in `catalog` (`None`: the connection's
    /// own), lower case; empty when it does not exist. Where a connection reads one catalog
    /// only, that one.
    fn events_columns(
        &mut self,
        _catalog: Option<&str>,
        schema: &str,
        table: &str,
    ) -> Result<Vec<String>> {
        self.columns(schema, table)
    }

    /// Column names of `schema.table`, lower case; empty when it does not exist.
    fn columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>>;

    /// The names of the stored tables in `schema` (not temporary ones), as the warehouse spells
    /// them; empty when the schema does not exist. For the sweep of the scratch tables killed
    /// runs left behind.
    fn tables(&mut self, schema: &str) -> Result<Vec<String>>;
}

/// Whether a command only reads (`status`, `--dry-run`) or runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    /// Waits up to `lock_timeout` for another run holding the tables.
    ReadWrite {
        lock_timeout: Duration,
    },
}

/// Opens the warehouse a target names.
pub fn connect(target: &Target, access: Access) -> Result<Box<dyn Warehouse>> {
    Ok(match (&target.output, access) {
        (Output::DuckDb { path, settings, .. }, Access::ReadOnly) => {
            let warehouse = duckdb::DuckDbWarehouse::open_read_only(path, settings)?;
            warehouse.close_external_access(settings)?;
            Box::new(warehouse)
        }
        (Output::DuckDb { path, settings, .. }, Access::ReadWrite { lock_timeout }) => {
            let warehouse = duckdb::DuckDbWarehouse::open(path, lock_timeout, settings)?;
            warehouse.close_external_access(settings)?;
            Box::new(warehouse)
        }
        (Output::Snowflake(settings), _) => {
            Box::new(snowflake::SnowflakeWarehouse::connect(settings.clone())?)
        }
        (Output::BigQuery(settings), _) => {
            Box::new(bigquery::BigQueryWarehouse::connect(settings.clone())?)
        }
        (Output::Databricks(settings), _) => {
            Box::new(databricks::DatabricksWarehouse::connect(settings.clone())?)
        }
    })
}
