//! `sync`'s failures: refused credentials, an unknown group, invalid names and server errors,
//! each with its exit code, and no write or publish after a failed call.

use std::process::Output;

use serde_json::json;

use super::*;

/// Runs a failing sync and checks: exit code, stderr's `needles`, a hint, and the calls made.
#[track_caller]
fn assert_sync_fails(server: &Server, output: Output, code: i32, needles: &[&str], calls: &[&str]) {
    assert_exit(&output, code);
    let text = stderr(&output);
    for needle in needles {
        assert!(
            text.contains(needle),
            "stderr should mention {needle:?}:\n{text}"
        );
    }
    assert!(text.contains("\nhint: "), "{text}");
    let made: Vec<String> = server
        .calls()
        .iter()
        .map(|c| c.split(' ').next().unwrap().to_string() + " " + c.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(made, calls, "{:?}", server.calls());
}

#[test]
fn sync_bad_credentials_are_user_errors_and_nothing_is_registered() {
    let project = project();
    let p = dir(&project);
    let server = Server::start();
    server.configure(json!({"api_key": "another-key"}));
    let output = server.bdp(&["sync", "--project-dir", p]);
    assert_sync_fails(
        &server,
        output,
        2,
        &[
            "snowplow console",
            "401",
            "Invalid API key",
            "SNOWPLOW_API_KEY",
        ],
        &["GET token"],
    );

    let server = Server::start();
    server.configure(json!({"org_id": "another-org"}));
    let output = server.bdp(&["sync", "--project-dir", p]);
    assert_sync_fails(
        &server,
        output,
        2,
        &["403", "no access to this organization"],
        &["GET token"],
    );

    let server = Server::start();
    server.configure(json!({"sandbox_token": "another-token"}));
    let output = server.sandbox(&["sync", "--project-dir", p]);
    assert_sync_fails(
        &server,
        output,
        2,
        &[
            "signals api",
            "401",
            "Could not validate credentials",
            "SNOWPLOW_SANDBOX_TOKEN",
        ],
        &["GET 1"],
    );

    // missing pieces are named before anything is sent
    let server = Server::start();
    let output = server.run(
        &["sync", "--project-dir", p],
        &[
            ("SNOWPLOW_API_URL", &server.url()),
            ("SNOWPLOW_API_KEY", API_KEY),
        ],
    );
    assert_sync_fails(
        &server,
        output,
        2,
        &[
            "bdp mode needs its id",
            "SNOWPLOW_API_KEY_ID",
            "SNOWPLOW_ORG_ID",
        ],
        &[],
    );
    let output = server.run(
        &["sync", "--project-dir", p, "--auth-mode", "sandbox"],
        &[("SNOWPLOW_API_URL", &server.url())],
    );
    assert_sync_fails(&server, output, 2, &["sandbox token"], &[]);
    let output = server.run(&["sync", "--project-dir", p], &[]);
    assert_sync_fails(&server, output, 2, &["no API URL", "SNOWPLOW_API_URL"], &[]);
}

#[test]
fn sync_unknown_group_and_invalid_names_are_user_errors_without_a_publish() {
    let server = Server::start();
    let mut group = fixture("snowflake");
    group["name"] = json!("unknown_group");
    let unknown = TempProject::new("exact", &group.to_string(), FIXTURE_VARS);
    let output = server.bdp(&["sync", "--project-dir", dir(&unknown)]);
    // the read answers 404: an older API or no such group; the older call says which
    assert_sync_fails(
        &server,
        output,
        2,
        &[
            "404",
            "Attribute group unknown_group version 1 not found",
            "has no attribute group `unknown_group` v1",
        ],
        &["GET token", "GET 1", "PUT batch_source"],
    );

    // a DuckDB file whose stem is not a valid database name, and an empty owner: 422, no PUT
    let server = Server::start();
    let project = project();
    std::fs::write(
        project.path().join("profiles.yml"),
        "test:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: my.trial.duckdb\n",
    )
    .unwrap();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project), "--owner", ""]);
    assert_sync_fails(
        &server,
        output,
        2,
        &[
            "422",
            "`body.batch_source.database`: String should match pattern '^[A-Za-z0-9_-]+$'",
            "`body.batch_source.owner`: String should have at least 1 character",
        ],
        &["GET 1", "POST "],
    );
}

#[test]
fn sync_server_failures_exit_3_and_nothing_more_is_sent() {
    let project = project();
    let server = Server::start();
    server.configure(json!({"fail": [{"method": "PUT", "path_prefix": "/api/v1/", "status": 500, "body": {"detail": "database is down"}}]}));
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_sync_fails(
        &server,
        output,
        3,
        &["answered 500: database is down", "retry later"],
        &["GET 1", "POST ", "PUT 1"],
    );

    // a read that fails is not followed by a write
    let server = Server::start();
    server.configure(json!({"fail": [{"method": "GET", "path_prefix": "/api/v1/", "status": 503, "body": {"detail": "registry unavailable"}}]}));
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_sync_fails(
        &server,
        output,
        3,
        &["answered 503: registry unavailable"],
        &["GET 1"],
    );

    // nothing listening
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = server.run(
        &["sync", "--project-dir", dir(&project)],
        &[
            ("SNOWPLOW_API_URL", &url),
            ("SNOWPLOW_AUTH_MODE", "sandbox"),
            ("SNOWPLOW_SANDBOX_TOKEN", SANDBOX_TOKEN),
        ],
    );
    assert_exit(&output, 3);
    assert_stderr_has(
        &output,
        &[
            "`GET /api/v1/registry/attribute_groups/",
            "hint: check that --api-url",
        ],
    );
}
