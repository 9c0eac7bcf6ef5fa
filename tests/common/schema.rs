//! A small JSON Schema checker for the repo's own schema files: `type`, `enum`, `required`,
//! `properties`, `additionalProperties: false`, `items`, `oneOf`, `minimum` and local `$ref`s.
//! Enough to hold an artifact to its schema without a validator crate.

use serde_json::Value;

/// Every way `value` breaks `schema` (empty: it validates), each as `path: problem`.
pub fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(schema, schema, value, "$", &mut found);
    found
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("schema type `{other}` is not supported here"),
    }
}

fn check(root: &Value, schema: &Value, value: &Value, path: &str, found: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("a local $ref");
        let target = root.pointer(pointer).expect("the $ref resolves");
        return check(root, target, value, path, found);
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema"),
        };
        if !names.iter().any(|name| type_matches(name, value)) {
            found.push(format!("{path}: {value} is not of type {names:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        found.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let (Some(minimum), Some(number)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && number < minimum
    {
        found.push(format!("{path}: {number} is below {minimum}"));
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|option| violations_under(root, option, value, path).is_empty())
            .count();
        if matching != 1 {
            found.push(format!("{path}: matches {matching} of oneOf, not 1"));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(key) {
                found.push(format!("{path}: required key `{key}` is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(root, property, item, &format!("{path}.{key}"), found),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    found.push(format!("{path}: key `{key}` is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            check(root, items, item, &format!("{path}[{index}]"), found);
        }
    }
}

fn violations_under(root: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut found = Vec::new();
    check(root, schema, value, path, &mut found);
    found
}

/// Every way `value` breaks the definition at `pointer` in `schema` (e.g. `/$defs/workspace_run`),
/// its `$ref`s resolved against the whole of `schema`.
pub fn violations_at(schema: &Value, pointer: &str, value: &Value) -> Vec<String> {
    let definition = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the schema has no {pointer}"));
    violations_under(schema, definition, value, "$")
}
