//! Random attribute groups: the model of a group, its JSON, and the old spec space (path
//! strings, the eight first aggregations). The current model's generator is `current_model.rs`.

use chrono::NaiveDateTime;
use proptest::prelude::*;
use serde_json::{Value, json};
use sigbatch::project::group::Aggregation;

use super::events::TYPES;

/// Where a leaf's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Country,
    Url,
    Total,
    Price,
    Category,
    /// The item context's `tags[1].name` (a nested path).
    Tag,
    /// The click event's `target`.
    Target,
    /// `derived_tstamp` (always with a date part).
    Derived,
    /// The item context's `seen_at` (always with a date part).
    Seen,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub source: Source,
    pub date_part: Option<&'static str>,
    /// Which of the equivalent spellings the group writes: 0 a path string where there is one,
    /// 1 an object, 2 an object spelled another way (`$.` paths, `index` left out).
    pub spelling: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Leaf(Leaf),
    Calculated {
        operation: &'static str,
        leaves: Vec<Leaf>,
        separator: Option<&'static str>,
    },
}

/// A criterion: property, operator, value (`None` for `is null` / `is not null`).
pub type Crit = (Prop, &'static str, Option<Value>);

#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub aggregation: &'static str,
    /// Indexes into `TYPES`; empty: every event.
    pub types: Vec<usize>,
    pub property: Option<Prop>,
    pub all: Vec<Crit>,
    pub any: Vec<Crit>,
    pub period: Option<u32>,
    pub default: Option<Value>,
    pub time_unit: Option<&'static str>,
}

/// A group: its attributes, where the key comes from, and its `backfill_since_tstamp`.
#[derive(Debug, Clone)]
pub struct Group {
    pub specs: Vec<Spec>,
    /// The key is the customer context's `id`, in a column `customer`; else `domain_userid`.
    pub customer_key: bool,
    pub backfill_since: Option<NaiveDateTime>,
}

impl Group {
    pub fn key_column(&self) -> &'static str {
        if self.customer_key {
            "customer"
        } else {
            "domain_userid"
        }
    }
}

pub const INT_PARTS: [&str; 3] = ["hour_of_day", "day_of_week", "month_of_year"];
pub const TEXT_PARTS: [&str; 3] = ["active_day", "active_week", "active_month"];

impl Leaf {
    pub fn path(source: Source) -> Leaf {
        Leaf {
            source,
            date_part: None,
            spelling: 0,
        }
    }

    pub fn is_numeric(&self) -> bool {
        match self.source {
            Source::Total | Source::Price => true,
            Source::Derived | Source::Seen => INT_PARTS.contains(&self.date_part.unwrap()),
            _ => false,
        }
    }

    pub fn json(&self) -> Value {
        let entity = |path: &str, index: bool| {
            let mut object = json!({"type": "entity", "vendor": "com.acme", "name": "item", "major_version": 1, "path": path});
            if index {
                object["index"] = json!(0);
            }
            object
        };
        let atomic = |name: &str| json!({"type": "atomic", "name": name});
        let s = self.spelling;
        let mut value = match self.source {
            Source::Country if s == 0 => json!("geo_country"),
            Source::Country => atomic("geo_country"),
            Source::Url if s == 0 => json!("page_url"),
            Source::Url => atomic("page_url"),
            Source::Total if s == 0 => json!("tr_total"),
            Source::Total => atomic("tr_total"),
            Source::Price if s == 0 => json!("contexts_com_acme_item_1[0]:price"),
            Source::Price => entity(if s == 1 { "price" } else { "$.price" }, s == 1),
            Source::Category if s == 0 => json!("contexts_com_acme_item_1[0]:category"),
            Source::Category => entity(if s == 1 { "category" } else { "$.category" }, s == 2),
            Source::Tag => entity(
                if s == 1 {
                    "tags[1].name"
                } else {
                    "$.tags[1].name"
                },
                s == 1,
            ),
            Source::Target if s == 0 => json!("unstruct_event_com_acme_click_1:target"),
            Source::Target => {
                json!({"type": "event", "vendor": "com.acme", "name": "click", "major_version": 1, "path": "target"})
            }
            Source::Derived => atomic("derived_tstamp"),
            Source::Seen => entity("seen_at", s == 1),
        };
        if let Some(part) = self.date_part {
            value["date_part"] = json!(part);
        }
        value
    }
}

impl Prop {
    pub fn is_numeric(&self) -> bool {
        match self {
            Prop::Leaf(leaf) => leaf.is_numeric(),
            Prop::Calculated {
                operation, leaves, ..
            } => match *operation {
                "concat" => false,
                "coalesce" => leaves.iter().all(Leaf::is_numeric),
                _ => true,
            },
        }
    }

    pub fn json(&self) -> Value {
        match self {
            Prop::Leaf(leaf) => leaf.json(),
            Prop::Calculated {
                operation,
                leaves,
                separator,
            } => {
                let mut object = json!({"type": "calculated", "operation": operation, "properties": leaves.iter().map(Leaf::json).collect::<Vec<_>>()});
                if let Some(separator) = separator {
                    object["separator"] = json!(separator);
                }
                object
            }
        }
    }
}

// ---- the old spec space ----------------------------------------------------------------------

