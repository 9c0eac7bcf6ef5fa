//! Snowflake as the suite drives it: fakesnow (scripts/fakesnow-venv.sh) behind
//! tests/standins/snowflake/serve.py, answering JSON rowsets (`Snowflake`) or Arrow, inline and
//! in chunks (`SnowflakeArrow`). A place is a database on a fakesnow server of its own
//! (concurrent sessions in different databases of one server see each other's catalog); events
//! are copied in Snowflake's layout: upper-case names, self-describing columns as VARIANT.

use std::path::Path;
use std::time::Duration;

use sigbatch::dialect::{Dialect, Snowflake as SnowflakeDialect};
use sigbatch::project::profiles::snowflake::{Secret, SnowflakeAuth, SnowflakeSettings};
use sigbatch::warehouse::snowflake::Client;

use super::{Harness, Table};
use crate::common::standin::StandIn;
use crate::common::{self, TempProject};

/// Rows per statement when copying events in (a JSON text of a few MB).
const COPY_BATCH_ROWS: usize = 10_000;

/// The password the stand-in accepts (from the profile's env_var default).
pub const PASSWORD: &str = "hunter2-secret";
pub const LEASE: &str =
    "\"ATOMIC_SNOWPLOW_MANIFEST\".\"ECOMMERCE_TRANSACTION_INTERACTIONS_FEATURES_1_SIGBATCH_LEASE\"";

/// Snowflake: a fakesnow server per place, with the database `DB_<place>`, answering Arrow
/// when `ARROW`.
#[derive(Default)]
pub struct SnowflakeAnswering<const ARROW: bool> {
    databases: Vec<(String, Database)>,
}

/// The stand-in answering JSON rowsets, as sigbatch asks.
pub type Snowflake = SnowflakeAnswering<false>;
/// The stand-in answering Arrow, as Snowflake answers its own connectors.
pub type SnowflakeArrow = SnowflakeAnswering<true>;

impl<const ARROW: bool> SnowflakeAnswering<ARROW> {
    /// The database of `place`, started on first use.
    pub fn database(&mut self, place: &str) -> &mut Database {
        if let Some(at) = self.databases.iter().position(|(p, _)| p == place) {
            return &mut self.databases[at].1;
        }
        // not the place's own name: a database ATOMIC beside the schema ATOMIC is ambiguous
        self.databases.push((
            place.to_string(),
            Database::answering(&format!("db_{place}"), ARROW),
        ));
        &mut self.databases.last_mut().unwrap().1
    }
}

