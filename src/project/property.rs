//! Property paths: the three warehouse syntaxes the Signals API emits, parsed into one value.
//!
//! Snowflake (`contexts_x_1[0]:fieldName`), BigQuery (`contexts_x_1[safe_offset(0)].field_name`)
//! and Databricks (`contexts_x_1[0].field_name`) name the same thing: a column, an optional
//! array index and a field path. Parsing all three into `PropertyPath` lets the dialects render
//! it however their warehouse stores self-describing data. Every name is checked to be a plain
//! identifier, so a path can never smuggle SQL into a statement.

use std::fmt;

/// Which syntax a path arrived in; it decides how field names are spelled (camelCase as sent by
/// the tracker for Snowflake, snake_case as the BigQuery and Databricks loaders rename them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum PathSyntax {
    Atomic,
    Snowflake,
    BigQuery,
    Databricks,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropertyPath {
    /// The text as the user wrote it, for messages and compat naming.
    pub raw: String,
    /// The events-table column: an atomic column, or a `contexts_*` / `unstruct_event_*` column
    /// named by schema major version.
    pub column: String,
    /// The entity index inside a `contexts_*` array.
    pub index: Option<u32>,
    /// Field names inside the self-describing JSON, outermost first. Empty for atomic columns.
    pub fields: Vec<String>,
    pub syntax: PathSyntax,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("property path `{path}` does not parse: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

impl PropertyPath {
    pub fn parse(raw: &str) -> Result<PropertyPath, PathError> {
        let fail = |reason: &str| PathError {
            path: raw.to_string(),
            reason: reason.to_string(),
        };
        let text = raw.trim();
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let column_end = text.find(['[', ':', '.']).unwrap_or(text.len());
        let column = &text[..column_end];
        check_identifier(column).map_err(|reason| fail(&format!("column `{column}` {reason}")))?;
        let mut rest = &text[column_end..];
        if rest.is_empty() {
            return Ok(PropertyPath {
                raw: raw.to_string(),
                column: column.to_string(),
                index: None,
                fields: Vec::new(),
                syntax: PathSyntax::Atomic,
            });
        }
        if !(column.starts_with("contexts_") || column.starts_with("unstruct_event_")) {
            return Err(fail(
                "only `contexts_*` and `unstruct_event_*` columns have fields; atomic columns are bare names",
            ));
        }
        let mut index = None;
        let mut bigquery_offset = false;
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or_else(|| fail("`[` is not closed"))?;
            let inside = after[..close].trim();
            let number = match inside
                .strip_prefix("safe_offset(")
                .or_else(|| inside.strip_prefix("SAFE_OFFSET("))
            {
                Some(offset) => {
                    bigquery_offset = true;
                    offset
                        .strip_suffix(')')
                        .ok_or_else(|| fail("`safe_offset(` is not closed"))?
                }
                None => inside,
            };
            let parsed: u32 = number
                .parse()
                .map_err(|_| fail(&format!("array index `{inside}` is not a whole number")))?;
            index = Some(parsed);
            rest = &after[close + 1..];
        }
        let (syntax, field_text) = if let Some(fields) = rest.strip_prefix(':') {
            if bigquery_offset {
                return Err(fail(
                    "mixes BigQuery `safe_offset` with Snowflake `:` fields",
                ));
            }
            (PathSyntax::Snowflake, fields)
        } else if let Some(fields) = rest.strip_prefix('.') {
            let syntax = if bigquery_offset {
                PathSyntax::BigQuery
            } else {
                PathSyntax::Databricks
            };
            (syntax, fields)
        } else if rest.is_empty() {
            return Err(fail(
                "a self-describing column needs a field after the index",
            ));
        } else {
            return Err(fail(&format!("unexpected `{rest}` after the column")));
        };
        let fields: Vec<String> = field_text
            .split(['.', ':'])
            .map(|field| {
                check_identifier(field)
                    .map(|_| field.to_string())
                    .map_err(|reason| fail(&format!("field `{field}` {reason}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(PropertyPath {
            raw: raw.to_string(),
            column: column.to_string(),
            index,
            fields,
            syntax,
        })
    }

    pub fn is_atomic(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field names spelled as the tracker sent them (camelCase): BigQuery and Databricks paths
    /// arrive snake_cased by their loaders, while JSON stores the original spelling.
    pub fn fields_as_sent(&self) -> Vec<String> {
        match self.syntax {
            PathSyntax::BigQuery | PathSyntax::Databricks => {
                self.fields.iter().map(|f| snake_to_camel(f)).collect()
            }
            PathSyntax::Atomic | PathSyntax::Snowflake => self.fields.clone(),
        }
    }

    /// Field names in snake_case, as BigQuery and Databricks loaders store them.
    pub fn fields_snake_case(&self) -> Vec<String> {
        self.fields.iter().map(|f| camel_to_snake(f)).collect()
    }

    /// The last name in the path: the field for self-describing paths, the column otherwise.
    pub fn leaf(&self) -> &str {
        self.fields.last().unwrap_or(&self.column)
    }
}

impl fmt::Display for PropertyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn check_identifier(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => Err("must start with a letter or `_`"),
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Err("may only contain ASCII letters, digits and `_`")
        }
        _ if name.len() > 255 => Err("is longer than 255 characters"),
        _ => Ok(()),
    }
}

/// Whether `name` is a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_identifier(name: &str) -> bool {
    check_identifier(name).is_ok()
}

/// `operatingSystemName` -> `operating_system_name`, the way the loaders (and upstream's alias
/// rule) do it: an underscore between a lower-case letter and an upper-case one, then lower case.
pub fn camel_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if previous_lower && c.is_ascii_uppercase() {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn snake_to_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for (position, c) in name.chars().enumerate() {
        if c == '_' && position > 0 {
            upper_next = true;
        } else if upper_next {
            out.push(c.to_ascii_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_syntaxes_parse_to_the_same_location() {
        let snowflake =
            PropertyPath::parse("contexts_nl_basjes_yauaa_context_1[0]:operatingSystemName")
                .unwrap();
        let bigquery = PropertyPath::parse(
            "contexts_nl_basjes_yauaa_context_1[safe_offset(0)].operating_system_name",
        )
        .unwrap();
        let databricks =
            PropertyPath::parse("contexts_nl_basjes_yauaa_context_1[0].operating_system_name")
                .unwrap();
        for path in [&snowflake, &bigquery, &databricks] {
            assert_eq!(path.column, "contexts_nl_basjes_yauaa_context_1");
            assert_eq!(path.index, Some(0));
            assert_eq!(path.fields_as_sent(), vec!["operatingSystemName"]);
            assert_eq!(path.fields_snake_case(), vec!["operating_system_name"]);
        }
        assert_eq!(snowflake.syntax, PathSyntax::Snowflake);
        assert_eq!(bigquery.syntax, PathSyntax::BigQuery);
        assert_eq!(databricks.syntax, PathSyntax::Databricks);
    }

    #[test]
    fn atomic_columns_and_unstruct_fields() {
        let atomic = PropertyPath::parse("geo_country").unwrap();
        assert!(atomic.is_atomic());
        assert_eq!(atomic.leaf(), "geo_country");
        let unstruct = PropertyPath::parse("unstruct_event_com_acme_x_1:label.inner").unwrap();
        assert_eq!(unstruct.index, None);
        assert_eq!(unstruct.fields, vec!["label", "inner"]);
    }

    #[test]
    fn injection_and_garbage_are_rejected_with_the_path_named() {
        for bad in [
            "geo_country; drop table x",
            "geo_country'--",
            "contexts_x_1[0]:a' or '1'='1",
            "contexts_x_1[zero]:a",
            "contexts_x_1[0",
            "page_url:field",
            "1abc",
            "",
            "contexts_x_1[0]",
            "contexts_x_1[safe_offset(0)]:a",
        ] {
            let error = PropertyPath::parse(bad).unwrap_err();
            assert_eq!(error.path, bad);
            assert!(!error.reason.is_empty());
        }
    }

    #[test]
    fn case_conversions_follow_the_loaders() {
        assert_eq!(
            camel_to_snake("operatingSystemName"),
            "operating_system_name"
        );
        assert_eq!(camel_to_snake("userID"), "user_id");
        assert_eq!(camel_to_snake("HTTPCode"), "httpcode");
        assert_eq!(snake_to_camel("device_class"), "deviceClass");
    }
}
