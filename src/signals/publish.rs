//! The body `sync` writes back: the group as `GET .../attribute_groups/{name}/versions/{v}`
//! answered it, narrowed to what the SDK 0.4.10 sends when it publishes a group.
//!
//! The SDK publishes its `AttributeGroup` model (the API's `AttributeGroupInput`), dumped by
//! alias with `None` fields left out. A read answers the output model, which has more: names the
//! API derives (`full_name`, `feast_name`, `stream_source_name`, `attribute_key_or_name`,
//! `attribute_group_or_attribute_key_ttl`) and the key's `blobl_path`. Those are dropped, as the
//! SDK's model would drop them; every field the input model has is kept as read, so nothing the
//! user set on the group is lost.

use serde_json::{Map, Value};

use super::api::BatchSource;
use crate::error::{Error, Result};

/// The fields of the SDK's `AttributeGroupInput`, in its order.
const GROUP_FIELDS: [&str; 14] = [
    "name",
    "version",
    "attribute_key",
    "ttl",
    "batch_source",
    "online",
    "offline",
    "description",
    "owner",
    "fields",
    "attributes",
    "is_published",
    "backfill_since_tstamp",
    "refresh_rate",
];

/// The fields of the SDK's `AttributeKeyInput`.
const KEY_FIELDS: [&str; 8] = [
    "name",
    "description",
    "key",
    "external_column",
    "property",
    "owner",
    "ttl",
    "is_published",
];

/// What goes in the POST/PUT body, and the fields of the read left out (for the report).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBody {
    pub body: Value,
    pub dropped: Vec<String>,
}

/// `read` (the group as the API answered it) with `source` as its batch source and
/// `is_published: true`; an error if it is not the group `name` v`version`.
pub fn group_body(
    read: &Value,
    name: &str,
    version: u32,
    source: &BatchSource,
) -> Result<GroupBody> {
    let not_the_group = |what: String| Error::Remote {
        service: "signals api",
        message: format!("reading attribute group `{name}` v{version}: {what}"),
        hint: Some(
            "check --api-url (SNOWPLOW_API_URL): it must be the Signals API; \
             if it is, report the answer to Snowplow"
                .into(),
        ),
        user_fixable: false,
    };
    let Some(group) = read.as_object() else {
        return Err(not_the_group("the answer is not a JSON object".into()));
    };
    let read_name = group.get("name").and_then(Value::as_str);
    let read_version = group.get("version").and_then(Value::as_u64);
    if read_name != Some(name) || read_version != Some(u64::from(version)) {
        return Err(not_the_group(format!(
            "the answer is `{}` v{}",
            read_name.unwrap_or("(no name)"),
            read_version.map_or("(none)".to_string(), |v| v.to_string())
        )));
    }
    let mut dropped: Vec<String> = group
        .keys()
        .filter(|key| !GROUP_FIELDS.contains(&key.as_str()))
        .cloned()
        .collect();
    let mut body = Map::new();
    for field in GROUP_FIELDS {
        let Some(value) = group.get(field) else {
            continue;
        };
        let value = match (field, value) {
            ("attribute_key", Value::Object(key)) => {
                let mut kept = Map::new();
                for (field, value) in key {
                    if KEY_FIELDS.contains(&field.as_str()) {
                        kept.insert(field.clone(), value.clone());
                    } else {
                        dropped.push(format!("attribute_key.{field}"));
                    }
                }
                Value::Object(kept)
            }
            _ => value.clone(),
        };
        body.insert(field.to_string(), value);
    }
    body.insert(
        "batch_source".into(),
        serde_json::to_value(source).expect("a batch source serialises"),
    );
    body.insert("is_published".into(), Value::Bool(true));
    let mut body = Value::Object(body);
    drop_nulls(&mut body);
    Ok(GroupBody { body, dropped })
}

/// Removes every `null` member of every object, at any depth (the SDK's `exclude_none`); list
/// items stay where they are.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source() -> BatchSource {
        BatchSource {
            name: "g_1_attributes".into(),
            timestamp_field: "updated_at".into(),
            description: None,
            owner: Some("me@example.com".into()),
            database: "db".into(),
            schema: "s_derived".into(),
            table: "g_1_attributes".into(),
        }
    }

    fn read() -> Value {
        json!({
            "name": "g", "version": 1,
            "attribute_key": {"name": "user", "key": "domain_userid", "blobl_path": null,
                              "ttl": null, "is_published": true},
            "ttl": "P30D",
            "batch_source": {"name": "old", "timestamp_field": "t", "database": "d",
                             "schema": "x", "table": "y", "date_partition_column": null},
            "online": true, "offline": true, "description": null, "owner": "team@example.com",
            "attributes": [{"name": "n", "type": "int64", "events": [], "aggregation": "counter",
                            "property": null, "criteria": {"all": [{"property": {"type": "atomic", "name": "page_url"},
                            "operator": "like", "value": "%a%"}], "any": null}, "period": "P7D"}],
            "fields": [{"name": "f", "type": "string", "description": null}],
            "is_published": false, "refresh_rate": "PT6H",
            "full_name": "g_v1", "feast_name": "g_v1", "stream_source_name": null,
            "attribute_key_or_name": "domain_userid", "attribute_group_or_attribute_key_ttl": null
        })
    }

    #[test]
    fn the_group_as_read_with_the_new_source_published_and_no_output_fields() {
        let GroupBody { body, dropped } = group_body(&read(), "g", 1, &source()).unwrap();
        assert_eq!(
            body,
            json!({
                "name": "g", "version": 1,
                "attribute_key": {"name": "user", "key": "domain_userid", "is_published": true},
                "ttl": "P30D",
                "batch_source": {"name": "g_1_attributes", "timestamp_field": "updated_at",
                                 "owner": "me@example.com", "database": "db",
                                 "schema": "s_derived", "table": "g_1_attributes"},
                "online": true, "offline": true, "owner": "team@example.com",
                "fields": [{"name": "f", "type": "string"}],
                "attributes": [{"name": "n", "type": "int64", "events": [], "aggregation": "counter",
                                "criteria": {"all": [{"property": {"type": "atomic", "name": "page_url"},
                                "operator": "like", "value": "%a%"}]}, "period": "P7D"}],
                "is_published": true, "refresh_rate": "PT6H"
            })
        );
        assert_eq!(
            dropped,
            [
                "full_name",
                "feast_name",
                "stream_source_name",
                "attribute_key_or_name",
                "attribute_group_or_attribute_key_ttl",
                "attribute_key.blobl_path"
            ]
        );
        // the SDK's field order, so the body reads as the SDK's does
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys[..3], ["name", "version", "attribute_key"]);
    }

    #[test]
    fn an_answer_for_another_group_or_not_an_object_is_refused() {
        let error = group_body(&read(), "g", 2, &source()).unwrap_err();
        assert!(
            error.to_string().contains("the answer is `g` v1"),
            "{error}"
        );
        assert!(error.hint().is_some());
        assert_eq!(error.exit_code(), 3);
        let error = group_body(&json!([]), "g", 1, &source()).unwrap_err();
        assert!(error.to_string().contains("not a JSON object"), "{error}");
    }
}
