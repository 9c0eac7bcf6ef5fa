//! `sync`: the SDK 0.4.10 requests, the older calls where those are refused, both auth modes, dry
//! runs and the table names each warehouse stores.

use serde_json::{Value, json};

use super::*;

// ---- sync ------------------------------------------------------------------------------------

/// The JSON body of request `index` in the log.
fn body(server: &Server, index: usize) -> Value {
    serde_json::from_str(server.requests()[index]["body"].as_str().unwrap()).unwrap()
}

/// Every path at which `value` holds a `null`.
fn nulls(value: &Value, at: &str) -> Vec<String> {
    match value {
        Value::Null => vec![at.to_string()],
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| nulls(v, &format!("{at}.{k}")))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| nulls(v, &format!("{at}[{i}]")))
            .collect(),
        _ => Vec::new(),
    }
}

/// `value` with the null members of its objects removed, at any depth.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

#[test]
fn sync_writes_the_group_back_as_the_sdk_does() {
    let server = Server::start();
    let project = project();
    let output = server.bdp(&[
        "sync",
        "--project-dir",
        dir(&project),
        "--owner",
        "data@example.com",
    ]);
    assert_exit(&output, 0);
    let requests = server.requests();
    let version_path = format!("/api/v1/registry/attribute_groups/{GROUP}/versions/1");
    assert_eq!(
        server.calls(),
        [
            format!("GET /api/msc/v1/organizations/{ORG_ID}/credentials/v3/token"),
            format!("GET {version_path}"),
            "POST /api/v1/registry/attribute_groups/".to_string(),
            format!("PUT {version_path}"),
        ]
    );
    // the version exists, so the POST answers 400 and the same body is PUT to it
    let statuses: Vec<&Value> = requests.iter().map(|r| &r["status"]).collect();
    assert_eq!(statuses, [200, 200, 400, 200]);
    // one token for every call: cached, not expired
    let jwt: Value = serde_json::from_str(requests[0]["answer"].as_str().unwrap()).unwrap();
    let bearer = format!("Bearer {}", jwt["accessToken"].as_str().unwrap());
    for request in &requests[1..] {
        assert_eq!(header(request, "authorization"), Some(bearer.as_str()));
        assert_eq!(
            header(request, "content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(request["query"], "");
    }
    assert_eq!(requests[1]["body"], "");
    assert_eq!(requests[2]["body"], requests[3]["body"]);

    // the whole group as read: every input field kept, the derived ones and nulls left out
    let sent = body(&server, 2);
    let read = object_form(fixture("snowflake"));
    let keys: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "version",
            "attribute_key",
            "batch_source",
            "online",
            "offline",
            "fields",
            "attributes",
            "is_published"
        ]
    );
    assert_eq!(nulls(&sent, ""), Vec::<String>::new());
    assert_eq!(sent["name"], GROUP);
    assert_eq!(sent["version"], 1);
    assert_eq!(sent["attribute_key"], json!({"name": "user"}));
    assert_eq!(sent["offline"], true);
    assert_eq!(sent["fields"], without_nulls(&read["fields"]));
    // every attribute as read, its null members left out (the SDK's exclude_none)
    assert_eq!(sent["attributes"], without_nulls(&read["attributes"]));
    let attributes = sent["attributes"].as_array().unwrap();
    assert_eq!(attributes.len(), 21);
    assert!(
        attributes.iter().any(|a| a["property"]["type"] == "entity"),
        "{sent}"
    );
    assert_eq!(sent["is_published"], true);
    assert_eq!(
        sent["batch_source"],
        json!({
            "name": TABLE,
            "timestamp_field": "updated_at",
            "description": format!("sigbatch attributes of `{GROUP}` v1 (exact mode)"),
            "owner": "data@example.com",
            "database": "warehouse",
            "schema": "main_derived",
            "table": TABLE,
        })
    );
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "published attribute group `{GROUP}` v1 with its batch source by `PUT {version_path}` \
             (the POST answered 400: the version exists)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("table warehouse.main_derived.{TABLE}")),
        "{text}"
    );
    let left_out = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("left out fields the API derives (the SDK sends none of them): ")
        })
        .unwrap_or_else(|| panic!("{text}"));
    let mut left_out: Vec<&str> = left_out.split(", ").collect();
    left_out.sort();
    assert_eq!(
        left_out,
        [
            "attribute_group_or_attribute_key_ttl",
            "attribute_key.blobl_path",
            "attribute_key_or_name",
            "feast_name",
            "full_name",
            "stream_source_name"
        ]
    );
    // what Signals holds now: the listing shows the new source
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "snowflake",
        "--project-dir",
        server.home.path().join("all").to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let listing: Value = serde_json::from_str(
        server.requests().last().unwrap()["answer"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listing[0]["batch_source"]["table"], TABLE);

    // again, with no owner given and none in the group: the source has none
    let before = server.requests().len();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    assert_eq!(server.requests().len(), before + 3, "{:?}", server.calls());
    let put = body(&server, before + 2);
    assert_eq!(put["batch_source"].get("owner"), None, "{put}");
    assert_eq!(put["is_published"], true);
}

