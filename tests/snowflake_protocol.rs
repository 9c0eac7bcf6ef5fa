//! The Snowflake client's paths that fakesnow never takes, against canned responses from a
//! scripted HTTP server on loopback: polling a long-running statement, result chunks (gzip, with
//! their headers), retries of transient failures with the same request id, session renewal,
//! refused logins and statement errors.

mod canned_http;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use canned_http::{Reply, Request, serve};

use serde_json::{Value, json};
use sigbatch::Error;
use sigbatch::project::profiles::snowflake::{Secret, SnowflakeAuth, SnowflakeSettings};
use sigbatch::warehouse::snowflake::Client;

fn settings(port: u16) -> SnowflakeSettings {
    SnowflakeSettings {
        account: "acme".into(),
        user: "loader".into(),
        auth: SnowflakeAuth::Password(Secret::new("pa55-secret".into())),
        role: Some("TRANSFORMER".into()),
        warehouse: Some("WH".into()),
        database: "ANALYTICS".into(),
        schema: "ATOMIC".into(),
        query_tag: Some("sigbatch".into()),
        connect_timeout: Duration::from_secs(5),
        retries: 3,
        base_url: format!("http://127.0.0.1:{port}"),
    }
}

fn json_reply(value: Value) -> Reply {
    (200, value.to_string().into_bytes())
}

fn login_ok(token: &str) -> Reply {
    json_reply(json!({"success": true, "data": {"token": token, "masterToken": "master-1"}}))
}

fn result(rows: Value, extra: Value) -> Reply {
    let mut data = json!({
        "queryResultFormat": "json",
        "rowtype": [{"name": "N", "type": "fixed"}, {"name": "T", "type": "text"}],
        "rowset": rows,
    });
    if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
        data.extend(extra);
    }
    json_reply(json!({"success": true, "data": data}))
}

fn client(port: u16) -> Client {
    let mut client = Client::login(settings(port)).unwrap();
    client.poll_interval = Duration::from_millis(5);
    client.retry_backoff = Duration::from_millis(5);
    client
}

