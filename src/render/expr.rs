//! Expressions: predicates, daily partial aggregates and output folds, rendered for a dialect.

use chrono::NaiveDate;

use crate::dialect::{Dialect, OrderKey};
use crate::plan::{OutputColumn, Partial, Predicate};
use crate::project::group::{Aggregation, EventRef, ValueType};

pub fn predicate(d: &dyn Dialect, p: &Predicate, alias: &str) -> String {
    let column = |name: &str| format!("{alias}.{}", d.ident(name));
    match p {
        Predicate::Always => "TRUE".into(),
        Predicate::EventNameIn(names) => {
            let list: Vec<String> = names.iter().map(|n| d.string_literal(n)).collect();
            format!("{} IN ({})", column("event_name"), list.join(", "))
        }
        Predicate::EventIs(events) => event_types(d, events, alias, false),
        Predicate::Compare {
            column: c,
            operator,
            value,
        } => {
            format!("{} {operator} {}", column(c), d.scalar_literal(value))
        }
        Predicate::NotEqualOrNull { column: c, value } => {
            format!(
                "({} <> {} OR {} IS NULL)",
                column(c),
                d.scalar_literal(value),
                column(c)
            )
        }
        Predicate::Like { column: c, pattern } => {
            format!("{} LIKE {}", column(c), d.string_literal(pattern))
        }
        Predicate::In { column: c, values } => {
            let list: Vec<String> = values.iter().map(|v| d.scalar_literal(v)).collect();
            format!("{} IN ({})", column(c), list.join(", "))
        }
        Predicate::All(parts) => parts
            .iter()
            .map(|q| format!("({})", predicate(d, q, alias)))
            .collect::<Vec<_>>()
            .join(" AND "),
        Predicate::Any(parts) => {
            format!(
                "({})",
                parts
                    .iter()
                    .map(|q| format!("({})", predicate(d, q, alias)))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            )
        }
    }
}

/// The OR over event types. `upstream_vendor_bug`: an event without vendor filters on the
/// string 'None' (upstream's defect, kept in compat mode).
pub fn event_types(
    d: &dyn Dialect,
    events: &[EventRef],
    alias: &str,
    upstream_vendor_bug: bool,
) -> String {
    let terms: Vec<String> = events
        .iter()
        .map(|e| {
            let mut parts = vec![format!(
                "{alias}.event_name = {}",
                d.string_literal(&e.name)
            )];
            match (&e.vendor, upstream_vendor_bug) {
                (Some(vendor), _) => parts.push(format!(
                    "{alias}.event_vendor = {}",
                    d.string_literal(vendor)
                )),
                (None, true) => parts.push(format!(
                    "{alias}.event_vendor = {}",
                    d.string_literal("None")
                )),
                (None, false) => {}
            }
            if let Some(version) = &e.version {
                parts.push(format!(
                    "{alias}.event_version = {}",
                    d.string_literal(version)
                ));
            }
            format!("({})", parts.join(" AND "))
        })
        .collect();
    terms.join(" OR ")
}

const WHOLE_PARTITION: &str = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING";

/// The order of events within a day (semantics.md 2.6): derived, then load time, then event id.
const EVENT_ORDER: OrderKey<'static> = OrderKey {
    timestamps: &["events.derived_tstamp", "events.load_tstamp"],
    tie_break: Some("events.event_id"),
};

/// Compat mode's daily first/last need a window function first (upstream's rule: the value of
/// the day's earliest/latest event of the group by `derived_tstamp`, NULL values kept). Exact
/// mode's are plain aggregates (`daily_aggregate`), so no partial needs a window there.
pub fn daily_window(d: &dyn Dialect, partial: &Partial) -> Option<String> {
    let day = "PARTITION BY events.attribute_key, events.event_date";
    let (function, value) = match partial {
        Partial::First { value, when: None } => ("FIRST_VALUE", value),
        Partial::Last { value, when: None } => ("LAST_VALUE", value),
        _ => return None,
    };
    Some(format!(
        "{function}(events.{}) OVER ({day} ORDER BY events.derived_tstamp {WHOLE_PARTITION})",
        d.ident(value)
    ))
}

