//! Exact mode's invariant (semantics.md section 4), checked with random event streams.
//!
//! Events are loaded in random batches, with `run --until <cut>` after each batch and, at random,
//! further runs with nothing new loaded. Every run has its own "today" (`mock_current_day`, passed
//! as `--vars`), non-decreasing from run to run: it stays put, or moves by one day or by several,
//! so some runs change only today and some change nothing at all. Every run also has its own
//! `now`, one minute after the previous run's. After every run:
//!
//! - the attributes table equals a from-scratch computation written here, plainly in Rust,
//!   independently of the engine's SQL, over the events loaded so far and with that run's today
//!   (semantics.md sections 2.6 and 4);
//! - `updated_at` (section 2.6) moved exactly where the values moved: a key that is new, or whose
//!   values (every column but `updated_at`, compared as the table's text) differ from the previous
//!   run's, has this run's `now`; every other key keeps the `updated_at` it had.
//!
//! Last, `--full-refresh` (with the last run's today) gives the same values as the incremental
//! runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use common::{TempProject, rows};
use proptest::prelude::*;
use sigbatch::project::group::Aggregation;

const START: &str = "2025-01-01";
/// The first run's today is this day plus 0 to 4 days (2025-01-05 ..= 2025-01-09).
const FIRST_TODAY: &str = "2025-01-05";
/// The first run's `now`; run i (from 0) runs at this plus i minutes, after every load.
const FIRST_NOW: &str = "2025-03-01 00:00:00";

#[derive(Debug, Clone)]
struct Event {
    event_id: Option<String>,
    app_id: String,
    load: NaiveDateTime,
    derived: NaiveDateTime,
    dvce_created: NaiveDateTime,
    event_type: usize,
    key: Option<String>,
    country: Option<String>,
    url: Option<String>,
    total: Option<f64>,
    price: Option<f64>,
    category: Option<String>,
}

/// (name, vendor, version) of the event types in the stream.
const TYPES: [(&str, &str, &str); 5] = [
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

fn base_time() -> NaiveDateTime {
    common::timestamp("2024-12-30 00:00:00")
}

/// One generated event's choices: id, key, app, derived offset, lateness class, jitter, type,
/// country, url, total, price, category.
type RawEvent = (u8, u8, u8, u16, u8, u32, u8, u8, u8, u8, u8, u8);

fn event_strategy() -> impl Strategy<Value = RawEvent> {
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
    )
}

fn make_events(raw: &[RawEvent]) -> Vec<Event> {
    raw.iter()
        .enumerate()
        .map(
            |(
                i,
                &(id, key, app, offset, late, jitter, kind, country, url, total, price, category),
            )| {
                let derived = base_time() + TimeDelta::minutes(15 * i64::from(offset));
                let lateness = match late {
                    0 => TimeDelta::seconds(i64::from(jitter % 120)),
                    1 => TimeDelta::minutes(i64::from(jitter % 180)),
                    2 => TimeDelta::hours(i64::from(jitter % 72)),
                    _ => TimeDelta::days(3 + i64::from(jitter % 18)),
                };
                Event {
                    event_id: if id == 39 {
                        None
                    } else {
                        Some(format!("e{id}"))
                    },
                    app_id: if app == 0 {
                        "other".into()
                    } else {
                        "web".into()
                    },
                    // a distinct microsecond per event keeps "first loaded" unambiguous
                    load: derived + lateness + TimeDelta::microseconds(i as i64 + 1),
                    derived,
                    dvce_created: derived - TimeDelta::seconds(3),
                    event_type: usize::from(kind),
                    key: if key == 6 {
                        None
                    } else {
                        Some(format!("u{key}"))
                    },
                    country: COUNTRIES[usize::from(country)].map(str::to_string),
                    url: URLS[usize::from(url)].map(str::to_string),
                    total: TOTALS[usize::from(total)],
                    price: if price == 5 {
                        None
                    } else {
                        Some(f64::from(price) * 1.5)
                    },
                    category: CATEGORIES[usize::from(category)].map(str::to_string),
                }
            },
        )
        .collect()
}

// ---- attribute groups ------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Spec {
    name: String,
    aggregation: &'static str,
    types: Vec<usize>,
    property: Option<&'static str>,
    all: Vec<(&'static str, &'static str, serde_json::Value)>,
    any: Vec<(&'static str, &'static str, serde_json::Value)>,
    period: Option<u32>,
    default: Option<serde_json::Value>,
}

