//! `sigbatch run` on Snowflake, end to end: the real binary and client against fakesnow over
//! HTTP (tests/snowflake_support). Compat mode reproduces the upstream fixture; exact mode builds
//! the same tables as on DuckDB; no secret reaches the output.

mod common;
mod snowflake_support;

use std::process::Output;

use common::TempProject;
use snowflake_support::Database;

const NOW: &str = "2026-06-01 00:00:00";
const ATTRIBUTES: &str =
    "\"ATOMIC_DERIVED\".\"ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_ATTRIBUTES\"";

/// The fixture project with its events copied into `database` and a profile pointing there.
fn fixture_on_snowflake(semantics: &str, database: &mut Database) -> TempProject {
    on_snowflake(TempProject::fixture(semantics, "snowflake"), database)
}

/// The fixture in one load window (the backfill limit spans it): fewer statements per run.
fn one_window_fixture_on_snowflake(database: &mut Database) -> TempProject {
    let group =
        std::fs::read_to_string(common::fixture_dir().join("attribute_group.snowflake.json"))
            .unwrap();
    let vars = common::FIXTURE_VARS.replace("backfill_limit_days: 3", "backfill_limit_days: 30");
    on_snowflake(TempProject::staged("exact", &group, &vars), database)
}

fn on_snowflake(project: TempProject, database: &mut Database) -> TempProject {
    database.copy_from_duckdb(&project.connection(), "atomic.events", "atomic", "events");
    std::fs::write(
        project.path().join("profiles.yml"),
        database.profile_yaml("atomic"),
    )
    .unwrap();
    project
}

fn sigbatch(project: &TempProject, args: &[&str]) -> Output {
    common::sigbatch_on(
        project,
        args,
        NOW,
        &["hunter2-secret", "not-checked-by-fakesnow"],
    )
}

fn succeed(project: &TempProject, args: &[&str]) -> String {
    common::succeed_on(
        project,
        args,
        NOW,
        &["hunter2-secret", "not-checked-by-fakesnow"],
    )
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
    common::assert_same_rows("snowflake", &actual, &expected);
    // status reads the state back; a second run finds nothing new
    let status = sigbatch(&project, &["status"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("watermark"), "{status}");
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("nothing to do"), "{status}\n{progress}");
}

const LEASE: &str =
    "\"ATOMIC_SNOWPLOW_MANIFEST\".\"ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_SIGBATCH_LEASE\"";

/// Makes the lease row say another run holds it until `expires_in` from now.
fn hold_lease(database: &mut Database, expires_in: chrono::TimeDelta) {
    let now = chrono::Utc::now().naive_utc();
    let at = |t: chrono::NaiveDateTime| {
        format!("'{}'::TIMESTAMP_NTZ", t.format("%Y-%m-%d %H:%M:%S%.6f"))
    };
    database
        .client
        .run(&format!(
            "UPDATE {LEASE} SET holder = 'other-run', host = 'cron-2', pid = 4242, since = {}, expires = {}",
            at(now),
            at(now + expires_in)
        ))
        .unwrap();
}

fn lease_holder(database: &mut Database) -> Option<String> {
    let rows = database
        .client
        .run(&format!("SELECT holder FROM {LEASE}"))
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 1, "one lease row");
    rows[0][0].clone()
}

#[test]
fn a_held_lease_refuses_or_waits_and_an_expired_one_is_taken_over() {
    let mut database = Database::new("lease");
    let project = fixture_on_snowflake("exact", &mut database);
    succeed(&project, &["run"]);
    assert_eq!(lease_holder(&mut database), None, "released after the run");

    hold_lease(&mut database, chrono::TimeDelta::hours(1));
    let refused = sigbatch(&project, &["run"]);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{text}");
    assert!(
        text.contains("other-run") && text.contains("cron-2") && text.contains("since"),
        "{text}"
    );
    assert!(text.contains("--lock-timeout"), "{text}");

    // a lease that runs out while we wait is taken over
    hold_lease(&mut database, chrono::TimeDelta::seconds(3));
    let progress = succeed(&project, &["run", "--lock-timeout", "60"]);
    assert!(
        progress.contains("waiting for the run of other-run"),
        "{progress}"
    );
    assert!(
        progress.contains("took over the run lease of other-run"),
        "{progress}"
    );
    assert_eq!(lease_holder(&mut database), None);

    // an expired lease (a run that died) is taken over at once
    hold_lease(&mut database, chrono::TimeDelta::seconds(-1));
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("took over"), "{progress}");
}

#[test]
fn two_runs_of_one_project_never_interleave() {
    let mut database = Database::new("concurrent");
    let project = fixture_on_snowflake("exact", &mut database);
    common::assert_runs_never_interleave(
        &project,
        NOW,
        &mut || {
            let rows = database
                .client
                .run(&format!("SELECT holder, pid FROM {LEASE}"))
                .ok()?;
            rows.rows.first().cloned()
        },
        &|args| sigbatch(&project, args),
    );
}

