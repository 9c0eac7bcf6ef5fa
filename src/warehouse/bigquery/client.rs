//! BigQuery's REST API (v2), as its client libraries speak it: each statement is a query job
//! (`jobs.query`, or `jobs.insert` at batch priority) in one session of the connection's own, so
//! `BEGIN TRANSACTION` in one statement holds for the next; a job not done within the request
//! is polled with `getQueryResults`; results come in pages.
//!
//! Two kinds of retries. A request that failed in transit (network, HTTP 429/5xx, whatever error
//! body comes with it) is sent again as it was: `jobs.query` carries a `requestId` and
//! `jobs.insert` a job id of ours, so BigQuery runs it once however often it is sent. A job that
//! BigQuery reports failed (an `errorResult`, or a 4xx answer naming the job's error) for a
//! transient reason (`backendError`, `rateLimitExceeded`, `jobRateLimitExceeded`, ...) changed
//! nothing and runs again as a new job.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::auth::TokenSource;
use super::rows::{self, ResultSet};
use crate::error::{Error, Result};
use crate::project::profiles::bigquery::BigQuerySettings;
use crate::warehouse::StatementStats;
use crate::warehouse::http::{self, Failure, read_body};

/// Error reasons after which a job changed nothing and may run again.
const TRANSIENT_REASONS: &[&str] = &[
    "backendError",
    "internalError",
    "rateLimitExceeded",
    "jobRateLimitExceeded",
    "jobBackendError",
    "jobInternalError",
];

pub struct Client {
    agent: ureq::Agent,
    settings: BigQuerySettings,
    tokens: TokenSource,
    /// The session every statement runs in, once the first one created it.
    session: Option<String>,
    /// The session, listed as open work while it lasts.
    session_open: Option<crate::open_work::Open>,
    /// How long one request waits for a job before the client polls again.
    pub wait: Duration,
    /// First wait before retrying a transient failure (doubles each time).
    pub retry_backoff: Duration,
    last: StatementStats,
}

pub(super) enum Verb {
    Get,
    Post,
}

impl Client {
    /// A client whose credentials have been exchanged for a token (bad ones fail here).
    pub fn connect(settings: BigQuerySettings) -> Result<Client> {
        let mut client = Client {
            agent: http::agent(Duration::from_secs(10)),
            tokens: TokenSource::new(settings.auth.clone()),
            settings,
            session: None,
            session_open: None,
            wait: Duration::from_secs(10),
            retry_backoff: Duration::from_millis(500),
            last: StatementStats::default(),
        };
        client.tokens.token(&client.agent)?;
        Ok(client)
    }

    pub fn settings(&self) -> &BigQuerySettings {
        &self.settings
    }

    /// Where jobs run from now on (the events dataset's location, when the profile names none).
    pub fn set_location(&mut self, location: String) {
        self.settings.location = Some(location);
    }

    pub fn last_stats(&self) -> &StatementStats {
        &self.last
    }

    /// Runs one statement and returns its rows.
    pub fn run(&mut self, sql: &str) -> Result<ResultSet> {
        let (retries, backoff) = (self.settings.retries, self.retry_backoff);
        http::retrying("a bigquery job", retries, backoff, || self.run_job(sql))
    }

    /// The bytes `sql` would process, from a dry-run job (nothing runs, nothing is billed).
    pub fn dry_run(&mut self, sql: &str) -> Result<u64> {
        let mut query = self.query_config(sql, false);
        query["priority"] = json!("INTERACTIVE");
        let body = json!({"configuration": {"dryRun": true, "query": query}});
        let path = format!("/projects/{}/jobs", self.settings.project);
        let answer = self
            .send(Verb::Post, &path, &[], Some(&body))
            .map_err(final_error)?;
        Ok(number(&answer["statistics"]["totalBytesProcessed"]).unwrap_or(0))
    }

    /// The answer to a GET of `path`, `None` when what it names does not exist.
    fn get_if_found(&mut self, path: &str, query: &[(&str, String)]) -> Result<Option<Value>> {
        match self.send(Verb::Get, path, query, None) {
            Ok(answer) => Ok(Some(answer)),
            Err(Failure::Final(Error::Stage { message, .. })) if message.contains("notFound") => {
                Ok(None)
            }
            Err(failure) => Err(final_error(failure)),
        }
    }

