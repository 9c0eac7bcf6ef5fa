//! Load windows: the ranges of `load_tstamp` one invocation reads, in order. `run` executes
//! them (`execute`), `plan` lists them (`commands::run_plan`); both walk the same
//! [`LoadWindows`], so a plan sees the windows its run will take.
//!
//! Only the run state read before the first window and the events table decide the windows:
//! exact mode's windows follow each other until they reach the cap; compat mode runs one,
//! upstream's calendar window (`bounds.rs`). This module owns the sequence and its arithmetic;
//! `state.rs` only reads what is stored, and `render` only renders a window it is given.

mod bounds;

pub use bounds::{LimitState, compat_window, exact_window, first_window};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

use crate::dialect::Dialect;
use crate::error::Result;
use crate::plan::Plan;
use crate::project::Semantics;
use crate::render::{LoadWindow, Queries, RunSpec, Tables};
use crate::state::StoredState;
use crate::warehouse::Warehouse;

/// What decides an invocation's windows; `run` and `plan` take the same flags.
#[derive(Debug, Clone)]
pub struct WindowSettings {
    pub full_refresh: bool,
    /// Caps the load window's upper bound, inclusive (Airflow's `data_interval_end`).
    pub until: Option<NaiveDateTime>,
    pub max_windows: Option<u32>,
    pub now: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub windows: WindowSettings,
    /// The resolved target name, for the full-refresh guard.
    pub target_name: String,
    pub mode: Mode,
    /// The run lease's check before each window writes its run state, where a lease keeps
    /// runs apart.
    pub fence: Option<crate::lease::Fence>,
    /// A workspace's shared read of the events: windows inside its range read from it.
    pub shared_events: Option<crate::render::SharedEvents>,
}

/// Whether statements that write are executed or only printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Execute,
    DryRun,
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

/// The load windows of one invocation, in order.
#[derive(Debug, Clone)]
pub struct LoadWindows {
    /// Windows end before `cap`: the earlier of `--until` (inclusive) and now.
    cap: NaiveDateTime,
    now: NaiveDateTime,
    pub today: NaiveDate,
    /// Every table is rebuilt in the next window (asked for, or no run state yet).
    pub full_refresh: bool,
    /// Where exact mode's windows start when nothing stored counts.
    start: NaiveDateTime,
    /// Where the next exact window starts: the watermark, then where the last one ended.
    next_lower: NaiveDateTime,
    handed_out: usize,
    done: bool,
}

impl LoadWindows {
    pub fn new(stored: &StoredState, plan: &Plan, settings: &WindowSettings) -> LoadWindows {
        // `--until` is inclusive, so an event loaded at exactly that instant is read (the
        // watermark only moves to loads actually seen, so nothing is skipped if it is not there
        // yet)
        let cap = settings.until.map_or(settings.now, |until| {
            (until + TimeDelta::microseconds(1)).min(settings.now)
        });
        // without a run state nothing stored is accounted for (a first run, or a full refresh
        // cut short where DDL commits statement by statement): every table is rebuilt
        let full_refresh = settings.full_refresh || stored.plan_fingerprint.is_none();
        let start = plan.vars.start_date.and_time(NaiveTime::MIN);
        let mut windows = LoadWindows {
            cap,
            now: settings.now,
            today: plan.vars.today(settings.now),
            full_refresh,
            start,
            next_lower: start,
            handed_out: 0,
            done: false,
        };
        windows.next_lower = windows.watermark(stored);
        windows
    }

    /// Where the invocation's first window starts (its lower bound, exclusive in compat mode):
    /// what a workspace compares to find the groups that read the same events.
    pub fn first_lower(&self, stored: &StoredState, plan: &Plan) -> NaiveDateTime {
        match plan.semantics {
            Semantics::Compat => {
                compat_window(stored, plan, self.full_refresh, self.cap)
                    .0
                    .lower
            }
            Semantics::Exact => self.next_lower,
        }
    }

