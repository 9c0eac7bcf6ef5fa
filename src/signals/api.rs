//! The calls sigbatch makes, as values: method, path, query, body. `--dry-run` prints them and
//! the client sends them, so what is shown is what would be sent.

use serde::Serialize;
use serde_json::{Value, json};

pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: &'static str,
    /// Below the API URL, from `/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// Carries `Authorization: Bearer <token>` (every `/api/v1` call; not the health check).
    pub authorised: bool,
}

/// The table Signals polls for an attribute group (the API's `BatchSource`), serialised in the
/// field order of the SDK's model, with the schema under the key `schema`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchSource {
    pub name: String,
    pub timestamp_field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub database: String,
    pub schema: String,
    pub table: String,
}

impl BatchSource {
    /// The shape the group's `batch_source` sub-resource takes (the older route): the schema
    /// under `wh_schema`, fields in the order that route has always been sent.
    fn sub_resource_body(&self) -> Value {
        let mut body = json!({
            "database": self.database,
            "wh_schema": self.schema,
            "table": self.table,
            "name": self.name,
            "timestamp_field": self.timestamp_field,
        });
        for (key, value) in [("description", &self.description), ("owner", &self.owner)] {
            if let Some(value) = value {
                body[key] = json!(value);
            }
        }
        body
    }
}

impl BatchSource {
    /// The table and fields, as `sync` reports them.
    pub fn describe(&self) -> String {
        format!(
            "table {}.{}.{} (timestamp_field {}, source name {})",
            self.database, self.schema, self.table, self.timestamp_field, self.name
        )
    }
}

/// What `POST /api/v1/engines/publish` said.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishStatus {
    Published,
    /// Already published as it is: not an error.
    NothingToPublish,
    Other(String),
}

impl PublishStatus {
    pub fn from_answer(answer: &Value) -> PublishStatus {
        match answer["status"].as_str() {
            Some("published") => PublishStatus::Published,
            Some("nothing to publish") => PublishStatus::NothingToPublish,
            Some(other) => PublishStatus::Other(other.to_string()),
            None => PublishStatus::Other(answer.to_string()),
        }
    }
}

impl Request {
    /// Every attribute group, properties in `syntax` (`None`: the auth check's plain listing).
    /// The trailing `/` matters: the API redirects without it, and redirects are not followed.
    pub fn list_groups(syntax: Option<&str>) -> Request {
        let mut query = vec![("offline", "true".to_string())];
        if let Some(syntax) = syntax {
            query.push(("property_syntax", syntax.to_string()));
        }
        Request {
            method: "GET",
            path: format!("{GROUPS}/"),
            query,
            body: None,
            authorised: true,
        }
    }

    /// One group: the highest version, or `version`; properties in `syntax` if one is given,
    /// else in the API's own (object) form, the one the write calls take.
    pub fn get_group(name: &str, version: Option<u32>, syntax: Option<&str>) -> Request {
        let mut path = group_path(name);
        if let Some(version) = version {
            path.push_str(&format!("/versions/{version}"));
        }
        Request {
            method: "GET",
            path,
            query: syntax
                .map(|s| vec![("property_syntax", s.to_string())])
                .unwrap_or_default(),
            body: None,
            authorised: true,
        }
    }

    /// Creates a group (the SDK's first try at publishing one); 400 if the version exists.
    pub fn create_group(body: Value) -> Request {
        Request {
            method: "POST",
            path: format!("{GROUPS}/"),
            query: Vec::new(),
            body: Some(body),
            authorised: true,
        }
    }

    /// Replaces an existing version of a group with `body`.
    pub fn update_group(name: &str, version: u32, body: Value) -> Request {
        Request {
            method: "PUT",
            path: format!("{}/versions/{version}", group_path(name)),
            query: Vec::new(),
            body: Some(body),
            authorised: true,
        }
    }

    /// The older route: a group's batch source as a sub-resource (then [`Request::publish`]).
    pub fn batch_source(group: &str, version: u32, source: &BatchSource) -> Request {
        Request {
            method: "PUT",
            path: format!("{}/versions/{version}/batch_source", group_path(group)),
            query: Vec::new(),
            body: Some(source.sub_resource_body()),
            authorised: true,
        }
    }

