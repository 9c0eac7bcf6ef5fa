//! Snowflake: self-describing data in VARIANT columns read with `GET_PATH`, arrays as ARRAY,
//! every name in upper case (what an unquoted name resolves to).

use super::{DelayedRule, Dialect, OrderKey, json_path};
use crate::error::Result;
use crate::project::group::ValueType;
use crate::project::profiles::WarehouseKind;
use crate::project::property::PropertyPath;

pub struct Snowflake;

impl Snowflake {
    /// The columns of `schema.table` in the session's database, lower case, in order.
    pub fn columns_query(&self, schema: &str, table: &str) -> String {
        format!(
            "SELECT LOWER(column_name) FROM information_schema.columns \
             WHERE table_catalog = CURRENT_DATABASE() AND table_schema = {} AND table_name = {} \
             ORDER BY ordinal_position",
            self.string_literal(&self.stored_name(schema)),
            self.string_literal(&self.stored_name(table))
        )
    }

    /// The tables of `schema` in the connection's database, as stored (upper case unless
    /// created quoted otherwise).
    pub fn tables_query(&self, schema: &str) -> String {
        format!(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_catalog = CURRENT_DATABASE() AND table_schema = {} \
             AND table_type = 'BASE TABLE' ORDER BY 1",
            self.string_literal(&self.stored_name(schema))
        )
    }

    /// Each of the queries `ids` of this session and its time in milliseconds, from the
    /// session's query history (the latest 1,000 queries: a window's two scripts hold about 40).
    pub fn query_history_query(&self, ids: &[String]) -> String {
        let ids: Vec<String> = ids.iter().map(|id| self.string_literal(id)).collect();
        format!(
            "SELECT QUERY_ID, TOTAL_ELAPSED_TIME FROM \
             TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION(RESULT_LIMIT => 1000)) \
             WHERE QUERY_ID IN ({})",
            ids.join(", ")
        )
    }

    /// The value at `path` as the events table stores it: a column, or a VARIANT from a path.
    fn stored_value(&self, path: &PropertyPath) -> String {
        let column = format!("events.{}", self.ident(&path.column));
        if path.is_atomic() {
            return column;
        }
        let path_text = json_path(path.index, &path.fields_as_sent(), "");
        let path_text = path_text.trim_start_matches('.');
        format!("GET_PATH({column}, {})", self.string_literal(path_text))
    }
}

