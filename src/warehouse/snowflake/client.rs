//! Snowflake's REST protocol, as its drivers speak it: a login gives a session token; each
//! statement is one `query-request` (or several in one, `script.rs`); a statement still running after ~45 s answers `333334`
//! with a `getResultUrl` to poll; large results come in chunks, downloaded separately; an
//! expired session token is renewed with the master token (or by logging in again).
//!
//! Results come as JSON rowsets or as Arrow IPC streams (`queryResultFormat`); sigbatch asks
//! for JSON ([`JSON_RESULTS`]) and reads both (`rows.rs`, `arrow_rows.rs`).
//!
//! Transient failures (HTTP 429 and 5xx, network errors) are retried with exponential backoff,
//! resending the same `requestId`, so Snowflake runs a statement once however often it is sent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::auth;
use super::rows::{self, ResultSet};
use crate::error::{Error, Result};
use crate::project::profiles::WarehouseKind;
use crate::project::profiles::snowflake::{Secret, SnowflakeSettings};
use crate::warehouse::http::{self, Failure, read_body};

/// The parameters by which Snowflake's connectors choose their result format, each set to JSON,
/// sent with the login (session parameters) and with every statement (statement parameters, as
/// the Python connector sends `PYTHON_CONNECTOR_QUERY_RESULT_FORMAT` when it cannot read Arrow).
/// Snowflake picks the parameter by the client's kind; which one (if any) it reads for
/// sigbatch's `CLIENT_APP_ID` is not known, so Arrow results are read as well.
const JSON_RESULTS: &[&str] = &[
    "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT",
    "JDBC_QUERY_RESULT_FORMAT",
    "ODBC_QUERY_RESULT_FORMAT",
    "GO_QUERY_RESULT_FORMAT",
];

pub(super) fn json_results() -> serde_json::Map<String, Value> {
    JSON_RESULTS
        .iter()
        .map(|name| (name.to_string(), json!("JSON")))
        .collect()
}

/// How long a statement waits for a lock another transaction holds before Snowflake fails it
/// (seconds; Snowflake's default is 12 hours). A run killed without ending its transaction
/// holds its locks until Snowflake ends its session: the next run fails within this bound,
/// with Snowflake's error naming the blocking transaction, rather than hanging.
const LOCK_TIMEOUT_SECONDS: u64 = 600;

/// Statement still running: poll `getResultUrl`.
const STILL_RUNNING: &[&str] = &["333333", "333334"];
/// The session token expired: renew it and send the request again.
const SESSION_EXPIRED: &str = "390112";

pub struct Client {
    agent: ureq::Agent,
    settings: SnowflakeSettings,
    token: Arc<Secret>,
    master_token: Option<Secret>,
    sequence: u64,
    /// The query id Snowflake gave the last statement (`data.queryId`), for run_results.json.
    last_query_id: Option<String>,
    /// The session the login opened (`data.sessionId`), listed as open work while it lasts.
    session: Option<crate::open_work::Open>,
    /// First wait between polls of a running statement (doubles up to 5 s).
    pub poll_interval: Duration,
    /// First wait before retrying a transient failure (doubles each time).
    pub retry_backoff: Duration,
}

impl Client {
    pub fn login(settings: SnowflakeSettings) -> Result<Client> {
        let agent = http::agent(settings.connect_timeout);
        let mut client = Client {
            agent,
            settings,
            token: Arc::new(Secret::new(String::new())),
            master_token: None,
            sequence: 0,
            last_query_id: None,
            session: None,
            poll_interval: Duration::from_millis(250),
            retry_backoff: Duration::from_millis(500),
        };
        client.authenticate()?;
        Ok(client)
    }

