//! `sigbatch run` on Snowflake, end to end: the real binary and client against fakesnow over
//! HTTP (tests/scenarios/snowflake.rs). The scenario suite (tests/scenarios), then what only
//! Snowflake has: a lease held by another run refused, waited for and taken over; an unreachable
//! host; a random stream in batches equal to DuckDB; and the stand-in answering Arrow (inline and
//! in chunks), as Snowflake answers its own connectors: the fixture and an exact run as on JSON.

mod common;
mod scenarios;

use std::process::Output;

use common::TempProject;
use scenarios::snowflake::{Database, LEASE, PASSWORD, Snowflake, SnowflakeArrow};
use scenarios::{Harness, NOW, PLACE, SharedWarehouse};

scenarios::suite!(Snowflake);

fn sigbatch(project: &TempProject, args: &[&str]) -> Output {
    common::sigbatch_on(project, args, NOW, &[PASSWORD])
}

fn succeed(project: &TempProject, args: &[&str]) -> String {
    common::succeed_on(project, args, NOW, &[PASSWORD])
}

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
    let mut snowflake = Snowflake::start();
    let project = scenarios::fixture(&mut snowflake, "exact", 3, PLACE, true);
    let database = snowflake.database(PLACE);
    // a lease table as sigbatch 0.1 created it, without `open_work`: the run adds the column
    for sql in [
        "CREATE SCHEMA IF NOT EXISTS \"ATOMIC_SNOWPLOW_MANIFEST\"".to_string(),
        format!(
            "CREATE TABLE {LEASE} (lock_name VARCHAR, holder VARCHAR, host VARCHAR, pid INTEGER, \
             since TIMESTAMP_NTZ, expires TIMESTAMP_NTZ)"
        ),
    ] {
        database.client.run(&sql).unwrap();
    }
    succeed(&project, &["run"]);
    assert_eq!(lease_holder(database), None, "released after the run");
    let open_work = database
        .client
        .run(&format!("SELECT open_work FROM {LEASE}"))
        .unwrap();
    assert_eq!(
        open_work.rows,
        vec![vec![None]],
        "nothing open once released"
    );

    hold_lease(database, chrono::TimeDelta::hours(1));
    let refused = sigbatch(&project, &["run"]);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{text}");
    assert!(
        text.contains("other-run") && text.contains("cron-2") && text.contains("since"),
        "{text}"
    );
    assert!(text.contains("--lock-timeout"), "{text}");

    // a lease that runs out while we wait is taken over
    hold_lease(database, chrono::TimeDelta::seconds(3));
    let progress = succeed(&project, &["run", "--lock-timeout", "60"]);
    assert!(
        progress.contains("waiting for the run of other-run"),
        "{progress}"
    );
    assert!(
        progress.contains("took over the run lease of other-run"),
        "{progress}"
    );
    assert_eq!(lease_holder(database), None);

    // an expired lease (a run that died) is taken over at once
    hold_lease(database, chrono::TimeDelta::seconds(-1));
    let progress = succeed(&project, &["run"]);
    assert!(progress.contains("took over"), "{progress}");

    // the warehouse's clock decides, not the worker's: one three hours ahead takes no live
    // lease, one three hours behind takes an expired one at once
    hold_lease(database, chrono::TimeDelta::minutes(10));
    let ahead = sigbatch_with_clock(&project, "+3h");
    let text = String::from_utf8_lossy(&ahead.stderr);
    assert_eq!(ahead.status.code(), Some(4), "{text}");
    assert_eq!(lease_holder(database).as_deref(), Some("other-run"));
    hold_lease(database, chrono::TimeDelta::seconds(-1));
    let behind = sigbatch_with_clock(&project, "-3h");
    let text = String::from_utf8_lossy(&behind.stderr);
    assert!(behind.status.success(), "{text}");
    assert!(text.contains("took over"), "{text}");
}

/// Statements one by one: the fence reads the lease back between two of them.
#[test]
fn a_run_that_lost_its_lease_mid_window_commits_nothing() {
    lost_lease_commits_nothing(false);
}

/// The window as multi-statement requests: the lease is taken over before the transaction's
/// request is sent, and the fence's failing statement stops it before its COMMIT.
#[test]
fn a_run_that_lost_its_lease_before_its_transaction_script_commits_nothing() {
    lost_lease_commits_nothing(true);
}

