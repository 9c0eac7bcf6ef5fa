//! The Databricks stand-in for tests: tests/databricks/serve.py (the Statement Execution API
//! over Sail, scripts/databricks-venv.sh), one per test on free loopback ports. Events are loaded
//! in Databricks' layout by the server itself (contexts as arrays of structs, snake_case fields).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sigbatch::project::databricks_profile::{DatabricksAuth, DatabricksSettings};
use sigbatch::secret::Secret;
use sigbatch::warehouse::databricks::Client;

pub const TOKEN: &str = "dapi-test-token-secret";

fn python() -> String {
    crate::common::venv_python("databricks-venv.sh")
}

pub struct Server {
    pub port: u16,
    process: Child,
    _warehouse: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let warehouse = tempfile::tempdir().unwrap();
        let port = crate::common::free_port();
        let process = Command::new(python())
            .arg(root.join("tests/databricks/serve.py"))
            .args([port.to_string(), crate::common::free_port().to_string()])
            .arg(warehouse.path())
            .args([TOKEN, "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the stand-in starts");
        let deadline = Instant::now() + Duration::from_secs(90);
        while Client::connect(settings_on(port))
            .and_then(|mut c| c.run("SELECT 1"))
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the Databricks stand-in did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        Server {
            port,
            process,
            _warehouse: warehouse,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(settings_on(self.port)).unwrap()
    }

    /// Loads a Snowplow events CSV into `schema.table` in Databricks' layout.
    pub fn load_events(&self, csv: &Path, schema: &str, table: &str) {
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
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

/// A query's rows, copied into a DuckDB table `name` of text columns.
pub fn copy_to_duckdb(client: &mut Client, sql: &str, connection: &duckdb::Connection, name: &str) {
    let result = client.run(sql).unwrap();
    crate::common::text_table(connection, name, &result.columns, result.rows);
}
