//! The names of shared reads' tables, and the sweep of those that killed workspace runs left
//! behind (docs/operations.md, "Workspaces").
//!
//! A workspace run drops its shared reads' tables after its last group; a run killed before
//! that (SIGKILL, a lost machine) leaves them in the scratch schema, where a temporary table
//! (DuckDB) cannot outlive its connection but a stored one (Snowflake, BigQuery, Databricks)
//! stays, holding a copy of a load range's events. Each table's name says when its run started
//! (`sigbatch_shared_events_<UTC start>_<invocation>_<n>`), so the next workspace run making a
//! shared read on the same warehouse drops every such table of its scratch schemas whose run
//! started more than [`LEFT_AFTER`] ago. A run still going after that long loses its shared
//! read: its next windows fail, and their rerun reads the events itself.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use crate::dialect::Dialect;
use crate::error::Result;
use crate::warehouse::Warehouse;

/// How every shared read's table name begins.
pub(super) const PREFIX: &str = "sigbatch_shared_events_";

/// How long after its run started a shared read's table is taken to be left behind.
pub(super) const LEFT_AFTER: TimeDelta = TimeDelta::hours(24);

/// The UTC start as a table name holds it: `20261207t192400z`.
const STAMP: &str = "%Y%m%dt%H%M%Sz";

/// The name of the `n`th shared read's table of the run that started at `started`, its
/// invocation id shortened to `id`.
pub(super) fn table_name(started: DateTime<Utc>, id: &str, n: usize) -> String {
    format!("{PREFIX}{}_{id}_{n}", started.format(STAMP))
}

/// When the run that made table `name` started, if `name` is a shared read's table.
fn started(name: &str) -> Option<NaiveDateTime> {
    let name = name.to_lowercase();
    let stamp = name.strip_prefix(PREFIX)?.split('_').next()?;
    NaiveDateTime::parse_from_str(stamp, STAMP).ok()
}

/// Drops the shared reads' tables in `schema` whose run started more than [`LEFT_AFTER`]
/// before `now`; their names, as listed.
pub(super) fn sweep(
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    schema: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let before = (now - LEFT_AFTER).naive_utc();
    let mut dropped = Vec::new();
    for table in warehouse.tables(schema)? {
        if started(&table).is_some_and(|started| started < before) {
            let relation = dialect.relation(&[schema, &table]);
            warehouse.execute(&crate::render::drop_table_sql(dialect, &relation)?)?;
            dropped.push(table);
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_name_says_when_its_run_started() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T19:24:05Z")
            .unwrap()
            .to_utc();
        let name = table_name(at, "0123456789ab", 2);
        assert_eq!(
            name,
            "sigbatch_shared_events_20261207t192405z_0123456789ab_2"
        );
        assert_eq!(started(&name), Some(at.naive_utc()));
        // as Snowflake lists it
        assert_eq!(started(&name.to_uppercase()), Some(at.naive_utc()));
        for other in [
            "sigbatch_shared_events_0123456789ab_1",
            "sigbatch_shared_events_",
            "my_table_20261207t192405z",
        ] {
            assert_eq!(started(other), None, "{other}");
        }
    }
}
