//! `test-connection` and the commands' help.

use serde_json::json;

use super::*;

// ---- test-connection -------------------------------------------------------------------------

#[test]
fn test_connection_checks_auth_and_health() {
    let server = Server::start();
    let output = server.bdp(&["test-connection"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("auth (bdp mode): ok"), "{text}");
    assert!(
        text.contains("/health-all): ok (storage ok, registry ok)"),
        "{text}"
    );
    let requests = server.requests();
    assert_eq!(
        server.calls(),
        [
            format!("GET /api/msc/v1/organizations/{ORG_ID}/credentials/v3/token"),
            "GET /api/v1/registry/attribute_groups/".to_string(),
            "GET /health-all".to_string(),
        ]
    );
    assert_eq!(requests[1]["query"], "offline=true");
    assert!(
        header(&requests[1], "authorization")
            .unwrap()
            .starts_with("Bearer ey")
    );
    assert_eq!(header(&requests[2], "authorization"), None);

    // unhealthy: reported, exit 3, the auth check still passes
    server.configure(json!({"healthy": false}));
    let output = server.sandbox(&["test-connection"]);
    assert_exit(&output, 3);
    let text = stdout(&output);
    assert!(text.contains("auth (sandbox mode): ok"), "{text}");
    assert!(text.contains("failed: signals api: `GET /health-all` answered 503, status `error`: storage error, registry ok"), "{text}");
    assert_stderr_has(&output, &["error: test-connection: failed: api"]);

    // only health: no credentials needed, no token asked for
    let health_only = || {
        server.run(
            &[
                "test-connection",
                "--no-check-auth",
                "--api-url",
                &server.url(),
            ],
            &[],
        )
    };
    let before = server.requests().len();
    let output = health_only();
    assert_exit(&output, 3);
    assert_eq!(server.calls()[before..], ["GET /health-all".to_string()]);
    server.configure(json!({}));
    let output = health_only();
    assert_exit(&output, 0);
    assert!(!stdout(&output).contains("auth"), "{}", stdout(&output));

    // only auth
    let before = server.requests().len();
    let output = server.sandbox(&["test-connection", "--no-check-api"]);
    assert_exit(&output, 0);
    assert_eq!(
        server.calls()[before..],
        ["GET /api/v1/registry/attribute_groups/".to_string()]
    );
    let output = server.sandbox(&["test-connection", "--no-check-api", "--no-check-auth"]);
    assert_exit(&output, 2);
    // the later flag wins
    let output = server.sandbox(&[
        "test-connection",
        "--no-check-api",
        "--check-api",
        "--no-check-auth",
    ]);
    assert_exit(&output, 0);
}

#[test]
fn test_connection_failures_say_which_check_and_who_can_fix_it() {
    let server = Server::start();
    server.configure(json!({"api_key": "rotated"}));
    let output = server.bdp(&["test-connection"]);
    assert_exit(&output, 2);
    let text = stdout(&output);
    assert!(
        text.contains("auth (bdp mode): failed: snowplow console:") && text.contains("401"),
        "{text}"
    );
    assert!(text.contains("/health-all): ok"), "{text}");
    assert_stderr_has(&output, &["hint: check the API key"]);

    // bad credentials and an unhealthy API: not all the user's to fix
    server.configure(json!({"api_key": "rotated", "healthy": false}));
    let output = server.bdp(&["test-connection"]);
    assert_exit(&output, 3);
    assert_stderr_has(&output, &["failed: auth, api"]);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = server.run(
        &[
            "test-connection",
            "--api-url",
            &url,
            "--auth-mode",
            "sandbox",
            "--sandbox-token",
            SANDBOX_TOKEN,
        ],
        &[],
    );
    assert_exit(&output, 3);
    assert_eq!(
        stdout(&output).matches(": failed: ").count(),
        2,
        "{}",
        stdout(&output)
    );
}

#[test]
fn help_shows_examples_and_no_secret_from_the_environment() {
    let server = Server::start();
    for command in ["sync", "test-connection", "init"] {
        let output = server.sandbox(&[command, "--help"]);
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("Examples:"), "{}", stdout(&output));
        assert!(
            stdout(&output).contains("SNOWPLOW_SANDBOX_TOKEN"),
            "{}",
            stdout(&output)
        );
    }
}
