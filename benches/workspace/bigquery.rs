//! What BigQuery would bill (`-- --bigquery`): the bytes the stand-in's dry runs estimate for the
//! workspace's shared read and for each group's own read of the events; then what the runs
//! themselves report (the stand-in's jobs say the same estimate per statement, and BigQuery's
//! 10 MB minimum per table read as billed), from their run_results.json: the workspace's full
//! refresh and +1 load day against the five projects run one after another on a dataset of
//! their own (`bench_apart`) over the same events table.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{GROUPS, dataset, group, standin, write_project, write_workspace_file};

const TOKEN: &str = "ya29.bench-token";
/// A context's field: its JSON key, its name on BigQuery, its BigQuery type.
type Field = (&'static str, &'static str, &'static str);
/// Each JSON context column of the generated events as Snowplow's BigQuery loader stores it:
/// a REPEATED RECORD named for its full schema version, with snake_case fields
/// (`revenue` NUMERIC, as the loader types it).
const CONTEXTS: [(&str, &[Field]); 3] = [
    (
        "contexts_nl_basjes_yauaa_context_1",
        &[
            ("operatingSystemName", "operating_system_name", "STRING"),
            ("deviceClass", "device_class", "STRING"),
        ],
    ),
    (
        "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1",
        &[
            ("revenue", "revenue", "NUMERIC"),
            ("transaction_id", "transaction_id", "STRING"),
        ],
    ),
    (
        "contexts_com_snowplowanalytics_snowplow_web_page_1",
        &[("id", "id", "STRING")],
    ),
];
const STEPS: [(&str, &str); 2] = [
    ("full refresh", "2025-03-02 01:00:00"),
    ("+1 load day", "2025-03-03 01:00:00"),
];

pub fn bench(n: u64) {
    let started = Instant::now();
    let server = standin::StandIn::start("bigquery", &venv_python(), &[TOKEN]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    eprintln!("generating {n} events and loading them into the BigQuery stand-in ...");
    let events = duckdb::Connection::open_in_memory().expect("DuckDB");
    dataset::create(&events, n, 60).expect("generating the events");
    let columns = columns(&events);
    query(&server, "CREATE SCHEMA IF NOT EXISTS atomic");
    query(&server, &create_table(&columns));
    load(
        &server,
        &events,
        &columns,
        root,
        "load_tstamp < '2025-03-02'",
    );
    eprintln!("loaded in {:.0} s", started.elapsed().as_secs_f64());
    let profile = format!(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: bigquery\n      \
         method: oauth-secrets\n      token: '{TOKEN}'\n      project: local\n      \
         dataset: bench\n      location: US\n      api_endpoint: {}\n",
        server.url()
    );
    // the same five projects, run one after another, in a dataset of their own
    let apart = root.join("apart");
    for (name, group_name, key, attributes) in GROUPS {
        let group = group(group_name, key, attributes);
        write_project(root, name, &group, &profile);
        let own = profile.replace("dataset: bench\n", "dataset: bench_apart\n");
        write_project(&apart, name, &group, &own);
    }
    write_workspace_file(root);
    // a group's own read, as `plan` estimates it, is its read of the events plus, after a
    // first run, its stored-event check (every event_id of its filtered_events, which it
    // makes in a workspace too): the events part is the estimate less that check's
    println!(
        "| events | step | shared read, bytes | five groups' own reads, bytes | of which the events table | shared / five's events reads |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    let mut notes = Vec::new();
    let mut billed = Vec::new();
    for (step, now) in STEPS {
        let full = step == "full refresh";
        if !full {
            dataset::append_load_day(&events, n, 60).expect("appending the 61st load day");
            load(
                &server,
                &events,
                &columns,
                root,
                "load_tstamp >= '2025-03-02'",
            );
        }
        let plan: Value = serde_json::from_slice(&sigbatch(
            root,
            now,
            &["plan", "--workspace", ".", "--json"],
            full,
        ))
        .expect("plan --json");
        let reads = plan["shared_reads"].as_array().cloned().unwrap_or_default();
        let shared: u64 = reads.iter().map(|r| bytes(&r["estimated_bytes"])).sum();
        let groups = plan["groups"].as_array().expect("the groups' plans");
        let (mut five, mut five_events) = (0, 0);
        for g in groups {
            let own = bytes(&g["plan"]["estimated_bytes"]);
            let project = g["plan"]["project"].as_str().expect("the group's project");
            let check = if full {
                0
            } else {
                dry_run(
                    &server,
                    &format!("SELECT event_id FROM `bench_derived`.`{project}_filtered_events`"),
                )
            };
            five += own;
            five_events += own - check;
            notes.push(format!(
                "- {step}: {project} alone: {own} bytes, {check} of them its stored-event check"
            ));
        }
        println!(
            "| {n} | {step} | {shared} | {five} | {five_events} | {:.2} |",
            shared as f64 / five_events as f64
        );
        for read in &reads {
            notes.push(format!(
                "- {step}: the shared read covers the events loaded {} .. {} for {} groups",
                read["lower"],
                read["upper"],
                read["groups"].as_array().map_or(0, Vec::len)
            ));
        }
        // the runs: the workspace, then the five projects one after another
        let ran = Instant::now();
        sigbatch(root, now, &["run", "--workspace", "."], full);
        let together = Instant::now() - ran;
        let workspace = read_json(&root.join("target/run_results.json"));
        let mut shared = Bytes::default();
        for read in workspace["shared_reads"].as_array().into_iter().flatten() {
            shared.add(read);
        }
        let (mut own_read, mut rest) = (Bytes::default(), Bytes::default());
        for g in workspace["groups"].as_array().expect("the groups' results") {
            stages(&g["run"], &mut own_read, &mut rest);
        }
        let ran = Instant::now();
        let (mut apart_read, mut apart_rest) = (Bytes::default(), Bytes::default());
        for (name, ..) in GROUPS {
            let dir = apart.join(name);
            sigbatch(&dir, now, &["run", "--project-dir", "."], full);
            let results = read_json(&dir.join("target/run_results.json"));
            stages(&results, &mut apart_read, &mut apart_rest);
        }
        let separately = Instant::now() - ran;
        billed.push((step, shared, own_read, rest, apart_read, apart_rest));
        notes.push(format!(
            "- {step}: the workspace run took {:.0} s, the five projects {:.0} s",
            together.as_secs_f64(),
            separately.as_secs_f64()
        ));
    }
    println!();
    println!(
        "What the runs reported (run_results.json; the stand-in's per-statement estimate, so the \
         same gaps). Processed / billed (billed: BigQuery's 10 MB minimum per table a statement \
         reads, rounded up to a MB). \"reads\": the groups' base_events_this_run stage, which \
         reads the shared read's table in the workspace and the events table when run alone."
    );
    println!();
    println!(
        "| events | step | bytes | workspace: shared read | its groups' reads | its groups' other stages | workspace total | five apart: reads of the events | their other stages | five apart total | workspace / five |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (step, shared, own_read, rest, apart_read, apart_rest) in &billed {
        for (kind, pick) in [
            ("processed", (|b: &Bytes| b.processed) as fn(&Bytes) -> u64),
            ("billed", |b: &Bytes| b.billed),
        ] {
            let together = pick(shared) + pick(own_read) + pick(rest);
            let separately = pick(apart_read) + pick(apart_rest);
            println!(
                "| {n} | {step} | {kind} | {} | {} | {} | {together} | {} | {} | {separately} | {:.2} |",
                pick(shared),
                pick(own_read),
                pick(rest),
                pick(apart_read),
                pick(apart_rest),
                together as f64 / separately as f64
            );
        }
        let unreported = shared.unreported
            + own_read.unreported
            + rest.unreported
            + apart_read.unreported
            + apart_rest.unreported;
        if unreported > 0 {
            notes.push(format!(
                "- {step}: {unreported} stages or shared reads reported no bytes (counted as 0)"
            ));
        }
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    eprintln!(
        "the BigQuery bench took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// Bytes processed and billed, summed over stages or shared reads (`unreported`: how many
/// said `null`).
#[derive(Default, Clone, Copy)]
struct Bytes {
    processed: u64,
    billed: u64,
    unreported: usize,
}

impl Bytes {
    /// Adds an entry of run_results.json with `bytes_processed` and `bytes_billed`.
    fn add(&mut self, entry: &Value) {
        match (
            entry["bytes_processed"].as_u64(),
            entry["bytes_billed"].as_u64(),
        ) {
            (Some(processed), billed) => {
                self.processed += processed;
                self.billed += billed.unwrap_or(0);
            }
            _ => self.unreported += 1,
        }
    }
}

/// Adds the stages of a run's windows (a project's run_results.json, or a group's `run` in a
/// workspace's) to `read` (its base_events_this_run stages) and `rest` (the others).
fn stages(run: &Value, read: &mut Bytes, rest: &mut Bytes) {
    for window in run["windows"].as_array().into_iter().flatten() {
        for stage in window["stages"].as_array().into_iter().flatten() {
            if stage["name"] == "base_events_this_run" {
                read.add(stage);
            } else {
                rest.add(stage);
            }
        }
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text).expect("run_results.json")
}

/// An estimate of `plan --json`; a missing one (the warehouse could not say) fails the bench.
fn bytes(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("no byte estimate where one was expected: {value}"))
}

/// `sigbatch ARGS` in `dir` at `now` (with `--full-refresh` if asked); its stdout. It must
/// succeed.
fn sigbatch(dir: &Path, now: &str, args: &[&str], full_refresh: bool) -> Vec<u8> {
    let mut invocation = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
    invocation
        .current_dir(dir)
        .env("SIGBATCH_NOW", now)
        .args(args)
        .arg("-q");
    if full_refresh {
        invocation.arg("--full-refresh");
    }
    let output = invocation.output().expect("starting sigbatch");
    assert!(
        output.status.success(),
        "sigbatch {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The python of scripts/bigquery-venv.sh's venv (which it creates if it must).
fn venv_python() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bigquery-venv.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("running scripts/bigquery-venv.sh");
    assert!(output.status.success(), "scripts/bigquery-venv.sh failed");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The generated events' columns: (name on BigQuery, BigQuery type, how to select it from
/// the generated table in BigQuery's shape).
fn columns(events: &duckdb::Connection) -> Vec<(String, String, String)> {
    let mut statement = events
        .prepare("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'atomic' AND table_name = 'events' ORDER BY ordinal_position")
        .expect("listing the columns");
    let described: Vec<(String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("listing the columns")
        .map(|row| row.expect("a column"))
        .collect();
    described
        .into_iter()
        .map(|(name, kind)| {
            if let Some((_, fields)) = CONTEXTS.iter().find(|(c, _)| *c == name) {
                let json: Vec<String> = fields
                    .iter()
                    .map(|(key, _, t)| {
                        format!(
                            "\"{key}\": \"{}\"",
                            if *t == "STRING" { "VARCHAR" } else { "DOUBLE" }
                        )
                    })
                    .collect();
                let pack: Vec<String> = fields
                    .iter()
                    .map(|(key, field, _)| format!("{field} := item.\"{key}\""))
                    .collect();
                let record: Vec<String> = fields
                    .iter()
                    .map(|(_, field, t)| format!("{field} {t}"))
                    .collect();
                return (
                    format!("{name}_0_0"),
                    format!("ARRAY<STRUCT<{}>>", record.join(", ")),
                    format!(
                        "COALESCE(list_transform(from_json({name}, '[{{{}}}]'), \
                         lambda item: struct_pack({})), []) AS {name}_0_0",
                        json.join(", "),
                        pack.join(", ")
                    ),
                );
            }
            let kind = match kind.as_str() {
                "VARCHAR" => "STRING",
                "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" => "TIMESTAMP",
                "DOUBLE" | "FLOAT" => "FLOAT64",
                "BOOLEAN" => "BOOL",
                t if t.contains("INT") => "INT64",
                other => panic!("a column of type {other} in the generated events"),
            };
            (name.clone(), kind.to_string(), name)
        })
        .collect()
}

fn create_table(columns: &[(String, String, String)]) -> String {
    let definitions: Vec<String> = columns.iter().map(|(n, t, _)| format!("{n} {t}")).collect();
    format!(
        "CREATE OR REPLACE TABLE atomic.events ({}) PARTITION BY DATE(load_tstamp)",
        definitions.join(", ")
    )
}

/// A load job's schema for `columns`.
fn schema(columns: &[(String, String, String)]) -> Value {
    let fields: Vec<Value> = columns
        .iter()
        .map(|(name, kind, _)| match kind.strip_prefix("ARRAY<STRUCT<") {
            Some(record) => {
                let fields: Vec<Value> = record
                    .trim_end_matches(">>")
                    .split(", ")
                    .map(|f| {
                        let (field, t) = f.split_once(' ').expect("a field and its type");
                        json!({"name": field, "type": t, "mode": "NULLABLE"})
                    })
                    .collect();
                json!({"name": name, "type": "RECORD", "mode": "REPEATED", "fields": fields})
            }
            None => json!({"name": name, "type": kind, "mode": "NULLABLE"}),
        })
        .collect();
    json!({ "fields": fields })
}

/// Loads the generated events `where` holds into `atomic.events`, as newline-delimited JSON
/// through a load job (the stand-in reads the file where the bench wrote it).
fn load(
    server: &standin::StandIn,
    events: &duckdb::Connection,
    columns: &[(String, String, String)],
    dir: &Path,
    condition: &str,
) {
    let file = dir.join("events.json");
    let selects: Vec<&str> = columns
        .iter()
        .map(|(_, _, select)| select.as_str())
        .collect();
    events
        .execute_batch(&format!(
            "COPY (SELECT {} FROM atomic.events WHERE {condition}) TO '{}' (FORMAT JSON)",
            selects.join(", "),
            file.display()
        ))
        .expect("writing the events as JSON");
    let job = format!("bench_load_{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "jobReference": {"projectId": "local", "jobId": job},
        "configuration": {"load": {
            "sourceUris": [format!("file://{}", file.display())],
            "sourceFormat": "NEWLINE_DELIMITED_JSON",
            "destinationTable": {"projectId": "local", "datasetId": "atomic", "tableId": "events"},
            "writeDisposition": "WRITE_APPEND",
            "schema": schema(columns),
        }},
    });
    request(server, "jobs", Some(&body));
    loop {
        let state = request(server, &format!("jobs/{job}?location=US"), None);
        if state["status"]["state"] == "DONE" {
            let error = &state["status"]["errorResult"];
            assert!(error.is_null(), "loading the events failed: {error}");
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::fs::remove_file(file).expect("removing the JSON");
}

/// The bytes the stand-in's dry run of `sql` estimates.
fn dry_run(server: &standin::StandIn, sql: &str) -> u64 {
    let body =
        json!({"configuration": {"dryRun": true, "query": {"query": sql, "useLegacySql": false}}});
    let answer = request(server, "jobs", Some(&body));
    let processed = &answer["statistics"]["totalBytesProcessed"];
    processed
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("{sql}: no estimate in {answer}"))
}

/// Runs `sql` (a statement without rows) on the stand-in.
fn query(server: &standin::StandIn, sql: &str) {
    let answer = request(
        server,
        "queries",
        Some(&json!({"query": sql, "useLegacySql": false, "timeoutMs": 600_000})),
    );
    assert!(answer["jobComplete"] == true, "{sql}: {answer}");
}

/// A REST call under /bigquery/v2/projects/local/: a POST of `body`, else a GET.
fn request(server: &standin::StandIn, path: &str, body: Option<&Value>) -> Value {
    let url = format!("{}/bigquery/v2/projects/local/{path}", server.url());
    let authorization = format!("Bearer {TOKEN}");
    let answer = match body {
        Some(body) => ureq::post(&url)
            .header("Authorization", &authorization)
            .header("Content-Type", "application/json")
            .send(body.to_string()),
        None => ureq::get(&url)
            .header("Authorization", &authorization)
            .call(),
    };
    let text = answer
        .and_then(|mut answer| answer.body_mut().read_to_string())
        .unwrap_or_else(|error| {
            let log = std::fs::read_to_string(server.log()).unwrap_or_default();
            panic!("{path}: {error}; the stand-in's stderr:\n{log}")
        });
    serde_json::from_str(&text).expect("a JSON answer")
}
