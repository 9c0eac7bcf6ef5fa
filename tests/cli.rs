//! The real binary on temp projects: exit codes, stdout and stderr, and bad input that must fail
//! clearly, naming what and where, without leaving anything half-written.

mod common;

use std::process::{Command, Output};

use common::{FIXTURE_VARS, TempProject, built_tables, fixture_dir};

fn sigbatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(args)
        .env("SIGBATCH_NOW", "2026-06-01 00:00:00")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn fixture_group() -> String {
    std::fs::read_to_string(fixture_dir().join("attribute_group.snowflake.json")).unwrap()
}

/// Runs `sigbatch run` on a staged fixture project whose group or vars were altered, and checks
/// the failure: exit code 2, every `needles` in stderr, a hint, and no table written.
fn assert_run_fails(project: &TempProject, needles: &[&str]) {
    let output = sigbatch(&[
        "run",
        "--project-dir",
        project.path().to_str().unwrap(),
        "--quiet",
    ]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "exit code; stderr:\n{text}");
    for needle in needles {
        assert!(
            text.contains(needle),
            "stderr should mention {needle:?}:\n{text}"
        );
    }
    assert!(text.contains("hint:") || text.contains("error:"), "{text}");
    assert_eq!(built_tables(project), 0, "a failed run left tables behind");
}

#[test]
fn help_says_what_each_command_does_with_an_example() {
    for command in [
        "run", "compile", "status", "validate", "init", "stage", "demo",
    ] {
        let output = sigbatch(&[command, "--help"]);
        assert!(output.status.success(), "{command}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("Example"),
            "{command} --help has no example:\n{text}"
        );
    }
}

