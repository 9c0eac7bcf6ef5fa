//! `profiles.yml` in dbt's format, so an existing dbt profile works unchanged: the loader, the
//! `Output` it resolves a target to, and one file per adapter (`duckdb.rs`, `snowflake.rs`,
//! `bigquery.rs`, `databricks.rs`) reading its own fields through `fields.rs`.
//!
//! Looked up in `--profiles-dir`, then `SIGBATCH_PROFILES_DIR`, then the project directory, then
//! `~/.dbt/`. String values may use dbt's `{{ env_var('NAME') }}` / `{{ env_var('NAME', 'default') }}`.

pub mod bigquery;
pub mod databricks;
pub mod duckdb;
mod fields;
mod kind;
pub mod snowflake;

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use self::bigquery::BigQuerySettings;
use self::databricks::DatabricksSettings;
pub use self::duckdb::{DuckDbSettings, is_setting_name};
use self::fields::OutputFields;
pub use self::fields::expand_env_vars;
pub use self::kind::WarehouseKind;
use self::snowflake::SnowflakeSettings;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub profile: String,
    pub name: String,
    pub output: Output,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    DuckDb {
        path: PathBuf,
        schema: String,
        settings: DuckDbSettings,
    },
    Snowflake(SnowflakeSettings),
    BigQuery(BigQuerySettings),
    Databricks(DatabricksSettings),
}

impl Output {
    pub fn kind(&self) -> WarehouseKind {
        match self {
            Output::DuckDb { .. } => WarehouseKind::DuckDb,
            Output::Snowflake(_) => WarehouseKind::Snowflake,
            Output::BigQuery(_) => WarehouseKind::BigQuery,
            Output::Databricks(_) => WarehouseKind::Databricks,
        }
    }

    pub fn schema(&self) -> &str {
        match self {
            Output::DuckDb { schema, .. } => schema,
            Output::Databricks(settings) => &settings.schema,
            Output::Snowflake(settings) => &settings.schema,
            Output::BigQuery(settings) => &settings.dataset,
        }
    }

    /// Where the output is, for progress lines: a file, or a URL and database (no secrets).
    pub fn location(&self) -> String {
        match self {
            Output::DuckDb { path, .. } => path.display().to_string(),
            Output::Snowflake(s) => format!("{} database {}", s.base_url, s.database),
            Output::BigQuery(s) => format!("{} project {}", s.api_endpoint, s.project),
            Output::Databricks(s) => format!("{} warehouse {}", s.base_url, s.warehouse_id),
        }
    }

    /// What identifies the store the target's tables live in, so that a workspace can tell
    /// whether two targets could write the same tables: the DuckDB file (canonical where it
    /// exists, so `./w.duckdb` and `w.duckdb` are one), else the service and database.
    pub fn store(&self) -> String {
        match self {
            Output::DuckDb { path, .. } => std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
            Output::Snowflake(_) | Output::BigQuery(_) | Output::Databricks(_) => self.location(),
        }
    }

