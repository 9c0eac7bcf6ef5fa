//! The attributes stage: the per-key fold of the daily rows, and exact mode's incremental
//! refresh (pending keys plus keys on dates whose period-window membership moved with "today";
//! only rows whose values changed are rewritten). Also the one-statement, from-scratch form of
//! the same computation (`render::one_scan_sql`).

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::StageWriter;
use super::expr::{self, Windows};
use super::stages::{base_events_context, daily_columns, insert_all};
use crate::dialect::{Dialect, OrderKey};
use crate::error::Result;
use crate::plan::Plan;
use crate::project::Semantics;
use crate::project::group::{Aggregation, ValueType};

/// The end of the period windows for `today`: exclusive, so today itself is outside them unless
/// `include_current_day_in_windows`.
pub(crate) fn window_end(plan: &Plan, today: NaiveDate) -> NaiveDate {
    if plan.vars.include_current_day_in_windows {
        today + chrono::Days::new(1)
    } else {
        today
    }
}

/// The per-key fold of the daily rows (`attributes_select.sql` / `attributes_compat.sql`):
/// (grouped aggregates, compat's first/last window columns, output expressions).
struct Folds {
    grouped: Vec<Value>,
    first_last: Vec<Value>,
    outputs: Vec<Value>,
}

/// With `lifetime_stored`, the outputs without a period are the stored row's values
/// (`stored.<name>`) and get no grouped aggregate: a key whose daily rows did not change keeps
/// them, and only its windowed outputs are folded again.
fn folds(w: &StageWriter<'_>, lifetime_stored: bool) -> Folds {
    let d = w.dialect;
    let plan = w.plan;
    let compat = plan.semantics == Semantics::Compat;
    let windows = Windows {
        upper: window_end(plan, w.spec.today),
    };
    let daily = |name: &str| format!("daily.{}", d.ident(name));
    let mut folds = Folds {
        grouped: Vec::new(),
        first_last: Vec::new(),
        outputs: Vec::new(),
    };
    for (position, output) in plan.outputs.iter().enumerate() {
        let name = d.ident(&output.name);
        if lifetime_stored && output.period_days.is_none() {
            folds
                .outputs
                .push(json!({"name": name, "expr": format!("stored.{name}")}));
            continue;
        }
        let helper = d.ident(&format!("a{position}"));
        let in_window = windows.condition(d, output.period_days, true);
        let mut group = |expr: String| {
            folds.grouped.push(json!({"name": helper, "expr": expr}));
            format!("grouped.{helper}")
        };
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
                group(d.value_at_extreme(
                    output.aggregation == Aggregation::First,
                    &value,
                    &match output.period_days {
                        Some(_) => format!("{in_window} AND {value} IS NOT NULL"),
                        None => format!("{value} IS NOT NULL"),
                    },
                    &OrderKey {
                        timestamps: &[&tstamp],
                        tie_break: None,
                    },
                ))
            }
            (Aggregation::UniqueList, _) => {
                // upstream's windowed unique_list has no upper bound
                let when = windows.condition(d, output.period_days, !compat);
                let merged = group(d.unique_list_merge(&daily(&output.daily), &when));
                d.unique_list_finish(&merged)
            }
            (Aggregation::Mean, _) => {
                let count = output.daily_second.as_deref().expect("mean keeps a count");
                let count_helper = d.ident(&format!("a{position}_count"));
                let sum = group(format!(
                    "SUM(CASE WHEN {in_window} THEN {} END)",
                    daily(&output.daily)
                ));
                folds.grouped.push(json!({"name": count_helper, "expr": format!("SUM(CASE WHEN {in_window} THEN {} END)", daily(count))}));
                format!(
                    "CASE WHEN grouped.{count_helper} > 0 THEN {sum} / grouped.{count_helper} END"
                )
            }
            (aggregation, _) => {
                let function = match aggregation {
                    Aggregation::Min => "MIN",
                    Aggregation::Max => "MAX",
                    _ => "SUM",
                };
                let value = if output.period_days.is_some() {
                    format!("CASE WHEN {in_window} THEN {} END", daily(&output.daily))
                } else {
                    daily(&output.daily)
                };
                let total = group(format!("{function}({value})"));
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
        let mut value = expr::declared_type(d, output, folded);
        if let (Some(default), false) = (&output.default_value, compat) {
            let default = match output.aggregation {
                // a list attribute's default is a one-element list of its text
                Aggregation::UniqueList => d.text_list_literal(&[default.python_str()]),
                _ => d.scalar_literal(default),
            };
            value = format!("COALESCE({value}, {default})");
        }
        folds.outputs.push(json!({"name": name, "expr": value}));
    }
    folds
}

