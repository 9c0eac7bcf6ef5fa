//! `profiles.yml` in dbt's format, so an existing dbt profile works unchanged.
//!
//! Looked up in `--profiles-dir`, then `SIGBATCH_PROFILES_DIR`, then the project directory, then
//! `~/.dbt/`. String values may use dbt's `{{ env_var('NAME') }}` / `{{ env_var('NAME', 'default') }}`.
//! A DuckDB output takes dbt-duckdb's `threads` and `settings:`, so a large backfill can run
//! inside a `memory_limit` by spilling to a `temp_directory`.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::bigquery_profile::{self, BigQuerySettings};
use super::databricks_profile::{self, DatabricksSettings};
use super::group::Scalar;
use super::snowflake_profile::{self, SnowflakeSettings};
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

/// What a DuckDB connection is told with `SET` before it runs anything else.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DuckDbSettings {
    pub threads: Option<u32>,
    /// `settings:` in the file's order; every name passed `is_setting_name`.
    pub values: Vec<(String, Scalar)>,
}

/// Whether `name` can stand as the identifier in `SET name = value`.
pub fn is_setting_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Output {
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

    pub fn kind(&self) -> &str {
        match self {
            Output::DuckDb { .. } => "duckdb",
            Output::Snowflake(_) => "snowflake",
            Output::BigQuery(_) => "bigquery",
            Output::Databricks(_) => "databricks",
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
    let field = |key: &str| -> Result<Option<String>> {
        match output.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => expand_env_vars(s).map(Some).map_err(|message| {
                Error::file(file, format!("output `{name}` field `{key}`: {message}"))
            }),
            Some(other) => Ok(Some(
                serde_yaml_ng::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )),
        }
    };
    let kind = field("type")?
        .ok_or_else(|| Error::file(file, format!("output `{name}` has no `type`")))?;
    let output = match kind.as_str() {
        "duckdb" => {
            let path = field("path")?
                .ok_or_else(|| Error::file(file, format!("output `{name}` has no `path`")))?;
            let path = PathBuf::from(path);
            let path = if path.is_absolute() {
                path
            } else {
                project_dir.join(path)
            };
            let invalid = |message: String, hint: &str| {
                Error::file(
                    file,
                    format!("profile `{profile}` target `{name}`: {message}"),
                )
                .with_hint(hint)
            };
            let threads = match field("threads")? {
                None => None,
                Some(text) => match text.parse::<u32>() {
                    Ok(threads) if threads >= 1 => Some(threads),
                    _ => {
                        return Err(invalid(
                            format!("`threads` must be a whole number of at least 1, not `{text}`"),
                            "set `threads: 4` (DuckDB's worker threads), or leave it out for one per core",
                        ));
                    }
                },
            };
            let values = match output.get("settings") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Mapping(entries)) => entries
                    .iter()
                    .map(|(key, value)| duckdb_setting(key, value, project_dir))
                    .collect::<std::result::Result<Vec<_>, String>>()
                    .map_err(|message| {
                        invalid(
                            message,
                            "`settings:` maps DuckDB setting names to a string, number or boolean, e.g. `memory_limit: 4GB`",
                        )
                    })?,
                Some(_) => {
                    return Err(invalid(
                        "`settings` must be a mapping of DuckDB setting names to values".into(),
                        "write it as `settings:` followed by indented `name: value` lines, e.g. `memory_limit: 4GB`",
                    ));
                }
            };
            Output::DuckDb {
                path,
                schema: field("schema")?.unwrap_or_else(|| "main".into()),
                settings: DuckDbSettings { threads, values },
            }
        }
        "snowflake" => Output::Snowflake(snowflake_profile::parse(
            &OutputFields::new(&field, file, "snowflake", &name),
            project_dir,
        )?),
        "bigquery" => Output::BigQuery(bigquery_profile::parse(
            &OutputFields::new(&field, file, "bigquery", &name),
            project_dir,
        )?),
        "databricks" => Output::Databricks(databricks_profile::parse(&OutputFields::new(
            &field,
            file,
            "databricks",
            &name,
        ))?),
        other => {
            return Err(Error::file(
                file,
                format!("output `{name}` has unsupported type `{other}`"),
            )
            .with_hint("supported: duckdb, snowflake, bigquery and databricks"));
        }
    };
    Ok(Target {
        profile: profile.to_string(),
        name,
        output,
    })
}

