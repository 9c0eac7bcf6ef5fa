//! The commands behind the CLI, as library functions taking resolved settings.
//!
//! `main.rs` parses flags into these settings; everything here is testable without clap. Data
//! goes to `out` (stdout), progress and logs to a `Reporter` (stderr).

mod init_api;
mod inspect;
mod run_plan;
mod setup;
mod signals;
mod status;
mod workspace;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

pub use init_api::{InitFromApiSettings, init_from_api};
pub use inspect::validate;
pub use run_plan::{PlanSettings, RunPlan, plan, run_plan};
pub use setup::{DemoSettings, InitSettings, demo, init, stage};
pub use signals::{ConnectionChecks, SyncSettings, batch_source, sync, test_connection};
pub use status::{StatusReport, status, status_report};
pub use workspace::{
    ScopeArgs, Scoped, WorkspaceArgs, WorkspaceRunSettings, compile_workspace, plan_workspace,
    run_workspace, status_workspace, sync_workspace, validate_workspace,
};

use crate::artifacts::{self, RunRecord};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::execute;
use crate::lease::Lease;
use crate::lineage::{self, LineageRun, LineageSettings};
use crate::load_window::{self, Mode, RunOptions, WindowSettings};
use crate::plan::Plan;
use crate::project::Project;
use crate::project::profiles::{DuckDbSettings, Target, WarehouseKind};
use crate::render::{self, RunSpec, Tables};
use crate::report::{Event, Level, Reporter};
use crate::warehouse::{self, Access, Warehouse};

/// Where the project is and which target to use.
#[derive(Debug, Clone, Default)]
pub struct ProjectArgs {
    pub project_dir: PathBuf,
    pub profiles_dir: Option<PathBuf>,
    pub target: Option<String>,
    pub vars: Option<String>,
}

impl ProjectArgs {
    pub fn load(&self) -> Result<(Project, Plan)> {
        let project = Project::load(&self.project_dir, self.vars.as_deref())?;
        let plan = Plan::build(&project)?;
        Ok((project, plan))
    }

    pub fn target(&self, project: &Project) -> Result<Target> {
        project.load_target(self.profiles_dir.as_deref(), self.target.as_deref())
    }
}

/// The database file and the settings to open it with (`stage` and `demo` load into DuckDB).
fn duckdb_output(target: &Target) -> Result<(&Path, &DuckDbSettings)> {
    target.output.duckdb().ok_or_else(|| {
        Error::invalid(
            format!("target `{}`", target.name),
            format!(
                "this command loads into {}, not {}",
                WarehouseKind::DuckDb.display_name(),
                target.output.kind()
            ),
        )
        .with_hint("load events into the warehouse with its own loader (Snowplow's RDB or Snowflake Streaming Loader)")
    })
}

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub project: ProjectArgs,
    pub windows: WindowSettings,
    pub dry_run: bool,
    /// How long to wait for another run holding the database; zero fails at once.
    pub lock_timeout: std::time::Duration,
    /// Where a run (not a dry run) writes `run_results.json`, also when it fails; `None` writes
    /// none. The CLI passes `--artifacts-dir`, else [`artifacts::default_dir`].
    pub artifacts_dir: Option<PathBuf>,
    /// Where OpenLineage run events go, and what they say of the job and its parent (off by
    /// default; a dry run sends none).
    pub lineage: LineageSettings,
}

pub fn run(settings: &RunSettings, out: &mut dyn Write, reporter: &mut dyn Reporter) -> Result<()> {
    run_with(settings, out, reporter, &|warehouse| warehouse)
}

/// `run`, with the warehouse passed through `wrap` once connected (tests inject failures there).
pub fn run_with(
    settings: &RunSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
    wrap: &dyn Fn(Box<dyn Warehouse>) -> Box<dyn Warehouse>,
) -> Result<()> {
    run_project(settings, out, reporter, wrap, None).result
}

/// What one project's run did: how it ended, its `run_results.json` (none for a dry run), and
/// where that was written.
struct ProjectRun {
    result: Result<()>,
    results: Option<artifacts::RunResults>,
    written: Option<PathBuf>,
}

/// What a workspace lends a group's run: the shared read of the events it may read, and, where
/// a shared read's table lives and dies with its connection (`Dialect::temporary_scratch`), the
/// connection to the group's store, which the run then uses as its own.
struct Lent<'a> {
    events: Option<&'a render::SharedEvents>,
    connection: Option<&'a mut (dyn Warehouse + 'static)>,
}

