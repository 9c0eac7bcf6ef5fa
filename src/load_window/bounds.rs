//! Window arithmetic: where a load window starts and ends, and the two questions the window
//! loop asks of the events table (anything new since the watermark? where is the next load?).

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

use crate::error::Result;
use crate::plan::Plan;
use crate::project::Semantics;
use crate::render::{LoadWindow, Queries};
use crate::state::{StoredState, parse_timestamp};
use crate::warehouse::{Warehouse, number_cell};

/// Which of upstream's three run-limit states a compat run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitState {
    FirstRun,
    OutOfSync,
    Standard,
}

impl LimitState {
    pub fn describe(self) -> &'static str {
        match self {
            LimitState::FirstRun => "first run",
            LimitState::OutOfSync => "out of sync: replaying",
            LimitState::Standard => "standard",
        }
    }
}

fn start_of(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN)
}

fn day_start(at: NaiveDateTime) -> NaiveDateTime {
    start_of(at.date())
}

/// Upstream's `get_run_limits_t`: the window is calendar-based, never derived from the events.
pub fn compat_window(
    state: &StoredState,
    plan: &Plan,
    full_refresh: bool,
    cap: NaiveDateTime,
) -> (LoadWindow, LimitState) {
    let days = u64::from(plan.vars.backfill_limit_days);
    let second = TimeDelta::seconds(1);
    let start = start_of(plan.vars.start_date);
    match (state.min_last_success, state.max_last_success) {
        (Some(min_last), Some(max_last)) if !full_refresh && state.models_matched > 0 => {
            let upper = day_start(min_last) + Days::new(days + 1) - second;
            if state.sync_count == 2 {
                (
                    LoadWindow {
                        lower: min_last,
                        upper: upper.min(max_last).min(cap),
                    },
                    LimitState::OutOfSync,
                )
            } else {
                (
                    LoadWindow {
                        lower: min_last,
                        upper: upper.min(cap),
                    },
                    LimitState::Standard,
                )
            }
        }
        _ => (
            LoadWindow {
                lower: start,
                upper: (start + Days::new(days) - second).min(cap),
            },
            LimitState::FirstRun,
        ),
    }
}

/// Exact mode's next window: from `lower` (inclusive) to the end of the `backfill_limit_days`-th
/// day counted from the first day that has a loaded event, so an empty stretch costs nothing.
pub fn exact_window(
    lower: NaiveDateTime,
    next_load: Option<NaiveDateTime>,
    plan: &Plan,
    cap: NaiveDateTime,
) -> LoadWindow {
    let days = u64::from(plan.vars.backfill_limit_days);
    match next_load {
        Some(next) => LoadWindow {
            lower,
            upper: (day_start(next) + Days::new(days)).min(cap).max(lower),
        },
        None => LoadWindow {
            lower,
            upper: cap.max(lower),
        },
    }
}

/// The first window of a run with nothing stored (what `compile` shows).
pub fn first_window(plan: &Plan, now: NaiveDateTime) -> LoadWindow {
    let start = start_of(plan.vars.start_date);
    match plan.semantics {
        Semantics::Compat => compat_window(&StoredState::default(), plan, true, now).0,
        Semantics::Exact => exact_window(start, Some(start), plan, now),
    }
}

/// Whether the events table holds nothing the last run did not read: no load after `watermark`
/// (and before `cap`), and as many rows at exactly the watermark instant as there were then.
pub fn nothing_new(
    warehouse: &mut dyn Warehouse,
    queries: &Queries<'_>,
    watermark: NaiveDateTime,
    rows_at_watermark: u64,
    cap: NaiveDateTime,
) -> Result<bool> {
    let rows = warehouse.query(&queries.loads_since(watermark, cap)?)?;
    let after: u64 = number_cell(rows.first(), 0);
    Ok(after == 0 && number_cell::<u64>(rows.first(), 1) == rows_at_watermark)
}

/// The earliest load at or after `from` and before `cap`: one query however long the gap.
pub fn next_load(
    warehouse: &mut dyn Warehouse,
    queries: &Queries<'_>,
    from: NaiveDateTime,
    cap: NaiveDateTime,
) -> Result<Option<NaiveDateTime>> {
    let rows = warehouse.query(&queries.next_load(from, cap)?)?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .as_deref()
        .and_then(parse_timestamp))
}
