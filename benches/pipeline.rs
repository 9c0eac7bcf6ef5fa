//! What sigbatch's incremental runs cost next to the one-scan, from-scratch query, at 1M and 5M
//! events (issue 6's targets).
//!
//! `cargo bench --bench pipeline` (or `cargo bench --bench pipeline -- 1000000` for chosen sizes)
//! builds in release and, per size N: generates N events over 60 load days into `atomic.events`
//! of a DuckDB file in a temp dir (seeded, in SQL, see `pipeline/dataset.rs`), then on the
//! fixture's 22-attribute group in exact mode times
//!
//! - the full refresh over the 60 days (today 2025-03-02),
//! - +1 load day: N/60 events loaded on 2025-03-02 are appended, then an incremental run,
//! - DuckDB's floor under that run: on a copy of the database as it found it, the events it
//!   stored are appended and the daily and attribute rows it changed replaced, committed, and the
//!   database closed (`step::floor`), which any design keeping semantics.md's stored tables in
//!   DuckDB must at least do,
//! - the same run again with no new events, and once more with only today moved (2025-03-04),
//!
//! and beside each the one-scan query (`sigbatch::render::one_scan_sql`: daily partials per key
//! and day from one scan of the events, folded per key) as `CREATE TABLE AS`. At the smallest
//! size compat mode's full refresh and +1 load day are timed too, and so are those of a group of
//! the current Signals model (`tests/fixtures/current-model`'s attributes over the same key,
//! `domain_userid`: value counts, date parts, calculated properties, time since) with its DuckDB
//! floor (its daily and lifetime value counts written too), and the same group without its
//! counted outputs (most/least frequent, category_count, approx_count_distinct) with its floor,
//! and then all three groups' +1 load day on two more load days (2025-03-03 and 03-04): the
//! median of the three days is what issue 23's target compares, since one day's run may happen
//! to rewrite a whole row group at DuckDB's checkpoint (the median rows show the 61st day's
//! one-scan). The group without counted outputs, plus what those add to the floor, bounds what
//! the counted outputs may cost within the target; at the largest,
//! the full refresh on a fresh copy with `memory_limit: 1GB` and 2 threads. Every step runs in a child
//! process of its own (`pipeline/step.rs`) for its peak RSS. It prints a Markdown table and each
//! figure against its target; it never fails on a number, only when a run errors. With
//! `SIGBATCH_BENCH_KEEP=<dir>`, a copy of each size's database as the +1 load day run finds it is
//! left in that directory (`plus-day-<N>.duckdb`, and `plus-day-current-<N>.duckdb` and
//! `plus-day-uncounted-<N>.duckdb` as the current model's runs find it), for profiling that run
//! on its own.
//!
//! `-- --scale` runs the cost curve to 25M events under a memory limit instead (`pipeline/scale.rs`).

#[path = "pipeline/dataset.rs"]
mod dataset;
#[path = "pipeline/scale.rs"]
mod scale;
#[path = "pipeline/step.rs"]
mod step;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use step::Measure;

const GROUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/upstream-0.4/attribute_group.snowflake.json"
);

const FULL: &str = "full refresh";
const PLUS_DAY: &str = "+1 load day";
const PLUS_DAY_FLOOR: &str = "+1 load day, DuckDB floor";
const NO_NEW: &str = "no new events";
const TODAY_MOVED: &str = "only today moved";
const COMPAT_FULL: &str = "full refresh, compat";
const COMPAT_PLUS_DAY: &str = "+1 load day, compat";
const LIMITED: &str = "full refresh, memory_limit 1GB, threads 2";
const CURRENT_FULL: &str = "full refresh, current model";
const CURRENT_PLUS_DAY: &str = "+1 load day, current model";
const CURRENT_PLUS_DAY_FLOOR: &str = "+1 load day, current model, DuckDB floor";
const PLUS_DAYS: &str = "+1 load day, median of 3 days";
const CURRENT_PLUS_DAYS: &str = "+1 load day, current model, median of 3 days";
const UNCOUNTED_FULL: &str = "full refresh, current model without counted outputs";
const UNCOUNTED_PLUS_DAY: &str = "+1 load day, current model without counted outputs";
const UNCOUNTED_PLUS_DAY_FLOOR: &str =
    "+1 load day, current model without counted outputs, DuckDB floor";
