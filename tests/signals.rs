//! `init --from-api`, `sync` and `test-connection`: the real binary against a stand-in Signals
//! API and Console (tests/standins/signals/serve.py, Python standard library, started by
//! `common::standin::StandIn`) on a free loopback port, which records every request it gets. Checked: the exact requests (method, path, query,
//! headers, body), the JWT cached until it expires and fetched again after, bdp and sandbox
//! modes, `sync` as the SDK 0.4.10 publishes a group (read, POST, PUT on 400) and the older
//! calls where those are refused, `init` reading a named group by name, every error path with
//! its exit code, that a failed call is followed by no write, that `--dry-run` sends nothing,
//! and that no secret is ever printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use serde_json::{Value, json};

use common::standin::StandIn;
use common::{FIXTURE_VARS, TempProject, fixture_dir};

const GROUP: &str = "ecommerce_transaction_interactions_features";
const API_KEY: &str = "sk-live-4c1d2e9f-secret-key";
const API_KEY_ID: &str = "key-id-8d7c";
const ORG_ID: &str = "org-5a6b";
const SANDBOX_TOKEN: &str = "sbx-77b9-secret-token";

fn fixture(syntax: &str) -> Value {
    let text =
        std::fs::read_to_string(fixture_dir().join(format!("attribute_group.{syntax}.json")))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A property of the fixture (Snowflake syntax) in the API's own object form.
fn property_object(text: &str) -> Value {
    let entity = |vendor: &str, name: &str, path: &str| {
        json!({"type": "entity", "vendor": vendor, "name": name, "major_version": 1,
            "path": path, "index": 0})
    };
    match text {
        "contexts_nl_basjes_yauaa_context_1[0]:deviceClass" => {
            entity("nl.basjes", "yauaa_context", "deviceClass")
        }
        "contexts_nl_basjes_yauaa_context_1[0]:operatingSystemName" => {
            entity("nl.basjes", "yauaa_context", "operatingSystemName")
        }
        "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1[0]:revenue" => entity(
            "com.snowplowanalytics.snowplow.ecommerce",
            "transaction",
            "revenue",
        ),
        atomic => {
            assert!(!atomic.contains(':'), "map {atomic} to its object form");
            json!({"type": "atomic", "name": atomic})
        }
    }
}

/// The fixture group as a read without `property_syntax` gives it: properties as objects.
fn object_form(mut group: Value) -> Value {
    for attribute in group["attributes"].as_array_mut().unwrap() {
        if let Some(text) = attribute["property"].as_str() {
            attribute["property"] = property_object(text);
        }
        for part in ["all", "any"] {
            if let Some(criteria) = attribute["criteria"][part].as_array_mut() {
                for criterion in criteria {
                    let text = criterion["property"].as_str().unwrap().to_string();
                    criterion["property"] = property_object(&text);
                }
            }
        }
    }
    group
}

/// The fixture group at versions 1 and 2 in each syntax and in object form, and an external
/// batch source group.
fn default_groups() -> Value {
    let mut groups = serde_json::Map::new();
    let external = json!({"name": "crm_accounts", "version": 1, "attributes": [],
        "fields": [{"name": "plan", "type": "string"}], "batch_source": null});
    let versions = |v1: Value| {
        let mut v2 = v1.clone();
        v2["version"] = json!(2);
        v2["feast_name"] = json!(format!("{GROUP}_v2"));
        json!([v1, external, v2])
    };
    for syntax in ["snowflake", "bigquery", "databricks"] {
        groups.insert(syntax.into(), versions(fixture(syntax)));
    }
    groups.insert(
        "objects".into(),
        versions(object_form(fixture("snowflake"))),
    );
    Value::Object(groups)
}

struct Server {
    port: u16,
    /// HOME of the binary: no ~/.dbt/profiles.yml unless a test puts one there.
    home: tempfile::TempDir,
    /// Its state directory (groups.json, config.json, requests.jsonl) is the stand-in's own.
    standin: StandIn,
}

impl Server {
    fn start() -> Server {
        Server::with_groups(default_groups())
    }

    fn with_groups(groups: Value) -> Server {
        let state = tempfile::tempdir().unwrap();
        std::fs::write(state.path().join("groups.json"), groups.to_string()).unwrap();
        let server = Server::configured(state);
        server.configure(json!({}));
        server
    }

    fn configured(state: tempfile::TempDir) -> Server {
        let standin = StandIn::start_in(state, "signals", "python3", &[]);
        Server {
            port: standin.port,
            home: tempfile::tempdir().unwrap(),
            standin,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Credentials and limits the server checks, over its defaults (see server.py).
    fn configure(&self, extra: Value) {
        let mut config = json!({"api_key": API_KEY, "api_key_id": API_KEY_ID, "org_id": ORG_ID,
            "sandbox_token": SANDBOX_TOKEN});
        for (key, value) in extra.as_object().unwrap() {
            config[key] = value.clone();
        }
        std::fs::write(self.standin.dir().join("config.json"), config.to_string()).unwrap();
    }

    fn requests(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.standin.dir().join("requests.jsonl")) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// `METHOD path` of every request, in order.
    fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Every secret a command could leak: the API key, the sandbox token and each JWT issued.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![API_KEY.to_string(), SANDBOX_TOKEN.to_string()];
        for request in self.requests() {
            let answer: Value =
                serde_json::from_str(request["answer"].as_str().unwrap()).unwrap_or(Value::Null);
            if let Some(jwt) = answer["accessToken"].as_str() {
                secrets.push(jwt.to_string());
            }
        }
        secrets
    }

    /// Runs the binary with bdp credentials in the environment (Console on this server).
    fn bdp(&self, args: &[&str]) -> Output {
        self.run(
            args,
            &[
                ("SNOWPLOW_API_URL", &self.url()),
                ("SNOWPLOW_CONSOLE_URL", &self.url()),
                ("SNOWPLOW_API_KEY", API_KEY),
                ("SNOWPLOW_API_KEY_ID", API_KEY_ID),
                ("SNOWPLOW_ORG_ID", ORG_ID),
            ],
        )
    }

    fn sandbox(&self, args: &[&str]) -> Output {
        self.run(
            args,
            &[
                ("SNOWPLOW_API_URL", &self.url()),
                ("SNOWPLOW_AUTH_MODE", "sandbox"),
                ("SNOWPLOW_SANDBOX_TOKEN", SANDBOX_TOKEN),
            ],
        )
    }

    /// Runs the binary with only `env` of the Snowplow variables, then checks that no secret
    /// appears in its output.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
        command.args(args).env("HOME", self.home.path());
        for name in [
            "SNOWPLOW_API_URL",
            "SNOWPLOW_CONSOLE_URL",
            "SNOWPLOW_AUTH_MODE",
            "SNOWPLOW_API_KEY",
            "SNOWPLOW_API_KEY_ID",
            "SNOWPLOW_ORG_ID",
            "SNOWPLOW_SANDBOX_TOKEN",
            "SIGBATCH_PROFILES_DIR",
        ] {
            command.env_remove(name);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let text = format!("{}{}", stdout(&output), stderr(&output));
        for secret in self.secrets() {
            assert!(!text.contains(&secret), "a secret was printed:\n{text}");
        }
        output
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every one of `parts` is in the command's stderr.
#[track_caller]
fn assert_stderr_has(output: &Output, parts: &[&str]) {
    let text = stderr(output);
    for part in parts {
        assert!(text.contains(part), "stderr lacks `{part}`:\n{text}");
    }
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"][name].as_str()
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A project over the fixture group (snowflake syntax) on DuckDB `warehouse.duckdb`.
fn project() -> TempProject {
    TempProject::new("exact", &fixture("snowflake").to_string(), FIXTURE_VARS)
}

fn dir(project: &TempProject) -> &str {
    project.path().to_str().unwrap()
}

const TABLE: &str = "ecommerce_transaction_interactions_features_1_attributes";

// ---- init --from-api -------------------------------------------------------------------------

#[test]
fn init_from_api_writes_the_named_group_in_the_target_syntax() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let project_dir = root.path().join("p");
    let p = project_dir.to_str().unwrap();
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "bigquery",
        "--attribute-group-name",
        GROUP,
        "--project-dir",
        p,
    ]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(&format!("attribute group `{GROUP}` v2")),
        "{}",
        stdout(&output)
    );

    // the named group is read by name (the highest version), not picked from the listing
    let requests = server.requests();
    assert_eq!(
        server.calls(),
        [
            format!("GET /api/msc/v1/organizations/{ORG_ID}/credentials/v3/token"),
            format!("GET /api/v1/registry/attribute_groups/{GROUP}"),
        ]
    );
    let token = &requests[0];
    assert_eq!(header(token, "x-api-key-id"), Some(API_KEY_ID));
    assert_eq!(header(token, "x-api-key"), Some(API_KEY));
    assert_eq!(header(token, "authorization"), None);
    let jwt: Value = serde_json::from_str(token["answer"].as_str().unwrap()).unwrap();
    let jwt = jwt["accessToken"].as_str().unwrap();
    let read = &requests[1];
    assert_eq!(read["query"], "property_syntax=bigquery");
    assert_eq!(read["status"], 200);
    assert_eq!(
        header(read, "authorization"),
        Some(format!("Bearer {jwt}").as_str())
    );
    assert_eq!(
        header(read, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(read["body"], "");

    // the group as the API gave it (the highest version), unknown keys kept
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(project_dir.join("attribute_group.json")).unwrap(),
    )
    .unwrap();
    let mut expected = fixture("bigquery");
    expected["version"] = json!(2);
    expected["feast_name"] = json!(format!("{GROUP}_v2"));
    assert_eq!(written, expected);
    let yml = std::fs::read_to_string(project_dir.join("sigbatch.yml")).unwrap();
    assert!(
        yml.contains("attribute_group: attribute_group.json") && yml.contains("semantics: exact"),
        "{yml}"
    );
    let profiles = std::fs::read_to_string(project_dir.join("profiles.yml")).unwrap();
    assert!(
        profiles.contains("type: duckdb") && profiles.contains("path: warehouse.duckdb"),
        "{profiles}"
    );
    // the project it made loads and plans
    let validate = server.run(&["validate", "--project-dir", p], &[]);
    assert_exit(&validate, 0);

    // a chosen version
    let other = root.path().join("v1");
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "snowflake",
        "--attribute-group-name",
        GROUP,
        "--attribute-group-version",
        "1",
        "--project-dir",
        other.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(other.join("attribute_group.json")).unwrap())
            .unwrap();
    assert_eq!(written, fixture("snowflake"));
    let read = server.requests().pop().unwrap();
    assert_eq!(
        read["path"],
        format!("/api/v1/registry/attribute_groups/{GROUP}/versions/1")
    );
    assert_eq!(read["query"], "property_syntax=snowflake");
}

#[test]
fn init_from_api_falls_back_to_the_listing_where_a_group_cannot_be_read_by_name() {
    for status in [404, 405] {
        let server = Server::start();
        server.configure(json!({"refuse_new": status}));
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("p");
        let output = server.sandbox(&[
            "init",
            "--from-api",
            "--target-type",
            "databricks",
            "--attribute-group-name",
            GROUP,
            "--attribute-group-version",
            "1",
            "--project-dir",
            p.to_str().unwrap(),
        ]);
        assert_exit(&output, 0);
        assert_stderr_has(
            &output,
            &[&format!(
                "answered {status}: choosing from the listing instead"
            )],
        );
        let requests = server.requests();
        assert_eq!(
            server.calls(),
            [
                format!("GET /api/v1/registry/attribute_groups/{GROUP}/versions/1"),
                "GET /api/v1/registry/attribute_groups/".to_string(),
            ]
        );
        assert_eq!(requests[0]["status"], status);
        assert_eq!(
            requests[1]["query"],
            "offline=true&property_syntax=databricks"
        );
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("attribute_group.json")).unwrap())
                .unwrap();
        assert_eq!(written, fixture("databricks"));
    }
}

