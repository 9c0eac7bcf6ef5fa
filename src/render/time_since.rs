//! `time_since_first` and `time_since_last` in exact mode's refresh (semantics.md 2.6, "Now and
//! `time_since_*`"): their values move with the run's "now" alone, for every key, so the refresh
//! must not run every such key through the per-key fold. A lifetime output's value is its
//! stored extreme timestamp (a lifetime partial) counted to "now": after the refresh has
//! rewritten the keys whose events or periods changed, one narrow statement sets that value and
//! `updated_at` on the other rows whose value moved (`attributes_time_refresh.sql`). A windowed
//! output's timestamp depends on the period, so its keys go through the fold.

use serde_json::json;

use super::expr::{self, Periods};
use super::writer::StageWriter;
use crate::error::Result;
use crate::plan::OutputColumn;

/// A lifetime `time_since_*` output's value from its stored partial (`state.<daily>`), as the
/// stored row has it: with its default where there is no timestamp.
fn lifetime_value(w: &StageWriter<'_>, output: &OutputColumn) -> Option<String> {
    let d = w.dialect;
    let unit = output.time_unit.filter(|_| output.period_days.is_none())?;
    let at = format!("state.{}", d.ident(&output.daily));
    let since = expr::whole_units_since(d, &at, &d.timestamp_literal(w.spec.now), unit.seconds());
    Some(expr::with_default(
        d,
        output,
        expr::declared_type(d, output, since),
    ))
}

/// The queries of the keys whose `time_since_*` outputs may have changed because "now" moved:
/// for a lifetime output (with `lifetime`), those whose stored value differs from the one its
/// stored timestamp gives now; for a windowed one, every key with a timestamp in the period
/// (the refresh then rewrites only the rows whose values changed).
pub(super) fn keys(w: &StageWriter<'_>, lifetime: bool) -> Vec<String> {
    let d = w.dialect;
    let periods = Periods {
        end: w.plan.period_end(w.spec.today),
    };
    let key = d.ident(&w.plan.key_column);
    w.plan
        .outputs
        .iter()
        .filter(|output| output.time_unit.is_some())
        .filter_map(|output| match output.period_days {
            None => lifetime.then(|| {
                format!(
                    "SELECT state.attribute_key FROM {} AS state JOIN {} AS previous ON previous.{key} = state.attribute_key WHERE {} IS DISTINCT FROM previous.{}",
                    w.tables.get("lifetime_partials"),
                    w.tables.get("attributes"),
                    lifetime_value(w, output).unwrap_or_default(),
                    d.ident(&output.name)
                )
            }),
            Some(_) => Some(format!(
                "SELECT daily.attribute_key FROM {} AS daily WHERE {} AND daily.{} IS NOT NULL",
                w.tables.get("daily_aggregates"),
                periods.condition(d, output.period_days, true),
                d.ident(&output.daily)
            )),
        })
        .collect()
}

/// After the refresh has replaced its rows: the lifetime `time_since_*` values of every other
/// stored row whose value "now" moved, set from the stored timestamps, with `updated_at`.
pub(super) fn refresh(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    let columns: Vec<(String, String)> = w
        .plan
        .outputs
        .iter()
        .filter_map(|output| Some((d.ident(&output.name), lifetime_value(w, output)?)))
        .collect();
    if columns.is_empty() {
        return Ok(());
    }
    let changed: Vec<String> = columns
        .iter()
        .map(|(name, value)| format!("{value} IS DISTINCT FROM previous.{name}"))
        .collect();
    let columns: Vec<_> = columns
        .iter()
        .map(|(name, value)| json!({"name": name, "expr": value}))
        .collect();
    w.emit(
        "attributes_time_refresh.sql",
        json!({
            "columns": columns,
            "changed": changed.join("\n    OR "),
            "update_from": d.update_from(),
        }),
    )
}
