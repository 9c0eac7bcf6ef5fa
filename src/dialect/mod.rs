//! Dialects turn typed values and stage specs into SQL text for one warehouse.
//!
//! Core code never asks which warehouse it is talking to: every difference (quoting, JSON path
//! access, list aggregation, date arithmetic, hashing) is a method of `Dialect`. A user string
//! only ever reaches SQL through `ident` or `string_literal`.

mod bigquery;
mod databricks;
mod duckdb;
mod snowflake;

use chrono::{NaiveDate, NaiveDateTime};

pub use bigquery::BigQuery;
pub use databricks::Databricks;
pub use duckdb::DuckDb;
pub use snowflake::Snowflake;

use crate::error::{Error, Result};
use crate::project::group::{Scalar, ValueType};
use crate::project::profiles::WarehouseKind;
use crate::project::property::PropertyPath;
use crate::project::vars::Vars;

/// How upstream's `days_to_process` decides that a date is "delayed" (it differs per warehouse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayedRule {
    /// Snowflake: the date is not the load date of any event in the run.
    NotAnyLoadDate,
    /// BigQuery/Databricks: no event of that date was also loaded that date.
    NoSameDayLoad,
}

/// An ordering tuple for `value_at_extreme`: timestamps, then an optional text tie-break.
#[derive(Debug, Clone, Copy)]
pub struct OrderKey<'a> {
    pub timestamps: &'a [&'a str],
    pub tie_break: Option<&'a str>,
}

impl OrderKey<'_> {
    pub fn parts(&self) -> Vec<&str> {
        self.timestamps
            .iter()
            .copied()
            .chain(self.tie_break)
            .collect()
    }

    /// The key as one comparable value: a single part as it is, several through the dialect's
    /// row constructor (`ROW`, `struct`), which compares field by field.
    pub fn as_row(&self, constructor: &str) -> String {
        match self.parts().as_slice() {
            [single] => single.to_string(),
            many => format!("{constructor}({})", many.join(", ")),
        }
    }
}

/// `function(value, key)` over the rows where `condition` holds: the arg-min/arg-max aggregate
/// every dialect has under its own name.
pub(crate) fn value_by(function: &str, value: &str, condition: &str, key: &str) -> String {
    format!("{function}({value}, CASE WHEN {condition} THEN {key} END)")
}

pub trait Dialect: Send + Sync {
    /// The warehouse this dialect is the SQL of.
    fn kind(&self) -> WarehouseKind;

    /// The kind's name (`duckdb`, ...), as errors and messages show it.
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The parser used to check that every rendered statement is valid in this dialect.
    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect>;

    /// The name as the warehouse stores it: Snowflake folds names to upper case, so every name
    /// the engine makes or reads is written in that form, quoted or not, and both resolve alike.
    fn stored_name(&self, name: &str) -> String {
        name.to_string()
    }

    fn ident(&self, name: &str) -> String {
        format!("\"{}\"", self.stored_name(name).replace('"', "\"\""))
    }

    /// A dotted relation name, each part quoted.
    fn relation(&self, parts: &[&str]) -> String {
        parts
            .iter()
            .map(|p| self.ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn string_literal(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    fn scalar_literal(&self, value: &Scalar) -> String {
        match value {
            Scalar::Text(text) => self.string_literal(text),
            Scalar::Integer(i) => i.to_string(),
            Scalar::Double(d) if d.is_finite() => format!("{d:?}"),
            Scalar::Double(_) => "NULL".into(),
            Scalar::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        }
    }

    fn timestamp_literal(&self, at: NaiveDateTime) -> String {
        format!("TIMESTAMP '{}'", at.format("%Y-%m-%d %H:%M:%S%.6f"))
    }

    fn date_literal(&self, day: NaiveDate) -> String {
        format!("DATE '{}'", day.format("%Y-%m-%d"))
    }

    fn type_name(&self, value_type: ValueType) -> &'static str;

    /// A list of text values, as the unique_list columns hold them.
    fn text_list_literal(&self, items: &[String]) -> String {
        let items: Vec<String> = items.iter().map(|i| self.string_literal(i)).collect();
        format!("[{}]", items.join(", "))
    }

    fn timestamp_type(&self) -> &'static str {
        "TIMESTAMP"
    }

    fn list_type(&self, element: ValueType) -> String;

    /// `expr` converted to `value_type`, NULL where it does not convert.
    fn try_cast(&self, expr: &str, value_type: ValueType) -> String {
        format!("TRY_CAST({expr} AS {})", self.type_name(value_type))
    }

    fn cast_to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS {})", self.type_name(ValueType::Text))
    }