fn lost_lease_commits_nothing(in_scripts: bool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let mut snowflake = Snowflake::start();
    let project = scenarios::fixture(&mut snowflake, "exact", 3, PLACE, true);
    let database = snowflake.database(PLACE);
    let thief = Arc::new(Mutex::new(Some(database.session())));
    let taken = Arc::new(AtomicBool::new(false));
    // while the window writes its attributes, another worker takes the lease over
    let hook = || -> Option<common::faults::Hook> {
        let (thief, taken) = (Arc::clone(&thief), Arc::clone(&taken));
        Some(Box::new(move |sql: &str| {
            let writes_attributes = sql.contains("_ATTRIBUTES") && !sql.starts_with("CREATE");
            if writes_attributes && !taken.swap(true, Ordering::SeqCst) {
                let mut session = thief.lock().unwrap().take().unwrap();
                session
                    .run(&format!(
                        "UPDATE {LEASE} SET holder = 'thief-run', host = 'cron-9'"
                    ))
                    .unwrap();
            }
        }))
    };
    let (result, _) = if in_scripts {
        common::faults::run_hooked_in_scripts(&project, NOW, &hook)
    } else {
        common::faults::run_hooked(
            &project,
            usize::MAX,
            common::faults::Rules::Native,
            NOW,
            &hook,
        )
    };
    assert!(
        taken.load(Ordering::SeqCst),
        "the window never wrote its attributes"
    );
    let error = result.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, sigbatch::Error::Locked { .. }), "{error:?}");
    assert!(
        text.contains("thief-run") && text.contains("rolled back"),
        "{text}"
    );
    let committed = database.read(
        "SELECT COUNT(*) FROM \"ATOMIC_SNOWPLOW_MANIFEST\".\"ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_SIGBATCH_RUN_STATE\"",
    );
    assert_eq!(
        committed.1,
        vec![vec![Some("0".to_string())]],
        "a window was committed"
    );
    assert_eq!(lease_holder(database).as_deref(), Some("thief-run"));
}

/// `sigbatch run` with its clock moved by `offset` (libfaketime, from the fakesnow venv).
fn sigbatch_with_clock(project: &TempProject, offset: &str) -> Output {
    let python = common::venv_python("fakesnow-venv.sh");
    let library = std::process::Command::new(&python)
        .args([
            "-c",
            "import libfaketime, os; print(os.path.join(os.path.dirname(libfaketime.__file__), \
             'vendor', 'libfaketime', 'src', 'libfaketime.so.1'))",
        ])
        .output()
        .unwrap();
    let library = String::from_utf8(library.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        std::path::Path::new(&library).is_file(),
        "no libfaketime at `{library}`"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(["run", "--project-dir", project.path().to_str().unwrap()])
        .env("LD_PRELOAD", &library)
        .env("FAKETIME", offset)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(PASSWORD),
        "the password was printed"
    );
    output
}

