//! Building a plan: each attribute becomes its `filtered_events` property columns, its daily
//! partial columns and its output column, with names allocated as upstream names them.

use super::naming::{
    NameAllocator, cleaned_property_name, property_base_name, upstream_daily_name,
};
use super::{CountedValues, DailyColumn, OutputColumn, Partial, Predicate, PropertyColumn, Stored};
use crate::error::{Error, Result};
use crate::project::Semantics;
use crate::project::group::{
    Aggregation, Attribute, Criterion, Literal, Operator, Property, Scalar, ValueType,
};

pub(super) struct Builder {
    pub(super) mode: Semantics,
    pub(super) properties: Vec<PropertyColumn>,
    pub(super) property_names: NameAllocator,
    pub(super) daily: Vec<DailyColumn>,
    pub(super) daily_names: NameAllocator,
    pub(super) counted: Vec<CountedValues>,
}

/// Numbers are extracted as doubles whatever their declared width, so a JSON `13.0` or `"13.0"`
/// still reads as a number; outputs are cast back to the declared type at the end.
fn extraction_type(value_type: ValueType) -> ValueType {
    if value_type.is_numeric() {
        ValueType::Double
    } else {
        value_type
    }
}

impl Builder {
    fn property_column(&mut self, property: &Property, value_type: ValueType) -> String {
        self.column_of(property, extraction_type(value_type), None)
    }

    pub(super) fn column_of(
        &mut self,
        property: &Property,
        value_type: ValueType,
        stored: Option<Stored>,
    ) -> String {
        if let Some(existing) = self
            .properties
            .iter()
            .find(|p| p.property == *property && p.value_type == value_type && p.stored == stored)
        {
            return existing.name.clone();
        }
        let base = property_base_name(property);
        let base = match stored {
            None => base,
            Some(Stored::Number) => format!("{base}_stored_number"),
            Some(Stored::Text) => format!("{base}_stored_text"),
        };
        let name = self.property_names.allocate(&base);
        self.properties.push(PropertyColumn {
            name: name.clone(),
            property: property.clone(),
            value_type,
            stored,
        });
        name
    }

    /// Adds a daily column, reusing an identical one (upstream shares e.g. `first_<p>`).
    pub(super) fn daily_column(&mut self, base: &str, partial: Partial) -> String {
        if let Some(existing) = self.daily.iter().find(|d| d.partial == partial) {
            return existing.name.clone();
        }
        let name = self.daily_names.allocate(base);
        self.daily.push(DailyColumn {
            name: name.clone(),
            partial,
        });
        name
    }

    fn criterion(&mut self, criterion: &Criterion) -> Result<Predicate> {
        let value_type = criterion
            .value
            .as_ref()
            .map_or(ValueType::Text, Literal::value_type);
        let column = self.property_column(&criterion.property, value_type);
        let compat = self.mode == Semantics::Compat;
        let Some(criterion_value) = &criterion.value else {
            return Ok(match criterion.operator {
                Operator::IsNull => Predicate::IsNull { column },
                _ => Predicate::IsNotNull { column },
            });
        };
        let one = |value: &Literal| match value {
            Literal::One(scalar) => Ok(scalar.clone()),
            Literal::List(_) => Err(Error::invalid(
                format!("criterion on `{}`", criterion.property),
                format!(
                    "operator `{}` takes one value, not a list",
                    criterion.operator.as_str()
                ),
            )),
        };
        Ok(match criterion.operator {
            Operator::NotEq => Predicate::NotEqualOrNull {
                column,
                value: one(criterion_value)?,
            },
            Operator::Like => {
                let Scalar::Text(pattern) = one(criterion_value)? else {
                    return Err(Error::internal_shape("like without a string"));
                };
                // Upstream wraps every pattern in `%...%`; exact mode uses the pattern as given.
                Predicate::Like {
                    column,
                    pattern: if compat {
                        format!("%{pattern}%")
                    } else {
                        pattern
                    },
                }
            }
            Operator::In => {
                let values = match criterion_value {
                    Literal::List(list) => list.clone(),
                    Literal::One(Scalar::Text(text)) if compat => parse_compat_in_list(text)
                        .map_err(|m| {
                            Error::invalid(format!("criterion on `{}`", criterion.property), m)
                        })?,
                    Literal::One(scalar) => vec![scalar.clone()],
                };
                Predicate::In { column, values }
            }
            Operator::Lt | Operator::Gt | Operator::LtEq | Operator::GtEq
                if compat && value_type == ValueType::Text =>
            {
                return Err(Error::invalid(
                    format!("criterion on `{}`", criterion.property),
                    format!(
                        "operator `{}` on a string value is rejected upstream",
                        criterion.operator.as_str()
                    ),
                )
                .with_hint("compare strings in exact mode (`semantics: exact`)"));
            }
            Operator::IsNull | Operator::IsNotNull => {
                return Err(Error::invalid(
                    format!("criterion on `{}`", criterion.property),
                    format!("`{}` takes no value", criterion.operator.as_str()),
                ));
            }
            operator => Predicate::Compare {
                column,
                operator: operator.as_str(),
                value: one(criterion_value)?,
            },
        })
    }