#[test]
fn init_from_api_makes_one_project_per_group_and_keeps_edited_files() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let args = [
        "init",
        "--from-api",
        "--target-type",
        "databricks",
        "--project-dir",
        r,
    ];
    let output = server.bdp(&args);
    assert_exit(&output, 0);
    // the external batch source group is skipped, the other at its highest version
    assert_stderr_has(&output, &["skipped `crm_accounts v1`"]);
    let project_dir = root.path().join(format!("{GROUP}_2"));
    assert!(project_dir.join("sigbatch.yml").is_file());
    let entries: Vec<PathBuf> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries, std::slice::from_ref(&project_dir));

    // again: nothing changed
    let output = server.bdp(&args);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("up to date"),
        "{}",
        stdout(&output)
    );

    // an edited file is kept, and nothing else is written either
    let yml = project_dir.join("sigbatch.yml");
    let edited = std::fs::read_to_string(&yml)
        .unwrap()
        .replace("semantics: exact", "semantics: compat");
    std::fs::write(&yml, &edited).unwrap();
    let group_file = project_dir.join("attribute_group.json");
    std::fs::remove_file(&group_file).unwrap();
    let output = server.bdp(&args);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["sigbatch.yml", "hint: pass --force"]);
    assert_eq!(std::fs::read_to_string(&yml).unwrap(), edited);
    assert!(!group_file.exists(), "a refused init wrote a file");

    // a file init wrote and nobody edited is refreshed (here: compat semantics)
    std::fs::write(
        &yml,
        std::fs::read_to_string(&yml)
            .unwrap()
            .replace("semantics: compat", "semantics: exact"),
    )
    .unwrap();
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "databricks",
        "--project-dir",
        r,
        "--semantics",
        "compat",
    ]);
    assert_exit(&output, 0);
    assert!(
        std::fs::read_to_string(&yml)
            .unwrap()
            .contains("semantics: compat")
    );
    assert!(group_file.is_file());

    // --force replaces an edited file
    std::fs::write(&yml, "# mine\n").unwrap();
    let output = server.bdp(&[&args[..], &["--force"][..]].concat());
    assert_exit(&output, 0);
    assert!(
        std::fs::read_to_string(&yml)
            .unwrap()
            .contains("semantics: exact")
    );
}

