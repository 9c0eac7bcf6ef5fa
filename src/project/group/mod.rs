//! The attribute group: the Signals API JSON for one group, parsed and validated into types.
//!
//! Raw serde structs mirror the API shape (unknown fields ignored, as the API adds fields over
//! time); `AttributeGroup::from_json` turns them into a model where every aggregation, operator,
//! period and property path is already checked, so later stages never see a bad definition.

mod parse;
mod property_object;
mod time;

use serde_json::Value;

use super::property::PropertyPath;

pub use time::parse_period;

#[derive(Debug, Clone, PartialEq)]
pub struct AttributeGroup {
    pub name: String,
    pub version: u32,
    /// The name of the attribute key: the key column of the attributes table. Without a
    /// `key_property` it is also the events column whose value identifies an entity
    /// (`domain_userid`, `user_id`, ...).
    pub key_column: String,
    /// Where the key is read from when it is not an atomic column of that name: an event or
    /// entity property (a custom context's `customer_id`), or an atomic column of another name.
    pub key_property: Option<PropertyPath>,
    pub attributes: Vec<Attribute>,
    /// Events with a `derived_tstamp` before it are not read (`backfill_since_tstamp`).
    pub backfill_since: Option<chrono::NaiveDateTime>,
    /// How long Signals serves a value after it was last updated (`ttl`), in seconds.
    pub ttl_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value_type: ValueType,
    pub shape: Shape,
    /// Empty: every event (the current API's meaning of an empty list).
    pub events: Vec<EventRef>,
    pub aggregation: Aggregation,
    pub property: Option<Property>,
    pub criteria: Criteria,
    /// Whole days; `None` is lifetime.
    pub period_days: Option<u32>,
    pub default_value: Option<Literal>,
    /// `time_since_first`/`time_since_last` only.
    pub time_unit: Option<TimeUnit>,
    /// Lifetime attributes only; passed to Signals, not applied to the table.
    pub ttl_seconds: Option<u64>,
}

/// What an attribute's value is: one value, a list of them (`*_list`), or a map from value to
/// count (`dict`, `category_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Scalar,
    List,
    Map,
}

/// What an aggregation or a criterion reads from an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Property {
    Leaf(Leaf),
    /// `calculated`: one operation over 1-50 leaves.
    Calculated {
        operation: Operation,
        leaves: Vec<Leaf>,
        /// `concat` only.
        separator: Option<String>,
    },
}

/// One value of an event: a path (an atomic column or a self-describing field), optionally
/// reduced to a part of its date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    pub path: PropertyPath,
    pub date_part: Option<DatePart>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// The leaves as text joined by the separator, NULLs skipped; NULL when all are NULL.
    Concat,
    /// NULL when any leaf is NULL.
    Sum,
    Product,
    Min,
    Max,
    /// The first non-NULL leaf.
    Coalesce,
}

/// A part of a UTC timestamp (semantics.md, "Date parts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    /// `YYYY-MM-DD`.
    ActiveDay,
    /// The Monday that starts the ISO week, `YYYY-MM-DD`.
    ActiveWeek,
    /// `YYYY-MM`.
    ActiveMonth,
    /// 0-23.
    HourOfDay,
    /// ISO: 1 (Monday) to 7 (Sunday).
    DayOfWeek,
    /// 1-12.
    MonthOfYear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventRef {
    pub vendor: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    Counter,
    Sum,
    Min,
    Max,
    Mean,
    First,
    Last,
    UniqueList,
    MostFrequent,
    LeastFrequent,
    CategoryCount,
    ApproxCountDistinct,
    TimeSinceLast,
    TimeSinceFirst,
}

/// The scalar type of an attribute's values (the element type for lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Text,
    Integer,
    Double,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Criteria {
    pub all: Vec<Criterion>,
    pub any: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub property: Property,
    pub operator: Operator,
    /// `None` for `is null` and `is not null`.
    pub value: Option<Literal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
    Like,
    In,
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Integer(i64),
    Double(f64),
    Boolean(bool),
}

/// A value written in the group: a criterion's value, a default value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    One(Scalar),
    List(Vec<Scalar>),
}

impl Aggregation {
    pub const ALL: [(&'static str, Aggregation); 14] = [
        ("counter", Aggregation::Counter),
        ("sum", Aggregation::Sum),
        ("min", Aggregation::Min),
        ("max", Aggregation::Max),
        ("mean", Aggregation::Mean),
        ("first", Aggregation::First),
        ("last", Aggregation::Last),
        ("unique_list", Aggregation::UniqueList),
        ("most_frequent", Aggregation::MostFrequent),
        ("least_frequent", Aggregation::LeastFrequent),
        ("category_count", Aggregation::CategoryCount),
        ("approx_count_distinct", Aggregation::ApproxCountDistinct),
        ("time_since_last", Aggregation::TimeSinceLast),
        ("time_since_first", Aggregation::TimeSinceFirst),
    ];

    /// The aggregations of snowplow-signals 0.4.2-0.4.4, which compat mode reproduces.
    pub fn known_upstream(self) -> bool {
        matches!(
            self,
            Aggregation::Counter
                | Aggregation::Sum
                | Aggregation::Min
                | Aggregation::Max
                | Aggregation::Mean
                | Aggregation::First
                | Aggregation::Last
                | Aggregation::UniqueList
        )
    }

    /// Counted per value: the per-(key, day, value) counts of `value_counts.rs`.
    pub fn counts_values(self) -> bool {
        matches!(
            self,
            Aggregation::MostFrequent | Aggregation::LeastFrequent | Aggregation::CategoryCount
        )
    }
}

impl Operator {
    pub const ALL: [(&'static str, Operator); 10] = [
        ("=", Operator::Eq),
        ("!=", Operator::NotEq),
        ("<", Operator::Lt),
        (">", Operator::Gt),
        ("<=", Operator::LtEq),
        (">=", Operator::GtEq),
        ("like", Operator::Like),
        ("in", Operator::In),
        ("is null", Operator::IsNull),
        ("is not null", Operator::IsNotNull),
    ];
}

/// `as_str` and `from_name` over an enum's `ALL`: the names the group's JSON spells it by.
macro_rules! spelled_by_name {
    ($($kind:ty),*) => {$(
        impl $kind {
            pub fn as_str(self) -> &'static str {
                Self::ALL
                    .iter()
                    .find(|(_, value)| *value == self)
                    .map(|(name, _)| *name)
                    .unwrap_or("?")
            }

            pub fn from_name(name: &str) -> Option<$kind> {
                Self::ALL
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, value)| *value)
            }
        }
    )*};
}

