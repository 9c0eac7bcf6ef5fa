//! The BigQuery client's paths the emulator never takes, against canned responses from a
//! scripted HTTP server on loopback: a service-account key exchanged for a token (and the token
//! reused), refused credentials, a request retried as it was after HTTP 503, a job failed for a
//! transient reason run again as a new job, result pages, and the byte limit's clear error.

mod canned_http;

use std::time::Duration;

use canned_http::{Reply, Request, serve};
use serde_json::{Value, json};
use sigbatch::Error;
use sigbatch::project::profiles::bigquery::{BigQueryAuth, BigQuerySettings};
use sigbatch::secret::Secret;
use sigbatch::warehouse::bigquery::Client;

const KEY: &str = include_str!("fixtures/snowflake/test_key.p8");

fn settings(port: u16, auth: BigQueryAuth) -> BigQuerySettings {
    BigQuerySettings {
        auth,
        project: "acme-analytics".into(),
        dataset: "signals".into(),
        location: Some("EU".into()),
        batch_priority: false,
        maximum_bytes_billed: Some(5_000_000),
        job_execution_timeout: None,
        retries: 3,
        api_endpoint: format!("http://127.0.0.1:{port}"),
    }
}

fn service_account(port: u16) -> BigQueryAuth {
    let key = json!({
        "type": "service_account",
        "client_email": "sigbatch@acme-analytics.iam.gserviceaccount.com",
        "private_key": KEY,
        "token_uri": format!("http://127.0.0.1:{port}/token"),
    });
    BigQueryAuth::ServiceAccountJson(Secret::new(key.to_string()))
}

fn json_reply(status: u16, value: Value) -> Reply {
    (status, value.to_string().into_bytes())
}

fn done(rows: Value, extra: Value) -> Reply {
    let mut answer = json!({
        "jobReference": {"projectId": "acme-analytics", "jobId": "job_1", "location": "EU"},
        "jobComplete": true,
        "schema": {"fields": [{"name": "n", "type": "INTEGER", "mode": "NULLABLE"}]},
        "rows": rows,
        "totalBytesProcessed": "1024",
        "totalBytesBilled": "10485760",
        "sessionInfo": {"sessionId": "session-1"},
    });
    if let (Value::Object(answer), Value::Object(extra)) = (&mut answer, extra) {
        answer.extend(extra);
    }
    json_reply(200, answer)
}

fn body(request: &Request) -> Value {
    serde_json::from_str(&request.body).unwrap_or(Value::Null)
}

fn client(settings: BigQuerySettings) -> sigbatch::Result<Client> {
    let mut client = Client::connect(settings)?;
    client.retry_backoff = Duration::from_millis(5);
    Ok(client)
}

#[test]
fn a_service_account_key_becomes_a_token_used_by_every_job_of_one_session() {
    let (port, log) = serve(|request, _| match request.path() {
        "/token" => json_reply(
            200,
            json!({"access_token": "ya29.granted", "expires_in": 3600}),
        ),
        _ => done(json!([{"f": [{"v": "7"}]}]), json!({})),
    });
    let mut client = client(settings(port, service_account(port))).unwrap();
    assert_eq!(
        client.run("SELECT 7 AS n").unwrap().rows,
        vec![vec![Some("7".into())]]
    );
    client.run("SELECT 7 AS n").unwrap();
    let log = log.lock().unwrap();
    let tokens: Vec<&Request> = log.iter().filter(|r| r.path() == "/token").collect();
    assert_eq!(tokens.len(), 1, "the token is cached");
    let form = &tokens[0].body;
    assert!(
        form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{form}"
    );
    let assertion = form.split("assertion=").nth(1).unwrap();
    assert_eq!(assertion.split('.').count(), 3, "a signed JWT: {assertion}");
    let jobs: Vec<&Request> = log.iter().filter(|r| r.path() != "/token").collect();
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        assert_eq!(job.path(), "/bigquery/v2/projects/acme-analytics/queries");
        assert_eq!(job.header("authorization"), Some("Bearer ya29.granted"));
        let body = body(job);
        assert_eq!(body["useLegacySql"], false);
        assert_eq!(body["location"], "EU");
        assert_eq!(body["maximumBytesBilled"], "5000000");
        assert_eq!(body["formatOptions"]["useInt64Timestamp"], true);
    }
    // the first job opens the session, the second runs in it
    assert_eq!(body(jobs[0])["createSession"], true);
    assert_eq!(
        body(jobs[1])["connectionProperties"],
        json!([{"key": "session_id", "value": "session-1"}])
    );
    let stats = client.last_stats();
    assert_eq!(
        (
            stats.id.as_deref(),
            stats.bytes_processed,
            stats.bytes_billed
        ),
        (Some("job_1"), Some(1024), Some(10485760))
    );
}