    fn authenticate(&mut self) -> Result<()> {
        let s = &self.settings;
        let mut session_parameters = Value::Object(json_results());
        session_parameters["TIMEZONE"] = json!("UTC");
        session_parameters["LOCK_TIMEOUT"] = json!(LOCK_TIMEOUT_SECONDS);
        if let Some(tag) = &s.query_tag {
            session_parameters["QUERY_TAG"] = json!(tag);
        }
        let mut data = json!({
            "CLIENT_APP_ID": "sigbatch",
            "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
            "ACCOUNT_NAME": s.account,
            "LOGIN_NAME": s.user,
            "SESSION_PARAMETERS": session_parameters,
            "CLIENT_ENVIRONMENT": {"APPLICATION": "sigbatch"},
        });
        let now = chrono::Utc::now().timestamp();
        if let (Value::Object(data), Value::Object(credentials)) =
            (&mut data, auth::credentials(s, now)?)
        {
            data.extend(credentials);
        }
        let mut query = vec![
            ("databaseName", s.database.clone()),
            ("schemaName", s.schema.clone()),
            ("requestId", uuid::Uuid::new_v4().to_string()),
        ];
        if let Some(warehouse) = &s.warehouse {
            query.push(("warehouse", warehouse.clone()));
        }
        if let Some(role) = &s.role {
            query.push(("roleName", role.clone()));
        }
        let answer = self
            .send(
                "/session/v1/login-request",
                &query,
                &json!({"data": data}),
                None,
            )
            .map_err(|e| self.unreachable(e))?;
        if answer["success"] != json!(true) {
            return Err(Error::invalid(
                format!("snowflake login to `{}` as `{}`", s.base_url, s.user),
                format!(
                    "refused: {} (code {})",
                    answer["message"].as_str().unwrap_or("no message"),
                    answer["code"].as_str().unwrap_or("none")
                ),
            )
            .with_hint(
                "check account, user and credentials in profiles.yml (secrets from env_var)",
            ));
        }
        let token = answer["data"]["token"].as_str().ok_or_else(|| {
            Error::Internal("snowflake login answered without a session token".into())
        })?;
        self.token = Arc::new(Secret::new(token.to_string()));
        self.master_token = answer["data"]["masterToken"]
            .as_str()
            .map(|t| Secret::new(t.to_string()));
        let session = &answer["data"]["sessionId"];
        self.session = session
            .as_u64()
            .map(|id| id.to_string())
            .or_else(|| session.as_str().map(str::to_string))
            .map(crate::open_work::register);
        Ok(())
    }

    /// The error of a request that kept failing: a host no connection reached is the profile's
    /// to fix (exit 2); connections that broke or answers that kept failing are the network's
    /// or Snowflake's (exit 3).
    fn unreachable(&self, failure: Failure) -> Error {
        match failure {
            Failure::Final(error) => error,
            Failure::NoConnection(message) => Error::invalid(
                format!("snowflake at `{}`", self.settings.base_url),
                format!("unreachable: no connection: {message}"),
            )
            .with_hint(
                "check `account` (or `host`/`port`/`protocol`) in profiles.yml and the network",
            ),
            Failure::Transient(message) => Error::Remote {
                service: "snowflake",
                message: format!(
                    "`{}` kept failing after {} retries: {message}",
                    self.settings.base_url, self.settings.retries
                ),
                hint: Some("a network or Snowflake failure: rerun; committed windows stand".into()),
                user_fixable: false,
            },
        }
    }

    /// The query id of the last statement `run` sent, where Snowflake answered with one.
    pub fn last_query_id(&self) -> Option<&str> {
        self.last_query_id.as_deref()
    }

    /// Runs one statement and returns its result set.
    pub fn run(&mut self, sql: &str) -> Result<ResultSet> {
        let answer = self.submit(sql, json_results())?;
        let data = &answer["data"];
        let mut result = rows::decode(data)?;
        for (index, chunk) in data["chunks"].as_array().into_iter().flatten().enumerate() {
            let url = chunk["url"].as_str().ok_or_else(|| {
                Error::Internal(format!("snowflake result chunk {index} has no url"))
            })?;
            let body = self.download_chunk(url, data)?;
            result.append_chunk(&body, index, chunk["rowCount"].as_u64())?;
        }
        Ok(result)
    }

