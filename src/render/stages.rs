//! One function per stage: what each stage's statements are made of.

use serde_json::{Value, json};

use super::attributes;
use super::expr;
use super::lifetime;
use super::{PERSISTENT, StageWriter};
use crate::dag::Stage;
use crate::dialect::DelayedRule;
use crate::error::Result;
use crate::project::Semantics;
use crate::project::group::ValueType;

/// Upstream's label for the daily manifest rows; only ever a constant.
const SOURCE_MODEL: &str = "filtered_events";
/// The models upstream's incremental manifest tracks (one row each).
const TRACKED_MODELS: &[&str] = &[
    "filtered_events_this_run",
    "filtered_events",
    "days_to_process",
    "daily_aggregates_this_run",
    "daily_aggregation_manifest",
    "daily_aggregates",
    "attributes",
];

pub fn tracked_model_names(project: &str) -> Vec<String> {
    TRACKED_MODELS
        .iter()
        .map(|m| format!("{project}_{m}"))
        .collect()
}

pub(super) fn render(w: &mut StageWriter<'_>) -> Result<()> {
    match w.stage {
        Stage::Setup => setup(w),
        Stage::RunLimits => {
            let d = w.dialect;
            let window = w.spec.window;
            w.emit(
                "run_limits.sql",
                json!({"lower": d.timestamp_literal(window.lower), "upper": d.timestamp_literal(window.upper)}),
            )
        }
        Stage::BaseEventsThisRun => base_events(w),
        Stage::FilteredEventsThisRun => filtered_events_this_run(w),
        Stage::FilteredEvents => filtered_events(w),
        Stage::DaysToProcess => days_to_process(w),
        Stage::DailyAggregatesThisRun => daily_aggregates_this_run(w),
        Stage::DailyAggregationManifest => {
            let source_model = w
                .dialect
                .string_literal(&format!("{}_{SOURCE_MODEL}", w.plan.project));
            w.emit(
                "daily_aggregation_manifest_next.sql",
                json!({"source_model": source_model}),
            )?;
            let (target, source) = (
                w.tables.get("daily_aggregation_manifest"),
                w.tables.get("daily_aggregation_manifest_this_run"),
            );
            let columns = [
                "event_date",
                "source_model",
                "processed_events",
                "skipped_events",
                "max_load_tstamp",
                "last_updated_at",
            ];
            replace_by_key(w, target, source, "event_date", &columns)
        }
        Stage::DailyAggregates => daily_aggregates(w),
        Stage::Attributes => attributes::attributes(w),
        Stage::IncrementalManifest => incremental_manifest(w),
    }
}

pub(super) fn insert_all(
    w: &mut StageWriter<'_>,
    target: &str,
    source: &str,
    columns: &[&str],
) -> Result<()> {
    insert_ordered(w, target, source, columns, &[])
}

/// Replaces the rows of `target` whose `key` `source` holds with `source`'s rows
/// (`delete_keys.sql`, then [`insert_all`]).
pub(super) fn replace_by_key(
    w: &mut StageWriter<'_>,
    target: &str,
    source: &str,
    key: &str,
    columns: &[&str],
) -> Result<()> {
    let key = w.dialect.ident(key);
    w.emit(
        "delete_keys.sql",
        json!({"target": target, "source": source, "key": key}),
    )?;
    insert_all(w, target, source, columns)
}

/// [`insert_all`] with the rows sorted by `order_by`, where the dialect keeps insertion order.
pub(super) fn insert_ordered(
    w: &mut StageWriter<'_>,
    target: &str,
    source: &str,
    columns: &[&str],
    order_by: &[&str],
) -> Result<()> {
    let d = w.dialect;
    let columns: Vec<String> = columns.iter().map(|c| d.ident(c)).collect();
    let order_by: Vec<String> = if d.keeps_insert_order() {
        order_by.iter().map(|c| d.ident(c)).collect()
    } else {
        vec![]
    };
    w.emit(
        "insert_all.sql",
        json!({"target": target, "source": source, "columns": columns, "order_by": order_by}),
    )
}

