//! HTTP to the Signals API and the Console's token endpoint (ureq, blocking).
//!
//! As upstream: no retries, redirects not followed, 30 s per API call and 5 s for the token and
//! health calls; success is 200 or 201 with a JSON body. A failure keeps the HTTP status (so a
//! command can say what a 404 means for it) beside an error whose exit code says who can fix it:
//! 4xx and 3xx the user (credentials, names, URL), 5xx and an unreachable host not.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::api::{CONTENT_TYPE, Request};
use super::auth::Token;
use super::{Auth, AuthMode, Credentials};
use crate::error::Error;
use crate::secret::Secret;

const API_TIMEOUT: Duration = Duration::from_secs(30);
const SHORT_TIMEOUT: Duration = Duration::from_secs(5);
const SERVICE: &str = "signals api";
const CONSOLE: &str = "snowplow console";

/// A call that did not succeed: the status if a server answered, and the error to report.
#[derive(Debug)]
pub struct Failure {
    pub status: Option<u16>,
    pub error: Error,
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            status: None,
            error,
        }
    }
}

/// An answer of any status: health is read from its body whatever the status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub text: String,
}

pub struct Client {
    agent: ureq::Agent,
    credentials: Credentials,
    token: Option<Token>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Client {
    pub fn new(credentials: Credentials) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("sigbatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            credentials,
            token: None,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Sends `request` and returns its JSON answer (200 or 201 with a JSON body).
    pub fn send(&mut self, request: &Request) -> Result<Value, Failure> {
        let answer = self.send_raw(request)?;
        self.json(SERVICE, &request.call(), answer)
    }

    /// Sends `request`; any status is an answer, only an unreachable server fails.
    pub fn send_raw(&mut self, request: &Request) -> Result<Answer, Failure> {
        let token = if request.authorised {
            Some(self.token()?)
        } else {
            None
        };
        let url = request.url(&self.credentials.api_url);
        let mut builder = ureq::http::Request::builder()
            .method(request.method)
            .uri(&url);
        if let Some(token) = &token {
            builder = builder
                .header("Authorization", format!("Bearer {}", token.expose()))
                .header("Content-Type", CONTENT_TYPE);
        }
        let timeout = if request.authorised {
            API_TIMEOUT
        } else {
            SHORT_TIMEOUT
        };
        let call = request.call();
        let response = match &request.body {
            Some(body) => self.run(builder.body(body.to_string()), timeout),
            None => self.run(builder.body(()), timeout),
        };
        self.answer(SERVICE, &call, response)
    }

    /// The bearer token: the sandbox token as it is, or the cached JWT, fetched again from the
    /// Console when it is within the leeway of its `exp`.
    pub fn token(&mut self) -> Result<Secret, Failure> {
        let (console_url, org_id, api_key_id, api_key) = match self.credentials.auth()? {
            Auth::Sandbox(token) => return Ok(token.clone()),
            Auth::Bdp {
                console_url,
                org_id,
                api_key_id,
                api_key,
            } => (console_url, org_id, api_key_id, api_key),
        };
        if let Some(token) = self.token.as_ref().filter(|t| t.is_fresh(now())) {
            return Ok(token.value.clone());
        }
        let path = format!("/api/msc/v1/organizations/{org_id}/credentials/v3/token");
        let request = ureq::http::Request::builder()
            .method("GET")
            .uri(format!("{console_url}{path}"))
            .header("X-API-Key-Id", api_key_id)
            .header("X-API-Key", api_key.expose())
            .body(());
        let call = format!("GET {path}");
        let response = self.run(request, SHORT_TIMEOUT);
        let answer = self.answer(CONSOLE, &call, response)?;
        let value = self.json(CONSOLE, &call, answer)?;
        let Some(jwt) = value["accessToken"].as_str().filter(|t| !t.is_empty()) else {
            return Err(Error::Remote {
                service: CONSOLE,
                message: format!("`{call}` answered without an `accessToken`"),
                hint: Some(
                    "check SNOWPLOW_CONSOLE_URL; it must be the Console, not the Signals API"
                        .into(),
                ),
                user_fixable: false,
            }
            .into());
        };
        let token = Token::new(Secret::new(jwt.to_string()));
        let value = token.value.clone();
        self.token = Some(token);
        Ok(value)
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        request: Result<ureq::http::Request<S>, ureq::http::Error>,
        timeout: Duration,
    ) -> Result<ureq::http::Response<ureq::Body>, String> {
        let request = request.map_err(|e| format!("not a valid request: {e}"))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build();
        self.agent.run(request).map_err(|e| e.to_string())
    }

    fn answer(
        &self,
        service: &'static str,
        call: &str,
        response: Result<ureq::http::Response<ureq::Body>, String>,
    ) -> Result<Answer, Failure> {
        let unreachable = |reason: String| Failure {
            status: None,
            error: Error::Remote {
                service,
                message: format!("`{call}` failed: {}", self.redact(&reason)),
                hint: Some(format!(
                    "check that {} is right and reachable from here",
                    if service == CONSOLE {
                        "SNOWPLOW_CONSOLE_URL"
                    } else {
                        "--api-url (SNOWPLOW_API_URL)"
                    }
                )),
                user_fixable: false,
            },
        };
        let response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let mut text = String::new();
        response
            .into_body()
            .into_reader()
            .read_to_string(&mut text)
            .map_err(|e| unreachable(format!("reading the answer: {e}")))?;
        if (300..400).contains(&status) {
            return Err(Failure {
                status: Some(status),
                error: Error::Remote {
                    service,
                    message: format!(
                        "`{call}` answered {status}, a redirect to `{}` (not followed)",
                        location.unwrap_or_default()
                    ),
                    hint: Some("check --api-url (SNOWPLOW_API_URL): scheme, host and path as Console shows them".into()),
                    user_fixable: true,
                },
            });
        }
        Ok(Answer { status, text })
    }

    /// The JSON of a 200/201 answer; any other status is an error with the server's message.
    fn json(&self, service: &'static str, call: &str, answer: Answer) -> Result<Value, Failure> {
        let status = answer.status;
        let parsed: Option<Value> = serde_json::from_str(&answer.text).ok();
        if matches!(status, 200 | 201) {
            return parsed.ok_or_else(|| Failure {
                status: Some(status),
                error: Error::Remote {
                    service,
                    message: format!(
                        "`{call}` answered {status} without a JSON body: `{}`",
                        clip(&self.redact(&answer.text))
                    ),
                    hint: Some(
                        "check --api-url (SNOWPLOW_API_URL): it must be the Signals API".into(),
                    ),
                    user_fixable: false,
                },
            });
        }
        // redacted whole, before any of it is cut short: a clipped secret would not match
        let said = self.redact(&answer.text);
        let message = self.redact(&server_message(
            serde_json::from_str(&said).ok().as_ref(),
            &said,
        ));
        let hint = match (status, service, self.credentials.mode) {
            (401 | 403, CONSOLE, _) => "check the API key, its id and the organization id (SNOWPLOW_API_KEY, SNOWPLOW_API_KEY_ID, SNOWPLOW_ORG_ID)".to_string(),
            (401 | 403, _, AuthMode::Sandbox) => "check the sandbox token (--sandbox-token, SNOWPLOW_SANDBOX_TOKEN) and that it is for this API URL".to_string(),
            (401 | 403, _, AuthMode::Bdp) => "the API refused the Console's token: check that the API key belongs to the organization of this API URL and may use Signals".to_string(),
            (404, ..) => "check the name and version, and that --api-url is this organization's Signals API".to_string(),
            (422, ..) => "the API rejected a value named above; fix it and rerun".to_string(),
            (400..=499, ..) => "the API refused the request; see its message above".to_string(),
            _ => "the service failed; retry later, and check it with `sigbatch test-connection`".to_string(),
        };
        Err(Failure {
            status: Some(status),
            error: Error::Remote {
                service,
                message: format!("`{call}` answered {status}: {message}"),
                hint: Some(hint),
                user_fixable: (400..500).contains(&status),
            },
        })
    }

    fn redact(&self, text: &str) -> String {
        let mut text = self.credentials.redact(text);
        if let Some(token) = &self.token {
            text = token.value.redact(&text);
        }
        text
    }
}

/// What the server said: FastAPI's `detail` (a string, or validation errors with `loc` and
/// `msg`), a `message` or `error`, else the body itself, shortened.
fn server_message(parsed: Option<&Value>, text: &str) -> String {
    let Some(value) = parsed else {
        return if text.trim().is_empty() {
            "(empty body)".to_string()
        } else {
            clip(text)
        };
    };
    match &value["detail"] {
        Value::String(detail) => return detail.clone(),
        Value::Array(errors) => {
            let parts: Vec<String> = errors
                .iter()
                .map(|e| {
                    let loc: Vec<String> = e["loc"]
                        .as_array()
                        .map(|l| {
                            l.iter()
                                .map(|p| p.as_str().map(str::to_string).unwrap_or(p.to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    format!(
                        "`{}`: {}",
                        loc.join("."),
                        e["msg"].as_str().unwrap_or("invalid")
                    )
                })
                .collect();
            return parts.join("; ");
        }
        _ => {}
    }
    for key in ["message", "error"] {
        if let Some(message) = value[key].as_str() {
            return message.to_string();
        }
    }
    clip(text)
}

fn clip(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}...", text.chars().take(300).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::server_message;
    use serde_json::json;

    #[test]
    fn validation_errors_name_the_field() {
        let body = json!({"detail": [
            {"loc": ["body", "database"], "msg": "String should have at least 1 character", "type": "string_too_short"},
            {"loc": ["path", "version"], "msg": "Input should be a valid integer", "type": "int_parsing"}
        ]});
        assert_eq!(
            server_message(Some(&body), ""),
            "`body.database`: String should have at least 1 character; `path.version`: Input should be a valid integer"
        );
        assert_eq!(
            server_message(Some(&json!({"detail": "Not Found"})), ""),
            "Not Found"
        );
        assert_eq!(
            server_message(None, "<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