    /// The location of `dataset`, `None` when it does not exist.
    pub fn dataset_location(&mut self, dataset: &str) -> Result<Option<String>> {
        let path = format!("/projects/{}/datasets/{}", self.settings.project, dataset);
        let answer = self.get_if_found(&path, &[])?;
        Ok(answer.and_then(|answer| answer["location"].as_str().map(str::to_string)))
    }

    /// The tables of `dataset` (not views), every page of `tables.list`; none when the
    /// dataset does not exist.
    pub fn tables(&mut self, dataset: &str) -> Result<Vec<String>> {
        let path = format!(
            "/projects/{}/datasets/{dataset}/tables",
            self.settings.project
        );
        let mut names = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut query = vec![("maxResults", "1000".to_string())];
            query.extend(page.take().map(|token| ("pageToken", token)));
            let Some(answer) = self.get_if_found(&path, &query)? else {
                return Ok(names);
            };
            let listed = answer["tables"].as_array().into_iter().flatten();
            names.extend(
                listed
                    .filter(|table| table["type"].as_str().is_none_or(|kind| kind == "TABLE"))
                    .filter_map(|table| table["tableReference"]["tableId"].as_str())
                    .map(str::to_string),
            );
            match answer["nextPageToken"].as_str() {
                Some(token) => page = Some(token.to_string()),
                None => return Ok(names),
            }
        }
    }

    /// One job from start to rows; `Transient` when BigQuery failed it for a passing reason.
    fn run_job(&mut self, sql: &str) -> std::result::Result<ResultSet, Failure> {
        let project = self.settings.project.clone();
        let mut answer = if self.settings.batch_priority {
            let job_id = format!("sigbatch_{}", uuid::Uuid::new_v4().simple());
            let mut reference = json!({"projectId": project, "jobId": job_id});
            if let Some(location) = &self.settings.location {
                reference["location"] = json!(location);
            }
            let mut configuration = json!({"query": self.query_config(sql, true)});
            if let Some(timeout) = self.settings.job_execution_timeout {
                configuration["jobTimeoutMs"] = json!(timeout.as_millis().to_string());
            }
            let body = json!({"jobReference": reference, "configuration": configuration});
            let path = format!("/projects/{project}/jobs");
            match self.send(Verb::Post, &path, &[], Some(&body)) {
                Ok(_) => {}
                // a retried insert that had arrived the first time
                Err(Failure::Final(Error::Stage { message, .. }))
                    if message.contains("duplicate") => {}
                Err(failure) => return Err(failure),
            }
            json!({"jobReference": reference, "jobComplete": false})
        } else {
            let mut body = self.query_config(sql, true);
            body["requestId"] = json!(uuid::Uuid::new_v4().to_string());
            body["timeoutMs"] = json!(self.wait.as_millis() as u64);
            body["formatOptions"] = json!({"useInt64Timestamp": true});
            if let Some(location) = &self.settings.location {
                body["location"] = json!(location);
            }
            if let Some(timeout) = self.settings.job_execution_timeout {
                body["jobTimeoutMs"] = json!(timeout.as_millis().to_string());
            }
            self.send(
                Verb::Post,
                &format!("/projects/{project}/queries"),
                &[],
                Some(&body),
            )?
        };
        let job_id = answer["jobReference"]["jobId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let location = answer["jobReference"]["location"]
            .as_str()
            .map(str::to_string);
        let in_flight = self.register_cancel(&job_id, location.as_deref());
        let result = self.finish(&job_id, location.as_deref(), &mut answer);
        drop(in_flight);
        result
    }

    /// Polls until the job is done, reads every page, and notes its statistics and session.
    fn finish(
        &mut self,
        job_id: &str,
        location: Option<&str>,
        answer: &mut Value,
    ) -> std::result::Result<ResultSet, Failure> {
        let path = format!("/projects/{}/queries/{job_id}", self.settings.project);
        let mut query = vec![
            ("timeoutMs", (self.wait.as_millis() as u64).to_string()),
            ("formatOptions.useInt64Timestamp", "true".to_string()),
        ];
        if let Some(location) = location {
            query.push(("location", location.to_string()));
        }
        let first_answer_complete = answer["jobComplete"] == json!(true);
        while answer["jobComplete"] != json!(true) {
            if crate::cancel::requested() {
                return Err(Failure::Final(crate::cancel::stopped(format!(
                    "bigquery job {job_id} cancelled"
                ))));
            }
            *answer = self.send(Verb::Get, &path, &query, None)?;
        }
        let mut result = rows::decode(answer).map_err(Failure::Final)?;
        let mut page = answer["pageToken"].as_str().map(str::to_string);
        while let Some(token) = page {
            let mut paged = query.clone();
            paged.push(("pageToken", token));
            let next = self.send(Verb::Get, &path, &paged, None)?;
            result
                .rows
                .extend(rows::decode(&next).map_err(Failure::Final)?.rows);
            page = next["pageToken"].as_str().map(str::to_string);
        }
        let (statistics, session) = if first_answer_complete {
            (answer.clone(), answer["sessionInfo"]["sessionId"].clone())
        } else {
            let job = self.send(
                Verb::Get,
                &format!("/projects/{}/jobs/{job_id}", self.settings.project),
                &query[2..],
                None,
            )?;
            (
                job["statistics"]["query"].clone(),
                job["statistics"]["sessionInfo"]["sessionId"].clone(),
            )
        };
        if self.session.is_none()
            && let Some(id) = session.as_str()
        {
            self.session = Some(id.to_string());
            self.session_open = Some(crate::open_work::register(id));
        }
        self.last = StatementStats {
            id: Some(job_id.to_string()),
            bytes_processed: number(&statistics["totalBytesProcessed"]),
            bytes_billed: number(&statistics["totalBytesBilled"]),
        };
        Ok(result)
    }

    /// The query settings every job shares: GoogleSQL, the byte limit, and (`in_session`) the
    /// connection's session.
    fn query_config(&self, sql: &str, in_session: bool) -> Value {
        let mut config = json!({"query": sql, "useLegacySql": false});
        if self.settings.batch_priority {
            config["priority"] = json!("BATCH");
        }
        if let Some(limit) = self.settings.maximum_bytes_billed {
            config["maximumBytesBilled"] = json!(limit.to_string());
        }
        match &self.session {
            _ if !in_session => {}
            Some(id) => {
                config["connectionProperties"] = json!([{"key": "session_id", "value": id}])
            }
            None => config["createSession"] = json!(true),
        }
        config
    }

    /// Forgets the session (its transaction was aborted); the next statement starts a new one.
    pub fn drop_session(&mut self) {
        self.session = None;
        self.session_open = None;
    }

    /// Lets a SIGINT/SIGTERM cancel this job on the server while the client waits for it.
    fn register_cancel(
        &mut self,
        job_id: &str,
        location: Option<&str>,
    ) -> Option<crate::cancel::InFlight> {
        let token = self.tokens.token(&self.agent).ok()?;
        let token = Arc::new(token);
        let agent = self.agent.clone();
        let mut url = format!(
            "{}/bigquery/v2/projects/{}/jobs/{job_id}/cancel",
            self.settings.api_endpoint, self.settings.project
        );
        if let Some(location) = location {
            url.push_str(&format!("?location={location}"));
        }
        Some(crate::cancel::in_flight(move || {
            let _ = agent
                .post(&url)
                .header("Authorization", &format!("Bearer {}", token.expose()))
                .send_empty();
        }))
    }

    /// One REST call, retried as it is while it fails in transit.
    pub(super) fn send(
        &mut self,
        verb: Verb,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> std::result::Result<Value, Failure> {
        let token = self.tokens.token(&self.agent).map_err(Failure::Final)?;
        let url = format!("{}/bigquery/v2{path}", self.settings.api_endpoint);
        let what = format!("bigquery request to {path}");
        let outcome = http::retrying(&what, self.settings.retries, self.retry_backoff, || {
            let response = match (&verb, body) {
                (Verb::Post, Some(body)) => {
                    let mut request = self.agent.post(&url);
                    for (key, value) in query {
                        request = request.query(*key, value);
                    }
                    request
                        .header("Authorization", &format!("Bearer {}", token.expose()))
                        .content_type("application/json")
                        .send(&body.to_string())
                }
                _ => {
                    let mut request = self.agent.get(&url);
                    for (key, value) in query {
                        request = request.query(*key, value);
                    }
                    request
                        .header("Authorization", &format!("Bearer {}", token.expose()))
                        .call()
                }
            };
            match answer(response, &self.settings.api_endpoint) {
                Ok(value) => Ok(Ok(value)),
                // a job that failed for a passing reason is not resent as it was
                Err(JobError::Transient(message)) => Ok(Err(Failure::Transient(message))),
                Err(JobError::Request(failure)) => Err(failure),
            }
        });
        match outcome {
            Ok(result) => result,
            Err(error) => {
                if matches!(&error, Error::Stage { message, .. } if message.contains("HTTP 401")) {
                    self.tokens.forget();
                }
                Err(Failure::Final(error))
            }
        }
    }
}

/// Why a response was not an answer: the request failed (retry it as it was, or give up), or
/// the job it reports failed for a transient reason (run it again as a new job).
enum JobError {
    Request(Failure),
    Transient(String),
}

fn answer(
    response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    endpoint: &str,
) -> std::result::Result<Value, JobError> {
    let response = response.map_err(|e| {
        JobError::Request(Failure::Transient(format!("{endpoint} unreachable: {e}")))
    })?;
    let status = response.status();
    let text =
        read_body(response).map_err(|e| JobError::Request(Failure::Transient(e.to_string())))?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        if value.is_null() {
            return Err(JobError::Request(Failure::Final(Error::Internal(format!(
                "bigquery answered something that is not JSON: {}",
                http::quotable(&text)
            )))));
        }
        return match value["status"]["errorResult"].as_object() {
            Some(error) => Err(job_error(status.as_u16(), &Value::Object(error.clone()))),
            None => Ok(value),
        };
    }
    // Busy or failing in transit, whatever the body says: the job may exist and may even run,
    // so the request is resent as it was (same request or job id), never as a new job.
    if status.as_u16() == 429 || status.is_server_error() {
        let reason = value["error"]["errors"][0]["reason"].as_str().unwrap_or("");
        return Err(JobError::Request(Failure::Transient(
            format!("HTTP {status} {reason}").trim_end().to_string(),
        )));
    }
    if value["error"].is_object() {
        return Err(job_error(status.as_u16(), &value["error"]));
    }
    Err(JobError::Request(Failure::Final(Error::Internal(format!(
        "bigquery answered HTTP {status}: {}",
        http::quotable(&text)
    )))))
}

