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

/// Exact mode's window `window`, whose first load is on the day `first_load` starts, ended
/// earlier where it would read more than `max_events` loaded events: at the end of the last whole
/// load day that keeps it within them, never before the end of its first day (a day is not
/// split). Unchanged when it already reads few enough, or spans only its first day; else one
/// query counts its loads per day.
pub fn within_events(
    warehouse: &mut dyn Warehouse,
    queries: &Queries<'_>,
    window: LoadWindow,
    first_load: NaiveDateTime,
    max_events: u64,
) -> Result<LoadWindow> {
    let first_day_end = day_start(first_load) + Days::new(1);
    if window.upper <= first_day_end {
        return Ok(window);
    }
    let rows = warehouse.query(&queries.load_days(window.lower, window.upper)?)?;
    let days: Vec<(NaiveDate, u64)> = rows
        .iter()
        .filter_map(|row| {
            let day = row.first()?.as_deref()?.get(..10)?;
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
            Some((day, number_cell(Some(row), 1)))
        })
        .collect();
    Ok(LoadWindow {
        lower: window.lower,
        upper: last_day_within(&days, max_events).map_or(window.upper, |day| {
            (start_of(day) + Days::new(1)).clamp(first_day_end, window.upper)
        }),
    })
}

/// The last of `days` (load days and their events, in order) up to which the events add up to
/// at most `max_events`, but at least the first; `None` when all of them fit.
fn last_day_within(days: &[(NaiveDate, u64)], max_events: u64) -> Option<NaiveDate> {
    let mut total = 0u64;
    for (index, &(day, events)) in days.iter().enumerate() {
        total = total.saturating_add(events);
        if total > max_events {
            return Some(if index == 0 { day } else { days[index - 1].0 });
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).expect("a day")
    }

    #[test]
    fn a_window_ends_at_the_last_whole_day_within_the_events() {
        let days = [(day(1), 400), (day(2), 500), (day(4), 300), (day(5), 100)];
        // 400 + 500 fit in 1,000; with the 4th's 300 they would not
        assert_eq!(last_day_within(&days, 1_000), Some(day(2)));
        assert_eq!(last_day_within(&days, 900), Some(day(2)));
        assert_eq!(last_day_within(&days, 1_200), Some(day(4)));
        // a first day over the limit is still read whole, alone
        assert_eq!(last_day_within(&days, 10), Some(day(1)));
        assert_eq!(last_day_within(&days, 1_300), None);
        assert_eq!(last_day_within(&[], 1), None);
    }
}
