//! A deployment of several projects over one DuckDB events file, for the workspace tests
//! (`tests/workspace.rs`, `tests/workspace_shared.rs`): projects, the workspace file, the
//! binary run in the deployment, and every table a project made, read back to compare.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::Rows;
use serde_json::Value;

pub const NOW: &str = "2025-04-01 00:00:00";
pub const VARS: &str = "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 3\n  \
                    snowplow__mock_current_day: '2025-03-12'\n";

/// The demo group, renamed and keyed by `key`, with its first `attributes` attributes (all when
/// `None`).
pub fn group_json(name: &str, key: &str, attributes: Option<usize>) -> String {
    let mut group: Value = serde_json::from_str(sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON).unwrap();
    group["name"] = name.into();
    group["attribute_key_or_name"] = key.into();
    group["attribute_key"]["name"] = key.into();
    if let Some(count) = attributes {
        group["attributes"].as_array_mut().unwrap().truncate(count);
    }
    serde_json::to_string_pretty(&group).unwrap()
}

/// A deployment's directory: `events.duckdb`, one shared DuckDB file holding the demo's events,
/// and project directories beside it.
pub struct Deployment {
    pub dir: tempfile::TempDir,
}

impl Deployment {
    /// The events of a small seeded demo stream (late loads, duplicates), the same every time.
    pub fn new() -> Deployment {
        let deployment = Deployment {
            dir: tempfile::tempdir().unwrap(),
        };
        let spec = sigbatch::demo::DemoSpec {
            users: 120,
            days: 8,
            start: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            seed: 11,
        };
        sigbatch::demo::generate_events(&deployment.connection("events.duckdb"), &spec).unwrap();
        deployment
    }

    /// The three groups of different keys, over the shared events: the demo's own (every
    /// aggregation, by `domain_userid`), sessions and customers (a few attributes each).
    pub fn with_three_groups() -> Deployment {
        let deployment = Deployment::new();
        deployment.project("users", &group_json("demo_users", "domain_userid", None));
        deployment.project(
            "sessions",
            &group_json("demo_sessions", "domain_sessionid", Some(8)),
        );
        deployment.project(
            "customers",
            &group_json("demo_customers", "user_id", Some(12)),
        );
        deployment
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn connection(&self, database: &str) -> duckdb::Connection {
        duckdb::Connection::open(self.path().join(database)).unwrap()
    }

    /// An exact-mode project in `dir` over the shared events.
    pub fn project(&self, dir: &str, group: &str) -> PathBuf {
        self.project_on(dir, group, "exact", VARS, "events.duckdb")
    }

    /// A project in `dir` whose target is the DuckDB file `database` of the deployment.
    pub fn project_on(
        &self,
        dir: &str,
        group: &str,
        semantics: &str,
        vars: &str,
        database: &str,
    ) -> PathBuf {
        let project = self.path().join(dir);
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("attribute_group.json"), group).unwrap();
        std::fs::write(
            project.join("sigbatch.yml"),
            format!(
                "attribute_group: attribute_group.json\nsemantics: {semantics}\nprofile: test\nvars:\n{vars}"
            ),
        )
        .unwrap();
        std::fs::write(
            project.join("profiles.yml"),
            format!(
                "test:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {}\n",
                self.path().join(database).display()
            ),
        )
        .unwrap();
        project
    }

    /// The upstream fixture's group in compat mode, on a DuckDB file of its own.
    pub fn compat_fixture(&self, dir: &str) {
        let group =
            std::fs::read_to_string(super::fixture_dir().join("attribute_group.snowflake.json"))
                .unwrap();
        super::stage_fixture_events(&self.connection("fixture.duckdb"));
        self.project_on(dir, &group, "compat", super::FIXTURE_VARS, "fixture.duckdb");
    }

    pub fn workspace_file(&self, text: &str) {
        std::fs::write(self.path().join("sigbatch_workspace.yml"), text).unwrap();
    }

    /// The binary, run in the deployment's directory.
    pub fn sigbatch(&self, args: &[&str]) -> Output {
        self.sigbatch_at(NOW, args)
    }

    /// The binary, run in the deployment's directory with `now` as its "now".
    pub fn sigbatch_at(&self, now: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sigbatch"))
            .args(args)
            .current_dir(self.path())
            .env("SIGBATCH_NOW", now)
            .env_remove("SIGBATCH_LOG_FORMAT")
            .output()
            .unwrap()
    }

    /// The workspace's run_results.json, held to `$defs/workspace_run` of the schema.
    pub fn workspace_results(&self) -> Value {
        let text = std::fs::read_to_string(self.path().join("target/run_results.json")).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/run_results.schema.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let violations = super::schema::violations_at(&schema, "/$defs/workspace_run", &value);
        assert!(violations.is_empty(), "{violations:#?}\n{text}");
        value
    }

    /// Every table sigbatch made in `database` for project `name`, each as its sorted rows of
    /// text (`updated_at` left out: it is the time of the run).
    pub fn tables_of(&self, database: &str, name: &str) -> Vec<(String, Rows)> {
        let connection = self.connection(database);
        let mut statement = connection
            .prepare(
                "SELECT table_schema, table_name FROM information_schema.tables \
                 WHERE table_name LIKE ? || '\\_%' ESCAPE '\\' ORDER BY ALL",
            )
            .unwrap();
        let names: Vec<(String, String)> = statement
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            names.len() > 5,
            "{name} has too few tables in {database}: {names:?}"
        );
        names
            .into_iter()
            .map(|(schema, table)| {
                let relation = format!("\"{schema}\".\"{table}\"");
                let columns = super::rows(&connection, &format!("SELECT * FROM {relation}")).0;
                let kept: Vec<String> = columns
                    .iter()
                    .filter(|c| *c != "updated_at")
                    .map(|c| format!("\"{c}\""))
                    .collect();
                let sql = format!("SELECT {} FROM {relation}", kept.join(", "));
                let mut rows = super::rows(&connection, &sql).1;
                rows.sort();
                (relation, rows)
            })
            .collect()
    }
}

/// The same tables with the same rows, or the first table and row that differ.
#[track_caller]
pub fn assert_same_tables(actual: Vec<(String, Rows)>, expected: Vec<(String, Rows)>) {
    let names = |tables: &[(String, Rows)]| tables.iter().map(|t| t.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&actual), names(&expected));
    for ((table, rows), (_, wanted)) in actual.iter().zip(&expected) {
        assert_eq!(rows.len(), wanted.len(), "{table}: row count");
        if let Some((row, want)) = rows.iter().zip(wanted).find(|(a, b)| a != b) {
            panic!("{table} differs:\n workspace {row:?}\n separate  {want:?}");
        }
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
}
