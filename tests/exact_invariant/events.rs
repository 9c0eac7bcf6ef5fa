//! The random event stream: generated events, and how they are loaded into `atomic.events`.

use chrono::{NaiveDateTime, TimeDelta};
use proptest::prelude::*;

#[derive(Debug, Clone)]
pub struct Event {
    pub event_id: Option<String>,
    pub app_id: String,
    pub load: NaiveDateTime,
    pub derived: NaiveDateTime,
    pub dvce_created: NaiveDateTime,
    pub event_type: usize,
    pub key: Option<String>,
    pub country: Option<String>,
    pub url: Option<String>,
    pub total: Option<f64>,
    pub price: Option<f64>,
    pub category: Option<String>,
    /// `contexts_com_acme_customer_1[0]:id`; `customer_context` says whether the context is there
    /// at all (it can be, with a NULL id).
    pub customer: Option<String>,
    pub customer_context: bool,
    /// The item context's `seen_at`, an ISO timestamp string.
    pub seen_at: Option<NaiveDateTime>,
    /// The item context's `tags`: each tag's `name` (an array of objects, for a nested path).
    pub tags: Option<Vec<Option<String>>>,
    /// `unstruct_event_com_acme_click_1:target`, click events only.
    pub target: Option<String>,
}

/// (name, vendor, version) of the event types in the stream.
pub const TYPES: [(&str, &str, &str); 5] = [
    ("page_view", "com.snowplowanalytics.snowplow", "1-0-0"),
    ("page_view", "com.other", "1-0-0"),
    ("purchase", "com.acme", "1-0-0"),
    ("purchase", "com.acme", "2-0-0"),
    ("click", "com.acme", "1-0-0"),
];

const COUNTRIES: [Option<&str>; 6] = [
    Some("DE"),
    Some("FR"),
    Some("it's"),
    None,
    Some("100%_x"),
    Some("ünï"),
];
const URLS: [Option<&str>; 4] = [Some("/pricing"), Some("/demo"), Some("/a_b"), None];
const TOTALS: [Option<f64>; 4] = [None, Some(1.0), Some(2.5), Some(10.0)];
const CATEGORIES: [Option<&str>; 3] = [Some("shoes"), Some("hats"), None];
const TARGETS: [Option<&str>; 3] = [Some("buy"), Some("nav"), None];

pub fn base_time() -> NaiveDateTime {
    crate::common::timestamp("2024-12-30 00:00:00")
}

/// One generated event's choices: id, key, app, derived offset, lateness class, jitter, type,
/// country, url, total, price, category.
type RawOld = (u8, u8, u8, u16, u8, u32, u8, u8, u8, u8, u8, u8);
/// The current model's fields: customer id, seen_at, tags, click target.
type RawNew = (u8, u8, u8, u8);
pub type RawEvent = (RawOld, RawNew);

pub fn event_strategy() -> impl Strategy<Value = RawEvent> {
    (
        (
            0u8..40,    // event id
            0u8..7,     // key (6 = NULL)
            0u8..10,    // app (0 = other)
            0u16..1000, // derived offset in 15-minute steps
            0u8..4,     // lateness class
            0u32..100_000,
            0u8..5, // type
            0u8..6, // country
            0u8..4, // url
            0u8..4, // total
            0u8..6, // price (5 = NULL)
            0u8..3, // category
        ),
        (
            0u8..6,  // customer: c0..c3, 4 = the context with a NULL id, 5 = no context
            0u8..10, // seen_at: 0..7 hours before derived times 5, else none
            0u8..5,  // tags
            0u8..3,  // click target
        ),
    )
}

