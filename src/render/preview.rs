//! The read-only queries behind `sigbatch plan`: the next run's new events per window and event
//! date, and the keys it would recompute. Both select the new events with the template the run's
//! base events stage uses (`base_events_select.sql`), over the whole span of the planned
//! windows: an event's first load (the row the run's dedup keeps) falls in the window that
//! reads it, since every later window leaves out the events stored before it.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::attributes::moved_dates;
use super::context::base_events_context;
use super::expr;
use super::writer::{StageWriter, merge_context};
use super::{LoadWindow, RunSpec, Tables};
use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::Semantics;

/// What `plan` asks the warehouse about the windows it planned.
pub struct Preview<'a> {
    pub plan: &'a Plan,
    pub dialect: &'a dyn Dialect,
    pub tables: &'a Tables,
    /// The planned windows, in order, each starting where the one before ended.
    pub windows: &'a [LoadWindow],
    pub today: NaiveDate,
    /// The run's "now", which `time_since_*` outputs count to.
    pub now: NaiveDateTime,
    /// The first window rebuilds every table: nothing stored counts.
    pub full_refresh: bool,
    /// Whether the stored `filtered_events` table exists (read-only: nothing is created).
    pub stored_events: bool,
}

impl Preview<'_> {
    /// The planned windows as one.
    fn window(&self) -> Result<LoadWindow> {
        match (self.windows.first(), self.windows.last()) {
            (Some(first), Some(last)) => Ok(LoadWindow {
                lower: first.lower,
                upper: last.upper,
            }),
            _ => Err(Error::Internal("a preview of no windows".into())),
        }
    }

    fn render(&self, template: &str, stage: Stage, extra: Value) -> Result<String> {
        let window = self.window()?;
        let spec = RunSpec::rebuild(window, self.full_refresh, window.upper, self.today);
        let mut writer = StageWriter::new(self.plan, self.dialect, self.tables, &spec, stage);
        let mut context = base_events_context(&writer, true)?;
        merge_context(
            &mut context,
            json!({"stored_filter": self.stored_events && !self.full_refresh}),
        );
        merge_context(&mut context, extra);
        writer.emit(template, context)?;
        Ok(writer.into_statements().remove(0).sql)
    }

    /// `(window_index, event_date as text, events)` per window (1-based) and event date: the
    /// rows each window's base events stage would read.
    pub fn events_sql(&self) -> Result<String> {
        let d = self.dialect;
        let uppers: Vec<String> = self
            .windows
            .iter()
            .map(|w| d.timestamp_literal(w.upper))
            .collect();
        let compat = self.plan.semantics == Semantics::Compat;
        self.render(
            "plan_events.sql",
            Stage::BaseEventsThisRun,
            json!({
                "uppers": uppers,
                "event_date_text": d.cast_to_text("events.event_date"),
                // compat filters the event types after deduplicating (its filtered events stage)
                "compat_event_types": if compat {
                    expr::event_types(d, &self.plan.event_types, "events", true)
                } else {
                    String::new()
                },
            }),
        )
    }

    /// How many keys the last window's attributes stage would recompute (exact mode): the keys
    /// with events on the dates each window aggregates (`processed[i]` for window `i`), the keys
    /// with stored events on the dates aggregated whole (`whole`: events had been deferred on
    /// them), the pending keys, and the keys on dates that entered or left an attribute period
    /// since `stored_period_end`, and the keys whose `time_since_*` values "now" moves; `None`
    /// there means every key is computed.
    pub fn keys_sql(
        &self,
        processed: &[Vec<NaiveDate>],
        whole: &[NaiveDate],
        stored_period_end: Option<NaiveDate>,
    ) -> Result<String> {
        let d = self.dialect;
        let dates = |days: &[NaiveDate], column: &str| {
            let literals: Vec<String> = days.iter().map(|day| d.date_literal(*day)).collect();
            format!("{column} IN ({})", literals.join(", "))
        };
        let mut new_on_processed: Vec<String> = Vec::new();
        for (window, days) in self.windows.iter().zip(processed) {
            if !days.is_empty() {
                new_on_processed.push(format!(
                    "(events.load_tstamp < {} AND {})",
                    d.timestamp_literal(window.upper),
                    dates(days, "events.event_date")
                ));
            }
        }
        let mut whole = whole.to_vec();
        whole.sort();
        whole.dedup();
        let stored = self.stored_events && !self.full_refresh && !whole.is_empty();
        let refreshing_changed_keys = !self.full_refresh && stored_period_end.is_some();
        let moved = match stored_period_end.filter(|_| refreshing_changed_keys) {
            Some(built_for) => {
                moved_dates(self.plan, d, built_for, self.plan.period_end(self.today))
            }
            None => String::new(),
        };
        let time_keys = if refreshing_changed_keys {
            self.time_keys()?
        } else {
            Vec::new()
        };
        self.render(
            "plan_keys.sql",
            Stage::Attributes,
            json!({
                "new_on_processed": if new_on_processed.is_empty() {
                    "1 = 0".to_string()
                } else {
                    new_on_processed.join(" OR ")
                },
                "stored_on_processed": if stored { dates(&whole, "stored.event_date") } else { String::new() },
                "pending": refreshing_changed_keys,
                // no stored window end: the refresh computes every stored key
                "all_daily": self.stored_events && !self.full_refresh && !refreshing_changed_keys,
                "moved_dates": moved,
                "time_keys": time_keys,
            }),
        )
    }

    /// The queries of the keys whose `time_since_*` values differ at the run's "now", as the
    /// attributes stage finds them.
    fn time_keys(&self) -> Result<Vec<String>> {
        let spec = RunSpec::rebuild(self.window()?, self.full_refresh, self.now, self.today);
        let writer = StageWriter::new(
            self.plan,
            self.dialect,
            self.tables,
            &spec,
            Stage::Attributes,
        );
        Ok(super::time_since::keys(&writer, true))
    }
}