#[test]
fn a_long_statement_is_polled_and_its_chunks_downloaded_with_their_headers() {
    let (port, log) = serve(move |request, earlier| match request.path() {
        "/session/v1/login-request" => login_ok("t1"),
        "/queries/v1/query-request" => json_reply(json!({
            "success": true, "code": "333334",
            "data": {"getResultUrl": "/queries/q-1/result", "queryId": "q-1"}
        })),
        "/queries/q-1/result"
            if earlier
                .iter()
                .filter(|r| r.path() == "/queries/q-1/result")
                .count()
                < 2 =>
        {
            json_reply(
                json!({"success": true, "code": "333333", "data": {"getResultUrl": "/queries/q-1/result"}}),
            )
        }
        "/queries/q-1/result" => {
            let port = request
                .header("host")
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .to_string();
            result(
                json!([["1", "a"]]),
                json!({
                    "chunks": [
                        {"url": format!("http://127.0.0.1:{port}/chunk/0"), "rowCount": 2},
                        {"url": format!("http://127.0.0.1:{port}/chunk/1"), "rowCount": 1}
                    ],
                    "chunkHeaders": {"x-amz-server-side-encryption-customer-key": "k3y"}
                }),
            )
        }
        "/chunk/0" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(br#"["2","b"],["3",null]"#).unwrap();
            (200, gz.finish().unwrap())
        }
        "/chunk/1" => (200, br#"["4","d"]"#.to_vec()),
        other => panic!("unexpected request {other}"),
    });
    let mut client = client(port);
    let result = client.run("SELECT N, T FROM BIG").unwrap();
    // the id of the statement, for run_results.json, though the final result does not repeat it
    assert_eq!(client.last_query_id(), Some("q-1"));
    let text = |v: &str| Some(v.to_string());
    assert_eq!(
        result.rows,
        vec![
            vec![text("1"), text("a")],
            vec![text("2"), text("b")],
            vec![text("3"), None],
            vec![text("4"), text("d")],
        ]
    );
    let log = log.lock().unwrap();
    let polls: Vec<&Request> = log
        .iter()
        .filter(|r| r.path() == "/queries/q-1/result")
        .collect();
    assert_eq!(
        polls.len(),
        3,
        "two 'still running' answers, then the result"
    );
    assert!(
        polls
            .iter()
            .all(|r| r.method == "GET"
                && r.header("authorization") == Some("Snowflake Token=\"t1\""))
    );
    let chunk = log.iter().find(|r| r.path() == "/chunk/0").unwrap();
    assert_eq!(
        chunk.header("x-amz-server-side-encryption-customer-key"),
        Some("k3y")
    );
    // the login carried the session's place and the query tag, and no secret went anywhere else
    let login = &log[0];
    assert_eq!(login.query("databaseName"), Some("ANALYTICS"));
    assert_eq!(login.query("warehouse"), Some("WH"));
    assert_eq!(login.query("roleName"), Some("TRANSFORMER"));
    let body: Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(body["data"]["SESSION_PARAMETERS"]["QUERY_TAG"], "sigbatch");
    assert_eq!(body["data"]["PASSWORD"], "pa55-secret");
    assert!(log[1..].iter().all(|r| !r.body.contains("pa55-secret")));
}

#[test]
fn transient_failures_are_retried_with_the_same_request_id() {
    let (port, log) = serve(|request, earlier| match request.path() {
        "/session/v1/login-request" => login_ok("t1"),
        "/queries/v1/query-request" => {
            let tries = earlier
                .iter()
                .filter(|r| r.path() == "/queries/v1/query-request")
                .count();
            match tries {
                0 => (503, b"busy".to_vec()),
                1 => (429, b"slow down".to_vec()),
                _ => result(json!([["7", "x"]]), json!({})),
            }
        }
        other => panic!("unexpected request {other}"),
    });
    let rows = client(port).run("SELECT 7").unwrap().rows;
    assert_eq!(rows, vec![vec![Some("7".into()), Some("x".into())]]);
    let log = log.lock().unwrap();
    let ids: Vec<&str> = log
        .iter()
        .filter(|r| r.path() == "/queries/v1/query-request")
        .map(|r| r.query("requestId").unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}

#[test]
fn retries_give_up_after_the_profile_says_so() {
    let (port, log) = serve(|request, _| match request.path() {
        "/session/v1/login-request" => login_ok("t1"),
        _ => (500, b"down".to_vec()),
    });
    let error = client(port).run("SELECT 1").unwrap_err();
    assert!(error.to_string().contains("after 3 retries"), "{error}");
    assert_eq!(log.lock().unwrap().len(), 1 + 4);
}

#[test]
fn an_expired_session_is_renewed_with_the_master_token() {
    let (port, log) = serve(|request, _| match request.path() {
        "/session/v1/login-request" => login_ok("old"),
        "/session/token-request" => {
            assert_eq!(
                request.header("authorization"),
                Some("Snowflake Token=\"master-1\"")
            );
            json_reply(json!({"success": true, "data": {"sessionToken": "new"}}))
        }
        "/queries/v1/query-request"
            if request.header("authorization") == Some("Snowflake Token=\"old\"") =>
        {
            json_reply(
                json!({"success": false, "code": "390112", "message": "Your session has expired."}),
            )
        }
        "/queries/v1/query-request" => result(json!([["1", "ok"]]), json!({})),
        other => panic!("unexpected request {other}"),
    });
    let rows = client(port).run("SELECT 1").unwrap().rows;
    assert_eq!(rows[0][1].as_deref(), Some("ok"));
    let paths: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/session/v1/login-request",
            "/queries/v1/query-request",
            "/session/token-request",
            "/queries/v1/query-request"
        ]
    );
}

