//! Run state: the incremental manifest (upstream's per-model watermark rows), exact mode's
//! watermark, and the load window each run takes from them.
//!
//! Reading state is separate from writing it: the writes are ordinary statements rendered with
//! the rest of a window (`render`), so they commit in the same transaction as the data they
//! describe. A crash before COMMIT leaves the previous state and data together.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::render::{LoadWindow, Tables, tracked_model_names};
use crate::warehouse::{Warehouse, number_cell};

/// What the manifest tables say before a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredState {
    /// Tracked models with a manifest row, and how many distinct `last_success` values they have.
    pub models_matched: u32,
    pub sync_count: u32,
    pub min_last_success: Option<NaiveDateTime>,
    pub max_last_success: Option<NaiveDateTime>,
    pub filtered_events_last_success: Option<NaiveDateTime>,
    pub first_success: Option<NaiveDateTime>,
    /// Exact mode's watermark: the highest `load_tstamp` read so far.
    pub watermark: Option<NaiveDateTime>,
    pub semantics: Option<String>,
    pub plan_fingerprint: Option<String>,
    /// Exact mode: how many events rows were loaded at exactly the watermark instant when it
    /// was read; more of them now means new events arrived at that instant.
    pub watermark_events: Option<u64>,
    /// Exact mode: the period-window end the attributes table was last computed for.
    pub attributes_window_end: Option<NaiveDate>,
    /// Exact mode: keys whose daily rows changed in windows committed since the attributes table
    /// was last refreshed (a catch-up stopped before its last window).
    pub pending_keys: u64,
}

pub fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map(|d| d.and_time(NaiveTime::MIN))
        })
        .ok()
}

pub fn read(
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    plan: &Plan,
    tables: &Tables,
) -> Result<StoredState> {
    let mut state = StoredState::default();
    let (schema, name) = tables.location("incremental_manifest");
    if warehouse.table_exists(schema, name)? {
        let sql = manifest_summary_sql(dialect, plan, tables);
        let rows = warehouse.query(&sql)?;
        let row = rows
            .first()
            .ok_or_else(|| Error::Internal("manifest summary returned no row".into()))?;
        let number = |i: usize| number_cell(Some(row), i);
        let stamp = |i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .as_deref()
                .and_then(parse_timestamp)
        };
        state.models_matched = number(0);
        state.sync_count = number(1);
        state.min_last_success = stamp(2);
        state.max_last_success = stamp(3);
        state.filtered_events_last_success = stamp(4);
        state.first_success = stamp(5);
    }
    let (schema, name) = tables.location("run_state");
    let run_state_columns = warehouse.columns(schema, name)?;
    if !run_state_columns.is_empty() {
        // a table from an older layout has no window end: its fingerprint differs, so the plan
        // guard asks for a full refresh before anything reads it
        let optional = |column: &str| {
            if run_state_columns.iter().any(|c| c == column) {
                dialect.cast_to_text(column)
            } else {
                "NULL".to_string()
            }
        };
        let sql = format!(
            "SELECT semantics, plan_fingerprint, {}, {}, {} FROM {}",
            dialect.timestamp_text("watermark"),
            optional("attributes_window_end"),
            optional("watermark_events"),
            tables.get("run_state")
        );
        if let Some(row) = warehouse.query(&sql)?.into_iter().next() {
            let cell = |i: usize| row.get(i).cloned().flatten();
            state.semantics = cell(0);
            state.plan_fingerprint = cell(1);
            state.watermark = cell(2).as_deref().and_then(parse_timestamp);
            state.attributes_window_end = cell(3)
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
            state.watermark_events = cell(4).and_then(|n| n.parse().ok());
        }
    }
    let (schema, name) = tables.location("attributes_pending");
    if warehouse.table_exists(schema, name)? {
        let sql = format!("SELECT COUNT(*) FROM {}", tables.get("attributes_pending"));
        state.pending_keys = number_cell(warehouse.query(&sql)?.first(), 0);
    }
    Ok(state)
}

/// Upstream's manifest summary (`get_incremental_manifest_status_t`): tracked models matched,
/// distinct `last_success` values, their min and max, `filtered_events`' last success and the
/// first success, all as text. `export-dbt`'s run-limit macro runs the same query.
pub fn manifest_summary_sql(dialect: &dyn Dialect, plan: &Plan, tables: &Tables) -> String {
    let models: Vec<String> = tracked_model_names(&plan.project)
        .iter()
        .map(|m| dialect.string_literal(m))
        .collect();
    let text = |e: &str| dialect.timestamp_text(e);
    let filtered_events = dialect.string_literal(&format!("{}_filtered_events", plan.project));
    format!(
        "SELECT COUNT(*), COUNT(DISTINCT last_success), {}, {}, {}, {} FROM {} WHERE model IN ({})",
        text("MIN(last_success)"),
        text("MAX(last_success)"),
        text(&format!(
            "MAX(CASE WHEN model = {filtered_events} THEN last_success END)"
        )),
        text("MIN(first_success)"),
        tables.get("incremental_manifest"),
        models.join(", ")
    )
}

/// The earliest load at or after `from` and before `cap`, as text (`next_load`).
pub fn next_load_sql(dialect: &dyn Dialect, tables: &Tables, from: &str, cap: &str) -> String {
    format!(
        "SELECT {} FROM {} WHERE load_tstamp >= {from} AND load_tstamp < {cap}",
        dialect.timestamp_text("MIN(load_tstamp)"),
        tables.events,
    )
}

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

/// Whether the events table holds nothing the last run did not read: no load after `watermark`
/// (and before `cap`), and as many rows at exactly the watermark instant as there were then.
pub fn nothing_new(
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    watermark: NaiveDateTime,
    rows_at_watermark: u64,
    cap: NaiveDateTime,
) -> Result<bool> {
    let at = dialect.timestamp_literal(watermark);
    let sql = format!(
        "SELECT SUM(CASE WHEN load_tstamp > {at} THEN 1 ELSE 0 END), SUM(CASE WHEN load_tstamp = {at} THEN 1 ELSE 0 END) \
         FROM {} WHERE load_tstamp >= {at} AND load_tstamp < {}",
        tables.events,
        dialect.timestamp_literal(cap)
    );
    let rows = warehouse.query(&sql)?;
    let after: u64 = number_cell(rows.first(), 0);
    Ok(after == 0 && number_cell::<u64>(rows.first(), 1) == rows_at_watermark)
}

/// The earliest load at or after `from` and before `cap`: one query however long the gap.
pub fn next_load(
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    from: NaiveDateTime,
    cap: NaiveDateTime,
) -> Result<Option<NaiveDateTime>> {
    let sql = next_load_sql(
        dialect,
        tables,
        &dialect.timestamp_literal(from),
        &dialect.timestamp_literal(cap),
    );
    let rows = warehouse.query(&sql)?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .as_deref()
        .and_then(parse_timestamp))
}
