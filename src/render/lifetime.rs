//! Exact mode's lifetime partials: per key, the fold over all its daily rows of every daily
//! column an output without a period reads (`<project>_sigbatch_lifetime_partials`). Each window
//! merges into it what its (key, date) pairs changed, so the attributes stage reads a changed
//! key's lifetime outputs from one row instead of folding all its days.
//!
//! Additive partials (counts, sums, a mean's parts) add the recomputed pairs and subtract the
//! rows they replace; the others (min, max, first/last, unique lists) only ever gain events, so
//! merging the recomputed pairs into the stored fold is enough. A first/last tie between a
//! stored value and a recomputed pair can only come from the same day, and the recomputed pair
//! holds all of that day's events: it wins.

use serde_json::{Value, json};

use super::writer::StageWriter;
use crate::dialect::{Dialect, OrderKey};
use crate::error::Result;
use crate::plan::Plan;
use crate::project::group::Aggregation;

/// One stored partial: a daily column (unquoted), its fold over the changed daily rows
/// (`changed.*`, `sign` -1 for a replaced row) into `fresh`, and its merge of `fresh` with the
/// stored partial (`state`, NULL for a new key).
struct Partial {
    column: String,
    fold: String,
    merge: String,
}

/// The partials of the plan's lifetime outputs, each daily column once, and whether one is
/// additive (then the replaced daily rows are read too).
fn partials(plan: &Plan, d: &dyn Dialect) -> (Vec<Partial>, bool) {
    let mut partials: Vec<Partial> = Vec::new();
    let mut additive = false;
    let mut push = |column: &str, fold: String, merge: String| {
        partials.push(Partial {
            column: column.to_string(),
            fold,
            merge,
        })
    };
    // `combined` where both the fresh fold and the stored partial hold a value, else the one that does
    let either_or_both = |fresh: &str, state: &str, combined: &str| {
        format!(
            "CASE WHEN {state} IS NULL THEN {fresh} WHEN {fresh} IS NULL THEN {state} ELSE {combined} END"
        )
    };
    let mut seen: Vec<&str> = Vec::new();
    // counted outputs keep their lifetime counts in a table of their own (`value_counts.rs`)
    for output in plan
        .outputs
        .iter()
        .filter(|o| o.period_days.is_none() && o.counted.is_none())
    {
        if seen.contains(&output.daily.as_str()) {
            continue;
        }
        seen.push(&output.daily);
        let value = d.ident(&output.daily);
        let (changed, fresh, state) = (
            format!("changed.{value}"),
            format!("fresh.{value}"),
            format!("state.{value}"),
        );
        match output.aggregation {
            Aggregation::Counter | Aggregation::Sum | Aggregation::Mean => {
                additive = true;
                for column in std::iter::once(&output.daily).chain(&output.daily_second) {
                    let name = d.ident(column);
                    let (fresh, state) = (format!("fresh.{name}"), format!("state.{name}"));
                    push(
                        column,
                        format!("SUM(changed.sign * changed.{name})"),
                        either_or_both(&fresh, &state, &format!("{state} + {fresh}")),
                    );
                }
            }
            Aggregation::Min
            | Aggregation::Max
            | Aggregation::TimeSinceFirst
            | Aggregation::TimeSinceLast => {
                let smallest = matches!(
                    output.aggregation,
                    Aggregation::Min | Aggregation::TimeSinceFirst
                );
                let (function, beats) = if smallest { ("MIN", "<") } else { ("MAX", ">") };
                push(
                    &output.daily,
                    format!("{function}(CASE WHEN changed.sign > 0 THEN {changed} END)"),
                    format!(
                        "CASE WHEN {state} IS NULL OR {fresh} {beats} {state} THEN COALESCE({fresh}, {state}) ELSE {state} END"
                    ),
                );
            }
            Aggregation::First | Aggregation::Last => {
                let first = output.aggregation == Aggregation::First;
                let tstamp_column = output
                    .daily_second
                    .as_deref()
                    .expect("exact first/last keep a timestamp");
                let tstamp = d.ident(tstamp_column);
                let changed_at = format!("changed.{tstamp}");
                let changed_when = format!("changed.sign > 0 AND {changed} IS NOT NULL");
                let order = OrderKey {
                    timestamps: &[&changed_at],
                    tie_break: None,
                };
                let fold = d.value_at_extreme(first, &changed, &changed_when, &order);
                let (extreme, closer) = if first { ("MIN", "<=") } else { ("MAX", ">=") };
                let fold_at = format!("{extreme}(CASE WHEN {changed_when} THEN {changed_at} END)");
                // a tie can only come from the same day, which the recomputed pair holds whole
                let fresh_wins = format!(
                    "fresh.{tstamp} IS NOT NULL AND (state.{tstamp} IS NULL OR fresh.{tstamp} {closer} state.{tstamp})"
                );
                let pick = |column: &str| {
                    format!("CASE WHEN {fresh_wins} THEN fresh.{column} ELSE state.{column} END")
                };
                push(&output.daily, fold, pick(&value));
                push(tstamp_column, fold_at, pick(&tstamp));
            }
            Aggregation::UniqueList => {
                let both = d.list_concat(&fresh, &state);
                push(
                    &output.daily,
                    d.unique_list_merge(&changed, "changed.sign > 0"),
                    d.unique_list_finish(&either_or_both(&fresh, &state, &both)),
                );
            }
            Aggregation::MostFrequent
            | Aggregation::LeastFrequent
            | Aggregation::CategoryCount
            | Aggregation::ApproxCountDistinct => {
                unreachable!("counted outputs are filtered out above")
            }
        }
    }
    (partials, additive)
}

/// Setup: the stored partials' table, shaped like the daily columns it keeps.
pub(super) fn create(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    let (partials, _) = partials(w.plan, d);
    let columns: Vec<String> = partials.iter().map(|p| d.ident(&p.column)).collect();
    w.emit("create_lifetime_partials.sql", json!({"columns": columns}))
}

/// A window's merge of its recomputed (key, date) pairs into the stored partials; before the
/// daily rows they replace are deleted.
pub(super) fn merge(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    let (partials, additive) = partials(w.plan, d);
    let columns: Vec<Value> = partials
        .iter()
        .map(|p| json!({"name": d.ident(&p.column), "fold": p.fold, "merge": p.merge}))
        .collect();
    w.emit(
        "lifetime_partials_this_run.sql",
        json!({"columns": columns, "additive": additive}),
    )?;
    let (target, source) = (
        w.tables.get("lifetime_partials").to_string(),
        w.tables.get("lifetime_partials_this_run").to_string(),
    );
    let mut names = vec!["attribute_key".to_string()];
    names.extend(partials.iter().map(|p| p.column.clone()));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    w.replace_by_key(&target, &source, "attribute_key", &names)
}
