//! Expressions: predicates, daily partial aggregates and output folds, rendered for a dialect.

use chrono::NaiveDate;

use crate::dialect::{Dialect, OrderKey};
use crate::error::Result;
use crate::plan::{OutputColumn, Partial, Predicate, Stored};
use crate::project::group::{
    Aggregation, DatePart, EventRef, Leaf, Literal, Operation, Property, Scalar, ValueType,
};

/// A property's value in the events row aliased `events`, as `value_type` (semantics.md, "Property objects"):
/// a leaf's path, reduced to its date part where it has one, or a calculated property's
/// operation over its leaves.
pub fn property_value(
    d: &dyn Dialect,
    property: &Property,
    value_type: ValueType,
) -> Result<String> {
    let Property::Calculated {
        operation,
        leaves,
        separator,
    } = property
    else {
        let leaf = &property.leaves()[0];
        return leaf_value(d, leaf, value_type);
    };
    let read = |as_type: ValueType| -> Result<Vec<String>> {
        leaves
            .iter()
            .map(|leaf| leaf_value(d, leaf, as_type))
            .collect()
    };
    let any_null = |parts: &[String]| {
        parts
            .iter()
            .map(|p| format!("{p} IS NULL"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let value = match operation {
        Operation::Concat => {
            let parts = read(ValueType::Text)?;
            let separator = separator.as_deref().unwrap_or("");
            // each non-NULL part behind a separator, the first separator cut off: NULLs skipped
            let joined = parts
                .iter()
                .map(|p| {
                    format!(
                        "CASE WHEN {p} IS NULL THEN '' ELSE {} || {p} END",
                        d.string_literal(separator)
                    )
                })
                .collect::<Vec<_>>()
                .join(" || ");
            let text = format!(
                "CASE WHEN COALESCE({}) IS NULL THEN NULL ELSE SUBSTR({joined}, {}) END",
                parts.join(", "),
                separator.chars().count() + 1
            );
            return Ok(if value_type == ValueType::Text {
                text
            } else {
                d.try_cast(&text, value_type)
            });
        }
        Operation::Sum | Operation::Product => {
            let parts = read(ValueType::Double)?;
            let symbol = if *operation == Operation::Sum {
                " + "
            } else {
                " * "
            };
            format!("({})", parts.join(symbol))
        }
        Operation::Min | Operation::Max => {
            let parts = read(ValueType::Double)?;
            let function = if *operation == Operation::Min {
                "LEAST"
            } else {
                "GREATEST"
            };
            match parts.as_slice() {
                [one] => one.clone(),
                many => format!(
                    "CASE WHEN {} THEN NULL ELSE {function}({}) END",
                    any_null(many),
                    many.join(", ")
                ),
            }
        }
        Operation::Coalesce => {
            let parts = read(value_type)?;
            return Ok(match parts.as_slice() {
                [one] => one.clone(),
                many => format!("COALESCE({})", many.join(", ")),
            });
        }
    };
    // sums, products and extremes are numbers
    Ok(if value_type.is_numeric() {
        value
    } else {
        d.try_cast(&value, value_type)
    })
}

/// Compat mode's min/max (semantics.md 6.6): the property where the events table stores it as
/// `stored`, as text or as a double; NULL where it stores the other kind. Compat mode reads
/// only paths (property objects are refused there).
pub fn stored_value(d: &dyn Dialect, property: &Property, stored: Stored) -> Result<String> {
    let Some(path) = property.as_path() else {
        return Err(crate::error::Error::Internal(format!(
            "compat mode read `{property}` by its stored type, but it is not a path"
        )));
    };
    let is_text = d.stored_as_text(path)?;
    Ok(match stored {
        Stored::Text => format!(
            "CASE WHEN {is_text} THEN {} END",
            d.property(path, ValueType::Text)?
        ),
        Stored::Number => format!(
            "CASE WHEN NOT ({is_text}) THEN {} END",
            d.property(path, ValueType::Double)?
        ),
    })
}

fn leaf_value(d: &dyn Dialect, leaf: &Leaf, value_type: ValueType) -> Result<String> {
    let Some(part) = leaf.date_part else {
        return d.property(&leaf.path, value_type);
    };
    let at = d.property(&leaf.path, ValueType::Timestamp)?;
    let day = d.cast_to_text(&d.date_of(&at));
    let value = match part {
        DatePart::ActiveDay => day,
        DatePart::ActiveWeek => d.cast_to_text(&d.week_start(&at)),
        DatePart::ActiveMonth => format!("SUBSTR({day}, 1, 7)"),
        DatePart::HourOfDay => format!(
            "CAST(EXTRACT(HOUR FROM {at}) AS {})",
            d.type_name(ValueType::Integer)
        ),
        DatePart::DayOfWeek => format!(
            "CAST({} AS {})",
            d.iso_weekday(&at),
            d.type_name(ValueType::Integer)
        ),
        DatePart::MonthOfYear => format!(
            "CAST(EXTRACT(MONTH FROM {at}) AS {})",
            d.type_name(ValueType::Integer)
        ),
    };
    Ok(match (part.value_type(), value_type) {
        (have, want) if have == want => value,
        (_, ValueType::Text) => d.cast_to_text(&value),
        (_, want) => d.try_cast(&value, want),
    })
}

pub fn predicate(d: &dyn Dialect, p: &Predicate, alias: &str) -> String {
    let column = |name: &str| format!("{alias}.{}", d.ident(name));
    match p {
        Predicate::Always => "TRUE".into(),
        Predicate::EventNameIn(names) => {
            let list: Vec<String> = names.iter().map(|n| d.string_literal(n)).collect();
            format!("{} IN ({})", column("event_name"), list.join(", "))
        }
        Predicate::EventIs(events) if events.is_empty() => "TRUE".into(),
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
        Predicate::IsNull { column: c } => format!("{} IS NULL", column(c)),
        Predicate::IsNotNull { column: c } => format!("{} IS NOT NULL", column(c)),
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
        Partial::EarliestEvent { when: w } => {
            format!("MIN(CASE WHEN {} THEN events.derived_tstamp END)", when(w))
        }
        Partial::LatestEvent { when: w } => {
            format!("MAX(CASE WHEN {} THEN events.derived_tstamp END)", when(w))
        }
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
    /// Whether `daily.event_date` falls in a period of `period_days` (always, for lifetime).
    pub fn condition(
        &self,
        d: &dyn Dialect,
        period_days: Option<u32>,
        bounded_above: bool,
    ) -> String {
        self.condition_on(d, "daily.event_date", period_days, bounded_above)
    }

    /// [`Periods::condition`] on another date column.
    pub fn condition_on(
        &self,
        d: &dyn Dialect,
        date: &str,
        period_days: Option<u32>,
        bounded_above: bool,
    ) -> String {
        match period_days {
            None => "TRUE".into(),
            Some(days) => {
                let lower = self.end - chrono::Days::new(u64::from(days));
                let mut condition = format!("{date} >= {}", d.date_literal(lower));
                if bounded_above {
                    condition.push_str(&format!(" AND {date} < {}", d.date_literal(self.end)));
                }
                condition
            }
        }
    }
}

/// Casts a folded value back to the attribute's declared type (numbers were read as doubles,
/// counted values as text).
pub fn declared_type(d: &dyn Dialect, output: &OutputColumn, expr: String) -> String {
    match (output.aggregation, output.value_type) {
        (
            Aggregation::Min | Aggregation::Max | Aggregation::First | Aggregation::Last,
            ValueType::Integer,
        ) => d.try_cast(&expr, ValueType::Integer),
        (Aggregation::MostFrequent | Aggregation::LeastFrequent, value_type)
            if value_type != ValueType::Text =>
        {
            d.try_cast(&expr, value_type)
        }
        _ => expr,
    }
}

/// Whole `seconds_per_unit` from the timestamp `at` to the run's `now` (`time_since_*`).
pub fn whole_units_since(d: &dyn Dialect, at: &str, now: &str, seconds_per_unit: u64) -> String {
    format!(
        "CAST(FLOOR(CAST({} AS {}) / {}) AS {})",
        d.micros_between(at, now),
        d.type_name(ValueType::Double),
        seconds_per_unit * 1_000_000,
        d.type_name(ValueType::Integer)
    )
}

/// The output's `default_value` where the aggregation gave NULL (exact mode; upstream ignored
/// it). A list attribute's default is a list of the values' text.
pub fn with_default(d: &dyn Dialect, output: &OutputColumn, value: String) -> String {
    let Some(default) = &output.default_value else {
        return value;
    };
    let literal = match (output.aggregation, default) {
        (Aggregation::UniqueList, Literal::One(one)) => d.text_list_literal(&[one.python_str()]),
        (Aggregation::UniqueList, Literal::List(items)) => {
            let texts: Vec<String> = items.iter().map(Scalar::list_text).collect();
            d.text_list_literal(&texts)
        }
        (_, Literal::One(one)) => d.scalar_literal(one),
        (_, Literal::List(_)) => return value,
    };
    format!("COALESCE({value}, {literal})")
}