pub(super) fn attributes(w: &mut StageWriter<'_>) -> Result<()> {
    let folds = folds(w, false);
    match w.plan.semantics {
        Semantics::Compat => w.emit(
            "attributes_compat.sql",
            json!({"first_last": folds.first_last, "grouped": folds.grouped, "outputs": folds.outputs}),
        ),
        Semantics::Exact => exact_attributes(w, folds),
    }
}

/// Exact mode recomputes only the keys whose daily rows changed since the last refresh (the
/// pending keys, folded from all their days) and the keys with daily rows on dates that entered
/// or left a period window because "today" moved (their windowed outputs folded from the
/// windows' days, the others kept as stored), and replaces exactly the rows whose values changed.
fn exact_attributes(w: &mut StageWriter<'_>, folds: Folds) -> Result<()> {
    let d = w.dialect;
    let window_end_now = window_end(w.plan, w.spec.today);
    let mut moved = Value::Null;
    let changed_keys_only = match w.spec.attributes_window_end {
        Some(built_for) => {
            let moved_dates = moved_dates(w.plan, d, built_for, window_end_now);
            w.emit("attributes_keys.sql", json!({"moved_dates": moved_dates}))?;
            let longest = w.plan.outputs.iter().filter_map(|o| o.period_days).max();
            if let (false, Some(days)) = (moved_dates.is_empty(), longest) {
                let windowed = self::folds(w, true);
                moved = json!({
                    "grouped": windowed.grouped,
                    "outputs": windowed.outputs,
                    "from": d.date_literal(window_end_now - chrono::Days::new(u64::from(days))),
                    "to": d.date_literal(window_end_now),
                });
            }
            true
        }
        None => false,
    };
    let daily_source = w.tables.get("daily_aggregates").to_string();
    w.emit(
        "attributes_exact.sql",
        json!({
            "grouped": folds.grouped,
            "outputs": folds.outputs,
            "daily_source": daily_source,
            "changed_keys_only": changed_keys_only,
            "moved": moved,
        }),
    )?;
    w.emit("attributes_create.sql", json!({}))?;
    let columns: Vec<String> = w.plan.outputs.iter().map(|o| d.ident(&o.name)).collect();
    w.emit("attributes_next.sql", json!({"columns": columns}))?;
    w.emit("attributes_delete.sql", json!({}))?;
    let (target, source) = (
        w.tables.get("attributes").to_string(),
        w.tables.get("attributes_next").to_string(),
    );
    let mut all_columns = vec![w.plan.key_column.clone()];
    all_columns.extend(w.plan.outputs.iter().map(|o| o.name.clone()));
    all_columns.push("updated_at".into());
    let all_columns: Vec<&str> = all_columns.iter().map(String::as_str).collect();
    insert_all(w, &target, &source, &all_columns)?;
    let pending = w.tables.get("attributes_pending").to_string();
    w.emit("delete_all.sql", json!({"table": pending}))
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
    let folds = folds(w, false);
    if let Value::Object(map) = &mut context {
        map.insert("daily_columns".into(), json!(daily));
        map.insert("grouped".into(), json!(folds.grouped));
        map.insert("outputs".into(), json!(folds.outputs));
        map.insert("daily_source".into(), json!("daily"));
        map.insert("changed_keys_only".into(), json!(false));
    }
    w.emit("one_scan.sql", context)
}
