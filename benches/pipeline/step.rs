//! One measured step in a child process of its own, so each gets its own peak RSS.
//!
//! The parent re-runs this bench binary as `--step run <project> <until day> <today> <full|incremental>`
//! or `--step one-scan <project> <today>`; the child does that one thing in-process and prints one
//! JSON line, `{"seconds": .., "peak_rss_mib": ..}`. A failed step exits non-zero with the error
//! on stderr, and the parent panics with it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;
use sigbatch::commands::{ProjectArgs, RunSettings};
use sigbatch::project::profiles::Output;

#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub seconds: f64,
    pub peak_rss_mib: f64,
}

/// A sigbatch run reading loads up to the end of `until`, with `today` as the current day.
pub fn run(project: &Path, until: NaiveDate, today: NaiveDate, full_refresh: bool) -> Measure {
    let mode = if full_refresh { "full" } else { "incremental" };
    spawn(&[
        "run",
        &project.display().to_string(),
        &until.to_string(),
        &today.to_string(),
        mode,
    ])
}

/// DuckDB's own floor under a run: on `before` (a synced copy of the database as the run found
/// it), write what the run changed in the stored tables of `after` ([`floor_seconds`]).
pub fn floor(before: &Path, after: &Path, tables: &FloorTables<'_>) -> Measure {
    spawn(&[
        "floor",
        &before.display().to_string(),
        &after.display().to_string(),
        tables.filtered_events,
        tables.daily_aggregates,
        tables.attributes,
        tables.value_counts.unwrap_or("-"),
        tables.lifetime_value_counts.unwrap_or("-"),
        &tables.moving.join(","),
    ])
}

/// The stored tables semantics.md requires (stages 3, 5 and 6), as qualified names, and for a
/// group with counted outputs its per-(key, day, value) counts, the daily partials issue 23
/// asks such outputs to merge from.
pub struct FloorTables<'a> {
    pub filtered_events: &'a str,
    pub daily_aggregates: &'a str,
    pub attributes: &'a str,
    pub value_counts: Option<&'a str>,
    /// Its per-(key, value) lifetime counts, where a lifetime output counts values: only the
    /// rows whose count changed are written.
    pub lifetime_value_counts: Option<&'a str>,
    /// Attribute columns that move with "now" alone (lifetime `time_since_*`): a row whose
    /// other columns did not change has these and `updated_at` updated, as the run does, rather
    /// than the whole row written again.
    pub moving: &'a [&'a str],
}

impl FloorTables<'_> {
    /// Every table the floor writes.
    pub fn all(&self) -> Vec<&str> {
        let mut tables = vec![self.filtered_events, self.daily_aggregates, self.attributes];
        tables.extend(self.value_counts);
        tables.extend(self.lifetime_value_counts);
        tables
    }
}

/// The one-scan, from-scratch query over the project's whole events table.
pub fn one_scan(project: &Path, today: NaiveDate) -> Measure {
    spawn(&[
        "one-scan",
        &project.display().to_string(),
        &today.to_string(),
    ])
}

fn spawn(args: &[&str]) -> Measure {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let output = Command::new(exe)
        .arg("--step")
        .args(args)
        .output()
        .expect("starting a step");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "step `{}` failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("step `{}` printed `{line}`: {e}", args.join(" ")));
    Measure {
        seconds: value["seconds"].as_f64().expect("seconds"),
        peak_rss_mib: value["peak_rss_mib"].as_f64().expect("peak_rss_mib"),
    }
}