    /// A timestamp as text with all its microseconds (state reads parse it back exactly).
    fn timestamp_text(&self, expr: &str) -> String {
        self.cast_to_text(expr)
    }

    /// The catalog (database, project) the events table is read from, before its schema:
    /// `snowplow__database` where set.
    fn events_catalog(&self, vars: &Vars) -> Option<String> {
        vars.database.clone()
    }

    /// Whether `QUALIFY` filters on a window function; without it, deduplication is a
    /// `row_number()` subquery.
    fn has_qualify(&self) -> bool {
        true
    }

    /// Whether `NOT EXISTS (SELECT ...)` and `DELETE ... WHERE x IN (SELECT ...)` run; without
    /// them, `MERGE ... WHEN NOT MATCHED THEN INSERT` (the lease seed) and `MERGE ... WHEN
    /// MATCHED THEN DELETE` say the same.
    fn subquery_predicates(&self) -> bool {
        true
    }

    /// A column every stored row has that names it until the transaction's end (DuckDB's
    /// `rowid`), so a statement can delete rows an earlier one found without finding them again;
    /// `None` where there is none.
    fn row_locator(&self) -> Option<&'static str> {
        None
    }

    /// Whether `UPDATE target SET ... FROM source WHERE ...` joins another table; without it,
    /// `MERGE INTO target USING source ON ... WHEN MATCHED AND ... THEN UPDATE` says the same
    /// (Delta's UPDATE reads no other table).
    fn update_from(&self) -> bool {
        true
    }

    /// The table format every `CREATE TABLE` names (Databricks: Delta, whatever the workspace's
    /// default); empty by default.
    fn table_format(&self) -> &'static str {
        ""
    }

    /// Storage clauses after `CREATE TABLE name` (or its column list): how a table is
    /// partitioned by a date column and clustered by the key, where the warehouse bills by what a
    /// query reads. Empty by default.
    fn table_layout(&self, _partition_date: Option<&str>, _cluster_by: Option<&str>) -> String {
        String::new()
    }

    /// The longest identifier (table, schema or column name, in characters) the warehouse
    /// takes; `None` where it has no limit a project could reach.
    fn max_identifier_length(&self) -> Option<usize> {
        Some(255)
    }

    /// Whether a window's scratch tables are the connection's temporary tables (`CREATE TEMP
    /// TABLE`), which the warehouse neither logs nor stores: DuckDB would otherwise write every
    /// scratch row to its log and its file at commit. A run's statements share one connection.
    /// `export-dbt` always stores them (`Tables::stored`).
    fn temporary_scratch(&self) -> bool {
        false
    }

    /// Whether each read of the events table is billed or metered on its own (bytes scanned,
    /// warehouse time, a remote scan), so that a workspace reading it once for several groups
    /// (its shared read) pays for the copy it makes. A local file (DuckDB) reads its columns
    /// for less than the copy costs: there the shared read is off unless the workspace file
    /// turns it on.
    fn metered_reads(&self) -> bool {
        true
    }

    /// How many loaded events an exact-mode window reads at most unless the project's
    /// `sigbatch__max_window_events` says otherwise (semantics.md 2.1). `None`: only
    /// `snowplow__backfill_limit_days` bounds a window, where the warehouse brings the memory
    /// and every extra window costs requests and a read of its own.
    fn default_max_window_events(&self) -> Option<u64> {
        None
    }

    /// Whether a table's rows stay in the order they were inserted, so inserting the daily rows
    /// by `event_date` keeps each date together and a later run's delete and read of
    /// recent dates touch few blocks (DuckDB's row groups, Snowflake's micro-partitions, Delta's
    /// files). False where `table_layout` partitions by date already.
    fn keeps_insert_order(&self) -> bool {
        true
    }

    /// Whether exact mode's deduplication of a stored window keeps the events table's order
    /// (`base_events_select.sql`): the ids that occur more than once among the window's
    /// candidate events are found by a `GROUP BY`, every other event streams through in order
    /// and only the duplicated ids are ranked. Ranking every event hands the rows out in the
    /// window's hash order, and `filtered_events` would lose the load order its zone maps prune
    /// by (a later window's pairs are found in its last row groups). Reads the candidates twice
    /// where the warehouse does not keep a CTE, so DuckDB only; needs `QUALIFY`.
    fn ordered_dedup(&self) -> bool {
        false
    }

    /// The events-table columns that hold the self-describing column `column` (named by major
    /// version, `contexts_x_1`), newest first, among `available` (lower case). One column per
    /// major version by default; BigQuery has one per full version.
    fn versions_of(&self, column: &str, available: &[String]) -> Vec<String> {
        let column = column.to_lowercase();
        available
            .iter()
            .filter(|c| **c == column)
            .cloned()
            .collect()
    }

    /// The value at `path` in the events table row aliased `events`, as `value_type`.
    fn property(&self, path: &PropertyPath, value_type: ValueType) -> Result<String>;

    /// Compat mode (semantics.md 6.6): a condition that holds where the events table stores the
    /// value at `path` as a string (a JSON string in a JSON/VARIANT column, a `STRING` field or
    /// column), and not where it stores a number; NULL or false where there is no value.
    fn stored_as_text(&self, path: &PropertyPath) -> Result<String>;

    /// The dbt incremental strategy (`export-dbt`) of a model whose rows replace the stored rows
    /// with the same key (`keyed`), or are appended.
    fn dbt_incremental_strategy(&self, keyed: bool) -> &'static str {
        if keyed { "delete+insert" } else { "append" }
    }

    fn date_of(&self, timestamp: &str) -> String {
        format!("CAST({timestamp} AS DATE)")
    }

    fn add_days(&self, timestamp: &str, days: i64) -> String;

    fn add_seconds(&self, timestamp: &str, seconds: i64) -> String;

    /// The warehouse's clock, as a UTC `timestamp_type` value: what the run lease is timed by,
    /// so two workers whose clocks disagree still agree on whose lease is live.
    fn utc_now(&self) -> String;

    /// Lower-case hex MD5 of a string expression.
    fn md5_hex(&self, text: &str) -> String {
        format!("MD5({text})")
    }

    /// Per-day aggregate: the distinct non-NULL values (as text) of matching events.
    fn unique_list_daily(&self, value: &str, when: &str) -> String;

    /// Aggregate over daily rows: all daily lists (where `when`) concatenated.
    fn unique_list_merge(&self, daily: &str, when: &str) -> String;

    /// Two lists (neither NULL) as one, the elements of `a` then `b`'s.
    fn list_concat(&self, a: &str, b: &str) -> String;

    /// The merged list, distinct and sorted ascending; NULL when empty.
    fn unique_list_finish(&self, merged: &str) -> String;

    /// Aggregate: the `value` of the row where `condition` holds with the smallest (`first`) or
    /// largest ordering tuple, compared left to right; NULL when no row qualifies. Callers put
    /// `value IS NOT NULL` into `condition`, so no dialect has to decide what a NULL value means.
    fn value_at_extreme(
        &self,
        first: bool,
        value: &str,
        condition: &str,
        order: &OrderKey,
    ) -> String;

    /// Aggregate: the `value` of the row where `condition` holds with the largest (`rank`, then
    /// `order`'s parts), `rank` an integer expression (a count, or minus one); NULL when no row
    /// qualifies: most/least_frequent's pick among a key's counted values.
    fn value_at_highest_rank(
        &self,
        value: &str,
        condition: &str,
        rank: &str,
        order: &OrderKey,
    ) -> String {
        let parts: Vec<&str> = std::iter::once(rank)
            .chain(order.timestamps.iter().copied())
            .collect();
        let order = OrderKey {
            timestamps: &parts,
            tie_break: order.tie_break,
        };
        self.value_at_extreme(false, value, condition, &order)
    }

    /// A list or map value as something `IS DISTINCT FROM` compares; the value itself where
    /// the warehouse compares such types.
    fn comparable_collection(&self, value: &str) -> String {
        value.to_string()
    }

    /// The ISO day of the week of a timestamp: 1 (Monday) to 7 (Sunday).
    fn iso_weekday(&self, timestamp: &str) -> String;

    /// The date of the Monday that starts a timestamp's ISO week.
    fn week_start(&self, timestamp: &str) -> String {
        format!("CAST(DATE_TRUNC('week', {timestamp}) AS DATE)")
    }

    /// Microseconds from `from` to `to` (negative when `to` is earlier), as an integer.
    fn micros_between(&self, from: &str, to: &str) -> String;

    /// Aggregate: the (text) `key` -> (integer) `count` pairs of the group's rows as the
    /// warehouse's map type, keys ascending (`category_count`). NULL for no rows.
    fn count_map(&self, key: &str, count: &str) -> String;

    fn compat_delayed_rule(&self) -> DelayedRule {
        DelayedRule::NoSameDayLoad
    }

    /// Checks that `sql` parses as exactly one statement of this dialect.
    fn check(&self, stage: &str, sql: &str) -> Result<()> {
        check_parses(self, stage, sql)
    }
}