/// `run_with`, keeping what the run recorded (a workspace reports every group's), its windows
/// reading a workspace's shared read of the events where it holds theirs.
fn run_project(
    settings: &RunSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
    wrap: &dyn Fn(Box<dyn Warehouse>) -> Box<dyn Warehouse>,
    shared: Option<Lent<'_>>,
) -> ProjectRun {
    let started = std::time::Instant::now();
    let mut record = RunRecord::start(&settings.project.project_dir);
    let off = LineageSettings::off();
    let mut lineage = LineageRun::new(
        if settings.dry_run {
            &off
        } else {
            &settings.lineage
        },
        record.invocation_id(),
    );
    let result = run_recorded(
        settings,
        out,
        reporter,
        wrap,
        shared,
        &mut record,
        &mut lineage,
    );
    if settings.dry_run {
        return ProjectRun {
            result,
            results: None,
            written: None,
        };
    }
    let results = record.finish(result.as_ref().err());
    lineage.end(&results, &settings.project.project_dir, reporter);
    reporter.report(Event::RunFinished {
        status: results.status.as_str(),
        windows: record.windows.len(),
        events: record.windows.iter().map(|w| w.events).sum(),
        days: record.windows.iter().map(|w| w.days_processed).sum(),
        duration: started.elapsed(),
    });
    let Some(dir) = settings.artifacts_dir.as_deref() else {
        return ProjectRun {
            result,
            results: Some(results),
            written: None,
        };
    };
    let results = record.finish(result.as_ref().err());
    let (result, written) = match (artifacts::write(dir, &results), result) {
        (Ok(path), result) => (result, Some(path)),
        (Err(error), Ok(())) => (Err(error), None),
        // the run's own failure is what the user needs to see
        (Err(error), Err(failure)) => {
            reporter.report(Event::Note {
                level: Level::Warn,
                message: &error.to_string(),
            });
            (Err(failure), None)
        }
    };
    ProjectRun {
        result,
        results: Some(results),
        written,
    }
}

/// `run_with`, noting in `record` what the run runs on and the windows it commits.
fn run_recorded(
    settings: &RunSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
    wrap: &dyn Fn(Box<dyn Warehouse>) -> Box<dyn Warehouse>,
    shared: Option<Lent<'_>>,
    record: &mut RunRecord,
    lineage: &mut LineageRun<'_>,
) -> Result<()> {
    let (project, plan) = settings.project.load()?;
    record.project = Some(project.name.clone());
    record.mode = Some(project.semantics.as_str().to_string());
    let mut target = settings.project.target(&project)?;
    record.target = Some(target.name.clone());
    record.warehouse = Some(target.output.kind().to_string());
    if let Some(tag) = &plan.vars.query_tag {
        target.output.set_query_tag(tag);
    }
    let kind = target.output.kind();
    let tables = Tables::new(&plan, kind.dialect().as_ref(), target.output.schema());
    let datasets = lineage::datasets(&target.output, kind.dialect().as_ref(), &plan, &tables);
    lineage.begin(&project.name, datasets, reporter);
    let mode = if settings.dry_run {
        Mode::DryRun
    } else {
        Mode::Execute
    };
    let access = match mode {
        Mode::DryRun => Access::ReadOnly,
        Mode::Execute => Access::ReadWrite {
            lock_timeout: settings.lock_timeout,
        },
    };
    let (shared_events, lent) = match shared {
        Some(Lent { events, connection }) => (events.cloned(), connection),
        None => (None, None),
    };
    let mut own = None;
    let warehouse: &mut dyn Warehouse = match lent {
        Some(connection) => connection,
        None => own
            .insert(wrap(warehouse::connect(&target, access)?))
            .as_mut(),
    };
    let mut options = RunOptions {
        windows: settings.windows.clone(),
        target_name: target.name.clone(),
        mode,
        fence: None,
        shared_events,
    };
    reporter.report(Event::RunStarted {
        project: &project.name,
        mode: project.semantics.as_str(),
        warehouse: kind.name(),
        target: &target.name,
        location: &target.output.location(),
    });
    // a project that cannot run writes nothing, not even its lease
    let dialect = dialect_reading_events(warehouse, &plan, &tables, kind)?;
    // where nothing else keeps two runs apart, a lease row in the warehouse does
    let lease = match (mode, warehouse.lease_connection()?) {
        (Mode::Execute, Some(connection)) => Some(Lease::acquire(
            connection,
            kind.dialect(),
            &tables,
            &project.name,
            settings.lock_timeout,
            reporter,
        )?),
        _ => None,
    };
    options.fence = lease
        .as_ref()
        .filter(|_| warehouse.fences_in_transaction())
        .map(|lease| lease.fence().clone());
    execute::run_into(
        &project,
        &plan,
        warehouse,
        dialect.as_ref(),
        &tables,
        &options,
        reporter,
        &mut record.windows,
    )?;
    let reports = &record.windows;
    let io = |e: std::io::Error| Error::Internal(format!("writing output: {e}"));
    if settings.dry_run {
        writeln!(
            out,
            "-- dry run: nothing was written. The next window's statements follow."
        )
        .map_err(io)?;
        for statement in reports.iter().flat_map(|r| &r.statements) {
            writeln!(out, "-- stage: {}", statement.stage.name()).map_err(io)?;
            // where the warehouse estimates (BigQuery's dry run); a statement reading a table an
            // earlier statement would create cannot be estimated before that one ran
            match warehouse.estimate_bytes(&statement.sql) {
                Ok(Some(bytes)) => writeln!(out, "-- estimated bytes processed: {bytes}"),
                Ok(None) => Ok(()),
                Err(_) => writeln!(
                    out,
                    "-- estimated bytes processed: unknown until the statements before it have run"
                ),
            }
            .map_err(io)?;
            writeln!(out, "{};\n", statement.sql).map_err(io)?;
        }
        return Ok(());
    }
    if reports.is_empty() {
        writeln!(
            out,
            "nothing to do: no new events and the attributes in {} are up to date",
            tables.get("attributes")
        )
        .map_err(io)?;
        return Ok(());
    }
    let events: u64 = reports.iter().map(|r| r.events).sum();
    let days: u64 = reports.iter().map(|r| r.days_processed).sum();
    // what the warehouse billed, where it says (BigQuery's job statistics)
    let stages = || reports.iter().flat_map(|r| &r.stages);
    let billed = match stages().filter_map(|s| s.bytes_billed).sum::<u64>() {
        _ if stages().all(|s| s.bytes_billed.is_none()) => String::new(),
        billed => format!(
            "; {} bytes processed, {billed} billed",
            stages().filter_map(|s| s.bytes_processed).sum::<u64>()
        ),
    };
    writeln!(
        out,
        "ran {} window(s): {events} new events, {days} event days aggregated; attributes in {}{billed}",
        reports.len(),
        tables.get("attributes")
    )
    .map_err(io)?;
    Ok(())
}

