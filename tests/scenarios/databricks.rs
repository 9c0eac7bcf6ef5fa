//! Databricks as the suite drives it: tests/standins/databricks/serve.py (the Statement Execution
//! API over Sail, scripts/databricks-venv.sh), one per case. A place is a schema; the events are
//! loaded once per server into `atomic.events` by the stand-in itself, in Databricks' layout
//! (contexts as arrays of structs, snake_case fields), and read through Sail's catalog
//! (`snowplow__databricks_catalog: sail`; upstream's default is `hive_metastore`).

use std::path::Path;
use std::time::Duration;

use sigbatch::project::profiles::databricks::{DatabricksAuth, DatabricksSettings};
use sigbatch::secret::Secret;
use sigbatch::warehouse::databricks::Client;

use super::{Harness, Table};
use crate::common::standin::StandIn;
use crate::common::{self, TempProject};

pub const TOKEN: &str = "dapi-test-token-secret";
/// Rows per result chunk the stand-in sends.
const CHUNK_ROWS: &str = "500";

pub struct Server {
    pub port: u16,
    _standin: StandIn,
}

impl Server {
    pub fn start() -> Server {
        let python = common::venv_python("databricks-venv.sh");
        let standin = StandIn::start("databricks", &python, &[TOKEN, CHUNK_ROWS]);
        Server {
            port: standin.port,
            _standin: standin,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(settings_on(self.port)).unwrap()
    }

    /// Loads a Snowplow events CSV into `schema.table` in Databricks' layout.
    pub fn load_events(&self, csv: &std::path::Path, schema: &str, table: &str) {
        let body = serde_json::json!({"csv": csv, "schema": schema, "table": table}).to_string();
        ureq::post(&format!("http://127.0.0.1:{}/test/load_events", self.port))
            .send(&body)
            .unwrap();
    }

    /// A `profiles.yml` output for this server, the token from an environment variable.
    pub fn profile_yaml(&self, schema: &str) -> String {
        format!(
            "test:\n  target: dev\n  outputs:\n    dev:\n      type: databricks\n      host: http://127.0.0.1:{}\n      \
             http_path: /sql/1.0/warehouses/sail\n      \
             token: \"{{{{ env_var('SIGBATCH_TEST_DATABRICKS_TOKEN', '{TOKEN}') }}}}\"\n      schema: {schema}\n",
            self.port
        )
    }

    /// A query's rows as text (lower-case names; lists as their sorted items joined by ", ").
    pub fn read(&self, sql: &str) -> Table {
        let result = self.client().run(sql).unwrap();
        common::text_result(&result.columns, result.rows)
    }
}

pub fn settings_on(port: u16) -> DatabricksSettings {
    DatabricksSettings {
        base_url: format!("http://127.0.0.1:{port}"),
        warehouse_id: "sail".into(),
        auth: DatabricksAuth::Token(Secret::new(TOKEN.into())),
        catalog: None,
        schema: "atomic".into(),
        connect_timeout: Duration::from_secs(5),
        retries: 2,
    }
}

/// Databricks: one stand-in.
pub struct Databricks {
    pub server: Server,
    events_loaded: bool,
}

impl Harness for Databricks {
    const KIND: &'static str = "databricks";
    const SYNTAXES: &'static [&'static str] = &["databricks"];