#[test]
fn init_from_api_takes_the_target_type_from_the_profile_or_asks_for_it() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("p");
    let args = [
        "init",
        "--from-api",
        "--attribute-group-name",
        GROUP,
        "--project-dir",
        p.to_str().unwrap(),
    ];
    // no profile anywhere (HOME is empty): explained, nothing sent
    let output = server.bdp(&args);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["--target-type", "hint:"]);
    assert!(server.requests().is_empty());

    // a snowflake `sigbatch` profile in ~/.dbt: its syntax, and no DuckDB profile written
    let dbt = server.home.path().join(".dbt");
    std::fs::create_dir_all(&dbt).unwrap();
    std::fs::write(
        dbt.join("profiles.yml"),
        "sigbatch:\n  target: prod\n  outputs:\n    prod:\n      type: snowflake\n      account: xy12345\n      \
         user: LOADER\n      password: pw\n      database: ANALYTICS\n      schema: SIGNALS\n",
    )
    .unwrap();
    let output = server.bdp(&args);
    assert_exit(&output, 0);
    let read = server.requests().pop().unwrap();
    assert_eq!(
        read["path"],
        format!("/api/v1/registry/attribute_groups/{GROUP}")
    );
    assert_eq!(read["query"], "property_syntax=snowflake");
    assert!(!p.join("profiles.yml").exists());
}