    fn criteria(&mut self, list: &[Criterion]) -> Result<Vec<Predicate>> {
        list.iter().map(|c| self.criterion(c)).collect()
    }

    /// The attribute's "matching event" condition.
    fn matching(&mut self, attribute: &Attribute) -> Result<Predicate> {
        let all = self.criteria(&attribute.criteria.all)?;
        let any = self.criteria(&attribute.criteria.any)?;
        Ok(match self.mode {
            Semantics::Compat => {
                let mut ordered: Vec<String> = Vec::new();
                for event in &attribute.events {
                    if !ordered.contains(&event.name) {
                        ordered.push(event.name.clone());
                    }
                }
                let event = Predicate::EventNameIn(ordered);
                // upstream keeps `all` when present and silently drops `any`
                if !all.is_empty() {
                    Predicate::all([vec![event], all].concat())
                } else if !any.is_empty() {
                    Predicate::all(vec![event, Predicate::Any(any)])
                } else {
                    event
                }
            }
            Semantics::Exact => {
                let mut parts = vec![Predicate::EventIs(attribute.events.clone())];
                if attribute.events.is_empty() {
                    parts.clear();
                }
                parts.extend(all);
                if !any.is_empty() {
                    parts.push(Predicate::Any(any));
                }
                Predicate::all(parts)
            }
        })
    }

