//! BigQuery: backtick identifiers, repeated records per full schema version, ARRAY<STRING>.

use super::{Dialect, OrderKey};
use crate::error::Result;
use crate::project::group::ValueType;
use crate::project::property::PropertyPath;

pub struct BigQuery;

impl Dialect for BigQuery {
    fn name(&self) -> &'static str {
        "bigquery"
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

    fn type_name(&self, value_type: ValueType) -> &'static str {
        match value_type {
            ValueType::Text => "STRING",
            ValueType::Integer => "INT64",
            ValueType::Double => "FLOAT64",
            ValueType::Boolean => "BOOL",
        }
    }

    fn list_type(&self, element: ValueType) -> String {
        format!("ARRAY<{}>", self.type_name(element))
    }

    fn try_cast(&self, expr: &str, value_type: ValueType) -> String {
        format!("SAFE_CAST({expr} AS {})", self.type_name(value_type))
    }

    /// A context column exists once per full schema version; this reads the `_0_0` version of
    /// the path's major (the coalesce over every version needs the table's column list, which
    /// only a connection has).
    fn property(&self, path: &PropertyPath, value_type: ValueType) -> Result<String> {
        if path.is_atomic() {
            return Ok(self.try_cast(&format!("events.{}", self.ident(&path.column)), value_type));
        }
        let mut expr = format!("events.{}", self.ident(&format!("{}_0_0", path.column)));
        if path.column.starts_with("contexts_") {
            expr.push_str(&format!("[SAFE_OFFSET({})]", path.index.unwrap_or(0)));
        }
        for field in path.fields_snake_case() {
            expr.push('.');
            expr.push_str(&self.ident(&field));
        }
        Ok(self.try_cast(&expr, value_type))
    }

    fn date_of(&self, timestamp: &str) -> String {
        format!("DATE({timestamp})")
    }

    fn add_days(&self, timestamp: &str, days: i64) -> String {
        format!("TIMESTAMP_ADD({timestamp}, INTERVAL {days} DAY)")
    }

    fn md5_hex(&self, text: &str) -> String {
        format!("TO_HEX(MD5({text}))")
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
        format!(
            "ARRAY_AGG(IF({condition}, {value}, NULL) IGNORE NULLS ORDER BY {} LIMIT 1)[SAFE_OFFSET(0)]",
            order.join(", ")
        )
    }
}
