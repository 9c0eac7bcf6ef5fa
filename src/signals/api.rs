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

/// The table Signals polls for an attribute group (the API's `BatchSource`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchSource {
    pub database: String,
    pub wh_schema: String,
    pub table: String,
    pub name: String,
    pub timestamp_field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
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
            path: "/api/v1/registry/attribute_groups/".into(),
            query,
            body: None,
            authorised: true,
        }
    }

    pub fn batch_source(group: &str, version: u32, source: &BatchSource) -> Request {
        Request {
            method: "PUT",
            path: format!(
                "/api/v1/registry/attribute_groups/{}/versions/{version}/batch_source",
                encode_segment(group)
            ),
            query: Vec::new(),
            body: Some(serde_json::to_value(source).expect("a batch source serialises")),
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
            wh_schema: "s".into(),
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
}
