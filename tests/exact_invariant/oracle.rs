//! The from-scratch computation, plainly in Rust, independently of the engine's SQL: the
//! events that count, each property's value, the criteria, and every aggregation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde_json::Value as Json;

use super::events::{Event, TYPES};
use super::specs::{Crit, Group, Leaf, Prop, Source, Spec};

pub const START: &str = "2025-01-01";

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Compared exactly (counts, distinct counts, whole time units).
    Int(i64),
    /// Compared with a relative tolerance.
    Number(f64),
    Text(String),
    /// A list's elements (a list of numbers when `numeric`), in no order.
    List {
        items: Vec<String>,
        numeric: bool,
    },
    /// `category_count`: value text to count.
    Map(BTreeMap<String, i64>),
}

/// A property's value as the type it is read as: text, or a double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Read {
    Text,
    Double,
}

/// A value before it is read as a type.
#[derive(Debug, Clone)]
enum Raw {
    Text(String),
    Double(f64),
    Int(i64),
}

impl Raw {
    fn read(self, as_type: Read) -> Option<Value> {
        match (self, as_type) {
            (Raw::Text(t), Read::Text) => Some(Value::Text(t)),
            (Raw::Text(t), Read::Double) => t.trim().parse().ok().map(Value::Number),
            (Raw::Double(n), Read::Text) => Some(Value::Text(double_text(n))),
            (Raw::Double(n), Read::Double) => Some(Value::Number(n)),
            (Raw::Int(i), Read::Text) => Some(Value::Text(i.to_string())),
            (Raw::Int(i), Read::Double) => Some(Value::Number(i as f64)),
        }
    }
}

/// A double as text, as DuckDB and the JSON writer spell it (`1.0`, `2.5`).
pub fn double_text(n: f64) -> String {
    format!("{n:?}")
}

fn date_part(at: NaiveDateTime, part: &str) -> Raw {
    let day = at.date();
    match part {
        "active_day" => Raw::Text(day.format("%Y-%m-%d").to_string()),
        "active_week" => {
            let monday = day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()));
            Raw::Text(monday.format("%Y-%m-%d").to_string())
        }
        "active_month" => Raw::Text(day.format("%Y-%m").to_string()),
        "hour_of_day" => Raw::Int(i64::from(at.hour())),
        "day_of_week" => Raw::Int(i64::from(day.weekday().number_from_monday())),
        "month_of_year" => Raw::Int(i64::from(day.month())),
        other => panic!("unknown date part {other}"),
    }
}

fn leaf_raw(event: &Event, leaf: &Leaf) -> Option<Raw> {
    let text = |v: &Option<String>| v.clone().map(Raw::Text);
    match leaf.source {
        Source::Country => text(&event.country),
        Source::Url => text(&event.url),
        Source::Category => text(&event.category),
        Source::Target => text(&event.target),
        Source::Tag => event
            .tags
            .as_ref()
            .and_then(|tags| tags.get(1).cloned().flatten())
            .map(Raw::Text),
        Source::Total => event.total.map(Raw::Double),
        Source::Price => event.price.map(Raw::Double),
        Source::Derived => Some(date_part(event.derived, leaf.date_part.unwrap())),
        Source::Seen => event
            .seen_at
            .map(|at| date_part(at, leaf.date_part.unwrap())),
    }
}

fn number(value: Option<Value>) -> Option<f64> {
    match value {
        Some(Value::Number(n)) => Some(n),
        _ => None,
    }
}