/// The dialect of `kind` for the events table as it is: checks that the table has every column
/// the plan reads, and lets BigQuery read every schema version of a context it has.
fn dialect_reading_events(
    warehouse: &mut dyn Warehouse,
    plan: &Plan,
    tables: &Tables,
    kind: WarehouseKind,
) -> Result<Box<dyn Dialect>> {
    let columns =
        crate::preflight::check_events_table(warehouse, plan, tables, kind.dialect().as_ref())?;
    Ok(kind.events_dialect(&columns))
}

#[derive(Debug, Clone)]
pub struct CompileSettings {
    pub project: ProjectArgs,
    pub dialect: Option<String>,
    pub full_refresh: bool,
    pub now: NaiveDateTime,
}

/// Every stage's SQL for a first run, with no connection at all.
pub fn compile(settings: &CompileSettings, out: &mut dyn Write) -> Result<()> {
    let (project, plan) = settings.project.load()?;
    let (kind, schema) = match &settings.dialect {
        Some(name) => (WarehouseKind::for_dialect(name)?, "main".to_string()),
        None => match settings.project.target(&project) {
            Ok(target) => (target.output.kind(), target.output.schema().to_string()),
            Err(_) => (WarehouseKind::DuckDb, "main".to_string()),
        },
    };
    let dialect: Box<dyn Dialect> = kind.dialect();
    let sql = compile_sql(
        &plan,
        dialect.as_ref(),
        &schema,
        settings.full_refresh,
        settings.now,
    )?;
    out.write_all(sql.as_bytes())
        .map_err(|e| Error::Internal(format!("writing output: {e}")))
}

/// The statements of a first run (the window `backfill_limit_days` from `start_date`) as text.
pub fn compile_sql(
    plan: &Plan,
    dialect: &dyn Dialect,
    schema: &str,
    full_refresh: bool,
    now: NaiveDateTime,
) -> Result<String> {
    let tables = Tables::new(plan, dialect, schema);
    let window = load_window::first_window(plan, now);
    let spec = RunSpec::rebuild(window, full_refresh, now, plan.vars.today(now));
    let statements = render::render_run(plan, dialect, &tables, &spec)?;
    let mut text = format!(
        "-- sigbatch compile: project `{}`, {} mode, {} dialect\n-- first load window: {} .. {}\n\n",
        plan.project,
        plan.semantics.as_str(),
        dialect.name(),
        window.lower,
        window.upper
    );
    for statement in statements {
        text.push_str(&format!(
            "-- stage: {}\n{};\n\n",
            statement.stage.name(),
            statement.sql
        ));
    }
    Ok(text)
}
