//! OpenLineage run events from `sigbatch run` on DuckDB, through the real binary: what a stand-in
//! collector receives for a run that succeeds, has nothing to do, fails, is cancelled or times
//! out, checked field by field and against the OpenLineage 2-0-2 schema files; a collector that
//! refuses, hangs or is gone changes nothing about the run; bad settings are refused by name.
//! (The same events on Snowflake are in tests/warehouse_snowflake.rs.)

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::collector::{Answer, Collector, assert_valid};
use common::{TempProject, demo_attributes, demo_project, demo_run};
use serde_json::Value;

const KEY: &str = "ol-key-6c1f0e";
const PARENT: &str = "airflow_ns/attributes_dag.run_sigbatch/01890a1c-5f2e-7c3d-9a4b-1234567890ab";
const ROOT: &str = "airflow_ns/attributes_dag/01890a1c-0000-7c3d-9a4b-1234567890ab";

/// The demo project's run, sending events to `collector` with the API key and parent set.
fn run_reporting(project: &TempProject, collector: &Collector, extra: &[&str]) -> Command {
    let mut command = demo_run(project.path(), extra);
    command
        .env("OPENLINEAGE_URL", collector.url())
        .env("OPENLINEAGE_API_KEY", KEY)
        .env("OPENLINEAGE_PARENT_ID", PARENT)
        .env("OPENLINEAGE_ROOT_PARENT_ID", ROOT);
    command
}

/// `demo_run` without `--quiet`, so that warnings show.
fn loud_run(project: &TempProject, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
    command
        .args(["run", "--project-dir", project.path().to_str().unwrap()])
        .args(["--until", "2025-03-11 00:00:00"])
        .args(extra)
        .env("SIGBATCH_NOW", common::DEMO_NOW);
    command
}

fn run_results(project: &TempProject) -> Value {
    let text = std::fs::read_to_string(project.path().join("target/run_results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn names(datasets: &Value) -> Vec<String> {
    let mut names: Vec<String> = datasets
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// What every event of one run shares: the run id of run_results.json, the default job, the
/// parent and root from Airflow's macros, the events table as input, the datasets' namespace.
fn assert_common(event: &Value, project: &TempProject, results: &Value) {
    assert_eq!(event["run"]["runId"], results["invocation_id"], "{event}");
    assert_eq!(event["job"]["namespace"], "sigbatch");
    assert_eq!(event["job"]["name"], "demo_web_engagement_1");
    assert_eq!(event["job"]["facets"]["jobType"]["processingType"], "BATCH");
    let parent = &event["run"]["facets"]["parent"];
    assert_eq!(parent["job"]["namespace"], "airflow_ns");
    assert_eq!(parent["job"]["name"], "attributes_dag.run_sigbatch");
    assert_eq!(
        parent["run"]["runId"],
        "01890a1c-5f2e-7c3d-9a4b-1234567890ab"
    );
    assert_eq!(parent["root"]["job"]["name"], "attributes_dag");
    assert_eq!(
        parent["root"]["run"]["runId"],
        "01890a1c-0000-7c3d-9a4b-1234567890ab"
    );
    let namespace = format!("duckdb://{}", project.database().display());
    assert_eq!(
        event["inputs"],
        serde_json::json!([{"namespace": namespace, "name": "warehouse.atomic.events"}])
    );
    for output in event["outputs"].as_array().unwrap() {
        assert_eq!(output["namespace"], namespace.as_str());
    }
    let time = event["eventTime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "eventTime {time}"
    );
}

/// The tables the run keeps, as `warehouse.schema.table`, read from DuckDB's catalog.
fn stored_tables(project: &TempProject) -> Vec<String> {
    common::rows(
        &project.connection(),
        "SELECT 'warehouse.' || table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema IN ('main_derived', 'main_snowplow_manifest') ORDER BY 1",
    )
    .1
    .into_iter()
    .map(|row| row[0].clone().unwrap())
    .collect()
}

#[test]
fn a_run_sends_start_then_complete_with_what_it_read_and_wrote() {
    let project = demo_project();
    let collector = Collector::start(Answer::Accept);
    let output = run_reporting(&project, &collector, &[]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(KEY), "{}", text(&output));
    let results = run_results(&project);
    let requests = collector.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/v1/lineage");
        assert_eq!(
            request.authorization.as_deref(),
            Some(&*format!("Bearer {KEY}"))
        );
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
    }
    let events = collector.events();
    assert_valid(&events);
    let (start, complete) = (&events[0], &events[1]);
    assert_eq!(start["eventType"], "START");
    assert_eq!(complete["eventType"], "COMPLETE");
    for event in &events {
        assert_common(event, &project, &results);
        // every table the run keeps, and nothing else (the scratch tables are temporary)
        assert_eq!(names(&event["outputs"]), stored_tables(&project));
        assert!(event["run"]["facets"].get("errorMessage").is_none());
    }
    // the attributes table's schema facet: its columns, in order, as DuckDB has them
    let attributes = complete["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "warehouse.main_derived.demo_web_engagement_1_attributes")
        .unwrap();
    let fields: Vec<(String, u64)> = attributes["facets"]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["ordinal_position"].as_u64().unwrap(),
            )
        })
        .collect();
    let columns: Vec<(String, u64)> = common::rows(
        &project.connection(),
        "SELECT column_name, CAST(ordinal_position AS VARCHAR) FROM information_schema.columns \
         WHERE table_schema = 'main_derived' AND table_name = 'demo_web_engagement_1_attributes' \
         ORDER BY ordinal_position",
    )
    .1
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            r[1].clone().unwrap().parse().unwrap(),
        )
    })
    .collect();
    assert_eq!(fields, columns);

    // the next run has nothing to do: it completes, having written nothing
    let again = Collector::start(Answer::Accept);
    let output = run_reporting(&project, &again, &[]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let results = run_results(&project);
    assert_eq!(results["status"], "nothing_to_do");
    let events = again.events();
    assert_valid(&events);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["eventType"], "COMPLETE");
    assert_eq!(events[1]["outputs"], serde_json::json!([]));
    assert_common(&events[1], &project, &results);
}