const PROPERTIES: [(&str, &str); 4] = [
    ("geo_country", "string"),
    ("tr_total", "double"),
    ("contexts_com_acme_item_1[0]:price", "double"),
    ("contexts_com_acme_item_1[0]:category", "string"),
];

fn criterion(pick: u8) -> (&'static str, &'static str, serde_json::Value) {
    use serde_json::json;
    match pick % 9 {
        0 => ("geo_country", "=", json!("DE")),
        1 => ("geo_country", "!=", json!("FR")),
        2 => ("page_url", "like", json!("%a_b%")),
        3 => ("page_url", "like", json!("/pri%")),
        4 => ("geo_country", "in", json!(["DE", "it's", "100%_x"])),
        5 => ("tr_total", "<", json!(2.5)),
        6 => ("tr_total", ">=", json!(2.5)),
        7 => ("tr_total", ">", json!(1)),
        _ => ("tr_total", "<=", json!(1.0)),
    }
}

fn spec_strategy() -> impl Strategy<Value = Vec<Spec>> {
    let one = (
        0u8..8,
        0u8..4,
        1u8..32,
        0u8..4,
        0u8..3,
        0u8..9,
        0u8..9,
        any::<bool>(),
    );
    proptest::collection::vec(one, 3..9).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(
                |(i, (aggregation, property, types, period, criteria, a, b, default))| {
                    let aggregation = Aggregation::ALL[usize::from(aggregation)].0;
                    let (property, _) = PROPERTIES[usize::from(property)];
                    let numeric_only = matches!(aggregation, "sum" | "min" | "max" | "mean");
                    let property = match aggregation {
                        "counter" => None,
                        _ if numeric_only
                            && !property.contains("total")
                            && !property.contains("price") =>
                        {
                            Some("tr_total")
                        }
                        _ => Some(property),
                    };
                    let types: Vec<usize> = (0..5).filter(|t| types & (1 << t) != 0).collect();
                    let (all, any) = match criteria {
                        0 => (vec![], vec![]),
                        1 => (vec![criterion(a)], vec![]),
                        _ => (vec![criterion(a)], vec![criterion(b), criterion(a + 4)]),
                    };
                    let default = (default
                        && matches!(aggregation, "first" | "last")
                        && property.is_some_and(|p| !p.contains("price") && !p.contains("total")))
                    .then(|| serde_json::json!("none"));
                    Spec {
                        name: format!("attr_{i}_{aggregation}"),
                        aggregation,
                        types: if types.is_empty() { vec![0] } else { types },
                        property,
                        all,
                        any,
                        period: [None, Some(1), Some(3), Some(7)][usize::from(period)],
                        default,
                    }
                },
            )
            .collect()
    })
}

fn value_type(spec: &Spec) -> &'static str {
    match (spec.aggregation, spec.property) {
        ("counter", _) => "int64",
        ("unique_list", Some(p)) if p.contains("price") || p.contains("total") => "double_list",
        ("unique_list", _) => "string_list",
        (_, Some(p)) if p.contains("price") || p.contains("total") => "double",
        _ => "string",
    }
}

fn group_json(specs: &[Spec]) -> String {
    use serde_json::json;
    let criteria = |list: &[(&str, &str, serde_json::Value)]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|(p, o, v)| json!({"property": p, "operator": o, "value": v}))
            .collect()
    };
    let attributes: Vec<serde_json::Value> = specs
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "type": value_type(s),
                "events": s.types.iter().map(|t| {
                    let (name, vendor, version) = TYPES[*t];
                    // leave the version off purchase 1-0-0 so it matches every version
                    if *t == 2 { json!({"name": name, "vendor": vendor}) } else { json!({"name": name, "vendor": vendor, "version": version}) }
                }).collect::<Vec<_>>(),
                "aggregation": s.aggregation,
                "property": s.property,
                "criteria": {"all": criteria(&s.all), "any": criteria(&s.any)},
                "period": s.period.map(|d| format!("P{d}D")),
                "default_value": s.default,
            })
        })
        .collect();
    json!({"name": "prop_group", "version": 1, "attribute_key_or_name": "domain_userid", "attributes": attributes}).to_string()
}

// ---- the oracle --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Number(f64),
    Text(String),
}

