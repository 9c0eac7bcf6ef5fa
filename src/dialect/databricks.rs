//! Databricks (Spark SQL on Delta): backtick identifiers, backslash escapes in strings, contexts
//! as `array<struct>` read with `get(col, 0).field` (`col[0]` fails on an empty array under ANSI
//! mode), unique lists with `collect_set`/`flatten`/`array_distinct`, `min_by`/`max_by` over a
//! struct key. No `QUALIFY` and no `DELETE ... IN (SELECT ...)` where it must also run (Sail):
//! deduplication is a `row_number()` subquery and deletes by subquery are `MERGE ... DELETE`.

use super::{Dialect, OrderKey, backslash_escaped, check_parses, index_segment};
use crate::error::Result;
use crate::project::group::ValueType;
use crate::project::profiles::WarehouseKind;
use crate::project::property::PropertyPath;
use crate::project::vars::Vars;

pub struct Databricks;

impl Databricks {
    /// An empty read of the relation `parts`, whose result manifest names its columns.
    pub fn columns_query(&self, parts: &[&str]) -> String {
        format!("SELECT * FROM {} LIMIT 0", self.relation(parts))
    }

    /// `SHOW TABLES` of `schema`: its rows are (schema, table name, whether temporary).
    pub fn tables_query(&self, schema: &str) -> String {
        format!("SHOW TABLES IN {}", self.ident(schema))
    }

    /// The value at `path` as the events table stores it: a column, or a field of a struct.
    fn stored_value(&self, path: &PropertyPath) -> String {
        let mut expr = format!("events.{}", self.ident(&path.column));
        if path.is_atomic() {
            return expr;
        }
        if path.column.starts_with("contexts_") {
            expr = format!("get({expr}, {})", path.index.unwrap_or(0));
        }
        for field in path.fields_snake_case() {
            match index_segment(&field) {
                Some(i) => expr = format!("get({expr}, {i})"),
                None => {
                    expr.push('.');
                    expr.push_str(&self.ident(&field));
                }
            }
        }
        expr
    }
}

impl Dialect for Databricks {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::Databricks
    }

    fn parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::DatabricksDialect {})
    }

    /// sqlparser's Databricks dialect does not know a `CREATE TABLE`'s `USING DELTA` (its Spark
    /// dialect does, but not backslash escapes): the clause the engine adds is checked apart.
    fn check(&self, stage: &str, sql: &str) -> Result<()> {
        match sql.split_once(self.table_format()) {
            Some((before, after)) if sql.starts_with("CREATE ") => {
                check_parses(self, stage, &format!("{before}{after}"))
            }
            _ => check_parses(self, stage, sql),
        }
    }

    fn dbt_incremental_strategy(&self, keyed: bool) -> &'static str {
        if keyed { "merge" } else { "append" }
    }

    fn ident(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    fn string_literal(&self, text: &str) -> String {
        backslash_escaped(text)
    }

    fn type_name(&self, value_type: ValueType) -> &'static str {
        match value_type {
            ValueType::Text => "STRING",
            ValueType::Integer => "BIGINT",
            ValueType::Double => "DOUBLE",
            ValueType::Boolean => "BOOLEAN",
            ValueType::Timestamp => "TIMESTAMP",
        }
    }

    fn text_list_literal(&self, items: &[String]) -> String {
        let items: Vec<String> = items.iter().map(|i| self.string_literal(i)).collect();
        format!("array({})", items.join(", "))
    }

    fn list_type(&self, element: ValueType) -> String {
        format!("ARRAY<{}>", self.type_name(element))
    }

    /// `CAST(ts AS STRING)` drops trailing zeros of the fraction; the state reads want all six.
    fn timestamp_text(&self, expr: &str) -> String {
        format!("date_format({expr}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')")
    }

    /// Upstream's `snowplow__databricks_catalog` (default `hive_metastore`).
    fn events_catalog(&self, vars: &Vars) -> Option<String> {
        Some(vars.databricks_catalog.clone())
    }

    fn table_format(&self) -> &'static str {
        " USING DELTA"
    }

    fn has_qualify(&self) -> bool {
        false
    }

    fn subquery_predicates(&self) -> bool {
        false
    }

    fn update_from(&self) -> bool {
        false
    }

    /// Contexts are arrays of structs (`get` gives NULL past the end), unstruct events structs;
    /// fields in snake_case, as the Databricks loader names them.
    fn property(&self, path: &PropertyPath, value_type: ValueType) -> Result<String> {
        Ok(self.try_cast(&self.stored_value(path), value_type))
    }

    /// Struct fields and columns carry their own type: `typeof` names it.
    fn stored_as_text(&self, path: &PropertyPath) -> Result<String> {
        Ok(format!("typeof({}) = 'string'", self.stored_value(path)))
    }

    fn add_days(&self, timestamp: &str, days: i64) -> String {
        format!("({timestamp} + INTERVAL {days} DAYS)")
    }

    fn add_seconds(&self, timestamp: &str, seconds: i64) -> String {
        format!("({timestamp} + INTERVAL {seconds} SECONDS)")
    }

    /// An instant: `TIMESTAMP` columns hold instants, whatever the session time zone.
    fn utc_now(&self) -> String {
        "current_timestamp()".into()
    }

    /// `size(NULL)` is -1 or NULL, depending on the session.
    /// Spark's `dayofweek` runs from Sunday (1) to Saturday (7).
    fn iso_weekday(&self, timestamp: &str) -> String {
        format!("(((dayofweek({timestamp}) + 5) % 7) + 1)")
    }

    fn micros_between(&self, from: &str, to: &str) -> String {
        format!("(unix_micros({to}) - unix_micros({from}))")
    }

    fn count_map(&self, key: &str, count: &str) -> String {
        format!(
            "CASE WHEN COUNT(*) > 0 THEN map_from_entries(array_sort(collect_list(struct({key}, {count})))) END"
        )
    }

    /// NULL rather than an empty array for a day without values: a column created from
    /// `collect_set` alone is NOT NULL in Delta, and the lifetime partial it shapes must hold
    /// NULL for a key without values.
    fn unique_list_daily(&self, value: &str, when: &str) -> String {
        let set = format!(
            "collect_set(CASE WHEN {when} THEN {} END)",
            self.cast_to_text(value)
        );
        format!("CASE WHEN size({set}) > 0 THEN {set} END")
    }

    fn unique_list_merge(&self, daily: &str, when: &str) -> String {
        format!("flatten(collect_list(CASE WHEN {when} THEN {daily} END))")
    }

    fn list_concat(&self, a: &str, b: &str) -> String {
        format!("concat({a}, {b})")
    }

    fn unique_list_finish(&self, merged: &str) -> String {
        format!("CASE WHEN size({merged}) > 0 THEN array_sort(array_distinct({merged})) END")
    }

    /// `min_by`/`max_by` skip rows whose key is NULL; a tuple key is a struct, which Spark
    /// compares field by field.
    fn value_at_extreme(
        &self,
        first: bool,
        value: &str,
        condition: &str,
        order: &OrderKey,
    ) -> String {
        let function = if first { "min_by" } else { "max_by" };
        super::value_by(function, value, condition, &order.as_row("struct"))
    }
}