const OLD_PROPERTIES: [Source; 4] = [
    Source::Country,
    Source::Total,
    Source::Price,
    Source::Category,
];

pub fn old_criterion(pick: u8) -> Crit {
    let (source, operator, value) = match pick % 9 {
        0 => (Source::Country, "=", json!("DE")),
        1 => (Source::Country, "!=", json!("FR")),
        2 => (Source::Url, "like", json!("%a_b%")),
        3 => (Source::Url, "like", json!("/pri%")),
        4 => (Source::Country, "in", json!(["DE", "it's", "100%_x"])),
        5 => (Source::Total, "<", json!(2.5)),
        6 => (Source::Total, ">=", json!(2.5)),
        7 => (Source::Total, ">", json!(1)),
        _ => (Source::Total, "<=", json!(1.0)),
    };
    (Prop::Leaf(Leaf::path(source)), operator, Some(value))
}

pub fn criteria_lists(kind: u8, a: u8, b: u8, make: fn(u8) -> Crit) -> (Vec<Crit>, Vec<Crit>) {
    match kind {
        0 => (vec![], vec![]),
        1 => (vec![make(a)], vec![]),
        _ => (vec![make(a)], vec![make(b), make(a.wrapping_add(4))]),
    }
}

pub fn types_from_mask(mask: u8) -> Vec<usize> {
    (0..5).filter(|t| mask & (1 << t) != 0).collect()
}

/// The test's original generator: path strings, the eight first aggregations, a scalar default
/// on text first/last.
pub fn old_group_strategy() -> impl Strategy<Value = Group> {
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
    proptest::collection::vec(one, 3..9).prop_map(|raw| Group {
        customer_key: false,
        backfill_since: None,
        specs: raw
            .into_iter()
            .enumerate()
            .map(
                |(i, (aggregation, property, types, period, criteria, a, b, default))| {
                    let aggregation = Aggregation::ALL[usize::from(aggregation)].0;
                    let source = OLD_PROPERTIES[usize::from(property)];
                    let numeric_only = matches!(aggregation, "sum" | "min" | "max" | "mean");
                    let source = match source {
                        Source::Country | Source::Category if numeric_only => Source::Total,
                        other => other,
                    };
                    let property =
                        (aggregation != "counter").then(|| Prop::Leaf(Leaf::path(source)));
                    let (all, any) = criteria_lists(criteria, a, b, old_criterion);
                    let text = property.as_ref().is_some_and(|p| !p.is_numeric());
                    let default = (default && matches!(aggregation, "first" | "last") && text)
                        .then(|| json!("none"));
                    Spec {
                        name: format!("attr_{i}_{aggregation}"),
                        aggregation,
                        types: types_from_mask(types),
                        property,
                        all,
                        any,
                        period: [None, Some(1), Some(3), Some(7)][usize::from(period)],
                        default,
                        time_unit: None,
                    }
                },
            )
            .collect(),
    })
}

/// The declared type of a spec's values.
pub fn value_type(spec: &Spec) -> &'static str {
    let numeric = spec.property.as_ref().is_some_and(Prop::is_numeric);
    match spec.aggregation {
        "counter" | "approx_count_distinct" | "time_since_first" | "time_since_last" => "int64",
        "category_count" => "dict",
        "most_frequent" | "least_frequent" => "string",
        "unique_list" if numeric => "double_list",
        "unique_list" => "string_list",
        _ if numeric => "double",
        _ => "string",
    }
}

pub fn group_json(group: &Group) -> String {
    let criteria = |list: &[Crit]| -> Vec<Value> {
        list.iter()
            .map(|(p, o, v)| match v {
                Some(v) => json!({"property": p.json(), "operator": o, "value": v}),
                None => json!({"property": p.json(), "operator": o}),
            })
            .collect()
    };
    let attributes: Vec<Value> = group
        .specs
        .iter()
        .map(|s| {
            let mut attribute = json!({
                "name": s.name,
                "type": value_type(s),
                "events": s.types.iter().map(|t| {
                    let (name, vendor, version) = TYPES[*t];
                    // leave the version off purchase 1-0-0 so it matches every version
                    if *t == 2 { json!({"name": name, "vendor": vendor}) } else { json!({"name": name, "vendor": vendor, "version": version}) }
                }).collect::<Vec<_>>(),
                "aggregation": s.aggregation,
                "property": s.property.as_ref().map(Prop::json),
                "criteria": {"all": criteria(&s.all), "any": criteria(&s.any)},
                "period": s.period.map(|d| format!("P{d}D")),
                "default_value": s.default,
            });
            if let Some(unit) = s.time_unit {
                attribute["time_unit"] = json!(unit);
            }
            attribute
        })
        .collect();
    let mut group_value = json!({"name": "prop_group", "version": 1, "attributes": attributes});
    if group.customer_key {
        group_value["attribute_key"] = json!({"name": "customer", "property": {"type": "entity", "vendor": "com.acme", "name": "customer", "major_version": 1, "path": "id"}});
    } else {
        group_value["attribute_key_or_name"] = json!("domain_userid");
    }
    if let Some(at) = group.backfill_since {
        group_value["backfill_since_tstamp"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    group_value.to_string()
}
