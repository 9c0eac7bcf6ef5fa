//! BigQuery: backtick identifiers, repeated records per full schema version, ARRAY<STRING>,
//! derived tables partitioned by day and clustered by the key.

use super::{Dialect, OrderKey, backslash_escaped, index_segment};
use crate::error::Result;
use crate::project::group::ValueType;
use crate::project::profiles::WarehouseKind;
use crate::project::property::PropertyPath;

/// Knows the events table's columns when a connection has read them (`reading`), so a property
/// reads every schema version of its major that the table has; without them (`compile`,
/// `export-dbt`) it reads the `_0_0` version.
#[derive(Debug, Clone, Default)]
pub struct BigQuery {
    event_columns: Vec<String>,
}

impl BigQuery {
    /// The columns of `dataset.table` in `project`, lower case, in order.
    pub fn columns_query(&self, project: &str, dataset: &str, table: &str) -> String {
        format!(
            "SELECT LOWER(column_name) FROM {} WHERE table_name = {} ORDER BY ordinal_position",
            self.relation(&[project, dataset, "INFORMATION_SCHEMA", "COLUMNS"]),
            self.string_literal(table)
        )
    }

    pub fn reading(event_columns: &[String]) -> BigQuery {
        BigQuery {
            event_columns: event_columns.to_vec(),
        }
    }

    /// The columns to read for `column`: the versions the table has, else `_0_0`.
    fn physical_columns(&self, column: &str) -> Vec<String> {
        let found = self.versions_of(column, &self.event_columns);
        if found.is_empty() {
            vec![format!("{column}_0_0")]
        } else {
            found
        }
    }

    /// The values at `path` as the events table stores them, one per stored schema version,
    /// newest first (one for an atomic column).
    fn stored_values(&self, path: &PropertyPath) -> Vec<String> {
        if path.is_atomic() {
            return vec![format!("events.{}", self.ident(&path.column))];
        }
        self.physical_columns(&path.column)
            .iter()
            .map(|column| {
                let mut expr = format!("events.{}", self.ident(column));
                if path.column.starts_with("contexts_") {
                    expr.push_str(&format!("[SAFE_OFFSET({})]", path.index.unwrap_or(0)));
                }
                for field in path.fields_snake_case() {
                    match index_segment(&field) {
                        Some(i) => expr.push_str(&format!("[SAFE_OFFSET({i})]")),
                        None => {
                            expr.push('.');
                            expr.push_str(&self.ident(&field));
                        }
                    }
                }
                expr
            })
            .collect()
    }
}

/// The first non-NULL of `values`, or the one value.
fn first_non_null(values: &[String]) -> String {
    match values {
        [one] => one.clone(),
        many => format!("COALESCE({})", many.join(", ")),
    }
}