fn setup(w: &mut StageWriter<'_>) -> Result<()> {
    if w.spec.stored_tables_exist {
        return Ok(());
    }
    for schema in w.tables.schemas.clone() {
        w.emit("setup_schema.sql", json!({"schema": schema}))?;
    }
    if w.spec.full_refresh {
        for table in PERSISTENT {
            let table = w.tables.get(table).to_string();
            w.emit("drop_table.sql", json!({"table": table}))?;
        }
    }
    w.emit("create_incremental_manifest.sql", json!({}))?;
    w.emit("create_daily_aggregation_manifest.sql", json!({}))?;
    w.emit("create_run_state.sql", json!({}))?;
    if w.plan.semantics == Semantics::Exact {
        w.emit("create_attributes_pending.sql", json!({}))?;
    }
    let columns: Vec<Value> = filtered_event_columns(w)?
        .into_iter()
        .map(|(name, column_type, _)| json!({"name": name, "type": column_type}))
        .collect();
    w.emit("create_filtered_events.sql", json!({"columns": columns}))?;
    let (windows, daily_columns) = daily_columns(w);
    w.emit(
        "create_daily_aggregates.sql",
        json!({"windows": windows, "daily_columns": daily_columns, "shape_only": true}),
    )?;
    if w.plan.semantics == Semantics::Exact {
        lifetime::create(w)?;
    }
    Ok(())
}

/// (quoted name, type, expression over `events`) of every `filtered_events` column.
fn filtered_event_columns(w: &StageWriter<'_>) -> Result<Vec<(String, String, String)>> {
    let d = w.dialect;
    let text = d.type_name(ValueType::Text).to_string();
    let ts = d.timestamp_type().to_string();
    let key = format!("events.{}", d.ident(&w.plan.key_column));
    let mut columns = vec![
        (
            d.ident("event_id"),
            text.clone(),
            "events.event_id".to_string(),
        ),
        (d.ident("attribute_key"), text.clone(), d.cast_to_text(&key)),
        (
            d.ident("event_date"),
            "DATE".to_string(),
            d.date_of("events.derived_tstamp"),
        ),
        (
            d.ident("derived_tstamp"),
            ts.clone(),
            "events.derived_tstamp".to_string(),
        ),
        (d.ident("load_tstamp"), ts, "events.load_tstamp".to_string()),
        (
            d.ident("event_name"),
            text.clone(),
            "events.event_name".to_string(),
        ),
        (
            d.ident("event_vendor"),
            text.clone(),
            "events.event_vendor".to_string(),
        ),
        (
            d.ident("event_version"),
            text.clone(),
            "events.event_version".to_string(),
        ),
    ];
    for property in &w.plan.properties {
        let expr = d.property(&property.path, property.value_type)?;
        columns.push((
            d.ident(&property.name),
            d.type_name(property.value_type).to_string(),
            expr,
        ));
    }
    if w.plan.semantics == Semantics::Compat {
        // dbt_utils.generate_surrogate_key(['attribute_key', 'event_date'])
        let null = d.string_literal("_dbt_utils_surrogate_key_null_");
        let part = |e: &str| format!("COALESCE({}, {null})", d.cast_to_text(e));
        let id = d.md5_hex(&format!(
            "{} || '-' || {}",
            part(&key),
            part(&d.date_of("events.derived_tstamp"))
        ));
        columns.push((d.ident("attribute_key_date_id"), text, id));
    }
    Ok(columns)
}

