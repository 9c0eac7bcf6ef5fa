//! Case 9: the current Signals model (tests/fixtures/current-model) over the fixture's events
//! gives on this warehouse the table DuckDB gives: every aggregation beyond upstream's, property
//! objects, calculated properties, every date part, defaults and a key read from an entity. A
//! second run an hour and a half later, with no new events, moves the `time_since_*` values (and
//! only the rows whose values moved get a new `updated_at`), on both.

use super::{Harness, SharedWarehouse, Table, scratch};
use crate::common::{self, TempProject};

const NOW: &str = "2026-06-01 00:00:00";
const LATER: &str = "2026-06-01 01:30:00";
const ATTRIBUTES: &str = "current_model_1_attributes";

pub fn group() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/current-model/attribute_group.json"),
    )
    .unwrap()
}

pub fn the_current_signals_model_equals_duckdb<H: Harness>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| {
        let (h, secrets) = (&mut warehouse.h, &warehouse.secrets);
        let place = "current";
        let project = TempProject::new("exact", &group(), &H::vars(30));
        h.load_fixture_events(&project, place);
        std::fs::write(
            project.path().join("profiles.yml"),
            h.profile(&project, place),
        )
        .unwrap();
        let reference = TempProject::staged("exact", &group(), &H::vars(30));
        let mut earlier: Option<Table> = None;
        for now in [NOW, LATER] {
            common::succeed_on(
                &project,
                &["run"],
                now,
                &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            reference.run(false, None, now).unwrap();
            let actual = h.read(&project, place, ATTRIBUTES);
            let expected = common::rows(
                &reference.connection(),
                &format!("SELECT * FROM main_derived.{ATTRIBUTES} ORDER BY 1"),
            );
            assert_same_table(H::KIND, &actual, &expected);
            if let Some(earlier) = &earlier {
                time_moved(earlier, &actual);
            }
            earlier = Some(actual);
        }
    });
}

/// `actual` (a warehouse's) against `expected` (DuckDB's), rows by key.
fn assert_same_table(kind: &str, actual: &Table, expected: &Table) {
    let sorted = |table: &Table| {
        let connection = scratch("t", table.clone());
        common::rows(
            &connection,
            "SELECT * EXCLUDE (updated_at) FROM t ORDER BY 1",
        )
    };
    let (columns, actual_rows) = sorted(actual);
    let (expected_columns, expected_rows) = sorted(expected);
    assert_eq!(columns, expected_columns, "{kind}: columns");
    assert!(expected_rows.len() > 5, "the fixture has many pages");
    assert_eq!(actual_rows.len(), expected_rows.len(), "{kind}: row count");
    // maps compare as (key, count) pairs, whatever the warehouse's map type (`same_cell`)
    common::assert_same_rows(kind, &actual_rows, &expected_rows);
}

/// An hour and a half later with nothing new, every key's minutes since its last event grew by
/// 90, and `updated_at` moved for those keys.
fn time_moved(before: &Table, after: &Table) {
    let column = |table: &Table, name: &str| {
        let at = table.0.iter().position(|c| c == name).unwrap();
        let mut cells: Vec<(String, Option<String>)> = table
            .1
            .iter()
            .map(|row| (row[0].clone().unwrap(), row[at].clone()))
            .collect();
        cells.sort();
        cells
    };
    let minutes = |table: &Table| column(table, "minutes_since_last_event");
    for ((key, was), (_, now)) in minutes(before).iter().zip(minutes(after)) {
        let (was, now): (i64, i64) = (
            was.as_ref().unwrap().parse().unwrap(),
            now.unwrap().parse().unwrap(),
        );
        assert_eq!(now - was, 90, "key {key}");
    }
    let updated = |table: &Table| column(table, "updated_at");
    for ((key, was), (_, now)) in updated(before).iter().zip(updated(after)) {
        assert_ne!(
            was, &now,
            "key {key}: its value moved, its updated_at did not"
        );
    }
}