/// The aggregate computing a daily partial; `window_column` is the column `daily_window` made.
pub fn daily_aggregate(d: &dyn Dialect, partial: &Partial, window_column: &str) -> String {
    let when = |p: &Predicate| predicate(d, p, "events");
    let value = |v: &str| format!("events.{}", d.ident(v));
    let matched_value =
        |v: &str, w: &Predicate| format!("{} AND {} IS NOT NULL", when(w), value(v));
    match partial {
        Partial::Count { when: w } => format!(
            "CAST(SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS {})",
            when(w),
            d.type_name(ValueType::Integer)
        ),
        Partial::Sum {
            value: v,
            when: w,
            else_zero,
        } => format!(
            "SUM(CASE WHEN {} THEN CAST({} AS {}) {}END)",
            when(w),
            value(v),
            d.type_name(ValueType::Double),
            if *else_zero { "ELSE 0 " } else { "" }
        ),
        Partial::Min { value: v, when: w } => {
            format!("MIN(CASE WHEN {} THEN {} END)", when(w), value(v))
        }
        Partial::Max { value: v, when: w } => {
            format!("MAX(CASE WHEN {} THEN {} END)", when(w), value(v))
        }
        Partial::ValueCount { value: v, when: w } => {
            format!("COUNT(CASE WHEN {} THEN {} END)", when(w), value(v))
        }
        Partial::UniqueList {
            value: v,
            when: w,
            integers,
        } => {
            let element = if *integers {
                d.try_cast(&value(v), ValueType::Integer)
            } else {
                value(v)
            };
            d.unique_list_daily(&element, &when(w))
        }
        Partial::First {
            value: v,
            when: Some(w),
        } => d.value_at_extreme(true, &value(v), &matched_value(v, w), &EVENT_ORDER),
        Partial::Last {
            value: v,
            when: Some(w),
        } => d.value_at_extreme(false, &value(v), &matched_value(v, w), &EVENT_ORDER),
        Partial::FirstTstamp { value: v, when: w } => format!(
            "MIN(CASE WHEN {} THEN events.derived_tstamp END)",
            matched_value(v, w)
        ),
        Partial::LastTstamp { value: v, when: w } => format!(
            "MAX(CASE WHEN {} THEN events.derived_tstamp END)",
            matched_value(v, w)
        ),
        // every row of the partition carries the same window value
        Partial::First { when: None, .. } | Partial::Last { when: None, .. } => {
            format!("MAX({})", d.ident(window_column))
        }
    }
}

/// The event dates of an attribute period of N days: `[end - N, end)`, where the end is today
/// (or tomorrow with `include_current_day_in_windows`; `Plan::period_end`).
pub struct Periods {
    pub end: NaiveDate,
}

impl Periods {
    pub fn condition(
        &self,
        d: &dyn Dialect,
        period_days: Option<u32>,
        bounded_above: bool,
    ) -> String {
        match period_days {
            None => "TRUE".into(),
            Some(days) => {
                let lower = self.end - chrono::Days::new(u64::from(days));
                let mut condition = format!("daily.event_date >= {}", d.date_literal(lower));
                if bounded_above {
                    condition.push_str(&format!(
                        " AND daily.event_date < {}",
                        d.date_literal(self.end)
                    ));
                }
                condition
            }
        }
    }
}

/// Casts a folded value back to the attribute's declared type (numbers were read as doubles).
pub fn declared_type(d: &dyn Dialect, output: &OutputColumn, expr: String) -> String {
    match (output.aggregation, output.value_type) {
        (
            Aggregation::Min | Aggregation::Max | Aggregation::First | Aggregation::Last,
            ValueType::Integer,
        ) => d.try_cast(&expr, ValueType::Integer),
        _ => expr,
    }
}