/// The context of `base_events_select.sql`: the events of `window` (or all of them), filtered
/// and deduplicated, reduced to the columns the plan reads.
pub(super) fn base_events_context(w: &StageWriter<'_>, window: bool) -> Result<Value> {
    let d = w.dialect;
    let vars = &w.plan.vars;
    let exact = w.plan.semantics == Semantics::Exact;
    let columns: Vec<Value> = filtered_event_columns(w)?
        .into_iter()
        .map(|(name, _, expr)| json!({"name": name, "expr": expr}))
        .collect();
    Ok(json!({
        "columns": columns,
        "window": window,
        // exact mode: leave out events a stored window already read
        "stored_filter": window,
        // only a stored window's order matters (`filtered_events`); compat keeps upstream's
        // ranking, NULL event_ids included
        "ordered_dedup": window && exact && d.ordered_dedup(),
        "lower_operator": if exact { ">=" } else { ">" },
        "lower": d.timestamp_literal(w.spec.window.lower),
        "upper": d.timestamp_literal(w.spec.window.upper),
        "app_ids": vars.app_ids.iter().map(|a| d.string_literal(a)).collect::<Vec<_>>(),
        "events_to_include": vars.events_to_include.iter().map(|e| d.string_literal(e)).collect::<Vec<_>>(),
        "custom_filter": vars.custom_filter.as_ref().map(|f| f.to_sql()).unwrap_or_default(),
        "event_date": d.date_of("events.derived_tstamp"),
        "event_types": expr::event_types(d, &w.plan.event_types, "events", false),
    }))
}

fn base_events(w: &mut StageWriter<'_>) -> Result<()> {
    let context = base_events_context(w, true)?;
    w.emit("base_events_this_run.sql", context)
}

/// Base events already hold exactly `filtered_events`' columns. Compat mode filters the event
/// types only after deduplicating (upstream's order); exact mode filtered before, so its base
/// events table is this stage's table too (`Tables::new`) and nothing is copied.
fn filtered_events_this_run(w: &mut StageWriter<'_>) -> Result<()> {
    if w.plan.semantics == Semantics::Exact {
        return Ok(());
    }
    let columns: Vec<String> = filtered_event_columns(w)?
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let event_types = expr::event_types(w.dialect, &w.plan.event_types, "events", true);
    w.emit(
        "filtered_events_this_run.sql",
        json!({"columns": columns, "event_types": event_types}),
    )
}

fn filtered_events(w: &mut StageWriter<'_>) -> Result<()> {
    if !w.spec.upsert_filtered_events {
        return Ok(());
    }
    if w.plan.semantics == Semantics::Compat {
        // upstream's merge only matches stored copies within the upsert lookback
        let lookback = w.dialect.add_days(
            "MIN(derived_tstamp)",
            -i64::from(w.plan.vars.upsert_lookback_days),
        );
        w.emit(
            "filtered_events_delete.sql",
            json!({"lookback_lower": lookback}),
        )?;
    }
    let names: Vec<String> = filtered_event_columns(w)?
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let (target, source) = (
        w.tables.get("filtered_events").to_string(),
        w.tables.get("filtered_events_this_run").to_string(),
    );
    w.emit(
        "insert_all.sql",
        json!({"target": target, "source": source, "columns": names, "order_by": []}),
    )
}

fn days_to_process(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    let vars = &w.plan.vars;
    match w.plan.semantics {
        Semantics::Compat => {
            let rule = match d.compat_delayed_rule() {
                DelayedRule::NotAnyLoadDate => "not_any_load_date",
                DelayedRule::NoSameDayLoad => "no_same_day_load",
            };
            let max_dates = vars.late_event_lookback_days.max(vars.backfill_limit_days);
            w.emit(
                "days_to_process_compat.sql",
                json!({
                    "delayed_rule": rule,
                    "load_date": d.date_of("load_tstamp"),
                    "min_late_events": vars.min_late_events_to_process,
                    "max_dates": max_dates,
                }),
            )
        }
        Semantics::Exact => {
            let newest = d.add_days("MAX(event_date)", -i64::from(vars.late_event_lookback_days));
            w.emit(
                "days_to_process_exact.sql",
                json!({
                    "newest_minus_lookback": d.date_of(&newest),
                    "min_late_events": vars.min_late_events_to_process,
                }),
            )
        }
    }
}