#[test]
fn the_demo_generates_runs_and_prints_the_attributes_table() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let output = sigbatch(&[
        "demo",
        "--dir",
        demo.to_str().unwrap(),
        "--users",
        "200",
        "--days",
        "7",
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}{stdout}", stderr(&output));
    assert!(
        stdout.contains(
            "attributes table \"main_derived\".\"demo_web_engagement_1_attributes\", one row per user:"
        ),
        "{stdout}"
    );
    // the summary lists attribute columns, the top five ranks users by the first attribute
    assert!(stdout.contains("null_pct"), "{stdout}");
    assert!(
        stdout.contains("the five users with the highest `"),
        "{stdout}"
    );
    assert!(demo.join("sigbatch.yml").exists());

    // the demo replaces its own directory, and refuses to touch a real project
    let again = sigbatch(&[
        "demo",
        "--dir",
        demo.to_str().unwrap(),
        "--users",
        "50",
        "--days",
        "3",
        "--quiet",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(
        project.join("sigbatch.yml"),
        "attribute_group: group.json\n",
    )
    .unwrap();
    let refused = sigbatch(&["demo", "--dir", project.to_str().unwrap(), "--quiet"]);
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("is not an earlier demo") && text.contains("hint:"),
        "{text}"
    );
    assert!(project.join(".git").is_dir() && project.join("sigbatch.yml").is_file());
}

#[test]
fn help_lists_the_exit_codes() {
    let output = sigbatch(&["--help"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for code in [
        "0    success, including a run with nothing to do",
        "2    a problem",
        "3    an internal",
        "4    another run holds",
        "130  cancelled",
    ] {
        assert!(text.contains(code), "--help lacks {code:?}:\n{text}");
    }
}

#[test]
fn a_full_cli_session_runs_and_reports() {
    let project = TempProject::staged("compat", &fixture_group(), FIXTURE_VARS);
    let dir = project.path().to_str().unwrap();
    let output = sigbatch(&["run", "--project-dir", dir, "--full-refresh"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ran 1 window(s)"));
    assert!(stderr(&output).contains("first run"), "{}", stderr(&output));
    let output = sigbatch(&["status", "--project-dir", dir]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.contains("2025-01-03 23:34:56"),
        "watermark missing:\n{text}"
    );
    let attributes_line = text
        .lines()
        .find(|l| l.starts_with("attributes"))
        .expect("an attributes line");
    let rows: u64 = attributes_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(rows > 0, "{text}");
}

#[test]
fn dry_run_prints_the_statements_and_writes_nothing() {
    let project = TempProject::staged("compat", &fixture_group(), FIXTURE_VARS);
    let output = sigbatch(&[
        "run",
        "--project-dir",
        project.path().to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("-- stage: base_events_this_run") && text.contains("CREATE OR REPLACE TABLE")
    );
    assert_eq!(built_tables(&project), 0);
}

#[test]
fn compile_needs_no_connection() {
    let project = TempProject::new("compat", &fixture_group(), FIXTURE_VARS);
    for dialect in ["duckdb", "snowflake", "bigquery", "databricks"] {
        let output = sigbatch(&[
            "compile",
            "--project-dir",
            project.path().to_str().unwrap(),
            "--dialect",
            dialect,
        ]);
        assert!(output.status.success(), "{dialect}: {}", stderr(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("-- stage: attributes"));
    }
    assert!(
        !project.database().exists(),
        "compile must not create the database"
    );
}

#[test]
fn names_longer_than_the_warehouse_takes_are_refused_before_any_sql() {
    // 230 characters: valid on its own, too long once sigbatch prefixes and suffixes it
    let long_name = format!("g{}", "x".repeat(229));
    let group = fixture_group().replacen(
        "\"name\": \"ecommerce_transaction_interactions_features\"",
        &format!("\"name\": \"{long_name}\""),
        1,
    );
    assert!(group.contains(&long_name));
    let project = TempProject::new("exact", &group, FIXTURE_VARS);
    let compile = |dialect: &str| {
        sigbatch(&[
            "compile",
            "--project-dir",
            project.path().to_str().unwrap(),
            "--dialect",
            dialect,
        ])
    };
    let refused = compile("snowflake");
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("_sigbatch_") && text.contains("takes at most 255") && text.contains("hint:"),
        "{text}"
    );
    assert!(
        refused.stdout.is_empty(),
        "SQL was printed for a refused project"
    );
    // DuckDB has no such limit
    assert!(compile("duckdb").status.success());
}

#[test]
fn malformed_yaml_names_the_file() {
    let project = TempProject::staged("compat", &fixture_group(), FIXTURE_VARS);
    std::fs::write(
        project.path().join("sigbatch.yml"),
        "attribute_group: [unclosed\n",
    )
    .unwrap();
    assert_run_fails(&project, &["sigbatch.yml", "malformed"]);
}

#[test]
fn malformed_json_names_the_file() {
    let project = TempProject::staged("compat", "{\"name\": \"g\", ", FIXTURE_VARS);
    assert_run_fails(&project, &["attribute_group.json", "malformed JSON"]);
}

#[test]
fn an_unknown_aggregation_names_the_attribute_and_value() {
    let group = fixture_group().replacen(
        "\"aggregation\": \"counter\"",
        "\"aggregation\": \"median\"",
        1,
    );
    assert_run_fails(
        &TempProject::staged("exact", &group, FIXTURE_VARS),
        &["page_view_events_count_last_7_days", "`median`"],
    );
}

#[test]
fn an_unknown_operator_names_the_attribute_and_value() {
    let group = fixture_group().replacen("\"operator\": \"like\"", "\"operator\": \"~~\"", 1);
    assert_run_fails(
        &TempProject::staged("exact", &group, FIXTURE_VARS),
        &["pricing_pageview_count_last_7_days", "`~~`"],
    );
}

#[test]
fn a_property_path_that_does_not_parse_is_named() {
    let group = fixture_group().replacen(
        "\"property\": \"geo_country\"",
        "\"property\": \"geo_country; DROP TABLE x\"",
        1,
    );
    assert_run_fails(
        &TempProject::staged("exact", &group, FIXTURE_VARS),
        &["last_geo_country", "geo_country; DROP TABLE x"],
    );
}

#[test]
fn a_period_that_is_not_whole_days_is_named() {
    let group = fixture_group().replacen("\"period\": \"P7D\"", "\"period\": \"P1DT12H\"", 1);
    assert_run_fails(
        &TempProject::staged("exact", &group, FIXTURE_VARS),
        &["page_view_events_count_last_7_days", "P1DT12H", "whole"],
    );
}

#[test]
fn an_unknown_var_is_named() {
    let vars = format!("{FIXTURE_VARS}  snowplow__start_dte: '2025-01-01'\n");
    assert_run_fails(
        &TempProject::staged("exact", &fixture_group(), &vars),
        &["snowplow__start_dte"],
    );
}

#[test]
fn a_custom_filter_with_a_semicolon_or_dml_is_refused() {
    for filter in [
        "app_id = 'x'; DROP TABLE atomic.events",
        "app_id IN (DELETE FROM atomic.events RETURNING app_id)",
    ] {
        let vars = format!("{FIXTURE_VARS}  snowplow__custom_filter: \"{filter}\"\n");
        assert_run_fails(
            &TempProject::staged("exact", &fixture_group(), &vars),
            &["snowplow__custom_filter"],
        );
    }
}

#[test]
fn a_missing_events_column_is_named() {
    // a missing events table: the scenario suite (tests/warehouse_duckdb.rs)
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    project
        .connection()
        .execute_batch("ALTER TABLE atomic.events DROP COLUMN geo_timezone")
        .unwrap();
    assert_run_fails(&project, &["geo_timezone"]);
}

#[test]
fn a_database_held_by_another_process_is_a_clear_error() {
    let project = TempProject::staged("compat", &fixture_group(), FIXTURE_VARS);
    let holder = project.connection();
    holder
        .execute_batch("CREATE TABLE atomic.marker AS SELECT 1 AS x")
        .unwrap();
    let output = sigbatch(&["run", "--project-dir", project.path().to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{text}");
    assert!(
        text.contains("in use by another process") && text.contains("warehouse.duckdb"),
        "{text}"
    );
    drop(holder);
    assert_eq!(built_tables(&project), 0);
}

#[test]
fn full_refresh_is_refused_on_a_non_dev_target_unless_allowed() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    let dir = project.path().to_str().unwrap();
    let output = sigbatch(&[
        "run",
        "--project-dir",
        dir,
        "--target",
        "prod",
        "--full-refresh",
    ]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("prod") && text.contains("snowplow__allow_refresh"),
        "{text}"
    );
    let output = sigbatch(&[
        "run",
        "--project-dir",
        dir,
        "--target",
        "prod",
        "--full-refresh",
        "--vars",
        "{snowplow__allow_refresh: true}",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn max_windows_bounds_a_catch_up_and_the_next_run_finishes_it() {
    let project = TempProject::staged(
        "exact",
        &fixture_group(),
        &FIXTURE_VARS.replace("backfill_limit_days: 3", "backfill_limit_days: 1"),
    );
    let dir = project.path().to_str().unwrap();
    let output = sigbatch(&["run", "--project-dir", dir, "--max-windows", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ran 2 window(s)"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let output = sigbatch(&["run", "--project-dir", dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    let first: Vec<Vec<Option<String>>> = common::rows(
        &project.connection(),
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    )
    .1;
    let output = sigbatch(&["run", "--project-dir", dir, "--full-refresh"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rebuilt = common::rows(
        &project.connection(),
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    )
    .1;
    assert_eq!(first, rebuilt);
    assert_eq!(first.len(), 9);
}

#[test]
fn init_then_validate_a_new_project() {
    let dir = tempfile::tempdir().unwrap();
    let group = dir.path().join("group.json");
    std::fs::write(&group, fixture_group()).unwrap();
    let project = dir.path().join("project");
    let output = sigbatch(&[
        "init",
        "--attribute-group",
        group.to_str().unwrap(),
        "--project-dir",
        project.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(project.join("sigbatch.yml").exists() && project.join("profiles.yml").exists());
    let output = sigbatch(&["validate", "--project-dir", project.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        text.contains("21 attributes") && text.contains("exact mode"),
        "{text}"
    );
    // a second init refuses to overwrite
    let output = sigbatch(&[
        "init",
        "--attribute-group",
        group.to_str().unwrap(),
        "--project-dir",
        project.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("already exists"));
}

/// Replaces the `dev` output of the project's profiles.yml with one carrying `output_lines`.
fn write_dev_output(project: &TempProject, output_lines: &str) {
    std::fs::write(
        project.path().join("profiles.yml"),
        format!(
            "test:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n{output_lines}"
        ),
    )
    .unwrap();
}

#[test]
fn duckdb_threads_and_settings_from_the_profile_let_a_run_spill() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    write_dev_output(
        &project,
        "      threads: 1\n      settings:\n        memory_limit: 1GB\n        temp_directory: spill\n        \
         preserve_insertion_order: false\n",
    );
    let dir = project.path().to_str().unwrap();
    let output = sigbatch(&["run", "--project-dir", dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: i64 = project
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(rows > 0, "{}", String::from_utf8_lossy(&output.stdout));
    let output = sigbatch(&["status", "--project-dir", dir]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_duckdb_setting_the_warehouse_refuses_is_named_and_nothing_is_written() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    write_dev_output(
        &project,
        "      settings:\n        memory_limit: 1GB\n        no_such_setting: 1\n",
    );
    // the value is not shown: a setting may hold a credential (s3_secret_access_key)
    assert_run_fails(
        &project,
        &["no_such_setting", "value not shown", "hint:", "settings:"],
    );
    assert!(
        !project
            .path()
            .join("warehouse.duckdb.sigbatch-lock")
            .exists(),
        "the lock note was left behind"
    );
    let output = sigbatch(&[
        "run",
        "--project-dir",
        project.path().to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no_such_setting"),
        "{}",
        stderr(&output)
    );

    write_dev_output(&project, "      settings:\n        memory_limit: 1 lot\n");
    assert_run_fails(&project, &["memory_limit", "value not shown"]);
    let output = sigbatch(&["run", "--project-dir", project.path().to_str().unwrap()]);
    assert!(!stderr(&output).contains("1 lot"), "{}", stderr(&output));
    write_dev_output(&project, "      threads: 0\n");
    assert_run_fails(
        &project,
        &["profile `test`", "target `dev`", "`threads`", "`0`"],
    );
    write_dev_output(
        &project,
        "      settings:\n        \"memory_limit=1GB; x\": 1\n",
    );
    assert_run_fails(&project, &["memory_limit=1GB; x"]);
}

/// `run_results.json` in `dir`, checked against docs/run_results.schema.json.
fn run_results(dir: &std::path::Path) -> serde_json::Value {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/run_results.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(dir.join("run_results.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let violations = common::schema::violations(&schema, &value);
    assert!(violations.is_empty(), "{violations:#?}\n{text}");
    value
}

#[test]
fn a_run_leaves_run_results_that_match_the_schema() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    let dir = project.path().to_str().unwrap();
    let target = project.path().join("target");
    let output = sigbatch(&["run", "--project-dir", dir, "--dry-run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!target.exists(), "a dry run wrote an artifact");

    let output = sigbatch(&["run", "--project-dir", dir]);
    assert!(output.status.success(), "{}", stderr(&output));
    let results = run_results(&target);
    assert_eq!(results["status"], "success");
    assert_eq!(results["exit_code"], 0);
    assert_eq!(results["error"], serde_json::Value::Null);
    assert_eq!(
        results["project"],
        "ecommerce_transaction_interactions_features_1"
    );
    assert_eq!(
        (&results["target"], &results["warehouse"], &results["mode"]),
        (&"dev".into(), &"duckdb".into(), &"exact".into())
    );
    assert_eq!(results["sigbatch_version"], env!("CARGO_PKG_VERSION"));
    assert!(uuid_like(&results["invocation_id"]), "{results}");
    assert!(results["started_at"].as_str().unwrap() <= results["finished_at"].as_str().unwrap());
    let windows = results["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    let events: u64 = windows.iter().map(|w| w["events"].as_u64().unwrap()).sum();
    assert!(events > 0, "{results}");
    for window in windows {
        assert!(window["lower"].as_str().unwrap() < window["upper"].as_str().unwrap());
        let stages = window["stages"].as_array().unwrap();
        assert!(
            stages.iter().any(|s| s["name"] == "attributes")
                || stages.iter().any(|s| s["name"] == "base_events_this_run"),
            "{window}"
        );
        assert!(stages.iter().all(|s| s["statements"].as_u64().unwrap() > 0));
    }
    let first_id = results["invocation_id"].clone();

    // the next run finds nothing to do: exit 0, and the artifact says so
    let output = sigbatch(&["run", "--project-dir", dir]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let results = run_results(&target);
    assert_eq!(results["status"], "nothing_to_do", "{results}");
    assert_eq!(results["windows"], serde_json::json!([]));
    assert_ne!(results["invocation_id"], first_id);
}

fn uuid_like(value: &serde_json::Value) -> bool {
    value
        .as_str()
        .is_some_and(|id| id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4)
}

#[test]
fn a_failed_run_leaves_run_results_with_the_error() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    project
        .connection()
        .execute_batch("ALTER TABLE atomic.events DROP COLUMN geo_timezone")
        .unwrap();
    let artifacts = project.path().join("elsewhere");
    let output = sigbatch(&[
        "run",
        "--project-dir",
        project.path().to_str().unwrap(),
        "--artifacts-dir",
        artifacts.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!project.path().join("target").exists());
    let results = run_results(&artifacts);
    assert_eq!(results["status"], "error");
    assert_eq!(results["exit_code"], 2);
    assert!(
        results["error"]["message"]
            .as_str()
            .unwrap()
            .contains("geo_timezone"),
        "{results}"
    );
    assert!(results["error"]["hint"].is_string(), "{results}");
    assert_eq!(results["windows"], serde_json::json!([]));
    assert_eq!(results["target"], "dev");

    // a project that does not load still leaves an artifact, without a project name
    std::fs::write(project.path().join("sigbatch.yml"), "attribute_group: [\n").unwrap();
    let output = sigbatch(&["run", "--project-dir", project.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let results = run_results(&project.path().join("target"));
    assert_eq!(
        (&results["status"], &results["project"]),
        (&"error".into(), &serde_json::Value::Null)
    );
}

#[test]
fn the_schema_checker_catches_a_broken_artifact() {
    let project = TempProject::staged("compat", &fixture_group(), FIXTURE_VARS);
    let output = sigbatch(&["run", "--project-dir", project.path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/run_results.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut results = run_results(&project.path().join("target"));
    results["windows"][0]["stages"][0]
        .as_object_mut()
        .unwrap()
        .remove("statements");
    results["status"] = "fine".into();
    let violations = common::schema::violations(&schema, &results);
    assert_eq!(violations.len(), 2, "{violations:#?}");
}

/// stderr as JSON objects, one per line; every line must parse.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stderr(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[test]
fn json_logs_carry_the_run_its_windows_and_stages() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    let dir = project.path().to_str().unwrap();
    let output = sigbatch(&["run", "--project-dir", dir, "--log-format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // data stays on stdout
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("ran "),
        "{output:?}"
    );
    let lines = json_lines(&output);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events.first(), Some(&"run_started"), "{events:?}");
    assert_eq!(events.last(), Some(&"run_finished"), "{events:?}");
    for line in &lines {
        assert!(
            chrono::DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap()).is_ok(),
            "{line}"
        );
        assert_eq!(line["level"], "info", "{line}");
        assert_eq!(
            line["project"], "ecommerce_transaction_interactions_features_1",
            "{line}"
        );
    }
    let of = |name: &'static str| lines.iter().filter(move |l| l["event"] == name);
    let windows = of("window_started").count();
    assert!(windows > 0);
    assert_eq!(of("window_committed").count(), windows);
    for stage in of("stage_finished") {
        assert!(stage["stage"].is_string(), "{stage}");
        assert!(stage["duration_ms"].is_u64(), "{stage}");
        assert!(stage["window"].as_str().unwrap().contains('/'), "{stage}");
        assert!(
            stage.get("rows").is_some() && stage.get("bytes").is_some(),
            "{stage}"
        );
    }
    assert!(of("stage_finished").any(|s| s["stage"] == "attributes"));
    let committed_rows: u64 = of("window_committed")
        .map(|w| w["rows"].as_u64().unwrap())
        .sum();
    let finished = of("run_finished").next().unwrap();
    assert_eq!(finished["status"], "success");
    assert_eq!(finished["rows"].as_u64(), Some(committed_rows));
    assert!(committed_rows > 0);

    // a user error: one error line carrying its hint; the format also comes from the environment
    std::fs::write(project.path().join("sigbatch.yml"), "attribute_group: [\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(["run", "--project-dir", dir])
        .env("SIGBATCH_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let lines = json_lines(&output);
    let error = lines.iter().find(|l| l["event"] == "error").unwrap();
    assert_eq!(error["level"], "error");
    assert!(
        error["error"].as_str().unwrap().contains("sigbatch.yml"),
        "{error}"
    );
    assert!(
        error["hint"].is_string() || error["hint"].is_null(),
        "{error}"
    );
    let finished = lines.iter().find(|l| l["event"] == "run_finished").unwrap();
    assert_eq!(finished["status"], "error");

    // a bad --timeout is the user's to fix, with a hint
    let output = sigbatch(&[
        "run",
        "--project-dir",
        dir,
        "--timeout",
        "soon",
        "--log-format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert!(lines.iter().any(|l| l["event"] == "error"
        && l["error"].as_str().unwrap().contains("--timeout")
        && l["hint"].as_str().unwrap().contains("30m")));
}

#[test]
fn quiet_prints_only_errors_and_text_logs_have_no_colour_off_a_terminal() {
    let project = TempProject::staged("exact", &fixture_group(), FIXTURE_VARS);
    let dir = project.path().to_str().unwrap();
    let output = sigbatch(&["run", "--project-dir", dir, "--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("ran "));

    let output = sigbatch(&["run", "--project-dir", dir, "--quiet", "--until", "someday"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.starts_with("error: --until"), "{text}");
    assert!(text.contains("\nhint: "), "{text}");

    // stderr is a pipe here: plain text, with or without NO_COLOR
    for no_colour in [None, Some("1")] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
        command.args([
            "run",
            "--project-dir",
            dir,
            "--full-refresh",
            "--vars",
            "{snowplow__allow_refresh: true}",
        ]);
        if let Some(value) = no_colour {
            command.env("NO_COLOR", value);
        }
        let output = command
            .env("SIGBATCH_NOW", "2026-06-01 00:00:00")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stderr(&output);
        assert!(text.contains("window "), "{text}");
        assert!(!text.contains('\x1b'), "escape codes in {text:?}");
    }
}

/// `plan --json`, then `run`, with the same clock and `--until`: the plan's windows, events and
/// aggregated dates are the run's (run_results.json).
fn plan_then_run(project: &TempProject, until: &str) -> (serde_json::Value, serde_json::Value) {
    let dir = project.path().to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sigbatch"))
            .args(args)
            .env("SIGBATCH_NOW", "2025-04-01 00:00:00")
            .output()
            .unwrap()
    };
    let output = run(&["plan", "--project-dir", dir, "--until", until, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let output = run(&["run", "--project-dir", dir, "--until", until]);
    assert!(output.status.success(), "{}", stderr(&output));
    let results = run_results(&project.path().join("target"));
    let summary = |windows: &serde_json::Value, days: &str| -> Vec<(String, String, u64, u64)> {
        windows
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["lower"].as_str().unwrap().to_string(),
                    w["upper"].as_str().unwrap().to_string(),
                    w["events"].as_u64().unwrap(),
                    w[days].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        summary(&plan["windows"], "days_aggregated"),
        summary(&results["windows"], "days_aggregated"),
        "plan:\n{plan:#}"
    );
    (plan, results)
}

#[test]
fn plan_shows_the_windows_and_dates_the_next_run_processes() {
    // an old date waits for 30 late events: some wait for later windows and runs
    let project = TempProject::demo(
        "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 2\n  \
         snowplow__late_event_lookback_days: 1\n  snowplow__min_late_events_to_process: 30\n  \
         snowplow__mock_current_day: '2025-03-12'\n",
        150,
        10,
        11,
    );
    let dir = project.path().to_str().unwrap();
    // a first run: several windows, every key computed
    let (plan, _) = plan_then_run(&project, "2025-03-06 00:00:00");
    assert!(plan["windows"].as_array().unwrap().len() > 1, "{plan:#}");
    assert_eq!(plan["full_refresh"], true);
    let keys: i64 = project
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM main_derived.demo_web_engagement_1_attributes",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(plan["keys_to_recompute"].as_i64(), Some(keys));
    // incremental runs: late events, deferred dates carried between windows and runs
    let mut deferred = 0;
    for until in ["2025-03-08 00:00:00", "2025-03-11 12:00:00"] {
        let (plan, _) = plan_then_run(&project, until);
        assert_eq!(plan["full_refresh"], false);
        deferred += plan["windows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| w["dates"].as_array().unwrap())
            .filter(|d| d["aggregate"] == false)
            .count();
        assert!(plan["keys_to_recompute"].as_u64().unwrap() > 0, "{plan:#}");
    }
    assert!(deferred > 0, "no date was deferred; the test wants one");

    // caught up: the plan says there is nothing to do, and so does the run
    let output = Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args([
            "plan",
            "--project-dir",
            dir,
            "--until",
            "2025-03-11 12:00:00",
        ])
        .env("SIGBATCH_NOW", "2025-04-01 00:00:00")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("nothing to do"), "{text}");
}

#[test]
fn plan_and_status_see_what_the_current_model_keeps_and_recomputes() {
    // the current model's group over the fixture: `minutes_since_last_event` moves with "now"
    let group = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/current-model/attribute_group.json"),
    )
    .unwrap();
    let vars = FIXTURE_VARS.replace("backfill_limit_days: 3", "backfill_limit_days: 30");
    let project = TempProject::staged("exact", &group, &vars);
    let (now, later) = ("2026-06-01 00:00:00", "2026-06-01 01:30:00");
    common::succeed_on(&project, &["run"], now, &[]);
    let updated = |project: &TempProject| {
        common::rows(
            &project.connection(),
            "SELECT * FROM main_derived.current_model_1_attributes ORDER BY 1",
        )
        .1
    };
    let before = updated(&project);
    // no new events, "now" 90 minutes on: the plan counts the keys the run will recompute
    let plan = common::sigbatch_on(&project, &["plan", "--json"], later, &[]);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    common::succeed_on(&project, &["run"], later, &[]);
    let moved = before
        .iter()
        .zip(updated(&project))
        .filter(|(was, is)| **was != *is)
        .count();
    assert!(moved > 0, "no row moved: the test wants some");
    assert_eq!(
        plan["keys_to_recompute"].as_u64(),
        Some(moved as u64),
        "{plan:#}"
    );
    // status lists the value-count tables the group's counted outputs keep, with their rows
    let status = common::sigbatch_on(&project, &["status", "--json"], later, &[]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    for table in ["value_counts", "lifetime_value_counts"] {
        let listed = status["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .unwrap_or_else(|| panic!("status does not list {table}: {status:#}"));
        assert!(listed["rows"].as_u64().unwrap() > 0, "{listed}");
    }
}