#[test]
fn a_refused_login_and_a_failed_statement_say_what_and_where_without_secrets() {
    let (port, _) = serve(|request, _| match request.path() {
        "/session/v1/login-request" => json_reply(json!({
            "success": false, "code": "390100", "message": "Incorrect username or password was specified."
        })),
        other => panic!("unexpected request {other}"),
    });
    let error = match Client::login(settings(port)) {
        Err(error) => error,
        Ok(_) => panic!("the login should be refused"),
    };
    let text = format!("{error} {}", error.hint().unwrap_or_default());
    assert!(
        text.contains("Incorrect username") && text.contains("loader"),
        "{text}"
    );
    assert!(!text.contains("pa55-secret"), "{text}");
    assert!(error.is_user_error());

    let (port, _) = serve(|request, _| match request.path() {
        "/session/v1/login-request" => login_ok("t1"),
        _ => json_reply(json!({
            "success": false, "code": "002003",
            "message": "SQL compilation error: Object 'ATOMIC.EVENTS' does not exist or not authorized.",
            "data": {"sqlState": "42S02"}
        })),
    });
    let error = client(port).run("SELECT 1 FROM ATOMIC.EVENTS").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Stage {
                user_fixable: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("ATOMIC.EVENTS"), "{error}");

    // nothing listens here: the error names the address
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut unreachable = settings(closed);
    unreachable.retries = 0;
    let error = match Client::login(unreachable) {
        Err(error) => error,
        Ok(_) => panic!("nothing listens there"),
    };
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{closed}")),
        "{error}"
    );
}

#[test]
fn a_host_that_reflects_the_login_request_does_not_get_the_password_printed() {
    for status in [404, 200] {
        let (port, _) = serve(move |request, _| (status, request.body.clone().into_bytes()));
        let error = match Client::login(settings(port)) {
            Ok(_) => panic!("HTTP {status}: a reflected login was taken for an answer"),
            Err(error) => error.to_string(),
        };
        assert!(!error.contains("pa55-secret"), "HTTP {status}: {error}");
        if status == 404 {
            assert!(error.contains("not shown"), "{error}");
        }
    }
}

/// An Arrow IPC stream of a FIXED(38,2) column `N` and a TEXT column `T`.
fn arrow_stream(numbers: &[i64], texts: &[Option<&str>]) -> Vec<u8> {
    arrow_stream_of("FIXED", numbers, texts)
}

/// `arrow_stream` with `N` of Snowflake type `logical`.
fn arrow_stream_of(logical: &str, numbers: &[i64], texts: &[Option<&str>]) -> Vec<u8> {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let field = |name: &str, data_type: DataType, logical: &str, scale: &str| {
        Field::new(name, data_type, true).with_metadata(HashMap::from([
            ("logicalType".to_string(), logical.to_string()),
            ("scale".to_string(), scale.to_string()),
            ("precision".to_string(), "38".to_string()),
        ]))
    };
    let schema = Arc::new(Schema::new(vec![
        field("N", DataType::Int64, logical, "2"),
        field("T", DataType::Utf8, "TEXT", "0"),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(numbers.to_vec())),
        Arc::new(StringArray::from(texts.to_vec())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut bytes = Vec::new();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut bytes, &schema).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    bytes
}

/// Snowflake answering Arrow anyway (as it answers its own connectors): the inline
/// `rowsetBase64` and the chunks (one gzip'd without a header) read as the same rows in JSON
/// would; JSON was asked for at login and with the statement.
#[test]
fn arrow_results_inline_and_in_chunks_read_as_json_ones_and_json_is_asked_for() {
    use base64::Engine;

    let (port, log) = serve(|request, _| match request.path() {
        "/session/v1/login-request" => login_ok("t1"),
        "/queries/v1/query-request" => {
            let port = request.header("host").unwrap().rsplit(':').next().unwrap();
            let inline = arrow_stream(&[150], &[Some("a")]);
            json_reply(json!({"success": true, "data": {
                "queryResultFormat": "arrow",
                "rowtype": [
                    {"name": "N", "type": "fixed", "scale": 2},
                    {"name": "T", "type": "text"}
                ],
                "rowsetBase64": base64::engine::general_purpose::STANDARD.encode(inline),
                "chunks": [
                    {"url": format!("http://127.0.0.1:{port}/chunk/0"), "rowCount": 2},
                    {"url": format!("http://127.0.0.1:{port}/chunk/1"), "rowCount": 1}
                ],
                "chunkHeaders": {"x-amz-server-side-encryption-customer-key": "k3y"}
            }}))
        }
        "/chunk/0" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&arrow_stream(&[-5, 200], &[Some("b"), None]))
                .unwrap();
            (200, gz.finish().unwrap())
        }
        "/chunk/1" => (200, arrow_stream(&[0], &[Some("d")])),
        other => panic!("unexpected request {other}"),
    });
    let result = client(port).run("SELECT N, T FROM BIG").unwrap();
    let text = |v: &str| Some(v.to_string());
    assert_eq!(result.columns, ["N", "T"]);
    assert_eq!(
        result.rows,
        vec![
            vec![text("1.50"), text("a")],
            vec![text("-0.05"), text("b")],
            // "2.00" in a JSON rowset reads "2" too
            vec![text("2"), None],
            vec![text("0"), text("d")],
        ]
    );
    let log = log.lock().unwrap();
    let login: Value = serde_json::from_str(&log[0].body).unwrap();
    let query: Value = serde_json::from_str(&log[1].body).unwrap();
    for name in [
        "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT",
        "JDBC_QUERY_RESULT_FORMAT",
        "ODBC_QUERY_RESULT_FORMAT",
        "GO_QUERY_RESULT_FORMAT",
    ] {
        assert_eq!(login["data"]["SESSION_PARAMETERS"][name], "JSON", "{login}");
        assert_eq!(query["parameters"][name], "JSON", "{query}");
    }
    assert_eq!(login["data"]["SESSION_PARAMETERS"]["TIMEZONE"], "UTC");
    // a lock held by a killed run's transaction fails a statement in minutes, not 12 hours
    assert_eq!(login["data"]["SESSION_PARAMETERS"]["LOCK_TIMEOUT"], 600);
}

