//! The Databricks SQL Statement Execution API (`/api/2.0/sql/statements`): a statement is
//! submitted with a `wait_timeout`; one not finished by then is polled until it succeeds, fails
//! or is cancelled; a large result comes in chunks, each fetched from the link the previous one
//! gives. A SIGINT/SIGTERM cancels the running statement.
//!
//! There is no request id that would make a resubmitted statement run once, so a submission of
//! a statement that changes data is retried only when the answer proves it was not taken (HTTP
//! 429 or 503, or no connection made); reads, idempotent DDL, polls and chunk fetches are
//! retried on any transient failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::project::profiles::WarehouseKind;
use crate::project::profiles::databricks::{DatabricksAuth, DatabricksSettings};
use crate::secret::Secret;
use crate::warehouse::http::{self, Failure, read_body};
use crate::warehouse::{Row, StatementStats};

/// Column names and rows of one statement's result.
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

pub struct Client {
    agent: ureq::Agent,
    settings: DatabricksSettings,
    token: Option<(Arc<Secret>, Instant)>,
    /// How long a submission waits for its statement before the client polls ("5s".."50s", or 0).
    pub wait: Duration,
    /// First wait between polls (doubles up to 5 s) and before a retry.
    pub poll_interval: Duration,
    last: StatementStats,
}

impl Client {
    /// A client whose credentials were accepted (OAuth: exchanged for a token).
    pub fn connect(settings: DatabricksSettings) -> Result<Client> {
        let mut client = Client {
            agent: http::agent(settings.connect_timeout),
            settings,
            token: None,
            wait: Duration::from_secs(10),
            poll_interval: Duration::from_millis(250),
            last: StatementStats::default(),
        };
        client.bearer()?;
        Ok(client)
    }

    pub fn settings(&self) -> &DatabricksSettings {
        &self.settings
    }

    pub fn last_stats(&self) -> &StatementStats {
        &self.last
    }

