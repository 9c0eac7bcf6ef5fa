//! Workspaces on DuckDB, with the real binary: several projects (attribute groups of different
//! keys) run by one invocation give exactly the tables their separate runs give, in both modes;
//! a group that fails leaves the others committed and the workspace exits with the worst code;
//! `--select`; a wrong workspace refused before anything runs; `plan`, `status`, `compile` and
//! `validate` on a workspace; and the workspace's `run_results.json` against its schema.

mod common;

use std::path::Path;
use std::process::Output;

use common::deployment::{Deployment, VARS, assert_exit, assert_same_tables, group_json, stderr};
use serde_json::Value;
const PROJECTS: &str = "projects:\n  - users\n  - sessions\n  - customers\n  - compat\n";
const GROUPS: [(&str, &str); 4] = [
    ("demo_users_1", "events.duckdb"),
    ("demo_sessions_1", "events.duckdb"),
    ("demo_customers_1", "events.duckdb"),
    (
        "ecommerce_transaction_interactions_features_1",
        "fixture.duckdb",
    ),
];

/// Two incremental runs of a workspace of four groups (three keys over one events table in
/// exact mode, the fixture in compat mode on another file) leave every table exactly as two
/// runs of each project on its own do.
#[test]
fn a_workspace_gives_the_tables_of_separate_runs_in_both_modes() {
    let deployments: Vec<Deployment> = (0..2)
        .map(|_| {
            let deployment = Deployment::with_three_groups();
            deployment.compat_fixture("compat");
            deployment
        })
        .collect();
    let (together, apart) = (&deployments[0], &deployments[1]);
    together.workspace_file(PROJECTS);
    for until in ["2025-03-05 00:00:00", "2025-03-10 00:00:00"] {
        let output = together.sigbatch(&["run", "--until", until]);
        assert_exit(&output, 0);
        let stdout = String::from_utf8_lossy(&output.stdout);
        for (name, _) in GROUPS {
            assert!(stdout.contains(&format!("[{name}] ran ")), "{stdout}");
        }
        let results = together.workspace_results();
        assert_eq!(results["status"], "success", "{results}");
        // on DuckDB the groups read the events each on their own unless the workspace file
        // says `shared_read: true` (tests/workspace_shared.rs)
        assert_eq!(results["shared_reads"], serde_json::json!([]), "{results}");
        let groups = results["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 4);
        for (entry, (name, _)) in groups.iter().zip(GROUPS) {
            assert_eq!(
                (&entry["name"], &entry["status"]),
                (&name.into(), &"success".into())
            );
            assert!(!entry["run"]["windows"].as_array().unwrap().is_empty());
        }
        for dir in ["users", "sessions", "customers", "compat"] {
            assert_exit(
                &apart.sigbatch(&["run", "--project-dir", dir, "--until", until]),
                0,
            );
        }
    }
    for (name, database) in GROUPS {
        assert_same_tables(
            together.tables_of(database, name),
            apart.tables_of(database, name),
        );
    }
    // each project also left its own run_results.json, as a run of it alone does
    let own: Value = serde_json::from_str(
        &std::fs::read_to_string(together.path().join("sessions/target/run_results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(own["project"], "demo_sessions_1");
}

/// A bad attribute (exit 2), a missing events table (exit 2), a statement the warehouse refuses
/// (exit 2) and a held lock (exit 4) each fail their group alone: the good groups before and after them commit, the workspace exits 4 (the
/// worst), and its run_results.json says which group failed how.
#[test]
fn failing_groups_leave_the_others_committed_and_the_worst_code_wins() {
    let deployment = Deployment::new();
    deployment.project("users", &group_json("demo_users", "domain_userid", Some(6)));
    let mut bad =
        serde_json::from_str::<Value>(&group_json("demo_bad", "user_id", Some(4))).unwrap();
    bad["attributes"][1]["aggregation"] = "nonsense".into();
    deployment.project("bad", &bad.to_string());
    deployment.project_on(
        "empty",
        &group_json("demo_empty", "user_id", Some(4)),
        "exact",
        VARS,
        "empty.duckdb",
    );
    for copy in ["locked.duckdb", "refused.duckdb"] {
        std::fs::copy(
            deployment.path().join("events.duckdb"),
            deployment.path().join(copy),
        )
        .unwrap();
    }
    // a view where the group's setup would make a table: its first statement is refused
    deployment
        .connection("refused.duckdb")
        .execute_batch(
            "CREATE SCHEMA main_derived; \
             CREATE VIEW main_derived.demo_refused_1_daily_aggregates AS SELECT 1 AS x",
        )
        .unwrap();
    deployment.project_on(
        "refused",
        &group_json("demo_refused", "user_id", Some(4)),
        "exact",
        VARS,
        "refused.duckdb",
    );
    deployment.project_on(
        "locked",
        &group_json("demo_locked", "user_id", Some(4)),
        "exact",
        VARS,
        "locked.duckdb",
    );
    deployment.project(
        "sessions",
        &group_json("demo_sessions", "domain_sessionid", Some(6)),
    );
    deployment.workspace_file("projects: [users, bad, empty, refused, locked, sessions]\n");
    let holder = deployment.connection("locked.duckdb");
    let output = deployment.sigbatch(&["run", "--log-format", "json"]);
    drop(holder);
    assert_exit(&output, 4);
    let results = deployment.workspace_results();
    assert_eq!(
        (&results["status"], &results["exit_code"]),
        (&"error".into(), &4.into())
    );
    let outcome: Vec<(String, String, u64)> = results["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["status"].as_str().unwrap().to_string(),
                g["exit_code"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("demo_users_1", "success", 0),
        ("demo_bad_1", "error", 2),
        ("demo_empty_1", "error", 2),
        ("demo_refused_1", "error", 2),
        ("demo_locked_1", "error", 4),
        ("demo_sessions_1", "success", 0),
    ];
    assert_eq!(
        outcome,
        expected.map(|(n, s, c)| (n.to_string(), s.to_string(), c)),
        "{results}"
    );
    let message = results["error"]["message"].as_str().unwrap();
    assert!(message.contains("4 of 6 group(s) failed"), "{message}");
    let bad_error = results["groups"][1]["run"]["error"]["message"]
        .as_str()
        .unwrap();
    assert!(bad_error.contains("`nonsense`"), "{bad_error}");
    let refused = results["groups"][3]["run"]["error"]["message"]
        .as_str()
        .unwrap();
    assert!(refused.contains("stage `setup` failed"), "{refused}");
    for committed in ["demo_users_1", "demo_sessions_1"] {
        let rows: i64 = deployment
            .connection("events.duckdb")
            .query_row(
                &format!("SELECT COUNT(*) FROM main_derived.{committed}_attributes"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(rows > 0, "{committed} committed nothing");
    }
    // the JSON log names each line's group; the failures are reported within their group
    let lines: Vec<Value> = stderr(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let failed_groups: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "error" && l.get("group").is_some())
        .map(|l| l["group"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed_groups,
        [
            "demo_bad_1",
            "demo_empty_1",
            "demo_refused_1",
            "demo_locked_1"
        ]
    );
    assert!(
        lines
            .iter()
            .filter(|l| l["event"] == "window_committed")
            .all(|l| l["group"] == l["project"]),
        "{lines:#?}"
    );
    let last = lines.last().unwrap();
    assert_eq!(
        (&last["event"], &last["error"].is_string()),
        (&"error".into(), &true)
    );

    // fixed and unlocked, the failed groups run on their own
    deployment.project("bad", &group_json("demo_bad", "user_id", Some(4)));
    let output = deployment.sigbatch(&["run", "--select", "demo_bad_1", "demo_locked_1", "-q"]);
    assert_exit(&output, 0);
    let results = deployment.workspace_results();
    let names: Vec<&str> = results["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo_bad_1", "demo_locked_1"]);
}

/// `--select` runs only the groups it names, with repeated `--project-dir` as with a file; an
/// unknown name is refused, listing the groups there are, before anything runs.
#[test]
fn select_runs_only_the_named_groups() {
    let deployment = Deployment::with_three_groups();
    let tables = |name: &str| -> i64 {
        deployment
            .connection("events.duckdb")
            .query_row(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE ? || '%'",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    };
    let output = deployment.sigbatch(&[
        "run",
        "--project-dir",
        "users",
        "--project-dir",
        "sessions",
        "--project-dir",
        "customers",
        "--select",
        "demo_nobody_1",
    ]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.contains("`demo_nobody_1`")
            && text.contains("`demo_users_1`, `demo_sessions_1`, `demo_customers_1`")
            && text.contains("hint:"),
        "{text}"
    );
    assert_eq!(tables("demo_"), 0, "a refused workspace wrote tables");

    let output = deployment.sigbatch(&[
        "run",
        "--project-dir",
        "users",
        "--project-dir",
        "sessions",
        "--project-dir",
        "customers",
        "--select",
        "demo_sessions_1",
        "--until",
        "2025-03-04 00:00:00",
    ]);
    assert_exit(&output, 0);
    assert!(tables("demo_sessions_1") > 0);
    assert_eq!(tables("demo_users_1") + tables("demo_customers_1"), 0);
    // projects named by flag leave no workspace artifact, only their own
    assert!(!deployment.path().join("target").exists());
    assert!(
        deployment
            .path()
            .join("sessions/target/run_results.json")
            .exists()
    );
}

/// `--timeout` counts for the whole invocation: the group running when it strikes stops, the
/// groups after it do not start, and the workspace exits 124 with status `timeout`.
#[test]
fn a_stop_leaves_the_remaining_groups_unstarted() {
    let deployment = Deployment::with_three_groups();
    deployment.workspace_file("projects: [users, sessions, customers]\n");
    let output = deployment.sigbatch(&["run", "--timeout", "1ms", "-q"]);
    assert_exit(&output, 124);
    let results = deployment.workspace_results();
    assert_eq!(
        (&results["status"], &results["exit_code"]),
        (&"timeout".into(), &124.into())
    );
    let groups = results["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{results}");
    assert!(groups.iter().all(|g| g["status"] != "success"), "{results}");
    let last = &groups[2];
    assert_eq!(
        (&last["status"], &last["exit_code"]),
        (&"not_run".into(), &124.into())
    );
    assert!(last["run"].is_null() && last["run_results"].is_null());
    assert!(
        stderr(&output).contains("not run: `"),
        "{}",
        stderr(&output)
    );
}

/// Each group sends its own OpenLineage run, its job named after its project, and a job name
/// given for all of them is refused (it would merge the groups' runs into one job).
#[test]
fn each_group_reports_its_own_lineage_run() {
    let deployment = Deployment::with_three_groups();
    deployment.workspace_file("projects: [users, sessions, customers]\n");
    let file = deployment.path().join("lineage.jsonl");
    let file = file.to_str().unwrap();
    let output = deployment.sigbatch(&[
        "run",
        "--lineage-file",
        file,
        "--lineage-job-name",
        "attributes",
        "--until",
        "2025-03-03 00:00:00",
    ]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("--lineage-job-name"),
        "{}",
        stderr(&output)
    );
    assert!(
        !Path::new(file).exists(),
        "a refused workspace sent lineage events"
    );

    let output = deployment.sigbatch(&[
        "run",
        "--lineage-file",
        file,
        "--select",
        "demo_users_1",
        "demo_customers_1",
        "--until",
        "2025-03-03 00:00:00",
        "-q",
    ]);
    assert_exit(&output, 0);
    let events: Vec<Value> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let runs: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["job"]["name"].as_str().unwrap(),
                e["eventType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("demo_users_1", "START"),
            ("demo_users_1", "COMPLETE"),
            ("demo_customers_1", "START"),
            ("demo_customers_1", "COMPLETE"),
        ]
    );
    assert_ne!(events[0]["run"]["runId"], events[2]["run"]["runId"]);
    // a group's run id is the invocation id of its own run_results.json
    let results = deployment.workspace_results();
    assert_eq!(
        results["groups"][1]["run"]["invocation_id"],
        events[2]["run"]["runId"]
    );
}

/// A workspace file with an unknown key, or listing a directory without a project, and two
/// projects that would write the same tables, are refused naming what is wrong; nothing runs.
#[test]
fn a_wrong_workspace_is_refused_before_anything_runs() {
    let deployment = Deployment::with_three_groups();
    let refused = |needles: &[&str]| {
        let output = deployment.sigbatch(&["run"]);
        assert_exit(&output, 2);
        let text = stderr(&output);
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} not in:\n{text}");
        }
        assert!(text.contains("hint:"), "{text}");
        let results = deployment.workspace_results();
        assert_eq!(results["groups"], serde_json::json!([]));
        assert_eq!(results["exit_code"], 2);
        let file = results["workspace"].as_str().unwrap();
        assert!(file.ends_with("sigbatch_workspace.yml"), "{results}");
    };
    deployment.workspace_file("projects: [users]\nshare_reads: true\n");
    refused(&["sigbatch_workspace.yml", "`share_reads`"]);
    deployment.workspace_file("projects: [users, sesions]\n");
    refused(&["sigbatch_workspace.yml", "`sesions`", "no sigbatch.yml"]);
    deployment.project(
        "users_again",
        &group_json("demo_users", "domain_userid", Some(3)),
    );
    deployment.workspace_file("projects: [users, sessions, users_again]\n");
    refused(&["would both write", "demo_users_1", "users_again"]);
    let built: i64 = deployment
        .connection("events.duckdb")
        .query_row(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'demo_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(built, 0);

    // a single --project-dir is still that project alone, whatever the directory holds
    let output = deployment.sigbatch(&["validate", "--project-dir", "users"]);
    assert_exit(&output, 0);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("== group"));
}

/// `validate`, `compile`, `plan` and `status` answer for every group, each under its name, and
/// a group that cannot answer fails alone with the worst code.
#[test]
fn plan_status_compile_and_validate_take_a_workspace() {
    let deployment = Deployment::with_three_groups();
    deployment.workspace_file("projects: [users, sessions, customers]\n");
    let stdout = |output: &Output| String::from_utf8_lossy(&output.stdout).into_owned();

    let output = deployment.sigbatch(&["validate"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_eq!(text.matches("ok: project `demo_").count(), 3, "{text}");
    assert!(text.contains("keyed by `domain_sessionid`") && text.contains("keyed by `user_id`"));
    assert!(text.contains("ok: 3 group(s) in `"), "{text}");

    let output = deployment.sigbatch(&["compile", "--dialect", "snowflake"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for name in ["demo_users_1", "demo_sessions_1", "demo_customers_1"] {
        let at = text.find(&format!("-- group `{name}`")).unwrap();
        assert!(
            text[at..].contains(&format!("{}_ATTRIBUTES", name.to_uppercase())),
            "{name}"
        );
    }

    let output = deployment.sigbatch(&["sync", "--dry-run", "--api-url", "http://127.0.0.1:9"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for name in ["demo_users_1", "demo_sessions_1", "demo_customers_1"] {
        let at = text.find(&format!("== group `{name}`")).unwrap();
        assert!(
            text[at..].contains(&format!("\"{name}_attributes\"")),
            "{text}"
        );
    }

    let output = deployment.sigbatch(&["run", "--dry-run", "--until", "2025-03-04 00:00:00"]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output).matches("-- group `demo_").count(), 3);
    assert!(
        !deployment.path().join("target").exists(),
        "a dry run wrote an artifact"
    );

    let output = deployment.sigbatch(&["plan", "--json", "--until", "2025-03-04 00:00:00"]);
    assert_exit(&output, 0);
    let plans: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let groups = plans["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    for group in groups {
        assert_eq!(group["plan"]["project"], group["name"]);
        assert!(group["plan"]["events"].as_u64().unwrap() > 0, "{group}");
        assert!(group["error"].is_null());
    }
    assert_exit(
        &deployment.sigbatch(&["run", "--until", "2025-03-04 00:00:00", "-q"]),
        0,
    );
    let output = deployment.sigbatch(&["plan", "--select", "demo_users_1"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.starts_with("== group `demo_users_1`"), "{text}");
    assert!(!text.contains("demo_sessions_1"), "{text}");

    // status after the run: each group's watermark; a group whose project broke fails alone
    let mut broken =
        serde_json::from_str::<Value>(&group_json("demo_customers", "user_id", Some(12))).unwrap();
    broken["attributes"][0]["aggregation"] = "nonsense".into();
    deployment.project("customers", &broken.to_string());
    let output = deployment.sigbatch(&["status", "--json"]);
    assert_exit(&output, 2);
    let status: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let groups = status["groups"].as_array().unwrap();
    assert_eq!(groups[0]["status"]["project"], "demo_users_1");
    assert!(groups[0]["status"]["read_up_to"].is_string(), "{status}");
    assert!(groups[1]["status"]["last_success"].is_string(), "{status}");
    assert!(groups[2]["status"].is_null());
    assert!(
        groups[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`nonsense`"),
        "{status}"
    );
    assert!(
        stderr(&output).contains("[demo_customers_1] error:"),
        "{}",
        stderr(&output)
    );
}
