//! `sigbatch run` on BigQuery, end to end: the real binary and client against local-bigquery
//! over HTTP (tests/bigquery_support). Compat mode reproduces the upstream fixture, reading a
//! context stored in two schema versions; exact mode builds the same tables as on DuckDB; runs
//! stopped after any statement recover; two runs never interleave; no token reaches the output.

mod bigquery_support;
mod common;

use std::process::{Command, Output};

use bigquery_support::{Server, TOKEN, copy_events, copy_to_duckdb};
use common::TempProject;

const NOW: &str = "2026-06-01 00:00:00";
const ATTRIBUTES: &str =
    "`atomic_derived`.`ecommerce_transaction_interactions_features_1_attributes`";

/// The fixture project with its events copied to the server (one context split over two
/// versions when `split` names it) and a profile pointing there.
fn on_bigquery(project: TempProject, server: &Server, split: Option<&str>) -> TempProject {
    let mut client = server.client("atomic");
    copy_events(
        &mut client,
        &project.connection(),
        "atomic.events",
        "atomic",
        "events",
        split,
    );
    std::fs::write(
        project.path().join("profiles.yml"),
        server.profile_yaml("atomic"),
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

/// `table` on the server against the same project's table on DuckDB, cell by cell.
fn assert_same_as_duckdb(
    server: &Server,
    table: &str,
    local: &duckdb::Connection,
    local_table: &str,
) {
    copy_to_duckdb(
        &mut server.client("atomic"),
        &format!("SELECT * FROM {table}"),
        local,
        "from_bigquery",
    );
    let select = "SELECT * EXCLUDE (updated_at) FROM {} ORDER BY 1";
    let (_, expected) = common::rows(local, &select.replace("{}", local_table));
    let (_, actual) = common::rows(local, &select.replace("{}", "from_bigquery"));
    assert!(expected.len() > 3, "several keys: {}", expected.len());
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(&expected) {
        for (x, y) in a.iter().zip(e) {
            assert!(common::same_cell(x, y), "bigquery {a:?}\nduckdb   {e:?}");
        }
    }
}

#[test]
fn compat_mode_reproduces_the_upstream_fixture_reading_two_context_versions() {
    let server = Server::start();
    let split = "contexts_nl_basjes_yauaa_context_1";
    let project = on_bigquery(
        TempProject::fixture("compat", "bigquery"),
        &server,
        Some(split),
    );
    // the events really are split over the two versions
    let mut client = server.client("atomic");
    let counts = client
        .run(&format!(
            "SELECT COUNTIF(ARRAY_LENGTH({split}_0_0) > 0), COUNTIF(ARRAY_LENGTH({split}_0_2) > 0) FROM atomic.events"
        ))
        .unwrap();
    let count = |i: usize| {
        counts.rows[0][i]
            .as_deref()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert!(count(0) > 5 && count(1) > 5, "{:?}", counts.rows);

    let progress = succeed(&project, &["run", "--full-refresh"]);
    assert!(progress.contains("on bigquery target `dev`"), "{progress}");
    succeed(&project, &["run"]);
    succeed(&project, &["run"]);
    let local = project.connection();
    copy_to_duckdb(
        &mut client,
        &format!("SELECT * FROM {ATTRIBUTES}"),
        &local,
        "from_bigquery",
    );
    let mismatches = common::fixture_differences(&local, "SELECT * FROM from_bigquery ORDER BY 1");
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn exact_mode_builds_the_same_tables_as_on_duckdb() {
    let server = Server::start();
    let project = on_bigquery(TempProject::fixture("exact", "bigquery"), &server, None);
    succeed(&project, &["run"]);
    let local_run = TempProject::fixture("exact", "bigquery");
    local_run.run(false, None, NOW).unwrap();
    assert_same_as_duckdb(
        &server,
        ATTRIBUTES,
        &local_run.connection(),
        "main_derived.ecommerce_transaction_interactions_features_1_attributes",
    );
    // derived tables are partitioned by day and clustered by the key
    let table = ureq::get(&format!(
        "http://127.0.0.1:{}/bigquery/v2/projects/local/datasets/atomic_derived/tables/ecommerce_transaction_interactions_features_1_filtered_events",
        server.port
    ))
    .call()
    .unwrap()
    .body_mut()
    .read_to_string()
    .unwrap();
    let table: serde_json::Value = serde_json::from_str(&table).unwrap();
    assert_eq!(table["timePartitioning"]["field"], "event_date", "{table}");
    assert_eq!(table["clustering"]["fields"][0], "domain_userid", "{table}");
    // status reads the state back; a second run finds nothing new
    let status = succeed(&project, &["status"]);
    assert!(status.contains("watermark"), "{status}");
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("nothing to do"), "{progress}");
}
