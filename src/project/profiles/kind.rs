//! The warehouses sigbatch runs on, each named here and nowhere else.
//!
//! A profile output's `type:`, `--dialect`, `--target-type` and every list of warehouses shown to
//! a user come from `WarehouseKind`. Its dialect is `WarehouseKind::dialect` (in `dialect/`, which
//! this module does not import), its settings the matching `Output` variant.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarehouseKind {
    DuckDb,
    Snowflake,
    BigQuery,
    Databricks,
}

impl WarehouseKind {
    /// Every kind, in the order lists show them.
    pub const ALL: [WarehouseKind; 4] = [
        WarehouseKind::DuckDb,
        WarehouseKind::Snowflake,
        WarehouseKind::BigQuery,
        WarehouseKind::Databricks,
    ];

    /// The kinds Signals writes properties for: its `property_syntax` values.
    pub const SIGNALS: [WarehouseKind; 3] = [
        WarehouseKind::Snowflake,
        WarehouseKind::BigQuery,
        WarehouseKind::Databricks,
    ];

    /// The name in profiles.yml `type:`, `--dialect` and `--target-type` (also the dialect's name).
    pub const fn name(self) -> &'static str {
        match self {
            WarehouseKind::DuckDb => "duckdb",
            WarehouseKind::Snowflake => "snowflake",
            WarehouseKind::BigQuery => "bigquery",
            WarehouseKind::Databricks => "databricks",
        }
    }

    /// The product's own spelling, for sentences.
    pub const fn display_name(self) -> &'static str {
        match self {
            WarehouseKind::DuckDb => "DuckDB",
            WarehouseKind::Snowflake => "Snowflake",
            WarehouseKind::BigQuery => "BigQuery",
            WarehouseKind::Databricks => "Databricks",
        }
    }

    /// The kind named `name` exactly (lower case), if any.
    pub fn from_name(name: &str) -> Option<WarehouseKind> {
        WarehouseKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// Whether Signals writes properties in this warehouse's syntax.
    pub fn is_signals_target(self) -> bool {
        WarehouseKind::SIGNALS.contains(&self)
    }

    /// The names of `kinds` joined by `separator`: `a|b|c`.
    pub fn joined(kinds: &[WarehouseKind], separator: &str) -> String {
        let names: Vec<&str> = kinds.iter().map(|kind| kind.name()).collect();
        names.join(separator)
    }

    /// The names of `kinds` as a sentence's list: `a, b, c or d` (`conjunction` "or").
    pub fn listed(kinds: &[WarehouseKind], conjunction: &str) -> String {
        match kinds.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{} {conjunction} {last}", WarehouseKind::joined(rest, ", "))
            }
            _ => WarehouseKind::joined(kinds, ""),
        }
    }
}

impl fmt::Display for WarehouseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_lists_read_as_before() {
        for kind in WarehouseKind::ALL {
            assert_eq!(WarehouseKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(WarehouseKind::from_name("DuckDB"), None);
        assert_eq!(
            WarehouseKind::listed(&WarehouseKind::ALL, "or"),
            "duckdb, snowflake, bigquery or databricks"
        );
        assert_eq!(
            WarehouseKind::joined(&WarehouseKind::ALL, ", "),
            "duckdb, snowflake, bigquery, databricks"
        );
        assert_eq!(
            WarehouseKind::joined(&WarehouseKind::SIGNALS, "|"),
            "snowflake|bigquery|databricks"
        );
        assert_eq!(
            WarehouseKind::listed(&[WarehouseKind::BigQuery], "or"),
            "bigquery"
        );
        assert!(!WarehouseKind::DuckDb.is_signals_target());
    }
}