/// A string literal where a backslash escapes (BigQuery, Spark SQL): quotes, backslashes and
/// line breaks escaped.
pub(crate) fn backslash_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether `sql` parses as exactly one statement with `dialect`'s parser.
pub(crate) fn check_parses<D: Dialect + ?Sized>(dialect: &D, stage: &str, sql: &str) -> Result<()> {
    let parser = dialect.parser();
    match sqlparser::parser::Parser::parse_sql(parser.as_ref(), sql) {
        Ok(statements) if statements.len() == 1 => Ok(()),
        Ok(statements) => Err(Error::Internal(format!(
            "stage `{stage}` rendered {} statements where one was expected for {}",
            statements.len(),
            dialect.name()
        ))),
        Err(e) => Err(Error::Internal(format!(
            "stage `{stage}` rendered SQL that does not parse as {}: {e}\n{sql}",
            dialect.name()
        ))),
    }
}

// The kind's dialect is said here rather than in `project::profiles::kind`, so that `project`
// never imports `dialect` (which imports `project`).
impl WarehouseKind {
    /// The dialect of this warehouse.
    pub fn dialect(self) -> Box<dyn Dialect> {
        match self {
            WarehouseKind::DuckDb => Box::new(DuckDb),
            WarehouseKind::Snowflake => Box::new(Snowflake),
            WarehouseKind::BigQuery => Box::new(BigQuery::default()),
            WarehouseKind::Databricks => Box::new(Databricks),
        }
    }