const UNCOUNTED_PLUS_DAYS: &str =
    "+1 load day, current model without counted outputs, median of 3 days";
const CURRENT_PLUS_DAYS_FLOOR: &str = "+1 load day, current model, DuckDB floor, median of 3 days";
const UNCOUNTED_PLUS_DAYS_FLOOR: &str =
    "+1 load day, current model without counted outputs, DuckDB floor, median of 3 days";
/// The aggregations that count values (the current model's "counted outputs").
const COUNTED: [&str; 4] = [
    "most_frequent",
    "least_frequent",
    "category_count",
    "approx_count_distinct",
];
/// Load days the +1 load day medians take (the 61st and the next ones).
const LATER_DAYS: u64 = 3;
/// The current model's attributes (tests/fixtures/current-model), keyed by `domain_userid` as the
/// fixture's group is, with no backfill start: the same events read for another group.
const CURRENT_GROUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/current-model/attribute_group.json"
);

const ATTRIBUTES: &str = "main_derived.ecommerce_transaction_interactions_features_1_attributes";
const FLOOR_TABLES: step::FloorTables<'static> = step::FloorTables {
    filtered_events: "main_derived.ecommerce_transaction_interactions_features_1_filtered_events",
    daily_aggregates: "main_derived.ecommerce_transaction_interactions_features_1_daily_aggregates",
    attributes: ATTRIBUTES,
    value_counts: None,
    lifetime_value_counts: None,
    moving: &[],
};
/// The current model's: its daily and lifetime value counts too.
const CURRENT_FLOOR_TABLES: step::FloorTables<'static> = step::FloorTables {
    filtered_events: "main_derived.current_model_1_filtered_events",
    daily_aggregates: "main_derived.current_model_1_daily_aggregates",
    attributes: "main_derived.current_model_1_attributes",
    value_counts: Some("main_snowplow_manifest.current_model_1_sigbatch_value_counts"),
    lifetime_value_counts: Some(
        "main_snowplow_manifest.current_model_1_sigbatch_lifetime_value_counts",
    ),
    moving: &["minutes_since_last_event", "days_since_first_purchase"],
};
/// The current model's without its counted outputs (no value counts).
const UNCOUNTED_FLOOR_TABLES: step::FloorTables<'static> = step::FloorTables {
    filtered_events: "main_derived.uncounted_1_filtered_events",
    daily_aggregates: "main_derived.uncounted_1_daily_aggregates",
    attributes: "main_derived.uncounted_1_attributes",
    value_counts: None,
    lifetime_value_counts: None,
    moving: &["minutes_since_last_event", "days_since_first_purchase"],
};

struct Row {
    events: u64,
    step: &'static str,
    sigbatch: Measure,
    one_scan: Measure,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--step") {
        return step::child(&args[1..]);
    }
    // `cargo bench` passes `--bench`; plain numbers choose the sizes
    let mut sizes: Vec<u64> = args
        .iter()
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    if args.iter().any(|a| a == "--scale") {
        return scale::main(sizes);
    }
    if sizes.is_empty() {
        sizes = vec![1_000_000, 5_000_000];
    }
    let (smallest, largest) = (sizes.iter().min().copied(), sizes.iter().max().copied());
    println!(
        "| events | step | sigbatch s | one-scan s | ratio | sigbatch peak RSS MiB | one-scan peak RSS MiB |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &n in &sizes {
        bench(
            n,
            Some(n) == smallest,
            Some(n) == largest,
            &mut rows,
            &mut notes,
        );
    }
    println!();
    for note in notes.iter().chain(&targets(&rows)) {
        println!("{note}");
    }
}

