//! `profiles.yml` in dbt's format, so an existing dbt profile works unchanged.
//!
//! Looked up in `--profiles-dir`, then `SIGBATCH_PROFILES_DIR`, then the project directory, then
//! `~/.dbt/`. String values may use dbt's `{{ env_var('NAME') }}` / `{{ env_var('NAME', 'default') }}`.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

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
    },
    /// A warehouse this build can compile for but not yet run on.
    Remote {
        kind: String,
        schema: String,
    },
}

impl Output {
    pub fn schema(&self) -> &str {
        match self {
            Output::DuckDb { schema, .. } | Output::Remote { schema, .. } => schema,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Output::DuckDb { .. } => "duckdb",
            Output::Remote { kind, .. } => kind,
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
            Output::DuckDb {
                path,
                schema: field("schema")?.unwrap_or_else(|| "main".into()),
            }
        }
        "snowflake" | "bigquery" | "databricks" => {
            let schema = field(if kind == "bigquery" {
                "dataset"
            } else {
                "schema"
            })?
            .or(field("schema")?)
            .unwrap_or_else(|| "public".into());
            Output::Remote {
                kind: kind.clone(),
                schema,
            }
        }
        other => {
            return Err(Error::file(
                file,
                format!("output `{name}` has unsupported type `{other}`"),
            )
            .with_hint("supported: duckdb (runs), snowflake and bigquery (compile only for now)"));
        }
    };
    Ok(Target {
        profile: profile.to_string(),
        name,
        output,
    })
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
                schema: "main".into()
            }
        );
        let error = load_target(&file, "p", Some("prod"), Path::new("/proj"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("no output `prod`"), "{error}");
    }
}
