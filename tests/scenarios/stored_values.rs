//! Case 11: compat mode at scale against upstream's rules for stored values (semantics.md 6.6).
//!
//! A seeded stream of basket events whose context holds `price` as JSON strings (`"99.5"`,
//! `"196"`, `"99.50"`), `quantity` as JSON numbers (9, 10, 25) and `sku` as strings that read as
//! the same number (`"007"`, `"7"`, `"7.0"`). Where the events table keeps JSON
//! (`Harness::JSON_EVENTS`), some prices are JSON numbers too, and some skus JSON numbers spelled
//! like the strings (`7` beside `"7"`, one element of a unique_list). Text and numeric order
//! disagree on most keys, so a typed reading of the prices gives a different table (checked, so
//! the case can fail). The expected table is computed here, from the events, by the rules of
//! semantics.md 6.3 and 6.6 (`oracle`), not by any SQL; the run's table must equal it cell for
//! cell.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::{Harness, SharedWarehouse, Table, scratch, succeed};
use crate::common::{self, TempProject};

/// Events streamed, on every warehouse.
const EVENTS: usize = 100_000;
const SEED: u64 = 26;
/// The schema the stream is loaded into, beside the fixture's `atomic`.
const SCHEMA: &str = "stream";
const ATTRIBUTES: &str = "basket_values_1_attributes";
const DAYS: i64 = 30;
const EVENTS_PER_USER: usize = 20;

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
}

/// `snowplow__mock_current_day`: the 7-day period is 2025-03-24 .. 2025-03-30.
fn today() -> NaiveDate {
    first_day() + Duration::days(DAYS)
}

pub fn compat_mode_orders_stored_values_as_upstream_at_scale<H: Harness>(
    shared: &SharedWarehouse<H>,
) {
    shared.with(|warehouse| {
        let (h, secrets) = (&mut warehouse.h, &warehouse.secrets);
        let events = stream(EVENTS, SEED, H::JSON_EVENTS);
        let actual = run_compat(h, secrets, &events);
        check(H::KIND, &events, actual);
    });
}

/// The stream loaded into `h`, one compat full refresh, the attributes read back.
fn run_compat<H: Harness>(h: &mut H, secrets: &[String], events: &[Event]) -> Table {
    let started = Instant::now();
    let vars = H::vars(60)
        .replace("'2025-01-01'", &format!("'{}'", first_day()))
        .replace("'2025-01-06'", &format!("'{}'", today()))
        .replace("['basic_test']", "['basket']")
        + &format!("  snowplow__atomic_schema: {SCHEMA}\n");
    let project = TempProject::new("compat", &group().to_string(), &vars);
    let csv = project.path().join("stream.csv");
    write_csv(events, &csv);
    let place = "stored";
    h.load_events_csv(&project, place, &csv, SCHEMA);
    std::fs::write(
        project.path().join("profiles.yml"),
        h.profile(&project, place),
    )
    .unwrap();
    let loaded = started.elapsed();
    succeed(secrets, &project, &["run", "--full-refresh"]);
    let actual = h.read(&project, place, ATTRIBUTES);
    eprintln!(
        "{}: {} events loaded in {:.1?}, run and read in {:.1?}",
        H::KIND,
        events.len(),
        loaded,
        started.elapsed() - loaded
    );
    actual
}

