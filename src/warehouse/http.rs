//! What the REST warehouse clients share: transient-or-final failures, retries with exponential
//! backoff that a stop request interrupts, and response bodies read as text.

use std::io::Read;
use std::time::Duration;

use crate::error::{Error, Result};

/// What a failed HTTP exchange was: worth retrying, or final.
pub enum Failure {
    Transient(String),
    /// Worth retrying, and no connection was made at all ([`never_sent`]): when it lasts, the
    /// address in the profile is the likelier cause (exit 2) than the network (exit 3).
    NoConnection(String),
    Final(Error),
}

impl Failure {
    /// The error a failure that lasted gives where no client words it its own way.
    pub fn into_error(self) -> Error {
        match self {
            Failure::Final(error) => error,
            Failure::Transient(message) => Error::Internal(message),
            Failure::NoConnection(message) => Error::Internal(format!("no connection: {message}")),
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or has been retried `retries` times,
/// waiting `backoff`, then twice as long before each further retry; a stop request (SIGINT,
/// SIGTERM) ends the waiting.
pub fn retrying<T>(
    what: &str,
    retries: u32,
    backoff: Duration,
    attempt: impl FnMut() -> std::result::Result<T, Failure>,
) -> Result<T> {
    retry(what, retries, backoff, attempt).map_err(Failure::into_error)
}

/// [`retrying`], giving the failure that lasted as it was (its message saying how often it was
/// retried), for a client to word as it words its own.
pub fn retry<T>(
    what: &str,
    retries: u32,
    backoff: Duration,
    mut attempt: impl FnMut() -> std::result::Result<T, Failure>,
) -> std::result::Result<T, Failure> {
    let mut backoff = backoff;
    let mut retried = 0;
    loop {
        let (message, lasted): (String, fn(String) -> Failure) = match attempt() {
            Ok(value) => return Ok(value),
            Err(Failure::Final(error)) => return Err(Failure::Final(error)),
            Err(Failure::Transient(message)) => (message, Failure::Transient),
            Err(Failure::NoConnection(message)) => (message, Failure::NoConnection),
        };
        if retried == retries {
            return Err(lasted(format!(
                "{what} failed after {retried} retries: {message}"
            )));
        }
        retried += 1;
        if crate::cancel::requested() {
            return Err(Failure::Final(crate::cancel::stopped(format!(
                "interrupted while retrying {what} ({message})"
            ))));
        }
        std::thread::sleep(backoff);
        backoff *= 2;
    }
}

/// The body as text, gunzipped when it is gzip (result chunks may come compressed without a
/// `Content-Encoding` header).
pub fn read_body(response: ureq::http::Response<ureq::Body>) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    response.into_body().into_reader().read_to_end(&mut bytes)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text)?;
        return Ok(text);
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Whether `url` is plain `http://` to a host other than this machine: passwords, keys and
/// tokens would cross the network readable. Loopback stays allowed (test servers, local
/// proxies).
pub fn is_clear_text_off_machine(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// What an error message may quote of an answer that was not the expected one: the server's
/// own message (`message`, `error.message`, `error`, `error_description`, `detail`), shortened,
/// and never the body itself: a wrong host or a proxy may reflect the request, credentials
/// included.
pub fn quotable(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let said = [
        &value["message"],
        &value["error"]["message"],
        &value["error"],
        &value["error_description"],
        &value["detail"],
    ]
    .into_iter()
    .find_map(|field| field.as_str());
    match said {
        Some(message) => message.chars().take(300).collect(),
        None => format!(
            "a body of {} bytes, not shown (it may quote the request)",
            text.len()
        ),
    }
}

/// Whether a request that failed this way never left the machine (no connection was made),
/// so sending it again cannot run anything twice.
pub fn never_sent(error: &ureq::Error) -> bool {
    use ureq::Timeout;
    match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => true,
        ureq::Error::Io(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    }
}

/// The hint for a refused `http://` URL.
pub const CLEAR_TEXT_HINT: &str =
    "use https://; plain http:// is accepted only for this machine (localhost, 127.0.0.1, [::1])";

/// An agent that hands every status to the caller (4xx/5xx are answers, not errors). Every
/// phase of a request is bounded, the body too: a connection that stalls mid-answer fails
/// rather than hanging the run (and its lease) forever.
pub fn agent(connect_timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(connect_timeout))
        .timeout_send_request(Some(Duration::from_secs(60)))
        .timeout_send_body(Some(Duration::from_secs(120)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .timeout_recv_body(Some(Duration::from_secs(300)))
        .http_status_as_error(false)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::is_clear_text_off_machine;

    #[test]
    fn only_the_servers_own_message_is_quoted() {
        let reflected = r#"{"data": {"PASSWORD": "hunter2"}}"#;
        assert!(!super::quotable(reflected).contains("hunter2"));
        assert!(!super::quotable("Authorization: Bearer dapi123").contains("dapi123"));
        assert_eq!(
            super::quotable(r#"{"error": {"code": 403, "message": "Access Denied"}}"#),
            "Access Denied"
        );
        assert_eq!(
            super::quotable(r#"{"message": "no such warehouse"}"#),
            "no such warehouse"
        );
    }

    #[test]
    fn plain_http_is_refused_off_this_machine_only() {
        for url in [
            "http://acme.snowflakecomputing.com",
            "http://10.0.0.5:8080/api",
            "http://user@example.com",
            "http://[2001:db8::1]:80",
        ] {
            assert!(is_clear_text_off_machine(url), "{url}");
        }
        for url in [
            "https://acme.snowflakecomputing.com",
            "http://127.0.0.1:8085",
            "http://localhost/x",
            "http://[::1]:9000",
        ] {
            assert!(!is_clear_text_off_machine(url), "{url}");
        }
    }
}