impl<const ARROW: bool> Harness for SnowflakeAnswering<ARROW> {
    const KIND: &'static str = "snowflake";
    const JSON_EVENTS: bool = true;
    const SYNTAXES: &'static [&'static str] = &["snowflake"];
    const REFUSAL: &'static str = "Incorrect username or password";

    fn start() -> Self {
        Self::default()
    }

    fn secrets(&self) -> Vec<String> {
        vec![PASSWORD.to_string()]
    }

    fn profile(&mut self, _project: &TempProject, place: &str) -> String {
        self.database(place).profile_yaml("atomic")
    }

    fn load_fixture_events(&mut self, _project: &TempProject, place: &str) {
        let events = duckdb::Connection::open_in_memory().unwrap();
        common::stage_fixture_events(&events);
        self.database(place)
            .copy_from_duckdb(&events, "atomic.events", "atomic", "events");
    }

    fn load_events_csv(&mut self, _project: &TempProject, place: &str, csv: &Path, schema: &str) {
        let events = duckdb::Connection::open_in_memory().unwrap();
        sigbatch::stage_csv::stage_events_csv(&events, csv, "atomic", "events").unwrap();
        self.database(place)
            .copy_from_duckdb(&events, "atomic.events", schema, "events");
    }

    fn read(&mut self, _project: &TempProject, place: &str, table: &str) -> Table {
        let relation = format!("\"ATOMIC_DERIVED\".\"{}\"", table.to_uppercase());
        self.database(place)
            .read(&format!("SELECT * FROM {relation}"))
    }

    fn written_tables(&mut self, _project: &TempProject, place: &str) -> usize {
        self.database(place)
            .tables_in("'ATOMIC_DERIVED', 'ATOMIC_SNOWPLOW_MANIFEST', 'ATOMIC_SCRATCH'")
    }

    fn lease(&mut self, _project: &TempProject, place: &str) -> Option<Vec<Option<String>>> {
        let rows = self
            .database(place)
            .client
            .run(&format!("SELECT holder, pid FROM {LEASE}"))
            .ok()?;
        rows.rows.first().cloned()
    }

    /// During setup, then a spread through the DDL part and the transaction (every k is tried on
    /// DuckDB under Snowflake's rules, tests/warehouse_duckdb.rs).
    fn stops(statements: usize) -> Vec<usize> {
        vec![
            3,
            statements / 4,
            statements / 2,
            3 * statements / 4,
            statements - 2,
        ]
    }

    fn refused_profile(&mut self, _project: &TempProject, place: &str) -> (String, String) {
        let wrong = "wrong-password-secret";
        let profile = self
            .database(place)
            .profile_yaml("atomic")
            .replace(PASSWORD, wrong);
        (profile, wrong.to_string())
    }

    fn release(&mut self, place: &str) {
        self.databases.retain(|(p, _)| p != place);
    }

    /// Each window of the full refresh is at most five requests (two multi-statement requests,
    /// a query-history read after each, the count), and every statement has its own query id;
    /// on the stand-in answering Arrow the run read Arrow, inline and in chunks.
    fn after_compat(&mut self, project: &TempProject, place: &str, _progress: &str) {
        super::assert_windows_as_scripts(project, |id| !id.is_empty());
        if ARROW {
            let (inline, chunks) = self.database(place).arrow_answers();
            assert!(
                inline > 0 && chunks > 0,
                "arrow answers: {inline} inline, {chunks} chunks"
            );
        }
    }

    /// Fills become inserts into the scratch schema; the events table is seen.
    fn after_dry_run(&mut self, _project: &TempProject, place: &str, statements: &str) {
        assert!(
            statements.contains("INSERT INTO \"ATOMIC_SCRATCH\""),
            "fills become inserts: {statements}"
        );
        assert_eq!(
            self.database(place).tables_in("'ATOMIC'"),
            1,
            "the events table is seen"
        );
    }
}

fn settings_on(port: u16, database: &str) -> SnowflakeSettings {
    SnowflakeSettings {
        account: "test_account".into(),
        user: "sigbatch_test".into(),
        auth: SnowflakeAuth::Password(Secret::new(PASSWORD.into())),
        role: None,
        warehouse: None,
        database: database.into(),
        schema: "PUBLIC".into(),
        query_tag: None,
        connect_timeout: Duration::from_secs(5),
        retries: 2,
        base_url: format!("http://127.0.0.1:{port}"),
    }
}

/// A `profiles.yml` output for `database` on port `port`, with the password from an environment
/// variable.
pub fn profile_yaml(database: &str, port: u16, schema: &str) -> String {
    format!(
        "test:\n  target: dev\n  outputs:\n    dev:\n      type: snowflake\n      account: test_account\n      \
         user: sigbatch_test\n      password: \"{{{{ env_var('SIGBATCH_TEST_SNOWFLAKE_PASSWORD', '{PASSWORD}') }}}}\"\n      \
         database: {database}\n      schema: {schema}\n      host: 127.0.0.1\n      port: {port}\n      protocol: http\n      \
         query_tag: sigbatch_tests\n"
    )
}

/// A fresh database on a fakesnow server of its own, and a client logged into it (which reads
/// the stand-in's answers as sigbatch does, JSON or Arrow).
pub struct Database {
    pub name: String,
    pub client: Client,
    server: StandIn,
}

impl Database {
    pub fn new(name: &str) -> Database {
        Database::answering(name, false)
    }