/// The daily partial columns (`daily_select.sql`) and the window columns compat mode's first/last
/// need before them.
pub(super) fn daily_columns(w: &StageWriter<'_>) -> (Vec<Value>, Vec<Value>) {
    let d = w.dialect;
    let mut windows = Vec::new();
    let mut columns = Vec::new();
    for column in &w.plan.daily {
        let window_name = format!("window_{}", column.name);
        if let Some(window) = expr::daily_window(d, &column.partial) {
            windows.push(json!({"name": d.ident(&window_name), "expr": window}));
        }
        let aggregate = expr::daily_aggregate(d, &column.partial, &window_name);
        columns.push(json!({"name": d.ident(&column.name), "expr": aggregate}));
    }
    (windows, columns)
}

fn daily_aggregates_this_run(w: &mut StageWriter<'_>) -> Result<()> {
    let (windows, columns) = daily_columns(w);
    w.emit(
        "daily_aggregates_this_run.sql",
        json!({"windows": windows, "daily_columns": columns, "shape_only": false}),
    )
}

fn daily_aggregates(w: &mut StageWriter<'_>) -> Result<()> {
    let (target, source) = (
        w.tables.get("daily_aggregates").to_string(),
        w.tables.get("daily_aggregates_this_run").to_string(),
    );
    let exact = w.plan.semantics == Semantics::Exact;
    if exact {
        // reads the daily rows the recomputed pairs replace: before they are deleted
        lifetime::merge(w)?;
    }
    w.emit("daily_aggregates_delete.sql", json!({}))?;
    let mut columns = vec![];
    if w.plan.semantics == Semantics::Compat {
        columns.push("attribute_key_date_id".to_string());
    }
    columns.extend(["attribute_key".to_string(), "event_date".to_string()]);
    columns.extend(w.plan.daily.iter().map(|c| c.name.clone()));
    columns.push("last_event_tstamp".into());
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    insert_ordered(w, &target, &source, &columns, &["event_date"])?;
    // the keys whose attributes this window changed, kept until the attributes are refreshed;
    // with no stored window end the refresh recomputes every key and needs no list
    if exact && w.spec.attributes_window_end.is_some() {
        w.emit("attributes_pending_insert.sql", json!({}))?;
    }
    Ok(())
}

fn incremental_manifest(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    // upstream's manifest moves with the events a window read; an attributes-only window read none
    if !w.spec.attributes_only {
        let models: Vec<String> = tracked_model_names(&w.plan.project)
            .iter()
            .map(|m| d.string_literal(m))
            .collect();
        w.emit("incremental_manifest_next.sql", json!({"models": models}))?;
        let (target, source) = (
            w.tables.get("incremental_manifest").to_string(),
            w.tables.get("incremental_manifest_this_run").to_string(),
        );
        replace_by_key(
            w,
            &target,
            &source,
            "model",
            &["model", "first_success", "last_success"],
        )?;
    }
    let window = w.spec.window;
    let watermark = format!(
        "COALESCE((SELECT MAX(load_tstamp) FROM {} WHERE load_tstamp >= {} AND load_tstamp < {}), {})",
        w.tables.events,
        d.timestamp_literal(window.lower),
        d.timestamp_literal(window.upper),
        d.timestamp_literal(w.spec.watermark)
    );
    let attributes_window_end = if w.spec.refresh_attributes {
        Some(attributes::window_end(w.plan, w.spec.today))
    } else {
        w.spec.attributes_window_end
    };
    let run_state = w.tables.get("run_state").to_string();
    w.emit("delete_all.sql", json!({"table": run_state}))?;
    w.emit(
        "run_state_insert.sql",
        json!({
            "semantics": d.string_literal(w.plan.semantics.as_str()),
            "fingerprint": d.string_literal(&w.plan.fingerprint()),
            "watermark": watermark,
            "attributes_window_end": attributes_window_end
                .map_or_else(|| "CAST(NULL AS DATE)".to_string(), |day| d.date_literal(day)),
        }),
    )
}
