//! The attributes stage: the per-key fold of the daily rows, and exact mode's incremental
//! refresh (pending keys plus keys on dates whose period-window membership moved with "today";
//! only rows whose values changed are rewritten). Also the one-statement, from-scratch form of
//! the same computation (`render::one_scan_sql`).

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::context::{Lifetime, base_events_context, daily_columns};
use super::expr::{self, Periods};
use super::time_since;
use super::value_counts;
use super::writer::{StageWriter, merge_context};
use crate::dialect::{Dialect, OrderKey};
use crate::error::Result;
use crate::plan::{OutputColumn, Plan};
use crate::project::Semantics;
use crate::project::group::{Aggregation, ValueType};

/// The per-key fold of the daily rows (`attributes_exact.sql`, `attributes_compat.sql`,
/// `one_scan.sql`):
/// (grouped aggregates, compat's first/last window columns, output expressions).
struct Folds {
    grouped: Vec<Value>,
    first_last: Vec<Value>,
    outputs: Vec<Value>,
    /// The counted outputs' per-key results, joined by key (`value_counts::result`).
    counted: Vec<Value>,
}

/// Only the windowed outputs get grouped aggregates unless `lifetime` is [`Lifetime::Folded`].
fn folds(w: &StageWriter<'_>, lifetime: Lifetime) -> Result<Folds> {
    let d = w.dialect;
    let plan = w.plan;
    let compat = plan.semantics == Semantics::Compat;
    let periods = Periods {
        end: plan.period_end(w.spec.today),
    };
    let daily = |name: &str| format!("daily.{}", d.ident(name));
    let mut folds = Folds {
        grouped: Vec::new(),
        first_last: Vec::new(),
        outputs: Vec::new(),
        counted: Vec::new(),
    };
    let now = d.timestamp_literal(w.spec.now);
    let mut picks: Vec<(Option<u32>, Vec<value_counts::Pick>)> = Vec::new();
    for (position, output) in plan.outputs.iter().enumerate() {
        let name = d.ident(&output.name);
        if lifetime == Lifetime::StoredRow && output.period_days.is_none() {
            folds
                .outputs
                .push(json!({"name": name, "expr": format!("previous.{name}")}));
            continue;
        }
        let from_state = lifetime == Lifetime::Partials && output.period_days.is_none();
        let in_period = periods.condition(d, output.period_days, true);
        // the fold of one daily column into a per-key value: grouped, or the stored partial
        let mut group = |helper: String, column: &str, expr: String| {
            if from_state {
                return format!("state.{}", d.ident(column));
            }
            let helper = d.ident(&helper);
            folds.grouped.push(json!({"name": helper, "expr": expr}));
            format!("grouped.{helper}")
        };
        let helper = format!("a{position}");
        if let Some(slot) = output.counted {
            if lifetime != Lifetime::Folded && output.aggregation != Aggregation::CategoryCount {
                // the refresh picks every most/least frequent value of a period in one pass
                let alias = picks_alias(d, output.period_days);
                let column = d.ident(&format!("pick{position}"));
                let value = expr::declared_type(d, output, counted_value(output, &alias, &column));
                let pick = value_counts::Pick {
                    slot,
                    aggregation: output.aggregation,
                    column,
                };
                match picks
                    .iter_mut()
                    .find(|(period, _)| *period == output.period_days)
                {
                    Some((_, of_period)) => of_period.push(pick),
                    None => picks.push((output.period_days, vec![pick])),
                }
                folds
                    .outputs
                    .push(json!({"name": name, "expr": expr::with_default(d, output, value)}));
                continue;
            }
            let alias = d.ident(&format!("counted{position}"));
            let source = value_counts::result(w, output, slot, lifetime)?;
            folds.counted.push(json!({"alias": alias, "sql": source}));
            let value = expr::declared_type(d, output, counted_value(output, &alias, "result"));
            folds
                .outputs
                .push(json!({"name": name, "expr": expr::with_default(d, output, value)}));
            continue;
        }
        let folded = match (output.aggregation, compat) {
            (Aggregation::First | Aggregation::Last, true) => {
                // upstream's frame counts daily rows, not days (kept in compat mode)
                let frame = match output.period_days {
                    Some(days) => format!("ROWS BETWEEN {days} PRECEDING AND CURRENT ROW"),
                    None if output.aggregation == Aggregation::Last => {
                        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING".into()
                    }
                    None => String::new(),
                };
                let function = if output.aggregation == Aggregation::First {
                    "FIRST_VALUE"
                } else {
                    "LAST_VALUE"
                };
                let helper = d.ident(&helper);
                folds.first_last.push(json!({"name": helper, "expr": format!(
                    "{function}({}) OVER (PARTITION BY daily.attribute_key ORDER BY daily.last_event_tstamp {frame})",
                    daily(&output.daily)
                )}));
                format!("first_last.{helper}")
            }
            (Aggregation::First | Aggregation::Last, false) => {
                // days never share a derived_tstamp, so the day's timestamp orders them fully
                let tstamp = daily(
                    output
                        .daily_second
                        .as_deref()
                        .expect("exact first/last keep a timestamp"),
                );
                let value = daily(&output.daily);
                group(
                    helper,
                    &output.daily,
                    d.value_at_extreme(
                        output.aggregation == Aggregation::First,
                        &value,
                        &match output.period_days {
                            Some(_) => format!("{in_period} AND {value} IS NOT NULL"),
                            None => format!("{value} IS NOT NULL"),
                        },
                        &OrderKey {
                            timestamps: &[&tstamp],
                            tie_break: None,
                        },
                    ),
                )
            }
            (Aggregation::UniqueList, _) => {
                // upstream's windowed unique_list has no upper bound
                let when = periods.condition(d, output.period_days, !compat);
                let merged = group(
                    helper,
                    &output.daily,
                    d.unique_list_merge(&daily(&output.daily), &when),
                );
                if from_state {
                    // the stored partial is the finished list (`lifetime.rs`)
                    merged
                } else {
                    d.unique_list_finish(&merged)
                }
            }
            (Aggregation::TimeSinceFirst | Aggregation::TimeSinceLast, _) => {
                let function = if output.aggregation == Aggregation::TimeSinceFirst {
                    "MIN"
                } else {
                    "MAX"
                };
                let at = group(
                    helper,
                    &output.daily,
                    format!(
                        "{function}(CASE WHEN {in_period} THEN {} END)",
                        daily(&output.daily)
                    ),
                );
                let unit = output.time_unit.expect("time_since has a unit");
                expr::whole_units_since(d, &at, &now, unit.seconds())
            }
            (Aggregation::Mean, _) => {
                let count = output.daily_second.as_deref().expect("mean keeps a count");
                let sum_of =
                    |column: &str| format!("SUM(CASE WHEN {in_period} THEN {} END)", daily(column));
                let sum = group(helper.clone(), &output.daily, sum_of(&output.daily));
                let count = group(format!("{helper}_count"), count, sum_of(count));
                format!("CASE WHEN {count} > 0 THEN {sum} / {count} END")
            }
            (Aggregation::Min | Aggregation::Max, true) if output.daily_second.is_some() => {
                // upstream's order of stored values (semantics.md 6.6): numbers before strings
                let text_column = output.daily_second.as_deref().unwrap_or_default();
                let min = output.aggregation == Aggregation::Min;
                let function = if min { "MIN" } else { "MAX" };
                let of = |column: &str| match output.period_days {
                    Some(_) => format!(
                        "{function}(CASE WHEN {in_period} THEN {} END)",
                        daily(column)
                    ),
                    None => format!("{function}({})", daily(column)),
                };
                let number = group(helper.clone(), &output.daily, of(&output.daily));
                let text = group(format!("{helper}_text"), text_column, of(text_column));
                let text_value = d.try_cast(&text, ValueType::Double);
                if min {
                    format!("CASE WHEN {number} IS NOT NULL THEN {number} ELSE {text_value} END")
                } else {
                    format!("CASE WHEN {text} IS NOT NULL THEN {text_value} ELSE {number} END")
                }
            }
            (aggregation, _) => {
                let function = match aggregation {
                    Aggregation::Min => "MIN",
                    Aggregation::Max => "MAX",
                    _ => "SUM",
                };
                let value = if output.period_days.is_some() {
                    format!("CASE WHEN {in_period} THEN {} END", daily(&output.daily))
                } else {
                    daily(&output.daily)
                };
                let total = group(helper, &output.daily, format!("{function}({value})"));
                match (aggregation, compat) {
                    (Aggregation::Counter, true) => {
                        format!("CAST({total} AS {})", d.type_name(ValueType::Integer))
                    }
                    (Aggregation::Counter, false) => format!(
                        "COALESCE(CAST({total} AS {}), 0)",
                        d.type_name(ValueType::Integer)
                    ),
                    (Aggregation::Sum, false) => format!("COALESCE({total}, 0)"),
                    _ => total,
                }
            }
        };
        let value = if compat {
            compat_type(d, output, folded)
        } else {
            expr::with_default(d, output, expr::declared_type(d, output, folded))
        };
        folds.outputs.push(json!({"name": name, "expr": value}));
    }
    for (period, of_period) in &picks {
        let sql = value_counts::picks(w, *period, of_period)?;
        folds
            .counted
            .push(json!({"alias": picks_alias(d, *period), "sql": sql}));
    }
    Ok(folds)
}

