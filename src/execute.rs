//! Execute: runs the rendered statements of each load window on a warehouse, one transaction
//! per window, so the watermark, the daily manifest and the data move together or not at all.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::{Project, Semantics};
use crate::render::{self, LoadWindow, RunSpec, Statement, Tables, WindowPlan};
use crate::report::{Event, Reporter};
use crate::state::{self, LimitState, StoredState};
use crate::warehouse::{Warehouse, number_cell};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub full_refresh: bool,
    /// Caps the load window's upper bound, inclusive (Airflow's `data_interval_end`).
    pub until: Option<NaiveDateTime>,
    pub max_windows: Option<u32>,
    pub now: NaiveDateTime,
    /// The resolved target name, for the full-refresh guard.
    pub target_name: String,
    pub mode: Mode,
}

/// Whether statements that write are executed or only printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Execute,
    DryRun,
}

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

/// Columns the engine reads from every events row.
const REQUIRED_EVENT_COLUMNS: &[&str] = &[
    "event_id",
    "load_tstamp",
    "derived_tstamp",
    "dvce_created_tstamp",
    "app_id",
    "event_name",
    "event_vendor",
    "event_version",
];

/// Checks the events table and every column the plan reads before anything is written.
/// Returns the events table's columns (lower case).
pub fn check_events_table(
    warehouse: &mut dyn Warehouse,
    plan: &Plan,
    tables: &Tables,
    dialect: &dyn Dialect,
) -> Result<Vec<String>> {
    let (schema, table) = &tables.events_location;
    let columns = warehouse.events_columns(tables.events_catalog.as_deref(), schema, table)?;
    if columns.is_empty() {
        return Err(Error::invalid("events table", format!("`{schema}.{table}` does not exist"))
            .with_hint("load Snowplow events there, or point snowplow__atomic_schema / snowplow__events_table at them"));
    }
    let mut needed: Vec<(&str, String)> = REQUIRED_EVENT_COLUMNS
        .iter()
        .map(|c| (*c, "the engine".to_string()))
        .collect();
    needed.push((&plan.key_column, "the attribute key".into()));
    let mut self_describing = Vec::new();
    for property in &plan.properties {
        let user = format!("property `{}`", property.path.raw);
        if property.path.is_atomic() {
            needed.push((&property.path.column, user));
        } else {
            self_describing.push((&property.path.column, user));
        }
    }
    // any schema version of a self-describing column will do (BigQuery stores one per version)
    for (column, user) in self_describing {
        if dialect.versions_of(column, &columns).is_empty() {
            return Err(Error::invalid(
                "events table",
                format!("`{schema}.{table}` has no column for `{column}` in any schema version (needed by {user})"),
            )
            .with_hint("self-describing columns are named by schema version, e.g. contexts_nl_basjes_yauaa_context_1 (contexts_nl_basjes_yauaa_context_1_0_0 on BigQuery)"));
        }
    }
    for (column, user) in needed {
        if !columns.iter().any(|c| c == &column.to_lowercase()) {
            return Err(Error::invalid(
                "events table",
                format!("`{schema}.{table}` has no column `{column}` (needed by {user})"),
            )
            .with_hint(
                "check snowplow__atomic_schema / snowplow__events_table and the attribute key",
            ));
        }
    }
    Ok(columns)
}

fn guard_full_refresh(project: &Project, options: &RunOptions) -> Result<()> {
    let vars = &project.vars;
    if options.full_refresh
        && project.semantics == Semantics::Exact
        && options.target_name != vars.dev_target_name
        && !vars.allow_refresh
    {
        return Err(Error::invalid(
            "--full-refresh",
            format!(
                "refusing to rebuild every table from {} on target `{}` (not the dev target `{}`)",
                vars.start_date, options.target_name, vars.dev_target_name
            ),
        )
        .with_hint("a full refresh drops all state; allow it with --vars '{snowplow__allow_refresh: true}'"));
    }
    Ok(())
}

fn guard_plan_change(state: &StoredState, plan: &Plan, options: &RunOptions) -> Result<()> {
    if options.full_refresh {
        return Ok(());
    }
    if let Some(stored) = &state.semantics
        && stored != plan.semantics.as_str()
    {
        return Err(Error::invalid(
            "semantics",
            format!(
                "the tables were built in `{stored}` mode, the project now says `{}`",
                plan.semantics.as_str()
            ),
        )
        .with_hint("rebuild with `sigbatch run --full-refresh`"));
    }
    if let Some(stored) = &state.plan_fingerprint
        && *stored != plan.fingerprint()
    {
        return Err(Error::invalid(
            "attribute group",
            "the attribute definitions (or the stored layout of this sigbatch version) changed since the tables were built",
        )
        .with_hint("rebuild with `sigbatch run --full-refresh`"));
    }
    Ok(())
}

