//! Throughput of a full pipeline run on DuckDB, at a few dataset sizes.
//!
//! `cargo bench --bench pipeline` generates the demo dataset (seeded) at each size, then times a
//! full catch-up run (exact mode, 3-day windows) and a second, incremental run that picks up the
//! final day's loads, and prints one line per size with events per second and peak memory
//! (ru_maxrss, which only grows). Numbers go in the README.

use std::time::Instant;

use sigbatch::commands::{ProjectArgs, RunSettings};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; plain numbers choose the sizes
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 5_000, 20_000]
    } else {
        sizes
    };
    println!(
        "{:>8} {:>9} {:>12} {:>14} {:>13} {:>10}",
        "users", "events", "full run s", "events/s", "incremental s", "peak MiB"
    );
    for users in sizes {
        let dir = tempfile::tempdir().unwrap();
        let spec = sigbatch::demo::DemoSpec {
            users,
            days: 21,
            ..Default::default()
        };
        std::fs::write(
            dir.path().join("attribute_group.json"),
            sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sigbatch.yml"),
            format!(
                "attribute_group: attribute_group.json\nprofile: bench\nvars:\n  snowplow__start_date: '{}'\n  \
                 snowplow__backfill_limit_days: 3\n",
                spec.start
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("profiles.yml"),
            "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: bench.duckdb\n",
        )
        .unwrap();
        let stats = {
            let connection = duckdb::Connection::open(dir.path().join("bench.duckdb")).unwrap();
            sigbatch::demo::generate_events(&connection, &spec).unwrap()
        };
        let last_day = stats.last_load.date().and_hms_opt(0, 0, 0).unwrap();
        let settings = |until| RunSettings {
            project: ProjectArgs {
                project_dir: dir.path().to_path_buf(),
                ..Default::default()
            },
            full_refresh: false,
            until: Some(until),
            max_windows: None,
            dry_run: false,
            now: stats.last_load + chrono::TimeDelta::days(1),
            lock_timeout: std::time::Duration::ZERO,
        };
        let started = Instant::now();
        sigbatch::commands::run(&settings(last_day), &mut std::io::sink(), &mut |_| {}).unwrap();
        let full = started.elapsed().as_secs_f64();
        let started = Instant::now();
        sigbatch::commands::run(
            &settings(stats.last_load + chrono::TimeDelta::seconds(1)),
            &mut std::io::sink(),
            &mut |_| {},
        )
        .unwrap();
        let incremental = started.elapsed().as_secs_f64();
        println!(
            "{users:>8} {:>9} {full:>12.2} {:>14.0} {incremental:>13.2} {:>10.0}",
            stats.events,
            stats.events as f64 / full,
            peak_rss_mib()
        );
    }
}
