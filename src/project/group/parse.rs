//! Reading a group's JSON: the raw API shape, and each field checked into the model's types
//! with the attribute and field named in every error.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::property_object::{parse_key_property, parse_property};
use super::time::{parse_period, parse_timestamp, parse_ttl};
use super::{
    Aggregation, Attribute, AttributeGroup, Criteria, Criterion, EventRef, Literal, Operator,
    Scalar, Shape, TimeUnit, ValueType,
};
use crate::error::{Error, Result, in_context};
use crate::project::property::{PropertyPath, is_identifier};

// ---- raw API shape -------------------------------------------------------------------------

// The group's own fields are read leniently: the API adds and drops metadata (`full_name`,
// `feast_name`, ...) between versions. What defines a computation (attributes, events,
// criteria, properties) is read strictly: an unknown field there is a mistake to report.

#[derive(Deserialize)]
struct RawGroup {
    name: String,
    version: u32,
    attribute_key_or_name: Option<String>,
    attribute_key: Option<RawKey>,
    #[serde(default)]
    attributes: Vec<Value>,
    backfill_since_tstamp: Option<String>,
    ttl: Option<Value>,
}

#[derive(Deserialize)]
struct RawKey {
    name: Option<String>,
    key: Option<String>,
    external_column: Option<String>,
    property: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    name: String,
    #[serde(rename = "type")]
    value_type: String,
    #[serde(default)]
    events: Vec<RawEvent>,
    aggregation: String,
    property: Option<Value>,
    criteria: Option<RawCriteria>,
    period: Option<String>,
    default_value: Option<Value>,
    time_unit: Option<String>,
    ttl: Option<Value>,
    #[serde(rename = "description")]
    _description: Option<Value>,
    #[serde(rename = "property_syntax")]
    _property_syntax: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    vendor: Option<String>,
    name: String,
    version: Option<String>,
    #[serde(rename = "event_specification_id")]
    _event_specification_id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriteria {
    all: Option<Vec<RawCriterion>>,
    any: Option<Vec<RawCriterion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    property: Value,
    operator: String,
    value: Option<Value>,
    #[serde(rename = "property_syntax")]
    _property_syntax: Option<Value>,
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
        let (key_column, key_property) = parse_key(raw.attribute_key_or_name, raw.attribute_key)
            .map_err(in_context("attribute group"))?;
        if raw.attributes.is_empty() {
            return Err(Error::invalid(
                format!("attribute group `{}`", raw.name),
                "has no attributes",
            ));
        }
        let mut seen = HashSet::new();
        let mut attributes = Vec::with_capacity(raw.attributes.len());
        for (position, attribute) in raw.attributes.into_iter().enumerate() {
            let named = match attribute.get("name").and_then(Value::as_str) {
                Some(name) => format!("attribute `{name}`"),
                None => format!("attributes[{position}]"),
            };
            let attribute: RawAttribute = serde_json::from_value(attribute).map_err(|e| {
                Error::invalid(named, e.to_string())
                    .with_hint("an attribute has name, type, events, aggregation and optionally property, criteria, period, default_value, time_unit, ttl, description")
            })?;
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
        let backfill_since = raw
            .backfill_since_tstamp
            .as_deref()
            .map(parse_timestamp)
            .transpose()
            .map_err(in_context("attribute group `backfill_since_tstamp`"))?;
        let ttl_seconds =
            parse_ttl(raw.ttl.as_ref()).map_err(in_context("attribute group `ttl`"))?;
        Ok(AttributeGroup {
            name: raw.name,
            version: raw.version,
            key_column,
            key_property,
            attributes,
            backfill_since,
            ttl_seconds,
        })
    }
}

/// The key: an event or entity property where `attribute_key.property` says so, else the
/// column `attribute_key_or_name` (or the key's `key`, `external_column` or `name`) names. Its
/// name is derived as the SDK derives it: `external_column`, else the atomic column, else the
/// path's last segment.
fn parse_key(
    key_or_name: Option<String>,
    key: Option<RawKey>,
) -> Result<(String, Option<PropertyPath>)> {
    let property = key
        .as_ref()
        .and_then(|k| k.property.as_ref())
        .filter(|p| !p.is_null())
        .map(parse_key_property)
        .transpose()?;
    let (name, property) = match (property, key) {
        (Some(path), key) => {
            let key = key.expect("a property came from the key");
            let derived = key.external_column.clone().unwrap_or_else(|| {
                if path.is_atomic() {
                    path.column.clone()
                } else {
                    path.fields
                        .iter()
                        .rev()
                        .find(|f| !f.starts_with('['))
                        .cloned()
                        .unwrap_or_default()
                }
            });
            let name = key.name.unwrap_or(derived);
            let same_column = path.is_atomic() && path.column == name;
            (name, (!same_column).then_some(path))
        }
        (None, key) => {
            let name = key_or_name
                .or_else(|| key.as_ref().and_then(|k| k.key.clone()))
                .or_else(|| key.as_ref().and_then(|k| k.external_column.clone()))
                .or_else(|| key.and_then(|k| k.name))
                .ok_or_else(|| Error::invalid("attribute_key", "is missing").with_hint(
                    "name the key column in `attribute_key_or_name`, or give `attribute_key` a property",
                ))?;
            (name, None)
        }
    };
    if !is_identifier(&name) {
        return Err(Error::invalid(
            "attribute_key",
            format!("key `{name}` is not a column name"),
        )
        .with_hint("the key must be an atomic events column such as `domain_userid`, or a property with a plain name"));
    }
    Ok((name, property))
}

fn parse_attribute(raw: RawAttribute) -> Result<Attribute> {
    if !is_identifier(&raw.name) {
        return Err(Error::invalid("name", format!("`{}` is not a plain column name", raw.name))
            .with_hint("attribute names become columns: use letters, digits and `_`, starting with a letter"));
    }
    let aggregation = Aggregation::from_name(&raw.aggregation).ok_or_else(|| {
        let known: Vec<&str> = Aggregation::ALL.iter().map(|(n, _)| *n).collect();
        Error::invalid(
            "aggregation",
            format!("unknown aggregation `{}`", raw.aggregation),
        )
        .with_hint(format!("use one of {}", known.join(", ")))
    })?;
    let (value_type, shape) = parse_type(&raw.value_type)?;
    let expected = match aggregation {
        Aggregation::UniqueList => Shape::List,
        Aggregation::CategoryCount => Shape::Map,
        _ => Shape::Scalar,
    };
    if shape != expected {
        return Err(Error::invalid(
            "type",
            format!(
                "type `{}` does not fit the {} aggregation",
                raw.value_type,
                aggregation.as_str()
            ),
        )
        .with_hint(match expected {
            Shape::List => "unique_list takes a list type, e.g. string_list",
            Shape::Map => "category_count takes the type `dict`",
            Shape::Scalar => "list types fit unique_list and `dict` fits category_count",
        }));
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
    let property = match raw.property {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(value) => Some(parse_property(&value, "property")?),
    };
    let needs_property = !matches!(
        aggregation,
        Aggregation::Counter | Aggregation::TimeSinceFirst | Aggregation::TimeSinceLast
    );
    if property.is_none() && needs_property {
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
    let time_unit = match (&raw.time_unit, aggregation) {
        (Some(unit), Aggregation::TimeSinceFirst | Aggregation::TimeSinceLast) => {
            Some(TimeUnit::from_name(unit).ok_or_else(|| {
                Error::invalid("time_unit", format!("unknown time unit `{unit}`"))
                    .with_hint("use s, min, h or d")
            })?)
        }
        (None, Aggregation::TimeSinceFirst | Aggregation::TimeSinceLast) => {
            return Err(Error::invalid(
                "time_unit",
                format!(
                    "the `{}` aggregation needs a time unit",
                    aggregation.as_str()
                ),
            )
            .with_hint("add \"time_unit\": \"s\", \"min\", \"h\" or \"d\""));
        }
        (Some(unit), _) => {
            return Err(Error::invalid(
                "time_unit",
                format!("`{unit}` is only valid on time_since_first and time_since_last"),
            ));
        }
        (None, _) => None,
    };
    let ttl_seconds = parse_ttl(raw.ttl.as_ref()).map_err(in_context("ttl"))?;
    if ttl_seconds.is_some() && period_days.is_some() {
        return Err(Error::invalid(
            "ttl",
            "is only valid on lifetime attributes (without a period)",
        ));
    }
    let default_value = match raw.default_value {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(Literal::List(
            items
                .iter()
                .map(Scalar::from_json)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::invalid(
                        "default_value",
                        "a list default may hold only strings, numbers and booleans",
                    )
                })?,
        )),
        Some(value) => Some(Literal::One(Scalar::from_json(&value).ok_or_else(
            || {
                Error::invalid(
                    "default_value",
                    format!("`{value}` is not a string, number, boolean or list of them"),
                )
            },
        )?)),
    };
    Ok(Attribute {
        name: raw.name,
        value_type,
        shape,
        events,
        aggregation,
        property,
        criteria,
        period_days,
        default_value,
        time_unit,
        ttl_seconds,
    })
}

fn parse_type(text: &str) -> Result<(ValueType, Shape)> {
    if text == "dict" {
        return Ok((ValueType::Text, Shape::Map));
    }
    let (scalar, shape) = match text.strip_suffix("_list") {
        Some(scalar) => (scalar, Shape::List),
        None => (text, Shape::Scalar),
    };
    let value_type = match scalar {
        "string" | "bytes" => ValueType::Text,
        "int32" | "int64" | "unix_timestamp" => ValueType::Integer,
        "float" | "double" => ValueType::Double,
        "bool" => ValueType::Boolean,
        "timestamp" if shape == Shape::Scalar => ValueType::Timestamp,
        _ => {
            return Err(Error::invalid("type", format!("unknown type `{text}`"))
                .with_hint("use string, bytes, int32, int64, float, double, bool, unix_timestamp, timestamp, their _list forms, or dict"));
        }
    };
    Ok((value_type, shape))
}

fn parse_criteria(raw: Vec<RawCriterion>, field: &str) -> Result<Vec<Criterion>> {
    raw.into_iter()
        .enumerate()
        .map(|(position, criterion)| {
            let context = format!("{field}[{position}]");
            let property = parse_property(&criterion.property, &format!("{context}.property"))?;
            let operator = Operator::ALL
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(criterion.operator.trim()))
                .map(|(_, o)| *o)
                .ok_or_else(|| {
                    Error::invalid(
                        &context,
                        format!("unknown operator `{}`", criterion.operator),
                    )
                    .with_hint("use one of =, !=, <, >, <=, >=, like, in, is null, is not null")
                })?;
            let raw_value = criterion.value.unwrap_or(Value::Null);
            let value = match (&raw_value, operator) {
                (Value::Null, Operator::IsNull | Operator::IsNotNull) => None,
                (_, Operator::IsNull | Operator::IsNotNull) => {
                    return Err(Error::invalid(
                        &context,
                        format!("`{}` takes no value, got `{raw_value}`", operator.as_str()),
                    ));
                }
                (Value::Array(items), Operator::In) => {
                    let scalars = items
                        .iter()
                        .map(Scalar::from_json)
                        .collect::<Option<Vec<_>>>();
                    match scalars {
                        Some(list) if !list.is_empty() => Some(Literal::List(list)),
                        _ => {
                            return Err(Error::invalid(
                                &context,
                                format!(
                                    "`in` needs a non-empty list of scalars, got `{raw_value}`"
                                ),
                            ));
                        }
                    }
                }
                (value, _) => Some(Literal::One(Scalar::from_json(value).ok_or_else(|| {
                    Error::invalid(
                        &context,
                        format!("value `{value}` must be a string, number or boolean"),
                    )
                })?)),
            };
            if let Some(value) = &value {
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
                if operator == Operator::Like && !matches!(value, Literal::One(Scalar::Text(_))) {
                    return Err(Error::invalid(&context, "`like` needs a string pattern"));
                }
            }
            Ok(Criterion {
                property,
                operator,
                value,
            })
        })
        .collect()
}