#[test]
fn refused_credentials_are_a_clear_error_without_the_secret() {
    let (port, _) = serve(|_, _| {
        json_reply(
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
        )
    });
    let Err(error) = client(settings(port, service_account(port))) else {
        panic!("refused credentials must fail")
    };
    let text = format!("{error} {error:?}");
    assert!(
        text.contains("Invalid JWT Signature") && text.contains("HTTP 400"),
        "{text}"
    );
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains(&KEY[40..80]),
        "{text}"
    );
    assert!(
        matches!(error, Error::Invalid { .. }),
        "user-fixable: {error:?}"
    );
}

#[test]
fn a_request_is_resent_as_it_was_and_a_transiently_failed_job_runs_again() {
    let (port, log) = serve(|_, earlier| match earlier.len() {
        0 => json_reply(503, json!({})),
        // Google's error body on a 5xx or 429 says nothing about the job: resent as it was
        1 => json_reply(
            503,
            json!({"error": {"code": 503, "message": "The service is currently unavailable.",
                             "errors": [{"reason": "backendError"}]}}),
        ),
        2 => json_reply(
            429,
            json!({"error": {"code": 429, "message": "Too many requests",
                             "errors": [{"reason": "rateLimitExceeded"}]}}),
        ),
        3 => json_reply(
            400,
            json!({"error": {"code": 400, "message": "Exceeded rate limits: too many table update operations",
                             "errors": [{"reason": "jobRateLimitExceeded"}]}}),
        ),
        _ => done(json!([{"f": [{"v": "1"}]}]), json!({})),
    });
    let mut client = client(settings(port, BigQueryAuth::Token(Secret::new("t".into())))).unwrap();
    assert_eq!(
        client
            .run("UPDATE t SET n = 1 WHERE TRUE")
            .unwrap()
            .rows
            .len(),
        1
    );
    let log = log.lock().unwrap();
    let ids: Vec<String> = log
        .iter()
        .map(|r| body(r)["requestId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids[..4].iter().all(|id| *id == ids[0]),
        "resent in transit: the same request id, so it runs once: {ids:?}"
    );
    assert_ne!(ids[3], ids[4], "a failed job runs again as a new job");
}

#[test]
fn a_long_job_is_polled_and_its_pages_read() {
    let (port, log) = serve(|request, _| {
        let job = "/bigquery/v2/projects/acme-analytics/queries/job_1";
        match (
            request.method.as_str(),
            request.path(),
            request.query("pageToken"),
        ) {
            ("POST", _, _) => json_reply(
                200,
                json!({"jobReference": {"projectId": "acme-analytics", "jobId": "job_1", "location": "EU"}, "jobComplete": false}),
            ),
            ("GET", path, None) if path == job => {
                done(json!([{"f": [{"v": "1"}]}]), json!({"pageToken": "p2"}))
            }
            ("GET", path, Some("p2")) if path == job => {
                done(json!([{"f": [{"v": "2"}]}]), json!({}))
            }
            ("GET", "/bigquery/v2/projects/acme-analytics/jobs/job_1", _) => json_reply(
                200,
                json!({"statistics": {"query": {"totalBytesProcessed": "99", "totalBytesBilled": "100"}, "sessionInfo": {"sessionId": "s"}}}),
            ),
            _ => json_reply(
                404,
                json!({"error": {"code": 404, "message": "no route", "errors": [{"reason": "notFound"}]}}),
            ),
        }
    });
    let mut client = client(settings(port, BigQueryAuth::Token(Secret::new("t".into())))).unwrap();
    let result = client.run("SELECT n FROM big").unwrap();
    assert_eq!(
        result.rows,
        vec![vec![Some("1".into())], vec![Some("2".into())]]
    );
    assert_eq!(client.last_stats().bytes_billed, Some(100));
    let log = log.lock().unwrap();
    assert!(
        log.iter()
            .all(|r| r.method == "POST" || r.query("location") == Some("EU")),
        "{log:?}"
    );
}

#[test]
fn the_byte_limit_is_a_clear_user_error() {
    let (port, _) = serve(|_, _| {
        json_reply(
            400,
            json!({"error": {"code": 400, "message": "Query exceeded limit for bytes billed: 5000000. 10485760 or higher required.",
                             "errors": [{"reason": "bytesBilledLimitExceeded"}]}}),
        )
    });
    let mut client = client(settings(port, BigQueryAuth::Token(Secret::new("t".into())))).unwrap();
    let error = client.run("SELECT * FROM huge").unwrap_err();
    let Error::Stage {
        message,
        hint,
        user_fixable,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("bytesBilledLimitExceeded") && message.contains("5000000"),
        "{message}"
    );
    assert!(
        hint.as_deref()
            .unwrap_or_default()
            .contains("maximum_bytes_billed"),
        "{hint:?}"
    );
    assert!(user_fixable);
}
