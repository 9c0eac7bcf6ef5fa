//! Properties as the current Signals model writes them: a path string in one of the three
//! warehouse syntaxes (`property.rs`), or an object (`atomic`, `event`, `entity`, `calculated`),
//! each optionally reduced to a `date_part`. Every object is checked field by field: an unknown
//! field or value is refused with the field named.

use serde_json::{Map, Value};

use super::{DatePart, Leaf, Operation, Property};
use crate::error::{Error, Result};
use crate::project::property::{PathSyntax, PropertyPath, camel_to_snake, is_identifier};

/// The most leaves a calculated property takes (the API's limit).
const MAX_LEAVES: usize = 50;

/// A property as the group's JSON writes it; `field` names it in errors (`property`,
/// `criteria.all[0].property`).
pub(super) fn parse_property(value: &Value, field: &str) -> Result<Property> {
    match value {
        Value::String(text) => Ok(Property::Leaf(Leaf {
            path: PropertyPath::parse(text).map_err(|e| Error::invalid(field, e.to_string()))?,
            date_part: None,
        })),
        Value::Object(object) if object.get("type").and_then(Value::as_str) == Some("calculated") => {
            parse_calculated(object, field)
        }
        Value::Object(object) => parse_leaf(object, field, true).map(Property::Leaf),
        other => Err(Error::invalid(
            field,
            format!("`{other}` is neither a property path nor a property object"),
        )
        .with_hint(
            r#"write a path such as "geo_country", or an object such as {"type": "atomic", "name": "geo_country"}"#,
        )),
    }
}

/// The key's property: atomic, event or entity, without a date part.
pub(super) fn parse_key_property(value: &Value) -> Result<PropertyPath> {
    let field = "attribute_key.property";
    let Value::Object(object) = value else {
        return Err(Error::invalid(
            field,
            format!("`{value}` is not a property object"),
        ));
    };
    if object.get("type").and_then(Value::as_str) == Some("calculated") {
        return Err(Error::invalid(
            field,
            "a key cannot be a calculated property",
        ));
    }
    Ok(parse_leaf(object, field, false)?.path)
}

fn parse_calculated(object: &Map<String, Value>, field: &str) -> Result<Property> {
    only_fields(
        object,
        &["type", "operation", "properties", "separator"],
        field,
    )?;
    let operation_name = text_field(object, "operation", field)?;
    let operation = Operation::from_name(operation_name).ok_or_else(|| {
        Error::invalid(
            format!("{field}.operation"),
            format!("unknown operation `{operation_name}`"),
        )
        .with_hint("use one of concat, sum, product, min, max, coalesce")
    })?;
    let Some(Value::Array(items)) = object.get("properties") else {
        return Err(Error::invalid(
            format!("{field}.properties"),
            "a calculated property needs a list of properties",
        ));
    };
    if items.is_empty() || items.len() > MAX_LEAVES {
        return Err(Error::invalid(
            format!("{field}.properties"),
            format!(
                "lists {} properties; 1 to {MAX_LEAVES} are allowed",
                items.len()
            ),
        ));
    }
    let mut leaves = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let item_field = format!("{field}.properties[{position}]");
        let leaf = match item {
            Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("calculated") => {
                return Err(Error::invalid(
                    item_field,
                    "calculated properties do not nest",
                ));
            }
            Value::Object(o) => parse_leaf(o, &item_field, true)?,
            Value::String(_) => match parse_property(item, &item_field)? {
                Property::Leaf(leaf) => leaf,
                Property::Calculated { .. } => unreachable!("a string is a leaf"),
            },
            other => {
                return Err(Error::invalid(
                    item_field,
                    format!("`{other}` is not a property"),
                ));
            }
        };
        leaves.push(leaf);
    }
    let separator = match object.get("separator") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if operation == Operation::Concat && s.chars().count() <= 16 => {
            Some(s.clone())
        }
        Some(Value::String(_)) if operation == Operation::Concat => {
            return Err(Error::invalid(
                format!("{field}.separator"),
                "is longer than 16 characters",
            ));
        }
        Some(other) => {
            return Err(Error::invalid(
                format!("{field}.separator"),
                format!("`{other}` is only valid as a string on `concat`"),
            ));
        }
    };
    Ok(Property::Calculated {
        operation,
        leaves,
        separator,
    })
}