#[test]
fn sync_reports_a_created_version_and_sends_no_put() {
    let server = Server::start();
    // a POST that creates: the stand-in is told to answer it 201
    server.configure(
        json!({"fail": [{"method": "POST", "path_prefix": "/api/v1/registry/",
        "status": 201, "body": {"name": GROUP, "version": 1}}]}),
    );
    let project = project();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    assert_eq!(
        server.calls(),
        [
            format!("GET /api/v1/registry/attribute_groups/{GROUP}/versions/1"),
            "POST /api/v1/registry/attribute_groups/".to_string(),
        ]
    );
    assert!(
        stdout(&output).contains("by `POST /api/v1/registry/attribute_groups/` (a new version)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn sync_falls_back_to_the_older_calls_where_the_new_ones_are_refused() {
    let project = project();
    let legacy = [
        format!("PUT /api/v1/registry/attribute_groups/{GROUP}/versions/1/batch_source"),
        "POST /api/v1/engines/publish".to_string(),
    ];
    for status in [404, 405] {
        let server = Server::start();
        server.configure(json!({"refuse_new": status}));
        let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
        assert_exit(&output, 0);
        let get = format!("GET /api/v1/registry/attribute_groups/{GROUP}/versions/1");
        assert_eq!(server.calls(), [&[get.clone()][..], &legacy[..]].concat());
        assert_eq!(server.requests()[0]["status"], status);
        let text = stdout(&output);
        assert!(
            text.contains(&format!("`{get}` answered {status}"))
                && text.contains("trying the older batch_source and engines/publish calls"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "published attribute group `{GROUP}` v1 (by the older"
            )),
            "{text}"
        );
        // the sub-resource keeps its own shape: the schema under `wh_schema`
        assert_eq!(
            body(&server, 1),
            json!({
                "database": "warehouse",
                "wh_schema": "main_derived",
                "table": TABLE,
                "name": TABLE,
                "timestamp_field": "updated_at",
                "description": format!("sigbatch attributes of `{GROUP}` v1 (exact mode)"),
            })
        );
        assert_eq!(
            body(&server, 2),
            json!({"attribute_groups": [{"name": GROUP, "version": 1}]})
        );
        // publishing again changes nothing
        let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
        assert_exit(&output, 0);
        assert!(
            stdout(&output).contains("nothing to publish"),
            "{}",
            stdout(&output)
        );
    }

    // a read that works but a POST refused: nothing was written, so the older calls run
    let server = Server::start();
    server.configure(
        json!({"fail": [{"method": "POST", "path_prefix": "/api/v1/registry/",
        "status": 405, "body": {"detail": "Method Not Allowed"}}]}),
    );
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    assert_eq!(
        server.calls()[1..],
        [
            &["POST /api/v1/registry/attribute_groups/".to_string()][..],
            &legacy[..]
        ]
        .concat()
    );

    // and a failed registration is not published
    let server = Server::start();
    server.configure(
        json!({"refuse_new": 405, "fail": [{"method": "POST", "path_prefix": "/api/v1/engines",
        "status": 502, "body": "<html>bad gateway</html>"}]}),
    );
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 3);
    assert!(
        stdout(&output).contains("registered the batch source"),
        "{}",
        stdout(&output)
    );
    assert_stderr_has(&output, &["answered 502: <html>bad gateway</html>"]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn sync_in_sandbox_mode_sends_the_token_as_it_is() {
    let server = Server::start();
    let project = project();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{:?}", server.calls());
    for request in &requests {
        assert_eq!(
            header(request, "authorization"),
            Some(format!("Bearer {SANDBOX_TOKEN}").as_str())
        );
    }
}

#[test]
fn an_expired_token_is_fetched_again() {
    let server = Server::start();
    // the token lives 7 s; the read takes 3 s, so at the POST it is within the 5 s leeway
    server.configure(json!({"token_ttl": 7, "delay": [{"method": "GET", "path_prefix": "/api/v1/", "seconds": 3}]}));
    let project = project();
    let output = server.bdp(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    let calls = server.calls();
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert!(
        calls[0].ends_with("/credentials/v3/token") && calls[2].ends_with("/credentials/v3/token"),
        "{calls:?}"
    );
    let requests = server.requests();
    let jwt = |i: usize| {
        let answer: Value = serde_json::from_str(requests[i]["answer"].as_str().unwrap()).unwrap();
        answer["accessToken"].as_str().unwrap().to_string()
    };
    let (first, second) = (jwt(0), jwt(2));
    assert_ne!(first, second);
    assert!(jwt_claims(&second)["exp"].as_i64() >= jwt_claims(&first)["exp"].as_i64());
    assert_eq!(
        header(&requests[1], "authorization"),
        Some(format!("Bearer {first}").as_str())
    );
    for later in &requests[3..] {
        assert_eq!(
            header(later, "authorization"),
            Some(format!("Bearer {second}").as_str())
        );
    }
}

#[test]
fn sync_dry_run_prints_the_requests_and_sends_nothing() {
    let server = Server::start();
    let project = project();
    // no credentials needed to print what would be sent; the API key is set to check it is not shown
    let output = server.run(
        &["sync", "--project-dir", dir(&project), "--dry-run"],
        &[
            ("SNOWPLOW_API_URL", &format!("{}/", server.url())),
            ("SNOWPLOW_API_KEY", API_KEY),
        ],
    );
    assert_exit(&output, 0);
    assert!(server.requests().is_empty(), "{:?}", server.calls());
    let text = stdout(&output);
    let url = server.url();
    let groups = format!("{url}/api/v1/registry/attribute_groups/");
    let lines = [
        format!("GET {groups}{GROUP}/versions/1\n"),
        format!("POST {groups}\n"),
        format!("PUT {groups}{GROUP}/versions/1\n"),
        format!("PUT {groups}{GROUP}/versions/1/batch_source\n"),
        format!("POST {url}/api/v1/engines/publish\n"),
    ];
    let mut at = 0;
    for line in &lines {
        let found = text[at..].find(line.as_str());
        assert!(found.is_some(), "`{line}` missing or out of order:\n{text}");
        at += found.unwrap() + line.len();
    }
    assert!(text.contains("only if the POST answers 400"), "{text}");
    assert!(
        text.contains("only if one of those answers 404 or 405"),
        "{text}"
    );
    assert_eq!(
        text.matches("Authorization: Bearer <redacted>").count(),
        5,
        "{text}"
    );
    assert_eq!(text.matches("\"is_published\": true").count(), 2, "{text}");
    assert_eq!(
        text.matches("\"schema\": \"main_derived\"").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("\"wh_schema\": \"main_derived\"").count(),
        1,
        "{text}"
    );
}

/// The batch source of the last group written (POST, then PUT: the same body).
fn last_source(server: &Server) -> Value {
    let requests = server.requests();
    let put = requests.last().unwrap();
    assert_eq!(put["method"], "PUT", "{:?}", server.calls());
    let body: Value = serde_json::from_str(put["body"].as_str().unwrap()).unwrap();
    body["batch_source"].clone()
}

#[test]
fn sync_names_the_table_as_each_warehouse_stores_it() {
    let server = Server::start();
    let project = project();
    std::fs::write(
        project.path().join("profiles.yml"),
        "test:\n  target: prod\n  outputs:\n    prod:\n      type: snowflake\n      account: xy12345\n      \
         user: LOADER\n      password: pw\n      database: analytics\n      schema: signals\n",
    )
    .unwrap();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    let put = last_source(&server);
    assert_eq!(put["database"], "ANALYTICS");
    assert_eq!(put["schema"], "SIGNALS_DERIVED");
    assert_eq!(put["table"], TABLE.to_uppercase());
    assert_eq!(put["timestamp_field"], "UPDATED_AT");

    // BigQuery: the GCP project is the database, the dataset the schema
    std::fs::write(
        project.path().join("profiles.yml"),
        "test:\n  target: prod\n  outputs:\n    prod:\n      type: bigquery\n      method: oauth\n      \
         project: acme-analytics\n      dataset: signals\n",
    )
    .unwrap();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    let put = last_source(&server);
    assert_eq!(put["database"], "acme-analytics");
    assert_eq!(put["schema"], "signals_derived");
    assert_eq!(put["table"], TABLE);
    assert_eq!(put["timestamp_field"], "updated_at");

    // Databricks: the catalog is the database, and one is needed
    let databricks = "test:\n  target: prod\n  outputs:\n    prod:\n      type: databricks\n      \
         host: dbc-1.cloud.databricks.com\n      http_path: /sql/1.0/warehouses/abc\n      token: t\n      \
         schema: signals\n";
    std::fs::write(project.path().join("profiles.yml"), databricks).unwrap();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["hint: set `catalog:`"]);
    assert_eq!(server.requests().len(), 6, "{:?}", server.calls());
    std::fs::write(
        project.path().join("profiles.yml"),
        format!("{databricks}      catalog: main\n"),
    )
    .unwrap();
    let output = server.sandbox(&["sync", "--project-dir", dir(&project)]);
    assert_exit(&output, 0);
    let put = last_source(&server);
    assert_eq!(put["database"], "main");
    assert_eq!(put["schema"], "signals_derived");
    assert_eq!(put["table"], TABLE);
}
