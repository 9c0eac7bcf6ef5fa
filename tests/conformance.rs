//! The acceptance test of compat mode: the upstream integration test's events, attribute group
//! and runs (a full refresh, then two incremental runs) must give its expected table, cell for
//! cell, under upstream's comparison rules. The same holds for all three property syntaxes.

mod common;

use common::TempProject;

/// "Now" for the fixture runs: long after every load, as in upstream's CI.
const NOW: &str = "2026-06-01 00:00:00";

fn fixture_mismatches(syntax: &str) -> Vec<String> {
    let project = TempProject::fixture("compat", syntax);
    project.run(true, None, NOW).unwrap();
    project.run(false, None, NOW).unwrap();
    project.run(false, None, NOW).unwrap();
    common::fixture_differences(
        &project.connection(),
        "SELECT * FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    )
}

#[test]
fn compat_mode_reproduces_the_upstream_fixture_snowflake_syntax() {
    let mismatches = fixture_mismatches("snowflake");
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn compat_mode_reproduces_the_upstream_fixture_bigquery_syntax() {
    let mismatches = fixture_mismatches("bigquery");
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn compat_mode_reproduces_the_upstream_fixture_databricks_syntax() {
    let mismatches = fixture_mismatches("databricks");
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}