fn property_value(event: &Event, property: &str) -> Option<Value> {
    match property {
        "geo_country" => event.country.clone().map(Value::Text),
        "page_url" => event.url.clone().map(Value::Text),
        "tr_total" => event.total.map(Value::Number),
        "contexts_com_acme_item_1[0]:price" => event.price.map(Value::Number),
        "contexts_com_acme_item_1[0]:category" => event.category.clone().map(Value::Text),
        other => panic!("unknown property {other}"),
    }
}

/// SQL LIKE: `%` any run, `_` any one character, no escape character.
fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    go(
        &text.chars().collect::<Vec<_>>(),
        &pattern.chars().collect::<Vec<_>>(),
    )
}

fn holds(event: &Event, (property, operator, value): &(&str, &str, serde_json::Value)) -> bool {
    let actual = property_value(event, property);
    let expected = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Number(other.as_f64().unwrap()),
    };
    let compare = |a: &Value, b: &Value| match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match (*operator, &actual) {
        ("!=", None) => true,
        (_, None) => false,
        ("!=", Some(a)) => compare(a, &expected(value)) != Some(std::cmp::Ordering::Equal),
        ("=", Some(a)) => compare(a, &expected(value)) == Some(std::cmp::Ordering::Equal),
        ("<", Some(a)) => compare(a, &expected(value)) == Some(std::cmp::Ordering::Less),
        (">", Some(a)) => compare(a, &expected(value)) == Some(std::cmp::Ordering::Greater),
        ("<=", Some(a)) => matches!(
            compare(a, &expected(value)),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        ),
        (">=", Some(a)) => matches!(
            compare(a, &expected(value)),
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        ),
        ("like", Some(Value::Text(a))) => like(a, value.as_str().unwrap()),
        ("in", Some(a)) => value
            .as_array()
            .unwrap()
            .iter()
            .any(|v| compare(a, &expected(v)) == Some(std::cmp::Ordering::Equal)),
        _ => false,
    }
}

fn type_matches(event: &Event, spec: &Spec) -> bool {
    let (name, vendor, version) = TYPES[event.event_type];
    spec.types.iter().any(|t| {
        let (n, v, ver) = TYPES[*t];
        n == name && v == vendor && (*t == 2 || ver == version)
    })
}

/// Events that count: loaded before `until`, passing the filters, first loaded copy per id.
fn effective_events(events: &[Event], specs: &[Spec], until: NaiveDateTime) -> Vec<Event> {
    let start = NaiveDate::parse_from_str(START, "%Y-%m-%d").unwrap();
    let start_time = start.and_hms_opt(0, 0, 0).unwrap();
    let mut passing: Vec<&Event> = events
        .iter()
        .filter(|e| e.load >= start_time && e.load < until)
        .filter(|e| e.app_id == "web" && e.event_id.is_some() && e.key.is_some())
        .filter(|e| e.derived.date() >= start)
        .filter(|e| specs.iter().any(|s| type_matches(e, s)))
        .collect();
    passing.sort_by_key(|e| e.load);
    let mut seen = BTreeSet::new();
    passing
        .into_iter()
        .filter(|e| seen.insert(e.event_id.clone()))
        .cloned()
        .collect()
}

