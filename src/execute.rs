//! Execute: runs the rendered statements of each load window on a warehouse, one transaction
//! per window, so the watermark, the daily manifest and the data move together or not at all.
//! The windows come from `load_window`, the checks before the first one from `preflight`.

use std::time::{Duration, Instant};

use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::lease::Fence;
use crate::load_window::{LoadWindows, Mode, RunOptions, Step};
use crate::plan::Plan;
use crate::preflight::check_run;
use crate::project::Project;
use crate::render::{self, LoadWindow, Queries, Statement, Tables, WindowPlan};
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
    /// Wall time of the commits (DuckDB may checkpoint there, writing the window's tables).
    pub commit_time: Duration,
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
    fn new(stage: Stage) -> StageReport {
        StageReport {
            stage,
            duration: Duration::ZERO,
            statements: 0,
            statement_ids: Vec::new(),
            bytes_processed: None,
            bytes_billed: None,
        }
    }

    fn add(&mut self, took: Duration, stats: crate::warehouse::StatementStats) {
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
        let spec = windows.run_spec(&next, &stored);
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
        (report.stages, report.commit_time) =
            execute_window(warehouse, &window_plan, options.fence.as_ref(), reporter)?;
        if !next.attributes_only {
            (report.events, report.days_processed) = window_counts(warehouse, dialect, tables)?;
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

/// Runs one window's statements; returns what each stage took and the wall time of the commits.
///
/// Where DDL is transactional the statements before the window's transaction (setup: schemas,
/// and the stored tables: dropped on a full refresh, created if missing) commit in a transaction
/// of their own. DuckDB misreads a table created and bulk-filled in one transaction (aggregates
/// over it see no rows: its statistics still say empty), so no stored table may be born in the
/// transaction that fills it. A crash between the two leaves empty tables and no run state, from
/// which the next run rebuilds every table: what the full refresh or first run would have built.
/// Elsewhere each of them commits on its own (`render::window_plan` says why that is safe).
///
/// `fence` (the run lease's check) runs inside the window's transaction just before its last
/// statement, which writes the run state: a run that lost its lease writes no state, and where
/// there are transactions commits nothing.
fn execute_window(
    warehouse: &mut dyn Warehouse,
    plan: &WindowPlan,
    fence: Option<&Fence>,
    reporter: &mut dyn Reporter,
) -> Result<(Vec<StageReport>, Duration)> {
    let mut stages = Vec::new();
    let mut commit_time = Duration::ZERO;
    if warehouse.transactional_ddl() {
        commit_time +=
            execute_in_transaction(warehouse, &plan.before, None, &mut stages, reporter)?;
    } else {
        execute_statements(warehouse, &plan.before, None, &mut stages, reporter)?;
    }
    commit_time +=
        execute_in_transaction(warehouse, &plan.transaction, fence, &mut stages, reporter)?;
    Ok((stages, commit_time))
}

/// Runs `statements` in one transaction, `fence` before the last one, adding to `stages`;
/// returns the time of the commit.
fn execute_in_transaction(
    warehouse: &mut dyn Warehouse,
    statements: &[Statement],
    fence: Option<&Fence>,
    stages: &mut Vec<StageReport>,
    reporter: &mut dyn Reporter,
) -> Result<Duration> {
    warehouse.begin()?;
    if let Err(error) = execute_statements(warehouse, statements, fence, stages, reporter) {
        // the failure is what the user needs to see; a failed rollback adds nothing to it
        let _ = warehouse.rollback();
        return Err(error);
    }
    let started = Instant::now();
    warehouse.commit()?;
    Ok(started.elapsed())
}

/// Runs `statements` in order, `fence` before the last one, adding each one's time and
/// statistics to its stage's, and reporting each stage as its last statement finishes; a
/// failure names the stage.
fn execute_statements(
    warehouse: &mut dyn Warehouse,
    statements: &[Statement],
    fence: Option<&Fence>,
    stages: &mut Vec<StageReport>,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    for (position, statement) in statements.iter().enumerate() {
        if crate::cancel::requested() {
            return Err(crate::cancel::stopped(format!(
                "interrupted before stage `{}`",
                statement.stage.name()
            )));
        }
        if position + 1 == statements.len()
            && let Some(fence) = fence
        {
            fence.check(warehouse)?;
        }
        let started = Instant::now();
        let result = warehouse.execute(&statement.sql);
        let took = started.elapsed();
        let stats = warehouse.last_statement_stats();
        let at = match stages.iter().position(|s| s.stage == statement.stage) {
            Some(at) => at,
            None => {
                stages.push(StageReport::new(statement.stage));
                stages.len() - 1
            }
        };
        stages[at].add(took, stats);
        result.map_err(|error| match error {
            Error::Stage {
                message,
                hint,
                user_fixable,
                ..
            } => Error::Stage {
                stage: statement.stage.name().to_string(),
                message,
                hint,
                user_fixable,
            },
            other => other,
        })?;
        if statements
            .get(position + 1)
            .is_none_or(|next| next.stage != statement.stage)
        {
            let stage = &stages[at];
            reporter.report(Event::StageFinished {
                stage: stage.stage.name(),
                duration: stage.duration,
                rows: None,
                bytes: stage.bytes_processed,
            });
        }
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
