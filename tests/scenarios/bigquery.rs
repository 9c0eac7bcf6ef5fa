//! The BigQuery emulator for tests: local-bigquery (scripts/bigquery-venv.sh) behind
//! tests/bigquery/serve.py, one server per test on free loopback ports. Events are copied in
//! BigQuery's layout: self-describing columns once per full schema version, contexts as
//! REPEATED RECORD and unstruct events as RECORD with snake_case fields, `revenue` NUMERIC.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sigbatch::dialect::{BigQuery, Dialect};
use sigbatch::project::bigquery_profile::{BigQueryAuth, BigQuerySettings};
use sigbatch::project::property::camel_to_snake;
use sigbatch::secret::Secret;
use sigbatch::warehouse::bigquery::Client;

pub const TOKEN: &str = "ya29.test-token-secret";

fn python() -> String {
    crate::common::venv_python("bigquery-venv.sh")
}

/// An emulator of one test's own, with its data in a temporary directory; stopped when dropped.
pub struct Server {
    pub port: u16,
    process: Child,
    _data: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let data = tempfile::tempdir().unwrap();
        let port = crate::common::free_port();
        let process = Command::new(python())
            .arg(root.join("tests/bigquery/serve.py"))
            .args([port.to_string(), crate::common::free_port().to_string()])
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let deadline = Instant::now() + Duration::from_secs(90);
        while Client::connect(settings_on(port, "ping"))
            .and_then(|mut c| c.run("SELECT 1"))
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "local-bigquery did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        Server {
            port,
            process,
            _data: data,
        }
    }

    pub fn client(&self, dataset: &str) -> Client {
        Client::connect(settings_on(self.port, dataset)).unwrap()
    }

    /// A `profiles.yml` output for this server, the token from an environment variable.
    pub fn profile_yaml(&self, dataset: &str) -> String {
        format!(
            "test:\n  target: dev\n  outputs:\n    dev:\n      type: bigquery\n      method: oauth-secrets\n      \
             token: \"{{{{ env_var('SIGBATCH_TEST_BIGQUERY_TOKEN', '{TOKEN}') }}}}\"\n      project: local\n      \
             dataset: {dataset}\n      api_endpoint: http://127.0.0.1:{}\n      maximum_bytes_billed: 1000000000\n",
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

pub fn settings_on(port: u16, dataset: &str) -> BigQuerySettings {
    BigQuerySettings {
        auth: BigQueryAuth::Token(Secret::new(TOKEN.into())),
        project: "local".into(),
        dataset: dataset.into(),
        location: Some("US".into()),
        batch_priority: false,
        maximum_bytes_billed: None,
        job_execution_timeout: None,
        retries: 2,
        api_endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// One column of the copy: its name and type on BigQuery, and how a DuckDB cell becomes a literal.
struct Column {
    source: String,
    name: String,
    kind: Kind,
}

enum Kind {
    Scalar(&'static str),
    /// A self-describing column: (field, BigQuery type) in order; repeated for contexts.
    Record {
        fields: Vec<(String, &'static str)>,
        repeated: bool,
    },
}

impl Column {
    fn definition(&self, d: &BigQuery) -> String {
        match &self.kind {
            Kind::Scalar(t) => format!("{} {t}", d.ident(&self.name)),
            Kind::Record { fields, repeated } => {
                let record = struct_type(d, fields);
                if *repeated {
                    format!("{} ARRAY<{record}>", d.ident(&self.name))
                } else {
                    format!("{} {record}", d.ident(&self.name))
                }
            }
        }
    }

    fn literal(&self, d: &BigQuery, cell: Option<&str>) -> String {
        match (&self.kind, cell) {
            (Kind::Scalar(_), None) => "NULL".into(),
            (Kind::Scalar(t), Some(text)) => format!("CAST({} AS {t})", d.string_literal(text)),
            (Kind::Record { repeated, .. }, None) => if *repeated { "[]" } else { "NULL" }.into(),
            (Kind::Record { fields, repeated }, Some(json)) => {
                let value: Value = serde_json::from_str(json).unwrap();
                let record = |object: &Value| {
                    let cells: Vec<String> = fields
                        .iter()
                        .map(|(field, t)| match leaf(object, field) {
                            None => format!("CAST(NULL AS {t})"),
                            Some(text) => format!("CAST({} AS {t})", d.string_literal(&text)),
                        })
                        .collect();
                    format!("{}({})", struct_type(d, fields), cells.join(", "))
                };
                match (&value, repeated) {
                    (Value::Array(items), true) => {
                        let items: Vec<String> = items.iter().map(record).collect();
                        format!("[{}]", items.join(", "))
                    }
                    (Value::Null, true) => "[]".into(),
                    (Value::Null, false) => "NULL".into(),
                    (object, _) => record(object),
                }
            }
        }
    }
}

fn struct_type(d: &BigQuery, fields: &[(String, &'static str)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(name, t)| format!("{} {t}", d.ident(name)))
        .collect();
    format!("STRUCT<{}>", fields.join(", "))
}

/// The value of snake_case `field` in a camelCase JSON object, as text.
fn leaf(object: &Value, field: &str) -> Option<String> {
    let (_, value) = object
        .as_object()?
        .iter()
        .find(|(key, _)| camel_to_snake(key) == field)?;
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The fields of a JSON column's records, snake_case, typed from their values (`revenue`
/// NUMERIC, as Snowplow's BigQuery loader types it).
fn record_fields(cells: &[Option<String>]) -> Vec<(String, &'static str)> {
    let mut fields: Vec<(String, &'static str)> = Vec::new();
    for cell in cells.iter().flatten() {
        let value: Value = serde_json::from_str(cell).unwrap();
        let objects = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for object in objects.iter().filter_map(Value::as_object) {
            for (key, value) in object {
                let name = camel_to_snake(key);
                let t = match value {
                    _ if name == "revenue" => "NUMERIC",
                    Value::Bool(_) => "BOOL",
                    Value::Number(n) if n.is_i64() => "INT64",
                    Value::Number(_) => "FLOAT64",
                    _ => "STRING",
                };
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    // an integer in one event and a fraction in another
                    Some((_, seen)) if *seen == "INT64" && t == "FLOAT64" => *seen = t,
                    Some(_) => {}
                    None => fields.push((name, t)),
                }
            }
        }
    }
    fields
}

/// Copies a DuckDB events table (Snowflake's layout: JSON columns named by major version) into
/// `dataset.table` on the emulator in BigQuery's layout. With `split`, the events of every other
/// row store that column's data in a `_1_0_2` version instead of `_1_0_0`.
pub fn copy_events(
    client: &mut Client,
    connection: &duckdb::Connection,
    source: &str,
    dataset: &str,
    table: &str,
    split: Option<&str>,
) {
    let d = BigQuery::default();
    let (source_schema, source_table) = source.split_once('.').unwrap();
    let described: Vec<(String, String)> = connection
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
    let as_text: Vec<String> = described
        .iter()
        .map(|(name, _)| format!("CAST(\"{name}\" AS VARCHAR)"))
        .collect();
    let rows: Vec<Vec<Option<String>>> = connection
        .prepare(&format!("SELECT {} FROM {source}", as_text.join(", ")))
        .unwrap()
        .query_map([], |row| {
            (0..described.len())
                .map(|i| row.get::<_, Option<String>>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut columns: Vec<Column> = Vec::new();
    for (i, (name, duckdb_type)) in described.iter().enumerate() {
        let kind = match duckdb_type.as_str() {
            "JSON" => {
                let cells: Vec<Option<String>> = rows.iter().map(|r| r[i].clone()).collect();
                let fields = record_fields(&cells);
                if fields.is_empty() {
                    // no event carries it: BigQuery has no empty STRUCT type to store it as
                    continue;
                }
                Kind::Record {
                    fields,
                    repeated: name.starts_with("contexts_"),
                }
            }
            "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" => Kind::Scalar("TIMESTAMP"),
            "DOUBLE" | "FLOAT" => Kind::Scalar("FLOAT64"),
            "BOOLEAN" => Kind::Scalar("BOOL"),
            "DATE" => Kind::Scalar("DATE"),
            t if t.contains("INT") => Kind::Scalar("INT64"),
            t if t.starts_with("DECIMAL") => Kind::Scalar("NUMERIC"),
            _ => Kind::Scalar("STRING"),
        };
        let versioned = matches!(kind, Kind::Record { .. });
        let physical = if versioned {
            format!("{name}_0_0")
        } else {
            name.clone()
        };
        if split == Some(name.as_str())
            && let Kind::Record { fields, repeated } = &kind
        {
            columns.push(Column {
                source: name.clone(),
                name: format!("{name}_0_2"),
                kind: Kind::Record {
                    fields: fields.clone(),
                    repeated: *repeated,
                },
            });
        }
        columns.push(Column {
            source: name.clone(),
            name: physical,
            kind,
        });
    }
    client
        .run(&format!("CREATE SCHEMA IF NOT EXISTS {}", d.ident(dataset)))
        .unwrap();
    let relation = d.relation(&[dataset, table]);
    let definitions: Vec<String> = columns.iter().map(|c| c.definition(&d)).collect();
    client
        .run(&format!(
            "CREATE OR REPLACE TABLE {relation} ({}) PARTITION BY DATE(load_tstamp)",
            definitions.join(", ")
        ))
        .unwrap();
    let names: Vec<String> = columns.iter().map(|c| d.ident(&c.name)).collect();
    for (batch_number, batch) in rows.chunks(100).enumerate() {
        let values: Vec<String> = batch
            .iter()
            .enumerate()
            .map(|(offset, row)| {
                let odd = (batch_number * 100 + offset) % 2 == 1;
                let cells: Vec<String> = columns
                    .iter()
                    .map(|column| {
                        let at = described
                            .iter()
                            .position(|(n, _)| *n == column.source)
                            .unwrap();
                        // split: odd rows in the newer version, even rows in the older one
                        let in_this_version = match split {
                            Some(s) if s == column.source => column.name.ends_with("_0_2") == odd,
                            _ => true,
                        };
                        let cell = row[at].as_deref().filter(|_| in_this_version);
                        column.literal(&d, cell)
                    })
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        client
            .run(&format!(
                "INSERT INTO {relation} ({}) VALUES {}",
                names.join(", "),
                values.join(", ")
            ))
            .unwrap();
    }
}

/// A query's rows, copied into a DuckDB table `name` of text columns (lists as their sorted
/// items joined by ", ", as `common::rows` prints them).
pub fn copy_to_duckdb(client: &mut Client, sql: &str, connection: &duckdb::Connection, name: &str) {
    let result = client.run(sql).unwrap();
    crate::common::text_table(connection, name, &result.columns, result.rows);
}