fn oracle(
    events: &[Event],
    specs: &[Spec],
    until: NaiveDateTime,
    today: NaiveDate,
    include_today: bool,
) -> BTreeMap<String, Vec<Option<Value>>> {
    let upper = if include_today {
        today + chrono::Days::new(1)
    } else {
        today
    };
    let effective = effective_events(events, specs, until);
    let keys: BTreeSet<String> = effective.iter().filter_map(|e| e.key.clone()).collect();
    let mut table = BTreeMap::new();
    for key in keys {
        let mine: Vec<&Event> = effective
            .iter()
            .filter(|e| e.key.as_deref() == Some(&key))
            .collect();
        let row = specs
            .iter()
            .map(|spec| {
                let mut matching: Vec<&&Event> = mine
                    .iter()
                    .filter(|e| type_matches(e, spec))
                    .filter(|e| spec.all.iter().all(|c| holds(e, c)))
                    .filter(|e| spec.any.is_empty() || spec.any.iter().any(|c| holds(e, c)))
                    .filter(|e| {
                        spec.period.is_none_or(|n| {
                            let day = e.derived.date();
                            day >= upper - chrono::Days::new(u64::from(n)) && day < upper
                        })
                    })
                    .collect();
                matching.sort_by(|a, b| {
                    (a.derived, a.load, &a.event_id).cmp(&(b.derived, b.load, &b.event_id))
                });
                let values: Vec<Value> = matching
                    .iter()
                    .filter_map(|e| spec.property.and_then(|p| property_value(e, p)))
                    .collect();
                let numbers: Vec<f64> = values
                    .iter()
                    .filter_map(|v| {
                        if let Value::Number(n) = v {
                            Some(*n)
                        } else {
                            None
                        }
                    })
                    .collect();
                let result = match spec.aggregation {
                    "counter" => Some(Value::Number(matching.len() as f64)),
                    "sum" => Some(Value::Number(numbers.iter().sum())),
                    "min" => numbers.iter().cloned().reduce(f64::min).map(Value::Number),
                    "max" => numbers.iter().cloned().reduce(f64::max).map(Value::Number),
                    "mean" => (!numbers.is_empty())
                        .then(|| Value::Number(numbers.iter().sum::<f64>() / numbers.len() as f64)),
                    "first" => values.first().cloned(),
                    "last" => values.last().cloned(),
                    _ => {
                        let set: BTreeSet<String> = values
                            .iter()
                            .map(|v| match v {
                                Value::Text(t) => t.clone(),
                                Value::Number(n) => format!("{n:?}"),
                            })
                            .collect();
                        (!set.is_empty())
                            .then(|| Value::Text(set.into_iter().collect::<Vec<_>>().join(", ")))
                    }
                };
                result.or_else(|| {
                    spec.default
                        .as_ref()
                        .map(|d| Value::Text(d.as_str().unwrap().to_string()))
                })
            })
            .collect();
        table.insert(key, row);
    }
    table
}

// ---- the engine --------------------------------------------------------------------------------

fn load(connection: &duckdb::Connection, events: &[&Event]) {
    let mut appender = connection.appender_to_db("events", "atomic").unwrap();
    for e in events {
        let (name, vendor, version) = TYPES[e.event_type];
        let item = match (e.price, &e.category) {
            (None, None) => None,
            (price, category) => {
                Some(serde_json::json!([{"price": price, "category": category}]).to_string())
            }
        };
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
                item
            ])
            .unwrap();
    }
}

fn engine_table(project: &TempProject, specs: &[Spec]) -> BTreeMap<String, Vec<Option<String>>> {
    let connection = project.connection();
    let (names, data) = rows(
        &connection,
        "SELECT * EXCLUDE (updated_at) FROM main_derived.prop_group_1_attributes",
    );
    assert_eq!(names.len(), specs.len() + 1, "{names:?}");
    data.into_iter()
        .map(|row| (row[0].clone().unwrap(), row[1..].to_vec()))
        .collect()
}

/// Each key's `updated_at`, read apart from the values.
fn engine_updated_at(project: &TempProject) -> BTreeMap<String, Option<NaiveDateTime>> {
    let connection = project.connection();
    let (_, data) = rows(
        &connection,
        "SELECT domain_userid, CAST(updated_at AS VARCHAR) FROM main_derived.prop_group_1_attributes",
    );
    data.into_iter()
        .map(|row| {
            (
                row[0].clone().unwrap(),
                row[1].as_deref().map(common::timestamp),
            )
        })
        .collect()
}

/// The table after one run: per key, its values as text (every column but the key and
/// `updated_at`) and its `updated_at`.
type Snapshot = BTreeMap<String, (Vec<Option<String>>, Option<NaiveDateTime>)>;

fn snapshot(project: &TempProject, specs: &[Spec]) -> Result<Snapshot, String> {
    let values = engine_table(project, specs);
    let mut updated = engine_updated_at(project);
    values
        .into_iter()
        .map(|(key, row)| match updated.remove(&key) {
            Some(at) => Ok((key, (row, at))),
            None => Err(format!("key {key} has values but no updated_at row")),
        })
        .collect()
}