    /// `new` on a stand-in answering Arrow when `arrow`.
    pub fn answering(name: &str, arrow: bool) -> Database {
        let python = common::venv_python("fakesnow-venv.sh");
        let args: &[&str] = if arrow {
            &[PASSWORD, "arrow"]
        } else {
            &[PASSWORD]
        };
        let server = StandIn::start("snowflake", &python, args);
        let name = name.to_uppercase();
        let mut admin = Client::login(settings_on(server.port, "PING")).unwrap();
        admin
            .run(&format!(
                "CREATE OR REPLACE DATABASE {}",
                SnowflakeDialect.ident(&name)
            ))
            .unwrap();
        let client = Client::login(settings_on(server.port, &name)).unwrap();
        Database {
            name,
            client,
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// A session of its own on this database (another worker's).
    pub fn session(&self) -> Client {
        Client::login(settings_on(self.server.port, &self.name)).unwrap()
    }

    /// How many results the stand-in answered in Arrow so far, and how many chunks of them were
    /// downloaded (0 and 0 on a stand-in answering JSON).
    pub fn arrow_answers(&self) -> (u64, u64) {
        let counts: serde_json::Value =
            ureq::get(&format!("{}/sigbatch/arrow-answers", self.server.url()))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default();
        (
            counts["inline"].as_u64().unwrap_or(0),
            counts["chunks"].as_u64().unwrap_or(0),
        )
    }

    /// Every query request the stand-in received so far, in order (`GET /sigbatch/requests`:
    /// session, request id, statements, the query ids it gave, the start of its text).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let mut answer = ureq::get(&format!("{}/sigbatch/requests", self.server.url()))
            .call()
            .unwrap();
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// A `profiles.yml` output for this database, with the password from an environment variable.
    pub fn profile_yaml(&self, schema: &str) -> String {
        profile_yaml(&self.name, self.server.port, schema)
    }

    /// A query's rows here as text (lower-case names; ARRAY cells as their sorted items joined by
    /// ", ", as `common::rows` prints lists).
    pub fn read(&mut self, sql: &str) -> Table {
        let result = self.client.run(sql).unwrap();
        common::text_result(&result.columns, result.rows)
    }

    /// Tables of this database in `schemas` (a list of SQL strings).
    pub fn tables_in(&mut self, schemas: &str) -> usize {
        let count = self
            .client
            .run(&format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_catalog = CURRENT_DATABASE() AND table_schema IN ({schemas})"
            ))
            .unwrap()
            .rows[0][0]
            .clone();
        count.unwrap().parse().unwrap()
    }

    /// Copies a DuckDB table into `schema.table` here, in Snowflake's layout: upper-case names,
    /// JSON columns as VARIANT, TIMESTAMP as TIMESTAMP_NTZ.
    pub fn copy_from_duckdb(
        &mut self,
        connection: &duckdb::Connection,
        source: &str,
        schema: &str,
        table: &str,
    ) {
        let d = SnowflakeDialect;
        let (columns, rows) = common::table_as_text(connection, source);
        let snowflake_type = |duckdb_type: &str| match duckdb_type {
            "JSON" => "VARIANT",
            "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" => "TIMESTAMP_NTZ",
            "DOUBLE" | "FLOAT" => "FLOAT",
            "BOOLEAN" => "BOOLEAN",
            "DATE" => "DATE",
            t if t.contains("INT") || t.starts_with("DECIMAL") => "NUMBER(38,0)",
            _ => "VARCHAR",
        };
        let relation = d.relation(&[schema, table]);
        self.client
            .run(&format!("CREATE SCHEMA IF NOT EXISTS {}", d.ident(schema)))
            .unwrap();
        let definitions: Vec<String> = columns
            .iter()
            .map(|(name, t)| format!("{} {}", d.ident(name), snowflake_type(t)))
            .collect();
        self.client
            .run(&format!(
                "CREATE OR REPLACE TABLE {relation} ({})",
                definitions.join(", ")
            ))
            .unwrap();
        // each batch goes as one string literal holding its rows as a JSON array (column i as
        // key `ci`, NULL cells left out), expanded here by FLATTEN: fakesnow parses one long
        // literal far faster than a VALUES list of many small ones (case 11's stream: about
        // 4,000 events a second, where VALUES batches of 200 rows loaded about 400)
        let converted: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| match snowflake_type(t) {
                // the JSON text as the cell holds it, parsed as the VALUES copy parsed it
                "VARIANT" => format!("PARSE_JSON(CAST(f.value:c{i} AS VARCHAR))"),
                other => format!("CAST(f.value:c{i} AS {other})"),
            })
            .collect();
        let names: Vec<String> = columns.iter().map(|(name, _)| d.ident(name)).collect();
        for batch in rows.chunks(COPY_BATCH_ROWS) {
            let objects: Vec<serde_json::Value> = batch
                .iter()
                .map(|row| {
                    let cells = row.iter().enumerate().filter_map(|(i, cell)| {
                        let text = cell.as_ref()?;
                        Some((format!("c{i}"), serde_json::Value::String(text.clone())))
                    });
                    serde_json::Value::Object(cells.collect())
                })
                .collect();
            let json = serde_json::Value::Array(objects).to_string();
            self.client
                .run(&format!(
                    "INSERT INTO {relation} ({}) SELECT {} FROM TABLE(FLATTEN(INPUT => PARSE_JSON({}))) f",
                    names.join(", "),
                    converted.join(", "),
                    d.string_literal(&json)
                ))
                .unwrap();
        }
    }

