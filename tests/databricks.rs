//! `sigbatch run` on Databricks, end to end: the real binary and client against a Statement
//! Execution API stand-in over Sail (tests/databricks_support). Compat mode reproduces the
//! upstream fixture; exact mode builds the same tables as on DuckDB; runs stopped after a
//! statement, where every statement commits on its own, recover; two runs never interleave.

mod common;
mod databricks_support;

use std::process::{Command, Output};

use common::TempProject;
use databricks_support::{Server, TOKEN, copy_to_duckdb};

const NOW: &str = "2026-06-01 00:00:00";
const ATTRIBUTES: &str =
    "`atomic_derived`.`ecommerce_transaction_interactions_features_1_attributes`";

fn on_databricks(project: TempProject, server: &Server, schema: &str) -> TempProject {
    server.load_events(
        &common::fixture_dir().join("events.csv"),
        "atomic",
        "events",
    );
    std::fs::write(
        project.path().join("profiles.yml"),
        server.profile_yaml(schema),
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
        !text.contains(TOKEN),
        "the token reached the output:\n{text}"
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
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn attributes(
    server: &Server,
    table: &str,
    local: &duckdb::Connection,
) -> Vec<Vec<Option<String>>> {
    copy_to_duckdb(
        &mut server.client(),
        &format!("SELECT * FROM {table}"),
        local,
        "from_databricks",
    );
    common::rows(
        local,
        "SELECT * EXCLUDE (updated_at) FROM from_databricks ORDER BY 1",
    )
    .1
}

#[test]
fn compat_mode_reproduces_the_upstream_fixture_on_databricks() {
    let server = Server::start();
    let project = on_databricks(
        TempProject::fixture("compat", "databricks"),
        &server,
        "atomic",
    );
    let progress = succeed(&project, &["run", "--full-refresh"]);
    assert!(
        progress.contains("on databricks target `dev`"),
        "{progress}"
    );
    succeed(&project, &["run"]);
    succeed(&project, &["run"]);
    let local = project.connection();
    copy_to_duckdb(
        &mut server.client(),
        &format!("SELECT * FROM {ATTRIBUTES}"),
        &local,
        "from_databricks",
    );
    let mismatches =
        common::fixture_differences(&local, "SELECT * FROM from_databricks ORDER BY 1");
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn exact_mode_builds_the_same_tables_as_on_duckdb() {
    let server = Server::start();
    let project = on_databricks(
        TempProject::fixture("exact", "databricks"),
        &server,
        "atomic",
    );
    succeed(&project, &["run"]);
    let local_run = TempProject::fixture("exact", "databricks");
    local_run.run(false, None, NOW).unwrap();
    let local = local_run.connection();
    let (_, expected) = common::rows(
        &local,
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    );
    let actual = attributes(&server, ATTRIBUTES, &local);
    assert!(expected.len() > 3);
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(&expected) {
        for (x, y) in a.iter().zip(e) {
            assert!(
                common::same_cell(x, y),
                "databricks {a:?}\nduckdb     {e:?}"
            );
        }
    }
    let status = succeed(&project, &["status"]);
    assert!(status.contains("watermark"), "{status}");
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("nothing to do"), "{progress}");
}