    /// The dialect for reading an events table with `columns` (lower case): BigQuery reads
    /// every schema version present of a self-describing column.
    pub fn events_dialect(self, columns: &[String]) -> Box<dyn Dialect> {
        match self {
            WarehouseKind::BigQuery => Box::new(BigQuery::reading(columns)),
            WarehouseKind::DuckDb | WarehouseKind::Snowflake | WarehouseKind::Databricks => {
                self.dialect()
            }
        }
    }

    /// The kind named by `--dialect`; an unknown name is refused naming the known ones.
    pub fn for_dialect(name: &str) -> Result<WarehouseKind> {
        WarehouseKind::from_name(name).ok_or_else(|| {
            Error::invalid("dialect", format!("unknown dialect `{name}`")).with_hint(format!(
                "use {}",
                WarehouseKind::listed(&WarehouseKind::ALL, "or")
            ))
        })
    }
}

/// The JSON path (`$[0].a.b`) for the index and fields of a self-describing property.
pub(crate) fn json_path(index: Option<u32>, fields: &[String], root: &str) -> String {
    let mut path = root.to_string();
    if let Some(i) = index {
        path.push_str(&format!("[{i}]"));
    }
    for field in fields {
        // an array index of a nested path (`tags[1].name`) follows its field without a dot
        if index_segment(field).is_none() {
            path.push('.');
        }
        path.push_str(field);
    }
    path
}

/// The array index a path segment `[n]` stands for (`PropertyPath::fields`), `None` for a field.
pub(crate) fn index_segment(field: &str) -> Option<u32> {
    field.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests;
