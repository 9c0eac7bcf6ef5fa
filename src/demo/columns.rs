//! The layout of `atomic.events` and an event's row in it.
//!
//! The layout is a contract the engine relies on: Snowflake's atomic layout in DuckDB.
//! Self-describing data lives in JSON columns named by schema major version, contexts as arrays of
//! objects and unstructured events as objects, with the field names of the Iglu schemas (camelCase,
//! except the ecommerce transaction context, whose schema is snake_case). A column is NULL when
//! the event does not carry that entity.

use duckdb::types::{TimeUnit, Value};
use serde_json::json;

use super::catalog::Device;
use super::events::{Event, Payload, Transaction};

/// `(name, DuckDB type)` of every column of `atomic.events`, in table order.
pub const COLUMNS: &[(&str, &str)] = &[
    ("app_id", "VARCHAR"),
    ("platform", "VARCHAR"),
    ("etl_tstamp", "TIMESTAMP"),
    ("collector_tstamp", "TIMESTAMP"),
    ("dvce_created_tstamp", "TIMESTAMP"),
    ("event", "VARCHAR"),
    ("event_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("domain_userid", "VARCHAR"),
    ("network_userid", "VARCHAR"),
    ("domain_sessionid", "VARCHAR"),
    ("domain_sessionidx", "INTEGER"),
    ("geo_country", "VARCHAR"),
    ("geo_region", "VARCHAR"),
    ("geo_city", "VARCHAR"),
    ("geo_timezone", "VARCHAR"),
    ("page_url", "VARCHAR"),
    ("page_title", "VARCHAR"),
    ("page_referrer", "VARCHAR"),
    ("page_urlhost", "VARCHAR"),
    ("page_urlpath", "VARCHAR"),
    ("refr_medium", "VARCHAR"),
    ("refr_source", "VARCHAR"),
    ("mkt_medium", "VARCHAR"),
    ("mkt_source", "VARCHAR"),
    ("mkt_campaign", "VARCHAR"),
    ("useragent", "VARCHAR"),
    ("br_lang", "VARCHAR"),
    ("os_timezone", "VARCHAR"),
    ("dvce_type", "VARCHAR"),
    ("tr_total", "DOUBLE"),
    ("dvce_sent_tstamp", "TIMESTAMP"),
    ("derived_tstamp", "TIMESTAMP"),
    ("event_vendor", "VARCHAR"),
    ("event_name", "VARCHAR"),
    ("event_format", "VARCHAR"),
    ("event_version", "VARCHAR"),
    ("load_tstamp", "TIMESTAMP"),
    ("contexts_nl_basjes_yauaa_context_1", "JSON"),
    ("contexts_com_snowplowanalytics_snowplow_web_page_1", "JSON"),
    (
        "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1",
        "JSON",
    ),
    (
        "contexts_com_snowplowanalytics_snowplow_media_player_2",
        "JSON",
    ),
    // The unstructured event columns, in the order of `unstruct` below.
    (
        "unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1",
        "JSON",
    ),
    (
        "unstruct_event_com_snowplowanalytics_snowplow_media_player_event_1",
        "JSON",
    ),
    (
        "unstruct_event_com_snowplowanalytics_snowplow_link_click_1",
        "JSON",
    ),
    (
        "unstruct_event_com_snowplowanalytics_snowplow_focus_form_1",
        "JSON",
    ),
    (
        "unstruct_event_com_snowplowanalytics_snowplow_change_form_1",
        "JSON",
    ),
];

const UNSTRUCT_COLUMNS: usize = 5;

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn optional(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}

fn timestamp(ms: i64) -> Value {
    Value::Timestamp(TimeUnit::Millisecond, ms)
}

fn document(value: Option<serde_json::Value>) -> Value {
    value.map_or(Value::Null, |v| Value::Text(v.to_string()))
}

fn amount(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// The event's values in `COLUMNS` order.
pub(crate) fn row(event: &Event) -> Vec<Value> {
    let (s, p, t, kind) = (&*event.session, &*event.page, &event.times, event.kind);
    let order = event.payload.transaction();
    let mut row = vec![
        text(s.app_id),
        text("web"),
        timestamp(t.etl),
        timestamp(t.collector),
        timestamp(t.dvce_created),
        text(kind.event),
        text(&event.event_id),
        optional(s.user_id.as_deref()),
        optional(s.domain_userid.as_deref()),
        optional(s.network_userid.as_deref()),
        optional(s.domain_sessionid.as_deref()),
        s.domain_sessionidx.map_or(Value::Null, Value::Int),
        optional(s.place.map(|g| g.country)),
        optional(s.place.and_then(|g| g.region)),
        optional(s.place.map(|g| g.city)),
        optional(s.place.map(|g| g.timezone)),
        text(&p.url),
        text(p.title),
        optional(p.referrer.as_deref()),
        text(p.host),
        text(p.path),
        optional(p.refr_medium),
        optional(p.refr_source),
        optional(p.mkt.map(|m| m.0)),
        optional(p.mkt.map(|m| m.1)),
        optional(p.mkt.map(|m| m.2)),
        optional(s.useragent.then_some(s.device.useragent)),
        text(s.br_lang),
        text(s.os_timezone),
        text(s.device.dvce_type()),
        // The ecommerce tracker leaves tr_total empty; the demo fills it so that there is an
        // atomic numeric column to aggregate.
        order.map_or(Value::Null, |o| Value::Double(amount(o.revenue_cents))),
        timestamp(t.dvce_sent),
        timestamp(t.derived),
        text(kind.vendor),
        text(kind.name),
        text("jsonschema"),
        text(kind.version),
        timestamp(t.load),
        document(s.useragent.then(|| yauaa(s.device))),
        document(Some(json!([{ "id": p.page_view_id }]))),
        document(order.map(transaction)),
        document(media_player(&event.payload)),
    ];
    let mut unstruct_values = vec![Value::Null; UNSTRUCT_COLUMNS];
    if let Some((slot, value)) = unstruct(&event.payload) {
        unstruct_values[slot] = document(Some(value));
    }
    row.extend(unstruct_values);
    debug_assert_eq!(row.len(), COLUMNS.len());
    row
}

/// The unstructured event: its slot among the unstruct columns and its document.
fn unstruct(payload: &Payload) -> Option<(usize, serde_json::Value)> {
    match payload {
        Payload::None => None,
        Payload::Ecommerce(action, _) => Some((0, json!({ "type": action }))),
        Payload::Media(m) => Some((1, json!({ "type": m.media_type, "label": m.video.label }))),
        Payload::LinkClick(target) => Some((2, json!({ "targetUrl": target }))),
        Payload::FocusForm(f) => Some((
            3,
            json!({
                "formId": f.form_id, "elementId": f.element_id, "nodeName": f.node_name,
                "elementType": f.input_type, "value": null,
            }),
        )),
        Payload::ChangeForm(f) => Some((
            4,
            json!({
                "formId": f.form_id, "elementId": f.element_id, "nodeName": f.node_name,
                "type": f.input_type, "value": f.value,
            }),
        )),
    }
}

fn media_player(payload: &Payload) -> Option<serde_json::Value> {
    let Payload::Media(m) = payload else {
        return None;
    };
    Some(json!([{
        "currentTime": m.position_s, "duration": m.video.duration_s, "ended": m.ended,
        "paused": m.paused, "muted": false, "volume": 80, "playbackRate": 1, "livestream": false,
        "label": m.video.label, "mediaType": "video",
    }]))
}

fn transaction(t: &Transaction) -> serde_json::Value {
    json!([{
        "transaction_id": t.id,
        "revenue": amount(t.revenue_cents),
        "currency": t.currency,
        "payment_method": t.payment_method,
        "total_quantity": t.quantity,
        "discount_code": t.discount.map(|d| d.0),
        "discount_amount": t.discount.map(|d| amount(d.1)),
        "credit_order": false,
    }])
}

/// The YAUAA enrichment's context, with the fields attributes commonly read.
fn yauaa(d: &Device) -> serde_json::Value {
    json!([{
        "deviceClass": d.device_class,
        "deviceBrand": d.device_brand,
        "operatingSystemClass": d.os_class(),
        "operatingSystemName": d.os_name,
        "operatingSystemVersion": d.os_version,
        "agentClass": "Browser",
        "agentName": d.agent_name,
        "agentVersion": d.agent_version,
        "agentNameVersion": format!("{}{}", d.agent_name, d.agent_version),
        "layoutEngineName": d.layout_engine,
    }])
}
