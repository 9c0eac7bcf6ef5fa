//! One function per stage: what each stage's statements are made of.

use serde_json::{Value, json};

use super::context::{base_events_context, daily_columns, filtered_event_columns};
use super::writer::StageWriter;
use super::{
    COUNTED_PERSISTENT, PERSISTENT, attributes, expr, lifetime, tracked_model_names, value_counts,
};
use crate::dag::Stage;
use crate::dialect::DelayedRule;
use crate::error::Result;
use crate::project::Semantics;

/// Upstream's label for the daily manifest rows; only ever a constant.
const SOURCE_MODEL: &str = "filtered_events";
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
            w.replace_by_key(target, source, "event_date", &columns)
        }
        Stage::DailyAggregates => daily_aggregates(w),
        Stage::Attributes => attributes::attributes(w),
        Stage::IncrementalManifest => incremental_manifest(w),
    }
}

fn setup(w: &mut StageWriter<'_>) -> Result<()> {
    if w.spec.stored_tables_exist {
        return Ok(());
    }
    for schema in w.tables.schemas.clone() {
        w.emit("setup_schema.sql", json!({"schema": schema}))?;
    }
    let counted = !w.plan.counted.is_empty();
    if w.spec.full_refresh {
        let counted_tables = if counted { COUNTED_PERSISTENT } else { &[] };
        for table in PERSISTENT.iter().chain(counted_tables) {
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
    let (window_columns, daily_columns) = daily_columns(w);
    w.emit(
        "create_daily_aggregates.sql",
        json!({
            "window_columns": window_columns,
            "daily_columns": daily_columns,
            "shape_only": true,
            "pair_events": false,
        }),
    )?;
    if w.plan.semantics == Semantics::Exact {
        lifetime::create(w)?;
    }
    if counted {
        value_counts::create(w)?;
    }
    Ok(())
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

fn daily_aggregates_this_run(w: &mut StageWriter<'_>) -> Result<()> {
    // the value counts read the same events: found once, not once per counted slot
    let pair_events = !w.plan.counted.is_empty();
    if pair_events {
        w.emit("pair_events_this_run.sql", json!({"shape_only": false}))?;
    }
    let (window_columns, columns) = daily_columns(w);
    w.emit(
        "daily_aggregates_this_run.sql",
        json!({
            "window_columns": window_columns,
            "daily_columns": columns,
            "shape_only": false,
            "pair_events": pair_events,
        }),
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
        if !w.plan.counted.is_empty() {
            value_counts::refresh(w)?;
        }
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
    w.insert_ordered(&target, &source, &columns, &["event_date"])?;
    // the keys whose attributes this window changed, kept until the attributes are refreshed;
    // with no stored window end the refresh recomputes every key and needs no list
    if exact && w.spec.stored_period_end.is_some() {
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
        w.replace_by_key(
            &target,
            &source,
            "model",
            &["model", "first_success", "last_success"],
        )?;
    }
    let window = w.spec.window;
    // read from where the base events came (a shared read holds every event's load time)
    let watermark = format!(
        "COALESCE((SELECT MAX(load_tstamp) FROM {} WHERE load_tstamp >= {} AND load_tstamp < {}), {})",
        w.events_read(),
        d.timestamp_literal(window.lower),
        d.timestamp_literal(window.upper),
        d.timestamp_literal(w.spec.watermark)
    );
    let attributes_window_end = if w.spec.refresh_attributes {
        Some(w.plan.period_end(w.spec.today))
    } else {
        w.spec.stored_period_end
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