impl Dialect for BigQuery {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::BigQuery
    }

    /// Column names: 300 characters (tables and datasets may have 1,024).
    fn max_identifier_length(&self) -> Option<usize> {
        Some(300)
    }

    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::BigQueryDialect {})
    }

    /// dbt-bigquery has no delete+insert or append: a merge on the key, or on nothing (insert).
    fn dbt_incremental_strategy(&self, _keyed: bool) -> &'static str {
        "merge"
    }

    fn ident(&self, name: &str) -> String {
        format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
    }

    fn string_literal(&self, text: &str) -> String {
        backslash_escaped(text)
    }

    fn type_name(&self, value_type: ValueType) -> &'static str {
        match value_type {
            ValueType::Text => "STRING",
            ValueType::Integer => "INT64",
            ValueType::Double => "FLOAT64",
            ValueType::Boolean => "BOOL",
            ValueType::Timestamp => "TIMESTAMP",
        }
    }

    fn list_type(&self, element: ValueType) -> String {
        format!("ARRAY<{}>", self.type_name(element))
    }

    fn try_cast(&self, expr: &str, value_type: ValueType) -> String {
        format!("SAFE_CAST({expr} AS {})", self.type_name(value_type))
    }

    fn timestamp_text(&self, expr: &str) -> String {
        format!("FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%E6S', {expr})")
    }

    fn keeps_insert_order(&self) -> bool {
        false
    }

    fn table_layout(&self, partition_date: Option<&str>, cluster_by: Option<&str>) -> String {
        let mut layout = String::new();
        if let Some(date) = partition_date {
            layout.push_str(&format!(" PARTITION BY {date}"));
        }
        if let Some(key) = cluster_by {
            layout.push_str(&format!(" CLUSTER BY {key}"));
        }
        layout
    }

    /// `contexts_x_1` is stored as `contexts_x_1_0_0`, `contexts_x_1_0_2`, ...: those present,
    /// newest (minor, patch) first.
    fn versions_of(&self, column: &str, available: &[String]) -> Vec<String> {
        let column = column.to_lowercase();
        let mut versions: Vec<((u32, u32), String)> = available
            .iter()
            .filter_map(|name| {
                let rest = name.strip_prefix(&column)?.strip_prefix('_')?;
                let (minor, patch) = rest.split_once('_')?;
                Some(((minor.parse().ok()?, patch.parse().ok()?), name.clone()))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        versions.into_iter().map(|(_, name)| name).collect()
    }

    /// A self-describing property is the first non-NULL value over every stored version of its
    /// major, newest first, each converted on its own (a field's type may differ by version).
    fn property(&self, path: &PropertyPath, value_type: ValueType) -> Result<String> {
        let values: Vec<String> = self
            .stored_values(path)
            .iter()
            .map(|value| self.try_cast(value, value_type))
            .collect();
        Ok(first_non_null(&values))
    }

    /// A `STRING` field or column is the one whose JSON text is quoted; the version that gives
    /// the value decides.
    fn stored_as_text(&self, path: &PropertyPath) -> Result<String> {
        let kinds: Vec<String> = self
            .stored_values(path)
            .iter()
            .map(|value| {
                format!("CASE WHEN {value} IS NOT NULL THEN STARTS_WITH(TO_JSON_STRING({value}), '\"') END")
            })
            .collect();
        Ok(first_non_null(&kinds))
    }

    fn date_of(&self, timestamp: &str) -> String {
        format!("DATE({timestamp})")
    }

    fn add_days(&self, timestamp: &str, days: i64) -> String {
        format!("TIMESTAMP_ADD({timestamp}, INTERVAL {days} DAY)")
    }

    fn add_seconds(&self, timestamp: &str, seconds: i64) -> String {
        format!("TIMESTAMP_ADD({timestamp}, INTERVAL {seconds} SECOND)")
    }

    fn utc_now(&self) -> String {
        "CURRENT_TIMESTAMP()".into()
    }

    fn md5_hex(&self, text: &str) -> String {
        format!("TO_HEX(MD5({text}))")
    }

    /// Arrays have no equality in BigQuery: they compare as their JSON text (elements in order,
    /// which the lists and maps keep sorted).
    fn comparable_collection(&self, value: &str) -> String {
        format!("TO_JSON_STRING({value})")
    }

    /// BigQuery's `DAYOFWEEK` runs from Sunday (1) to Saturday (7).
    fn iso_weekday(&self, timestamp: &str) -> String {
        format!("(MOD(EXTRACT(DAYOFWEEK FROM {timestamp}) + 5, 7) + 1)")
    }

    fn week_start(&self, timestamp: &str) -> String {
        format!("DATE_TRUNC(DATE({timestamp}), ISOWEEK)")
    }

    fn micros_between(&self, from: &str, to: &str) -> String {
        format!("TIMESTAMP_DIFF({to}, {from}, MICROSECOND)")
    }

    /// BigQuery has no map type: an array of (key, value) structs, keys ascending.
    fn count_map(&self, key: &str, count: &str) -> String {
        format!(
            "CASE WHEN COUNT(*) > 0 THEN ARRAY_AGG(STRUCT({key} AS key, {count} AS value) ORDER BY {key}) END"
        )
    }

    fn unique_list_daily(&self, value: &str, when: &str) -> String {
        format!(
            "ARRAY_AGG(DISTINCT IF({when}, {}, NULL) IGNORE NULLS)",
            self.cast_to_text(value)
        )
    }

    fn unique_list_merge(&self, daily: &str, when: &str) -> String {
        format!("ARRAY_CONCAT_AGG(IF({when}, {daily}, NULL))")
    }

    fn list_concat(&self, a: &str, b: &str) -> String {
        format!("ARRAY_CONCAT({a}, {b})")
    }

    fn unique_list_finish(&self, merged: &str) -> String {
        format!(
            "IF(ARRAY_LENGTH({merged}) > 0, ARRAY(SELECT DISTINCT element FROM UNNEST({merged}) AS element ORDER BY element), NULL)"
        )
    }

    /// No arg-min with a tuple key in GoogleSQL: the first element of the qualifying values
    /// ordered by the tuple (`IGNORE NULLS` drops the rows the condition turned into NULL).
    fn value_at_extreme(
        &self,
        first: bool,
        value: &str,
        condition: &str,
        order: &OrderKey,
    ) -> String {
        let direction = if first { "" } else { " DESC" };
        let order: Vec<String> = order
            .parts()
            .iter()
            .map(|o| format!("{o}{direction}"))
            .collect();
        // qualifying rows first as well: BigQuery drops the NULLs before the LIMIT, an engine
        // that limits first (the emulator) still finds a qualifying row at the head
        format!(
            "ARRAY_AGG(IF({condition}, {value}, NULL) IGNORE NULLS ORDER BY IF({condition}, 0, 1), {} LIMIT 1)[SAFE_OFFSET(0)]",
            order.join(", ")
        )
    }
}