/// The child's side: `args` as [`spawn`] passed them after `--step`.
pub fn child(args: &[String]) {
    let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day");
    let project = |dir: &str, today: NaiveDate| ProjectArgs {
        project_dir: dir.into(),
        vars: Some(format!("{{snowplow__mock_current_day: '{today}'}}")),
        ..Default::default()
    };
    let result = match args {
        [kind, dir, until, today, mode] if kind == "run" => {
            let today = day(today);
            let settings = RunSettings {
                project: project(dir, today),
                windows: sigbatch::load_window::WindowSettings {
                    full_refresh: mode == "full",
                    until: day(until).and_hms_micro_opt(23, 59, 59, 999_999),
                    max_windows: None,
                    now: today.and_hms_opt(1, 0, 0).expect("a time"),
                },
                dry_run: false,
                lock_timeout: std::time::Duration::ZERO,
                artifacts_dir: None,
                lineage: Default::default(),
            };
            let started = Instant::now();
            sigbatch::commands::run(
                &settings,
                &mut std::io::sink(),
                &mut sigbatch::report::Silent,
            )
            .map(|()| started.elapsed().as_secs_f64())
        }
        [kind, dir, today] if kind == "one-scan" => {
            one_scan_seconds(&project(dir, day(today)), day(today))
        }
        [
            kind,
            before,
            after,
            filtered_events,
            daily_aggregates,
            attributes,
            value_counts,
            lifetime_value_counts,
            moving,
        ] if kind == "floor" => {
            let moving: Vec<&str> = moving.split(',').filter(|c| !c.is_empty()).collect();
            let tables = FloorTables {
                filtered_events,
                daily_aggregates,
                attributes,
                value_counts: (value_counts != "-").then_some(value_counts.as_str()),
                lifetime_value_counts: (lifetime_value_counts != "-")
                    .then_some(lifetime_value_counts.as_str()),
                moving: &moving,
            };
            Ok(floor_seconds(Path::new(before), Path::new(after), &tables))
        }
        _ => panic!("unknown step `{}`", args.join(" ")),
    };
    match result {
        Ok(seconds) => println!(
            "{}",
            serde_json::json!({"seconds": seconds, "peak_rss_mib": peak_rss_mib()})
        ),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}

/// `CREATE OR REPLACE TABLE one_scan AS <query>` on a connection of its own; only the statement
/// is timed.
fn one_scan_seconds(args: &ProjectArgs, today: NaiveDate) -> sigbatch::Result<f64> {
    let (project, plan) = args.load()?;
    let target = args.target(&project)?;
    let dialect = sigbatch::project::profiles::WarehouseKind::DuckDb.dialect();
    let tables = sigbatch::render::Tables::new(&plan, dialect.as_ref(), target.output.schema());
    let query = sigbatch::render::one_scan_sql(&plan, dialect.as_ref(), &tables, today)?;
    let Output::DuckDb { path, .. } = &target.output else {
        panic!("the bench project is on duckdb");
    };
    let connection = duckdb::Connection::open(path).expect("opening the database");
    let started = Instant::now();
    connection
        .execute_batch(&format!("CREATE OR REPLACE TABLE one_scan AS {query}"))
        .unwrap_or_else(|e| panic!("the one-scan query failed: {e}\n{query}"));
    Ok(started.elapsed().as_secs_f64())
}

/// What any run that keeps semantics.md's stored tables in DuckDB must at least write, alone:
/// the events the run stored are appended to the filtered events, the daily rows it changed and
/// the attribute rows it changed (the newest `updated_at`; those that only moved with "now" are
/// updated in their moving columns), the value counts of the (key, day)s whose counts changed
/// and the lifetime counts that changed, where there are any, are deleted and inserted again, in one transaction, committed, and the
/// database closed (DuckDB checkpoints on close). The rows are copied aside from `after` into
/// temporary tables (never logged) first. Timed: opening `before`, then from BEGIN to the end of
/// the close; copying the rows aside is not.
fn floor_seconds(before: &Path, after: &Path, tables: &FloorTables<'_>) -> f64 {
    let started = Instant::now();
    let connection = duckdb::Connection::open(before).expect("opening the database");
    let opening = started.elapsed().as_secs_f64();
    let FloorTables {
        filtered_events,
        daily_aggregates,
        attributes,
        value_counts,
        lifetime_value_counts,
        moving,
    } = tables;
    let key: String = connection
        .query_row(
            &format!("SELECT name FROM pragma_table_info('{attributes}') ORDER BY cid LIMIT 1"),
            [],
            |row| row.get(0),
        )
        .expect("the key column");
    // rows that only moved with "now" get their moving columns updated, the others replaced
    let (moved_aside, moved_written) = if moving.is_empty() {
        (String::new(), String::new())
    } else {
        let columns: Vec<String> = moving.iter().map(|c| format!("\"{c}\"")).collect();
        let (list, set) = (
            columns.join(", "),
            columns
                .iter()
                .map(|c| format!("{c} = moved.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        (
            format!(
                "CREATE TEMP TABLE moved_attributes AS SELECT \"{key}\", {list}, updated_at \
                   FROM changed_attributes WHERE \"{key}\" IN (SELECT \"{key}\" FROM {attributes}) \
                   AND \"{key}\" NOT IN (SELECT \"{key}\" FROM ( \
                     SELECT * EXCLUDE ({list}, updated_at) FROM changed_attributes \
                     EXCEPT SELECT * EXCLUDE ({list}, updated_at) FROM {attributes})); \
                 DELETE FROM changed_attributes \
                   WHERE \"{key}\" IN (SELECT \"{key}\" FROM moved_attributes); "
            ),
            format!(
                "UPDATE {attributes} AS stored SET {set}, updated_at = moved.updated_at \
                   FROM moved_attributes AS moved WHERE stored.\"{key}\" = moved.\"{key}\"; "
            ),
        )
    };
    // a changed (key, day)'s counts are replaced whole, as its daily row is
    let (counts_aside, counts_written) = match value_counts {
        Some(counts) => (
            format!(
                "CREATE TEMP TABLE changed_counts AS SELECT * FROM after_run.{counts} \
                   WHERE (attribute_key, event_date) IN (SELECT attribute_key, event_date FROM \
                   (SELECT * FROM after_run.{counts} EXCEPT SELECT * FROM {counts})); "
            ),
            format!(
                "DELETE FROM {counts} AS stored WHERE EXISTS (SELECT 1 FROM changed_counts \
                   WHERE changed_counts.attribute_key = stored.attribute_key \
                     AND changed_counts.event_date = stored.event_date); \
                 INSERT INTO {counts} SELECT * FROM changed_counts ORDER BY event_date; "
            ),
        ),
        None => (String::new(), String::new()),
    };
    // a lifetime count is one row per (key, value), replaced where the run changed it
    let (lifetime_aside, lifetime_written) = match lifetime_value_counts {
        Some(counts) => (
            format!(
                "CREATE TEMP TABLE changed_lifetime_counts AS \
                   SELECT * FROM after_run.{counts} EXCEPT SELECT * FROM {counts}; "
            ),
            format!(
                "DELETE FROM {counts} AS stored WHERE EXISTS (SELECT 1 FROM changed_lifetime_counts \
                   AS changed WHERE changed.attribute_key = stored.attribute_key \
                     AND changed.slot = stored.slot AND changed.value = stored.value); \
                 INSERT INTO {counts} SELECT * FROM changed_lifetime_counts; "
            ),
        ),
        None => (String::new(), String::new()),
    };
    // the run's tables, in the attached database (`schema.table` names)
    let (after_events, after_daily, after_attributes) = (
        format!("after_run.{filtered_events}"),
        format!("after_run.{daily_aggregates}"),
        format!("after_run.{attributes}"),
    );
    connection
        .execute_batch(&format!(
            "ATTACH '{}' AS after_run (READ_ONLY); \
             CREATE TEMP TABLE new_events AS SELECT * FROM {after_events} \
               WHERE event_id NOT IN (SELECT event_id FROM {filtered_events}); \
             CREATE TEMP TABLE changed_daily AS SELECT * FROM {after_daily} \
               EXCEPT SELECT * FROM {daily_aggregates}; \
             CREATE TEMP TABLE changed_attributes AS SELECT * FROM {after_attributes} \
               WHERE updated_at = (SELECT MAX(updated_at) FROM {after_attributes}); \
             {counts_aside}\
             {lifetime_aside}\
             DETACH after_run; \
             {moved_aside}",
            after.display()
        ))
        .expect("copying the changed rows aside");
    let started = Instant::now();
    connection
        .execute_batch(&format!(
            "BEGIN TRANSACTION; \
             INSERT INTO {filtered_events} SELECT * FROM new_events; \
             DELETE FROM {daily_aggregates} AS stored WHERE EXISTS (SELECT 1 FROM changed_daily \
               WHERE changed_daily.attribute_key = stored.attribute_key \
                 AND changed_daily.event_date = stored.event_date); \
             INSERT INTO {daily_aggregates} SELECT * FROM changed_daily ORDER BY event_date; \
             DELETE FROM {attributes} WHERE \"{key}\" IN (SELECT \"{key}\" FROM changed_attributes); \
             INSERT INTO {attributes} SELECT * FROM changed_attributes; \
             {moved_written}\
             {counts_written}\
             {lifetime_written}\
             COMMIT"
        ))
        .expect("writing the changed rows");
    drop(connection);
    opening + started.elapsed().as_secs_f64()
}

/// The process's peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