fn parse_leaf(object: &Map<String, Value>, field: &str, date_part_allowed: bool) -> Result<Leaf> {
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("atomic");
    let path = match kind {
        "atomic" => {
            only_fields(object, &["type", "name", "date_part"], field)?;
            let name = text_field(object, "name", field)?;
            if !is_identifier(name) {
                return Err(Error::invalid(
                    format!("{field}.name"),
                    format!("`{name}` is not an atomic column name"),
                ));
            }
            PropertyPath::parse(name).map_err(|e| Error::invalid(field, e.to_string()))?
        }
        "event" | "entity" => {
            let mut allowed = vec![
                "type",
                "vendor",
                "name",
                "major_version",
                "path",
                "date_part",
            ];
            if kind == "entity" {
                allowed.push("index");
            }
            only_fields(object, &allowed, field)?;
            self_describing_path(object, kind, field)?
        }
        other => {
            return Err(Error::invalid(
                format!("{field}.type"),
                format!("unknown property type `{other}`"),
            )
            .with_hint("use atomic, event, entity or calculated"));
        }
    };
    let date_part = match object.get("date_part") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let name = value.as_str().unwrap_or_default();
            let part = DatePart::from_name(name).ok_or_else(|| {
                    Error::invalid(
                        format!("{field}.date_part"),
                        format!("unknown date part `{value}`"),
                    )
                    .with_hint("use one of active_day, active_week, active_month, hour_of_day, day_of_week, month_of_year")
                })?;
            if !date_part_allowed {
                return Err(Error::invalid(
                    format!("{field}.date_part"),
                    "a key cannot have a date part",
                ));
            }
            if path.is_atomic() && !path.column.ends_with("_tstamp") {
                return Err(Error::invalid(
                    format!("{field}.date_part"),
                    format!("`{}` is not a timestamp column", path.column),
                )
                .with_hint("date parts apply to the `*_tstamp` columns, e.g. derived_tstamp"));
            }
            Some(part)
        }
    };
    Ok(Leaf { path, date_part })
}

/// `{vendor, name, major_version, path[, index]}` as the loaders' column and a field path:
/// `contexts_com_acme_user_1[0]:profile.customerId`.
fn self_describing_path(
    object: &Map<String, Value>,
    kind: &str,
    field: &str,
) -> Result<PropertyPath> {
    let vendor = text_field(object, "vendor", field)?;
    let name = text_field(object, "name", field)?;
    let major = object
        .get("major_version")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0)
        .ok_or_else(|| {
            Error::invalid(
                format!("{field}.major_version"),
                "must be a whole number from 1",
            )
        })?;
    let index = match object.get("index") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_u64()
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| {
                Error::invalid(
                    format!("{field}.index"),
                    format!("`{value}` is not an index"),
                )
            })?,
    };
    let as_column_part = |text: &str, what: &str| -> Result<String> {
        let part = camel_to_snake(text).replace(['.', '-'], "_");
        if is_identifier(&format!("x{part}")) {
            Ok(part)
        } else {
            Err(Error::invalid(
                format!("{field}.{what}"),
                format!("`{text}` cannot name a column"),
            ))
        }
    };
    let prefix = if kind == "entity" {
        "contexts"
    } else {
        "unstruct_event"
    };
    let column = format!(
        "{prefix}_{}_{}_{major}",
        as_column_part(vendor, "vendor")?,
        as_column_part(name, "name")?
    );
    let path_text = text_field(object, "path", field)?;
    let fields = json_path_segments(path_text).map_err(|reason| {
        Error::invalid(format!("{field}.path"), format!("`{path_text}` {reason}"))
    })?;
    let index = (kind == "entity").then_some(index);
    let mut raw = column.clone();
    if let Some(i) = index {
        raw.push_str(&format!("[{i}]"));
    }
    raw.push(':');
    for (position, segment) in fields.iter().enumerate() {
        if position > 0 && !segment.starts_with('[') {
            raw.push('.');
        }
        raw.push_str(segment);
    }
    Ok(PropertyPath {
        raw,
        column,
        index,
        fields,
        syntax: PathSyntax::Snowflake,
    })
}