/// A counted output's value from its column of the counted results joined as `alias`: a key
/// without counted values has none, or 0 distinct values.
fn counted_value(output: &OutputColumn, alias: &str, column: &str) -> String {
    match output.aggregation {
        Aggregation::ApproxCountDistinct => format!("COALESCE({alias}.{column}, 0)"),
        _ => format!("{alias}.{column}"),
    }
}

/// The alias of the most/least frequent values of one period (`value_counts::picks`).
fn picks_alias(d: &dyn Dialect, period_days: Option<u32>) -> String {
    d.ident(&match period_days {
        None => "picks".to_string(),
        Some(days) => format!("picks_{days}"),
    })
}

/// Compat mode keeps a chosen value as upstream shows it (semantics.md 6.6): min, max, first
/// and last of a number are not rounded to the attribute's integer type (`"99.5"` is 99.5).
fn compat_type(d: &dyn Dialect, output: &OutputColumn, folded: String) -> String {
    match output.aggregation {
        Aggregation::Min | Aggregation::Max | Aggregation::First | Aggregation::Last => folded,
        _ => expr::declared_type(d, output, folded),
    }
}

pub(super) fn attributes(w: &mut StageWriter<'_>) -> Result<()> {
    match w.plan.semantics {
        Semantics::Compat => {
            let folds = folds(w, Lifetime::Folded)?;
            w.emit(
                "attributes_compat.sql",
                json!({"first_last": folds.first_last, "grouped": folds.grouped, "outputs": folds.outputs}),
            )
        }
        Semantics::Exact => exact_attributes(w),
    }
}