    /// Runs one statement and returns its rows.
    pub fn run(&mut self, sql: &str) -> Result<ResultSet> {
        let mut body = json!({
            "statement": sql,
            "warehouse_id": self.settings.warehouse_id,
            "wait_timeout": format!("{}s", self.wait.as_secs()),
            "on_wait_timeout": "CONTINUE",
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
        });
        if let Some(catalog) = &self.settings.catalog {
            body["catalog"] = json!(catalog);
        }
        let submitted = self.call_retrying(Call::Submit(&body, resendable(sql)))?;
        let id = submitted["statement_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let in_flight = self.register_cancel(&id);
        let open = crate::open_work::register(id.clone());
        let result = self.finish(&id, submitted);
        drop((in_flight, open));
        self.last = StatementStats {
            id: Some(id),
            ..StatementStats::default()
        };
        result
    }

    fn finish(&mut self, id: &str, mut answer: Value) -> Result<ResultSet> {
        let mut wait = self.poll_interval;
        loop {
            match answer["status"]["state"].as_str().unwrap_or_default() {
                "SUCCEEDED" => break,
                "PENDING" | "RUNNING" => {
                    if crate::cancel::requested() {
                        return Err(crate::cancel::stopped(format!(
                            "databricks statement {id} cancelled"
                        )));
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                    let path = format!("/api/2.0/sql/statements/{id}");
                    answer = self.call_retrying(Call::Get(&path))?;
                }
                state => return Err(statement_error(state, &answer)),
            }
        }
        let columns = answer["manifest"]["schema"]["columns"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_string())
            .collect();
        let mut rows = Vec::new();
        let mut chunk = answer["result"].clone();
        loop {
            rows.extend(data_rows(&chunk));
            let Some(link) = chunk["next_chunk_internal_link"]
                .as_str()
                .map(str::to_string)
            else {
                break;
            };
            chunk = self.call_retrying(Call::Get(&link))?;
        }
        Ok(ResultSet { columns, rows })
    }

    /// Cancels statement `id` (one a killed run left running); a statement that already ended
    /// stays as it ended.
    pub fn cancel(&mut self, id: &str) -> Result<()> {
        self.call_retrying(Call::Cancel(id)).map(|_| ())
    }

    /// Lets a SIGINT/SIGTERM cancel this statement on the server while the client waits for it.
    fn register_cancel(&self, id: &str) -> Option<crate::cancel::InFlight> {
        let (token, _) = self.token.as_ref()?;
        let token = Arc::clone(token);
        let agent = self.agent.clone();
        let url = format!(
            "{}/api/2.0/sql/statements/{id}/cancel",
            self.settings.base_url
        );
        Some(crate::cancel::in_flight(move || {
            let _ = agent
                .post(&url)
                .header("Authorization", &format!("Bearer {}", token.expose()))
                .send_empty();
        }))
    }

    /// The bearer token: the personal access token, or an OAuth token fetched again a minute
    /// before it expires.
    fn bearer(&mut self) -> Result<Arc<Secret>> {
        if let Some((token, until)) = &self.token
            && Instant::now() < *until
        {
            return Ok(Arc::clone(token));
        }
        let (token, lifetime) = match &self.settings.auth {
            DatabricksAuth::Token(token) => (token.clone(), Duration::from_secs(u64::MAX / 4)),
            DatabricksAuth::ClientCredentials { client_id, secret } => {
                let url = format!("{}/oidc/v1/token", self.settings.base_url);
                let basic = base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{client_id}:{}", secret.expose()),
                );
                let response = self
                    .agent
                    .post(&url)
                    .header("Authorization", &format!("Basic {basic}"))
                    .send_form([("grant_type", "client_credentials"), ("scope", "all-apis")])
                    .map_err(|e| self.unreachable(e.to_string()))?;
                let status = response.status();
                let answer: Value = read_body(response)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null);
                let Some(token) = answer["access_token"]
                    .as_str()
                    .filter(|_| status.is_success())
                else {
                    return Err(Error::invalid(
                        format!("databricks OAuth for client `{client_id}`"),
                        format!(
                            "refused with HTTP {status}: {}",
                            answer["error_description"].as_str().or(answer["error"].as_str()).unwrap_or("no access_token")
                        ),
                    )
                    .with_hint("check `client_id` and `client_secret` (a service principal's OAuth secret) in profiles.yml"));
                };
                (
                    Secret::new(token.to_string()),
                    Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(3600)),
                )
            }
        };
        let token = Arc::new(token);
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        self.token = Some((Arc::clone(&token), until));
        Ok(token)
    }

    fn unreachable(&self, message: String) -> Error {
        Error::invalid(
            format!("databricks at `{}`", self.settings.base_url),
            format!("unreachable: {message}"),
        )
        .with_hint("check `host` in profiles.yml and the network")
    }

    fn call_retrying(&mut self, call: Call) -> Result<Value> {
        let token = self.bearer()?;
        let what = match call {
            Call::Submit(..) => "submitting a databricks statement".to_string(),
            Call::Get(path) => format!("databricks request to {path}"),
            Call::Cancel(id) => format!("cancelling databricks statement {id}"),
        };
        let base = self.settings.base_url.clone();
        let agent = self.agent.clone();
        let result = http::retry(&what, self.settings.retries, self.poll_interval, || {
            let authorization = format!("Bearer {}", token.expose());
            let response = match call {
                Call::Submit(body, _) => agent
                    .post(&format!("{base}/api/2.0/sql/statements"))
                    .header("Authorization", &authorization)
                    .content_type("application/json")
                    .send(&body.to_string()),
                Call::Get(path) => agent
                    .get(&format!("{base}{path}"))
                    .header("Authorization", &authorization)
                    .call(),
                Call::Cancel(id) => agent
                    .post(&format!("{base}/api/2.0/sql/statements/{id}/cancel"))
                    .header("Authorization", &authorization)
                    .send_empty(),
            };
            // a statement that may run twice is sent again like a read
            answer(response, matches!(call, Call::Submit(_, false)))
        });
        result.map_err(|failure| match failure {
            Failure::NoConnection(message) => self.unreachable(message),
            other => other.into_error(),
        })
    }
}