/// A run stopped after statement k (a failure injected at the `Warehouse` layer: the emulator
/// would roll DDL back where Snowflake commits it, so no rollback of DDL is relied on), then
/// rerun, reaches the tables of an uninterrupted run. Every k is tried on DuckDB made to commit
/// DDL on its own (tests/recovery.rs); here a spread of k through the real client.
#[test]
fn a_run_stopped_after_statement_k_and_rerun_reaches_the_same_tables() {
    let mut baseline = Database::new("crash_baseline");
    let project = one_window_fixture_on_snowflake(&mut baseline);
    let (result, statements) =
        common::faults::run_faulty(&project, usize::MAX, common::faults::Rules::Native, NOW);
    result.unwrap();
    let local = project.connection();
    let attributes = |database: &mut Database| {
        database.copy_to_duckdb(&format!("SELECT * FROM {ATTRIBUTES}"), &local, "attributes");
        common::rows(
            &local,
            "SELECT * EXCLUDE (updated_at) FROM attributes ORDER BY 1",
        )
        .1
    };
    let expected = attributes(&mut baseline);
    assert!(
        expected.len() > 3 && statements > 30,
        "{statements} statements"
    );
    drop(baseline);
    // during setup, then a spread through the DDL part and the transaction
    let stops = [
        3,
        statements / 4,
        statements / 2,
        3 * statements / 4,
        statements - 2,
    ];
    for allowed in stops {
        let mut database = Database::new("crash");
        let victim = one_window_fixture_on_snowflake(&mut database);
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
            attributes(&mut database),
            expected,
            "stopped after {allowed} of {statements} statements"
        );
    }
}

#[test]
fn missing_events_dry_run_and_an_unreachable_host_on_snowflake() {
    let mut database = Database::new("errors");
    let project = TempProject::fixture("exact", "snowflake");
    std::fs::write(
        project.path().join("profiles.yml"),
        database.profile_yaml("atomic"),
    )
    .unwrap();
    common::assert_missing_events_table(&sigbatch(&project, &["run"]));

    database.copy_from_duckdb(&project.connection(), "atomic.events", "atomic", "events");
    let dry = sigbatch(&project, &["run", "--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let statements = String::from_utf8_lossy(&dry.stdout);
    assert!(
        statements.contains("dry run: nothing was written"),
        "{statements}"
    );
    assert!(
        statements.contains("INSERT INTO \"ATOMIC_SCRATCH\""),
        "fills become inserts: {statements}"
    );
    let mut tables_in = |schemas: &str| {
        database
            .client
            .run(&format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_catalog = CURRENT_DATABASE() AND table_schema IN ({schemas})"
            ))
            .unwrap()
            .rows[0][0]
            .clone()
    };
    assert_eq!(
        tables_in("'ATOMIC'").as_deref(),
        Some("1"),
        "the events table is seen"
    );
    let written = tables_in("'ATOMIC_DERIVED', 'ATOMIC_SNOWPLOW_MANIFEST', 'ATOMIC_SCRATCH'");
    assert_eq!(written.as_deref(), Some("0"), "a dry run writes nothing");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let profile = database.profile_yaml("atomic").replace(
        &format!("port: {}", database.port()),
        &format!("port: {closed}\n      retries: 0"),
    );
    std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
    let unreachable = sigbatch(&project, &["run"]);
    let text = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{closed}")) && text.contains("unreachable"),
        "{text}"
    );
}

/// A seeded demo stream (late events, duplicates, several devices per user) read in three
/// batches (`--until`), on Snowflake and on DuckDB: the same attributes after each batch.
#[test]
fn exact_mode_on_a_random_stream_in_batches_equals_duckdb() {
    let vars = "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 4\n  \
                snowplow__mock_current_day: '2025-03-09'\n";
    let local = TempProject::demo(vars, 40, 8, 11);
    let mut database = Database::new("stream");
    let remote = TempProject::new("exact", sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON, vars);
    database.copy_from_duckdb(&local.connection(), "atomic.events", "atomic", "events");
    std::fs::write(
        remote.path().join("profiles.yml"),
        database.profile_yaml("atomic"),
    )
    .unwrap();
    let table = "SELECT * EXCLUDE (updated_at) FROM {} ORDER BY 1";
    for until in [
        "2025-03-03 12:00:00",
        "2025-03-06 00:00:00",
        "2025-03-20 00:00:00",
    ] {
        local.run(false, Some(until), NOW).unwrap();
        succeed(&remote, &["run", "--until", until]);
        let connection = local.connection();
        database.copy_to_duckdb(
            "SELECT * FROM \"ATOMIC_DERIVED\".\"DEMO_WEB_ENGAGEMENT_1_ATTRIBUTES\"",
            &connection,
            "from_snowflake",
        );
        let (_, expected) = common::rows(
            &connection,
            &table.replace("{}", "main_derived.demo_web_engagement_1_attributes"),
        );
        let (_, actual) = common::rows(&connection, &table.replace("{}", "from_snowflake"));
        assert!(expected.len() > 10, "{until}: {} keys", expected.len());
        common::assert_same_rows(&format!("snowflake ({until})"), &actual, &expected);
    }
}
