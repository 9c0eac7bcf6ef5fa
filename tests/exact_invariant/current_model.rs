//! The current model's spec space: property objects (nested paths included), calculated
//! properties, date parts, `is null`, empty event lists, the six newer aggregations, defaults,
//! keys from properties and `backfill_since_tstamp`.

use chrono::TimeDelta;
use proptest::prelude::*;
use serde_json::{Value, json};
use sigbatch::project::group::Aggregation;

use super::events::base_time;
use super::specs::{
    Crit, Group, INT_PARTS, Leaf, Prop, Source, Spec, TEXT_PARTS, criteria_lists, old_criterion,
    types_from_mask,
};

fn leaf_strategy(numeric: bool) -> BoxedStrategy<Leaf> {
    let parts = if numeric {
        INT_PARTS.to_vec()
    } else {
        [INT_PARTS, TEXT_PARTS].concat()
    };
    let sources = if numeric {
        vec![Source::Total, Source::Price, Source::Derived, Source::Seen]
    } else {
        vec![
            Source::Country,
            Source::Url,
            Source::Total,
            Source::Price,
            Source::Category,
            Source::Tag,
            Source::Target,
            Source::Derived,
            Source::Seen,
        ]
    };
    (
        proptest::sample::select(sources),
        proptest::sample::select(parts),
        0u8..3,
    )
        .prop_map(|(source, part, spelling)| {
            let timestamp = matches!(source, Source::Derived | Source::Seen);
            Leaf {
                source,
                date_part: timestamp.then_some(part),
                // every source but the nested tag and the timestamps has a path string
                spelling: if matches!(source, Source::Tag | Source::Derived | Source::Seen) {
                    spelling.max(1)
                } else {
                    spelling
                },
            }
        })
        .boxed()
}

fn calculated(operations: &'static [&'static str], numeric: bool) -> BoxedStrategy<Prop> {
    (
        proptest::sample::select(operations),
        proptest::collection::vec(leaf_strategy(numeric), 1..4),
        proptest::sample::select(vec![None, Some(""), Some("-"), Some("|")]),
    )
        .prop_map(|(operation, leaves, separator)| Prop::Calculated {
            operation,
            leaves,
            separator: if operation == "concat" {
                separator
            } else {
                None
            },
        })
        .boxed()
}

/// A property with a numeric value.
pub fn numeric_prop() -> BoxedStrategy<Prop> {
    prop_oneof![
        2 => leaf_strategy(true).prop_map(Prop::Leaf),
        1 => calculated(&["sum", "product", "min", "max", "coalesce"], true),
    ]
    .boxed()
}

/// Any property.
pub fn any_prop() -> BoxedStrategy<Prop> {
    prop_oneof![
        3 => leaf_strategy(false).prop_map(Prop::Leaf),
        1 => numeric_prop(),
        1 => calculated(&["concat", "coalesce"], false),
    ]
    .boxed()
}

fn day_leaf(part: &'static str) -> Prop {
    Prop::Leaf(Leaf {
        source: Source::Derived,
        date_part: Some(part),
        spelling: 1,
    })
}

fn object(source: Source) -> Prop {
    Prop::Leaf(Leaf {
        source,
        date_part: None,
        spelling: 1,
    })
}

