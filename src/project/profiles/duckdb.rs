//! A `type: duckdb` output, with dbt-duckdb's field names: `path`, `schema`, `threads` and
//! `settings:`, so a large backfill can run inside a `memory_limit` by spilling to a
//! `temp_directory`.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::fields::{OutputFields, expand_env_vars};
use crate::error::{Error, Result};
use crate::project::group::Scalar;

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

/// A DuckDB output's fields (`Output::DuckDb`'s).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DuckDbOutput {
    pub path: PathBuf,
    pub schema: String,
    pub settings: DuckDbSettings,
}

/// Reads the output's fields; a relative `path` is taken from the project directory.
pub(crate) fn parse(fields: &OutputFields<'_>, project_dir: &Path) -> Result<DuckDbOutput> {
    let path = fields.get("path")?.ok_or_else(|| {
        Error::file(
            fields.file(),
            format!("output `{}` has no `path`", fields.name()),
        )
    })?;
    let path = PathBuf::from(path);
    let path = if path.is_absolute() {
        path
    } else {
        project_dir.join(path)
    };
    let invalid = |message: String, hint: &str| {
        Error::file(
            fields.file(),
            format!(
                "profile `{}` target `{}`: {message}",
                fields.profile(),
                fields.name()
            ),
        )
        .with_hint(hint)
    };
    let threads = match fields.get("threads")? {
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
    let values = match fields.value("settings") {
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
    Ok(DuckDbOutput {
        path,
        schema: fields.get("schema")?.unwrap_or_else(|| "main".into()),
        settings: DuckDbSettings { threads, values },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::profiles::{Output, load_target};

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
