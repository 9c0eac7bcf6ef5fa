//! Reading a group's JSON: the raw API shape, and each field checked into the model's types
//! with the attribute and field named in every error.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Aggregation, Attribute, AttributeGroup, Criteria, Criterion, CriterionValue, EventRef,
    Operator, Scalar, ValueType,
};
use crate::error::{Error, Result, in_context};
use crate::project::property::{PropertyPath, is_identifier};

// ---- raw API shape -------------------------------------------------------------------------

#[derive(Deserialize)]
struct RawGroup {
    name: String,
    version: u32,
    attribute_key_or_name: Option<String>,
    attribute_key: Option<RawKey>,
    #[serde(default)]
    attributes: Vec<RawAttribute>,
}

#[derive(Deserialize)]
struct RawKey {
    name: String,
}

#[derive(Deserialize)]
struct RawAttribute {
    name: String,
    #[serde(rename = "type")]
    value_type: String,
    #[serde(default)]
    events: Vec<RawEvent>,
    aggregation: String,
    property: Option<String>,
    criteria: Option<RawCriteria>,
    period: Option<String>,
    default_value: Option<Value>,
}

#[derive(Deserialize)]
struct RawEvent {
    vendor: Option<String>,
    name: String,
    version: Option<String>,
}

#[derive(Deserialize)]
struct RawCriteria {
    all: Option<Vec<RawCriterion>>,
    any: Option<Vec<RawCriterion>>,
}

#[derive(Deserialize)]
struct RawCriterion {
    property: String,
    operator: String,
    value: Value,
}

impl AttributeGroup {
    pub fn load(path: &Path) -> Result<AttributeGroup> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read the attribute group: {e}")))?;
        Self::from_json(&text).map_err(|error| match error {
            Error::Invalid {
                context,
                message,
                hint,
            } => Error::File {
                path: path.to_path_buf(),
                message: format!("{context}: {message}"),
                hint,
            },
            other => other,
        })
    }

    pub fn from_json(text: &str) -> Result<AttributeGroup> {
        let raw: RawGroup = serde_json::from_str(text).map_err(|e| {
            Error::invalid("attribute group", format!("malformed JSON: {e}"))
                .with_hint("the file must be the Signals API JSON for one attribute group")
        })?;
        if !is_identifier(&raw.name) {
            return Err(Error::invalid(
                "attribute group",
                format!("name `{}` is not a plain identifier", raw.name),
            ));
        }
        let key_column = raw
            .attribute_key_or_name
            .or(raw.attribute_key.map(|k| k.name))
            .ok_or_else(|| Error::invalid("attribute group", "has no `attribute_key_or_name`"))?;
        if !is_identifier(&key_column) {
            return Err(Error::invalid(
                "attribute group",
                format!("attribute key `{key_column}` is not a column name"),
            )
            .with_hint(
                "the key must be an atomic events column such as `domain_userid` or `user_id`",
            ));
        }
        if raw.attributes.is_empty() {
            return Err(Error::invalid(
                format!("attribute group `{}`", raw.name),
                "has no attributes",
            ));
        }
        let mut seen = HashSet::new();
        let mut attributes = Vec::with_capacity(raw.attributes.len());
        for attribute in raw.attributes {
            let context = format!("attribute `{}`", attribute.name);
            let attribute = parse_attribute(attribute).map_err(in_context(&context))?;
            let folded = attribute.name.to_lowercase();
            if folded == key_column.to_lowercase() || !seen.insert(folded) {
                return Err(Error::invalid(
                    context,
                    "the name is used twice (names are case-insensitive)",
                )
                .with_hint("every attribute and the key column need distinct names"));
            }
            attributes.push(attribute);
        }
        Ok(AttributeGroup {
            name: raw.name,
            version: raw.version,
            key_column,
            attributes,
        })
    }
}

fn parse_attribute(raw: RawAttribute) -> Result<Attribute> {
    if !is_identifier(&raw.name) {
        return Err(Error::invalid("name", format!("`{}` is not a plain column name", raw.name))
            .with_hint("attribute names become columns: use letters, digits and `_`, starting with a letter"));
    }
    let aggregation = Aggregation::ALL
        .iter()
        .find(|(name, _)| *name == raw.aggregation)
        .map(|(_, a)| *a)
        .ok_or_else(|| {
            Error::invalid(
                "aggregation",
                format!("unknown aggregation `{}`", raw.aggregation),
            )
            .with_hint("use one of counter, sum, min, max, mean, first, last, unique_list")
        })?;
    let (value_type, is_list) = parse_type(&raw.value_type)?;
    if is_list != (aggregation == Aggregation::UniqueList) && is_list {
        return Err(Error::invalid(
            "type",
            format!(
                "list type `{}` only fits the unique_list aggregation",
                raw.value_type
            ),
        ));
    }
    if raw.events.is_empty() {
        return Err(
            Error::invalid("events", "lists no event").with_hint("name at least one event type")
        );
    }
    let events = raw
        .events
        .into_iter()
        .map(|e| EventRef {
            vendor: e.vendor.filter(|v| !v.is_empty()),
            name: e.name,
            version: e.version.filter(|v| !v.is_empty()),
        })
        .collect::<Vec<_>>();
    if let Some(bad) = events.iter().find(|e| e.name.trim().is_empty()) {
        return Err(Error::invalid(
            "events",
            format!("an event has an empty name (vendor `{:?}`)", bad.vendor),
        ));
    }
    let property = raw
        .property
        .filter(|p| !p.is_empty())
        .map(|p| PropertyPath::parse(&p))
        .transpose()
        .map_err(|e| Error::invalid("property", e.to_string()))?;
    if property.is_none() && aggregation != Aggregation::Counter {
        return Err(Error::invalid(
            "property",
            format!(
                "the `{}` aggregation needs a property",
                aggregation.as_str()
            ),
        ));
    }
    let criteria = match raw.criteria {
        None => Criteria::default(),
        Some(c) => Criteria {
            all: parse_criteria(c.all.unwrap_or_default(), "criteria.all")?,
            any: parse_criteria(c.any.unwrap_or_default(), "criteria.any")?,
        },
    };
    let period_days = raw
        .period
        .as_deref()
        .map(parse_period)
        .transpose()
        .map_err(in_context("period"))?;
    let default_value = match raw.default_value {
        None | Some(Value::Null) => None,
        Some(value) => Some(Scalar::from_json(&value).ok_or_else(|| {
            Error::invalid(
                "default_value",
                format!("`{value}` is not a string, number or boolean"),
            )
        })?),
    };
    Ok(Attribute {
        name: raw.name,
        value_type,
        events,
        aggregation,
        property,
        criteria,
        period_days,
        default_value,
    })
}

