//! `init`, `stage` and `demo`: make a project, load events, and show the whole thing working.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, NaiveTime};
use serde_json::json;

use super::inspect::print_table;
use super::{ProjectArgs, RunSettings, duckdb_output, run};
use crate::dialect::{Dialect, DuckDb};
use crate::error::{Error, Result};
use crate::load_window::WindowSettings;
use crate::plan::Plan;
use crate::project::profiles::DuckDbSettings;
use crate::project::{AttributeGroup, PROJECT_FILE, Project};
use crate::render::{Tables, render_checked, render_display};
use crate::report::{Event, Level, Reporter};
use crate::warehouse::duckdb::DuckDbWarehouse;

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("writing output: {e}"))
}

fn write_new(path: &Path, text: &str) -> Result<()> {
    if path.exists() {
        return Err(Error::file(path, "already exists; not overwriting it")
            .with_hint("choose another --project-dir"));
    }
    std::fs::write(path, text).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}

#[derive(Debug, Clone)]
pub struct InitSettings {
    pub project_dir: PathBuf,
    pub attribute_group: PathBuf,
    pub semantics: String,
    pub database: String,
}

/// Scaffolds a project from an attribute group file: sigbatch.yml, the group, a DuckDB profile.
pub fn init(settings: &InitSettings, out: &mut dyn Write) -> Result<()> {
    let group = AttributeGroup::load(&settings.attribute_group)?;
    if !matches!(settings.semantics.as_str(), "exact" | "compat") {
        return Err(Error::invalid(
            "--semantics",
            format!("`{}` is neither exact nor compat", settings.semantics),
        ));
    }
    let dir = &settings.project_dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    let project_file = dir.join(PROJECT_FILE);
    if project_file.exists() {
        return Err(Error::file(
            &project_file,
            "already exists; not overwriting it",
        ));
    }
    let group_text = std::fs::read_to_string(&settings.attribute_group)
        .map_err(|e| Error::file(&settings.attribute_group, format!("cannot read: {e}")))?;
    write_new(&dir.join("attribute_group.json"), &group_text)?;
    write_new(&project_file, &project_yaml(&group, &settings.semantics))?;
    let profiles = dir.join("profiles.yml");
    if !profiles.exists() {
        write_new(&profiles, &duckdb_profile(&settings.database))?;
    }
    writeln!(
        out,
        "created {} with {} attributes of `{}`; next: load events into atomic.events of {}, then `sigbatch run --project-dir {}`",
        dir.display(),
        group.attributes.len(),
        group.name,
        settings.database,
        dir.display()
    )
    .map_err(io)
}

/// The `sigbatch.yml` `init` writes for `group`.
pub(super) fn project_yaml(group: &AttributeGroup, semantics: &str) -> String {
    format!(
        "# sigbatch project for attribute group `{}` v{}\n\
         attribute_group: attribute_group.json\n\
         semantics: {}        # exact (what users mean) or compat (reproduces the upstream dbt project)\n\
         profile: sigbatch\n\
         vars:\n  snowplow__start_date: '{}'\n  snowplow__backfill_limit_days: 1\n",
        group.name,
        group.version,
        semantics,
        // the group's backfill start, where it has one
        group
            .backfill_since
            .map_or_else(|| "2025-01-01".to_string(), |at| at.date().to_string())
    )
}

/// The `profiles.yml` `init` writes: profile `sigbatch`, a DuckDB file relative to the project.
pub(super) fn duckdb_profile(database: &str) -> String {
    format!(
        "sigbatch:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {database}\n      schema: main\n"
    )
}

/// Loads a Snowplow events CSV into the project's events table.
pub fn stage(args: &ProjectArgs, csv: &Path, out: &mut dyn Write) -> Result<()> {
    let project = Project::load(&args.project_dir, args.vars.as_deref())?;
    let target = args.target(&project)?;
    let (path, duckdb_settings) = duckdb_output(&target)?;
    let warehouse = DuckDbWarehouse::open(path, std::time::Duration::ZERO, duckdb_settings)?;
    let rows = crate::stage_csv::stage_events_csv(
        warehouse.connection(),
        csv,
        &project.vars.atomic_schema,
        &project.vars.events_table,
    )
    .map_err(|e| Error::file(csv, e.to_string()))?;
    writeln!(
        out,
        "staged {rows} events from {} into {}.{} of {}",
        csv.display(),
        project.vars.atomic_schema,
        project.vars.events_table,
        path.display()
    )
    .map_err(io)
}

#[derive(Debug, Clone)]
pub struct DemoSettings {
    pub dir: PathBuf,
    pub users: u32,
    pub days: u32,
    pub seed: u64,
    pub runs: u32,
}

/// The file that marks a directory as `sigbatch demo`'s own, which the next demo may replace.
const DEMO_MARKER: &str = ".sigbatch-demo";