/// `actual` against the rules' table, and the rules' table against the typed one.
fn check(kind: &str, events: &[Event], actual: Table) {
    let expected = oracle(events, Reading::Stored);
    let typed = oracle(events, Reading::Typed);
    let typed_differs = differences(&typed, &expected).len();
    assert!(
        typed_differs > expected.len() / 2,
        "the stream must tell stored from typed order: only {typed_differs} cells differ"
    );
    let mismatches = differences(&sorted(actual), &expected);
    assert!(
        mismatches.is_empty(),
        "{kind}: {} cells of {} keys differ from semantics.md 6.6, e.g.:\n{}",
        mismatches.len(),
        expected.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

// ---- the stream ----

struct Event {
    id: String,
    user: String,
    derived: NaiveDateTime,
    loaded: NaiveDateTime,
    price: Option<Price>,
    quantity: Option<i64>,
    /// The text, and whether the JSON holds it as a number (`7` beside `"7"`).
    sku: Option<(&'static str, bool)>,
}

/// A price as the event's JSON holds it: a string, or a number (its JSON spelling).
#[derive(Clone)]
enum Price {
    Text(String),
    Number(String),
}

impl Price {
    fn text(&self) -> &str {
        match self {
            Price::Text(text) | Price::Number(text) => text,
        }
    }
}

/// splitmix64: a seeded stream of numbers, the same on every machine.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `count` events, one every few seconds over `DAYS` days (no two share a `derived_tstamp`, so
/// compat's first/last never meets a tie, which upstream breaks arbitrarily). With `numbers`, one
/// price in five is a JSON number.
fn stream(count: usize, seed: u64, numbers: bool) -> Vec<Event> {
    let mut n = Numbers(seed);
    let users = (count / EVENTS_PER_USER).max(1) as u64;
    let step = (DAYS * 86_400 / count as i64).max(1);
    let start = first_day().and_hms_opt(0, 0, 0).unwrap();
    (0..count)
        .map(|i| {
            let derived = start + Duration::seconds(i as i64 * step);
            let whole = 1 + n.below(250);
            let text = match n.below(10) {
                0 => None,
                1..=3 => Some(whole.to_string()),
                4..=7 => Some(format!("{whole}.{}", n.below(10))),
                _ => Some(format!("{whole}.{}0", n.below(10))),
            };
            let price = text.map(|text| match n.below(5) {
                0 if numbers => Price::Number(text),
                _ => Price::Text(text),
            });
            Event {
                id: format!("e{i:07}"),
                user: format!("user_{:05}", n.below(users)),
                derived,
                // never exactly at start_date 00:00, which upstream's lower bound excludes
                loaded: derived + Duration::seconds(1 + n.below(7_200) as i64),
                price,
                quantity: (n.below(10) != 0).then(|| 1 + n.below(25) as i64),
                sku: ["007", "7", "7.0", "10", "9", "x1"]
                    .get(n.below(8) as usize)
                    .map(|sku| {
                        let whole = matches!(*sku, "7" | "10" | "9");
                        (*sku, numbers && whole && n.below(3) == 0)
                    }),
            }
        })
        .collect()
}

/// The stream as a Snowplow events CSV, the context column named by full schema version.
fn write_csv(events: &[Event], path: &Path) {
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let mut out = String::from(
        "app_id,platform,collector_tstamp,dvce_created_tstamp,event,event_id,domain_userid,\
         derived_tstamp,load_tstamp,event_vendor,event_name,event_format,event_version,\
         contexts_com_acme_basket_1_0_0\n",
    );
    for e in events {
        let mut basket = serde_json::Map::new();
        match &e.price {
            Some(Price::Text(text)) => {
                basket.insert("price".into(), json!(text));
            }
            Some(Price::Number(text)) => {
                basket.insert("price".into(), serde_json::from_str(text).unwrap());
            }
            None => {}
        }
        if let Some(quantity) = e.quantity {
            basket.insert("quantity".into(), json!(quantity));
        }
        match e.sku {
            Some((text, true)) => {
                basket.insert("sku".into(), serde_json::from_str(text).unwrap());
            }
            Some((text, false)) => {
                basket.insert("sku".into(), json!(text));
            }
            None => {}
        }
        let at = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
        out.push_str(&format!(
            "basket,web,{},{},unstruct,{},{},{},{},com.acme,basket,jsonschema,1-0-0,{}\n",
            at(e.derived),
            at(e.derived),
            e.id,
            e.user,
            at(e.derived),
            at(e.loaded),
            quoted(&Value::Array(vec![Value::Object(basket)]).to_string())
        ));
    }
    std::fs::write(path, out).unwrap();
}

// ---- the group ----

fn attribute(
    name: &str,
    kind: &str,
    aggregation: &str,
    field: &str,
    period: Option<&str>,
) -> Value {
    json!({
        "name": name,
        "type": kind,
        "events": [{"vendor": "com.acme", "name": "basket", "version": "1-0-0"}],
        "aggregation": aggregation,
        "property": format!("contexts_com_acme_basket_1[0]:{field}"),
        "criteria": null,
        "period": period,
    })
}

fn group() -> Value {
    // counters of the events whose value meets a criterion
    let counter = |name: &str, field: &str, operator: &str, value: Value| {
        let mut counter = attribute(name, "int64", "counter", field, None);
        counter["property"] = Value::Null;
        counter["criteria"] = json!({"all": [{
            "property": format!("contexts_com_acme_basket_1[0]:{field}"),
            "operator": operator,
            "value": value,
        }], "any": null});
        counter
    };
    json!({
        "name": "basket_values",
        "version": 1,
        "attribute_key": {"name": "user"},
        "attribute_key_or_name": "domain_userid",
        "attributes": [
            attribute("max_price", "double", "max", "price", None),
            attribute("min_price", "double", "min", "price", None),
            attribute("max_price_last_7_days", "int64", "max", "price", Some("P7D")),
            attribute("min_price_last_7_days", "int64", "min", "price", Some("P7D")),
            attribute("max_quantity", "int64", "max", "quantity", None),
            attribute("min_quantity", "int64", "min", "quantity", None),
            attribute("skus", "double_list", "unique_list", "sku", None),
            attribute("total_price", "double", "sum", "price", None),
            attribute("last_price", "int64", "last", "price", None),
            counter("expensive_baskets", "price", ">", json!(100)),
            counter("sevens", "sku", "=", json!(7)),
            counter("sevens_as_text", "sku", "=", json!("7")),
        ],
    })
}

// ---- the oracle ----

/// How the oracle reads a value: as stored (the contract), or typed (what compat did before
/// semantics.md 6.6, to show that the stream tells them apart).
#[derive(Clone, Copy, PartialEq)]
enum Reading {
    Stored,
    Typed,
}

/// Expected cells by key, then by column: text, numbers in any spelling, lists as their items
/// sorted and joined by ", ", NULL as None.
type Cells = BTreeMap<String, BTreeMap<String, Option<String>>>;

fn oracle(events: &[Event], reading: Reading) -> Cells {
    let period_start = today() - Duration::days(7);
    let mut by_user: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_user.entry(&e.user).or_default().push(e);
    }
    let number = |text: &str| text.parse::<f64>().ok();
    by_user
        .into_iter()
        .map(|(user, mut events)| {
            events.sort_by_key(|e| e.derived);
            let recent: Vec<&Event> = events
                .iter()
                .copied()
                .filter(|e| e.derived.date() >= period_start && e.derived.date() < today())
                .collect();
            let prices = |events: &[&Event]| -> Vec<Price> {
                events.iter().filter_map(|e| e.price.clone()).collect()
            };
            let extreme = |values: Vec<Price>, max: bool| -> Option<String> {
                let numbers = |kind: fn(&Price) -> bool| -> Vec<f64> {
                    values
                        .iter()
                        .filter(|p| kind(p))
                        .filter_map(|p| number(p.text()))
                        .collect()
                };
                let texts: Vec<&str> = values
                    .iter()
                    .filter(|p| matches!(p, Price::Text(_)))
                    .map(Price::text)
                    .collect();
                let chosen = match (reading, max) {
                    // semantics.md 6.6: text by its characters, numbers by value, every number
                    // below every text; the chosen text read as a number
                    (Reading::Stored, true) => match texts.iter().max() {
                        Some(text) => number(text),
                        None => highest(&numbers(|p| matches!(p, Price::Number(_)))),
                    },
                    (Reading::Stored, false) => lowest(&numbers(|p| matches!(p, Price::Number(_))))
                        .or_else(|| texts.iter().min().and_then(|t| number(t))),
                    (Reading::Typed, true) => highest(&numbers(|_| true)),
                    (Reading::Typed, false) => lowest(&numbers(|_| true)),
                };
                chosen.map(|v| v.to_string())
            };
            // typed, an int64 attribute's value was rounded
            let rounded = |cell: Option<String>| match reading {
                Reading::Stored => cell,
                Reading::Typed => cell.map(|v| number(&v).unwrap().round().to_string()),
            };
            let quantities: Vec<i64> = events.iter().filter_map(|e| e.quantity).collect();
            let mut skus: Vec<String> = match reading {
                Reading::Stored => events
                    .iter()
                    .filter_map(|e| e.sku.map(|(text, _)| text.to_string()))
                    .collect(),
                Reading::Typed => events
                    .iter()
                    .filter_map(|e| e.sku.and_then(|(text, _)| number(text)))
                    .map(|v| format!("{v:?}"))
                    .collect(),
            };
            skus.sort();
            skus.dedup();
            let all_prices: Vec<f64> = prices(&events)
                .iter()
                .filter_map(|p| number(p.text()))
                .collect();
            let latest = events.last().expect("a user has events");
            let count_skus = |matches: &dyn Fn(&str) -> bool| {
                events
                    .iter()
                    .filter(|e| e.sku.is_some_and(|(text, _)| matches(text)))
                    .count()
                    .to_string()
            };
            let cells = [
                ("max_price", extreme(prices(&events), true)),
                ("min_price", extreme(prices(&events), false)),
                (
                    "max_price_last_7_days",
                    rounded(extreme(prices(&recent), true)),
                ),
                (
                    "min_price_last_7_days",
                    rounded(extreme(prices(&recent), false)),
                ),
                ("max_quantity", quantities.iter().max().map(i64::to_string)),
                ("min_quantity", quantities.iter().min().map(i64::to_string)),
                ("skus", (!skus.is_empty()).then(|| skus.join(", "))),
                (
                    "total_price",
                    (!all_prices.is_empty()).then(|| all_prices.iter().sum::<f64>().to_string()),
                ),
                (
                    "last_price",
                    rounded(
                        latest
                            .price
                            .as_ref()
                            .and_then(|p| number(p.text()))
                            .map(|v| v.to_string()),
                    ),
                ),
                (
                    "expensive_baskets",
                    Some(
                        all_prices
                            .iter()
                            .filter(|p| **p > 100.0)
                            .count()
                            .to_string(),
                    ),
                ),
                // a number literal compares the value as a number ("007", "7.0" and 7 match), a
                // text literal as text ("7" and 7 match)
                (
                    "sevens",
                    Some(count_skus(&|text| number(text) == Some(7.0))),
                ),
                ("sevens_as_text", Some(count_skus(&|text| text == "7"))),
            ];
            let row = cells
                .into_iter()
                .map(|(name, cell)| (name.to_string(), cell))
                .collect();
            (user.to_string(), row)
        })
        .collect()
}

fn highest(values: &[f64]) -> Option<f64> {
    values.iter().copied().reduce(f64::max)
}

fn lowest(values: &[f64]) -> Option<f64> {
    values.iter().copied().reduce(f64::min)
}

/// A table read back, by key and column (the key is the first column).
fn sorted(table: Table) -> Cells {
    let connection = scratch("t", table);
    let (names, rows) = common::rows(&connection, "SELECT * FROM t ORDER BY 1");
    rows.into_iter()
        .map(|row| {
            let key = row[0].clone().unwrap_or_default();
            let cells = names.iter().cloned().zip(row).skip(1).collect();
            (key, cells)
        })
        .collect()
}

/// Every cell of `expected` that `actual` does not hold (numbers compared as numbers), and
/// every key only one of them has.
fn differences(actual: &Cells, expected: &Cells) -> Vec<String> {
    let mut found = Vec::new();
    for key in actual.keys().filter(|k| !expected.contains_key(*k)) {
        found.push(format!("{key}: a row the events do not give"));
    }
    for (key, columns) in expected {
        let Some(row) = actual.get(key) else {
            found.push(format!("{key}: missing"));
            continue;
        };
        for (column, want) in columns {
            let have = row.get(column).cloned().flatten();
            if !common::same_cell(&have, want) {
                found.push(format!("{key}.{column}: sigbatch {have:?}, rules {want:?}"));
            }
        }
    }
    found
}