/// Exact mode recomputes only the keys whose daily rows changed since the last refresh (the
/// pending keys) and the keys with daily rows on dates that entered or left a period window
/// because "today" moved: lifetime outputs from their stored partials (or their stored row when
/// no partial changed, `RunSpec::lifetime_unchanged`), windowed outputs folded from their periods'
/// days, compared with the stored row in the same statement. It replaces exactly the rows whose
/// values changed. With no stored window end (a first build, a full refresh), every key is
/// computed from its partials into a table the attributes table takes its shape from.
fn exact_attributes(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    let period_end_now = w.plan.period_end(w.spec.today);
    let longest = w.plan.outputs.iter().filter_map(|o| o.period_days).max();
    let from = longest.map_or(period_end_now, |days| {
        period_end_now - chrono::Days::new(u64::from(days))
    });
    let incremental = w.spec.stored_period_end.is_some();
    if let Some(built_for) = w.spec.stored_period_end {
        let moved_dates = moved_dates(w.plan, d, built_for, period_end_now);
        // lifetime time_since values moved by "now" alone are set after the replace
        let time_keys = time_since::keys(w, false);
        w.emit(
            "attributes_keys.sql",
            json!({"moved_dates": moved_dates, "time_keys": time_keys}),
        )?;
    }
    // lifetime outputs counted to "now" are copied too: `time_since::refresh` sets them after
    let lifetime = if incremental && w.spec.lifetime_unchanged {
        Lifetime::StoredRow
    } else {
        Lifetime::Partials
    };
    let mut folds = folds(w, lifetime)?;
    if incremental && lifetime == Lifetime::Partials {
        copy_unless_pending(w, &mut folds);
    }
    let key = d.ident(&w.plan.key_column);
    let (table, alias, source_key) = match lifetime {
        Lifetime::StoredRow => ("attributes", "previous", format!("previous.{key}")),
        _ => (
            "lifetime_partials",
            "state",
            "state.attribute_key".to_string(),
        ),
    };
    w.emit(
        "attributes_exact.sql",
        json!({
            "into": if incremental { "attributes_next" } else { "attributes_this_run" },
            "source": format!("{} AS {alias}", w.tables.get(table)),
            "source_key": source_key,
            "changed_keys_only": incremental,
            "join_previous": incremental && lifetime == Lifetime::Partials,
            "changed": if incremental { changed_condition(w, lifetime, &folds) } else { String::new() },
            "grouped": folds.grouped,
            "counted": folds.counted,
            "outputs": folds.outputs,
            "from": d.date_literal(from),
            "to": d.date_literal(period_end_now),
        }),
    )?;
    if !incremental {
        // the first build: the attributes table takes its shape from the computed rows
        w.emit("attributes_create.sql", json!({}))?;
        let columns: Vec<String> = w.plan.outputs.iter().map(|o| d.ident(&o.name)).collect();
        w.emit("attributes_next.sql", json!({"columns": columns}))?;
    }
    let (target, source) = (
        w.tables.get("attributes").to_string(),
        w.tables.get("attributes_next").to_string(),
    );
    let mut all_columns = vec![w.plan.key_column.clone()];
    all_columns.extend(w.plan.outputs.iter().map(|o| o.name.clone()));
    all_columns.push("updated_at".into());
    let all_columns: Vec<&str> = all_columns.iter().map(String::as_str).collect();
    w.replace_by_key(&target, &source, &w.plan.key_column, &all_columns)?;
    if incremental {
        time_since::refresh(w)?;
    }
    let pending = w.tables.get("attributes_pending").to_string();
    w.emit("delete_all.sql", json!({"table": pending}))
}

