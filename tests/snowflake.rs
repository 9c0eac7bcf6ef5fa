//! `sigbatch run` on Snowflake, end to end: the real binary and client against fakesnow over
//! HTTP (tests/snowflake_support). Compat mode reproduces the upstream fixture; exact mode builds
//! the same tables as on DuckDB; no secret reaches the output.

mod common;
mod snowflake_support;

use std::process::{Command, Output};

use common::TempProject;
use snowflake_support::Database;

const NOW: &str = "2026-06-01 00:00:00";
const ATTRIBUTES: &str =
    "\"ATOMIC_DERIVED\".\"ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_ATTRIBUTES\"";

/// The fixture project with its events copied into `database` and a profile pointing there.
fn fixture_on_snowflake(semantics: &str, database: &mut Database) -> TempProject {
    let project = TempProject::fixture(semantics, "snowflake");
    database.copy_from_duckdb(&project.connection(), "atomic.events", "atomic", "events");
    std::fs::write(
        project.path().join("profiles.yml"),
        database.profile_yaml("atomic"),
    )
    .unwrap();
    project
}

fn sigbatch(project: &TempProject, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(args)
        .args(["--project-dir", project.path().to_str().unwrap()])
        .env("SIGBATCH_NOW", NOW)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("hunter2-secret") && !text.contains("not-checked-by-fakesnow"),
        "a password reached the output:\n{text}"
    );
    output
}

fn succeed(project: &TempProject, args: &[&str]) -> String {
    let output = sigbatch(project, args);
    assert!(
        output.status.success(),
        "sigbatch {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn compat_mode_reproduces_the_upstream_fixture_on_snowflake() {
    let mut database = Database::new("compat_fixture");
    let project = fixture_on_snowflake("compat", &mut database);
    let progress = succeed(&project, &["run", "--full-refresh"]);
    assert!(progress.contains("on snowflake target `dev`"), "{progress}");
    succeed(&project, &["run"]);
    succeed(&project, &["run"]);
    let local = project.connection();
    database.copy_to_duckdb(
        &format!("SELECT * FROM {ATTRIBUTES}"),
        &local,
        "from_snowflake",
    );
    let mismatches = common::fixture_differences(&local, "SELECT * FROM from_snowflake ORDER BY 1");
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn exact_mode_builds_the_same_tables_as_on_duckdb() {
    let mut database = Database::new("exact_fixture");
    let project = fixture_on_snowflake("exact", &mut database);
    succeed(&project, &["run"]);
    let local_run = TempProject::fixture("exact", "snowflake");
    local_run.run(false, None, NOW).unwrap();
    let local = local_run.connection();
    database.copy_to_duckdb(
        &format!("SELECT * FROM {ATTRIBUTES}"),
        &local,
        "from_snowflake",
    );
    let (_, expected) = common::rows(
        &local,
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    );
    let (_, actual) = common::rows(
        &local,
        "SELECT * EXCLUDE (updated_at) FROM from_snowflake ORDER BY 1",
    );
    assert!(expected.len() > 3, "the fixture has several users");
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(&expected) {
        for (x, y) in a.iter().zip(e) {
            assert!(common::same_cell(x, y), "snowflake {a:?}\nduckdb    {e:?}");
        }
    }
    // status reads the state back; a second run finds nothing new
    let status = sigbatch(&project, &["status"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("watermark"), "{status}");
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("nothing to do"), "{status}\n{progress}");
}
