//! The read-only queries of a run: the stored run state (`state.rs`) and what the window loop
//! asks of the events table (`load_window`). Rendered from `sql/` like every statement, so no
//! module outside `render/` and `dialect/` builds SQL text.

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::Tables;
use super::tables::tracked_model_names;
use super::writer::{merge_context, render_checked};
use crate::dialect::Dialect;
use crate::error::Result;

/// The queries for one project's tables in one dialect.
pub struct Queries<'a> {
    pub dialect: &'a dyn Dialect,
    pub tables: &'a Tables,
}

impl Queries<'_> {
    fn render(&self, what: &str, template: &str, extra: Value) -> Result<String> {
        let mut context = json!({"t": self.tables.as_json(), "events": self.tables.events});
        merge_context(&mut context, extra);
        render_checked(self.dialect, what, template, &context)
    }

    /// Upstream's manifest summary (`get_incremental_manifest_status_t`): tracked models matched,
    /// distinct `last_success` values, their min and max, `filtered_events`' last success and
    /// the first success, all as text. `export-dbt`'s run-limit macro runs the same query.
    pub fn manifest_summary(&self, project: &str) -> Result<String> {
        let d = self.dialect;
        let models: Vec<String> = tracked_model_names(project)
            .iter()
            .map(|m| d.string_literal(m))
            .collect();
        let filtered_events = d.string_literal(&format!("{project}_filtered_events"));
        self.render(
            "the incremental manifest",
            "manifest_summary.sql",
            json!({
                "models": models,
                "min_last_success": d.timestamp_text("MIN(last_success)"),
                "max_last_success": d.timestamp_text("MAX(last_success)"),
                "filtered_events_last_success": d.timestamp_text(&format!(
                    "MAX(CASE WHEN model = {filtered_events} THEN last_success END)"
                )),
                "min_first_success": d.timestamp_text("MIN(first_success)"),
            }),
        )
    }

    /// The run state row, as text; `columns` are the stored table's (lower case): a column an
    /// older layout lacks reads as NULL.
    pub fn run_state(&self, columns: &[String]) -> Result<String> {
        let d = self.dialect;
        let optional = |column: &str| {
            if columns.iter().any(|c| c == column) {
                d.cast_to_text(column)
            } else {
                "NULL".to_string()
            }
        };
        self.render(
            "the run state",
            "run_state_read.sql",
            json!({
                "watermark": d.timestamp_text("watermark"),
                "attributes_window_end": optional("attributes_window_end"),
                "watermark_events": optional("watermark_events"),
                "updated_at": d.timestamp_text("updated_at"),
            }),
        )
    }

    /// How many rows `table` (a catalog name, e.g. `attributes_pending`) holds.
    pub fn count_rows(&self, table: &str) -> Result<String> {
        self.render(
            "a row count",
            "count_rows.sql",
            json!({"table": self.tables.get(table)}),
        )
    }

    /// The earliest load at or after `from` and before `cap`, as text; both are SQL timestamp
    /// expressions (`export-dbt` passes Jinja placeholders inside literals).
    pub fn next_load_sql(&self, from: &str, cap: &str) -> Result<String> {
        self.render(
            "the next load",
            "next_load.sql",
            json!({"min_load": self.dialect.timestamp_text("MIN(load_tstamp)"), "from": from, "cap": cap}),
        )
    }

    /// [`Queries::next_load_sql`] between two instants.
    pub fn next_load(&self, from: NaiveDateTime, cap: NaiveDateTime) -> Result<String> {
        let d = self.dialect;
        self.next_load_sql(&d.timestamp_literal(from), &d.timestamp_literal(cap))
    }

    /// Loads after `watermark`, and loads at exactly that instant, before `cap`.
    pub fn loads_since(&self, watermark: NaiveDateTime, cap: NaiveDateTime) -> Result<String> {
        let d = self.dialect;
        self.render(
            "the new loads",
            "loads_since.sql",
            json!({"at": d.timestamp_literal(watermark), "cap": d.timestamp_literal(cap)}),
        )
    }

    /// The loaded events of each load day (UTC) from `from` to before `to`, as
    /// (day as text, events), in order of the day.
    pub fn load_days(&self, from: NaiveDateTime, to: NaiveDateTime) -> Result<String> {
        let d = self.dialect;
        self.render(
            "the loads per day",
            "load_days.sql",
            json!({
                "day": d.cast_to_text(&d.date_of("load_tstamp")),
                "from": d.timestamp_literal(from),
                "to": d.timestamp_literal(to),
            }),
        )
    }

    /// What a committed window read: its events, and the event dates it aggregated.
    pub fn window_counts(&self) -> Result<String> {
        self.render("the window's counts", "window_counts.sql", json!({}))
    }
}