#[test]
fn an_unreachable_host_is_named() {
    let project = TempProject::staged(
        "exact",
        &scenarios::fixture_group("snowflake"),
        common::FIXTURE_VARS,
    );
    let closed = common::free_port();
    let profile = scenarios::snowflake::profile_yaml("ERRORS", closed, "atomic").replace(
        &format!("port: {closed}"),
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

/// The stand-in answering Arrow as Snowflake answers its own connectors (`rowsetBase64`, and for
/// results over 40 rows, chunks of Arrow downloaded with their headers, some gzip'd): the
/// upstream fixture cell for cell (case 1), and the exact run equal to DuckDB's and a rerun that
/// changes nothing (cases 2 and 3), so the same tables as the suite's runs on JSON. The harness
/// reads the tables back through the same client, in Arrow too.
#[test]
fn arrow_results_give_the_tables_json_results_give() {
    static ARROW: SharedWarehouse<SnowflakeArrow> = SharedWarehouse::new(2);
    scenarios::compat_mode_reproduces_the_upstream_fixture::<SnowflakeArrow>();
    scenarios::exact_mode_equals_duckdb(&ARROW);
    scenarios::a_rerun_does_nothing(&ARROW);
}

/// OpenLineage events of a run on Snowflake (the DuckDB cases are in tests/lineage.rs): datasets
/// named `{DATABASE}.{SCHEMA}.{TABLE}` as Snowflake stores them in the account's namespace, the
/// attributes table's columns as Snowflake has them, and a run refused for a missing events table
/// reported as FAIL. Every event validates against the OpenLineage 2-0-2 schema files.
#[test]
fn a_run_reports_its_lineage_with_snowflake_names() {
    use common::collector::{Answer, Collector, assert_valid};
    let mut snowflake = Snowflake::default();
    let project = scenarios::fixture(&mut snowflake, "exact", 3, PLACE, true);
    let collector = Collector::start(Answer::Accept);
    let url = collector.url();
    let lineage = [
        "--openlineage-url",
        url.as_str(),
        "--lineage-namespace",
        "airflow",
    ];
    succeed(&project, &[&["run"][..], &lineage[..]].concat());
    let events = collector.events();
    assert_valid(&events);
    let kinds: Vec<&serde_json::Value> = events.iter().map(|e| &e["eventType"]).collect();
    assert_eq!(kinds, ["START", "COMPLETE"]);
    let complete = &events[1];
    assert_eq!(complete["job"]["namespace"], "airflow");
    assert_eq!(
        complete["job"]["name"],
        "ecommerce_transaction_interactions_features_1"
    );
    assert_eq!(
        complete["inputs"],
        serde_json::json!([{"namespace": "snowflake://test_account", "name": "DB_ATOMIC.ATOMIC.EVENTS"}])
    );
    let database = snowflake.database(PLACE);
    let outputs = complete["outputs"].as_array().unwrap();
    // every table the run keeps but the run lease, which holds no data
    assert_eq!(
        outputs.len(),
        database.tables_in("'ATOMIC_DERIVED', 'ATOMIC_SNOWPLOW_MANIFEST'") - 1
    );
    let attributes = outputs
        .iter()
        .find(|o| {
            o["name"] == "DB_ATOMIC.ATOMIC_DERIVED.ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_ATTRIBUTES"
        })
        .unwrap_or_else(|| panic!("{outputs:?}"));
    assert_eq!(attributes["namespace"], "snowflake://test_account");
    let fields: Vec<String> = attributes["facets"]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    let (_, columns) = database.read(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ATOMIC_DERIVED' \
         AND table_name = 'ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_ATTRIBUTES' \
         ORDER BY ordinal_position",
    );
    let columns: Vec<String> = columns.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(fields, columns);

    // an events table that does not exist: FAIL, with the error, and no outputs
    let refused = sigbatch(
        &project,
        &[
            &["run", "--vars", "{snowplow__events_table: no_events}"][..],
            &lineage[..],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    let events = collector.events();
    assert_valid(&events);
    let kinds: Vec<&serde_json::Value> = events[2..].iter().map(|e| &e["eventType"]).collect();
    assert_eq!(kinds, ["START", "FAIL"]);
    assert_eq!(events[3]["outputs"], serde_json::json!([]));
    assert_eq!(events[3]["inputs"][0]["name"], "DB_ATOMIC.ATOMIC.NO_EVENTS");
    let message = events[3]["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("does not exist"), "{message}");
}

/// A +1 load day window (a run caught up to the day before, then one more day of loads) takes
/// at most five requests, counted by the stand-in on the run's session from the request holding
/// the window's first statement: the statements before its transaction and the transaction,
/// each one multi-statement request and one read of their times, and the count of what it
/// read. run_results.json says as many, and each statement id it lists is a query the stand-in
/// ran in them.
#[test]
fn a_load_day_window_takes_at_most_five_requests() {
    let mut snowflake = Snowflake::start();
    let project = scenarios::fixture(&mut snowflake, "exact", 3, PLACE, true);
    // a daily run: "now" just after the load day
    let day = |now: &str, args: &[&str]| common::succeed_on(&project, args, now, &[PASSWORD]);
    day(
        "2025-01-07 00:00:00",
        &["run", "--until", "2025-01-07 00:00:00"],
    );
    let first_run = artifact(&project);
    let seen = snowflake.database(PLACE).requests().len();
    day("2025-01-08 00:00:00", &["run"]);
    let received = snowflake.database(PLACE).requests().split_off(seen);
    let run = artifact(&project);
    let windows = run["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "one window, the last load day: {run}");
    let window = &windows[0];
    let statement_ids: Vec<&str> = window["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|stage| stage["statement_ids"].as_array().unwrap())
        .map(|id| id.as_str().unwrap())
        .collect();
    let ran = |request: &serde_json::Value, id: &str| {
        request["query_ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i == id))
    };
    let start = received
        .iter()
        .position(|request| ran(request, statement_ids[0]))
        .expect("the stand-in ran the window's first statement");
    let session = &received[start]["session"];
    let in_window: Vec<&serde_json::Value> = received[start..]
        .iter()
        .filter(|request| &request["session"] == session)
        .collect();
    let texts: Vec<&str> = in_window
        .iter()
        .map(|request| request["sql"].as_str().unwrap_or_default())
        .collect();
    assert!(
        in_window.len() <= 5,
        "{} requests: {texts:#?}",
        in_window.len()
    );
    assert_eq!(
        window["requests"].as_u64(),
        Some(in_window.len() as u64),
        "run_results.json counts otherwise than the stand-in: {texts:#?}"
    );
    for id in &statement_ids {
        assert!(
            in_window.iter().any(|request| ran(request, id)),
            "statement {id} is no query of the window's requests"
        );
    }
    let per_window: Vec<&serde_json::Value> = first_run["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["requests"])
        .collect();
    eprintln!(
        "snowflake requests: +1 load day window {} (stand-in), first run's windows {per_window:?} (run_results.json)",
        in_window.len()
    );
}

fn artifact(project: &TempProject) -> serde_json::Value {
    let text = std::fs::read_to_string(project.path().join("target/run_results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}