    pub fn publish(group: &str, version: u32) -> Request {
        Request {
            method: "POST",
            path: "/api/v1/engines/publish".into(),
            query: Vec::new(),
            body: Some(json!({"attribute_groups": [{"name": group, "version": version}]})),
            authorised: true,
        }
    }

    pub fn health() -> Request {
        Request {
            method: "GET",
            path: "/health-all".into(),
            query: Vec::new(),
            body: None,
            authorised: false,
        }
    }

    /// `METHOD /path?query`, for messages.
    pub fn call(&self) -> String {
        format!("{} {}{}", self.method, self.path, self.query_string())
    }

    pub fn url(&self, base: &str) -> String {
        format!("{base}{}{}", self.path, self.query_string())
    }

    fn query_string(&self) -> String {
        if self.query.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_segment(v)))
            .collect();
        format!("?{}", pairs.join("&"))
    }

    /// The request as it would go on the wire, the token shown as `<redacted>`.
    pub fn describe(&self, base: &str) -> String {
        let mut text = format!("{} {}\n", self.method, self.url(base));
        if self.authorised {
            text.push_str("Authorization: Bearer <redacted>\n");
            text.push_str(&format!("Content-Type: {CONTENT_TYPE}\n"));
        }
        if let Some(body) = &self.body {
            text.push('\n');
            text.push_str(&serde_json::to_string_pretty(body).expect("JSON serialises"));
            text.push('\n');
        }
        text
    }
}

const GROUPS: &str = "/api/v1/registry/attribute_groups";

/// `/api/v1/registry/attribute_groups/{name}`, the name percent-encoded.
fn group_path(name: &str) -> String {
    format!("{GROUPS}/{}", encode_segment(name))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or a
/// query value.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_shaped_as_upstream_sends_them() {
        let list = Request::list_groups(Some("snowflake"));
        assert_eq!(
            list.url("http://h"),
            "http://h/api/v1/registry/attribute_groups/?offline=true&property_syntax=snowflake"
        );
        let source = BatchSource {
            database: "db".into(),
            schema: "s".into(),
            table: "t".into(),
            name: "n".into(),
            timestamp_field: "updated_at".into(),
            description: None,
            owner: Some("me@example.com".into()),
        };
        let put = Request::batch_source("a b", 2, &source);
        assert_eq!(
            put.path,
            "/api/v1/registry/attribute_groups/a%20b/versions/2/batch_source"
        );
        assert_eq!(
            put.body.unwrap().to_string(),
            r#"{"database":"db","wh_schema":"s","table":"t","name":"n","timestamp_field":"updated_at","owner":"me@example.com"}"#
        );
        assert_eq!(
            Request::publish("g", 3).body.unwrap().to_string(),
            r#"{"attribute_groups":[{"name":"g","version":3}]}"#
        );
        assert!(
            !Request::health()
                .describe("http://h")
                .contains("Authorization")
        );
    }

    #[test]
    fn the_sdk_calls_name_the_group_in_the_path_and_carry_the_whole_body() {
        let get = Request::get_group("a/b", None, None);
        assert_eq!(get.call(), "GET /api/v1/registry/attribute_groups/a%2Fb");
        assert_eq!(get.body, None);
        assert!(get.authorised);
        let get = Request::get_group("g", Some(4), Some("databricks"));
        assert_eq!(
            get.url("http://h"),
            "http://h/api/v1/registry/attribute_groups/g/versions/4?property_syntax=databricks"
        );
        let body = json!({"name": "g", "version": 4, "is_published": true});
        let post = Request::create_group(body.clone());
        assert_eq!(post.call(), "POST /api/v1/registry/attribute_groups/");
        assert_eq!(post.body.as_ref(), Some(&body));
        let put = Request::update_group("g h", 4, body.clone());
        assert_eq!(
            put.call(),
            "PUT /api/v1/registry/attribute_groups/g%20h/versions/4"
        );
        assert_eq!(put.body, Some(body));
        // the SDK's key and order for the source itself
        let source = BatchSource {
            name: "n".into(),
            timestamp_field: "updated_at".into(),
            description: Some("d".into()),
            owner: None,
            database: "db".into(),
            schema: "s".into(),
            table: "t".into(),
        };
        assert_eq!(
            serde_json::to_value(&source).unwrap().to_string(),
            r#"{"name":"n","timestamp_field":"updated_at","description":"d","database":"db","schema":"s","table":"t"}"#
        );
    }
}