fn day(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, month, day).expect("a day")
}

/// All steps at one size, in order on one database; rows are printed as they finish.
fn bench(n: u64, compat: bool, limited: bool, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database = dir.path().join("bench.duckdb");
    eprintln!("generating {} events ...", thousands(n));
    let started = Instant::now();
    dataset::create(&open(&database), n, 60).expect("generating the events");
    let generated = started.elapsed().as_secs_f64();
    let size_mib = std::fs::metadata(&database).map_or(0, |m| m.len()) as f64 / 1_048_576.0;
    let exact = write_project(dir.path(), "exact", &database, "");
    let current = compat.then(|| write_project(dir.path(), "current", &database, ""));
    let uncounted = compat.then(|| write_project(dir.path(), "uncounted", &database, ""));
    let compat =
        compat.then(|| write_project(dir.path(), "compat", &database, "      schema: compat\n"));
    let limited = limited.then(|| {
        let copy = dir.path().join("limited.duckdb");
        std::fs::copy(&database, &copy).expect("copying the database");
        let spill = dir.path().join("spill");
        let settings = format!(
            "      threads: 2\n      settings:\n        memory_limit: 1GB\n        temp_directory: '{}'\n",
            spill.display()
        );
        write_project(dir.path(), "limited", &copy, &settings)
    });
    let mut emit = |step, sigbatch: Measure, one_scan: Measure| {
        let row = Row {
            events: n,
            step,
            sigbatch,
            one_scan,
        };
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2}x | {:.0} | {:.0} |",
            thousands(row.events),
            row.step,
            row.sigbatch.seconds,
            row.one_scan.seconds,
            row.sigbatch.seconds / row.one_scan.seconds,
            row.sigbatch.peak_rss_mib,
            row.one_scan.peak_rss_mib
        );
        rows.push(row);
    };

    let scan = step::one_scan(&exact, day(3, 2));
    emit(FULL, step::run(&exact, day(3, 1), day(3, 2), true), scan);
    assert_same_table(&database, FULL);
    if let Some(project) = &compat {
        emit(
            COMPAT_FULL,
            step::run(project, day(3, 1), day(3, 2), true),
            scan,
        );
    }
    for (project, step_name) in [(&current, CURRENT_FULL), (&uncounted, UNCOUNTED_FULL)] {
        if let Some(project) = project {
            emit(
                step_name,
                step::run(project, day(3, 1), day(3, 2), true),
                step::one_scan(project, day(3, 2)),
            );
        }
    }
    if let Some(project) = &limited {
        emit(
            LIMITED,
            step::run(project, day(3, 1), day(3, 2), true),
            scan,
        );
    }

    let started = Instant::now();
    dataset::append_load_day(&open(&database), n, 60).expect("appending the 61st load day");
    let appended = started.elapsed().as_secs_f64();
    let count = |database: &Path, query: &str| -> u64 {
        let rows: i64 = open(database)
            .query_row(query, [], |row| row.get(0))
            .expect("counting rows");
        rows as u64
    };
    let events = format!("SELECT COUNT(*) FROM {}", FLOOR_TABLES.filtered_events);
    let events_before = count(&database, &events);
    let before = synced_copy(&database, &dir.path().join("floor.duckdb"));
    keep_copy(&before, &format!("plus-day-{n}.duckdb"));
    let scan = step::one_scan(&exact, day(3, 3));
    let fixture_first = step::run(&exact, day(3, 2), day(3, 3), false);
    emit(PLUS_DAY, fixture_first, scan);
    let plus_day_scan = scan;
    assert_same_table(&database, PLUS_DAY);
    let new_events = count(&database, &events) - events_before;
    let changed_attributes = count(
        &database,
        &format!(
            "SELECT COUNT(*) FROM {ATTRIBUTES} WHERE updated_at = (SELECT MAX(updated_at) FROM {ATTRIBUTES})"
        ),
    );
    emit(
        PLUS_DAY_FLOOR,
        floor_of_run(&before, &database, &FLOOR_TABLES),
        scan,
    );
    notes.push(format!(
        "{} events, {PLUS_DAY_FLOOR}: open the database as the +1 load day run found it, append \
         the {} events that run stored, replace the daily rows and the {} attribute rows it \
         changed, commit, close (DuckDB's checkpoint): what any design that keeps semantics.md's \
         stored tables in DuckDB writes at least, without reading or computing anything.",
        thousands(n),
        thousands(new_events),
        thousands(changed_attributes)
    ));
    if let Some(project) = &compat {
        emit(
            COMPAT_PLUS_DAY,
            step::run(project, day(3, 2), day(3, 3), false),
            scan,
        );
    }
    // the current model's +1 load day, then the same group's without its counted outputs: what
    // the rest of the group costs (issue 23's bound, `targets`)
    let mut models = Vec::new();
    for (project, name, steps, tables) in [
        (
            &current,
            "current",
            [CURRENT_PLUS_DAY, CURRENT_PLUS_DAY_FLOOR],
            &CURRENT_FLOOR_TABLES,
        ),
        (
            &uncounted,
            "uncounted",
            [UNCOUNTED_PLUS_DAY, UNCOUNTED_PLUS_DAY_FLOOR],
            &UNCOUNTED_FLOOR_TABLES,
        ),
    ] {
        let Some(project) = project else { continue };
        let before = synced_copy(&database, &dir.path().join("floor-model.duckdb"));
        keep_copy(&before, &format!("plus-day-{name}-{n}.duckdb"));
        let (run, project_scan) = (
            step::run(project, day(3, 2), day(3, 3), false),
            step::one_scan(project, day(3, 3)),
        );
        emit(steps[0], run, project_scan);
        let floor = floor_of_run(&before, &database, tables);
        emit(steps[1], floor, project_scan);
        models.push((
            LoadDays {
                project,
                floor_tables: Some(tables),
                runs: vec![run],
                floors: vec![floor],
            },
            project_scan,
        ));
    }
    emit(NO_NEW, step::run(&exact, day(3, 2), day(3, 3), false), scan);
    let scan = step::one_scan(&exact, day(3, 4));
    emit(
        TODAY_MOVED,
        step::run(&exact, day(3, 2), day(3, 4), false),
        scan,
    );
    assert_same_table(&database, TODAY_MOVED);
    if let [(current, current_scan), (uncounted, uncounted_scan)] = &mut models[..] {
        // one load day's run is at the mercy of DuckDB's checkpoint: where the table's last row
        // groups lie, it may rewrite a whole row group of the events (benchmarks.md)
        let mut fixture = LoadDays {
            project: &exact,
            floor_tables: None,
            runs: vec![fixture_first],
            floors: Vec::new(),
        };
        later_load_days(
            &database,
            n,
            dir.path(),
            &mut [&mut fixture, &mut *current, &mut *uncounted],
        );
        emit(PLUS_DAYS, median(&fixture.runs), plus_day_scan);
        for (days, scan, steps) in [
            (
                &*current,
                *current_scan,
                [CURRENT_PLUS_DAYS, CURRENT_PLUS_DAYS_FLOOR],
            ),
            (
                &*uncounted,
                *uncounted_scan,
                [UNCOUNTED_PLUS_DAYS, UNCOUNTED_PLUS_DAYS_FLOOR],
            ),
        ] {
            emit(steps[0], median(&days.runs), scan);
            emit(steps[1], median(&days.floors), scan);
        }
        let seconds = |runs: &[Measure]| {
            runs.iter()
                .map(|run| format!("{:.2}", run.seconds))
                .collect::<Vec<_>>()
                .join(", ")
        };
        notes.push(format!(
            "{} events, +1 load day on {LATER_DAYS} load days in a row: the fixture's group {} s; \
             the current model's {} s (its floor {} s); without its counted outputs {} s (its \
             floor {} s).",
            thousands(n),
            seconds(&fixture.runs),
            seconds(&current.runs),
            seconds(&current.floors),
            seconds(&uncounted.runs),
            seconds(&uncounted.floors)
        ));
    }

    notes.push(format!(
        "{} events: generated in {generated:.1} s ({size_mib:.0} MiB database, {} users), \
         the 61st load day's {} events appended in {appended:.1} s.",
        thousands(n),
        thousands((n / 10).max(1)),
        thousands(n / 60)
    ));
}