    /// Sends `sql` with the statement `parameters` as one query request (under one request id,
    /// however often it is resent) and returns Snowflake's answer once it succeeded.
    pub(super) fn submit(
        &mut self,
        sql: &str,
        parameters: serde_json::Map<String, Value>,
    ) -> Result<Value> {
        self.sequence += 1;
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "sqlText": sql,
            "asyncExec": false,
            "sequenceId": self.sequence,
            "querySubmissionTime": chrono::Utc::now().timestamp_millis(),
            "parameters": parameters,
        });
        let in_flight = self.register_cancel(&request_id, sql);
        self.last_query_id = None;
        let answer = self.run_request(&request_id, &body);
        drop(in_flight);
        let answer = answer?;
        if answer["success"] != json!(true) {
            return Err(statement_error(&answer));
        }
        Ok(answer)
    }

    /// Sends the query request, renewing an expired session and polling a running statement.
    fn run_request(&mut self, request_id: &str, body: &Value) -> Result<Value> {
        let mut answer = self.send_authorized_retrying(
            "/queries/v1/query-request",
            &[("requestId", request_id.to_string())],
            Some(body),
        )?;
        let mut wait = self.poll_interval;
        loop {
            // the first answer of a long statement has the id; its result may not repeat it
            if let Some(id) = answer["data"]["queryId"].as_str() {
                self.last_query_id = Some(id.to_string());
            }
            let code = answer["code"].as_str().unwrap_or_default();
            if code == SESSION_EXPIRED {
                self.renew()?;
                answer = self.send_authorized_retrying(
                    "/queries/v1/query-request",
                    &[("requestId", request_id.to_string())],
                    Some(body),
                )?;
                continue;
            }
            if !STILL_RUNNING.contains(&code) {
                return Ok(answer);
            }
            if crate::cancel::requested() {
                return Err(crate::cancel::stopped(
                    "interrupted while a snowflake statement ran; it was cancelled",
                ));
            }
            let url = answer["data"]["getResultUrl"]
                .as_str()
                .ok_or_else(|| {
                    Error::Internal(format!("snowflake answered {code} without a getResultUrl"))
                })?
                .to_string();
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(5));
            answer = self.send_authorized_retrying(&url, &[], None)?;
        }
    }

    /// Lets a SIGINT/SIGTERM abort this statement on the server while the request is waiting.
    fn register_cancel(&self, request_id: &str, sql: &str) -> crate::cancel::InFlight {
        let agent = self.agent.clone();
        let url = format!(
            "{}/queries/v1/abort-request?requestId={}",
            self.settings.base_url,
            uuid::Uuid::new_v4()
        );
        let token = Arc::clone(&self.token);
        let body = json!({"sqlText": sql, "requestId": request_id}).to_string();
        crate::cancel::in_flight(move || {
            let _ = agent
                .post(&url)
                .header(
                    "Authorization",
                    &format!("Snowflake Token=\"{}\"", token.expose()),
                )
                .header("Accept", "application/snowflake")
                .content_type("application/json")
                .send(&body);
        })
    }

    fn renew(&mut self) -> Result<()> {
        let Some(master) = self.master_token.clone() else {
            return self.authenticate();
        };
        let body = json!({"oldSessionToken": self.token.expose(), "requestType": "RENEW"});
        let answer = self
            .send(
                "/session/token-request",
                &[("requestId", uuid::Uuid::new_v4().to_string())],
                &body,
                Some(&master),
            )
            .map_err(|e| self.unreachable(e))?;
        match answer["data"]["sessionToken"].as_str() {
            Some(token) if answer["success"] == json!(true) => {
                self.token = Arc::new(Secret::new(token.to_string()));
                Ok(())
            }
            // the master token expired too: start a new session
            _ => self.authenticate(),
        }
    }

    fn send_authorized_retrying(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let token = Arc::clone(&self.token);
        self.retrying(&format!("snowflake request to {path}"), || match body {
            Some(body) => self.send(path, query, body, Some(&token)),
            None => self.get(path, &token),
        })
    }

    fn retrying<T>(
        &self,
        what: &str,
        attempt: impl FnMut() -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        http::retrying(what, self.settings.retries, self.retry_backoff, attempt)
    }

    fn send(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &Value,
        token: Option<&Secret>,
    ) -> std::result::Result<Value, Failure> {
        let mut request = self
            .agent
            .post(&format!("{}{path}", self.settings.base_url))
            .header("Accept", "application/snowflake")
            .header(
                "User-Agent",
                concat!("sigbatch/", env!("CARGO_PKG_VERSION")),
            );
        for (key, value) in query {
            request = request.query(*key, value);
        }
        if let Some(token) = token {
            request = request.header(
                "Authorization",
                &format!("Snowflake Token=\"{}\"", token.expose()),
            );
        }
        answer(
            request
                .content_type("application/json")
                .send(&body.to_string()),
        )
    }

    fn get(&self, path: &str, token: &Secret) -> std::result::Result<Value, Failure> {
        answer(
            self.agent
                .get(&format!("{}{path}", self.settings.base_url))
                .header("Accept", "application/snowflake")
                .header(
                    "Authorization",
                    &format!("Snowflake Token=\"{}\"", token.expose()),
                )
                .call(),
        )
    }

    /// A result chunk, from the URL Snowflake gave (cloud storage), with its headers; gunzipped
    /// when it is gzip, as cloud storage may send it without a `Content-Encoding` header (JSON
    /// and Arrow chunks alike).
    fn download_chunk(&self, url: &str, data: &Value) -> Result<Vec<u8>> {
        self.retrying("downloading a snowflake result chunk", || {
            let mut request = self.agent.get(url);
            match data["chunkHeaders"].as_object() {
                Some(headers) => {
                    for (name, value) in headers {
                        request = request.header(name.as_str(), value.as_str().unwrap_or_default());
                    }
                }
                None => {
                    if let Some(key) = data["qrmk"].as_str() {
                        request = request
                            .header("x-amz-server-side-encryption-customer-algorithm", "AES256")
                            .header("x-amz-server-side-encryption-customer-key", key);
                    }
                }
            }
            match request.call() {
                Ok(response) if response.status().is_success() => {
                    read_bytes(response).map_err(|e| {
                        Failure::Final(Error::Internal(format!("reading a result chunk: {e}")))
                    })
                }
                Ok(response) => Err(Failure::Transient(format!("HTTP {}", response.status()))),
                Err(e) => Err(Failure::Transient(e.to_string())),
            }
        })
    }
}

