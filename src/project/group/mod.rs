//! The attribute group: the Signals API JSON for one group, parsed and validated into types.
//!
//! Raw serde structs mirror the API shape (unknown fields ignored, as the API adds fields over
//! time); `AttributeGroup::from_json` turns them into a model where every aggregation, operator,
//! period and property path is already checked, so later stages never see a bad definition.

mod parse;

use serde_json::Value;

use super::property::PropertyPath;

pub use parse::parse_period;

#[derive(Debug, Clone, PartialEq)]
pub struct AttributeGroup {
    pub name: String,
    pub version: u32,
    /// The events column whose value identifies an entity (`domain_userid`, `user_id`, ...).
    pub key_column: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value_type: ValueType,
    pub events: Vec<EventRef>,
    pub aggregation: Aggregation,
    pub property: Option<PropertyPath>,
    pub criteria: Criteria,
    /// Whole days; `None` is lifetime.
    pub period_days: Option<u32>,
    pub default_value: Option<Scalar>,
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
}

/// The scalar type of an attribute's values (the element type for lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Text,
    Integer,
    Double,
    Boolean,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Criteria {
    pub all: Vec<Criterion>,
    pub any: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub property: PropertyPath,
    pub operator: Operator,
    pub value: CriterionValue,
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Integer(i64),
    Double(f64),
    Boolean(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CriterionValue {
    One(Scalar),
    List(Vec<Scalar>),
}

impl Aggregation {
    pub const ALL: [(&'static str, Aggregation); 8] = [
        ("counter", Aggregation::Counter),
        ("sum", Aggregation::Sum),
        ("min", Aggregation::Min),
        ("max", Aggregation::Max),
        ("mean", Aggregation::Mean),
        ("first", Aggregation::First),
        ("last", Aggregation::Last),
        ("unique_list", Aggregation::UniqueList),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(name, _)| *name)
            .unwrap_or("?")
    }
}

impl Operator {
    pub const ALL: [(&'static str, Operator); 8] = [
        ("=", Operator::Eq),
        ("!=", Operator::NotEq),
        ("<", Operator::Lt),
        (">", Operator::Gt),
        ("<=", Operator::LtEq),
        (">=", Operator::GtEq),
        ("like", Operator::Like),
        ("in", Operator::In),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(name, _)| *name)
            .unwrap_or("?")
    }
}

impl Scalar {
    pub fn value_type(&self) -> ValueType {
        match self {
            Scalar::Text(_) => ValueType::Text,
            Scalar::Integer(_) => ValueType::Integer,
            Scalar::Double(_) => ValueType::Double,
            Scalar::Boolean(_) => ValueType::Boolean,
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

impl CriterionValue {
    pub fn scalars(&self) -> &[Scalar] {
        match self {
            CriterionValue::One(scalar) => std::slice::from_ref(scalar),
            CriterionValue::List(list) => list,
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

impl ValueType {
    pub fn is_numeric(self) -> bool {
        matches!(self, ValueType::Integer | ValueType::Double)
    }
}

#[cfg(test)]
mod tests;