    /// The OpenLineage dataset namespace of the data source (its naming spec, and what the
    /// Airflow provider and dbt integration send): `duckdb://{absolute file path}`,
    /// `snowflake://{account}` (lower case, without `.snowflakecomputing.com`), `bigquery`,
    /// `databricks://{workspace host}`.
    pub fn lineage_namespace(&self) -> String {
        match self {
            Output::DuckDb { path, .. } => format!(
                "duckdb://{}",
                std::path::absolute(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
            ),
            Output::Snowflake(s) => format!(
                "snowflake://{}",
                s.account
                    .to_lowercase()
                    .trim_end_matches(".snowflakecomputing.com")
            ),
            Output::BigQuery(_) => "bigquery".to_string(),
            Output::Databricks(s) => {
                let host = s.base_url.split("://").last().unwrap_or(&s.base_url);
                format!("databricks://{}", host.split('/').next().unwrap_or(host))
            }
        }
    }

    /// The database file and the settings to open it with, for a DuckDB output.
    pub fn duckdb(&self) -> Option<(&Path, &DuckDbSettings)> {
        match self {
            Output::DuckDb { path, settings, .. } => Some((path, settings)),
            Output::Snowflake(_) | Output::BigQuery(_) | Output::Databricks(_) => None,
        }
    }

    /// The database the schema is in, as the warehouse names it: the Snowflake database, the
    /// BigQuery project, the Databricks catalog (none if the profile names none), and for DuckDB
    /// the catalog it names after the database file's stem.
    pub fn database(&self) -> Option<String> {
        match self {
            Output::DuckDb { path, .. } => Some(
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            Output::Snowflake(settings) => Some(settings.database.clone()),
            Output::BigQuery(settings) => Some(settings.project.clone()),
            Output::Databricks(settings) => settings.catalog.clone(),
        }
    }

    /// Tags every statement with `tag` where the warehouse takes a tag (Snowflake's
    /// `QUERY_TAG`, over the profile's `query_tag`); elsewhere nothing changes.
    pub fn set_query_tag(&mut self, tag: &str) {
        match self {
            Output::Snowflake(settings) => settings.query_tag = Some(tag.to_string()),
            Output::DuckDb { .. } | Output::BigQuery(_) | Output::Databricks(_) => {}
        }
    }
}

pub fn find_profiles_file(explicit_dir: Option<&Path>, project_dir: &Path) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = explicit_dir {
        candidates.push(dir.to_path_buf());
    } else {
        if let Some(dir) = std::env::var_os("SIGBATCH_PROFILES_DIR") {
            candidates.push(PathBuf::from(dir));
        }
        candidates.push(project_dir.to_path_buf());
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".dbt"));
        }
    }
    for dir in &candidates {
        let file = dir.join("profiles.yml");
        if file.is_file() {
            return Ok(file);
        }
    }
    let searched: Vec<String> = candidates
        .iter()
        .map(|d| d.join("profiles.yml").display().to_string())
        .collect();
    Err(Error::invalid("profiles", format!("no profiles.yml found (looked in {})", searched.join(", ")))
        .with_hint("pass --profiles-dir, set SIGBATCH_PROFILES_DIR, or put profiles.yml in the project directory"))
}