/// The checks before a run writes anything (the full-refresh guard, a changed plan or
/// semantics); returns the stored run state. `plan` makes them too. The events table and its
/// columns were checked when the dialect was chosen for them ([`check_events_table`]).
pub fn check_run(
    project: &Project,
    plan: &Plan,
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    options: &RunOptions,
) -> Result<StoredState> {
    guard_full_refresh(project, options)?;
    let stored = state::read(warehouse, dialect, plan, tables)?;
    guard_plan_change(&stored, plan, options)?;
    Ok(stored)
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
    let mut windows = Windows::new(&stored, plan, options);
    let start = plan.vars.start_date.and_time(chrono::NaiveTime::MIN);
    // exact mode: the highest load read so far (nothing after a full refresh's wipe)
    let watermark =
        |stored: &StoredState, full_refresh: bool| match (full_refresh, stored.watermark) {
            (false, Some(watermark)) => watermark,
            _ => start,
        };
    loop {
        let next = match windows.next(warehouse, dialect, tables, plan, &stored, options)? {
            Step::Window(next) => next,
            Step::NothingToDo(message) => {
                reporter.report(Event::NothingToDo { message: &message });
                break;
            }
            Step::Done => break,
        };
        let full_refresh = windows.full_refresh;
        let (window, label, last) = (next.window, next.label, next.last);
        let spec = RunSpec {
            window,
            full_refresh,
            now: options.now,
            today: windows.today,
            watermark: watermark(&stored, full_refresh),
            upsert_filtered_events: next.upsert,
            refresh_attributes: last,
            attributes_window_end: if full_refresh {
                None
            } else {
                stored.attributes_window_end
            },
            stored_tables_exist: !full_refresh && stored.plan_fingerprint.is_some(),
            attributes_only: next.attributes_only,
            lifetime_unchanged: next.attributes_only && stored.pending_keys == 0,
        };
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
        (report.stages, report.commit_time) = execute_window(warehouse, &window_plan, reporter)?;
        if !next.attributes_only {
            (report.events, report.days_processed) = window_counts(warehouse, tables)?;
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

/// The next step of an invocation's window loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Window(NextWindow),
    /// Exact mode, before the first window: nothing new and the attributes are current.
    NothingToDo(String),
    /// The last window has been handed out.
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NextWindow {
    pub window: LoadWindow,
    /// Why this window: upstream's run-limit state, or catching up.
    pub label: String,
    /// Compat: whether `filtered_events` takes this window's events (not on a replay).
    pub upsert: bool,
    /// The invocation's last window, which also brings the attributes table up to date.
    pub last: bool,
    /// Exact mode: nothing was loaded since the watermark and only the attributes are behind,
    /// so the window runs the attributes stage and writes the run state, nothing else.
    pub attributes_only: bool,
}

/// The load windows of one invocation, in order: `run` executes them, `plan` lists them. Only
/// the run state read before the first window and the events table decide them (exact mode's
/// windows follow each other; compat runs one), so a plan sees the windows its run will take.
#[derive(Debug, Clone)]
pub struct Windows {
    /// Windows end before `cap`: the earlier of `--until` (inclusive) and now.
    cap: NaiveDateTime,
    pub today: chrono::NaiveDate,
    /// Every table is rebuilt in the next window (asked for, or no run state yet).
    pub full_refresh: bool,
    /// Where the next exact window starts: the watermark, then where the last one ended.
    next_lower: NaiveDateTime,
    handed_out: usize,
    done: bool,
}

impl Windows {
    pub fn new(stored: &StoredState, plan: &Plan, options: &RunOptions) -> Windows {
        // `--until` is inclusive, so an event loaded at exactly that instant is read (the
        // watermark only moves to loads actually seen, so nothing is skipped if it is not there
        // yet)
        let cap = options.until.map_or(options.now, |until| {
            (until + chrono::TimeDelta::microseconds(1)).min(options.now)
        });
        // without a run state nothing stored is accounted for (a first run, or a full refresh
        // cut short where DDL commits statement by statement): every table is rebuilt
        let full_refresh = options.full_refresh || stored.plan_fingerprint.is_none();
        let start = plan.vars.start_date.and_time(chrono::NaiveTime::MIN);
        let next_lower = match (full_refresh, stored.watermark) {
            (false, Some(watermark)) => watermark,
            _ => start,
        };
        Windows {
            cap,
            today: plan.vars.today(options.now),
            full_refresh,
            next_lower,
            handed_out: 0,
            done: false,
        }
    }

    /// The next window; `stored` is the run state as the previous window left it.
    pub fn next(
        &mut self,
        warehouse: &mut dyn Warehouse,
        dialect: &dyn Dialect,
        tables: &Tables,
        plan: &Plan,
        stored: &StoredState,
        options: &RunOptions,
    ) -> Result<Step> {
        if self.done {
            return Ok(Step::Done);
        }
        if self.handed_out > 0 {
            // the window before committed: the tables are no longer empty
            self.full_refresh = false;
        }
        let (window, label, upsert) = match plan.semantics {
            Semantics::Compat => {
                let (window, limit_state) =
                    state::compat_window(stored, plan, self.full_refresh, self.cap);
                let upsert = limit_state != LimitState::OutOfSync
                    || stored
                        .filtered_events_last_success
                        .is_none_or(|last| window.upper > last);
                (window, limit_state.describe().to_string(), upsert)
            }
            Semantics::Exact => {
                if !self.full_refresh
                    && self.handed_out == 0
                    && let (Some(watermark), Some(rows_at)) =
                        (stored.watermark, stored.watermark_events)
                    && state::nothing_new(warehouse, dialect, tables, watermark, rows_at, self.cap)?
                {
                    self.done = true;
                    if attributes_current(stored, plan, self.today) {
                        return Ok(Step::NothingToDo(format!(
                            "nothing to do: no events loaded since {watermark}, attributes up to date for {}",
                            self.today
                        )));
                    }
                    // only the attributes are behind ("today" moved, or keys wait from an
                    // interrupted run): no data stage would change anything
                    self.handed_out += 1;
                    return Ok(Step::Window(NextWindow {
                        window: state::exact_window(watermark, Some(watermark), plan, self.cap),
                        label: "attributes only: no new events".to_string(),
                        upsert: true,
                        last: true,
                        attributes_only: true,
                    }));
                }
                let next = state::next_load(warehouse, dialect, tables, self.next_lower, self.cap)?;
                let window = state::exact_window(self.next_lower, next, plan, self.cap);
                let label = if next.is_some() {
                    "catching up"
                } else {
                    "no new events"
                };
                (window, label.to_string(), true)
            }
        };
        self.handed_out += 1;
        let last = options.mode == Mode::DryRun
            || is_last(plan, &window, self.cap, options, self.handed_out);
        self.done = last;
        self.next_lower = window.upper;
        Ok(Step::Window(NextWindow {
            window,
            label,
            upsert,
            last,
            attributes_only: false,
        }))
    }
}

/// Whether `window`, the `windows`-th of this invocation, ends it: compat runs one window, exact
/// mode runs until it reaches the cap or `--max-windows`.
fn is_last(
    plan: &Plan,
    window: &LoadWindow,
    cap: NaiveDateTime,
    options: &RunOptions,
    windows: usize,
) -> bool {
    plan.semantics == Semantics::Compat
        || window.upper >= cap
        || options
            .max_windows
            .is_some_and(|max| windows >= max as usize)
}

/// Exact mode: nothing pending and the attributes table was computed for today's windows, so a
/// window without new events would change nothing.
fn attributes_current(stored: &StoredState, plan: &Plan, today: chrono::NaiveDate) -> bool {
    stored.pending_keys == 0
        && stored.attributes_window_end == Some(render::window_end(plan, today))
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
fn execute_window(
    warehouse: &mut dyn Warehouse,
    plan: &WindowPlan,
    reporter: &mut dyn Reporter,
) -> Result<(Vec<StageReport>, Duration)> {
    let mut stages = Vec::new();
    let mut commit_time = Duration::ZERO;
    if warehouse.transactional_ddl() {
        commit_time += execute_in_transaction(warehouse, &plan.before, &mut stages, reporter)?;
    } else {
        execute_statements(warehouse, &plan.before, &mut stages, reporter)?;
    }
    commit_time += execute_in_transaction(warehouse, &plan.transaction, &mut stages, reporter)?;
    Ok((stages, commit_time))
}

/// Runs `statements` in one transaction, adding to `stages`; returns the time of the commit.
fn execute_in_transaction(
    warehouse: &mut dyn Warehouse,
    statements: &[Statement],
    stages: &mut Vec<StageReport>,
    reporter: &mut dyn Reporter,
) -> Result<Duration> {
    warehouse.begin()?;
    if let Err(error) = execute_statements(warehouse, statements, stages, reporter) {
        // the failure is what the user needs to see; a failed rollback adds nothing to it
        let _ = warehouse.rollback();
        return Err(error);
    }
    let started = Instant::now();
    warehouse.commit()?;
    Ok(started.elapsed())
}

/// Runs `statements` in order, adding each one's time and statistics to its stage's, and
/// reporting each stage as its last statement finishes; a failure names the stage.
fn execute_statements(
    warehouse: &mut dyn Warehouse,
    statements: &[Statement],
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

fn window_counts(warehouse: &mut dyn Warehouse, tables: &Tables) -> Result<(u64, u64)> {
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM {}), (SELECT COUNT(*) FROM {} WHERE process_now)",
        tables.get("filtered_events_this_run"),
        tables.get("days_to_process")
    );
    let rows = warehouse.query(&sql)?;
    Ok((number_cell(rows.first(), 0), number_cell(rows.first(), 1)))
}
