//! Execute: runs the rendered statements of each load window on a warehouse, one transaction
//! per window, so the watermark, the daily manifest and the data move together or not at all.
//! The windows come from `load_window`, the checks before the first one from `preflight`, and
//! `window` runs each one's statements.

mod window;

use std::time::Duration;

use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::Result;
use crate::load_window::{LoadWindows, Mode, RunOptions, Step};
use crate::plan::Plan;
use crate::preflight::check_run;
use crate::project::Project;
use crate::render::{self, LoadWindow, Queries, Statement, Tables};
use crate::report::{Event, Reporter};
use crate::state;
use crate::warehouse::{Warehouse, number_cell};

#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    pub window: LoadWindow,
    pub label: String,
    pub events: u64,
    pub days_processed: u64,
    pub statements: Vec<Statement>,
    /// What each stage took and what the warehouse said about it, in execution order (empty for
    /// a dry run).
    pub stages: Vec<StageReport>,
    /// Wall time of the commits (DuckDB may checkpoint there, writing the window's tables);
    /// inside a script (BigQuery) the commit is the last statement's time instead.
    pub commit_time: Duration,
    /// Requests the window sent the warehouse: one per statement (BEGIN and COMMIT included),
    /// or one per script where the warehouse runs scripts, plus the count of what it read.
    pub requests: usize,
}

/// One stage of a window as it ran: wall time, and the warehouse's statement ids and bytes where
/// it reports them (`Warehouse::last_statement_stats`).
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    pub stage: Stage,
    pub duration: Duration,
    pub statements: usize,
    pub statement_ids: Vec<String>,
    /// Summed over the stage's statements; `None` when the warehouse reported none.
    pub bytes_processed: Option<u64>,
    pub bytes_billed: Option<u64>,
}

impl StageReport {
    pub(crate) fn new(stage: Stage) -> StageReport {
        StageReport {
            stage,
            duration: Duration::ZERO,
            statements: 0,
            statement_ids: Vec::new(),
            bytes_processed: None,
            bytes_billed: None,
        }
    }

    pub(crate) fn add(&mut self, took: Duration, stats: crate::warehouse::StatementStats) {
        let sum = |total: Option<u64>, more: Option<u64>| match (total, more) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.duration += took;
        self.statements += 1;
        self.statement_ids.extend(stats.id);
        self.bytes_processed = sum(self.bytes_processed, stats.bytes_processed);
        self.bytes_billed = sum(self.bytes_billed, stats.bytes_billed);
    }
}

/// Runs load windows until caught up (exact) or one window (compat), as `options` say.
pub fn run(
    project: &Project,
    plan: &Plan,
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<Vec<WindowReport>> {
    let mut reports = Vec::new();
    run_into(
        project,
        plan,
        warehouse,
        dialect,
        tables,
        options,
        reporter,
        &mut reports,
    )?;
    Ok(reports)
}

/// `run`, pushing each window's report onto `reports` once the window is committed (or, in a
/// dry run, rendered), so a failed run still tells what it committed before the failure.
#[allow(clippy::too_many_arguments)]
pub fn run_into(
    project: &Project,
    plan: &Plan,
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
    reports: &mut Vec<WindowReport>,
) -> Result<()> {
    let mut stored = check_run(project, plan, warehouse, dialect, tables, options)?;
    let first_report = reports.len();
    let mut windows = LoadWindows::new(&stored, plan, &options.windows);
    loop {
        let next = match windows.next(warehouse, dialect, tables, plan, &stored, options)? {
            Step::Window(next) => next,
            Step::NothingToDo(message) => {
                reporter.report(Event::NothingToDo { message: &message });
                break;
            }
            Step::Done => break,
        };
        let spec = windows.run_spec(&next, &stored, options);
        let (window, label, last) = (next.window, next.label, next.last);
        let statements = render::render_run(plan, dialect, tables, &spec)?;
        let window_plan = render::window_plan(
            statements,
            dialect,
            warehouse.transactional_ddl(),
            (!warehouse.transactions()).then(|| tables.get("run_state")),
        )?;
        let mut report = WindowReport {
            window,
            label,
            events: 0,
            days_processed: 0,
            statements: window_plan.statements().cloned().collect(),
            stages: Vec::new(),
            commit_time: Duration::ZERO,
            requests: 0,
        };
        let index = reports.len() - first_report + 1;
        reporter.report(Event::WindowStarted {
            index,
            window,
            label: &report.label,
            stages: stage_runs(&window_plan.before) + stage_runs(&window_plan.transaction),
        });
        if options.mode == Mode::DryRun {
            reports.push(report);
            break;
        }
        let run = window::execute(warehouse, &window_plan, options.fence.as_ref(), reporter)?;
        (report.stages, report.commit_time, report.requests) =
            (run.stages, run.commit_time, run.requests);
        if !next.attributes_only {
            (report.events, report.days_processed) = window_counts(warehouse, dialect, tables)?;
            report.requests += 1;
        }
        let timings: Vec<(&str, Duration)> = report
            .stages
            .iter()
            .map(|stage| (stage.stage.name(), stage.duration))
            .collect();
        reporter.report(Event::WindowCommitted {
            index,
            window,
            events: report.events,
            days: report.days_processed,
            stages: &timings,
            commit: report.commit_time,
            bytes: report
                .stages
                .iter()
                .filter_map(|s| s.bytes_processed)
                .reduce(|a, b| a + b),
        });
        reports.push(report);
        if last {
            break;
        }
        stored = state::read(warehouse, dialect, plan, tables)?;
    }
    Ok(())
}

/// How many stage events `statements` report: one per run of statements of the same stage.
fn stage_runs(statements: &[Statement]) -> usize {
    let mut stages: Vec<Stage> = statements.iter().map(|s| s.stage).collect();
    stages.dedup();
    stages.len()
}

/// What a committed window read: its events, and the event dates it aggregated.
fn window_counts(
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
) -> Result<(u64, u64)> {
    let rows = warehouse.query(&Queries { dialect, tables }.window_counts()?)?;
    Ok((number_cell(rows.first(), 0), number_cell(rows.first(), 1)))
}