/// A body as bytes, gunzipped when it starts with gzip's magic number.
fn read_bytes(response: ureq::http::Response<ureq::Body>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    response.into_body().into_reader().read_to_end(&mut bytes)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut plain)?;
        return Ok(plain);
    }
    Ok(bytes)
}

fn answer(
    response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> std::result::Result<Value, Failure> {
    let response = response.map_err(|e| match http::never_sent(&e) {
        true => Failure::NoConnection(e.to_string()),
        false => Failure::Transient(e.to_string()),
    })?;
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(Failure::Transient(format!("HTTP {status}")));
    }
    let text = read_body(response).map_err(|e| Failure::Transient(e.to_string()))?;
    if !status.is_success() {
        return Err(Failure::Final(
            Error::invalid(
                WarehouseKind::Snowflake.name(),
                format!("HTTP {status}: {}", http::quotable(&text)),
            )
            .with_hint("check account, user and credentials in profiles.yml"),
        ));
    }
    serde_json::from_str(&text).map_err(|e| {
        Failure::Final(Error::Internal(format!(
            "snowflake answered something that is not JSON ({e}): {}",
            http::quotable(&text)
        )))
    })
}

/// A statement Snowflake refused: the message and SQL state, user-fixable when it is about the
/// SQL or the objects it names (SQL state class 42: syntax error, missing object or column).
/// A statement of a multi-statement request failing comes as error 100132 (state P0000), its
/// own message after Snowflake's line naming it, and a trace of the procedure that ran it,
/// which is cut off; it is the user's to fix where the statement did not compile.
fn statement_error(answer: &Value) -> Error {
    let message = answer["message"].as_str().unwrap_or("no message");
    let message = message
        .split_once(" in SYSTEM$MULTISTMT at ")
        .map_or(message, |(before, _)| before);
    let code = answer["code"].as_str().unwrap_or("none");
    let state = answer["data"]["sqlState"].as_str().unwrap_or("");
    Error::Stage {
        stage: String::new(),
        message: format!("snowflake error {code} (SQL state {state}): {message}"),
        hint: None,
        user_fixable: state.starts_with("42")
            || state.starts_with("22")
            || (state == "P0000" && message.contains("\nSQL compilation error")),
    }
}
