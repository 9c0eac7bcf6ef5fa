//! What one load window's statements are rendered for (`RunSpec`): the window, the run's moment,
//! and what the stored tables already hold. Built in one place, [`RunSpec::rebuild`]; the window
//! loop (`load_window`) then says what an incremental window may skip.
//!
//! Words used throughout: a **load window** is a range of `load_tstamp` one transaction reads
//! (`LoadWindow`); an **attribute period** is the span of event dates an attribute aggregates
//! (`period: last 7 days`), ending at the **period end** (today, or tomorrow with
//! `include_current_day_in_windows`); a **window column** is a SQL window function's column
//! (`OVER (...)`, compat mode's first/last).

use chrono::{NaiveDate, NaiveDateTime};

/// The load window of one run: `lower < load_tstamp < upper` in compat mode (upstream's strict
/// bounds), `lower <= load_tstamp < upper` in exact mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadWindow {
    pub lower: NaiveDateTime,
    pub upper: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub window: LoadWindow,
    pub full_refresh: bool,
    pub now: NaiveDateTime,
    /// The day attribute periods end at (`mock_current_day` or today).
    pub today: NaiveDate,
    /// Exact mode's watermark before this window: the highest `load_tstamp` seen so far. The
    /// window moves it to the newest load it holds; the next run re-reads from it inclusively
    /// (event_id dedup makes that safe), so an event loaded at exactly the watermark is kept.
    pub watermark: NaiveDateTime,
    /// Upstream skips the `filtered_events` upsert when that model already consumed the window
    /// (a replay after a partial failure).
    pub upsert_filtered_events: bool,
    /// Bring the attributes table up to date in this window. A catch-up over many windows does
    /// it only in its last one; the windows before it commit their data, state and the keys
    /// they changed (exact mode's pending keys) as usual.
    pub refresh_attributes: bool,
    /// Exact mode: the period end (`Plan::period_end`) the stored attributes table was computed
    /// for (the run state's `attributes_window_end`), or `None` when every key must be computed
    /// (first build, full refresh). When it has moved since, the keys with daily rows on dates
    /// that entered or left a period are recomputed.
    pub stored_period_end: Option<NaiveDate>,
    /// A run state was found and this is no full refresh: the setup stage's schemas and tables
    /// exist (setup commits before the first window that writes a run state), so it is skipped.
    pub stored_tables_exist: bool,
    /// Exact mode, nothing loaded since the watermark: only the attributes stage and the run
    /// state are rendered (`load_window::NextWindow::attributes_only`).
    pub attributes_only: bool,
    /// Exact mode: no key's lifetime partials changed since the attributes table was built
    /// (an attributes-only window with no pending keys), so the attributes stage copies the
    /// lifetime outputs from the stored rows instead of reading the partials.
    pub lifetime_unchanged: bool,
    /// The relation this window's base events are read from instead of the events table: a
    /// workspace's shared read (`render::SharedRead`), which holds every row of the window this
    /// group's filters keep, with the columns it reads.
    pub events_source: Option<String>,
}

impl RunSpec {
    /// A window that computes everything as if nothing were stored: every event of `window`
    /// read from its lower bound, every table set up, every key's attributes computed. `compile`,
    /// `export-dbt`, `plan`'s previews and the one-scan query render this; a run's windows start
    /// from it (`load_window::NextWindow::run_spec`).
    pub fn rebuild(
        window: LoadWindow,
        full_refresh: bool,
        now: NaiveDateTime,
        today: NaiveDate,
    ) -> RunSpec {
        RunSpec {
            window,
            full_refresh,
            now,
            today,
            watermark: window.lower,
            upsert_filtered_events: true,
            refresh_attributes: true,
            stored_period_end: None,
            stored_tables_exist: false,
            attributes_only: false,
            lifetime_unchanged: false,
            events_source: None,
        }
    }
}