    fn start() -> Databricks {
        Databricks {
            server: Server::start(),
            events_loaded: false,
        }
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_string()]
    }

    fn vars(backfill_limit_days: u32) -> String {
        common::FIXTURE_VARS.replace(
            "backfill_limit_days: 3",
            &format!(
                "backfill_limit_days: {backfill_limit_days}\n  snowplow__databricks_catalog: sail"
            ),
        )
    }

    fn profile(&mut self, _project: &TempProject, place: &str) -> String {
        self.server.profile_yaml(place)
    }

    fn load_fixture_events(&mut self, _project: &TempProject, _place: &str) {
        if !self.events_loaded {
            self.server.load_events(
                &common::fixture_dir().join("events.csv"),
                "atomic",
                "events",
            );
            self.events_loaded = true;
        }
    }

    fn load_events_csv(&mut self, _project: &TempProject, _place: &str, csv: &Path, schema: &str) {
        self.server.load_events(csv, schema, "events");
    }

    fn read(&mut self, _project: &TempProject, place: &str, table: &str) -> Table {
        self.server
            .read(&format!("SELECT * FROM `{place}_derived`.`{table}`"))
    }

    fn written_tables(&mut self, _project: &TempProject, place: &str) -> usize {
        let mut client = self.server.client();
        ["derived", "snowplow_manifest", "scratch"]
            .iter()
            .map(|suffix| {
                // a schema that does not exist holds no table; temporary views (the
                // stand-in's `raw_events`) are listed in every schema
                client
                    .run(&format!("SHOW TABLES IN `{place}_{suffix}`"))
                    .map_or(0, |result| {
                        result
                            .rows
                            .iter()
                            .filter(|row| row.get(2).cloned().flatten().as_deref() == Some("false"))
                            .count()
                    })
            })
            .sum()
    }

    fn lease(&mut self, _project: &TempProject, place: &str) -> Option<Vec<Option<String>>> {
        let rows = self
            .server
            .client()
            .run(&format!(
                "SELECT holder, CAST(pid AS STRING) FROM `{place}_snowplow_manifest`.`ecommerce_transaction_interactions_features_1_sigbatch_lease`"
            ))
            .ok()?;
        rows.rows.first().cloned()
    }

    /// Every fifth statement: each stop costs a run and a rebuild (every single one is tried
    /// on DuckDB under the same rules, tests/warehouse_duckdb.rs). Every statement commits on
    /// its own here: a stop after the run state was deleted leaves none, and the rerun rebuilds
    /// every table.
    fn stops(statements: usize) -> Vec<usize> {
        (1..statements).step_by(5).collect()
    }

    fn refused_profile(&mut self, _project: &TempProject, place: &str) -> (String, String) {
        let wrong = "dapi-wrong";
        (
            self.server.profile_yaml(place).replace(TOKEN, wrong),
            wrong.to_string(),
        )
    }
}

/// A submission has no request id: none that changes data may reach the server twice. Faults
/// are rarer here, as each one on such a submission fails the run.
impl super::network::Networked for Databricks {
    const WIRE: super::network::Wire = super::network::Wire {
        statement: |d| {
            (d.method == "POST" && d.target.starts_with("/api/2.0/sql/statements"))
                .then(|| super::network::body_field(d, "statement"))
                .flatten()
        },
        idempotency_key: |_| None,
    };
    const FAULT_ONE_IN: u64 = 12;
    const SEED: u64 = 0x5eed_0d06;
    /// The first poll of a statement: the slowed insert, which outlasts its submission's wait.
    const RANDOM_KILLS: usize = 2;
    const KILLED_DURING: fn(&str, &str, &str) -> bool =
        |method, target, _| method == "GET" && target.starts_with("/api/2.0/sql/statements/");

    fn scratch_schema(place: &str) -> String {
        format!("`{place}_scratch`")
    }

    fn lease_of(place: &str, group: &str) -> String {
        format!("`{place}_snowplow_manifest`.`{group}_sigbatch_lease`")
    }

    fn try_sql(&mut self, _place: &str, sql: &str) -> Result<super::network::Rows, String> {
        let result = self.server.client().run(sql);
        result.map(|result| result.rows).map_err(|e| e.to_string())
    }

    /// `SHOW TABLES` of the place's scratch schema (database, name, temporary), the stand-in's
    /// temporary views left out.
    fn shared_read_tables(&mut self, place: &str) -> Vec<String> {
        let shown = self.try_sql(place, &format!("SHOW TABLES IN `{place}_scratch`"));
        let mut names: Vec<String> = shown
            .unwrap_or_default()
            .into_iter()
            .filter(|row| row.get(2).cloned().flatten().as_deref() == Some("false"))
            .filter_map(|row| row.get(1).cloned().flatten())
            .map(|name| name.to_lowercase())
            .filter(|name| name.starts_with("sigbatch_shared_events"))
            .collect();
        names.sort();
        names
    }

    /// Statements run at once here: the killed run's insert waits long enough to be left
    /// running, until the next run cancels it.
    fn slow_down(&mut self, text: Option<&str>) {
        let body = serde_json::json!({"contains": text, "seconds": SLOW_SECONDS}).to_string();
        ureq::post(&format!("http://127.0.0.1:{}/test/slow", self.server.port))
            .send(&body)
            .unwrap();
    }

    /// The killed run's statement was cancelled before it ran: waited for past its slowness,
    /// it never ran (its rows would be in the tables twice).
    fn after_takeover(&mut self, ended: &[String]) {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let mut answer = ureq::get(&format!(
            "http://127.0.0.1:{}/test/cancelled",
            self.server.port
        ))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
        let seen: serde_json::Value =
            serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
        for id in ended {
            assert!(
                seen["ids"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!(id)),
                "{seen}"
            );
            assert!(
                !seen["ran"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!(id)),
                "{seen}"
            );
        }
    }
}

/// How long the killed run's statement would run on the stand-in before it wrote.
const SLOW_SECONDS: u64 = 20;