/// One group's +1 load days: its runs and, where it has floor tables, the floor under each.
struct LoadDays<'a> {
    project: &'a Path,
    floor_tables: Option<&'a step::FloorTables<'a>>,
    runs: Vec<Measure>,
    floors: Vec<Measure>,
}

/// Each group's +1 load day (and floor) on the load days after the 61st, up to [`LATER_DAYS`] in
/// all: each day appended, then the groups run up to it in the order given. After the other
/// steps, so they find the tables those left.
fn later_load_days(database: &Path, n: u64, dir: &Path, groups: &mut [&mut LoadDays<'_>]) {
    for later in 2..=LATER_DAYS {
        dataset::append_later_load_day(&open(database), n, 60, later)
            .expect("appending a later load day");
        // the load day ends on March `later + 1`, and the next day is "today"
        let (until, today) = (day(3, later as u32 + 1), day(3, later as u32 + 2));
        for group in groups.iter_mut() {
            let before = group
                .floor_tables
                .map(|_| synced_copy(database, &dir.join("floor-later.duckdb")));
            group
                .runs
                .push(step::run(group.project, until, today, false));
            if let (Some(before), Some(tables)) = (before, group.floor_tables) {
                group.floors.push(floor_of_run(&before, database, tables));
            }
        }
    }
}

/// The run of median time among `runs` (an odd number of them).
fn median(runs: &[Measure]) -> Measure {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    sorted[sorted.len() / 2]
}

/// The exact run's attributes table and the one-scan table of the same step hold the same rows
/// (the revenue sum aside, whose last bits depend on the order of addition).
fn assert_same_table(database: &Path, step: &str) {
    let differing = |left: &str, right: &str| -> i64 {
        open(database)
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM (SELECT * EXCLUDE (total_revenue_last_7_days) FROM {left} \
                     EXCEPT ALL SELECT * EXCLUDE (total_revenue_last_7_days) FROM {right})"
                ),
                [],
                |row| row.get(0),
            )
            .expect("comparing the tables")
    };
    let engine = format!("(SELECT * EXCLUDE (updated_at) FROM {ATTRIBUTES})");
    let (missing, extra) = (
        differing("one_scan", &engine),
        differing(&engine, "one_scan"),
    );
    assert!(
        missing == 0 && extra == 0,
        "{step}: the attributes table differs from the one-scan table ({missing} rows missing, {extra} extra)"
    );
}