/// Empties `dir` for a new demo when it holds an earlier one (the marker, or the demo's own
/// attribute group from before the marker existed); refuses any other directory that is not
/// empty, so that pointing `--dir` at a real project never deletes it.
fn clear_old_demo(dir: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return Ok(()); // nothing there yet
    };
    if entries.next().is_none() {
        return Ok(());
    }
    let earlier_demo = dir.join(DEMO_MARKER).is_file()
        || std::fs::read_to_string(dir.join("attribute_group.json"))
            .is_ok_and(|group| group == crate::demo::DEMO_ATTRIBUTE_GROUP_JSON);
    if !earlier_demo {
        return Err(Error::file(
            dir,
            "is not empty and is not an earlier demo: the demo writes only into a new or empty directory, or replaces its own",
        )
        .with_hint("pass --dir with a new directory, e.g. `sigbatch demo --dir target/demo`"));
    }
    std::fs::remove_dir_all(dir)
        .map_err(|e| Error::file(dir, format!("cannot clear the earlier demo: {e}")))
}

/// Generates a realistic events dataset, a demo project over it, runs it incrementally in
/// `runs` steps (as a daily scheduler would), and prints a summary of the attributes table.
pub fn demo(
    settings: &DemoSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let dir = &settings.dir;
    clear_old_demo(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    std::fs::write(
        dir.join(DEMO_MARKER),
        "written by `sigbatch demo`; the next demo replaces this directory\n",
    )
    .map_err(|e| Error::file(dir, format!("cannot write: {e}")))?;
    let spec = crate::demo::DemoSpec {
        users: settings.users,
        days: settings.days,
        seed: settings.seed,
        ..Default::default()
    };
    std::fs::write(
        dir.join("attribute_group.json"),
        crate::demo::DEMO_ATTRIBUTE_GROUP_JSON,
    )
    .map_err(|e| Error::file(dir, format!("cannot write: {e}")))?;
    std::fs::write(
        dir.join(PROJECT_FILE),
        format!(
            "attribute_group: attribute_group.json\nsemantics: exact\nprofile: sigbatch\nvars:\n  \
             snowplow__start_date: '{}'\n  snowplow__backfill_limit_days: 3\n  snowplow__app_id: ['website']\n",
            spec.start
        ),
    )
    .map_err(|e| Error::file(dir, format!("cannot write: {e}")))?;
    std::fs::write(
        dir.join("profiles.yml"),
        "sigbatch:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: demo.duckdb\n      schema: main\n",
    )
    .map_err(|e| Error::file(dir, format!("cannot write: {e}")))?;
    let database = dir.join("demo.duckdb");
    let stats = {
        let warehouse = DuckDbWarehouse::open(
            &database,
            std::time::Duration::ZERO,
            &DuckDbSettings::default(),
        )?;
        crate::demo::generate_events(warehouse.connection(), &spec)
            .map_err(|e| Error::Internal(format!("generating demo events: {e}")))?
    };
    reporter.report(Event::Note {
        level: Level::Info,
        message: &format!(
        "sigbatch demo: generated {} events ({} duplicates, {} late) for {} users over {} days, loaded {} .. {}",
        stats.events,
        stats.duplicates,
        stats.late_events,
        spec.users,
        spec.days,
        stats.first_load,
        stats.last_load
    ),
    });
    let args = ProjectArgs {
        project_dir: dir.clone(),
        ..Default::default()
    };
    let end = stats
        .last_load
        .date()
        .succ_opt()
        .unwrap_or(stats.last_load.date())
        .and_time(NaiveTime::MIN);
    let span = (end - stats.first_load).num_seconds().max(1);
    for step in 1..=settings.runs.max(1) {
        // each run sees the loads up to a later point in time, like a daily cron job would
        let until: NaiveDateTime = stats.first_load
            + chrono::TimeDelta::seconds(span * i64::from(step) / i64::from(settings.runs.max(1)));
        reporter.report(Event::Note {
            level: Level::Info,
            message: &format!(
                "sigbatch demo: run {step} of {} (--until {until})",
                settings.runs
            ),
        });
        let settings = RunSettings {
            project: args.clone(),
            windows: WindowSettings {
                full_refresh: false,
                until: Some(until),
                max_windows: None,
                now: end.max(until),
            },
            dry_run: false,
            lock_timeout: std::time::Duration::ZERO,
            artifacts_dir: None,
            lineage: Default::default(),
        };
        run(&settings, out, reporter)?;
    }
    let warehouse = DuckDbWarehouse::open_read_only(&database, &DuckDbSettings::default())?;
    let project = Project::load(dir, None)?;
    let dialect = DuckDb;
    let tables = Tables::new(&Plan::build(&project)?, &dialect, "main");
    let table = tables.get("attributes");
    writeln!(out, "\nattributes table {table}, one row per user:").map_err(io)?;
    let summary = render_display("demo_summary.sql", &json!({"table": table}))?;
    print_table(warehouse.connection(), &summary, out)?;
    let busiest = project
        .group
        .attributes
        .first()
        .map(|a| a.name.clone())
        .unwrap_or_default();
    writeln!(out, "\nthe five users with the highest `{busiest}`:").map_err(io)?;
    let top = render_checked(
        &dialect,
        "demo",
        "demo_top.sql",
        &json!({"table": table, "column": dialect.ident(&busiest)}),
    )?;
    print_table(warehouse.connection(), &top, out)?;
    writeln!(
        out,
        "\ninspect it: sigbatch status --project-dir {}",
        dir.display()
    )
    .map_err(io)
}
