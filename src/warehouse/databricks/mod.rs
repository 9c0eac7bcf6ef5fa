//! Databricks over the SQL Statement Execution API (`client.rs`), behind the `Warehouse` trait.
//!
//! There are no multi-statement transactions: every statement is its own Delta commit. So
//! `transactions` is false: a window runs its DDL first (each statement safe to repeat), then
//! deletes the run state, then writes its rows, and writes the run state last. A run stopped
//! anywhere in between leaves no run state, and the next run rebuilds every table
//! (`render::window_plan`), which in exact mode is what the interrupted runs would have built.

mod client;

pub use client::{Client, ResultSet};

use crate::dialect::Databricks;
use crate::error::{Error, Result};
use crate::project::profiles::databricks::DatabricksSettings;
use crate::warehouse::{Row, StatementStats, Warehouse};

pub struct DatabricksWarehouse {
    client: Client,
}

impl DatabricksWarehouse {
    pub fn connect(settings: DatabricksSettings) -> Result<DatabricksWarehouse> {
        Ok(DatabricksWarehouse {
            client: Client::connect(settings)?,
        })
    }
}

impl Warehouse for DatabricksWarehouse {
    fn execute(&mut self, sql: &str) -> Result<()> {
        self.client.run(sql).map(|_| ())
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Row>> {
        Ok(self.client.run(sql)?.rows)
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn transactions(&self) -> bool {
        false
    }

    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        Ok(())
    }

    /// Cancels each statement still running: without transactions, one left running by a
    /// killed run would otherwise commit its rows after the next run wrote its own.
    fn end_open_work(&mut self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                let path_safe =
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !path_safe {
                    return format!("left `{id}` alone: not a Databricks statement id");
                }
                match self.client.cancel(id) {
                    Ok(()) => format!("cancelled its Databricks statement {id}"),
                    Err(error) => {
                        format!("could not cancel its Databricks statement {id}: {error}")
                    }
                }
            })
            .collect()
    }

    fn lease_connection(&self) -> Result<Option<Box<dyn Warehouse + Send>>> {
        Ok(Some(Box::new(DatabricksWarehouse::connect(
            self.client.settings().clone(),
        )?)))
    }

    fn last_statement_stats(&self) -> StatementStats {
        self.client.last_stats().clone()
    }

    fn columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>> {
        self.events_columns(None, schema, table)
    }

    fn tables(&mut self, schema: &str) -> Result<Vec<String>> {
        match self.client.run(&Databricks.tables_query(schema)) {
            Ok(result) => Ok(result
                .rows
                .into_iter()
                .filter(|row| row.get(2).cloned().flatten().as_deref() != Some("true"))
                .filter_map(|row| row.get(1).cloned().flatten())
                .collect()),
            Err(error) if is_missing(&error) => Ok(Vec::new()),
            Err(other) => Err(other),
        }
    }

    /// The columns of an empty read (the result manifest names them); none where the table
    /// does not exist.
    fn events_columns(
        &mut self,
        catalog: Option<&str>,
        schema: &str,
        table: &str,
    ) -> Result<Vec<String>> {
        let parts: Vec<&str> = catalog.into_iter().chain([schema, table]).collect();
        let sql = Databricks.columns_query(&parts);
        match self.client.run(&sql) {
            Ok(result) => Ok(result.columns.iter().map(|c| c.to_lowercase()).collect()),
            Err(error) if is_missing(&error) => Ok(Vec::new()),
            Err(other) => Err(other),
        }
    }
}

/// Whether Databricks refused a statement because the table or schema it names does not exist.
fn is_missing(error: &Error) -> bool {
    matches!(error, Error::Stage { message, .. }
        if message.contains("NOT_FOUND") || message.contains("not found"))
}