    /// Whether the invocation's first window reads events at all: compat mode's always does;
    /// exact mode's not when nothing was loaded since the watermark (the same question `next`
    /// asks first).
    pub fn reads_events(
        &self,
        warehouse: &mut dyn Warehouse,
        queries: &Queries<'_>,
        stored: &StoredState,
        plan: &Plan,
    ) -> Result<bool> {
        if plan.semantics == Semantics::Compat || self.full_refresh {
            return Ok(true);
        }
        match (stored.watermark, stored.watermark_events) {
            (Some(watermark), Some(rows_at)) => Ok(!bounds::nothing_new(
                warehouse, queries, watermark, rows_at, self.cap,
            )?),
            _ => Ok(true),
        }
    }

    /// Windows end before this: the earlier of `--until` (inclusive) and now.
    pub fn cap(&self) -> NaiveDateTime {
        self.cap
    }

    /// Exact mode: the highest load read so far (nothing after a full refresh's wipe).
    fn watermark(&self, stored: &StoredState) -> NaiveDateTime {
        match (self.full_refresh, stored.watermark) {
            (false, Some(watermark)) => watermark,
            _ => self.start,
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
        let queries = Queries { dialect, tables };
        let (window, label, upsert) = match plan.semantics {
            Semantics::Compat => {
                let (window, limit_state) =
                    compat_window(stored, plan, self.full_refresh, self.cap);
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
                    && bounds::nothing_new(warehouse, &queries, watermark, rows_at, self.cap)?
                {
                    self.done = true;
                    if attributes_current(stored, plan, self.today, self.now) {
                        return Ok(Step::NothingToDo(format!(
                            "nothing to do: no events loaded since {watermark}, attributes up to date for {}",
                            self.today
                        )));
                    }
                    // only the attributes are behind ("today" or, for time_since, "now" moved, or keys wait from an
                    // interrupted run): no data stage would change anything
                    self.handed_out += 1;
                    return Ok(Step::Window(NextWindow {
                        window: exact_window(watermark, Some(watermark), plan, self.cap),
                        label: "attributes only: no new events".to_string(),
                        upsert: true,
                        last: true,
                        attributes_only: true,
                    }));
                }
                let next = bounds::next_load(warehouse, &queries, self.next_lower, self.cap)?;
                let mut window = exact_window(self.next_lower, next, plan, self.cap);
                let max_events = plan
                    .vars
                    .max_window_events
                    .resolve(dialect.default_max_window_events());
                if let (Some(first_load), Some(max_events)) = (next, max_events) {
                    window =
                        bounds::within_events(warehouse, &queries, window, first_load, max_events)?;
                }
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

    /// What `next`'s statements are rendered for, given the run state the window before left
    /// (reading a workspace's shared read where it holds the window's events).
    pub fn run_spec(
        &self,
        next: &NextWindow,
        stored: &StoredState,
        options: &RunOptions,
    ) -> RunSpec {
        let mut spec = RunSpec::rebuild(next.window, self.full_refresh, self.now, self.today);
        spec.watermark = self.watermark(stored);
        spec.upsert_filtered_events = next.upsert;
        spec.refresh_attributes = next.last;
        if !self.full_refresh {
            spec.stored_period_end = stored.period_end;
            spec.stored_tables_exist = stored.plan_fingerprint.is_some();
        }
        spec.attributes_only = next.attributes_only;
        spec.lifetime_unchanged = next.attributes_only && stored.pending_keys == 0;
        spec.events_source = options
            .shared_events
            .as_ref()
            .filter(|shared| !next.attributes_only && shared.covers(&next.window))
            .map(|shared| shared.relation.clone());
        spec
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
            .windows
            .max_windows
            .is_some_and(|max| windows >= max as usize)
}

/// Exact mode: nothing pending and the attributes table was computed for today's periods (and,
/// with `time_since_*` attributes, at this very `now`), so a window without new events would
/// change nothing.
fn attributes_current(
    stored: &StoredState,
    plan: &Plan,
    today: NaiveDate,
    now: NaiveDateTime,
) -> bool {
    // the run state keeps microseconds
    let now = now
        .with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now);
    stored.pending_keys == 0
        && stored.period_end == Some(plan.period_end(today))
        && (!plan.reads_now() || stored.last_run_at == Some(now))
}