/// The floor step on `before` (then removed) for the run that left `after`, checked to have
/// written exactly the run's rows.
fn floor_of_run(before: &Path, after: &Path, tables: &step::FloorTables<'_>) -> Measure {
    let floor = step::floor(before, after, tables);
    assert_floor_wrote_the_run(before, after, tables);
    std::fs::remove_file(before).expect("removing the copy");
    floor
}

/// After the floor step, its copy's stored tables hold the same rows as the run's: it wrote
/// neither less nor more than the run changed.
fn assert_floor_wrote_the_run(floor: &Path, run: &Path, tables: &step::FloorTables<'_>) {
    let connection = open(floor);
    connection
        .execute_batch(&format!("ATTACH '{}' AS run (READ_ONLY)", run.display()))
        .expect("attaching the run's database");
    for table in tables.all() {
        assert_eq!(
            rows_differing(
                &connection,
                &format!("FROM {table}"),
                &format!("FROM run.{table}")
            ),
            0,
            "the floor step's {table} differs from the run's"
        );
    }
}

/// The rows one query gives that the other does not, counted both ways (as multisets).
fn rows_differing(connection: &duckdb::Connection, left: &str, right: &str) -> i64 {
    connection
        .query_row(
            &format!(
                "SELECT (SELECT COUNT(*) FROM ({left} EXCEPT ALL {right})) \
                      + (SELECT COUNT(*) FROM ({right} EXCEPT ALL {left}))"
            ),
            [],
            |row| row.get(0),
        )
        .expect("comparing two tables")
}

