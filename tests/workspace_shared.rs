//! A workspace's shared read of the events on DuckDB, with the real binary: groups of
//! different keys, filters and states over one events table read each load range once, and
//! after every run of a stream of loads every group's tables are exactly those of its separate
//! runs, in both modes; `plan` names the shared read a run makes; a group added late catches up
//! on its own and then joins the shared read; a workspace run killed at random moments and rerun
//! reaches the same tables; the shared read's table (temporary on DuckDB) never outlives its run.

mod common;

use std::process::Command;
use std::time::Instant;

use common::deployment::{Deployment, NOW, VARS, assert_exit, assert_same_tables, group_json};
use serde_json::{Value, json};

/// The groups of the stream: (directory, group name, key, attributes, extra vars).
const GROUPS: [(&str, &str, &str, Option<usize>, &str); 4] = [
    ("users", "demo_users", "domain_userid", None, ""),
    (
        "sessions",
        "demo_sessions",
        "domain_sessionid",
        Some(8),
        "  snowplow__custom_filter: \"event_name <> 'page_ping'\"\n",
    ),
    (
        "customers",
        "demo_customers",
        "user_id",
        Some(12),
        "  snowplow__app_id: ['website']\n",
    ),
    // added to the workspace after its third run: it backfills, then joins
    ("late", "demo_late", "domain_userid", Some(5), ""),
];

/// The loads the stream's runs see, one `--until` per run.
const UNTILS: [&str; 5] = [
    "2025-03-03 00:00:00",
    "2025-03-04 12:00:00",
    "2025-03-06 00:00:00",
    "2025-03-08 06:00:00",
    "2025-04-01 00:00:00",
];

fn deployment() -> Deployment {
    let deployment = Deployment::new();
    for (dir, name, key, attributes, vars) in GROUPS {
        deployment.project_on(
            dir,
            &group_json(name, key, attributes),
            "exact",
            &format!("{VARS}{vars}"),
            "events.duckdb",
        );
    }
    deployment
}

fn workspace(groups: usize) -> String {
    let dirs: Vec<String> = GROUPS[..groups]
        .iter()
        .map(|(dir, ..)| format!("  - {dir}\n"))
        .collect();
    // a local file meters no read: DuckDB shares only when the file says so
    format!("projects:\n{}shared_read: true\n", dirs.concat())
}

/// The shared read tables left in `database`.
fn shared_tables(deployment: &Deployment, database: &str) -> i64 {
    deployment
        .connection(database)
        .query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'sigbatch_shared_events%'",
            [],
            |row| row.get(0),
        )
        .unwrap()
}

