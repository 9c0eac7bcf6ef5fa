//! The template contexts several stages share: `filtered_events`' columns, the base events'
//! selection (`base_events_select.sql`, also read by `plan`'s previews and the one-scan query),
//! and the daily partial columns.

use serde_json::{Value, json};

use super::expr;
use super::writer::StageWriter;
use crate::error::Result;
use crate::project::Semantics;
use crate::project::group::ValueType;

/// (quoted name, type, expression over `events`) of every `filtered_events` column.
pub(super) fn filtered_event_columns(w: &StageWriter<'_>) -> Result<Vec<(String, String, String)>> {
    let d = w.dialect;
    let text = d.type_name(ValueType::Text).to_string();
    let ts = d.timestamp_type().to_string();
    let key = key_value(w)?;
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
        let expr = match property.stored {
            None => expr::property_value(d, &property.property, property.value_type)?,
            Some(stored) => expr::stored_value(d, &property.property, stored)?,
        };
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

/// The key of an events row: its key column, or the key's property read as text.
pub(super) fn key_value(w: &StageWriter<'_>) -> Result<String> {
    let d = w.dialect;
    Ok(match &w.plan.key_property {
        None => format!("events.{}", d.ident(&w.plan.key_column)),
        Some(path) => d.property(path, ValueType::Text)?,
    })
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
        "events": w.events_read(),
        // a shared read holds every event's load, and the rest only of the rows some group keeps
        "shared": w.spec.events_source.is_some(),
        "columns": columns,
        "key_value": key_value(w)?,
        "backfill_since": w.plan.backfill_since.map(|at| d.timestamp_literal(at)),
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

/// The daily partial columns (`daily_select.sql`) and the window columns compat mode's first/last
/// need before them.
pub(super) fn daily_columns(w: &StageWriter<'_>) -> (Vec<Value>, Vec<Value>) {
    let d = w.dialect;
    let mut window_columns = Vec::new();
    let mut columns = Vec::new();
    for column in &w.plan.daily {
        let window_name = format!("window_{}", column.name);
        if let Some(window) = expr::daily_window(d, &column.partial) {
            window_columns.push(json!({"name": d.ident(&window_name), "expr": window}));
        }
        let aggregate = expr::daily_aggregate(d, &column.partial, &window_name);
        columns.push(json!({"name": d.ident(&column.name), "expr": aggregate}));
    }
    (window_columns, columns)
}

/// Where the outputs without a period come from.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Lifetime {
    /// Folded from every daily row, like the windowed ones (compat, the one-scan query).
    Folded,
    /// Exact mode: the key's stored lifetime partials (`state.<daily column>`, `lifetime.rs`).
    Partials,
    /// Exact mode, no key's partials changed since the attributes table was built: the key's
    /// stored row (`previous.<output>`), as it is.
    StoredRow,
}