fn open(database: &Path) -> duckdb::Connection {
    duckdb::Connection::open(database).expect("opening the database")
}

/// A copy of the database as a +1 load day run finds it, for the floor step to write that run's
/// changes into; its pages are synced first, so the floor's checkpoint does not write them.
fn synced_copy(database: &Path, copy: &Path) -> PathBuf {
    std::fs::copy(database, copy).expect("copying the database");
    std::fs::File::open(copy)
        .and_then(|file| file.sync_all())
        .expect("syncing the copy");
    copy.to_path_buf()
}

/// With `SIGBATCH_BENCH_KEEP=<dir>`, a copy of `database` as `<dir>/<name>`, for profiling the
/// next run on its own.
fn keep_copy(database: &Path, name: &str) {
    if let Some(keep) = std::env::var_os("SIGBATCH_BENCH_KEEP") {
        std::fs::copy(database, Path::new(&keep).join(name)).expect("keeping a copy");
    }
}

/// A project directory `<root>/<name>` on `database` with the fixture's group (the current
/// model's for `current`); compat's name selects compat semantics, `output_extra` adds lines to
/// the profile's output.
fn write_project(root: &Path, name: &str, database: &Path, output_extra: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("a project dir");
    let group = if name == "current" || name == "uncounted" {
        current_group(name == "current")
    } else {
        std::fs::read_to_string(GROUP).expect("the fixture's attribute group")
    };
    std::fs::write(dir.join("attribute_group.json"), group).expect("writing the group");
    let semantics = if name == "compat" { "compat" } else { "exact" };
    let project = format!(
        "attribute_group: attribute_group.json\nsemantics: {semantics}\nprofile: bench\nvars:\n  \
         snowplow__start_date: '2025-01-01'\n  snowplow__backfill_limit_days: 100\n  \
         snowplow__late_event_lookback_days: 5\n"
    );
    let profiles = format!(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{}'\n{output_extra}",
        database.display()
    );
    std::fs::write(dir.join("sigbatch.yml"), project).expect("writing sigbatch.yml");
    std::fs::write(dir.join("profiles.yml"), profiles).expect("writing profiles.yml");
    dir
}

/// The current model's group keyed by `domain_userid`, without its backfill start; without
/// `counted`, also without its counted outputs (most/least frequent, category_count,
/// approx_count_distinct) and named `uncounted`.
fn current_group(counted: bool) -> String {
    let text = std::fs::read_to_string(CURRENT_GROUP).expect("the current model's group");
    let mut group: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let object = group.as_object_mut().expect("an object");
    object.remove("attribute_key");
    object.remove("backfill_since_tstamp");
    object.insert("attribute_key_or_name".into(), "domain_userid".into());
    if !counted {
        object.insert("name".into(), "uncounted".into());
        let attributes = object["attributes"].as_array_mut().expect("attributes");
        attributes.retain(|attribute| {
            !COUNTED.contains(&attribute["aggregation"].as_str().unwrap_or_default())
        });
    }
    group.to_string()
}