/// BigQuery's error object (`{code, message, errors: [{reason}]}` or an `errorResult`) as a
/// transient failure or a clear, final error.
fn job_error(status: u16, error: &Value) -> JobError {
    let reason = error["errors"][0]["reason"]
        .as_str()
        .or(error["reason"].as_str())
        .unwrap_or("unknown");
    let message = error["message"].as_str().unwrap_or("no message");
    if TRANSIENT_REASONS.contains(&reason) {
        return JobError::Transient(format!("{reason}: {message}"));
    }
    let (hint, user_fixable) = match reason {
        "bytesBilledLimitExceeded" => (
            Some(
                "the job would bill more than `maximum_bytes_billed` in profiles.yml allows: raise it, or narrow the run (--until, snowplow__backfill_limit_days)",
            ),
            true,
        ),
        "quotaExceeded" => (
            Some("a BigQuery quota ran out; see the project's quotas page, or retry later"),
            true,
        ),
        "accessDenied" | "unauthorized" => (
            Some(
                "check the credentials in profiles.yml and the service account's roles (BigQuery Job User, Data Editor)",
            ),
            true,
        ),
        _ if status == 401 => (
            Some("the access token was refused: check the credentials in profiles.yml"),
            true,
        ),
        "invalidQuery" | "invalid" | "notFound" | "duplicate" => (None, true),
        _ => (None, false),
    };
    JobError::Request(Failure::Final(Error::Stage {
        stage: String::new(),
        message: format!("bigquery error ({reason}, HTTP {status}): {message}"),
        hint: hint.map(str::to_string),
        user_fixable,
    }))
}

pub(super) fn final_error(failure: Failure) -> Error {
    match failure {
        Failure::Final(error) => error,
        Failure::Transient(message) | Failure::NoConnection(message) => {
            Error::Internal(format!("bigquery: {message}"))
        }
    }
}

/// A count BigQuery sends as a decimal string.
pub(super) fn number(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|v| v.parse().ok())
        .or(value.as_u64())
}