/// `updated_at` moves to this run's `now` on every row that is new or whose values changed since
/// the previous run, and on no other row.
fn check_updated_at(
    previous: &Snapshot,
    current: &Snapshot,
    now: NaiveDateTime,
    specs: &[Spec],
) -> Result<(), String> {
    for (key, (values, at)) in current {
        let Some(at) = at else {
            return Err(format!("key {key}: updated_at is NULL"));
        };
        match previous.get(key) {
            None if *at != now => {
                return Err(format!(
                    "key {key} is new in this run but its updated_at is {at}, not this run's now {now}"
                ));
            }
            None => {}
            Some((before, before_at)) => {
                let changed: Vec<String> = specs
                    .iter()
                    .zip(before.iter().zip(values))
                    .filter(|(_, (b, a))| b != a)
                    .map(|(spec, (b, a))| format!("{}: {b:?} -> {a:?}", spec.name))
                    .collect();
                if !changed.is_empty() && *at != now {
                    return Err(format!(
                        "key {key}: values changed ({}) but updated_at is {at}, not this run's now {now}",
                        changed.join(", ")
                    ));
                }
                if changed.is_empty() && Some(*at) != *before_at {
                    return Err(format!(
                        "key {key}: no value changed but updated_at moved from {} to {at}",
                        before_at.map_or("NULL".to_string(), |t| t.to_string())
                    ));
                }
            }
        }
    }
    Ok(())
}

fn same(engine: &Option<String>, oracle: &Option<Value>) -> bool {
    match (engine, oracle) {
        (None, None) => true,
        (Some(a), Some(Value::Number(b))) => a
            .parse::<f64>()
            .is_ok_and(|a| (a - b).abs() < 1e-6 * (1.0 + b.abs())),
        (Some(a), Some(Value::Text(b))) => {
            // unique lists of numbers come back as DuckDB's text of doubles
            a == b
                || a.split(", ")
                    .map(|x| x.parse::<f64>().ok())
                    .eq(b.split(", ").map(|x| x.parse::<f64>().ok()))
                    && a.split(", ").all(|x| x.parse::<f64>().is_ok())
        }
        _ => false,
    }
}

fn compare(
    engine: &BTreeMap<String, Vec<Option<String>>>,
    expected: &BTreeMap<String, Vec<Option<Value>>>,
    specs: &[Spec],
) -> Result<(), String> {
    let engine_keys: Vec<&String> = engine.keys().collect();
    let oracle_keys: Vec<&String> = expected.keys().collect();
    if engine_keys != oracle_keys {
        return Err(format!(
            "keys differ: engine {engine_keys:?}, oracle {oracle_keys:?}"
        ));
    }
    for (key, row) in expected {
        for (i, spec) in specs.iter().enumerate() {
            if !same(&engine[key][i], &row[i]) {
                return Err(format!(
                    "{key}.{}: engine {:?}, oracle {:?} ({spec:?})",
                    spec.name, engine[key][i], row[i]
                ));
            }
        }
    }
    Ok(())
}

const EVENTS_DDL: &str = "CREATE SCHEMA atomic; CREATE TABLE atomic.events (event_id VARCHAR, app_id VARCHAR, \
    load_tstamp TIMESTAMP, derived_tstamp TIMESTAMP, dvce_created_tstamp TIMESTAMP, event_name VARCHAR, \
    event_vendor VARCHAR, event_version VARCHAR, domain_userid VARCHAR, geo_country VARCHAR, page_url VARCHAR, \
    tr_total DOUBLE, contexts_com_acme_item_1 JSON)";

/// One run of the stream: it runs up to `cut` (events loaded before it are in the events table),
/// after loading the batch up to `cut` if `loads`, with its own today and `now`.
#[derive(Debug, Clone)]
struct Run {
    cut: NaiveDateTime,
    loads: bool,
    today: NaiveDate,
    now: NaiveDateTime,
}

/// Extra runs with nothing new loaded after a batch: mostly none, sometimes one or two.
fn repeat_count(pick: u8) -> usize {
    match pick {
        0..=2 => 0,
        3 | 4 => 1,
        _ => 2,
    }
}