fn parse_type(text: &str) -> Result<(ValueType, bool)> {
    let (scalar, is_list) = match text.strip_suffix("_list") {
        Some(scalar) => (scalar, true),
        None => (text, false),
    };
    let value_type = match scalar {
        "string" => ValueType::Text,
        "int32" | "int64" | "unix_timestamp" => ValueType::Integer,
        "float" | "double" => ValueType::Double,
        "bool" => ValueType::Boolean,
        _ => {
            return Err(Error::invalid("type", format!("unknown type `{text}`"))
                .with_hint("use string, int32, int64, float, double, bool or their _list forms"));
        }
    };
    Ok((value_type, is_list))
}

fn parse_criteria(raw: Vec<RawCriterion>, field: &str) -> Result<Vec<Criterion>> {
    raw.into_iter()
        .enumerate()
        .map(|(position, criterion)| {
            let context = format!("{field}[{position}]");
            let property = PropertyPath::parse(&criterion.property)
                .map_err(|e| Error::invalid(&context, e.to_string()))?;
            let operator = Operator::ALL
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&criterion.operator))
                .map(|(_, o)| *o)
                .ok_or_else(|| {
                    Error::invalid(
                        &context,
                        format!("unknown operator `{}`", criterion.operator),
                    )
                    .with_hint("use one of =, !=, <, >, <=, >=, like, in")
                })?;
            let value = match &criterion.value {
                Value::Array(items) if operator == Operator::In => {
                    let scalars = items
                        .iter()
                        .map(Scalar::from_json)
                        .collect::<Option<Vec<_>>>();
                    match scalars {
                        Some(list) if !list.is_empty() => CriterionValue::List(list),
                        _ => {
                            return Err(Error::invalid(
                                &context,
                                format!(
                                    "`in` needs a non-empty list of scalars, got `{}`",
                                    criterion.value
                                ),
                            ));
                        }
                    }
                }
                value => CriterionValue::One(Scalar::from_json(value).ok_or_else(|| {
                    Error::invalid(
                        &context,
                        format!("value `{value}` must be a string, number or boolean"),
                    )
                })?),
            };
            let kinds: HashSet<bool> = value
                .scalars()
                .iter()
                .map(|s| s.value_type().is_numeric())
                .collect();
            if kinds.len() > 1 {
                return Err(Error::invalid(
                    &context,
                    "an `in` list mixes numbers and other values",
                ));
            }
            if operator == Operator::Like && !matches!(value, CriterionValue::One(Scalar::Text(_)))
            {
                return Err(Error::invalid(&context, "`like` needs a string pattern"));
            }
            Ok(Criterion {
                property,
                operator,
                value,
            })
        })
        .collect()
}

/// ISO-8601 durations of whole days: `P7D`, `P2W`, `PT48H`, `P1DT24H`. Months and years have
/// no fixed length and anything that leaves a part-day is refused rather than truncated.
pub fn parse_period(text: &str) -> Result<u32> {
    let bad = |why: &str| {
        Error::invalid("", format!("`{text}` {why}"))
            .with_hint("write a whole number of days, e.g. `P7D` or `P4W`")
    };
    let body = text
        .strip_prefix('P')
        .ok_or_else(|| bad("is not an ISO-8601 duration"))?;
    let (date_part, time_part) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut seconds: u64 = 0;
    let mut any = false;
    for (part, units) in [
        (date_part, &[('W', 7 * 86_400u64), ('D', 86_400)][..]),
        (
            time_part.unwrap_or(""),
            &[('H', 3_600), ('M', 60), ('S', 1)][..],
        ),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c).ok_or_else(|| {
                if c == 'Y' || (c == 'M' && units.len() == 2) {
                    bad("uses months or years, which are not a fixed number of days")
                } else {
                    bad("is not an ISO-8601 duration")
                }
            })?;
            let n: u64 = number
                .parse()
                .map_err(|_| bad("is not an ISO-8601 duration"))?;
            seconds = seconds.saturating_add(n.saturating_mul(unit.1));
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return Err(bad("is not an ISO-8601 duration"));
        }
    }
    if !any || seconds == 0 {
        return Err(bad("is empty"));
    }
    if !seconds.is_multiple_of(86_400) {
        return Err(bad("is not a whole number of days"));
    }
    u32::try_from(seconds / 86_400).map_err(|_| bad("is too long"))
}
