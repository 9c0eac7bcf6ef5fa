//! Shared test helpers: temp projects, the upstream fixture, reading tables back as text.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod collector;
pub mod deployment;
pub mod faults;
pub mod relay;
pub mod schema;
pub mod standin;

use chrono::NaiveDateTime;
use sigbatch::commands::{ProjectArgs, RunSettings};
use sigbatch::load_window::WindowSettings;

pub const FIXTURE_VARS: &str = "  snowplow__start_date: '2025-01-01'\n  snowplow__app_id: ['basic_test']\n  \
    snowplow__backfill_limit_days: 3\n  snowplow__late_event_lookback_days: 1\n  \
    snowplow__min_late_events_to_process: 1\n  snowplow__allow_refresh: false\n  \
    snowplow__mock_current_day: '2025-01-06'\n  snowplow__include_current_day_in_windows: false\n";

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream-0.4")
}

/// The fixture's events as `atomic.events` in `connection` (Snowflake's layout).
pub fn stage_fixture_events(connection: &duckdb::Connection) {
    sigbatch::stage_csv::stage_events_csv(
        connection,
        &fixture_dir().join("events.csv"),
        "atomic",
        "events",
    )
    .unwrap();
}

/// Tables sigbatch created in a project's DuckDB file (anything outside `atomic` and `main`).
pub fn built_tables(project: &TempProject) -> usize {
    if !project.database().exists() {
        return 0;
    }
    project
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema NOT IN ('atomic', 'main')",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as usize
}

/// A warehouse's query result as a table: column names in lower case, lists as `rows` prints
/// them (their sorted items joined by ", ").
pub fn text_result(columns: &[String], rows: Vec<Vec<Option<String>>>) -> (Vec<String>, Rows) {
    let columns = columns.iter().map(|c| c.to_lowercase()).collect();
    let rows = rows
        .into_iter()
        .map(|row| row.into_iter().map(|c| c.map(list_text)).collect())
        .collect();
    (columns, rows)
}

pub fn timestamp(text: &str) -> NaiveDateTime {
    sigbatch::state::parse_timestamp(text).unwrap()
}

/// A project directory with its own DuckDB file.
pub struct TempProject {
    pub dir: tempfile::TempDir,
}

impl TempProject {
    pub fn new(semantics: &str, group_json: &str, vars: &str) -> TempProject {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("attribute_group.json"), group_json).unwrap();
        std::fs::write(
            dir.path().join("sigbatch.yml"),
            format!("attribute_group: attribute_group.json\nsemantics: {semantics}\nprofile: test\nvars:\n{vars}"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("profiles.yml"),
            "test:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n    prod:\n      type: duckdb\n      path: warehouse.duckdb\n",
        )
        .unwrap();
        TempProject { dir }
    }

    /// An exact-mode project over the demo group (every aggregation) and a seeded demo stream
    /// from 2025-03-01 (late events, duplicate event ids with other contents, visitors without a
    /// cookie).
    pub fn demo(vars: &str, users: u32, days: u32, seed: u64) -> TempProject {
        let project = TempProject::new("exact", sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON, vars);
        let spec = sigbatch::demo::DemoSpec {
            users,
            days,
            start: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            seed,
        };
        sigbatch::demo::generate_events(&project.connection(), &spec).unwrap();
        project
    }

    /// The upstream fixture, staged, with the conformance vars.
    pub fn fixture(semantics: &str, syntax: &str) -> TempProject {
        let group =
            std::fs::read_to_string(fixture_dir().join(format!("attribute_group.{syntax}.json")))
                .unwrap();
        TempProject::staged(semantics, &group, FIXTURE_VARS)
    }

    /// A project over the fixture's events, with any group and vars.
    pub fn staged(semantics: &str, group_json: &str, vars: &str) -> TempProject {
        let project = TempProject::new(semantics, group_json, vars);
        stage_fixture_events(&project.connection());
        project
    }