#[test]
fn a_failed_run_sends_fail_with_the_error() {
    // no events table: the run is refused before it writes anything
    let project = TempProject::new(
        "exact",
        sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON,
        common::DEMO_VARS,
    );
    let collector = Collector::start(Answer::Accept);
    let output = run_reporting(&project, &collector, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let results = run_results(&project);
    assert_eq!(results["status"], "error");
    let events = collector.events();
    assert_valid(&events);
    let kinds: Vec<&Value> = events.iter().map(|e| &e["eventType"]).collect();
    assert_eq!(kinds, ["START", "FAIL"]);
    for event in &events {
        assert_common(event, &project, &results);
    }
    let fail = &events[1];
    assert_eq!(
        fail["outputs"],
        serde_json::json!([]),
        "nothing was written"
    );
    let error = &fail["run"]["facets"]["errorMessage"];
    assert_eq!(error["programmingLanguage"], "Rust");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`atomic.events` does not exist") && message.contains("hint:"),
        "{message}"
    );
}

#[test]
fn a_run_stopped_by_its_timeout_or_sigterm_sends_abort() {
    // --timeout 1ms runs out before the first statement
    let project = demo_project();
    let collector = Collector::start(Answer::Accept);
    let output = run_reporting(&project, &collector, &["--timeout", "1ms"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124), "{}", text(&output));
    let results = run_results(&project);
    assert_eq!(results["status"], "timeout");
    let events = collector.events();
    assert_valid(&events);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["eventType"], "ABORT");
    assert_common(&events[1], &project, &results);
    let message = events[1]["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("timed out"), "{message}");

    // SIGTERM once START has arrived: the run is under way and stops before its next statement
    let mut cancelled = 0;
    for _ in 0..3 {
        let project = demo_project();
        let collector = Collector::start(Answer::Accept);
        let child = run_reporting(&project, &collector, &[]).spawn().unwrap();
        assert!(collector.wait_for(1, Duration::from_secs(30)), "no START");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let output = child.wait_with_output().unwrap();
        let results = run_results(&project);
        let events = collector.events();
        assert_valid(&events);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_common(&events[1], &project, &results);
        if output.status.code() == Some(130) {
            cancelled += 1;
            assert_eq!(results["status"], "cancelled");
            assert_eq!(events[1]["eventType"], "ABORT");
            let committed = !results["windows"].as_array().unwrap().is_empty();
            assert_eq!(
                events[1]["outputs"].as_array().unwrap().is_empty(),
                !committed,
                "outputs only if a window committed"
            );
        } else {
            assert!(output.status.success(), "{}", text(&output));
            assert_eq!(events[1]["eventType"], "COMPLETE");
        }
    }
    assert!(cancelled >= 1, "no run was cancelled by SIGTERM");
}

