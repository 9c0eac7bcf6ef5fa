//! `init --from-api`, `sync` and `test-connection`: the real binary against a stand-in Signals
//! API and Console (tests/standins/signals/serve.py, Python standard library, started by
//! `common::standin::StandIn`) on a free loopback port, which records every request it gets. Checked: the exact requests (method, path, query,
//! headers, body), the JWT cached until it expires and fetched again after, bdp and sandbox
//! modes, `sync` as the SDK 0.4.10 publishes a group (read, POST, PUT on 400) and the older
//! calls where those are refused, `init` reading a named group by name, every error path with
//! its exit code, that a failed call is followed by no write, that `--dry-run` sends nothing,
//! and that no secret is ever printed.

mod common;

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

#[path = "signals/connection.rs"]
mod connection;
#[path = "signals/init.rs"]
mod init;
#[path = "signals/sync.rs"]
mod sync;
#[path = "signals/sync_errors.rs"]
mod sync_errors;