impl Dialect for Snowflake {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::Snowflake
    }

    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::SnowflakeDialect {})
    }

    /// Unquoted names resolve upper case on Snowflake (`ATOMIC.EVENTS`, `EVENT_DATE`), quoted ones
    /// exactly; quoting the upper-case form makes `"EVENT_DATE"` and `event_date` one column.
    fn stored_name(&self, name: &str) -> String {
        name.to_uppercase()
    }

    fn type_name(&self, value_type: ValueType) -> &'static str {
        match value_type {
            ValueType::Text => "VARCHAR",
            ValueType::Integer => "NUMBER(38,0)",
            ValueType::Double => "FLOAT",
            ValueType::Boolean => "BOOLEAN",
            ValueType::Timestamp => "TIMESTAMP_NTZ",
        }
    }

    fn timestamp_type(&self) -> &'static str {
        "TIMESTAMP_NTZ"
    }

    fn text_list_literal(&self, items: &[String]) -> String {
        let items: Vec<String> = items.iter().map(|i| self.string_literal(i)).collect();
        format!("ARRAY_CONSTRUCT({})", items.join(", "))
    }

    fn list_type(&self, _element: ValueType) -> String {
        "ARRAY".into()
    }

    /// Snowflake reads backslash escapes inside single-quoted strings, so both `\` and `'` are
    /// escaped.
    fn string_literal(&self, text: &str) -> String {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    }

    fn timestamp_literal(&self, at: chrono::NaiveDateTime) -> String {
        format!("'{}'::TIMESTAMP_NTZ", at.format("%Y-%m-%d %H:%M:%S%.6f"))
    }

    /// Snowflake's TRY_CAST only takes text, so the value goes through VARCHAR first.
    fn try_cast(&self, expr: &str, value_type: ValueType) -> String {
        format!(
            "TRY_CAST(CAST({expr} AS VARCHAR) AS {})",
            self.type_name(value_type)
        )
    }

    /// A plain cast follows `TIMESTAMP_NTZ_OUTPUT_FORMAT` (milliseconds by default), which would
    /// cut the watermark short.
    fn timestamp_text(&self, expr: &str) -> String {
        format!("TO_CHAR({expr}, 'YYYY-MM-DD HH24:MI:SS.FF6')")
    }

    fn property(&self, path: &PropertyPath, value_type: ValueType) -> Result<String> {
        Ok(self.try_cast(&self.stored_value(path), value_type))
    }

    /// A VARIANT holding a string is written in JSON with a leading quote, a number without:
    /// `TO_JSON` tells them apart on Snowflake and on the stand-in alike.
    fn stored_as_text(&self, path: &PropertyPath) -> Result<String> {
        let value = self.stored_value(path);
        let value = if path.is_atomic() {
            format!("TO_VARIANT({value})")
        } else {
            value
        };
        Ok(format!("LEFT(TO_JSON({value}), 1) = '\"'"))
    }

    fn add_days(&self, timestamp: &str, days: i64) -> String {
        format!("DATEADD(day, {days}, {timestamp})")
    }

    fn add_seconds(&self, timestamp: &str, seconds: i64) -> String {
        format!("DATEADD(second, {seconds}, {timestamp})")
    }

    /// `SYSDATE()` is UTC whatever the session's `TIMEZONE`, and `TIMESTAMP_NTZ`.
    fn utc_now(&self) -> String {
        "SYSDATE()".into()
    }

    fn iso_weekday(&self, timestamp: &str) -> String {
        format!("DAYOFWEEKISO({timestamp})")
    }

    /// `DATE_TRUNC('week')` follows the session's `WEEK_START`; the ISO weekday does not.
    fn week_start(&self, timestamp: &str) -> String {
        format!("DATEADD(day, 1 - DAYOFWEEKISO({timestamp}), CAST({timestamp} AS DATE))")
    }

    fn micros_between(&self, from: &str, to: &str) -> String {
        format!("DATEDIFF('microsecond', {from}, {to})")
    }

    fn count_map(&self, key: &str, count: &str) -> String {
        format!("OBJECT_AGG({key}, TO_VARIANT({count}))")
    }

    fn unique_list_daily(&self, value: &str, when: &str) -> String {
        format!(
            "ARRAY_AGG(DISTINCT CASE WHEN {when} THEN {} END)",
            self.cast_to_text(value)
        )
    }

    fn unique_list_merge(&self, daily: &str, when: &str) -> String {
        format!("ARRAY_FLATTEN(ARRAY_AGG(CASE WHEN {when} THEN {daily} END))")
    }

    fn list_concat(&self, a: &str, b: &str) -> String {
        format!("ARRAY_CAT({a}, {b})")
    }

    fn unique_list_finish(&self, merged: &str) -> String {
        format!("CASE WHEN ARRAY_SIZE({merged}) > 0 THEN ARRAY_SORT(ARRAY_DISTINCT({merged})) END")
    }

    /// `MIN_BY`/`MAX_BY` ignore NULL keys but take one key: a tuple becomes one string that sorts
    /// like the tuple (fixed-width timestamps, then the event id last).
    fn value_at_extreme(
        &self,
        first: bool,
        value: &str,
        condition: &str,
        order: &OrderKey,
    ) -> String {
        let function = if first { "MIN_BY" } else { "MAX_BY" };
        let key = match (order.timestamps, order.tie_break) {
            ([single], None) => single.to_string(),
            (timestamps, tie_break) => timestamps
                .iter()
                .map(|t| format!("COALESCE(TO_CHAR({t}, 'YYYY-MM-DD HH24:MI:SS.FF9'), '')"))
                .chain(tie_break.map(|t| format!("COALESCE({t}, '')")))
                .collect::<Vec<_>>()
                .join(" || '|' || "),
        };
        super::value_by(function, value, condition, &key)
    }

    /// The rank as fixed-width digits (offset to be positive) ahead of the timestamps' text, so
    /// that the text key orders as the tuple does.
    fn value_at_highest_rank(
        &self,
        value: &str,
        condition: &str,
        rank: &str,
        order: &OrderKey,
    ) -> String {
        let rank = format!(
            "LPAD({}, 20, '0')",
            self.cast_to_text(&format!("{rank} + 4611686018427387904"))
        );
        let key = std::iter::once(rank)
            .chain(
                order
                    .timestamps
                    .iter()
                    .map(|t| format!("COALESCE(TO_CHAR({t}, 'YYYY-MM-DD HH24:MI:SS.FF9'), '')")),
            )
            .chain(order.tie_break.map(|t| format!("COALESCE({t}, '')")))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        super::value_by("MAX_BY", value, condition, &key)
    }

    fn compat_delayed_rule(&self) -> DelayedRule {
        DelayedRule::NotAnyLoadDate
    }
}
