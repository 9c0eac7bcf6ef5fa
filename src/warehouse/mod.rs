//! Warehouses execute SQL and return rows. DuckDB runs in-process; a recording warehouse only
//! collects statements, which is what `--dry-run` uses for everything that writes.

pub mod duckdb;

use crate::error::Result;

/// A cell read back from a warehouse, as text (NULL is `None`); state tables are small.
pub type Row = Vec<Option<String>>;

/// Cell `column` of `row` as a number: counts and sums, 0 when the row or cell is absent or NULL.
pub fn number_cell<T: std::str::FromStr + Default>(row: Option<&Row>, column: usize) -> T {
    row.and_then(|r| r.get(column).cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

pub trait Warehouse {
    fn dialect_name(&self) -> &'static str;

    /// Runs one statement that returns no rows.
    fn execute(&mut self, sql: &str) -> Result<()>;

    /// Runs one query; every cell is cast to text by the caller's SQL or read as text.
    fn query(&mut self, sql: &str) -> Result<Vec<Row>>;

    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;

    /// Whether `schema.table` exists.
    fn table_exists(&mut self, schema: &str, table: &str) -> Result<bool>;

    /// Column names of `schema.table`, lower case; empty when it does not exist.
    fn columns(&mut self, schema: &str, table: &str) -> Result<Vec<String>>;
}