#[test]
fn a_collector_that_refuses_hangs_or_is_gone_changes_nothing_but_a_warning() {
    let baseline = demo_project();
    let output = demo_run(baseline.path(), &[]).output().unwrap();
    assert!(output.status.success());
    let expected = demo_attributes(&baseline);
    let refusing = Collector::start(Answer::Refuse);
    let hanging = Collector::start(Answer::Hang);
    let gone = format!("http://127.0.0.1:{}", common::free_port());
    for (url, what) in [
        (refusing.url(), "HTTP 503"),
        (hanging.url(), "did not answer within"),
        (gone, "failed"),
    ] {
        let project = demo_project();
        let started = Instant::now();
        let output = loud_run(&project, &["--lineage-timeout", "1s"])
            .env("OPENLINEAGE_URL", &url)
            .env("OPENLINEAGE_API_KEY", KEY)
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let text = text(&output);
        assert!(output.status.success(), "{url}: {text}");
        assert_eq!(demo_attributes(&project), expected, "{url}");
        assert_eq!(run_results(&project)["status"], "success");
        for kind in ["START", "COMPLETE"] {
            assert!(
                text.contains(&format!("lineage: the {kind} event was not delivered")),
                "{url}: {text}"
            );
        }
        assert!(text.contains(what), "{url}: {text}");
        assert!(!text.contains(KEY), "{url}: {text}");
        // two events, one second each at most, on top of the run itself
        assert!(elapsed < Duration::from_secs(20), "{url}: {elapsed:?}");
    }
    // a refused run keeps its own exit code
    let failing = TempProject::new(
        "exact",
        sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON,
        common::DEMO_VARS,
    );
    let output = demo_run(failing.path(), &["--lineage-timeout", "1s"])
        .env("OPENLINEAGE_URL", hanging.url())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    common::assert_missing_events_table(&output);
}

#[test]
fn the_file_transport_writes_one_event_a_line_and_flags_override_the_job() {
    let project = demo_project();
    let file = project.path().join("lineage.jsonl");
    let output = demo_run(
        project.path(),
        &[
            "--lineage-file",
            file.to_str().unwrap(),
            "--lineage-namespace",
            "analytics",
            "--lineage-job-name",
            "web_attributes",
        ],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let events: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_valid(&events);
    let kinds: Vec<&Value> = events.iter().map(|e| &e["eventType"]).collect();
    assert_eq!(kinds, ["START", "COMPLETE"]);
    for event in &events {
        assert_eq!(event["job"]["namespace"], "analytics");
        assert_eq!(event["job"]["name"], "web_attributes");
        assert!(event["run"]["facets"].get("parent").is_none());
    }
    // a dry run sends nothing
    let output = demo_run(
        project.path(),
        &["--dry-run", "--lineage-file", file.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
}

#[test]
fn bad_lineage_settings_are_refused_by_name_before_the_run() {
    let project = demo_project();
    let cases: [(&str, &str, &str); 4] = [
        ("OPENLINEAGE_URL", "marquez:5000", "OPENLINEAGE_URL"),
        ("OPENLINEAGE_URL", "ftp://marquez", "OPENLINEAGE_URL"),
        (
            "OPENLINEAGE_PARENT_ID",
            "default/dag.task/not-a-uuid",
            "OPENLINEAGE_PARENT_ID",
        ),
        ("SIGBATCH_LINEAGE_TIMEOUT", "soon", "--lineage-timeout"),
    ];
    for (variable, value, named) in cases {
        let output = demo_run(project.path(), &[])
            .env("OPENLINEAGE_URL", "http://127.0.0.1:9")
            .env("OPENLINEAGE_API_KEY", KEY)
            .env(variable, value)
            .output()
            .unwrap();
        let text = text(&output);
        assert_eq!(output.status.code(), Some(2), "{variable}={value}: {text}");
        assert!(
            text.contains(named) && text.contains(value) && text.contains("hint:"),
            "{variable}={value}: {text}"
        );
        assert!(!text.contains(KEY), "{text}");
    }
    assert_eq!(common::built_tables(&project), 0, "nothing ran");
}
