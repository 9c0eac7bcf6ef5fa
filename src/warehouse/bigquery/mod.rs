//! BigQuery over its REST API (`client.rs`), behind the `Warehouse` trait.
//!
//! Only DML runs inside `BEGIN TRANSACTION ... COMMIT TRANSACTION` there, so `transactional_ddl`
//! is false and a window runs its DDL before its transaction (`render::window_plan`). The
//! transaction spans statements because every statement of a connection runs in one session.
//! Jobs run in the profile's `location`, else in the location of the first dataset whose columns
//! are read (a run reads the events table first), so the datasets sigbatch creates sit beside
//! the events.

mod auth;
mod client;
mod rows;
mod script;

pub use client::Client;
pub use rows::ResultSet;

use crate::dialect::{BigQuery, Dialect};
use crate::error::{Error, Result};
use crate::project::profiles::bigquery::BigQuerySettings;
use crate::warehouse::{Row, ScriptFailure, ScriptRun, StatementStats, Warehouse};

pub struct BigQueryWarehouse {
    client: Client,
}

impl BigQueryWarehouse {
    pub fn connect(settings: BigQuerySettings) -> Result<BigQueryWarehouse> {
        Ok(BigQueryWarehouse {
            client: Client::connect(settings)?,
        })
    }
}

impl Warehouse for BigQueryWarehouse {
    fn execute(&mut self, sql: &str) -> Result<()> {
        self.client.run(sql).map(|_| ())
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Row>> {
        Ok(self.client.run(sql)?.rows)
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    /// A multi-statement transaction fails at its commit when another session changed a table
    /// it changed (the heartbeat renews the lease every minute); a window therefore leaves the
    /// lease table alone, and a takeover is found by the heartbeat.
    fn fences_in_transaction(&self) -> bool {
        false
    }

    fn lease_connection(&self) -> Result<Option<Box<dyn Warehouse + Send>>> {
        Ok(Some(Box::new(BigQueryWarehouse::connect(
            self.client.settings().clone(),
        )?)))
    }

    fn commit(&mut self) -> Result<()> {
        self.execute("COMMIT TRANSACTION")
    }

    /// A failed statement may have ended the transaction already; then the session goes too.
    fn rollback(&mut self) -> Result<()> {
        if self.execute("ROLLBACK TRANSACTION").is_err() {
            self.client.drop_session();
        }
        Ok(())
    }

    fn last_statement_stats(&self) -> StatementStats {
        self.client.last_stats().clone()
    }

    /// One multi-statement job; each statement's time, job id and bytes from its child job.
    fn execute_script(
        &mut self,
        statements: &[&str],
        transaction: bool,
    ) -> Option<std::result::Result<ScriptRun, ScriptFailure>> {
        if statements.len() < 2 {
            return None;
        }
        let script = script::script_text(statements, transaction);
        let started = std::time::Instant::now();
        if let Err(error) = self.client.run(&script) {
            if transaction {
                let _ = self.rollback();
            }
            let at = script::failed_statement(&error.to_string(), statements, transaction);
            return Some(Err(ScriptFailure { at, error }));
        }
        let took = started.elapsed();
        let parent = self.client.last_stats().clone();
        let children = parent
            .id
            .as_deref()
            .and_then(|id| self.client.script_children(id).ok())
            .unwrap_or_default();
        Some(Ok(ScriptRun {
            steps: script::steps(statements.len(), transaction, children, parent, took),
            requests: 2,
        }))
    }

    /// Aborts each session (`CALL BQ.ABORT_SESSION`): its running job stops and its open
    /// transaction rolls back.
    fn end_open_work(&mut self, ids: &[String]) -> Vec<String> {
        let dialect = BigQuery::default();
        ids.iter()
            .map(|id| {
                let call = format!("CALL BQ.ABORT_SESSION({})", dialect.string_literal(id));
                match self.execute(&call) {
                    Ok(()) => format!(
                        "aborted its BigQuery session {id} (its open transaction rolled back)"
                    ),
                    Err(error) => format!("could not abort its BigQuery session {id}: {error}"),
                }
            })
            .collect()
    }

    fn estimate_bytes(&mut self, sql: &str) -> Result<Option<u64>> {
        self.client.dry_run(sql).map(Some)
    }

    fn columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>> {
        if self.client.settings().location.is_none() {
            match self.client.dataset_location(schema)? {
                Some(location) => self.client.set_location(location),
                None => return Ok(Vec::new()),
            }
        }
        let sql = BigQuery::default().columns_query(&self.client.settings().project, schema, table);
        match self.client.run(&sql) {
            Ok(result) => Ok(result
                .rows
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .collect()),
            // no such dataset
            Err(Error::Stage { message, .. }) if message.contains("notFound") => Ok(Vec::new()),
            Err(Error::Stage { message, .. }) => Err(Error::Internal(format!(
                "reading the columns of `{schema}.{table}`: {message}"
            ))),
            Err(other) => Err(other),
        }
    }

    fn tables(&mut self, schema: &str) -> Result<Vec<String>> {
        self.client.tables(schema)
    }
}