#[derive(Clone, Copy)]
enum Call<'a> {
    /// A statement's submission, and whether running it twice changes nothing.
    Submit(&'a Value, bool),
    Get(&'a str),
    /// A statement's cancellation, which changes nothing when sent twice.
    Cancel(&'a str),
}

/// Whether running `sql` twice leaves what running it once leaves: a read, or DDL that says
/// so (`CREATE OR REPLACE`, `IF NOT EXISTS`, `DROP ... IF EXISTS`). Only these are resent when
/// it is unknown whether the first submission reached the warehouse.
fn resendable(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(6)
        .map(str::to_ascii_uppercase)
        .collect();
    let starts = |prefix: &[&str]| {
        words.len() >= prefix.len() && words.iter().zip(prefix).all(|(w, p)| w == p)
    };
    let has = |word: &str| words.iter().any(|w| w == word);
    starts(&["SELECT"])
        || starts(&["WITH"])
        || starts(&["CREATE", "OR", "REPLACE"])
        || (starts(&["CREATE"]) && has("NOT") && has("EXISTS"))
        || (starts(&["DROP"]) && has("IF") && has("EXISTS"))
}

/// The JSON answer; transient where resending is safe: any failure of a read, and of a
/// submission only what proves it was not taken (429, 503). A submission whose answer is lost
/// or cut off may have been taken, so it is never resent.
fn answer(
    response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    submission: bool,
) -> std::result::Result<Value, Failure> {
    let response = match response {
        Ok(response) => response,
        Err(e) if submission && !http::never_sent(&e) => {
            return Err(Failure::Final(Error::Internal(format!(
                "the connection to databricks broke while submitting a statement (not resent: it may have run): {e}"
            ))));
        }
        // unreachable (the profile's to fix) only when no connection was made
        Err(e) if http::never_sent(&e) => return Err(Failure::NoConnection(e.to_string())),
        Err(e) => return Err(Failure::Transient(format!("connection broke: {e}"))),
    };
    let status = response.status().as_u16();
    let refused = matches!(status, 429 | 503);
    let text = match read_body(response) {
        Ok(text) => text,
        Err(e) if submission && !refused => {
            return Err(Failure::Final(Error::Internal(format!(
                "the answer to a databricks statement's submission broke off (not resent: it may have run): {e}"
            ))));
        }
        Err(e) => return Err(Failure::Transient(e.to_string())),
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match status {
        200..=299 if !value.is_null() => Ok(value),
        429 | 503 => Err(Failure::Transient(format!("HTTP {status}"))),
        500..=599 if !submission => Err(Failure::Transient(format!("HTTP {status}"))),
        401 | 403 => Err(Failure::Final(
            Error::invalid(WarehouseKind::Databricks.name(), format!("HTTP {status}: {}", http::quotable(&text)))
                .with_hint("check `token` (or `client_id`/`client_secret`) in profiles.yml and the principal's access to the SQL warehouse"),
        )),
        _ => Err(Failure::Final(Error::Internal(format!(
            "databricks answered HTTP {status}: {}",
            http::quotable(&text)
        )))),
    }
}

/// A statement that ended other than SUCCEEDED, as the stage error users see.
fn statement_error(state: &str, answer: &Value) -> Error {
    let error = &answer["status"]["error"];
    let code = error["error_code"].as_str().unwrap_or("none");
    let message = error["message"].as_str().unwrap_or("no message");
    Error::Stage {
        stage: String::new(),
        message: format!("databricks statement {state} ({code}): {message}"),
        hint: None,
        user_fixable: matches!(
            code,
            "BAD_REQUEST" | "NOT_FOUND" | "INVALID_PARAMETER_VALUE"
        ) || message.contains("TABLE_OR_VIEW_NOT_FOUND")
            || message.contains("UNRESOLVED_COLUMN"),
    }
}

/// `data_array` rows: every cell a string or null (the JSON_ARRAY format).
fn data_rows(chunk: &Value) -> Vec<Row> {
    chunk["data_array"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            row.as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|cell| match cell {
                    Value::Null => None,
                    Value::String(text) => Some(text.clone()),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::resendable;

    #[test]
    fn only_statements_that_may_run_twice_are_resent_after_an_ambiguous_failure() {
        for sql in [
            "SELECT 1",
            "with x as (select 1) select * from x",
            "CREATE OR REPLACE TABLE t AS SELECT 1",
            "CREATE SCHEMA IF NOT EXISTS s",
            "CREATE TABLE IF NOT EXISTS t (a INT)",
            "DROP TABLE IF EXISTS t",
        ] {
            assert!(resendable(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO t SELECT 1",
            "UPDATE t SET a = 1",
            "DELETE FROM t WHERE 1 = 1",
            "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
            "CREATE TABLE t (a INT)",
            "DROP TABLE t",
        ] {
            assert!(!resendable(sql), "{sql}");
        }
    }
}
