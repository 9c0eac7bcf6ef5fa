//! BigQuery as the suite drives it: local-bigquery (scripts/bigquery-venv.sh) behind
//! tests/standins/bigquery/serve.py, one server per case. A place is a dataset; the events are
//! read from the dataset `atomic`, copied there once per server in BigQuery's layout:
//! self-describing columns once per full schema version, contexts as REPEATED RECORD and
//! unstruct events as RECORD with snake_case fields, `revenue` NUMERIC.

use std::path::Path;

use serde_json::Value;
use sigbatch::dialect::{BigQuery as BigQueryDialect, Dialect};
use sigbatch::project::profiles::bigquery::{BigQueryAuth, BigQuerySettings};
use sigbatch::project::property::camel_to_snake;
use sigbatch::secret::Secret;
use sigbatch::warehouse::bigquery::Client;

use super::{Harness, Table};
use crate::common::standin::StandIn;
use crate::common::{self, TempProject};

pub const TOKEN: &str = "ya29.test-token-secret";
/// Rows per statement when copying events in (a JSON text of a few MB).
const COPY_BATCH_ROWS: usize = 10_000;
/// The context the compat case's events store in two schema versions.
pub const SPLIT: &str = "contexts_nl_basjes_yauaa_context_1";

/// An emulator of one test's own (its data in the stand-in's directory); stopped when dropped.
pub struct Server {
    pub port: u16,
    _standin: StandIn,
}

