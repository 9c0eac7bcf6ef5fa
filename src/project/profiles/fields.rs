//! What every adapter reads its output's fields through: values with dbt's `env_var` expanded,
//! and errors that name the file and the target. The adapters import this module; it imports
//! none of them, so the loader (`mod.rs`) -> adapter -> fields dependency runs one way.

use std::path::Path;

use serde_yaml_ng::Value;

use super::kind::WarehouseKind;
use crate::error::{Error, Result};

/// One output of `profiles.yml` as its adapter's parser reads it.
pub(crate) struct OutputFields<'a> {
    output: &'a Value,
    file: &'a Path,
    profile: &'a str,
    name: &'a str,
    /// `<type> target `<name>``, the start of every error.
    target: String,
}

impl<'a> OutputFields<'a> {
    pub fn new(output: &'a Value, file: &'a Path, profile: &'a str, name: &'a str) -> Self {
        OutputFields {
            output,
            file,
            profile,
            name,
            target: format!("target `{name}`"),
        }
    }

    /// The same fields, read for an output of `kind`: its errors start `<kind> target `<name>``.
    pub fn of_kind(self, kind: WarehouseKind) -> Self {
        OutputFields {
            target: format!("{kind} target `{}`", self.name),
            ..self
        }
    }

    /// The field's text: strings with `env_var` expanded, other values as YAML; none if absent
    /// or null.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        match self.output.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => expand_env_vars(s).map(Some).map_err(|message| {
                Error::file(
                    self.file,
                    format!("output `{}` field `{key}`: {message}", self.name),
                )
            }),
            Some(other) => Ok(Some(
                serde_yaml_ng::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )),
        }
    }

    /// The field as YAML, for the adapters that take a mapping (DuckDB's `settings:`).
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.output.get(key)
    }

    pub fn file(&self) -> &'a Path {
        self.file
    }

    pub fn profile(&self) -> &'a str {
        self.profile
    }

    /// The output's name under `outputs:`.
    pub fn name(&self) -> &'a str {
        self.name
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
                    // a value from the environment is not shown: it may be anything
                    let templated = matches!(self.output.get(key), Some(Value::String(raw)) if raw.contains("{{"));
                    let shown = if templated {
                        "what its env_var gives (not shown)".to_string()
                    } else {
                        format!("`{text}`")
                    };
                    self.invalid(format!("`{key}` must be a whole number, not {shown}"), hint)
                })
            })
            .transpose()
    }
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
            .ok_or_else(|| "the value has an unclosed `{{` (value not shown)".to_string())?
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
        let unclosed = expand_env_vars("hunter2 {{ env_var('X')").unwrap_err();
        assert!(!unclosed.contains("hunter2"), "{unclosed}");
    }
}