/// How far today moves before a run: half the time not at all, else one day or 2 to 10 days.
fn today_move(kind: u8, days: u64) -> u64 {
    match kind {
        0 | 1 => 0,
        2 => 1,
        _ => days,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_stream(
    raw: Vec<RawEvent>,
    specs: Vec<Spec>,
    cuts: Vec<u16>,
    repeats: Vec<u8>,
    first_today: u64,
    moves: Vec<(u8, u64)>,
    lookback: u32,
    backfill: u32,
    include_today: bool,
) -> Result<(), TestCaseError> {
    let events = make_events(&raw);
    let mut cuts: Vec<NaiveDateTime> = cuts
        .into_iter()
        .map(|c| base_time() + TimeDelta::hours(i64::from(c)))
        .collect();
    cuts.sort();
    let end = events.iter().map(|e| e.load).max().unwrap() + TimeDelta::seconds(1);
    cuts.push(end);

    let mut today = NaiveDate::parse_from_str(FIRST_TODAY, "%Y-%m-%d").unwrap()
        + chrono::Days::new(first_today);
    let first_now = common::timestamp(FIRST_NOW);
    let mut runs: Vec<Run> = Vec::new();
    for (i, cut) in cuts.iter().enumerate() {
        for repeat in 0..=repeat_count(repeats[i]) {
            let n = runs.len();
            if n > 0 {
                let (kind, days) = moves[n];
                today = today + chrono::Days::new(today_move(kind, days));
            }
            runs.push(Run {
                cut: *cut,
                loads: repeat == 0,
                today,
                now: first_now + TimeDelta::minutes(n as i64),
            });
        }
    }
    assert!(events.iter().all(|e| e.load < first_now));

    let vars = format!(
        "  snowplow__start_date: '{START}'\n  snowplow__app_id: ['web']\n  snowplow__mock_current_day: '{}'\n  \
         snowplow__late_event_lookback_days: {lookback}\n  snowplow__backfill_limit_days: {backfill}\n  \
         snowplow__include_current_day_in_windows: {include_today}\n",
        runs[0].today
    );
    let project = TempProject::new("exact", &group_json(&specs), &vars);
    project.connection().execute_batch(EVENTS_DDL).unwrap();
    let today_vars = |today: NaiveDate| format!("{{snowplow__mock_current_day: '{today}'}}");

    let mut loaded_until = common::timestamp("2000-01-01 00:00:00");
    let mut previous = Snapshot::new();
    for (i, run) in runs.iter().enumerate() {
        let what = format!(
            "run {i} (up to {}, {}, today {}, now {})",
            run.cut,
            if run.loads {
                "after a new batch"
            } else {
                "nothing new loaded"
            },
            run.today,
            run.now
        );
        if run.loads {
            let batch: Vec<&Event> = events
                .iter()
                .filter(|e| e.load >= loaded_until && e.load < run.cut)
                .collect();
            load(&project.connection(), &batch);
            loaded_until = run.cut;
        }
        project
            .run_with_vars(
                false,
                Some(&run.cut.to_string()),
                &run.now.to_string(),
                Some(&today_vars(run.today)),
            )
            .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
        let expected = oracle(&events, &specs, run.cut, run.today, include_today);
        compare(&engine_table(&project, &specs), &expected, &specs)
            .map_err(|m| TestCaseError::fail(format!("after {what}: {m}")))?;
        let current = snapshot(&project, &specs)
            .map_err(|m| TestCaseError::fail(format!("after {what}: {m}")))?;
        check_updated_at(&previous, &current, run.now, &specs)
            .map_err(|m| TestCaseError::fail(format!("updated_at after {what}: {m}")))?;
        previous = current;
    }

    let last = runs.last().unwrap();
    let incremental = engine_table(&project, &specs);
    project
        .run_with_vars(
            true,
            Some(&end.to_string()),
            &(last.now + TimeDelta::minutes(1)).to_string(),
            Some(&today_vars(last.today)),
        )
        .map_err(|e| TestCaseError::fail(format!("full refresh: {e}")))?;
    prop_assert_eq!(
        engine_table(&project, &specs),
        incremental,
        "full refresh differs from incremental"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn incremental_runs_equal_a_from_scratch_computation(
        raw in proptest::collection::vec(event_strategy(), 1..60),
        specs in spec_strategy(),
        cuts in proptest::collection::vec(0u16..500, 0..5),
        // per batch (up to 5 cuts and the end): extra runs with nothing new loaded
        repeats in proptest::collection::vec(0u8..6, 6),
        first_today in 0u64..5,
        // per run: how today moves before it (the first run's entry is unused)
        moves in proptest::collection::vec((0u8..4, 2u64..11), 18),
        lookback in 0u32..6,
        backfill in 1u32..4,
        include_today in any::<bool>(),
    ) {
        check_stream(raw, specs, cuts, repeats, first_today, moves, lookback, backfill, include_today)?;
    }
}