    /// A query's rows here, copied into a DuckDB table `name` of text columns (lower-case
    /// names; ARRAY cells as their sorted items joined by ", ", as `common::rows` prints lists).
    pub fn copy_to_duckdb(&mut self, sql: &str, connection: &duckdb::Connection, name: &str) {
        let result = self.client.run(sql).unwrap();
        crate::common::text_table(connection, name, &result.columns, result.rows);
    }
}

/// A query request is resent with its `requestId`, which Snowflake (and the stand-in) runs once.
impl super::network::Networked for Snowflake {
    const WIRE: super::network::Wire = super::network::Wire {
        statement: |d| {
            d.target
                .starts_with("/queries/v1/query-request")
                .then(|| super::network::body_field(d, "sqlText"))
                .flatten()
        },
        idempotency_key: |d| super::network::query_parameter(d, "requestId"),
    };
    /// One in 2: a run is about 70 requests now that a window's statements go as two
    /// multi-statement requests (one in 3 injected about 20 faults, all retried within the run).
    const FAULT_ONE_IN: u64 = 2;
    const SEED: u64 = 0x5eed_5f1a;
    const RANDOM_KILLS: usize = 1;
    const KILLED_DURING: fn(&str, &str, &str) -> bool = |_, target, body| {
        target.starts_with("/queries/v1/query-request")
            && serde_json::from_str::<serde_json::Value>(body).is_ok_and(|b| {
                b["sqlText"]
                    .as_str()
                    .is_some_and(super::killed::inserts_daily_aggregates)
            })
    };

    fn scratch_schema(_place: &str) -> String {
        "\"ATOMIC_SCRATCH\"".to_string()
    }

    fn lease_of(_place: &str, group: &str) -> String {
        format!(
            "\"ATOMIC_SNOWPLOW_MANIFEST\".\"{}_SIGBATCH_LEASE\"",
            group.to_uppercase()
        )
    }

    fn try_sql(&mut self, place: &str, sql: &str) -> Result<super::network::Rows, String> {
        let result = self.database(place).client.run(sql);
        result.map(|result| result.rows).map_err(|e| e.to_string())
    }

    fn shared_read_tables(&mut self, place: &str) -> Vec<String> {
        let listed = self.try_sql(
            place,
            "SELECT LOWER(table_name) FROM information_schema.tables \
             WHERE table_catalog = CURRENT_DATABASE() \
             AND LOWER(table_name) LIKE 'sigbatch_shared_events%' ORDER BY 1",
        );
        listed
            .unwrap()
            .into_iter()
            .filter_map(|row| row[0].clone())
            .collect()
    }

    /// The killed run's sessions are gone from the stand-in (their transactions rolled back).
    fn after_takeover(&mut self, ended: &[String]) {
        let port = self.database("net_killed").server.port;
        super::killed::assert_sessions_ended(port, "", ended);
    }
}
