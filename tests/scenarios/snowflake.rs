//! The Snowflake emulator for tests: fakesnow (scripts/fakesnow-venv.sh) behind
//! tests/fakesnow/serve.py, one server per test on a free loopback port. Events are copied in Snowflake's layout: upper-case names,
//! self-describing columns as VARIANT.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sigbatch::dialect::{Dialect, Snowflake};
use sigbatch::project::snowflake_profile::{Secret, SnowflakeAuth, SnowflakeSettings};
use sigbatch::warehouse::snowflake::Client;

fn python() -> String {
    crate::common::venv_python("fakesnow-venv.sh")
}

/// A fakesnow server of one test's own (concurrent sessions in different databases of one
/// server see each other's catalog), stopped when dropped.
struct Server {
    port: u16,
    process: Child,
}

impl Server {
    fn start() -> Server {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let port = crate::common::free_port();
        let process = Command::new(python())
            .arg(root.join("tests/fakesnow/serve.py"))
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fakesnow starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        while Client::login(settings_on(port, "PING")).is_err() {
            assert!(
                Instant::now() < deadline,
                "fakesnow did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Server { port, process }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn settings_on(port: u16, database: &str) -> SnowflakeSettings {
    SnowflakeSettings {
        account: "test_account".into(),
        user: "sigbatch_test".into(),
        auth: SnowflakeAuth::Password(Secret::new("not-checked-by-fakesnow".into())),
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

/// A fresh database on a server of its own, and a client logged into it.
pub struct Database {
    pub name: String,
    pub client: Client,
    server: Server,
}

impl Database {
    pub fn new(name: &str) -> Database {
        let server = Server::start();
        let name = name.to_uppercase();
        let mut admin = Client::login(settings_on(server.port, "PING")).unwrap();
        admin
            .run(&format!(
                "CREATE OR REPLACE DATABASE {}",
                Snowflake.ident(&name)
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

    /// A `profiles.yml` output for this database, with the password from an environment variable.
    pub fn profile_yaml(&self, schema: &str) -> String {
        format!(
            "test:\n  target: dev\n  outputs:\n    dev:\n      type: snowflake\n      account: test_account\n      \
             user: sigbatch_test\n      password: \"{{{{ env_var('SIGBATCH_TEST_SNOWFLAKE_PASSWORD', 'hunter2-secret') }}}}\"\n      \
             database: {}\n      schema: {schema}\n      host: 127.0.0.1\n      port: {}\n      protocol: http\n      \
             query_tag: sigbatch_tests\n",
            self.name, self.server.port
        )
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
        let d = Snowflake;
        let (source_schema, source_table) = source.split_once('.').unwrap();
        let columns: Vec<(String, String)> = connection
            .prepare(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            )
            .unwrap()
            .query_map([source_schema, source_table], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!columns.is_empty(), "{source} has no columns");
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
        let as_text: Vec<String> = columns
            .iter()
            .map(|(name, _)| format!("CAST(\"{name}\" AS VARCHAR)"))
            .collect();
        let rows: Vec<Vec<Option<String>>> = connection
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
        let converted: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| match snowflake_type(t) {
                "VARIANT" => format!("PARSE_JSON(column{})", i + 1),
                other => format!("CAST(column{} AS {other})", i + 1),
            })
            .collect();
        let names: Vec<String> = columns.iter().map(|(name, _)| d.ident(name)).collect();
        for batch in rows.chunks(200) {
            let values: Vec<String> = batch
                .iter()
                .map(|row| {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|c| c.as_deref().map_or("NULL".into(), |v| d.string_literal(v)))
                        .collect();
                    format!("({})", cells.join(", "))
                })
                .collect();
            self.client
                .run(&format!(
                    "INSERT INTO {relation} ({}) SELECT {} FROM VALUES {}",
                    names.join(", "),
                    converted.join(", "),
                    values.join(", ")
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
