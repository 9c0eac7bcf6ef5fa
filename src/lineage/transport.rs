//! Where events go: an OpenLineage HTTP endpoint, a file (one JSON event per line), or nowhere.
//!
//! The HTTP transport reads what the OpenLineage Python client reads (`OPENLINEAGE_URL`,
//! `OPENLINEAGE_ENDPOINT` joined to it as `urljoin` does, `OPENLINEAGE_API_KEY` as a bearer
//! token) and shares the warehouse clients' HTTP stack (`warehouse::http`). Each event gets one
//! attempt bounded by `timeout` from connecting to the answer: a collector that is down or slow
//! costs a run that much at most, and a warning. The API key is only ever written into the
//! `Authorization` header, and redacted from any message that could echo it.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub enum Transport {
    Off,
    Http(HttpTransport),
    /// Events appended to this file, one JSON object per line.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct HttpTransport {
    /// `OPENLINEAGE_URL` joined with `OPENLINEAGE_ENDPOINT`.
    pub url: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

impl HttpTransport {
    /// The transport to `url` (read from `source`, named in errors) and `endpoint`
    /// (`api/v1/lineage` unless set), as the Python client joins them.
    pub fn new(
        source: &str,
        url: &str,
        endpoint: Option<&str>,
        api_key: Option<Secret>,
        timeout: Duration,
    ) -> Result<HttpTransport> {
        let invalid = |why: &str| {
            Error::invalid(source, format!("`{url}` {why}")).with_hint(
                "write it as the collector's base URL, e.g. http://marquez:5000 (the endpoint \
                 path goes in OPENLINEAGE_ENDPOINT, default api/v1/lineage)",
            )
        };
        let uri: ureq::http::Uri = url.trim().parse().map_err(|_| invalid("is not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(invalid("is not an http:// or https:// URL with a host"));
        }
        if uri.query().is_some() {
            return Err(invalid("has a query string"));
        }
        if api_key.is_some() && crate::warehouse::http::is_clear_text_off_machine(url.trim()) {
            return Err(Error::invalid(
                source,
                format!("`{url}` would send OPENLINEAGE_API_KEY in clear text"),
            )
            .with_hint(crate::warehouse::http::CLEAR_TEXT_HINT));
        }
        let joined = join(url.trim(), endpoint.unwrap_or("api/v1/lineage"));
        Ok(HttpTransport {
            url: joined,
            api_key,
            timeout,
        })
    }

    fn post(&self, body: &str) -> std::result::Result<(), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", &format!("Bearer {}", key.expose()));
        }
        let redact = |text: String| match &self.api_key {
            Some(key) => key.redact(&text),
            None => text,
        };
        match request.send(body) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status();
                let text = crate::warehouse::http::read_body(response).unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                Err(redact(format!(
                    "{} answered HTTP {status}: {text}",
                    self.url
                )))
            }
            Err(ureq::Error::Timeout(_)) => Err(redact(format!(
                "{} did not answer within {:?}",
                self.url, self.timeout
            ))),
            Err(error) => Err(redact(format!("posting to {} failed: {error}", self.url))),
        }
    }
}

impl Transport {
    /// Delivers `event`; the error says why not, without secrets.
    pub fn send(&self, event: &serde_json::Value) -> std::result::Result<(), String> {
        match self {
            Transport::Off => Ok(()),
            Transport::Http(http) => http.post(&event.to_string()),
            Transport::File(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                // one write per line, so concurrent runs appending to one file do not interleave
                .and_then(|mut file| file.write_all(format!("{event}\n").as_bytes()))
                .map_err(|e| format!("cannot append to {}: {e}", path.display())),
        }
    }
}

/// `endpoint` resolved against `base` as Python's `urljoin` does for a relative path: it
/// replaces the base's last path segment (none after a trailing slash), or the whole path when
/// it starts with `/`.
fn join(base: &str, endpoint: &str) -> String {
    let path_start = base
        .find("://")
        .and_then(|scheme| base[scheme + 3..].find('/').map(|p| p + scheme + 3));
    let root = path_start.map_or(base, |p| &base[..p]);
    if let Some(absolute) = endpoint.strip_prefix('/') {
        return format!("{root}/{absolute}");
    }
    match path_start {
        None => format!("{root}/{endpoint}"),
        Some(_) => {
            let directory = &base[..base.rfind('/').unwrap_or(base.len())];
            format!("{directory}/{endpoint}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_joins_the_url_as_the_python_client_joins_them() {
        assert_eq!(
            join("http://marquez:5000", "api/v1/lineage"),
            "http://marquez:5000/api/v1/lineage"
        );
        assert_eq!(
            join("http://marquez:5000/", "api/v1/lineage"),
            "http://marquez:5000/api/v1/lineage"
        );
        assert_eq!(
            join("https://host/base/", "events"),
            "https://host/base/events"
        );
        assert_eq!(join("https://host/base", "events"), "https://host/events");
        assert_eq!(
            join("https://host/base/", "/api/v2/lineage"),
            "https://host/api/v2/lineage"
        );
    }

    #[test]
    fn a_malformed_url_is_named_with_its_source() {
        for bad in [
            "marquez:5000",
            "ftp://host",
            "http://",
            "not a url",
            "http://h/?a=1",
        ] {
            let error =
                HttpTransport::new("OPENLINEAGE_URL", bad, None, None, Duration::from_secs(1))
                    .unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains("OPENLINEAGE_URL") && text.contains(bad),
                "{text}"
            );
            assert!(error.hint().is_some());
        }
        let ok = HttpTransport::new(
            "OPENLINEAGE_URL",
            "http://127.0.0.1:5000",
            Some("/api/v1/lineage"),
            Some(Secret::new("k".into())),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(ok.url, "http://127.0.0.1:5000/api/v1/lineage");
        assert!(!format!("{ok:?}").contains("\"k\""));
        // a key goes off this machine over https only; without one, plain http is fine
        let key = || Some(Secret::new("lineage-key".into()));
        let clear = HttpTransport::new(
            "OPENLINEAGE_URL",
            "http://marquez:5000",
            None,
            key(),
            Duration::from_secs(1),
        )
        .unwrap_err()
        .to_string();
        assert!(
            clear.contains("clear text") && !clear.contains("lineage-key"),
            "{clear}"
        );
        assert!(
            HttpTransport::new(
                "OPENLINEAGE_URL",
                "https://marquez:5000",
                None,
                key(),
                Duration::from_secs(1)
            )
            .is_ok()
        );
        assert!(
            HttpTransport::new(
                "OPENLINEAGE_URL",
                "http://marquez:5000",
                None,
                None,
                Duration::from_secs(1)
            )
            .is_ok()
        );
    }
}
