//! Run state: what the incremental manifest (upstream's per-model watermark rows) and exact
//! mode's run state row say before a window. Only read here; the windows a run takes from it are
//! `load_window`'s.
//!
//! Reading state is separate from writing it: the writes are ordinary statements rendered with
//! the rest of a window (`render`), so they commit in the same transaction as the data they
//! describe. A crash before COMMIT leaves the previous state and data together.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::render::{Queries, Tables};
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
    /// Exact mode: the period end (`Plan::period_end`) the attributes table was last computed
    /// for (the run state's `attributes_window_end` column).
    pub period_end: Option<NaiveDate>,
    /// Exact mode: the "now" of the last window written (the run state's `updated_at`), which
    /// the `time_since_*` attributes were last computed for when nothing is pending.
    pub last_run_at: Option<NaiveDateTime>,
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
    let queries = Queries { dialect, tables };
    let (schema, name) = tables.location("incremental_manifest");
    if warehouse.table_exists(schema, name)? {
        let rows = warehouse.query(&queries.manifest_summary(&plan.project)?)?;
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
        // a table from an older layout has no period end: its fingerprint differs, so the plan
        // guard asks for a full refresh before anything reads it
        let sql = queries.run_state(&run_state_columns)?;
        if let Some(row) = warehouse.query(&sql)?.into_iter().next() {
            let cell = |i: usize| row.get(i).cloned().flatten();
            state.semantics = cell(0);
            state.plan_fingerprint = cell(1);
            state.watermark = cell(2).as_deref().and_then(parse_timestamp);
            state.period_end = cell(3)
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
            state.watermark_events = cell(4).and_then(|n| n.parse().ok());
            state.last_run_at = cell(5).as_deref().and_then(parse_timestamp);
        }
    }
    let (schema, name) = tables.location("attributes_pending");
    if warehouse.table_exists(schema, name)? {
        state.pending_keys = number_cell(
            warehouse
                .query(&queries.count_rows("attributes_pending")?)?
                .first(),
            0,
        );
    }
    Ok(state)
}