pub fn make_events(raw: &[RawEvent]) -> Vec<Event> {
    raw.iter()
        .enumerate()
        .map(|(i, &(old, new))| {
            let (id, key, app, offset, late, jitter, kind, country, url, total, price, category) =
                old;
            let (customer, seen, tags, target) = new;
            let derived = base_time() + TimeDelta::minutes(15 * i64::from(offset));
            let lateness = match late {
                0 => TimeDelta::seconds(i64::from(jitter % 120)),
                1 => TimeDelta::minutes(i64::from(jitter % 180)),
                2 => TimeDelta::hours(i64::from(jitter % 72)),
                _ => TimeDelta::days(3 + i64::from(jitter % 18)),
            };
            Event {
                event_id: (id != 39).then(|| format!("e{id}")),
                app_id: if app == 0 { "other" } else { "web" }.into(),
                // a distinct microsecond per event keeps "first loaded" unambiguous
                load: derived + lateness + TimeDelta::microseconds(i as i64 + 1),
                derived,
                dvce_created: derived - TimeDelta::seconds(3),
                event_type: usize::from(kind),
                key: (key != 6).then(|| format!("u{key}")),
                country: COUNTRIES[usize::from(country)].map(str::to_string),
                url: URLS[usize::from(url)].map(str::to_string),
                total: TOTALS[usize::from(total)],
                price: (price != 5).then(|| f64::from(price) * 1.5),
                category: CATEGORIES[usize::from(category)].map(str::to_string),
                customer: (customer < 4).then(|| format!("c{customer}")),
                customer_context: customer != 5,
                seen_at: (seen < 8).then(|| {
                    derived - TimeDelta::hours(5 * i64::from(seen)) - TimeDelta::seconds(7)
                }),
                tags: match tags {
                    0 => None,
                    1 => Some(vec![Some("red".into())]),
                    2 => Some(vec![Some("red".into()), Some("blue".into())]),
                    3 => Some(vec![Some("red".into()), None]),
                    _ => Some(vec![None, Some("green".into())]),
                },
                target: if kind == 4 {
                    TARGETS[usize::from(target)].map(str::to_string)
                } else {
                    None
                },
            }
        })
        .collect()
}

pub const EVENTS_DDL: &str = "CREATE SCHEMA atomic; CREATE TABLE atomic.events (event_id VARCHAR, app_id VARCHAR, \
    load_tstamp TIMESTAMP, derived_tstamp TIMESTAMP, dvce_created_tstamp TIMESTAMP, event_name VARCHAR, \
    event_vendor VARCHAR, event_version VARCHAR, domain_userid VARCHAR, geo_country VARCHAR, page_url VARCHAR, \
    tr_total DOUBLE, contexts_com_acme_item_1 JSON, contexts_com_acme_customer_1 JSON, \
    unstruct_event_com_acme_click_1 JSON)";

pub fn load(connection: &duckdb::Connection, events: &[&Event]) {
    use serde_json::{Map, Value, json};
    let mut appender = connection.appender_to_db("events", "atomic").unwrap();
    for e in events {
        let (name, vendor, version) = TYPES[e.event_type];
        let item = match (e.price, &e.category, e.seen_at, &e.tags) {
            (None, None, None, None) => None,
            (price, category, seen_at, tags) => {
                let mut item = Map::new();
                item.insert("price".into(), json!(price));
                item.insert("category".into(), json!(category));
                if let Some(at) = seen_at {
                    let text = at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                    item.insert("seen_at".into(), Value::String(text));
                }
                if let Some(tags) = tags {
                    let tags: Vec<Value> = tags.iter().map(|t| json!({"name": t})).collect();
                    item.insert("tags".into(), Value::Array(tags));
                }
                Some(Value::Array(vec![Value::Object(item)]).to_string())
            }
        };
        let customer = e
            .customer_context
            .then(|| json!([{"id": e.customer}]).to_string());
        let click = (e.event_type == 4).then(|| match &e.target {
            Some(target) => json!({"target": target}).to_string(),
            None => json!({}).to_string(),
        });
        appender
            .append_row(duckdb::params![
                e.event_id,
                e.app_id,
                e.load,
                e.derived,
                e.dvce_created,
                name,
                vendor,
                version,
                e.key,
                e.country,
                e.url,
                e.total,
                item,
                customer,
                click
            ])
            .unwrap();
    }
}