/// A chunk cut short (fewer rows than its `rowCount`) or garbled, and a column of a type the
/// reader does not know, are errors naming what and where, with a hint: never a panic, never
/// rows silently lost.
#[test]
fn a_cut_or_garbled_arrow_chunk_is_an_error_with_a_hint() {
    use base64::Engine;

    for (body, says) in [
        (
            arrow_stream(&[1], &[Some("x")]),
            "result chunk 0 holds 1 rows where snowflake said 2",
        ),
        (
            arrow_stream(&[1, 2], &[Some("x"), None])[..40].to_vec(),
            "result chunk 0 is not a readable Arrow stream",
        ),
    ] {
        let (port, _) = serve(move |request, _| match request.path() {
            "/session/v1/login-request" => login_ok("t1"),
            "/queries/v1/query-request" => {
                let port = request.header("host").unwrap().rsplit(':').next().unwrap();
                json_reply(json!({"success": true, "data": {
                    "queryResultFormat": "arrow",
                    "rowtype": [{"name": "N", "type": "fixed"}, {"name": "T", "type": "text"}],
                    "rowsetBase64": "",
                    "chunks": [{"url": format!("http://127.0.0.1:{port}/chunk/0"), "rowCount": 2}]
                }}))
            }
            "/chunk/0" => (200, body.clone()),
            other => panic!("unexpected request {other}"),
        });
        let error = client(port).run("SELECT N, T FROM BIG").unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
        assert!(
            error.hint().is_some_and(|h| h.contains("run again")),
            "{error:?}"
        );
        assert_eq!(error.exit_code(), 3, "{error:?}");
    }

    let (port, _) = serve(|request, _| match request.path() {
        "/session/v1/login-request" => login_ok("t1"),
        "/queries/v1/query-request" => json_reply(json!({"success": true, "data": {
            "queryResultFormat": "arrow",
            "rowtype": [{"name": "N", "type": "vector"}, {"name": "T", "type": "text"}],
            "rowsetBase64": base64::engine::general_purpose::STANDARD
                .encode(arrow_stream_of("VECTOR", &[1], &[Some("x")])),
        }})),
        other => panic!("unexpected request {other}"),
    });
    let error = client(port).run("SELECT N, T FROM V").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("result column `N` is of type `vector` as Arrow `Int64`"),
        "{error}"
    );
    assert!(
        error.hint().is_some_and(|h| h.contains("report")),
        "{error:?}"
    );
    assert_eq!(error.exit_code(), 3);
}

