//! The Databricks client's paths the Sail stand-in does not take, against canned responses from
//! a scripted HTTP server on loopback: a statement still running is polled and its result read
//! in chunks, OAuth machine-to-machine tokens, a refused submission resent, a submission lost in
//! transit not resent (it may have run), and a failed statement's error.

mod canned_http;

use std::time::Duration;

use canned_http::{Reply, serve};
use serde_json::{Value, json};
use sigbatch::Error;
use sigbatch::project::profiles::databricks::{DatabricksAuth, DatabricksSettings};
use sigbatch::secret::Secret;
use sigbatch::warehouse::databricks::Client;

fn settings(port: u16, auth: DatabricksAuth) -> DatabricksSettings {
    DatabricksSettings {
        base_url: format!("http://127.0.0.1:{port}"),
        warehouse_id: "wh-1".into(),
        auth,
        catalog: Some("main".into()),
        schema: "signals".into(),
        connect_timeout: Duration::from_secs(5),
        retries: 3,
    }
}

fn token() -> DatabricksAuth {
    DatabricksAuth::Token(Secret::new("dapi-secret".into()))
}

fn json_reply(status: u16, value: Value) -> Reply {
    (status, value.to_string().into_bytes())
}

fn connect(settings: DatabricksSettings) -> sigbatch::Result<Client> {
    let mut client = Client::connect(settings)?;
    client.poll_interval = Duration::from_millis(5);
    Ok(client)
}

#[test]
fn a_running_statement_is_polled_and_its_chunks_read() {
    let (port, log) = serve(|request, earlier| {
        let polls = earlier
            .iter()
            .filter(|r| r.method == "GET" && !r.path().contains("chunks"))
            .count();
        match (request.method.as_str(), request.path()) {
            ("POST", "/api/2.0/sql/statements") => json_reply(
                200,
                json!({"statement_id": "st-1", "status": {"state": "PENDING"}}),
            ),
            ("GET", "/api/2.0/sql/statements/st-1") if polls < 2 => json_reply(
                200,
                json!({"statement_id": "st-1", "status": {"state": "RUNNING"}}),
            ),
            ("GET", "/api/2.0/sql/statements/st-1") => json_reply(
                200,
                json!({"statement_id": "st-1", "status": {"state": "SUCCEEDED"},
                       "manifest": {"schema": {"columns": [{"name": "n"}, {"name": "t"}]}},
                       "result": {"chunk_index": 0, "data_array": [["1", "a"]],
                                  "next_chunk_internal_link": "/api/2.0/sql/statements/st-1/result/chunks/1"}}),
            ),
            ("GET", "/api/2.0/sql/statements/st-1/result/chunks/1") => {
                json_reply(200, json!({"chunk_index": 1, "data_array": [["2", null]]}))
            }
            _ => json_reply(404, json!({"message": "no route"})),
        }
    });
    let mut client = connect(settings(port, token())).unwrap();
    let result = client.run("SELECT n, t FROM big").unwrap();
    assert_eq!(result.columns, ["n", "t"]);
    assert_eq!(
        result.rows,
        vec![
            vec![Some("1".into()), Some("a".into())],
            vec![Some("2".into()), None]
        ]
    );
    assert_eq!(client.last_stats().id.as_deref(), Some("st-1"));
    let log = log.lock().unwrap();
    let submitted: Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(submitted["warehouse_id"], "wh-1");
    assert_eq!(submitted["catalog"], "main");
    assert_eq!(submitted["on_wait_timeout"], "CONTINUE");
    assert_eq!(submitted["wait_timeout"], "10s");
    assert_eq!(submitted["format"], "JSON_ARRAY");
    assert!(
        log.iter()
            .all(|r| r.header("authorization") == Some("Bearer dapi-secret"))
    );
    assert_eq!(
        log.iter()
            .filter(|r| r.path() == "/api/2.0/sql/statements/st-1")
            .count(),
        3
    );
}

