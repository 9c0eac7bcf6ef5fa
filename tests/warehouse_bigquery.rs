//! `sigbatch run` on BigQuery, end to end: the real binary and client against local-bigquery
//! over HTTP (tests/bigquery_support). Compat mode reproduces the upstream fixture, reading a
//! context stored in two schema versions; exact mode builds the same tables as on DuckDB; runs
//! stopped after any statement recover; two runs never interleave; no token reaches the output.

mod bigquery_support;
mod common;

use std::process::Output;

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
    common::sigbatch_on(project, args, NOW, &[TOKEN])
}

fn succeed(project: &TempProject, args: &[&str]) -> String {
    common::succeed_on(project, args, NOW, &[TOKEN])
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
    common::assert_same_rows("bigquery", &actual, &expected);
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
    // bytes from the job statistics (0 on the emulator), per run and per stage in the artifact
    assert!(
        progress.contains("0 bytes processed, 0 billed"),
        "{progress}"
    );
    let artifact = std::fs::read_to_string(project.path().join("target/run_results.json")).unwrap();
    let artifact: serde_json::Value = serde_json::from_str(&artifact).unwrap();
    let stage = &artifact["windows"][0]["stages"][0];
    assert_eq!(stage["bytes_billed"], 0, "{stage}");
    assert!(
        stage["statement_ids"]
            .as_array()
            .is_some_and(|ids| !ids.is_empty()),
        "{stage}"
    );
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

/// The fixture in one load window (the backfill limit spans it), writing into `dataset`, its
/// events read from `atomic` on the same server.
fn one_window_fixture(server: &Server, dataset: &str) -> TempProject {
    let group =
        std::fs::read_to_string(common::fixture_dir().join("attribute_group.bigquery.json"))
            .unwrap();
    let vars = common::FIXTURE_VARS.replace("backfill_limit_days: 3", "backfill_limit_days: 30");
    let project = TempProject::staged("exact", &group, &vars);
    std::fs::write(
        project.path().join("profiles.yml"),
        server.profile_yaml(dataset),
    )
    .unwrap();
    project
}

fn attributes_of(
    server: &Server,
    dataset: &str,
    local: &duckdb::Connection,
) -> Vec<Vec<Option<String>>> {
    copy_to_duckdb(
        &mut server.client(dataset),
        &format!(
            "SELECT * FROM `{dataset}_derived`.`ecommerce_transaction_interactions_features_1_attributes`"
        ),
        local,
        "attributes",
    );
    common::rows(
        local,
        "SELECT * EXCLUDE (updated_at) FROM attributes ORDER BY 1",
    )
    .1
}

/// A run stopped after statement k, then rerun, reaches the tables of an uninterrupted run.
/// Every k runs on DuckDB made to commit DDL on its own (tests/recovery.rs), through the same
/// window plan; here two stops through the real client (each costs a minute or two on the
/// emulator): among the DDL before the window's transaction, and just before its COMMIT.
#[test]
fn a_run_stopped_after_statement_k_and_rerun_reaches_the_same_tables() {
    let server = Server::start();
    let baseline = one_window_fixture(&server, "baseline");
    copy_events(
        &mut server.client("atomic"),
        &baseline.connection(),
        "atomic.events",
        "atomic",
        "events",
        None,
    );
    let (result, statements) =
        common::faults::run_faulty(&baseline, usize::MAX, common::faults::Rules::Native, NOW);
    result.unwrap();
    let local = baseline.connection();
    let expected = attributes_of(&server, "baseline", &local);
    assert!(
        expected.len() > 3 && statements > 30,
        "{statements} statements"
    );
    for allowed in [statements / 3, statements - 1] {
        let dataset = format!("crash_{allowed}");
        let victim = one_window_fixture(&server, &dataset);
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
            attributes_of(&server, &dataset, &local),
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
    let project = on_bigquery(TempProject::fixture("exact", "bigquery"), &server, None);
    let mut client = server.client("atomic");
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
fn missing_events_or_column_dry_run_estimates_and_polling() {
    let server = Server::start();
    let project = TempProject::fixture("exact", "bigquery");
    std::fs::write(
        project.path().join("profiles.yml"),
        server.profile_yaml("atomic"),
    )
    .unwrap();
    common::assert_missing_events_table(&sigbatch(&project, &["run"]));

    let mut client = server.client("atomic");
    copy_events(
        &mut client,
        &project.connection(),
        "atomic.events",
        "atomic",
        "events",
        None,
    );
    let plan = sigbatch(&project, &["plan", "--json"]);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        plan["estimated_bytes"], 0,
        "BigQuery's dry run answers (0 on the emulator): {plan}"
    );
    let dry = sigbatch(&project, &["run", "--dry-run"]);
    let statements = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        statements.contains("-- estimated bytes processed: 0"),
        "{statements}"
    );
    assert!(
        statements.contains("BEGIN") || statements.contains("INSERT INTO `atomic_scratch`"),
        "{statements}"
    );
    let written = client
        .run("SELECT COUNT(*) FROM `local`.`region-us`.INFORMATION_SCHEMA.SCHEMATA WHERE schema_name LIKE 'atomic_%'")
        .map(|r| r.rows[0][0].clone());
    assert_eq!(
        written.ok().flatten().as_deref(),
        Some("0"),
        "a dry run writes nothing"
    );

    // a property whose context has no version at all in the table
    client
        .run("ALTER TABLE atomic.events DROP COLUMN contexts_nl_basjes_yauaa_context_1_0_0")
        .unwrap();
    let missing_column = sigbatch(&project, &["run"]);
    let text = String::from_utf8_lossy(&missing_column.stderr);
    assert_eq!(missing_column.status.code(), Some(2), "{text}");
    assert!(
        text.contains("contexts_nl_basjes_yauaa_context_1") && text.contains("any schema version"),
        "{text}"
    );

    // a job not done within the request is polled to the end; its id is reported
    client.wait = std::time::Duration::ZERO;
    let result = client
        .run("SELECT COUNT(*) AS n FROM atomic.events")
        .unwrap();
    assert_eq!(result.rows, vec![vec![Some("52".to_string())]]);
    let stats = client.last_stats();
    assert!(stats.id.is_some(), "{stats:?}");
    // the emulator reports 0 bytes: the plumbing is what is tested
    assert_eq!(
        (stats.bytes_processed, stats.bytes_billed),
        (Some(0), Some(0))
    );
}

/// A seeded demo stream (late events, duplicates, several devices per user) read in batches
/// (`--until`), on BigQuery and on DuckDB: the same attributes after each batch.
#[test]
fn exact_mode_on_a_random_stream_in_batches_equals_duckdb() {
    let server = Server::start();
    let vars = "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 4\n  \
                snowplow__mock_current_day: '2025-03-09'\n";
    // BigQuery has a column for a schema only once an event of it was loaded: each stream must
    // carry the ecommerce action the demo group reads (a small stream may not)
    let carries_every_schema = |project: &TempProject| {
        let (_, count) = common::rows(
            &project.connection(),
            "SELECT COUNT(unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1) FROM atomic.events",
        );
        count[0][0].as_deref() != Some("0")
    };
    let streams = (11..40)
        .map(|seed| (seed, TempProject::demo(vars, 30, 8, seed)))
        .filter(|(_, project)| carries_every_schema(project))
        .take(1);
    for (seed, local) in streams {
        let dataset = format!("stream_{seed}");
        let remote = TempProject::new(
            "exact",
            sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON,
            &vars.replace(
                "snowplow__start_date",
                &format!("snowplow__atomic_schema: events_{seed}\n  snowplow__start_date"),
            ),
        );
        copy_events(
            &mut server.client(&dataset),
            &local.connection(),
            "atomic.events",
            &format!("events_{seed}"),
            "events",
            None,
        );
        std::fs::write(
            remote.path().join("profiles.yml"),
            server.profile_yaml(&dataset),
        )
        .unwrap();
        for until in ["2025-03-03 12:00:00", "2025-03-20 00:00:00"] {
            local.run(false, Some(until), NOW).unwrap();
            succeed(&remote, &["run", "--until", until]);
            assert_same_as_duckdb(
                &server,
                &format!("`{dataset}_derived`.`demo_web_engagement_1_attributes`"),
                &local.connection(),
                "main_derived.demo_web_engagement_1_attributes",
            );
        }
    }
}