/// One entry of a DuckDB output's `settings:`; strings expand `env_var`, and a relative
/// `temp_directory` is taken from the project directory, like `path`.
fn duckdb_setting(
    key: &Value,
    value: &Value,
    project_dir: &Path,
) -> std::result::Result<(String, Scalar), String> {
    let name = match key {
        Value::String(name) if is_setting_name(name) => name.clone(),
        Value::String(name) => return Err(not_a_setting_name(name)),
        other => {
            let shown = serde_yaml_ng::to_string(other).unwrap_or_default();
            return Err(not_a_setting_name(shown.trim()));
        }
    };
    let value = match value {
        Value::String(text) => {
            let text =
                expand_env_vars(text).map_err(|message| format!("setting `{name}`: {message}"))?;
            if name.eq_ignore_ascii_case("temp_directory")
                && Path::new(&text).is_relative()
                && !text.is_empty()
            {
                Scalar::Text(project_dir.join(text).display().to_string())
            } else {
                Scalar::Text(text)
            }
        }
        Value::Bool(flag) => Scalar::Boolean(*flag),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Scalar::Integer(integer)
            } else if number.is_u64() {
                // a whole number past i64 stays exact as text; DuckDB casts it
                Scalar::Text(number.to_string())
            } else {
                match number.as_f64() {
                    Some(double) if double.is_finite() => Scalar::Double(double),
                    _ => {
                        return Err(format!(
                            "setting `{name}` has the value `{number}`, which is not a finite number"
                        ));
                    }
                }
            }
        }
        other => {
            let shown = serde_yaml_ng::to_string(other).unwrap_or_default();
            return Err(format!(
                "setting `{name}` must be a string, number or boolean, not `{}`",
                shown.trim()
            ));
        }
    };
    Ok((name, value))
}

fn not_a_setting_name(name: &str) -> String {
    format!(
        "setting `{name}` is not a DuckDB setting name (letters, digits and `_`, not starting with a digit)"
    )
}

/// Expands dbt's `{{ env_var('NAME') }}` and `{{ env_var('NAME', 'default') }}`; any other
/// template expression is refused rather than passed through as text.
pub fn expand_env_vars(text: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("`{text}` has an unclosed `{{{{`"))?
            + start;
        let inner = rest[start + 2..end].trim();
        let args = inner
            .strip_prefix("env_var(")
            .and_then(|a| a.strip_suffix(')'))
            .ok_or_else(|| format!("`{inner}` is not supported; only env_var('NAME') is"))?;
        let parts: Vec<String> = args
            .split(',')
            .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
            .collect();
        let value = match (std::env::var(&parts[0]), parts.get(1)) {
            (Ok(value), _) => value,
            (Err(_), Some(default)) => default.clone(),
            (Err(_), None) => {
                return Err(format!("environment variable `{}` is not set", parts[0]));
            }
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One warehouse output's fields as its profile parser reads them: values with `env_var`
/// expanded, and errors that name the file and the target.
pub(crate) struct OutputFields<'a> {
    field: &'a dyn Fn(&str) -> Result<Option<String>>,
    file: &'a Path,
    /// `<type> target `<name>``, the start of every error.
    target: String,
}

impl<'a> OutputFields<'a> {
    fn new(
        field: &'a dyn Fn(&str) -> Result<Option<String>>,
        file: &'a Path,
        kind: &str,
        target: &str,
    ) -> Self {
        OutputFields {
            field,
            file,
            target: format!("{kind} target `{target}`"),
        }
    }

    pub fn get(&self, key: &str) -> Result<Option<String>> {
        (self.field)(key)
    }

    pub fn invalid(&self, message: impl std::fmt::Display, hint: &str) -> Error {
        Error::file(self.file, format!("{}: {message}", self.target)).with_hint(hint)
    }

