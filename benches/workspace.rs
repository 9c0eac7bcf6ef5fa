//! What a workspace of five groups costs next to running their five projects one after another
//! (issue 25): `cargo bench --bench workspace` (or `-- <events>`, 1M by default) builds in
//! release, generates the pipeline bench's events (`pipeline/dataset.rs`) into two identical
//! DuckDB files, and on five groups of different keys and attributes (the fixture's 22-attribute
//! group by `domain_userid`, and four groups of the demo's attributes that the bench's columns
//! hold, keyed by `domain_userid`, `domain_sessionid` and `network_userid`) times, with the real
//! binary in a process of its own:
//!
//! - the full refresh over the 60 load days, the +1 load day (N/60 events appended on the 61st),
//!   and a run with no new events;
//! - each as one workspace run (`sigbatch run --workspace`) on one file, and as the five projects
//!   run one after another on the other, and the fixture's group alone (its time among the five).
//!
//! It prints a Markdown table with the workspace's and the five runs' ratios to the one group's
//! time, and the shared reads the workspace made (from its run_results.json). Two more columns
//! bound what any workspace that keeps each group's own aggregation could reach here:
//!
//! - the groups' own work: from the workspace's run_results.json, every group's stages and
//!   commits except `base_events_this_run` (the read of the events, which a shared read
//!   replaces), summed: what is left if reading the events cost nothing;
//! - the five runs two at a time: each project on a DuckDB file of its own (a third copy of the
//!   events per project), two processes at once, as a workspace running two groups concurrently
//!   would at best on this machine.
//!
//! It checks that the first two files end with the same attributes tables, and never fails on a
//! number. With
//! `SIGBATCH_BENCH_KEEP=<dir>`, a copy of the workspace's database as its +1 load day run finds it
//! is left there (`workspace-plus-day.duckdb`).
//!
//! `-- --bigquery` (after `scripts/bigquery-venv.sh`, as CI runs it) measures instead what
//! BigQuery would bill: it starts the BigQuery stand-in (tests/standins/bigquery/serve.py, whose
//! dry runs estimate the bytes of the columns a query reads over the partitions it keeps), loads
//! the same generator's events in BigQuery's layout (contexts as REPEATED RECORD, `revenue`
//! NUMERIC, partitioned by the day of `load_tstamp`; 1M as above unless `-- --bigquery <events>`
//! says otherwise; about 5 minutes at 1M, most of it the workspace's full refresh), and for the
//! full refresh and the +1 load day prints the bytes
//! `plan --json` estimates for the workspace's shared read against the sum of the five groups'
//! own estimates (each group's read were it run alone), the part of that sum that reads the
//! events table (a group's estimate less its stored-event check, which it makes in a workspace
//! too), and the ratio of the shared read to that part. The workspace's full refresh runs on the
//! stand-in between the two, so that the +1 load day is planned from its state. Then it runs each
//! step as the workspace and as the five projects one after another (their own dataset,
//! `bench_apart`, over the same events table) and prints the bytes their run_results.json report
//! (the stand-in's jobs report the same estimate per statement, and BigQuery's 10 MB minimum per
//! table read as billed): the workspace's shared read, its groups' reads of the shared table and
//! their other stages, against the five runs' reads of the events and their other stages.

#[path = "pipeline/dataset.rs"]
mod dataset;
// the tests' way of starting a stand-in (the bench uses only some of it)
#[path = "workspace/bigquery.rs"]
mod bigquery;
#[allow(dead_code)]
#[path = "../tests/common/standin.rs"]
mod standin;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;

const FIXTURE_GROUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/upstream-0.4/attribute_group.snowflake.json"
);

/// (directory, group name, key, which of the demo's attributes; none: the fixture's group)
const GROUPS: [(&str, &str, &str, Option<&[&str]>); 5] = [
    ("fixture", "", "domain_userid", None),
    (
        "users",
        "bench_users",
        "domain_userid",
        Some(&[
            "page_views_last_7_days",
            "pricing_page_views_last_7_days",
            "de_fr_page_views",
            "first_mkt_source",
            "last_geo_country",
            "countries",
            "active_days",
            "most_viewed_page",
            "page_views_by_weekday",
            "hours_since_first_visit",
        ]),
    ),
    (
        "sessions",
        "bench_sessions",
        "domain_sessionid",
        Some(&[
            "page_views_last_7_days",
            "first_refr_source",
            "last_operating_system",
            "distinct_pages_viewed",
            "operating_systems_last_7_days",
        ]),
    ),
    (
        "networks",
        "bench_networks",
        "network_userid",
        Some(&[
            "page_views_last_7_days",
            "min_order_value",
            "max_order_value_last_7_days",
            "mean_order_value",
            "countries",
        ]),
    ),
    (
        "buyers",
        "bench_buyers",
        "domain_userid",
        Some(&[
            "min_order_value",
            "max_order_value_last_7_days",
            "mean_order_value",
            "rarest_operating_system_last_7_days",
            "first_mkt_source",
        ]),
    ),
];