/// Each figure against issue 6's target (the 1M targets also apply below 1M).
fn targets(rows: &[Row]) -> Vec<String> {
    let mut lines = vec!["Targets:".to_string()];
    for row in rows {
        let small = row.events <= 1_000_000;
        // another step's row at the same size
        let same_size = |step: &str| {
            rows.iter()
                .find(|other| other.events == row.events && other.step == step)
        };
        let (figure, limit, unit) = match row.step {
            FULL => (
                row.sigbatch.seconds / row.one_scan.seconds,
                2.0,
                "x the one-scan",
            ),
            PLUS_DAY => (row.sigbatch.seconds, if small { 0.5 } else { 1.0 }, " s"),
            PLUS_DAY_FLOOR => {
                lines.push(format!(
                    "- {} events, {}: {:.2} s to write the run's changes alone (the +1 load day target: at most {} s)",
                    thousands(row.events),
                    row.step,
                    row.sigbatch.seconds,
                    if small { 0.5 } else { 1.0 }
                ));
                continue;
            }
            CURRENT_PLUS_DAY_FLOOR => {
                let budget = same_size(PLUS_DAYS).map_or_else(String::new, |fixture| {
                    format!(
                        " (issue 23's 1.5x of the fixture group's median: {:.2} s)",
                        1.5 * fixture.sigbatch.seconds
                    )
                });
                lines.push(format!(
                    "- {} events, {}: {:.2} s to write the run's changes alone{budget}",
                    thousands(row.events),
                    row.step,
                    row.sigbatch.seconds,
                ));
                continue;
            }
            NO_NEW => (row.sigbatch.seconds, 0.2, " s"),
            TODAY_MOVED if small => (row.sigbatch.seconds, 0.5, " s"),
            LIMITED => (row.sigbatch.peak_rss_mib / 1024.0, 1.5, " GiB peak RSS"),
            // the 61st load day alone is shown, not held to issue 23's target
            CURRENT_PLUS_DAY => {
                if let Some(fixture) = same_size(PLUS_DAY) {
                    lines.push(format!(
                        "- {} events, {}: {:.2}x the fixture group's (one load day; the target is on the median of {LATER_DAYS})",
                        thousands(row.events),
                        row.step,
                        row.sigbatch.seconds / fixture.sigbatch.seconds
                    ));
                }
                continue;
            }
            // issue 23: a group of the current model costs at most 1.5x the fixture's group,
            // taken over three load days
            CURRENT_PLUS_DAYS => {
                let Some(fixture) = same_size(PLUS_DAYS) else {
                    continue;
                };
                (
                    row.sigbatch.seconds / fixture.sigbatch.seconds,
                    1.5,
                    "x the fixture group's +1 load day",
                )
            }
            // what the current model's counted outputs may cost for issue 23's target, given
            // what the rest of the group costs and what they add to the writes
            UNCOUNTED_PLUS_DAYS => {
                let (Some(fixture), Some(current), Some(floor), Some(uncounted_floor)) = (
                    same_size(PLUS_DAYS),
                    same_size(CURRENT_PLUS_DAYS),
                    same_size(CURRENT_PLUS_DAYS_FLOOR),
                    same_size(UNCOUNTED_PLUS_DAYS_FLOOR),
                ) else {
                    continue;
                };
                let written = floor.sigbatch.seconds - uncounted_floor.sigbatch.seconds;
                let bound = row.sigbatch.seconds + written;
                let allowed = 1.5 * fixture.sigbatch.seconds;
                lines.push(format!(
                    "- {} events, issue 23's bound (medians of {LATER_DAYS} days): the current \
                     model without its counted outputs ({:.2} s) plus what those add to the \
                     writes ({written:.2} s, the two floors' difference) is {bound:.2} s, {:.2}x \
                     the fixture group's; of the 1.5x ({allowed:.2} s) that leaves {:.2} s to \
                     read and compute the counted outputs, which take {:.2} s now",
                    thousands(row.events),
                    row.sigbatch.seconds,
                    bound / fixture.sigbatch.seconds,
                    allowed - bound,
                    current.sigbatch.seconds - bound
                ));
                continue;
            }
            _ => continue,
        };
        lines.push(format!(
            "- {} events, {}: {figure:.2}{unit} (target at most {limit}{unit}): {}",
            thousands(row.events),
            row.step,
            if figure <= limit { "met" } else { "MISSED" }
        ));
    }
    lines
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
