//! The cost curve at scale (issue 26): `cargo bench --bench pipeline -- --scale [sizes]`.
//!
//! Per size N (1M, 5M and 25M by default) the events arrive at the main bench's 5M rate,
//! 83,333 a day, so the history grows in days (12, 60, 300) and a load day is the same size at
//! every N: a +1 load day that grows with N grows with the history. The users are N/10, as in the
//! main bench. On the fixture's group in exact mode, with `threads: 2`:
//!
//! - the full refresh without a memory limit, on a copy of the database,
//! - the full refresh with `memory_limit: 2GB` (spilling to a temp directory),
//! - on that database, +1 load day and then a run with no new events,
//!
//! each in a child process of its own for its peak RSS. The two full refreshes must give the same
//! attributes. It prints a Markdown table and the targets, and writes the figures as CSV to
//! `$SIGBATCH_BENCH_CSV` (default `target/bench-scale.csv`) for `benches/plot_scale.py`. With
//! `SIGBATCH_BENCH_KEEP=<dir>`, the database as the +1 load day run finds it is copied there
//! (`scale-plus-day-<N>.duckdb`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Days, NaiveDate};

use super::{ATTRIBUTES, dataset, open, rows_differing, step, thousands, write_project};

/// The main bench's 5M events over 60 days.
const EVENTS_PER_DAY: u64 = 83_333;
const MEMORY_LIMIT: &str = "2GB";

const FULL_UNLIMITED: &str = "full refresh, no memory limit";
const FULL_LIMITED: &str = "full refresh, memory_limit 2GB";
const PLUS_DAY: &str = "+1 load day";
const NO_NEW: &str = "no new events";

struct Row {
    events: u64,
    days: u64,
    step: &'static str,
    measure: step::Measure,
}

pub fn main(mut sizes: Vec<u64>) {
    if sizes.is_empty() {
        sizes = vec![1_000_000, 5_000_000, 25_000_000];
    }
    println!(
        "| events | load days | step | s | s per million events | peak RSS MiB |\n|---:|---:|---|---:|---:|---:|"
    );
    let mut rows = Vec::new();
    for &n in &sizes {
        bench(n, &mut rows);
    }
    let csv = std::env::var_os("SIGBATCH_BENCH_CSV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-scale.csv"),
        PathBuf::from,
    );
    write_csv(&csv, &rows);
    println!("\nfigures written to {}", csv.display());
    for line in targets(&rows) {
        println!("{line}");
    }
}

fn bench(n: u64, rows: &mut Vec<Row>) {
    let days = (n / EVENTS_PER_DAY).max(1);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).expect("a day");
    let day = |offset: u64| start + Days::new(offset);
    let (last_loaded, next) = (day(days - 1), day(days));
    let dir = tempfile::tempdir().expect("a temp dir");
    let limited_db = dir.path().join("limited.duckdb");
    eprintln!(
        "generating {} events over {days} load days ...",
        thousands(n)
    );
    let started = Instant::now();
    dataset::create(&open(&limited_db), n, days).expect("generating the events");
    eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    let unlimited_db = dir.path().join("unlimited.duckdb");
    std::fs::copy(&limited_db, &unlimited_db).expect("copying the database");
    let unlimited = write_project(dir.path(), "unlimited", &unlimited_db, "      threads: 2\n");
    let limited = write_project(
        dir.path(),
        "limited",
        &limited_db,
        &format!(
            "      threads: 2\n      settings:\n        memory_limit: {MEMORY_LIMIT}\n        temp_directory: '{}'\n",
            dir.path().join("spill").display()
        ),
    );
    let mut emit = |step, measure: step::Measure| {
        println!(
            "| {} | {days} | {step} | {:.2} | {:.2} | {:.0} |",
            thousands(n),
            measure.seconds,
            measure.seconds / (n as f64 / 1e6),
            measure.peak_rss_mib
        );
        rows.push(Row {
            events: n,
            days,
            step,
            measure,
        });
    };

    emit(
        FULL_UNLIMITED,
        step::run(&unlimited, last_loaded, next, true),
    );
    emit(FULL_LIMITED, step::run(&limited, last_loaded, next, true));
    assert_same_attributes(&limited_db, &unlimited_db);
    std::fs::remove_file(&unlimited_db).expect("removing the copy");

    dataset::append_load_day(&open(&limited_db), n, days).expect("appending a load day");
    if let Some(keep) = std::env::var_os("SIGBATCH_BENCH_KEEP") {
        // the database as the +1 load day run finds it, for profiling that run on its own
        let copy = Path::new(&keep).join(format!("scale-plus-day-{n}.duckdb"));
        std::fs::copy(&limited_db, copy).expect("keeping a copy of the database");
    }
    let tomorrow = day(days + 1);
    emit(PLUS_DAY, step::run(&limited, next, tomorrow, false));
    emit(NO_NEW, step::run(&limited, next, tomorrow, false));
}