const STEPS: [(&str, &str); 3] = [
    ("full refresh", "2025-03-02 01:00:00"),
    ("+1 load day", "2025-03-03 01:00:00"),
    ("no new events", "2025-03-03 01:00:00"),
];

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .next()
        .unwrap_or(1_000_000);
    if std::env::args().any(|a| a == "--bigquery") {
        return bigquery::bench(n);
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let (together, apart) = (dir.path().join("together"), dir.path().join("apart"));
    let paired = dir.path().join("paired");
    eprintln!("generating {n} events ...");
    for root in [&together, &apart, &paired] {
        std::fs::create_dir_all(root).expect("a directory");
        let database = root.join("events.duckdb");
        dataset::create(&open(&database), n, 60).expect("generating the events");
        for (name, group_name, key, attributes) in GROUPS {
            let group = group(group_name, key, attributes);
            if root == &paired {
                let own = own_database(&paired, name);
                std::fs::copy(&database, &own).expect("copying the events");
                write_project(root, name, &group, &duckdb_profile(&own));
            } else {
                write_project(root, name, &group, &duckdb_profile(&database));
            }
        }
        write_workspace_file(root);
    }
    println!(
        "| events | step | workspace s | five runs s | fixture group alone s | workspace / one group | five runs / one group | groups' own work / one group | five runs two at a time / one group |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut notes = Vec::new();
    for (step, now) in STEPS {
        if step == "+1 load day" {
            let paired_files = GROUPS.map(|(name, ..)| own_database(&paired, name));
            for database in [together.join("events.duckdb"), apart.join("events.duckdb")]
                .iter()
                .chain(&paired_files)
            {
                dataset::append_load_day(&open(database), n, 60)
                    .expect("appending the 61st load day");
            }
            if let Some(keep) = std::env::var_os("SIGBATCH_BENCH_KEEP") {
                // for profiling the +1 load day on its own
                let copy = Path::new(&keep).join("workspace-plus-day.duckdb");
                std::fs::copy(together.join("events.duckdb"), copy).expect("keeping a copy");
            }
        }
        let full = step == "full refresh";
        let workspace = time(&together, now, &["--workspace", "."], full);
        let mut alone = Vec::new();
        for (name, ..) in GROUPS {
            alone.push(time(&apart, now, &["--project-dir", name], full));
        }
        let five: f64 = alone.iter().sum();
        let two_at_a_time = two_at_a_time(&paired, now, full);
        let results: Value = serde_json::from_str(
            &std::fs::read_to_string(together.join("target/run_results.json"))
                .expect("the workspace's run_results.json"),
        )
        .expect("JSON");
        println!(
            "| {n} | {step} | {workspace:.2} | {five:.2} | {:.2} | {:.2}x | {:.2}x | {:.2}x | {:.2}x |",
            alone[0],
            workspace / alone[0],
            five / alone[0],
            own_work(&results) / alone[0],
            two_at_a_time / alone[0],
        );
        for read in results["shared_reads"].as_array().into_iter().flatten() {
            notes.push(format!(
                "- {step}: one shared read of {} events ({} .. {}) for {} groups in {:.2} s",
                read["events"],
                read["lower"],
                read["upper"],
                read["groups"].as_array().map_or(0, Vec::len),
                read["duration_seconds"].as_f64().unwrap_or_default()
            ));
        }
        assert_same_attributes(&together, &apart);
    }
    println!();
    for note in notes {
        println!("{note}");
    }
}

/// `<root>/sigbatch_workspace.yml` listing the five projects, with the shared read on.
fn write_workspace_file(root: &Path) {
    let list: Vec<String> = GROUPS.iter().map(|g| format!("  - {}\n", g.0)).collect();
    std::fs::write(
        root.join("sigbatch_workspace.yml"),
        format!("projects:\n{}shared_read: true\n", list.concat()),
    )
    .expect("writing the workspace file");
}

/// Where project `name` of the paired root keeps its own copy of the events.
fn own_database(paired: &Path, name: &str) -> PathBuf {
    paired.join(format!("{name}.duckdb"))
}

/// The wall time of the paired root's five projects run by two workers, each taking the next
/// project when its last one ends.
fn two_at_a_time(paired: &Path, now: &str, full_refresh: bool) -> f64 {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some((name, ..)) = GROUPS.get(next.fetch_add(1, Ordering::SeqCst)) {
                    time(paired, now, &["--project-dir", name], full_refresh);
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

/// The seconds a workspace's groups spent on everything but reading the events: their stages
/// other than `base_events_this_run`, and their commits (opening and closing aside, so at least
/// this much; none where no window ran).
fn own_work(results: &Value) -> f64 {
    let seconds = |value: &Value| value.as_f64().unwrap_or_default();
    let windows = results["groups"]
        .as_array()
        .expect("the workspace's groups")
        .iter()
        .flat_map(|group| group["run"]["windows"].as_array().into_iter().flatten());
    windows
        .map(|window| {
            let stages = window["stages"].as_array().into_iter().flatten();
            seconds(&window["commit_seconds"])
                + stages
                    .filter(|stage| stage["name"] != "base_events_this_run")
                    .map(|stage| seconds(&stage["duration_seconds"]))
                    .sum::<f64>()
        })
        .fold(0.0, |total, window| total + window)
}

/// One invocation's wall time in seconds; it must succeed.
fn time(root: &Path, now: &str, scope: &[&str], full_refresh: bool) -> f64 {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
    command
        .current_dir(root)
        .env("SIGBATCH_NOW", now)
        .arg("run")
        .args(scope);
    if full_refresh {
        command.arg("--full-refresh");
    }
    let started = Instant::now();
    let output = command.output().expect("starting sigbatch");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "sigbatch run {scope:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    seconds
}

/// The fixture's group, or the demo's `attributes` as group `name` keyed by `key`.
fn group(name: &str, key: &str, attributes: Option<&[&str]>) -> String {
    let Some(attributes) = attributes else {
        return std::fs::read_to_string(FIXTURE_GROUP).expect("the fixture's group");
    };
    let mut group: Value =
        serde_json::from_str(sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON).expect("the demo group");
    group["name"] = name.into();
    group["attribute_key_or_name"] = key.into();
    group["attribute_key"]["name"] = key.into();
    group["attributes"]
        .as_array_mut()
        .expect("attributes")
        .retain(|a| attributes.contains(&a["name"].as_str().unwrap_or_default()));
    group.to_string()
}

/// Project `name` under `root`: its group `group` and its `profiles.yml`, `profile`.
fn write_project(root: &Path, name: &str, group: &str, profile: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("a project dir");
    std::fs::write(dir.join("attribute_group.json"), group).expect("writing the group");
    std::fs::write(
        dir.join("sigbatch.yml"),
        "attribute_group: attribute_group.json\nsemantics: exact\nprofile: bench\nvars:\n  \
         snowplow__start_date: '2025-01-01'\n  snowplow__backfill_limit_days: 100\n  \
         snowplow__late_event_lookback_days: 5\n",
    )
    .expect("writing sigbatch.yml");
    std::fs::write(dir.join("profiles.yml"), profile).expect("writing profiles.yml");
    dir
}

/// A `profiles.yml` on the DuckDB file `database`.
fn duckdb_profile(database: &Path) -> String {
    format!(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{}'\n",
        database.display()
    )
}

/// Both files' attributes tables hold the same rows (`updated_at` aside; doubles equal to 1e-9,
/// relative).
fn assert_same_attributes(together: &Path, apart: &Path) {
    let connection = open(&together.join("events.duckdb"));
    connection
        .execute_batch(&format!(
            "ATTACH '{}' AS apart (READ_ONLY)",
            apart.join("events.duckdb").display()
        ))
        .expect("attaching");
    let tables: Vec<String> = {
        let mut statement = connection
            .prepare(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_catalog = 'events' AND table_name LIKE '%\\_attributes' ESCAPE '\\'",
            )
            .expect("listing");
        statement
            .query_map([], |row| row.get(0))
            .expect("listing")
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(tables.len(), GROUPS.len(), "{tables:?}");
    for table in tables {
        let columns: Vec<(String, String)> = {
            let mut statement = connection
                .prepare(
                    "SELECT column_name, data_type FROM information_schema.columns \
                     WHERE table_catalog = 'events' AND table_name = ? ORDER BY ordinal_position",
                )
                .expect("listing columns");
            statement
                .query_map([&table], |row| Ok((row.get(0)?, row.get(1)?)))
                .expect("listing columns")
                .map(Result::unwrap)
                .collect()
        };
        let key = &columns[0].0;
        // sums and means of doubles differ in their last bits with the order of addition
        let same: Vec<String> = columns[1..]
            .iter()
            .filter(|(name, _)| name != "updated_at")
            .map(|(name, kind)| match kind.as_str() {
                "DOUBLE" => format!(
                    "COALESCE(a.{name} IS NOT DISTINCT FROM b.{name} \
                     OR abs(a.{name} - b.{name}) <= 1e-9 * greatest(abs(a.{name}), 1), FALSE)"
                ),
                _ => format!("a.{name} IS NOT DISTINCT FROM b.{name}"),
            })
            .collect();
        let differing: Option<String> = connection
            .query_row(
                &format!(
                    "SELECT CAST(COALESCE(a.{key}, b.{key}) AS VARCHAR) FROM main_derived.{table} AS a \
                     FULL JOIN apart.main_derived.{table} AS b ON a.{key} = b.{key} \
                     WHERE a.{key} IS NULL OR b.{key} IS NULL OR NOT ({}) LIMIT 1",
                    same.join(" AND ")
                ),
                [],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|error| match error {
                duckdb::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .expect("comparing");
        if let Some(key_value) = differing {
            panic!("{table}: the workspace's row of `{key_value}` differs from the separate runs'");
        }
    }
}

fn open(database: &Path) -> duckdb::Connection {
    duckdb::Connection::open(database).expect("opening the database")
}