    pub(super) fn attribute(&mut self, attribute: &Attribute) -> Result<OutputColumn> {
        let compat = self.mode == Semantics::Compat;
        if compat && attribute.aggregation == Aggregation::Mean {
            return Err(Error::invalid(
                "aggregation",
                "`mean` is rejected by the upstream generator",
            )
            .with_hint("use `semantics: exact`, which computes an exact mean"));
        }
        let when = self.matching(attribute)?;
        if compat
            && matches!(attribute.aggregation, Aggregation::Min | Aggregation::Max)
            && attribute.value_type.is_numeric()
        {
            return self.compat_extreme(attribute, when);
        }
        // values counted or told apart are read as text, and so is time_since_*'s property,
        // which is only tested for NULL (read at the attribute's integer type, a text property
        // was NULL on every event), and compat's unique_list, which lists the values as
        // upstream casts what the events table stores (semantics.md 6.6); the others at the
        // attribute's type
        let read_as = match attribute.aggregation {
            Aggregation::ApproxCountDistinct
            | Aggregation::MostFrequent
            | Aggregation::LeastFrequent
            | Aggregation::CategoryCount
            | Aggregation::TimeSinceFirst
            | Aggregation::TimeSinceLast => ValueType::Text,
            Aggregation::UniqueList if compat => ValueType::Text,
            _ => attribute.value_type,
        };
        let value = attribute
            .property
            .as_ref()
            .map(|p| self.property_column(p, read_as));
        let value_name = || {
            value
                .clone()
                .ok_or_else(|| Error::invalid("property", "is required"))
        };
        let event_names: Vec<&str> = attribute.events.iter().map(|e| e.name.as_str()).collect();
        let base = |suffix: &str| -> String {
            if compat {
                upstream_daily_name(
                    attribute.aggregation,
                    attribute.property.as_ref().and_then(Property::as_path),
                    &event_names,
                    &attribute.criteria,
                    &attribute.name,
                )
            } else {
                format!("{}_{suffix}", attribute.name)
            }
        };
        let (daily, daily_second) = match attribute.aggregation {
            Aggregation::Counter => (
                self.daily_column(&base("count"), Partial::Count { when }),
                None,
            ),
            Aggregation::Sum => {
                let partial = Partial::Sum {
                    value: value_name()?,
                    when,
                    else_zero: compat,
                };
                (self.daily_column(&base("sum"), partial), None)
            }
            Aggregation::Min => (
                self.daily_column(
                    &base("min"),
                    Partial::Min {
                        value: value_name()?,
                        when,
                    },
                ),
                None,
            ),
            Aggregation::Max => (
                self.daily_column(
                    &base("max"),
                    Partial::Max {
                        value: value_name()?,
                        when,
                    },
                ),
                None,
            ),
            Aggregation::Mean => {
                let sum = Partial::Sum {
                    value: value_name()?,
                    when: when.clone(),
                    else_zero: false,
                };
                let count = Partial::ValueCount {
                    value: value_name()?,
                    when,
                };
                (
                    self.daily_column(&base("sum"), sum),
                    Some(self.daily_column(&base("value_count"), count)),
                )
            }
            Aggregation::TimeSinceFirst | Aggregation::TimeSinceLast => {
                // with a property, only events where it has a value count
                let when = match &value {
                    Some(column) => Predicate::all(vec![
                        when,
                        Predicate::IsNotNull {
                            column: column.clone(),
                        },
                    ]),
                    None => when,
                };
                let (word, partial) = if attribute.aggregation == Aggregation::TimeSinceFirst {
                    ("earliest", Partial::EarliestEvent { when })
                } else {
                    ("latest", Partial::LatestEvent { when })
                };
                (self.daily_column(&base(word), partial), None)
            }
            // approx_count_distinct counts the values a key's counts hold
            Aggregation::MostFrequent
            | Aggregation::LeastFrequent
            | Aggregation::CategoryCount
            | Aggregation::ApproxCountDistinct => {
                let counted = CountedValues {
                    value: value_name()?,
                    when,
                };
                let slot = match self.counted.iter().position(|c| *c == counted) {
                    Some(slot) => slot,
                    None => {
                        self.counted.push(counted);
                        self.counted.len() - 1
                    }
                };
                return Ok(OutputColumn {
                    name: attribute.name.clone(),
                    aggregation: attribute.aggregation,
                    value_type: attribute.value_type,
                    daily: String::new(),
                    daily_second: None,
                    period_days: attribute.period_days,
                    default_value: attribute.default_value.clone(),
                    time_unit: None,
                    counted: Some(slot),
                });
            }
            Aggregation::UniqueList => {
                let partial = Partial::UniqueList {
                    value: value_name()?,
                    when,
                    integers: !compat && attribute.value_type == ValueType::Integer,
                };
                (self.daily_column(&base("values"), partial), None)
            }
            Aggregation::First | Aggregation::Last => {
                let first = attribute.aggregation == Aggregation::First;
                let value = value_name()?;
                if compat {
                    let path = attribute.property.as_ref().and_then(Property::as_path);
                    let cleaned =
                        cleaned_property_name(path.expect("compat refuses other properties"));
                    let (name, partial) = if first {
                        (
                            format!("first_{cleaned}"),
                            Partial::First { value, when: None },
                        )
                    } else {
                        (
                            format!("last_{cleaned}"),
                            Partial::Last { value, when: None },
                        )
                    };
                    (self.daily_column(&name, partial), None)
                } else {
                    let (v, t) = if first {
                        (
                            Partial::First {
                                value: value.clone(),
                                when: Some(when.clone()),
                            },
                            Partial::FirstTstamp { value, when },
                        )
                    } else {
                        (
                            Partial::Last {
                                value: value.clone(),
                                when: Some(when.clone()),
                            },
                            Partial::LastTstamp { value, when },
                        )
                    };
                    let word = if first { "first" } else { "last" };
                    let value_column = self.daily_column(&base(word), v);
                    (
                        value_column,
                        Some(self.daily_column(&base(&format!("{word}_tstamp")), t)),
                    )
                }
            }
        };
        Ok(OutputColumn {
            name: attribute.name.clone(),
            aggregation: attribute.aggregation,
            value_type: attribute.value_type,
            daily,
            daily_second,
            period_days: attribute.period_days,
            default_value: attribute.default_value.clone(),
            time_unit: attribute.time_unit,
            counted: None,
        })
    }
}

/// Upstream pastes an `in` string verbatim (`"'DE','FR'"` -> `IN('DE','FR')`). Compat mode
/// accepts the same text but parses it as a list of literals, so it can never be SQL.
fn parse_compat_in_list(text: &str) -> std::result::Result<Vec<Scalar>, String> {
    use sqlparser::ast::{Expr, Value};
    let dialect = sqlparser::dialect::GenericDialect {};
    let sql = format!("SELECT 1 WHERE x IN ({text})");
    let statements = sqlparser::parser::Parser::parse_sql(&dialect, &sql)
        .map_err(|_| format!("`in` value `{text}` is not a comma-separated list of literals"))?;
    let not_literals =
        || format!("`in` value `{text}` must list only literals, e.g. `'DE','FR'` or `1,2`");
    let [sqlparser::ast::Statement::Query(query)] = statements.as_slice() else {
        return Err(not_literals());
    };
    let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Err(not_literals());
    };
    let Some(Expr::InList { list, .. }) = &select.selection else {
        return Err(not_literals());
    };
    list.iter()
        .map(|item| match item {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Ok(Scalar::Text(s.clone())),
                Value::Number(n, _) => n
                    .parse::<i64>()
                    .map(Scalar::Integer)
                    .or_else(|_| n.parse::<f64>().map(Scalar::Double))
                    .map_err(|_| not_literals()),
                Value::Boolean(b) => Ok(Scalar::Boolean(*b)),
                _ => Err(not_literals()),
            },
            _ => Err(not_literals()),
        })
        .collect()
}