#[test]
fn oauth_client_credentials_become_a_bearer_token() {
    let (port, log) = serve(|request, _| match request.path() {
        "/oidc/v1/token" => json_reply(
            200,
            json!({"access_token": "oauth-granted", "expires_in": 3600}),
        ),
        _ => json_reply(
            200,
            json!({"statement_id": "s", "status": {"state": "SUCCEEDED"}, "result": {}}),
        ),
    });
    let auth = DatabricksAuth::ClientCredentials {
        client_id: "sp-1".into(),
        secret: Secret::new("oauth-client-secret".into()),
    };
    let mut client = connect(settings(port, auth)).unwrap();
    client.run("SELECT 1").unwrap();
    client.run("SELECT 1").unwrap();
    let log = log.lock().unwrap();
    let tokens: Vec<_> = log
        .iter()
        .filter(|r| r.path() == "/oidc/v1/token")
        .collect();
    assert_eq!(tokens.len(), 1, "the token is cached");
    assert!(
        tokens[0].body.contains("grant_type=client_credentials")
            && tokens[0].body.contains("scope=all-apis")
    );
    // HTTP basic auth of sp-1:oauth-client-secret
    assert_eq!(
        tokens[0].header("authorization"),
        Some("Basic c3AtMTpvYXV0aC1jbGllbnQtc2VjcmV0")
    );
    let statements: Vec<_> = log
        .iter()
        .filter(|r| r.path() != "/oidc/v1/token")
        .collect();
    assert!(
        statements
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer oauth-granted"))
    );
}

#[test]
fn refused_oauth_credentials_are_named_without_the_secret() {
    let (port, _) = serve(|_, _| {
        json_reply(
            401,
            json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        )
    });
    let auth = DatabricksAuth::ClientCredentials {
        client_id: "sp-1".into(),
        secret: Secret::new("oauth-client-secret".into()),
    };
    let Err(error) = connect(settings(port, auth)) else {
        panic!("refused credentials must fail")
    };
    let text = format!("{error} {error:?}");
    assert!(
        text.contains("sp-1") && text.contains("Client authentication failed"),
        "{text}"
    );
    assert!(!text.contains("oauth-client-secret"), "{text}");
}

#[test]
fn a_refused_submission_is_resent_but_one_lost_in_transit_is_not() {
    let (port, log) = serve(|_, earlier| match earlier.len() {
        0 => json_reply(503, json!({"message": "warehouse starting"})),
        _ => json_reply(
            200,
            json!({"statement_id": "s", "status": {"state": "SUCCEEDED"}, "result": {}}),
        ),
    });
    let mut client = connect(settings(port, token())).unwrap();
    client.run("INSERT INTO t SELECT 1").unwrap();
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "a 503 means it was not taken: resent once"
    );

    // a server that takes the request and closes the connection without answering, and one
    // that closes it halfway through the answer's body
    for raw_answer in [
        "",
        "HTTP/1.1 200 OK\r\nContent-Length: 500\r\nContent-Type: application/json\r\n\r\n{\"statement_id\": \"s\", \"sta",
    ] {
        let (port, accepted) = answering_once_with(raw_answer);
        let mut client = connect(settings(port, token())).unwrap();
        let error = client.run("INSERT INTO t SELECT 1").unwrap_err();
        assert!(
            error.to_string().contains("not resent"),
            "{raw_answer:?}: {error}"
        );
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{raw_answer:?}: sent once"
        );
    }
}

/// A server that reads each request, writes `raw_answer` and closes the connection.
fn answering_once_with(
    raw_answer: &'static str,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut stream = stream.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buffer);
            let _ = std::io::Write::write_all(&mut stream, raw_answer.as_bytes());
            drop(stream);
        }
    });
    (port, accepted)
}

#[test]
fn a_failed_statement_says_why() {
    let (port, _) = serve(|_, _| {
        json_reply(
            200,
            json!({"statement_id": "s", "status": {"state": "FAILED",
            "error": {"error_code": "BAD_REQUEST", "message": "[TABLE_OR_VIEW_NOT_FOUND] atomic.events"}}}),
        )
    });
    let mut client = connect(settings(port, token())).unwrap();
    let error = client.run("SELECT * FROM atomic.events").unwrap_err();
    let Error::Stage {
        message,
        user_fixable,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("FAILED") && message.contains("TABLE_OR_VIEW_NOT_FOUND"),
        "{message}"
    );
    assert!(user_fixable);
}

#[test]
fn a_host_that_reflects_the_request_does_not_get_the_token_printed() {
    let (port, _) = serve(|request, _| {
        let echoed: Vec<String> = request
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        (403, echoed.join("\n").into_bytes())
    });
    let error = connect(settings(port, token()))
        .and_then(|mut client| client.run("SELECT 1").map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(!error.contains("dapi-secret"), "{error}");
    assert!(
        error.contains("HTTP 403") && error.contains("not shown"),
        "{error}"
    );
}