pub fn load_target(
    file: &Path,
    profile: &str,
    target: Option<&str>,
    project_dir: &Path,
) -> Result<Target> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::file(file, format!("cannot read: {e}")))?;
    let root: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| Error::file(file, format!("malformed YAML: {e}")))?;
    let entry = root.get(profile).ok_or_else(|| {
        Error::file(file, format!("has no profile `{profile}`"))
            .with_hint("the project's `profile:` must name a top-level key of profiles.yml")
    })?;
    let name = match target {
        Some(t) => t.to_string(),
        None => entry
            .get("target")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::file(file, format!("profile `{profile}` has no default `target`"))
                    .with_hint("pass --target")
            })?,
    };
    let output = entry
        .get("outputs")
        .and_then(|o| o.get(name.as_str()))
        .ok_or_else(|| {
            Error::file(
                file,
                format!("profile `{profile}` has no output `{name}` under `outputs`"),
            )
        })?;
    let fields = OutputFields::new(output, file, profile, &name);
    let kind = fields
        .get("type")?
        .ok_or_else(|| Error::file(file, format!("output `{name}` has no `type`")))?;
    let kind = WarehouseKind::from_name(&kind).ok_or_else(|| {
        Error::file(
            file,
            format!("output `{name}` has unsupported type `{kind}`"),
        )
        .with_hint(format!(
            "supported: {}",
            WarehouseKind::listed(&WarehouseKind::ALL, "and")
        ))
    })?;
    let fields = fields.of_kind(kind);
    let output = match kind {
        WarehouseKind::DuckDb => {
            let duckdb::DuckDbOutput {
                path,
                schema,
                settings,
            } = duckdb::parse(&fields, project_dir)?;
            Output::DuckDb {
                path,
                schema,
                settings,
            }
        }
        WarehouseKind::Snowflake => Output::Snowflake(snowflake::parse(&fields, project_dir)?),
        WarehouseKind::BigQuery => Output::BigQuery(bigquery::parse(&fields, project_dir)?),
        WarehouseKind::Databricks => Output::Databricks(databricks::parse(&fields)?),
    };
    Ok(Target {
        profile: profile.to_string(),
        name,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_type_names_the_supported_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            "p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n",
        )
        .unwrap();
        let error = load_target(&file, "p", None, Path::new("/proj")).unwrap_err();
        assert!(
            error.to_string().contains("unsupported type `postgres`"),
            "{error}"
        );
        assert_eq!(
            error.hint(),
            Some("supported: duckdb, snowflake, bigquery and databricks")
        );
    }

    fn output(lines: &str) -> Output {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            format!("p:\n  target: dev\n  outputs:\n    dev:\n{lines}"),
        )
        .unwrap();
        load_target(&file, "p", None, Path::new("/proj"))
            .unwrap()
            .output
    }

    #[test]
    fn each_output_answers_for_its_warehouse() {
        let mut duckdb = output("      type: duckdb\n      path: w.duckdb\n");
        let before = duckdb.clone();
        duckdb.set_query_tag("tag");
        assert_eq!(duckdb, before);
        assert_eq!(duckdb.kind(), WarehouseKind::DuckDb);
        assert_eq!(duckdb.database().as_deref(), Some("w"));
        assert_eq!(
            duckdb.duckdb().map(|(path, _)| path),
            Some(Path::new("/proj/w.duckdb"))
        );

        let mut snowflake = output(
            "      type: snowflake\n      account: a\n      user: u\n      password: p\n      \
             database: analytics\n      schema: s\n      query_tag: profile\n",
        );
        snowflake.set_query_tag("var");
        let Output::Snowflake(settings) = &snowflake else {
            panic!("not snowflake: {snowflake:?}")
        };
        assert_eq!(settings.query_tag.as_deref(), Some("var"));
        assert_eq!(snowflake.kind(), WarehouseKind::Snowflake);
        assert_eq!(snowflake.database().as_deref(), Some("analytics"));
        assert!(snowflake.duckdb().is_none());

        let databricks = "      type: databricks\n      host: h\n      http_path: /sql/1.0/warehouses/w\n      \
                          token: t\n      schema: s\n";
        assert_eq!(output(databricks).kind(), WarehouseKind::Databricks);
        assert_eq!(output(databricks).database(), None);
        assert_eq!(
            output(&format!("{databricks}      catalog: main\n"))
                .database()
                .as_deref(),
            Some("main")
        );
    }

    #[test]
    fn the_lineage_namespace_follows_openlineage_dataset_naming() {
        let namespace = |lines: &str| output(lines).lineage_namespace();
        assert_eq!(
            namespace("      type: duckdb\n      path: w.duckdb\n"),
            "duckdb:///proj/w.duckdb"
        );
        assert_eq!(
            namespace(
                "      type: snowflake\n      account: MyOrg-Analytics.snowflakecomputing.com\n      \
                 user: u\n      password: p\n      database: d\n      schema: s\n"
            ),
            "snowflake://myorg-analytics"
        );
        assert_eq!(
            namespace(
                "      type: bigquery\n      method: oauth\n      project: p\n      dataset: d\n"
            ),
            "bigquery"
        );
        assert_eq!(
            namespace(
                "      type: databricks\n      host: dbc-1.cloud.databricks.com\n      \
                 http_path: /sql/1.0/warehouses/w\n      token: t\n      schema: s\n"
            ),
            "databricks://dbc-1.cloud.databricks.com"
        );
    }
}
