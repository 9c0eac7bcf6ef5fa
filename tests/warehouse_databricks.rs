//! `sigbatch run` on Databricks, end to end: the real binary and client against a Statement
//! Execution API stand-in over Sail (tests/databricks_support). Compat mode reproduces the
//! upstream fixture; exact mode builds the same tables as on DuckDB; runs stopped after a
//! statement, where every statement commits on its own, recover; two runs never interleave.

mod common;
mod databricks_support;

use std::process::Output;

use common::TempProject;
use databricks_support::{Server, TOKEN, copy_to_duckdb};

const NOW: &str = "2026-06-01 00:00:00";
const ATTRIBUTES: &str =
    "`atomic_derived`.`ecommerce_transaction_interactions_features_1_attributes`";

/// The conformance vars, with the events read from Sail's catalog (`snowplow__databricks_catalog`,
/// `hive_metastore` by default as upstream has it).
fn fixture(semantics: &str, backfill_limit_days: u32) -> TempProject {
    let group =
        std::fs::read_to_string(common::fixture_dir().join("attribute_group.databricks.json"))
            .unwrap();
    let vars = common::FIXTURE_VARS.replace(
        "backfill_limit_days: 3",
        &format!(
            "backfill_limit_days: {backfill_limit_days}\n  snowplow__databricks_catalog: sail"
        ),
    );
    TempProject::staged(semantics, &group, &vars)
}

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
    common::sigbatch_on(project, args, NOW, &[TOKEN])
}

fn succeed(project: &TempProject, args: &[&str]) -> String {
    common::succeed_on(project, args, NOW, &[TOKEN])
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
    let project = on_databricks(fixture("compat", 3), &server, "atomic");
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
    let project = on_databricks(fixture("exact", 3), &server, "atomic");
    succeed(&project, &["run"]);
    let local_run = fixture("exact", 3);
    local_run.run(false, None, NOW).unwrap();
    let local = local_run.connection();
    let (_, expected) = common::rows(
        &local,
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    );
    let actual = attributes(&server, ATTRIBUTES, &local);
    assert!(expected.len() > 3);
    common::assert_same_rows("databricks", &actual, &expected);
    let status = succeed(&project, &["status"]);
    assert!(status.contains("watermark"), "{status}");
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("nothing to do"), "{progress}");
}

/// A run stopped after statement k, then rerun, reaches the tables of an uninterrupted run.
/// Every statement commits on its own here: a stop after the run state was deleted leaves none,
/// and the rerun rebuilds every table.
#[test]
fn a_run_stopped_after_statement_k_and_rerun_reaches_the_same_tables() {
    let server = Server::start();
    let project = |schema: &str| {
        let project = fixture("exact", 30);
        std::fs::write(
            project.path().join("profiles.yml"),
            server.profile_yaml(schema),
        )
        .unwrap();
        project
    };
    server.load_events(
        &common::fixture_dir().join("events.csv"),
        "atomic",
        "events",
    );
    let baseline = project("baseline");
    let (result, statements) =
        common::faults::run_faulty(&baseline, usize::MAX, common::faults::Rules::Native, NOW);
    result.unwrap();
    let local = baseline.connection();
    let table = |schema: &str| {
        format!("`{schema}_derived`.`ecommerce_transaction_interactions_features_1_attributes`")
    };
    let expected = attributes(&server, &table("baseline"), &local);
    assert!(
        expected.len() > 3 && statements > 30,
        "{statements} statements"
    );
    // every fifth statement: each stop costs a run and a rebuild (every single one is tried on
    // DuckDB under the same rules, tests/recovery.rs)
    for allowed in (1..statements).step_by(5) {
        let schema = format!("crash_{allowed}");
        let victim = project(&schema);
        let (result, _) =
            common::faults::run_faulty(&victim, allowed, common::faults::Rules::Native, NOW);
        assert!(
            result.is_err(),
            "stopping after {allowed} statements must fail the run"
        );
        let (result, _) =
            common::faults::run_faulty(&victim, usize::MAX, common::faults::Rules::Native, NOW);
        result.unwrap_or_else(|e| panic!("rerun after {allowed} statements: {e}"));
        assert_eq!(
            attributes(&server, &table(&schema), &local),
            expected,
            "stopped after {allowed} of {statements} statements"
        );
    }
}

const LEASE: &str =
    "`atomic_snowplow_manifest`.`ecommerce_transaction_interactions_features_1_sigbatch_lease`";

#[test]
fn two_runs_of_one_project_never_interleave() {
    let server = Server::start();
    let project = on_databricks(fixture("exact", 3), &server, "atomic");
    let mut client = server.client();
    common::assert_runs_never_interleave(
        &project,
        NOW,
        &mut || {
            let rows = client
                .run(&format!("SELECT holder, CAST(pid AS STRING) FROM {LEASE}"))
                .ok()?;
            rows.rows.first().cloned()
        },
        &|args| sigbatch(&project, args),
    );
}

#[test]
fn a_missing_events_table_and_a_refused_token() {
    let server = Server::start();
    let project = fixture("exact", 3);
    std::fs::write(
        project.path().join("profiles.yml"),
        server.profile_yaml("atomic"),
    )
    .unwrap();
    common::assert_missing_events_table(&sigbatch(&project, &["run"]));

    let profile = server.profile_yaml("atomic").replace(TOKEN, "dapi-wrong");
    std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
    let refused = sigbatch(&project, &["run"]);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("HTTP 401") && text.contains("hint:") && !text.contains("dapi-wrong"),
        "{text}"
    );
}
