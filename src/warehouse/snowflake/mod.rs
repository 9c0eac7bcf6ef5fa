//! Snowflake over its REST API (`client.rs`), behind the `Warehouse` trait.
//!
//! DDL commits on its own there, so `transactional_ddl` is false and a window runs its DDL
//! before its transaction (`render::window_plan`). Each part of a window goes as one
//! multi-statement request (`script.rs`). Names are looked up in upper case, which is
//! how the Snowflake dialect writes every name (`Dialect::stored_name`).

mod arrow_rows;
mod auth;
mod cells;
mod client;
mod rows;
mod script;

pub use client::Client;

use crate::dialect::Snowflake;
use crate::error::{Error, Result};
use crate::project::profiles::snowflake::SnowflakeSettings;
use crate::warehouse::{Row, ScriptFailure, ScriptRun, StatementStats, Warehouse};

pub struct SnowflakeWarehouse {
    client: Client,
    settings: SnowflakeSettings,
}

impl SnowflakeWarehouse {
    /// The names a catalog query `sql` lists (its first column); a refusal is an internal error
    /// saying `what` was asked.
    fn catalog_names(&mut self, sql: &str, what: &str) -> Result<Vec<String>> {
        let rows = self.query(sql).map_err(|e| match e {
            Error::Stage { message, .. } => Error::Internal(format!("{what}: {message}")),
            other => other,
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    }

    pub fn connect(settings: SnowflakeSettings) -> Result<SnowflakeWarehouse> {
        Ok(SnowflakeWarehouse {
            client: Client::login(settings.clone())?,
            settings,
        })
    }
}

impl Warehouse for SnowflakeWarehouse {
    fn execute(&mut self, sql: &str) -> Result<()> {
        self.client.run(sql).map(|_| ())
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Row>> {
        Ok(self.client.run(sql)?.rows)
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    /// The query id only: the query response carries no byte counts (those are in
    /// `QUERY_HISTORY`, which would cost a query per statement).
    fn last_statement_stats(&self) -> StatementStats {
        StatementStats {
            id: self.client.last_query_id().map(str::to_string),
            ..StatementStats::default()
        }
    }

    /// One multi-statement request (`script.rs`), then one read of the query history for each
    /// statement's time; query ids from the request's answer.
    fn execute_script(
        &mut self,
        statements: &[&str],
        transaction: bool,
    ) -> Option<std::result::Result<ScriptRun, ScriptFailure>> {
        if statements.len() < 2 {
            return None;
        }
        let script = script::Script::new(statements, transaction);
        let started = std::time::Instant::now();
        let children = match self.client.run_script(&script) {
            Ok(children) => children,
            Err(error) => {
                // Snowflake rolls back what the request began; this ends it should a failure
                // of the connection have left it open
                if transaction {
                    let _ = self.rollback();
                }
                let at = script.failed_statement(&error.to_string());
                return Some(Err(ScriptFailure { at, error }));
            }
        };
        let took = started.elapsed();
        let parent = self.client.last_query_id().map(str::to_string);
        let elapsed = self.client.elapsed(&children);
        Some(Ok(ScriptRun {
            steps: script.steps(&children, &elapsed, parent, took),
            requests: 2,
        }))
    }

    fn lease_connection(&self) -> Result<Option<Box<dyn Warehouse + Send>>> {
        Ok(Some(Box::new(SnowflakeWarehouse::connect(
            self.settings.clone(),
        )?)))
    }

    /// Aborts each session (`SYSTEM$ABORT_SESSION`): its running statement stops, its open
    /// transaction rolls back and its locks go.
    fn end_open_work(&mut self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return format!("left `{id}` alone: not a Snowflake session id");
                }
                match self.execute(&format!("SELECT SYSTEM$ABORT_SESSION({id})")) {
                    Ok(()) => format!(
                        "aborted its Snowflake session {id} (its open transaction rolled back, its locks released)"
                    ),
                    Err(error) => format!("could not abort its Snowflake session {id}: {error}"),
                }
            })
            .collect()
    }

    fn columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>> {
        let sql = Snowflake.columns_query(schema, table);
        self.catalog_names(&sql, &format!("reading the columns of `{schema}.{table}`"))
    }

    fn tables(&mut self, schema: &str) -> Result<Vec<String>> {
        let sql = Snowflake.tables_query(schema);
        self.catalog_names(&sql, &format!("listing the tables of `{schema}`"))
    }
}