#[test]
fn init_from_api_errors_name_what_is_wrong() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("p");
    let p = p.to_str().unwrap();
    let init = |extra: &[&str]| {
        server.bdp(
            &[
                &[
                    "init",
                    "--from-api",
                    "--target-type",
                    "snowflake",
                    "--project-dir",
                    p,
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let output = init(&["--attribute-group-name", "nope"]);
    assert_exit(&output, 2);
    assert_stderr_has(
        &output,
        &[
            "no attribute group `nope`",
            &format!("hint: Signals has: {GROUP}"),
        ],
    );
    // the read by name answered 404; the listing says which groups there are
    assert_eq!(
        server.calls()[1..],
        [
            "GET /api/v1/registry/attribute_groups/nope".to_string(),
            "GET /api/v1/registry/attribute_groups/".to_string(),
        ]
    );
    let output = init(&[
        "--attribute-group-name",
        GROUP,
        "--attribute-group-version",
        "7",
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["has no version 7", "1, 2"]);
    let output = init(&["--attribute-group-name", "crm_accounts"]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["external batch source"]);
    assert!(!Path::new(p).join("sigbatch.yml").exists());

    let empty = Server::with_groups(json!({"snowflake": [], "bigquery": [], "databricks": []}));
    let output = empty.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "snowflake",
        "--project-dir",
        p,
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["no attribute groups available"]);
}

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
    let before = server.requests().len();
    let output = server.run(
        &[
            "test-connection",
            "--no-check-auth",
            "--api-url",
            &server.url(),
        ],
        &[],
    );
    assert_exit(&output, 3);
    assert_eq!(server.calls()[before..], ["GET /health-all".to_string()]);
    server.configure(json!({}));
    let output = server.run(
        &[
            "test-connection",
            "--no-check-auth",
            "--api-url",
            &server.url(),
        ],
        &[],
    );
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