/// The current model's criteria, and the old ones.
fn new_criterion(pick: u8) -> Crit {
    match pick % 20 {
        0 => (object(Source::Country), "=", Some(json!("DE"))),
        1 => (object(Source::Category), "is null", None),
        2 => (object(Source::Category), "is not null", None),
        3 => (object(Source::Tag), "is not null", None),
        4 => (day_leaf("hour_of_day"), ">=", Some(json!(12))),
        5 => (day_leaf("day_of_week"), "in", Some(json!([6, 7]))),
        6 => (day_leaf("active_day"), "<", Some(json!("2025-01-04"))),
        7 => (
            Prop::Leaf(Leaf {
                source: Source::Seen,
                date_part: Some("active_month"),
                spelling: 2,
            }),
            "=",
            Some(json!("2024-12")),
        ),
        8 => (object(Source::Total), "is null", None),
        9 => (
            Prop::Calculated {
                operation: "concat",
                leaves: vec![
                    Leaf::path(Source::Country),
                    Leaf {
                        source: Source::Category,
                        date_part: None,
                        spelling: 1,
                    },
                ],
                separator: Some("-"),
            },
            "like",
            Some(json!("%-h%")),
        ),
        10 => (
            Prop::Calculated {
                operation: "sum",
                leaves: vec![Leaf::path(Source::Total), Leaf::path(Source::Price)],
                separator: None,
            },
            ">",
            Some(json!(5)),
        ),
        11 => (object(Source::Target), "=", Some(json!("buy"))),
        12 => (object(Source::Price), "is not null", None),
        13 => (object(Source::Country), "is not null", None),
        other => old_criterion(other),
    }
}

fn time_unit(pick: u8) -> &'static str {
    ["s", "min", "h", "d"][usize::from(pick % 4)]
}

/// The default a spec may carry: a list for lists, a value of the output's type otherwise. On
/// counter and approx_count_distinct (never NULL) it must never show.
fn default_for(aggregation: &str, property: Option<&Prop>) -> Option<Value> {
    let numeric = property.is_some_and(Prop::is_numeric);
    Some(match aggregation {
        "unique_list" if numeric => json!([-1.0]),
        "unique_list" => json!(["x"]),
        "category_count" => return None,
        "counter" | "approx_count_distinct" => json!(99),
        "time_since_first" | "time_since_last" => json!(-1),
        "most_frequent" | "least_frequent" => json!("none"),
        _ if numeric => json!(-1),
        _ => json!("none"),
    })
}

/// The current model's generator: every aggregation (the six newer ones twice as likely), any
/// property, the new criteria, empty event lists, defaults, per group a key from a property and
/// a `backfill_since_tstamp` at random.
pub fn new_group_strategy() -> impl Strategy<Value = Group> {
    let one = (
        (0u8..20, 0u8..40, 0u8..4, 0u8..3, 0u8..20, 0u8..20),
        (any_prop(), numeric_prop(), 0u8..3, 0u8..4),
    );
    (
        proptest::collection::vec(one, 3..9),
        0u8..3,
        proptest::option::of(0u16..200),
    )
        .prop_map(|(raw, key, backfill)| Group {
            customer_key: key > 0,
            backfill_since: backfill.map(|h| base_time() + TimeDelta::hours(i64::from(h))),
            specs: raw
                .into_iter()
                .enumerate()
                .map(
                    |(
                        i,
                        (
                            (aggregation, types, period, criteria, a, b),
                            (any, numeric, default, unit),
                        ),
                    )| {
                        // 0-13 every aggregation once, 14-19 the newer six again
                        let aggregation = Aggregation::ALL[usize::from(if aggregation < 14 {
                            aggregation
                        } else {
                            aggregation - 6
                        })]
                        .0;
                        let property = match aggregation {
                            "counter" => None,
                            "sum" | "min" | "max" | "mean" => Some(numeric),
                            "time_since_first" | "time_since_last" if unit % 2 == 0 => None,
                            _ => Some(any),
                        };
                        let (all, any) = criteria_lists(criteria, a, b, new_criterion);
                        Spec {
                            name: format!("attr_{i}_{aggregation}"),
                            aggregation,
                            types: if types >= 32 {
                                vec![]
                            } else {
                                types_from_mask(types.max(1))
                            },
                            default: if default == 0 {
                                default_for(aggregation, property.as_ref())
                            } else {
                                None
                            },
                            property,
                            all,
                            any,
                            period: [None, Some(1), Some(3), Some(7)][usize::from(period)],
                            time_unit: aggregation
                                .starts_with("time_since")
                                .then(|| time_unit(unit / 2 + a)),
                        }
                    },
                )
                .collect(),
        })
}