#[test]
fn groups_sharing_reads_give_the_tables_of_separate_runs_after_every_run_of_a_stream() {
    let (together, apart) = (deployment(), deployment());
    for (run, until) in UNTILS.iter().enumerate() {
        let groups = if run < 3 { 3 } else { 4 };
        together.workspace_file(&workspace(groups));
        let members: Vec<&str> = GROUPS[..groups].iter().map(|g| g.1).collect();
        let named: Vec<String> = members.iter().map(|m| format!("{m}_1")).collect();
        // `plan` names the shared read the run then makes
        let plan = together.sigbatch(&["plan", "--json", "--until", until]);
        assert_exit(&plan, 0);
        let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
        assert_eq!(plan["shared_reads"][0]["groups"], json!(named), "{plan}");
        let output = together.sigbatch(&["run", "--until", until]);
        assert_exit(&output, 0);
        let results = together.workspace_results();
        let shared = results["shared_reads"].as_array().unwrap();
        assert_eq!(shared.len(), 1, "run {run}: {results}");
        let read = &shared[0];
        assert!(read["events"].as_u64().unwrap() > 0, "{read}");
        assert_eq!(read["groups"], json!(named), "run {run}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("once for group(s)"), "{stderr}");
        if run == 3 {
            // the new group starts from the start date: the others' watermark is the range's
            // start, so its first windows read the events table and only its last the shared read
            let late = &results["groups"][3]["run"]["windows"];
            assert!(late.as_array().unwrap().len() > 1, "{late}");
            assert!(
                late[0]["lower"].as_str().unwrap() < read["lower"].as_str().unwrap(),
                "{results}"
            );
        }
        assert_eq!(shared_tables(&together, "events.duckdb"), 0);
        for (dir, ..) in &GROUPS[..groups] {
            assert_exit(
                &apart.sigbatch(&["run", "--project-dir", dir, "--until", until]),
                0,
            );
        }
        for (_, name, ..) in &GROUPS[..groups] {
            let name = format!("{name}_1");
            assert_same_tables(
                together.tables_of("events.duckdb", &name),
                apart.tables_of("events.duckdb", &name),
            );
        }
    }
    // the last run's windows of every group read from the shared read: a run with nothing new
    // makes none
    let output = together.sigbatch(&["run"]);
    assert_exit(&output, 0);
    assert_eq!(together.workspace_results()["shared_reads"], json!([]));
}

/// A group with nothing new to read, on the store of a shared read it takes no part in, still
/// runs on the read's connection (DuckDB: one process opens the file once): its attributes,
/// rewritten because "now" moved, are those of its separate runs.
#[test]
fn a_group_outside_the_shared_read_runs_on_its_connection() {
    let (together, apart) = (deployment(), deployment());
    let later = "2025-04-02 06:00:00";
    for deployment in [&together, &apart] {
        assert_exit(
            &deployment.sigbatch(&["run", "--project-dir", "users", "--until", UNTILS[2]]),
            0,
        );
    }
    // users has nothing new, and "now" moved its time_since values; sessions and customers
    // start from the start date together
    together.workspace_file(&workspace(3));
    let output = together.sigbatch_at(later, &["run", "--until", UNTILS[2]]);
    assert_exit(&output, 0);
    let results = together.workspace_results();
    assert_eq!(
        results["shared_reads"][0]["groups"],
        json!(["demo_sessions_1", "demo_customers_1"]),
        "{results}"
    );
    for dir in ["users", "sessions", "customers"] {
        assert_exit(
            &apart.sigbatch_at(later, &["run", "--project-dir", dir, "--until", UNTILS[2]]),
            0,
        );
    }
    for (_, name, ..) in &GROUPS[..3] {
        let name = format!("{name}_1");
        assert_same_tables(
            together.tables_of("events.duckdb", &name),
            apart.tables_of("events.duckdb", &name),
        );
    }
}

/// Two compat groups (the fixture's, and the same attributes keyed by session) on one events
/// table share each run's calendar window.
#[test]
fn compat_groups_share_their_window_and_keep_upstreams_tables() {
    let (together, apart) = (Deployment::new(), Deployment::new());
    let fixture =
        std::fs::read_to_string(common::fixture_dir().join("attribute_group.snowflake.json"))
            .unwrap();
    let mut sessions: Value = serde_json::from_str(&fixture).unwrap();
    sessions["name"] = "fixture_sessions".into();
    sessions["attribute_key_or_name"] = "domain_sessionid".into();
    sessions["attribute_key"]["name"] = "domain_sessionid".into();
    for deployment in [&together, &apart] {
        common::stage_fixture_events(&deployment.connection("fixture.duckdb"));
        for (dir, group) in [
            ("users", fixture.clone()),
            ("sessions", sessions.to_string()),
        ] {
            deployment.project_on(
                dir,
                &group,
                "compat",
                common::FIXTURE_VARS,
                "fixture.duckdb",
            );
        }
    }
    together.workspace_file("projects:\n  - users\n  - sessions\nshared_read: true\n");
    let names = [
        "ecommerce_transaction_interactions_features_1",
        "fixture_sessions_1",
    ];
    for until in [
        "2025-01-02 00:00:00",
        "2025-01-04 00:00:00",
        "2025-01-10 00:00:00",
    ] {
        let output = together.sigbatch(&["run", "--until", until]);
        assert_exit(&output, 0);
        let results = together.workspace_results();
        assert_eq!(
            results["shared_reads"][0]["groups"],
            json!(names),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for dir in ["users", "sessions"] {
            assert_exit(
                &apart.sigbatch(&["run", "--project-dir", dir, "--until", until]),
                0,
            );
        }
        for name in names {
            assert_same_tables(
                together.tables_of("fixture.duckdb", name),
                apart.tables_of("fixture.duckdb", name),
            );
        }
    }
}

/// A workspace run killed with SIGKILL at seeded random moments (before, during and after its
/// shared read and its groups' windows) and then rerun reaches the tables of an uninterrupted
/// workspace run; on DuckDB the shared read's table is temporary, so a killed run leaves none.
#[test]
fn a_workspace_run_killed_at_any_moment_and_rerun_reaches_the_same_tables() {
    let baseline = deployment();
    baseline.workspace_file(&workspace(3));
    let started = Instant::now();
    assert_exit(&baseline.sigbatch(&["run", "--until", UNTILS[2]]), 0);
    let first = started.elapsed();
    let started = Instant::now();
    assert_exit(&baseline.sigbatch(&["run"]), 0);
    let second = started.elapsed();
    let mut seed: u64 = 0x5ead;
    for attempt in 0..3 {
        let victim = deployment();
        victim.workspace_file(&workspace(3));
        // the kill falls in the first run, or in the second, incremental, one
        let (until, span) = if attempt % 2 == 0 {
            (Some(UNTILS[2]), first)
        } else {
            assert_exit(&victim.sigbatch(&["run", "--until", UNTILS[2]]), 0);
            (None, second)
        };
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = span.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0);
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
        command
            .current_dir(victim.path())
            .env("SIGBATCH_NOW", NOW)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(until) = until {
            command.args(["--until", until]);
        }
        eprintln!("attempt {attempt}: killed after {delay:?}");
        let mut child = command.spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        if let Some(until) = until {
            assert_exit(&victim.sigbatch(&["run", "--until", until]), 0);
        }
        assert_exit(&victim.sigbatch(&["run"]), 0);
        for (_, name, ..) in &GROUPS[..3] {
            let name = format!("{name}_1");
            assert_same_tables(
                victim.tables_of("events.duckdb", &name),
                baseline.tables_of("events.duckdb", &name),
            );
        }
        // temporary on DuckDB: nothing is left behind
        assert_eq!(shared_tables(&victim, "events.duckdb"), 0);
    }
}