impl Server {
    pub fn start() -> Server {
        let python = common::venv_python("bigquery-venv.sh");
        let standin = StandIn::start("bigquery", &python, &[TOKEN]);
        Server {
            port: standin.port,
            _standin: standin,
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

    /// A REST resource of the emulator (`path` under /bigquery/v2/projects/local/), as JSON.
    pub fn resource(&self, path: &str) -> Value {
        let text = ureq::get(&format!(
            "http://127.0.0.1:{}/bigquery/v2/projects/local/{path}",
            self.port
        ))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// BigQuery: one emulator; the fixture's events in `atomic`, with the yauaa context split over
/// `_1_0_0` and `_1_0_2` when the first place to load them is the compat case's.
pub struct BigQuery {
    pub server: Server,
    events_loaded: bool,
}

impl Harness for BigQuery {
    const KIND: &'static str = "bigquery";
    const SYNTAXES: &'static [&'static str] = &["bigquery"];

    fn start() -> BigQuery {
        BigQuery {
            server: Server::start(),
            events_loaded: false,
        }
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_string()]
    }

    fn profile(&mut self, _project: &TempProject, place: &str) -> String {
        self.server.profile_yaml(place)
    }

    fn load_fixture_events(&mut self, _project: &TempProject, place: &str) {
        if self.events_loaded {
            return;
        }
        let events = duckdb::Connection::open_in_memory().unwrap();
        common::stage_fixture_events(&events);
        let split = place.starts_with("compat").then_some(SPLIT);
        copy_events(
            &mut self.server.client("atomic"),
            &events,
            "atomic.events",
            "atomic",
            "events",
            split,
        );
        self.events_loaded = true;
    }

    fn load_events_csv(&mut self, _project: &TempProject, _place: &str, csv: &Path, schema: &str) {
        let events = duckdb::Connection::open_in_memory().unwrap();
        sigbatch::stage_csv::stage_events_csv(&events, csv, "atomic", "events").unwrap();
        copy_events(
            &mut self.server.client(schema),
            &events,
            "atomic.events",
            schema,
            "events",
            None,
        );
    }

    fn read(&mut self, _project: &TempProject, place: &str, table: &str) -> Table {
        read(
            &mut self.server.client(place),
            &format!("SELECT * FROM `{place}_derived`.`{table}`"),
        )
    }

    fn written_tables(&mut self, _project: &TempProject, place: &str) -> usize {
        let mut client = self.server.client(place);
        let mut count = 0;
        for suffix in ["derived", "snowplow_manifest", "scratch"] {
            let listed = client.run(&format!(
                "SELECT COUNT(*) FROM `local`.`region-us`.INFORMATION_SCHEMA.SCHEMATA WHERE schema_name = '{place}_{suffix}'"
            ));
            count += listed.unwrap().rows[0][0]
                .as_deref()
                .unwrap()
                .parse::<usize>()
                .unwrap();
        }
        count
    }

    fn lease(&mut self, _project: &TempProject, place: &str) -> Option<Vec<Option<String>>> {
        let rows = self
            .server
            .client(place)
            .run(&format!(
                "SELECT holder, CAST(pid AS STRING) FROM `{place}_snowplow_manifest`.`ecommerce_transaction_interactions_features_1_sigbatch_lease`"
            ))
            .ok()?;
        rows.rows.first().cloned()
    }

    /// Two stops (each costs a minute or two on the emulator; every k runs on DuckDB under
    /// BigQuery's rules, tests/warehouse_duckdb.rs): among the DDL before the window's
    /// transaction, and just before its COMMIT.
    fn stops(statements: usize) -> Vec<usize> {
        vec![statements / 3, statements - 1]
    }

    fn refused_profile(&mut self, _project: &TempProject, place: &str) -> (String, String) {
        let wrong = "ya29.wrong-token-secret";
        (
            self.server.profile_yaml(place).replace(TOKEN, wrong),
            wrong.to_string(),
        )
    }

    /// The compat events really are split over the two versions; bytes come from the job
    /// statistics (0 on the emulator), per run and per stage in the artifact.
    fn after_compat(&mut self, project: &TempProject, _place: &str, progress: &str) {
        let counts = self
            .server
            .client("atomic")
            .run(&format!(
                "SELECT COUNTIF(ARRAY_LENGTH({SPLIT}_0_0) > 0), COUNTIF(ARRAY_LENGTH({SPLIT}_0_2) > 0) FROM atomic.events"
            ))
            .unwrap();
        let count = |i: usize| {
            counts.rows[0][i]
                .as_deref()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        };
        assert!(count(0) > 5 && count(1) > 5, "{:?}", counts.rows);
        // the jobs' statistics (the stand-in's estimates) reach the progress lines
        assert!(progress.contains(" bytes processed, "), "{progress}");
        let artifact =
            std::fs::read_to_string(project.path().join("target/run_results.json")).unwrap();
        let artifact: Value = serde_json::from_str(&artifact).unwrap();
        // the artifact of the last run (each run rewrites it): its stages with the bytes their
        // jobs processed and billed (at least BigQuery's minimum where a statement reads a table)
        let stages = artifact["windows"][0]["stages"].as_array().unwrap();
        let bytes = |stage: &Value, field: &str| stage[field].as_u64().unwrap();
        assert!(
            stages.iter().any(|s| bytes(s, "bytes_processed") > 0),
            "{artifact}"
        );
        for stage in stages {
            assert!(
                bytes(stage, "bytes_billed") >= bytes(stage, "bytes_processed"),
                "{stage}"
            );
        }
        let stage = &stages[0];
        assert!(
            stage["statement_ids"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty()),
            "{stage}"
        );
        // each window is two scripts (and their child jobs read back) and a count: the
        // statements' job ids are the scripts' child jobs, one per statement
        super::assert_windows_as_scripts(project, |id| id.starts_with("script_job_"));
    }

    /// Derived tables are partitioned by day and clustered by the key.
    fn after_exact(&mut self, _project: &TempProject, place: &str) {
        let table = self.server.resource(&format!(
            "datasets/{place}_derived/tables/ecommerce_transaction_interactions_features_1_filtered_events"
        ));
        assert_eq!(table["timePartitioning"]["field"], "event_date", "{table}");
        assert_eq!(table["clustering"]["fields"][0], "domain_userid", "{table}");
    }

    /// The dry run shows BigQuery's estimate, as `plan --json` does. The stand-in estimates
    /// bytes as BigQuery bills them (tests/standins/bigquery/serve.py): nothing for a statement
    /// that reads no table, the bytes a column holds for a query of that column, more for more
    /// columns, fewer when the WHERE clause bounds the partitioning column `load_tstamp`.
    fn after_dry_run(&mut self, project: &TempProject, place: &str, statements: &str) {
        assert!(
            statements.contains("-- estimated bytes processed: 0"),
            "{statements}"
        );
        assert!(
            statements.contains("BEGIN")
                || statements.contains(&format!("INSERT INTO `{place}_scratch`")),
            "{statements}"
        );
        let plan = common::sigbatch_on(project, &["plan", "--json"], super::NOW, &[TOKEN]);
        assert!(
            plan.status.success(),
            "{}",
            String::from_utf8_lossy(&plan.stderr)
        );
        let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
        let planned = plan["estimated_bytes"].as_u64().unwrap();
        let mut client = self.server.client("atomic");
        let later = "load_tstamp >= TIMESTAMP '2025-01-04'";
        let mut estimate = |sql: &str| client.dry_run(sql).unwrap();
        let one = estimate("SELECT event_id FROM atomic.events");
        let two = estimate("SELECT event_id, load_tstamp FROM atomic.events");
        let all = estimate("SELECT * FROM atomic.events");
        let pruned = estimate(&format!("SELECT event_id FROM atomic.events WHERE {later}"));
        // BigQuery's sizes: a STRING 2 bytes and its UTF-8 length, a TIMESTAMP 8; the events'
        // partitions are days, so the bound at midnight keeps exactly the later events, and the
        // column it bounds is read too
        let held = client
            .run(&format!(
                "SELECT SUM(2 + BYTE_LENGTH(event_id)), 8 * COUNT(load_tstamp), \
                 SUM(IF({later}, 2 + BYTE_LENGTH(event_id) + 8, 0)) FROM atomic.events"
            ))
            .unwrap();
        let held: Vec<u64> = held.rows[0]
            .iter()
            .map(|cell| cell.as_deref().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            (one, two, pruned),
            (held[0], held[0] + held[1], held[2]),
            "the estimates of event_id, of it and load_tstamp, of the later event_ids and their load_tstamp"
        );
        assert!(
            0 < pruned && pruned < one && two < planned && planned < all,
            "the plan's read ({planned} bytes) against one column ({one}), two ({two}), one \
             column from {later} ({pruned}), every column ({all})"
        );
    }
}

/// A query's rows as text (lower-case names; lists as their sorted items joined by ", ").
pub fn read(client: &mut Client, sql: &str) -> Table {
    let result = client.run(sql).unwrap();
    let columns = result.columns.iter().map(|c| c.to_lowercase()).collect();
    let rows = result
        .rows
        .into_iter()
        .map(|row| row.into_iter().map(|c| c.map(common::list_text)).collect())
        .collect();
    (columns, rows)
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
    fn definition(&self, d: &BigQueryDialect) -> String {
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

    /// A DuckDB cell as this column's entry in a row's JSON (`None`: left out, NULL): scalars as
    /// their text; a record as the list of its fields' texts (null where missing), in a list of
    /// one record, or of each item's record for a context.
    fn cell(&self, cell: Option<&str>) -> Option<Value> {
        let (fields, repeated, json) = match (&self.kind, cell) {
            (Kind::Scalar(_), cell) => return cell.map(|text| Value::String(text.into())),
            (Kind::Record { repeated, .. }, None) => return repeated.then(|| Value::Array(vec![])),
            (Kind::Record { fields, repeated }, Some(json)) => (fields, *repeated, json),
        };
        let value: Value = serde_json::from_str(json).unwrap();
        let record = |object: &Value| {
            let leaves = fields
                .iter()
                .map(|(field, _)| leaf(object, field).map_or(Value::Null, Value::String));
            Value::Array(leaves.collect())
        };
        match (&value, repeated) {
            (Value::Array(items), true) => Some(Value::Array(items.iter().map(record).collect())),
            (Value::Null, true) => Some(Value::Array(vec![])),
            (Value::Null, false) => None,
            (object, _) => Some(Value::Array(vec![record(object)])),
        }
    }

    /// The value of this column from `event`, a row's JSON whose entry `key` `cell` made.
    fn expression(&self, d: &BigQueryDialect, key: &str) -> String {
        match &self.kind {
            Kind::Scalar(t) => format!("CAST(JSON_VALUE(event, '$.{key}') AS {t})"),
            Kind::Record { fields, repeated } => {
                let leaves: Vec<String> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, (name, t))| {
                        format!(
                            "CAST(JSON_VALUE(item, '$[{i}]') AS {t}) AS {}",
                            d.ident(name)
                        )
                    })
                    .collect();
                let records = format!(
                    "SELECT AS STRUCT {} FROM UNNEST(JSON_QUERY_ARRAY(event, '$.{key}')) AS item \
                     WITH OFFSET AS position",
                    leaves.join(", ")
                );
                if *repeated {
                    format!("ARRAY({records} ORDER BY position)")
                } else {
                    format!("({records})")
                }
            }
        }
    }
}

fn struct_type(d: &BigQueryDialect, fields: &[(String, &'static str)]) -> String {
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
    let d = BigQueryDialect::default();
    let (described, rows) = common::table_as_text(connection, source);
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
    // each batch goes as one string literal holding its rows as a JSON array (column i as key
    // `ci`, NULL cells left out), expanded here: the emulator parses one long literal far faster
    // than a VALUES list of many small ones (case 11's stream: about 10,000 events a second,
    // where VALUES batches of 100 rows loaded about 150)
    let expressions: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| column.expression(&d, &format!("c{i}")))
        .collect();
    let sources: Vec<usize> = columns
        .iter()
        .map(|column| {
            described
                .iter()
                .position(|(n, _)| *n == column.source)
                .unwrap()
        })
        .collect();
    let objects: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(number, row)| {
            let odd = number % 2 == 1;
            let cells = columns.iter().enumerate().filter_map(|(i, column)| {
                // split: odd rows in the newer version, even rows in the older one
                let in_this_version = match split {
                    Some(s) if s == column.source => column.name.ends_with("_0_2") == odd,
                    _ => true,
                };
                let cell = row[sources[i]].as_deref().filter(|_| in_this_version);
                Some((format!("c{i}"), column.cell(cell)?))
            });
            Value::Object(cells.collect())
        })
        .collect();
    for batch in objects.chunks(COPY_BATCH_ROWS) {
        let json = Value::Array(batch.to_vec()).to_string();
        client
            .run(&format!(
                "INSERT INTO {relation} ({}) SELECT {} FROM UNNEST(JSON_QUERY_ARRAY({})) AS event",
                names.join(", "),
                expressions.join(", "),
                d.string_literal(&json)
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

/// A jobs.query is resent with its `requestId`, which BigQuery (and the stand-in) runs once.
impl super::network::Networked for BigQuery {
    const WIRE: super::network::Wire = super::network::Wire {
        statement: |d| {
            (d.method == "POST" && d.target.ends_with("/queries"))
                .then(|| super::network::body_field(d, "query"))
                .flatten()
        },
        idempotency_key: |d| super::network::body_field(d, "requestId"),
    };
    const FAULT_ONE_IN: u64 = 3;
    const SEED: u64 = 0x5eed_b16a;
    const RANDOM_KILLS: usize = 0;
    /// A run of the emulator is seconds a window: one cutoff, and the last run killed once.
    const WORKSPACE_CUTOFFS: usize = 1;
    const WORKSPACE_KILLS: usize = 1;
    /// The emulator commits one transaction at a time: one of two runs' fails to commit.
    const CONCURRENT_PLACES: bool = false;
    const KILLED_DURING: fn(&str, &str, &str) -> bool = |method, target, body| {
        method == "POST"
            && target.ends_with("/queries")
            && serde_json::from_str::<serde_json::Value>(body).is_ok_and(|b| {
                b["query"]
                    .as_str()
                    .is_some_and(super::killed::inserts_daily_aggregates)
            })
    };

    fn scratch_schema(place: &str) -> String {
        format!("`{place}_scratch`")
    }

    fn lease_of(place: &str, group: &str) -> String {
        format!("`{place}_snowplow_manifest`.`{group}_sigbatch_lease`")
    }

    fn try_sql(&mut self, place: &str, sql: &str) -> Result<super::network::Rows, String> {
        let result = self.server.client(place).run(sql);
        result.map(|result| result.rows).map_err(|e| e.to_string())
    }

    /// The tables of the place's scratch dataset, as the REST API lists them (a dataset not
    /// found lists none).
    fn shared_read_tables(&mut self, place: &str) -> Vec<String> {
        let answer = ureq::get(&format!(
            "http://127.0.0.1:{}/bigquery/v2/projects/local/datasets/{place}_scratch/tables?maxResults=1000",
            self.server.port
        ))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call();
        let listed: Value = match answer {
            Ok(mut answer) => {
                serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap()
            }
            Err(ureq::Error::StatusCode(404)) => return Vec::new(),
            Err(error) => panic!("listing the tables of {place}_scratch: {error}"),
        };
        let mut names: Vec<String> = listed["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|table| table["tableReference"]["tableId"].as_str())
            .map(str::to_lowercase)
            .filter(|name| name.starts_with("sigbatch_shared_events"))
            .collect();
        names.sort();
        names
    }

    /// The killed run's sessions are gone from the stand-in (their transactions rolled back).
    fn after_takeover(&mut self, ended: &[String]) {
        super::killed::assert_sessions_ended(self.server.port, TOKEN, ended);
    }
}