    /// The `run_results.json` the project's last run wrote (default artifacts directory).
    pub fn run_results(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path().join("target/run_results.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("warehouse.duckdb")
    }

    pub fn args(&self) -> ProjectArgs {
        ProjectArgs {
            project_dir: self.path().to_path_buf(),
            ..Default::default()
        }
    }

    pub fn run(
        &self,
        full_refresh: bool,
        until: Option<&str>,
        now: &str,
    ) -> sigbatch::Result<String> {
        self.run_with_vars(full_refresh, until, now, None)
    }

    /// `run` with `--vars` (YAML or JSON overriding the project's vars), e.g.
    /// `{snowplow__mock_current_day: '2025-01-07'}`.
    pub fn run_with_vars(
        &self,
        full_refresh: bool,
        until: Option<&str>,
        now: &str,
        vars: Option<&str>,
    ) -> sigbatch::Result<String> {
        self.run_reporting(
            full_refresh,
            until,
            now,
            vars,
            &mut sigbatch::report::Silent,
        )
    }

    /// `run_with_vars`, its progress events going to `reporter`.
    pub fn run_reporting(
        &self,
        full_refresh: bool,
        until: Option<&str>,
        now: &str,
        vars: Option<&str>,
        reporter: &mut dyn sigbatch::report::Reporter,
    ) -> sigbatch::Result<String> {
        let settings = RunSettings {
            project: ProjectArgs {
                vars: vars.map(str::to_string),
                ..self.args()
            },
            windows: WindowSettings {
                full_refresh,
                until: until.map(timestamp),
                max_windows: None,
                now: timestamp(now),
            },
            dry_run: false,
            lock_timeout: std::time::Duration::ZERO,
            artifacts_dir: None,
            lineage: Default::default(),
        };
        let mut out = Vec::new();
        sigbatch::commands::run(&settings, &mut out, reporter)?;
        Ok(String::from_utf8(out).unwrap())
    }

    pub fn connection(&self) -> duckdb::Connection {
        duckdb::Connection::open(self.database()).unwrap()
    }
}

/// Every row of a query, each cell as text (NULL as None); lists are sorted and joined by ", ".
pub fn rows(connection: &duckdb::Connection, sql: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let described: Vec<(String, String)> = connection
        .prepare(&format!("DESCRIBE ({sql})"))
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    let (names, types): (Vec<String>, Vec<String>) = described.into_iter().unzip();
    let select: Vec<String> = names
        .iter()
        .zip(&types)
        .map(|(name, column_type)| {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            if column_type.ends_with("[]") {
                format!("array_to_string(list_sort({quoted}), ', ')")
            } else {
                format!("CAST({quoted} AS VARCHAR)")
            }
        })
        .collect();
    let text_sql = format!("SELECT {} FROM ({sql})", select.join(", "));
    let mut statement = connection.prepare(&text_sql).unwrap();
    let width = names.len();
    let data = statement
        .query_map([], |row| {
            (0..width)
                .map(|i| row.get::<_, Option<String>>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    (names, data)
}

/// Upstream's comparison: numbers as numbers, empty cells and NULL alike.
pub fn same_cell(actual: &Option<String>, expected: &Option<String>) -> bool {
    let norm = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    match (norm(actual), norm(expected)) {
        (None, None) => true,
        (Some(a), Some(e)) => match (a.parse::<f64>(), e.parse::<f64>()) {
            (Ok(x), Ok(y)) => (x - y).abs() < 1e-9,
            _ => match (map_pairs(&a), map_pairs(&e)) {
                (Some(x), Some(y)) => x == y,
                _ => a == e,
            },
        },
        _ => false,
    }
}

/// A map cell (`category_count`) as its sorted (key, count) pairs, from any warehouse's text of
/// it: DuckDB's `{10=2, 8=1}`, a JSON object `{"10":2}` (Snowflake's counts may read `2.0`), or
/// BigQuery's `[{"key":"10","value":2}]`. None for any other text.
pub fn map_pairs(text: &str) -> Option<Vec<(String, i64)>> {
    let object = text.starts_with('{') && text.ends_with('}');
    if !(object || text.starts_with("[{")) {
        return None;
    }
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.' || c == '_'))
        .filter(|t| !t.is_empty() && *t != "key" && *t != "value")
        .collect();
    if !tokens.len().is_multiple_of(2) {
        return None;
    }
    let mut pairs = tokens
        .chunks(2)
        .map(|pair| Some((pair[0].to_string(), pair[1].parse::<f64>().ok()? as i64)))
        .collect::<Option<Vec<_>>>()?;
    pairs.sort();
    Some(pairs)
}

/// The expected table of the fixture, keyed by user.
pub fn expected_fixture_rows(
    connection: &duckdb::Connection,
) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let path = fixture_dir().join("expected_attributes.csv");
    rows(
        connection,
        &format!(
            "SELECT * FROM read_csv('{}', all_varchar = true, header = true) ORDER BY 1",
            path.display()
        ),
    )
}

/// Every cell where `table_sql` differs from the fixture's expected table, as
/// `user.column: sigbatch X, upstream Y`, after checking that rows and columns line up.
pub fn fixture_differences(connection: &duckdb::Connection, table_sql: &str) -> Vec<String> {
    let (names, actual) = rows(connection, table_sql);
    let (expected_names, expected) = expected_fixture_rows(connection);
    assert_eq!(actual.len(), expected.len(), "row count");
    let mut sorted_actual = names.clone();
    sorted_actual.sort();
    let mut sorted_expected = expected_names.clone();
    sorted_expected.sort();
    assert_eq!(sorted_actual, sorted_expected, "columns");
    let mut differences = Vec::new();
    for (actual_row, expected_row) in actual.iter().zip(&expected) {
        for (position, name) in expected_names.iter().enumerate() {
            let at = names.iter().position(|n| n == name).expect("checked above");
            if !same_cell(&actual_row[at], &expected_row[position]) {
                differences.push(format!(
                    "{}.{name}: sigbatch {:?}, upstream {:?}",
                    expected_row[0].as_deref().unwrap_or("?"),
                    actual_row[at],
                    expected_row[position]
                ));
            }
        }
    }
    differences
}

/// Rows read from a warehouse, written into a DuckDB table `name` of text columns (lower-case
/// names; list cells as their sorted items joined by ", ", as `rows` prints lists).
/// Rows read back as text, NULL as `None`.
pub type Rows = Vec<Vec<Option<String>>>;

/// The columns of the DuckDB table `source` (`schema.table`) as (name, DuckDB type), and every
/// row with each cell cast to text: what the stand-in harnesses copy into their warehouse.
pub fn table_as_text(
    connection: &duckdb::Connection,
    source: &str,
) -> (Vec<(String, String)>, Rows) {
    let (schema, table) = source.split_once('.').unwrap();
    let columns: Vec<(String, String)> = connection
        .prepare(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        )
        .unwrap()
        .query_map([schema, table], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!columns.is_empty(), "{source} has no columns");
    let as_text: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("CAST(\"{name}\" AS VARCHAR)"))
        .collect();
    let rows = connection
        .prepare(&format!("SELECT {} FROM {source}", as_text.join(", ")))
        .unwrap()
        .query_map([], |row| {
            (0..columns.len())
                .map(|i| row.get::<_, Option<String>>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (columns, rows)
}

pub fn text_table(
    connection: &duckdb::Connection,
    name: &str,
    columns: &[String],
    rows: Vec<Vec<Option<String>>>,
) {
    let definitions: Vec<String> = columns
        .iter()
        .map(|c| format!("\"{}\" VARCHAR", c.to_lowercase()))
        .collect();
    connection
        .execute_batch(&format!(
            "CREATE OR REPLACE TABLE {name} ({})",
            definitions.join(", ")
        ))
        .unwrap();
    let mut appender = connection.appender(name).unwrap();
    for row in rows {
        let cells: Vec<Option<String>> = row.into_iter().map(|c| c.map(list_text)).collect();
        appender
            .append_row(duckdb::appender_params_from_iter(cells))
            .unwrap();
    }
}

/// A list cell read from a warehouse (`["b","a"]`) as `common::rows` prints lists (`a, b`);
/// anything else unchanged.
pub fn list_text(cell: String) -> String {
    match serde_json::from_str::<Vec<serde_json::Value>>(&cell) {
        Ok(items) if cell.starts_with('[') => {
            let mut items: Vec<String> = items
                .into_iter()
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .collect();
            items.sort();
            items.join(", ")
        }
        _ => cell,
    }
}

/// The python of a test venv, installed on first use by `scripts/<script>` (which prints it).
pub fn venv_python(script: &str) -> String {
    static PYTHONS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    let mut pythons = PYTHONS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, python)) = pythons.iter().find(|(s, _)| s == script) {
        return python.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = std::process::Command::new("bash")
        .arg(root.join("scripts").join(script))
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("bash runs scripts/{script}: {e}"));
    assert!(
        venv.status.success(),
        "scripts/{script} failed to install its venv (it needs python and PyPI)"
    );
    let python = String::from_utf8(venv.stdout).unwrap().trim().to_string();
    pythons.push((script.to_string(), python.clone()));
    python
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the binary on `project` with `SIGBATCH_NOW=now`, checking that none of `secrets`
/// reached its output.
pub fn sigbatch_on(
    project: &TempProject,
    args: &[&str],
    now: &str,
    secrets: &[&str],
) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(args)
        .args(["--project-dir", project.path().to_str().unwrap()])
        .env("SIGBATCH_NOW", now)
        .output()
        .unwrap();
    let text = output_text(&output);
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret reached the output:\n{text}"
        );
    }
    output
}

/// `sigbatch_on` for a run that must succeed; its stdout and stderr.
pub fn succeed_on(project: &TempProject, args: &[&str], now: &str, secrets: &[&str]) -> String {
    let output = sigbatch_on(project, args, now, secrets);
    assert!(
        output.status.success(),
        "sigbatch {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output_text(&output)
}

/// A run refused because `atomic.events` is missing: exit 2, the table named, and a hint.
#[track_caller]
pub fn assert_missing_events_table(output: &std::process::Output) {
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`atomic.events` does not exist") && text.contains("hint:"),
        "{text}"
    );
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A warehouse's rows against DuckDB's, row by row and cell by cell (`same_cell`).
pub fn assert_same_rows(
    warehouse: &str,
    actual: &[Vec<Option<String>>],
    expected: &[Vec<Option<String>>],
) {
    assert_eq!(actual.len(), expected.len(), "{warehouse}: row count");
    for (a, e) in actual.iter().zip(expected) {
        for (x, y) in a.iter().zip(e) {
            assert!(same_cell(x, y), "{warehouse} {a:?}\nduckdb {e:?}");
        }
    }
}

// ---- the crash tests' demo project (tests/recovery.rs, tests/warehouse_duckdb.rs) ----

/// A few thousand events over ten days, loaded late and duplicated, in ten load windows.
pub const DEMO_VARS: &str = "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 1\n  \
                             snowplow__mock_current_day: '2025-03-12'\n";
/// "Now" for the demo project's runs.
pub const DEMO_NOW: &str = "2025-04-01 00:00:00";

pub fn demo_project() -> TempProject {
    TempProject::demo(DEMO_VARS, 200, 10, 7)
}

/// `sigbatch run` of the demo project up to its last load, quiet, with `extra` flags.
pub fn demo_run(project: &Path, extra: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sigbatch"));
    command.args([
        "run",
        "--quiet",
        "--project-dir",
        project.to_str().unwrap(),
        "--until",
        "2025-03-11 00:00:00",
    ]);
    command
        .args(extra)
        .env("SIGBATCH_NOW", DEMO_NOW)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// The demo project's attributes without `updated_at`, by key.
pub fn demo_attributes(project: &TempProject) -> Vec<Vec<Option<String>>> {
    rows(
        &project.connection(),
        "SELECT * EXCLUDE (updated_at) FROM main_derived.demo_web_engagement_1_attributes ORDER BY 1",
    )
    .1
}

/// `output` of a run that must have succeeded.
pub fn succeeded(output: std::process::Output) -> std::process::Output {
    assert!(
        output.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