/// The JSONPath subset the API allows: `$.a.b`, `a.b`, `$.items[1].value`. Field names become
/// segments, each `[n]` a segment of its own (`PropertyPath::fields`).
fn json_path_segments(text: &str) -> std::result::Result<Vec<String>, &'static str> {
    let body = text
        .strip_prefix("$.")
        .or_else(|| text.strip_prefix('$'))
        .unwrap_or(text);
    if body.is_empty() {
        return Err("names no field");
    }
    let mut segments = Vec::new();
    for part in body.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !is_identifier(name) {
            return Err("is not a path of plain field names and [n] indexes");
        }
        segments.push(name.to_string());
        while let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or("has an unclosed `[`")?;
            let index: u32 = after[..close]
                .parse()
                .map_err(|_| "has an index that is not a whole number")?;
            segments.push(format!("[{index}]"));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            return Err("is not a path of plain field names and [n] indexes");
        }
    }
    Ok(segments)
}

fn text_field<'a>(object: &'a Map<String, Value>, name: &str, field: &str) -> Result<&'a str> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(format!("{field}.{name}"), "is missing or not a string"))
}

/// Refuses the fields an object of this kind does not have.
pub(super) fn only_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    field: &str,
) -> Result<()> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(Error::invalid(
            format!("{field}.{unknown}"),
            "is not a field of this property",
        )
        .with_hint(format!("the fields are {}", allowed.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_and_event_objects_name_the_loaders_columns() {
        let entity = parse_property(
            &json!({"type": "entity", "vendor": "com.acme", "name": "customerProfile", "major_version": 2, "path": "$.ids[1].customerId", "index": 1}),
            "property",
        )
        .unwrap();
        let Property::Leaf(leaf) = entity else {
            panic!()
        };
        assert_eq!(leaf.path.column, "contexts_com_acme_customer_profile_2");
        assert_eq!(leaf.path.index, Some(1));
        assert_eq!(leaf.path.fields, vec!["ids", "[1]", "customerId"]);
        assert_eq!(
            leaf.path.raw,
            "contexts_com_acme_customer_profile_2[1]:ids[1].customerId"
        );
        let event = parse_property(
            &json!({"type": "event", "vendor": "com.acme", "name": "add-to-cart", "major_version": 1, "path": "price"}),
            "property",
        )
        .unwrap();
        let Property::Leaf(leaf) = event else {
            panic!()
        };
        assert_eq!(leaf.path.column, "unstruct_event_com_acme_add_to_cart_1");
        assert_eq!(leaf.path.index, None);
    }

    #[test]
    fn calculated_properties_and_date_parts() {
        let calculated = parse_property(
            &json!({"type": "calculated", "operation": "concat", "separator": "/", "properties": [
                {"type": "atomic", "name": "geo_country"},
                {"type": "atomic", "name": "derived_tstamp", "date_part": "hour_of_day"}
            ]}),
            "property",
        )
        .unwrap();
        let Property::Calculated {
            operation,
            leaves,
            separator,
        } = calculated
        else {
            panic!()
        };
        assert_eq!(operation, Operation::Concat);
        assert_eq!(separator.as_deref(), Some("/"));
        assert_eq!(leaves[1].date_part, Some(DatePart::HourOfDay));
    }

    #[test]
    fn bad_objects_name_the_field() {
        let cases = [
            (
                json!({"type": "atomic", "name": "geo_country", "colour": 1}),
                "property.colour",
            ),
            (
                json!({"type": "atomic", "name": "geo_country", "date_part": "active_day"}),
                "property.date_part",
            ),
            (
                json!({"type": "atomic", "name": "derived_tstamp", "date_part": "fortnight"}),
                "property.date_part",
            ),
            (json!({"type": "thing"}), "property.type"),
            (
                json!({"type": "entity", "vendor": "v", "name": "n", "major_version": 0, "path": "a"}),
                "property.major_version",
            ),
            (
                json!({"type": "entity", "vendor": "v", "name": "n", "major_version": 1, "path": "a[x]"}),
                "property.path",
            ),
            (
                json!({"type": "event", "vendor": "v", "name": "n", "major_version": 1, "path": "a", "index": 0}),
                "property.index",
            ),
            (
                json!({"type": "calculated", "operation": "divide", "properties": ["a"]}),
                "property.operation",
            ),
            (
                json!({"type": "calculated", "operation": "sum", "properties": []}),
                "property.properties",
            ),
            (
                json!({"type": "calculated", "operation": "sum", "properties": [{"type": "calculated", "operation": "sum", "properties": ["a"]}]}),
                "property.properties[0]",
            ),
            (
                json!({"type": "calculated", "operation": "sum", "separator": "-", "properties": ["a"]}),
                "property.separator",
            ),
        ];
        for (value, field) in cases {
            let error = parse_property(&value, "property").unwrap_err().to_string();
            assert!(error.contains(field), "{value}: {error}");
        }
    }
}
