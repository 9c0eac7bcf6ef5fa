//! DuckDB: the embedded default. Self-describing data sits in JSON columns (Snowflake's layout,
//! original field names), read with `json_extract_string`.

use super::{Dialect, OrderKey, json_path};
use crate::error::Result;
use crate::project::group::ValueType;
use crate::project::profiles::WarehouseKind;
use crate::project::property::{PathSyntax, PropertyPath};

pub struct DuckDb;

impl DuckDb {
    /// `SET name = value`; `name` must be a checked plain identifier (DuckDB's SET takes it
    /// unquoted), the value is a literal.
    pub fn set_statement(&self, name: &str, value: &crate::project::group::Scalar) -> String {
        format!("SET {name} = {}", self.scalar_literal(value))
    }
}

impl Dialect for DuckDb {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::DuckDb
    }

    fn max_identifier_length(&self) -> Option<usize> {
        None
    }

    fn temporary_scratch(&self) -> bool {
        true
    }

    fn metered_reads(&self) -> bool {
        false
    }

    /// DuckDB runs in sigbatch's own process, in this machine's memory: a full refresh of a long
    /// history in one window holds every event's aggregation state at once (8.5 GB at 5M events
    /// in the scale bench) and spills under a `memory_limit`. Windows of about a million events
    /// keep a window's memory near 2 GB; at 5M events they cost no more time than one window
    /// (docs/benchmarks.md, "At scale").
    fn default_max_window_events(&self) -> Option<u64> {
        Some(1_000_000)
    }

    fn ordered_dedup(&self) -> bool {
        true
    }

    fn row_locator(&self) -> Option<&'static str> {
        Some("rowid")
    }

    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::DuckDbDialect {})
    }

    fn type_name(&self, value_type: ValueType) -> &'static str {
        match value_type {
            ValueType::Text => "VARCHAR",
            ValueType::Integer => "BIGINT",
            ValueType::Double => "DOUBLE",
            ValueType::Boolean => "BOOLEAN",
            ValueType::Timestamp => "TIMESTAMP",
        }
    }

    fn list_type(&self, element: ValueType) -> String {
        format!("{}[]", self.type_name(element))
    }

    fn property(&self, path: &PropertyPath, value_type: ValueType) -> Result<String> {
        let column = format!("events.{}", self.ident(&path.column));
        if path.is_atomic() {
            return Ok(self.try_cast(&column, value_type));
        }
        let extract = |fields: &[String]| {
            let json_path = json_path(path.index, fields, "$");
            format!(
                "json_extract_string({column}, {})",
                self.string_literal(&json_path)
            )
        };
        // BigQuery/Databricks paths arrive snake_cased; the JSON keeps the tracker's spelling,
        // which is camelCase for nearly every Snowplow schema, so both are tried.
        let text = match path.syntax {
            PathSyntax::BigQuery | PathSyntax::Databricks
                if path.fields_as_sent() != path.fields =>
            {
                format!(
                    "COALESCE({}, {})",
                    extract(&path.fields),
                    extract(&path.fields_as_sent())
                )
            }
            _ => extract(&path.fields),
        };
        Ok(if value_type == ValueType::Text {
            text
        } else {
            self.try_cast(&text, value_type)
        })
    }

    /// A JSON value's own type (`json_type`), tried in both spellings as `property` reads it;
    /// an atomic column's declared type.
    fn stored_as_text(&self, path: &PropertyPath) -> Result<String> {
        let column = format!("events.{}", self.ident(&path.column));
        if path.is_atomic() {
            return Ok(format!("typeof({column}) = 'VARCHAR'"));
        }
        let kind = |fields: &[String]| {
            let json_path = json_path(path.index, fields, "$");
            format!("json_type({column}, {})", self.string_literal(&json_path))
        };
        let kind = match path.syntax {
            PathSyntax::BigQuery | PathSyntax::Databricks
                if path.fields_as_sent() != path.fields =>
            {
                format!(
                    "COALESCE({}, {})",
                    kind(&path.fields),
                    kind(&path.fields_as_sent())
                )
            }
            _ => kind(&path.fields),
        };
        Ok(format!("{kind} = 'VARCHAR'"))
    }

    fn add_days(&self, timestamp: &str, days: i64) -> String {
        format!("({timestamp} + INTERVAL ({days}) DAY)")
    }

    fn add_seconds(&self, timestamp: &str, seconds: i64) -> String {
        format!("({timestamp} + INTERVAL ({seconds}) SECOND)")
    }

    /// From the epoch, so the session's `TimeZone` does not shift it.
    fn utc_now(&self) -> String {
        "make_timestamp(epoch_us(get_current_timestamp()))".into()
    }

    fn iso_weekday(&self, timestamp: &str) -> String {
        format!("CAST(EXTRACT(isodow FROM {timestamp}) AS BIGINT)")
    }

    fn micros_between(&self, from: &str, to: &str) -> String {
        format!("(epoch_us({to}) - epoch_us({from}))")
    }

    fn count_map(&self, key: &str, count: &str) -> String {
        format!(
            "CASE WHEN COUNT(*) > 0 THEN map_from_entries(list(struct_pack(k := {key}, v := {count}) ORDER BY {key})) END"
        )
    }

    fn unique_list_daily(&self, value: &str, when: &str) -> String {
        format!(
            "list_distinct(list({}) FILTER (WHERE {when}))",
            self.cast_to_text(value)
        )
    }

    fn unique_list_merge(&self, daily: &str, when: &str) -> String {
        format!("flatten(list({daily}) FILTER (WHERE {when}))")
    }

    fn list_concat(&self, a: &str, b: &str) -> String {
        format!("list_concat({a}, {b})")
    }

    fn unique_list_finish(&self, merged: &str) -> String {
        format!(
            "CASE WHEN len(list_distinct({merged})) > 0 THEN list_sort(list_distinct({merged})) END"
        )
    }

    /// `arg_min`/`arg_max` ignore rows whose ordering key is NULL; a tuple key is a row value,
    /// which DuckDB compares field by field.
    fn value_at_extreme(
        &self,
        first: bool,
        value: &str,
        condition: &str,
        order: &OrderKey,
    ) -> String {
        let function = if first { "arg_min" } else { "arg_max" };
        super::value_by(function, value, condition, &order.as_row("ROW"))
    }
}
