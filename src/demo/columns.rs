//! The layout of `atomic.events`, and an event's record in the CSV file the table is loaded from.
//!
//! The layout is a contract the engine relies on: Snowflake's atomic layout in DuckDB.
//! Self-describing data lives in JSON columns named by schema major version, contexts as arrays of
//! objects and unstructured events as objects, with the field names of the Iglu schemas (camelCase,
//! except the ecommerce transaction context, whose schema is snake_case). A column is NULL when
//! the event does not carry that entity.
//!
//! Rows go through a CSV file rather than the appender because binding ~50 values per row one by
//! one costs seconds per 100k rows in debug builds, while DuckDB's CSV reader takes a fraction of
//! one. Timestamps travel as epoch milliseconds, so no date formatting happens on either side.

use std::fmt::{Display, Write};

use serde_json::json;

use super::catalog::Device;
use super::events::{Event, Payload, Transaction};

/// `(name, DuckDB type)` of every column of `atomic.events`, in table order.
#[rustfmt::skip]
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
    ("contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1", "JSON"),
    ("contexts_com_snowplowanalytics_snowplow_media_player_2", "JSON"),
    // The unstructured event columns, in the order of `unstruct` below.
    ("unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1", "JSON"),
    ("unstruct_event_com_snowplowanalytics_snowplow_media_player_event_1", "JSON"),
    ("unstruct_event_com_snowplowanalytics_snowplow_link_click_1", "JSON"),
    ("unstruct_event_com_snowplowanalytics_snowplow_focus_form_1", "JSON"),
    ("unstruct_event_com_snowplowanalytics_snowplow_change_form_1", "JSON"),
];

const UNSTRUCT_COLUMNS: usize = 5;

/// A CSV record being written, in the dialect `read_csv` is told to expect: comma separated,
/// strings quoted with `"` doubled, NULL an empty unquoted field.
struct Record<'a> {
    out: &'a mut String,
    fields: usize,
}

impl Record<'_> {
    fn next_field(&mut self) {
        if self.fields > 0 {
            self.out.push(',');
        }
        self.fields += 1;
    }

    fn null(&mut self) {
        self.next_field();
    }

    fn text(&mut self, value: &str) {
        self.next_field();
        self.out.push('"');
        if value.contains('"') {
            self.out.push_str(&value.replace('"', "\"\""));
        } else {
            self.out.push_str(value);
        }
        self.out.push('"');
    }

    fn optional(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    fn number(&mut self, value: Option<impl Display>) {
        self.next_field();
        if let Some(value) = value {
            write!(self.out, "{value}").expect("writing to a String cannot fail");
        }
    }

    fn document(&mut self, value: Option<serde_json::Value>) {
        self.optional(value.map(|v| v.to_string()).as_deref());
    }
}

fn amount(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Appends the event's CSV record, fields in `COLUMNS` order, timestamps in epoch milliseconds.
pub(crate) fn write_record(out: &mut String, event: &Event) {
    let (s, p, t, kind) = (&*event.session, &*event.page, &event.times, event.kind);
    let order = event.payload.transaction();
    let mut r = Record { out, fields: 0 };
    r.text(s.app_id);
    r.text("web");
    r.number(Some(t.etl));
    r.number(Some(t.collector));
    r.number(Some(t.dvce_created));
    r.text(kind.event);
    r.text(&event.event_id);
    r.optional(s.user_id.as_deref());
    r.optional(s.domain_userid.as_deref());
    r.optional(s.network_userid.as_deref());
    r.optional(s.domain_sessionid.as_deref());
    r.number(s.domain_sessionidx);
    r.optional(s.place.map(|g| g.country));
    r.optional(s.place.and_then(|g| g.region));
    r.optional(s.place.map(|g| g.city));
    r.optional(s.place.map(|g| g.timezone));
    r.text(&p.url);
    r.text(p.title);
    r.optional(p.referrer.as_deref());
    r.text(p.host);
    r.text(p.path);
    r.optional(p.refr_medium);
    r.optional(p.refr_source);
    r.optional(p.mkt.map(|m| m.0));
    r.optional(p.mkt.map(|m| m.1));
    r.optional(p.mkt.map(|m| m.2));
    r.optional(s.yauaa.is_some().then_some(s.device.useragent));
    r.text(s.br_lang);
    r.text(s.os_timezone);
    r.text(s.device.dvce_type());
    // The ecommerce tracker leaves tr_total empty; the demo fills it so that there is an atomic
    // numeric column to aggregate.
    r.number(order.map(|o| amount(o.revenue_cents)));
    r.number(Some(t.dvce_sent));
    r.number(Some(t.derived));
    r.text(kind.vendor);
    r.text(kind.name);
    r.text("jsonschema");
    r.text(kind.version);
    r.number(Some(t.load));
    r.optional(s.yauaa.as_deref());
    r.text(&format!(r#"[{{"id":"{}"}}]"#, p.page_view_id));
    r.document(order.map(transaction));
    r.document(media_player(&event.payload));
    let (slot, document) = unstruct(&event.payload).unzip();
    let mut document = document;
    for i in 0..UNSTRUCT_COLUMNS {
        r.document(if slot == Some(i) {
            document.take()
        } else {
            None
        });
    }
    debug_assert_eq!(r.fields, COLUMNS.len());
    r.out.push('\n');
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
pub(crate) fn yauaa(d: &Device) -> String {
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
    .to_string()
}