spelled_by_name!(Aggregation, Operator, Operation, DatePart, TimeUnit);

impl Scalar {
    pub fn value_type(&self) -> ValueType {
        match self {
            Scalar::Text(_) => ValueType::Text,
            Scalar::Integer(_) => ValueType::Integer,
            Scalar::Double(_) => ValueType::Double,
            Scalar::Boolean(_) => ValueType::Boolean,
        }
    }

    /// The value as text, the way a list attribute's elements are stored.
    pub fn list_text(&self) -> String {
        match self {
            Scalar::Boolean(b) => b.to_string(),
            other => other.python_str(),
        }
    }

    /// Python's `str()` of the value, which upstream's column names are built from.
    pub fn python_str(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Integer(i) => i.to_string(),
            Scalar::Double(d) if d.fract() == 0.0 && d.abs() < 1e16 => format!("{d:.1}"),
            Scalar::Double(d) => d.to_string(),
            Scalar::Boolean(true) => "True".into(),
            Scalar::Boolean(false) => "False".into(),
        }
    }

    fn from_json(value: &Value) -> Option<Scalar> {
        match value {
            Value::String(s) => Some(Scalar::Text(s.clone())),
            Value::Bool(b) => Some(Scalar::Boolean(*b)),
            Value::Number(n) => n
                .as_i64()
                .map(Scalar::Integer)
                .or_else(|| n.as_f64().map(Scalar::Double)),
            _ => None,
        }
    }
}

impl Literal {
    pub fn scalars(&self) -> &[Scalar] {
        match self {
            Literal::One(scalar) => std::slice::from_ref(scalar),
            Literal::List(list) => list,
        }
    }

    /// Numbers compare numerically whatever their JSON spelling, so integers and doubles mix.
    pub fn value_type(&self) -> ValueType {
        match self.scalars().first().map(Scalar::value_type) {
            Some(ValueType::Integer) => ValueType::Double,
            Some(other) => other,
            None => ValueType::Text,
        }
    }
}

impl Property {
    /// The leaves it reads: itself, or a calculated property's.
    pub fn leaves(&self) -> &[Leaf] {
        match self {
            Property::Leaf(leaf) => std::slice::from_ref(leaf),
            Property::Calculated { leaves, .. } => leaves,
        }
    }

    /// The plain path, where the property is one with no date part (all that compat mode and
    /// upstream's naming know).
    pub fn as_path(&self) -> Option<&PropertyPath> {
        match self {
            Property::Leaf(Leaf {
                path,
                date_part: None,
            }) => Some(path),
            _ => None,
        }
    }

    /// The text the user wrote, or a readable summary of an object property.
    pub fn describe(&self) -> String {
        match self {
            Property::Leaf(leaf) => match leaf.date_part {
                None => leaf.path.raw.clone(),
                Some(part) => format!("{} of {}", part.as_str(), leaf.path.raw),
            },
            Property::Calculated {
                operation, leaves, ..
            } => format!(
                "{}({})",
                operation.as_str(),
                leaves
                    .iter()
                    .map(|l| Property::Leaf(l.clone()).describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::fmt::Display for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Operation {
    pub const ALL: [(&'static str, Operation); 6] = [
        ("concat", Operation::Concat),
        ("sum", Operation::Sum),
        ("product", Operation::Product),
        ("min", Operation::Min),
        ("max", Operation::Max),
        ("coalesce", Operation::Coalesce),
    ];
}

impl DatePart {
    pub const ALL: [(&'static str, DatePart); 6] = [
        ("active_day", DatePart::ActiveDay),
        ("active_week", DatePart::ActiveWeek),
        ("active_month", DatePart::ActiveMonth),
        ("hour_of_day", DatePart::HourOfDay),
        ("day_of_week", DatePart::DayOfWeek),
        ("month_of_year", DatePart::MonthOfYear),
    ];

    /// The type of the part: text for the active day, week and month, integers otherwise.
    pub fn value_type(self) -> ValueType {
        match self {
            DatePart::ActiveDay | DatePart::ActiveWeek | DatePart::ActiveMonth => ValueType::Text,
            DatePart::HourOfDay | DatePart::DayOfWeek | DatePart::MonthOfYear => ValueType::Integer,
        }
    }
}

impl TimeUnit {
    pub const ALL: [(&'static str, TimeUnit); 4] = [
        ("s", TimeUnit::Seconds),
        ("min", TimeUnit::Minutes),
        ("h", TimeUnit::Hours),
        ("d", TimeUnit::Days),
    ];

    pub fn seconds(self) -> u64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3_600,
            TimeUnit::Days => 86_400,
        }
    }
}

impl ValueType {
    pub fn is_numeric(self) -> bool {
        matches!(self, ValueType::Integer | ValueType::Double)
    }
}

#[cfg(test)]
mod tests;