/// The limited and the unlimited full refresh stored the same attributes (the revenue sum aside,
/// whose last bits depend on the order of addition).
fn assert_same_attributes(limited: &Path, unlimited: &Path) {
    let connection = open(limited);
    connection
        .execute_batch(&format!(
            "ATTACH '{}' AS unlimited (READ_ONLY)",
            unlimited.display()
        ))
        .expect("attaching the unlimited run's database");
    let side = |database: &str| {
        format!(
            "SELECT * EXCLUDE (updated_at, total_revenue_last_7_days) FROM {database}{ATTRIBUTES}"
        )
    };
    let differing = rows_differing(&connection, &side(""), &side("unlimited."));
    assert_eq!(
        differing, 0,
        "the full refresh under the memory limit stored other attributes than without it"
    );
}

fn write_csv(path: &Path, rows: &[Row]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("a directory for the CSV");
    }
    let mut file =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    writeln!(file, "events,load_days,step,seconds,peak_rss_mib").expect("writing the CSV");
    for row in rows {
        writeln!(
            file,
            "{},{},\"{}\",{:.3},{:.0}",
            row.events, row.days, row.step, row.measure.seconds, row.measure.peak_rss_mib
        )
        .expect("writing the CSV");
    }
}

/// Issue 26's targets: under the limit, a full refresh peaks under 3 GiB and takes at most 2x
/// the unlimited one; the largest size's +1 load day is at most 2x the 5M one.
fn targets(rows: &[Row]) -> Vec<String> {
    let find = |events: u64, step: &str| {
        rows.iter()
            .find(|r| r.events == events && r.step == step)
            .map(|r| r.measure)
    };
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut lines = vec!["Targets:".to_string()];
    for row in rows.iter().filter(|r| r.step == FULL_LIMITED) {
        let gib = row.measure.peak_rss_mib / 1024.0;
        lines.push(format!(
            "- {} events, full refresh under memory_limit {MEMORY_LIMIT}: {gib:.2} GiB peak RSS (target under 3 GiB): {}",
            thousands(row.events),
            verdict(gib < 3.0)
        ));
        if let Some(unlimited) = find(row.events, FULL_UNLIMITED) {
            let ratio = row.measure.seconds / unlimited.seconds;
            lines.push(format!(
                "- {} events, full refresh under the limit: {ratio:.2}x the unlimited time (target at most 2x): {}",
                thousands(row.events),
                verdict(ratio <= 2.0)
            ));
        }
    }
    let largest = rows.iter().map(|r| r.events).max();
    if let (Some(largest), Some(base)) = (largest, find(5_000_000, PLUS_DAY))
        && largest > 5_000_000
        && let Some(top) = find(largest, PLUS_DAY)
    {
        let ratio = top.seconds / base.seconds;
        lines.push(format!(
            "- +1 load day at {}: {ratio:.2}x the 5M figure (target at most 2x): {}",
            thousands(largest),
            verdict(ratio <= 2.0)
        ));
    }
    lines
}
