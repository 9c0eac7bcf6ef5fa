//! SIGINT/SIGTERM while a Snowflake statement runs: the client sends `abort-request` for that
//! statement's request id at once, and the run stops, also after the lease heartbeat ran a
//! statement of its own in the meantime. (Its own binary: the stop request is
//! process-wide.)

mod canned_http;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigbatch::project::profiles::snowflake::{Secret, SnowflakeAuth, SnowflakeSettings};
use sigbatch::warehouse::snowflake::Client;

#[test]
fn a_stop_request_aborts_the_running_statement_on_the_server() {
    let aborted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&aborted);
    let (port, log) = canned_http::serve(move |request, _| match request.path() {
        "/session/v1/login-request" => (
            200,
            json!({"success": true, "data": {"token": "t1"}})
                .to_string()
                .into_bytes(),
        ),
        "/queries/v1/abort-request" => {
            flag.store(true, Ordering::SeqCst);
            (200, json!({"success": true}).to_string().into_bytes())
        }
        "/queries/v1/query-request" if !request.body.contains("SLOW") => {
            // the lease heartbeat's statement, on a connection of its own: answers at once
            let reply = json!({"success": true, "data": {
                "rowtype": [{"name": "N", "type": "fixed", "scale": 0}], "rowset": [["1"]]}});
            (200, reply.to_string().into_bytes())
        }
        "/queries/v1/query-request" => {
            // a long statement: answers once it is aborted (or after 20 s, failing the test)
            let deadline = Instant::now() + Duration::from_secs(20);
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let reply = json!({
                "success": false, "code": "000604", "message": "SQL execution canceled",
                "data": {"sqlState": "57014"}
            });
            (200, reply.to_string().into_bytes())
        }
        other => panic!("unexpected request {other}"),
    });
    let settings = SnowflakeSettings {
        account: "acme".into(),
        user: "loader".into(),
        auth: SnowflakeAuth::OAuth(Secret::new("oauth-token".into())),
        role: None,
        warehouse: None,
        database: "ANALYTICS".into(),
        schema: "ATOMIC".into(),
        query_tag: None,
        connect_timeout: Duration::from_secs(5),
        retries: 0,
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let mut client = Client::login(settings.clone()).unwrap();
    let mut heartbeat = Client::login(settings).unwrap();
    let running = std::thread::spawn(move || client.run("SELECT SLOW()"));
    std::thread::sleep(Duration::from_millis(300));
    // a heartbeat's statement starts and ends while the run's statement is running
    heartbeat.run("UPDATE lease SET expires_at = 1").unwrap();
    let started = Instant::now();
    sigbatch::cancel::request("a test asked to stop");
    let error = running.join().unwrap().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the abort was not sent at once"
    );
    assert!(error.to_string().contains("canceled"), "{error}");
    let log = log.lock().unwrap();
    let query = log
        .iter()
        .find(|r| r.path() == "/queries/v1/query-request" && r.body.contains("SLOW"))
        .unwrap();
    let abort = log
        .iter()
        .find(|r| r.path() == "/queries/v1/abort-request")
        .unwrap();
    let body: Value = serde_json::from_str(&abort.body).unwrap();
    assert_eq!(body["requestId"].as_str(), query.query("requestId"));
    assert_eq!(
        abort.header("authorization"),
        Some("Snowflake Token=\"t1\"")
    );
    // the OAuth login sent its token and authenticator
    let login: Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(login["data"]["AUTHENTICATOR"], "OAUTH");
    assert_eq!(login["data"]["TOKEN"], "oauth-token");
}