    /// A field that must be present and not empty.
    pub fn required(&self, key: &str, hint: &str) -> Result<String> {
        self.get(key)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.invalid(format!("`{key}` is required"), hint))
    }

    /// A whole number, if given; `hint` shows good values.
    pub fn number(&self, key: &str, hint: &str) -> Result<Option<u64>> {
        self.get(key)?
            .map(|text| {
                text.parse().map_err(|_| {
                    self.invalid(
                        format!("`{key}` must be a whole number, not `{text}`"),
                        hint,
                    )
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_expand_with_defaults_and_missing_ones_are_named() {
        assert_eq!(
            expand_env_vars("{{ env_var('SIGBATCH_TEST_UNSET_X', 'fallback') }}.db").unwrap(),
            "fallback.db"
        );
        let error = expand_env_vars("{{ env_var('SIGBATCH_TEST_UNSET_Y') }}").unwrap_err();
        assert!(error.contains("SIGBATCH_TEST_UNSET_Y"));
        assert!(expand_env_vars("{{ run_query('x') }}").is_err());
    }

    #[test]
    fn a_duckdb_target_resolves_relative_to_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: w.duckdb\n",
        )
        .unwrap();
        let target = load_target(&file, "p", None, Path::new("/proj")).unwrap();
        assert_eq!(
            target.output,
            Output::DuckDb {
                path: "/proj/w.duckdb".into(),
                schema: "main".into(),
                settings: DuckDbSettings::default(),
            }
        );
        let error = load_target(&file, "p", Some("prod"), Path::new("/proj"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("no output `prod`"), "{error}");
    }

    fn write_profile(output_lines: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            format!(
                "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: w.duckdb\n{output_lines}"
            ),
        )
        .unwrap();
        (dir, file)
    }

    fn duckdb_settings(output_lines: &str) -> Result<DuckDbSettings> {
        let (_dir, file) = write_profile(output_lines);
        match load_target(&file, "p", None, Path::new("/proj"))?.output {
            Output::DuckDb { settings, .. } => Ok(settings),
            other => panic!("not a duckdb output: {other:?}"),
        }
    }

    #[test]
    fn duckdb_threads_and_settings_are_read_in_file_order() {
        let settings = duckdb_settings(
            "      threads: 2\n      settings:\n        memory_limit: 1GB\n        temp_directory: spill\n        \
             preserve_insertion_order: false\n        checkpoint_threshold: \"it's 16MB\"\n        \
             max_vacuum_tasks: 100\n        progress_bar_time: 2.5\n",
        )
        .unwrap();
        assert_eq!(settings.threads, Some(2));
        assert_eq!(
            settings.values,
            vec![
                ("memory_limit".to_string(), Scalar::Text("1GB".into())),
                (
                    "temp_directory".to_string(),
                    Scalar::Text("/proj/spill".into())
                ),
                (
                    "preserve_insertion_order".to_string(),
                    Scalar::Boolean(false)
                ),
                (
                    "checkpoint_threshold".to_string(),
                    Scalar::Text("it's 16MB".into())
                ),
                ("max_vacuum_tasks".to_string(), Scalar::Integer(100)),
                ("progress_bar_time".to_string(), Scalar::Double(2.5)),
            ]
        );
        let absolute =
            duckdb_settings("      settings:\n        temp_directory: /var/spill\n").unwrap();
        assert_eq!(
            absolute.values,
            vec![(
                "temp_directory".to_string(),
                Scalar::Text("/var/spill".into())
            )]
        );
        assert_eq!(duckdb_settings("").unwrap(), DuckDbSettings::default());
    }

    #[test]
    fn env_vars_expand_in_threads_and_settings() {
        let settings = duckdb_settings(
            "      threads: \"{{ env_var('SIGBATCH_TEST_UNSET_THREADS', '3') }}\"\n      settings:\n        \
             memory_limit: \"{{ env_var('SIGBATCH_TEST_UNSET_MEMORY', '512MB') }}\"\n        \
             temp_directory: \"{{ env_var('SIGBATCH_TEST_UNSET_SPILL', 'spill') }}\"\n",
        )
        .unwrap();
        assert_eq!(settings.threads, Some(3));
        assert_eq!(
            settings.values,
            vec![
                ("memory_limit".to_string(), Scalar::Text("512MB".into())),
                (
                    "temp_directory".to_string(),
                    Scalar::Text("/proj/spill".into())
                ),
            ]
        );
        let error = duckdb_settings(
            "      settings:\n        memory_limit: \"{{ env_var('SIGBATCH_TEST_UNSET_MEMORY') }}\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("memory_limit") && error.contains("SIGBATCH_TEST_UNSET_MEMORY"),
            "{error}"
        );
    }

    #[test]
    fn threads_that_are_not_a_positive_integer_are_named() {
        for bad in [
            "0",
            "-1",
            "1.5",
            "many",
            "true",
            "\"{{ env_var('SIGBATCH_TEST_UNSET_T', 'x2') }}\"",
        ] {
            let error = duckdb_settings(&format!("      threads: {bad}\n")).unwrap_err();
            let text = error.to_string();
            let shown = if bad.contains("env_var") { "x2" } else { bad };
            assert!(
                text.contains("profile `p`")
                    && text.contains("target `dev`")
                    && text.contains("`threads`")
                    && text.contains(&format!("`{shown}`")),
                "{text}"
            );
            assert!(
                error.hint().is_some_and(|h| h.contains("threads")),
                "{error:?}"
            );
            assert!(error.is_user_error());
        }
    }

    #[test]
    fn bad_setting_names_and_values_are_named() {
        for (lines, needle) in [
            (
                "        \"memory_limit = 1; DROP TABLE x\": 1GB\n",
                "memory_limit = 1; DROP TABLE x",
            ),
            ("        memory-limit: 1GB\n", "memory-limit"),
            ("        9threads: 2\n", "9threads"),
            ("        1: 2\n", "setting `1`"),
            ("        memory_limit: [1GB]\n", "memory_limit"),
            ("        memory_limit:\n", "memory_limit"),
            ("        memory_limit: .inf\n", "memory_limit"),
        ] {
            let error = duckdb_settings(&format!("      settings:\n{lines}")).unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains(needle)
                    && text.contains("profile `p`")
                    && text.contains("target `dev`"),
                "{text}"
            );
            assert!(
                error.hint().is_some_and(|h| h.contains("settings:")),
                "{error:?}"
            );
        }
        let error = duckdb_settings("      settings: memory_limit=1GB\n").unwrap_err();
        assert!(
            error.to_string().contains("`settings` must be a mapping"),
            "{error}"
        );
    }

    #[test]
    fn setting_names_are_plain_identifiers() {
        for good in ["memory_limit", "_x", "TimeZone", "a1"] {
            assert!(is_setting_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a b", "a;b", "\"a\"", "é"] {
            assert!(!is_setting_name(bad), "{bad}");
        }
    }
}