/// A property's value, read as `as_type` (semantics of calculated properties: concat skips
/// NULLs, sum/product/min/max are NULL when any leaf is, coalesce takes the first non-NULL).
pub fn property_value(event: &Event, property: &Prop, as_type: Read) -> Option<Value> {
    let leaf = |l: &Leaf, t: Read| leaf_raw(event, l).and_then(|raw| raw.read(t));
    let Prop::Calculated {
        operation,
        leaves,
        separator,
    } = property
    else {
        let Prop::Leaf(l) = property else {
            unreachable!()
        };
        return leaf(l, as_type);
    };
    let result = match *operation {
        "concat" => {
            let parts: Vec<String> = leaves
                .iter()
                .filter_map(|l| match leaf(l, Read::Text) {
                    Some(Value::Text(t)) => Some(t),
                    _ => None,
                })
                .collect();
            (!parts.is_empty()).then(|| Raw::Text(parts.join(separator.unwrap_or(""))))
        }
        "coalesce" => return leaves.iter().find_map(|l| leaf(l, as_type)),
        numeric => {
            let parts: Option<Vec<f64>> = leaves
                .iter()
                .map(|l| number(leaf(l, Read::Double)))
                .collect();
            parts.map(|parts| {
                Raw::Double(match numeric {
                    "sum" => parts.iter().sum(),
                    "product" => parts.iter().product(),
                    "min" => parts.iter().cloned().fold(f64::INFINITY, f64::min),
                    "max" => parts.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                    other => panic!("unknown operation {other}"),
                })
            })
        }
    };
    result.and_then(|raw| raw.read(as_type))
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

fn holds(event: &Event, (property, operator, value): &Crit) -> bool {
    use std::cmp::Ordering::*;
    let numeric = |v: &Json| v.is_number() || v.as_array().is_some_and(|a| a[0].is_number());
    let as_type = match value {
        Some(v) if numeric(v) => Read::Double,
        _ => Read::Text,
    };
    let actual = property_value(event, property, as_type);
    let Some(value) = value else {
        return match *operator {
            "is null" => actual.is_none(),
            "is not null" => actual.is_some(),
            other => panic!("{other} needs a value"),
        };
    };
    let expected = |v: &Json| match v {
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Number(other.as_f64().unwrap()),
    };
    let compare = |a: &Value, b: &Value| match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(a) = &actual else {
        return *operator == "!=";
    };
    let order = || compare(a, &expected(value));
    match *operator {
        "!=" => order() != Some(Equal),
        "=" => order() == Some(Equal),
        "<" => order() == Some(Less),
        ">" => order() == Some(Greater),
        "<=" => matches!(order(), Some(Less | Equal)),
        ">=" => matches!(order(), Some(Greater | Equal)),
        "like" => matches!(a, Value::Text(t) if like(t, value.as_str().unwrap())),
        "in" => value
            .as_array()
            .unwrap()
            .iter()
            .any(|v| compare(a, &expected(v)) == Some(Equal)),
        other => panic!("unknown operator {other}"),
    }
}

pub fn type_matches(event: &Event, spec: &Spec) -> bool {
    let (name, vendor, version) = TYPES[event.event_type];
    spec.types.is_empty()
        || spec.types.iter().any(|t| {
            let (n, v, ver) = TYPES[*t];
            n == name && v == vendor && (*t == 2 || ver == version)
        })
}

/// The key an event is counted under (NULL: the event is not read).
pub fn key_of(event: &Event, group: &Group) -> Option<String> {
    if group.customer_key {
        event.customer.clone()
    } else {
        event.key.clone()
    }
}

/// Events that count: loaded before `until`, passing the filters, first loaded copy per id.
fn effective_events(events: &[Event], group: &Group, until: NaiveDateTime) -> Vec<Event> {
    let start = NaiveDate::parse_from_str(START, "%Y-%m-%d").unwrap();
    let start_time = start.and_hms_opt(0, 0, 0).unwrap();
    let mut passing: Vec<&Event> = events
        .iter()
        .filter(|e| e.load >= start_time && e.load < until)
        .filter(|e| e.app_id == "web" && e.event_id.is_some() && key_of(e, group).is_some())
        .filter(|e| e.derived.date() >= start)
        .filter(|e| group.backfill_since.is_none_or(|at| e.derived >= at))
        .filter(|e| group.specs.iter().any(|s| type_matches(e, s)))
        .collect();
    passing.sort_by_key(|e| e.load);
    let mut seen = BTreeSet::new();
    passing
        .into_iter()
        .filter(|e| seen.insert(e.event_id.clone()))
        .cloned()
        .collect()
}

/// The settings of one run the values depend on.
pub struct RunAt {
    pub until: NaiveDateTime,
    pub today: NaiveDate,
    pub now: NaiveDateTime,
    pub include_today: bool,
}

pub fn oracle(events: &[Event], group: &Group, at: &RunAt) -> BTreeMap<String, Vec<Option<Value>>> {
    let upper = if at.include_today {
        at.today + chrono::Days::new(1)
    } else {
        at.today
    };
    let effective = effective_events(events, group, at.until);
    let keys: BTreeSet<String> = effective.iter().filter_map(|e| key_of(e, group)).collect();
    let mut table = BTreeMap::new();
    for key in keys {
        let mine: Vec<&Event> = effective
            .iter()
            .filter(|e| key_of(e, group).as_deref() == Some(&key))
            .collect();
        let row = group
            .specs
            .iter()
            .map(|spec| {
                let mut matching: Vec<&Event> = mine
                    .iter()
                    .copied()
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
                aggregate(spec, &matching, at.now)
                    .or_else(|| spec.default.as_ref().map(default_value))
            })
            .collect();
        table.insert(key, row);
    }
    table
}

fn default_value(default: &Json) -> Value {
    match default {
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::List {
            numeric: items.iter().all(Json::is_number),
            items: items
                .iter()
                .map(|i| match i {
                    Json::String(s) => s.clone(),
                    other => double_text(other.as_f64().unwrap()),
                })
                .collect(),
        },
        other => Value::Number(other.as_f64().unwrap()),
    }
}

fn text(value: Value) -> String {
    match value {
        Value::Text(t) => t,
        other => panic!("{other:?} read as text"),
    }
}

/// One attribute's value over its matching events, in event order; `None` is NULL.
fn aggregate(spec: &Spec, matching: &[&Event], now: NaiveDateTime) -> Option<Value> {
    let numeric = spec.property.as_ref().is_some_and(Prop::is_numeric);
    let read = |as_type: Read| -> Vec<(usize, Value)> {
        matching
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let p = spec.property.as_ref()?;
                property_value(e, p, as_type).map(|v| (i, v))
            })
            .collect()
    };
    let declared = if numeric { Read::Double } else { Read::Text };
    let numbers = || -> Vec<f64> {
        read(Read::Double)
            .into_iter()
            .filter_map(|(_, v)| number(Some(v)))
            .collect()
    };
    match spec.aggregation {
        "counter" => Some(Value::Int(matching.len() as i64)),
        "sum" => Some(Value::Number(numbers().iter().sum())),
        "min" => numbers().into_iter().reduce(f64::min).map(Value::Number),
        "max" => numbers().into_iter().reduce(f64::max).map(Value::Number),
        "mean" => {
            let n = numbers();
            (!n.is_empty()).then(|| Value::Number(n.iter().sum::<f64>() / n.len() as f64))
        }
        "first" => read(declared).into_iter().next().map(|(_, v)| v),
        "last" => read(declared).into_iter().last().map(|(_, v)| v),
        "unique_list" => {
            // numbers are told apart as numbers (a coalesce's `1` and `1.0` are one element)
            let set: BTreeSet<String> = if numeric {
                numbers().into_iter().map(double_text).collect()
            } else {
                read(Read::Text).into_iter().map(|(_, v)| text(v)).collect()
            };
            (!set.is_empty()).then(|| Value::List {
                items: set.into_iter().collect(),
                numeric,
            })
        }
        "approx_count_distinct" => {
            let set: BTreeSet<String> =
                read(Read::Text).into_iter().map(|(_, v)| text(v)).collect();
            Some(Value::Int(set.len() as i64))
        }
        "category_count" | "most_frequent" | "least_frequent" => {
            // value -> (count, position of its last occurrence)
            let mut counts: BTreeMap<String, (i64, usize)> = BTreeMap::new();
            for (i, v) in read(Read::Text) {
                let entry = counts.entry(text(v)).or_insert((0, 0));
                entry.0 += 1;
                entry.1 = i;
            }
            if counts.is_empty() {
                return None;
            }
            if spec.aggregation == "category_count" {
                return Some(Value::Map(
                    counts.into_iter().map(|(k, (n, _))| (k, n)).collect(),
                ));
            }
            let most = spec.aggregation == "most_frequent";
            counts
                .into_iter()
                // the best: count (highest or lowest), then latest last occurrence, then the
                // smallest text (min_by_key keeps the first of equals, and the map is sorted)
                .min_by_key(|(_, (n, last))| (if most { -n } else { *n }, std::cmp::Reverse(*last)))
                .map(|(value, _)| Value::Text(value))
        }
        "time_since_first" | "time_since_last" => {
            let with_value: Vec<&Event> = match &spec.property {
                None => matching.to_vec(),
                Some(p) => matching
                    .iter()
                    .copied()
                    .filter(|e| property_value(e, p, Read::Text).is_some())
                    .collect(),
            };
            let at = if spec.aggregation == "time_since_first" {
                with_value.iter().map(|e| e.derived).min()
            } else {
                with_value.iter().map(|e| e.derived).max()
            }?;
            let unit = match spec.time_unit.unwrap() {
                "s" => 1,
                "min" => 60,
                "h" => 3_600,
                _ => 86_400,
            };
            let micros = (now - at).num_microseconds().unwrap();
            Some(Value::Int(micros.div_euclid(unit * 1_000_000)))
        }
        other => panic!("unknown aggregation {other}"),
    }
}