/// A refreshed key whose daily rows did not change since the last refresh (`keys.pending`, from
/// `attributes_pending`) has the lifetime outputs of its stored row: they are copied, not
/// computed, and the counted ones read only the pending keys' counts.
fn copy_unless_pending(w: &StageWriter<'_>, folds: &mut Folds) {
    let d = w.dialect;
    for (output, column) in w.plan.outputs.iter().zip(folds.outputs.iter_mut()) {
        if output.period_days.is_some() {
            continue;
        }
        let computed = column["expr"].as_str().unwrap_or_default().to_string();
        column["expr"] = json!(format!(
            "CASE WHEN keys.pending = 1 THEN {computed} ELSE previous.{} END",
            d.ident(&output.name)
        ));
    }
}

/// The keys whose computed row differs from their stored row (`previous`): new keys, and any
/// output that differs. A lifetime output copied from the stored row cannot differ.
fn changed_condition(w: &StageWriter<'_>, lifetime: Lifetime, folds: &Folds) -> String {
    let d = w.dialect;
    let mut changed = Vec::new();
    if lifetime == Lifetime::Partials {
        changed.push(format!("previous.{} IS NULL", d.ident(&w.plan.key_column)));
        // (a lifetime output of a key that is not pending is its stored value: not distinct)
    }
    for (output, column) in w.plan.outputs.iter().zip(&folds.outputs) {
        if lifetime == Lifetime::Partials || output.period_days.is_some() {
            let name = column["name"].as_str().unwrap_or_default();
            let (computed, stored) = (format!("fresh.{name}"), format!("previous.{name}"));
            let differs = if matches!(
                output.aggregation,
                Aggregation::UniqueList | Aggregation::CategoryCount
            ) {
                // lists and maps compare through the dialect (BigQuery cannot compare arrays)
                format!(
                    "{} IS DISTINCT FROM {}",
                    d.comparable_collection(&computed),
                    d.comparable_collection(&stored)
                )
            } else {
                format!("{computed} IS DISTINCT FROM {stored}")
            };
            changed.push(differs);
        }
    }
    if changed.is_empty() {
        return "1 = 0".into();
    }
    changed.join("\n   OR ")
}

/// The daily rows whose membership in some period window differs between the window ends
/// `before` and `now`, as a condition on `daily.event_date` (empty: none).
pub(super) fn moved_dates(
    plan: &Plan,
    d: &dyn Dialect,
    before: NaiveDate,
    now: NaiveDate,
) -> String {
    let (early, late) = if before <= now {
        (before, now)
    } else {
        (now, before)
    };
    let mut periods: Vec<u32> = plan.outputs.iter().filter_map(|o| o.period_days).collect();
    periods.sort_unstable();
    periods.dedup();
    let mut ranges: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for days in periods {
        let days = chrono::Days::new(u64::from(days));
        // the symmetric difference of [early - N, early) and [late - N, late)
        let (early_start, late_start) = (early - days, late - days);
        ranges.push((early_start, late_start.min(early)));
        ranges.push((early.max(late_start), late));
    }
    ranges.retain(|(from, to)| from < to);
    ranges.sort();
    ranges.dedup();
    ranges
        .iter()
        .map(|(from, to)| {
            format!(
                "(daily.event_date >= {} AND daily.event_date < {})",
                d.date_literal(*from),
                d.date_literal(*to)
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The from-scratch attributes query (`render::one_scan_sql`).
pub(super) fn one_scan(w: &mut StageWriter<'_>) -> Result<()> {
    let mut context = base_events_context(w, false)?;
    let (_, daily) = daily_columns(w);
    let folds = folds(w, Lifetime::Folded)?;
    merge_context(
        &mut context,
        json!({"daily_columns": daily, "grouped": folds.grouped, "counted": folds.counted, "outputs": folds.outputs}),
    );
    w.emit("one_scan.sql", context)
}