/// A window's part as one multi-statement request, in Snowflake's words (its docs' example of a
/// failed statement): `MULTI_STATEMENT_COUNT` is the request's statement count, BEGIN and COMMIT
/// included; a failing child is named by the line it starts on and becomes a failure at that
/// statement, Snowflake's procedure trace cut off, user-fixable where it did not compile, and
/// a ROLLBACK follows; a request that ran gives each statement its child's id and the time the
/// session's query history gives it.
#[test]
fn a_multi_statement_request_maps_children_to_statements() {
    use sigbatch::warehouse::Warehouse;
    use sigbatch::warehouse::snowflake::SnowflakeWarehouse;

    let statements = [
        "INSERT INTO \"S\".\"A\"\nSELECT 1",
        "INSERT INTO \"S\".\"B\" SELECT 2",
    ];
    let failed = "JavaScript execution error: Uncaught Execution of multiple statements failed on \
                  statement \"INSERT INTO \\\"S\\\".\\\"B\\\" SELECT 2\" (at line 4, position 0).\n\
                  SQL compilation error:\nObject 'S.B' does not exist or not authorized. in \
                  SYSTEM$MULTISTMT at '    throw `Execution of multiple statements failed on \
                  statement {0} (at line {1}, position {2}).`.replace('{1}', LINES[i])' position 4\n\
                  stackstrace: \nSYSTEM$MULTISTMT line: 10";
    let failed = failed.to_string();
    let (port, log) = serve(move |request, _| {
        let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
        match (request.path(), body["sqlText"].as_str().unwrap_or_default()) {
            ("/session/v1/login-request", _) => login_ok("t1"),
            (_, "ROLLBACK") => result(json!([]), json!({"queryId": "q-rollback"})),
            (_, sql) if sql.starts_with("BEGIN TRANSACTION;\n") => json_reply(json!({
                "success": false, "code": "100132", "message": failed,
                "data": {"sqlState": "P0000", "queryId": "parent-1"}
            })),
            (_, sql) if sql.contains("QUERY_HISTORY_BY_SESSION") => result(
                json!([["child-1", "40"], ["child-2", "1500"]]),
                json!({"rowtype": [{"name": "QUERY_ID", "type": "text"},
                                   {"name": "TOTAL_ELAPSED_TIME", "type": "fixed"}]}),
            ),
            _ => json_reply(json!({"success": true, "data": {
                "queryId": "parent-2", "rowtype": [{"name": "multiple statement execution", "type": "text"}],
                "rowset": [["Multiple statements executed successfully."]], "queryResultFormat": "json",
                "resultIds": "child-1,child-2"
            }})),
        }
    });
    let mut warehouse = SnowflakeWarehouse::connect(settings(port)).unwrap();
    let failure = match warehouse.execute_script(&statements, true) {
        Some(Err(failure)) => failure,
        other => panic!("expected a failed script, got {other:?}"),
    };
    assert_eq!(failure.at, 1, "the statement starting on line 4");
    let text = failure.error.to_string();
    assert!(text.contains("Object 'S.B' does not exist"), "{text}");
    assert!(!text.contains("stackstrace"), "{text}");
    assert!(failure.error.is_user_error(), "{:?}", failure.error);
    let bodies: Vec<Value> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path() == "/queries/v1/query-request")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["parameters"]["MULTI_STATEMENT_COUNT"], "4");
    assert_eq!(
        bodies[0]["sqlText"],
        "BEGIN TRANSACTION;\nINSERT INTO \"S\".\"A\"\nSELECT 1;\nINSERT INTO \"S\".\"B\" SELECT 2;\nCOMMIT;\n"
    );
    assert_eq!(bodies[1]["sqlText"], "ROLLBACK", "then a rollback");

    let run = match warehouse.execute_script(&statements, false) {
        Some(Ok(run)) => run,
        other => panic!("expected a script that ran, got {other:?}"),
    };
    assert_eq!(run.requests, 2);
    let ids: Vec<Option<&str>> = run.steps.iter().map(|s| s.stats.id.as_deref()).collect();
    assert_eq!(ids, [Some("child-1"), Some("child-2")]);
    assert_eq!(run.steps[0].took, Duration::from_millis(40));
    assert_eq!(run.steps[1].took, Duration::from_millis(1500));
    let history = log.lock().unwrap().last().unwrap().body.clone();
    assert!(
        history.contains("'child-1', 'child-2'"),
        "the history is asked for the children: {history}"
    );
}
