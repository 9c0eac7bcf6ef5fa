//! A load window's statements, as `render_run` returns them, become dbt models.
//!
//! The statements are the run's own (same plan, same dialect, same templates); only their
//! packaging changes. `CREATE OR REPLACE TABLE x AS select` is a table model; `INSERT INTO x ...
//! SELECT ... FROM s` is an incremental model whose body is the select, with a unique key when
//! the statement before it deletes `x`'s rows by a key read from `s` (dbt's delete+insert or
//! merge), a pre-hook holding that DELETE when it deletes by anything else, and a table model
//! when it empties `x` first. An `UPDATE` becomes a post-hook of the model before it. The setup
//! stage becomes the `on-run-start` hook.

use crate::dag::Stage;
use crate::error::{Error, Result};
use crate::render::{Statement, StatementKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Materialized {
    Table,
    /// Appends the body's rows; with a key, rows of `target` whose key the body holds go first.
    Incremental {
        unique_key: Option<String>,
    },
}

/// One model: the logical table it builds (`filtered_events`) and its SQL, still in the
/// rendering's placeholder names (`placeholders.rs` turns them into dbt Jinja).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub table: String,
    pub stage: Stage,
    pub materialized: Materialized,
    pub body: String,
    pub pre_hooks: Vec<String>,
    pub post_hooks: Vec<String>,
}

/// The statements of one window as dbt pieces.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub setup: Vec<String>,
    pub models: Vec<Model>,
}

/// `relation` names the logical table of a rendered relation name, or `None`.
pub fn convert(
    statements: &[Statement],
    relation: &dyn Fn(&str) -> Option<String>,
) -> Result<Converted> {
    let mut converted = Converted {
        setup: Vec::new(),
        models: Vec::new(),
    };
    let mut pending_delete: Option<(String, String)> = None;
    let mut pending_pre_hooks: Vec<String> = Vec::new();
    let table_of = |name: &str, sql: &str| {
        relation(name).ok_or_else(|| {
            Error::Internal(format!(
                "export: statement writes `{name}`, not a table of the plan:\n{sql}"
            ))
        })
    };
    for statement in statements {
        let sql = statement.sql.as_str();
        if statement.stage == Stage::Setup {
            converted.setup.push(sql.to_string());
            continue;
        }
        if let StatementKind::Fill { table, query, .. } = &statement.kind {
            // the table's storage clauses (BigQuery's clustering) are left to the dbt config
            converted.models.push(Model {
                table: table_of(table, sql)?,
                stage: statement.stage,
                materialized: Materialized::Table,
                body: query.to_string(),
                pre_hooks: std::mem::take(&mut pending_pre_hooks),
                post_hooks: Vec::new(),
            });
        } else if sql.starts_with("CREATE TABLE IF NOT EXISTS ") {
            // a table the next model reads as its previous state, created where missing
            pending_pre_hooks.push(sql.to_string());
        } else if let Some(rest) = sql.strip_prefix("DELETE FROM ") {
            if let Some((table, delete)) = pending_delete.take() {
                attach_post_hook(&mut converted, &table, delete)?;
            }
            let name = rest
                .split(['\n', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
            pending_delete = Some((table_of(&name, sql)?, sql.to_string()));
        } else if sql.starts_with("UPDATE ") {
            // values set in rows the model before it wrote (`time_since_*` moved by "now")
            if let Some((table, delete)) = pending_delete.take() {
                attach_post_hook(&mut converted, &table, delete)?;
            }
            attach_post_hook(&mut converted, "an updated table", sql.to_string())?;
        } else if let Some(rest) = sql.strip_prefix("INSERT INTO ") {
            let (target_name, rest) = split_once(rest, " (", sql)?;
            let (_, body) = split_once(rest, "\n", sql)?;
            let table = table_of(target_name, sql)?;
            let source = body
                .rsplit_once(" FROM ")
                .and_then(|(_, source)| source.lines().next())
                .map(|source| source.trim().to_string())
                .unwrap_or_default();
            let mut pre_hooks = std::mem::take(&mut pending_pre_hooks);
            let materialized = match pending_delete.take() {
                None => Materialized::Incremental { unique_key: None },
                Some((deleted, delete)) if deleted == table => {
                    if delete.ends_with(" WHERE 1 = 1") {
                        Materialized::Table
                    } else if let Some(key) = key_delete(&delete, target_name, &source) {
                        Materialized::Incremental {
                            unique_key: Some(key),
                        }
                    } else {
                        pre_hooks.push(delete);
                        Materialized::Incremental { unique_key: None }
                    }
                }
                Some((deleted, delete)) => {
                    attach_post_hook(&mut converted, &deleted, delete)?;
                    Materialized::Incremental { unique_key: None }
                }
            };
            converted.models.push(Model {
                table,
                stage: statement.stage,
                materialized,
                body: body.to_string(),
                pre_hooks,
                post_hooks: Vec::new(),
            });
        } else {
            return Err(Error::Internal(format!(
                "export: no dbt form for the statement of stage `{}`:\n{sql}",
                statement.stage.name()
            )));
        }
    }
    if let Some((table, delete)) = pending_delete.take() {
        attach_post_hook(&mut converted, &table, delete)?;
    }
    if !pending_pre_hooks.is_empty() {
        return Err(Error::Internal(
            "export: a table is created after the last model".into(),
        ));
    }
    Ok(converted)
}

/// A DELETE with no INSERT after it (emptying a table once its rows are used) runs after the
/// model that used them.
fn attach_post_hook(converted: &mut Converted, table: &str, delete: String) -> Result<()> {
    let model = converted.models.last_mut().ok_or_else(|| {
        Error::Internal(format!("export: `{table}` is emptied before any model ran"))
    })?;
    model.post_hooks.push(delete);
    Ok(())
}

/// The key column when `delete` is `DELETE FROM target WHERE key IN (SELECT key FROM source)`:
/// what dbt's delete+insert and merge strategies do with `unique_key = key`.
fn key_delete(delete: &str, target: &str, source: &str) -> Option<String> {
    let rest = delete.strip_prefix(&format!("DELETE FROM {target}\nWHERE "))?;
    let (key, _) = rest.split_once(" IN (")?;
    (delete == format!("DELETE FROM {target}\nWHERE {key} IN (SELECT {key} FROM {source})"))
        .then(|| key.to_string())
}

fn split_once<'a>(text: &'a str, separator: &str, sql: &str) -> Result<(&'a str, &'a str)> {
    text.split_once(separator).ok_or_else(|| {
        Error::Internal(format!(
            "export: unexpected statement shape (no `{}`):\n{sql}",
            separator.escape_debug()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(stage: Stage, sql: &str) -> Statement {
        let kind = match sql
            .strip_prefix("CREATE OR REPLACE TABLE ")
            .and_then(|rest| rest.split_once(" AS\n"))
        {
            Some((table, query)) => StatementKind::Fill {
                table: table.into(),
                query: query.into(),
                persistent: false,
                temporary: false,
                layout: String::new(),
            },
            None => StatementKind::Dml,
        };
        Statement {
            stage,
            sql: sql.to_string(),
            kind,
        }
    }

    #[test]
    fn deletes_by_a_key_of_the_source_become_unique_keys_and_others_hooks() {
        let relation = |name: &str| Some(name.trim_matches('"').to_string());
        let statements = [
            statement(Stage::Setup, "CREATE SCHEMA IF NOT EXISTS \"s\""),
            statement(
                Stage::DailyAggregates,
                "CREATE OR REPLACE TABLE \"n\" AS\nSELECT 1 AS k",
            ),
            statement(
                Stage::DailyAggregates,
                "DELETE FROM \"m\"\nWHERE k IN (SELECT k FROM \"n\")",
            ),
            statement(
                Stage::DailyAggregates,
                "INSERT INTO \"m\" (k)\nSELECT k FROM \"n\"",
            ),
            statement(
                Stage::DailyAggregates,
                "DELETE FROM \"o\"\nWHERE k IN (SELECT k FROM \"x\" WHERE y)",
            ),
            statement(
                Stage::DailyAggregates,
                "INSERT INTO \"o\" (k)\nSELECT k FROM \"n\"",
            ),
            statement(Stage::DailyAggregates, "DELETE FROM \"p\" WHERE 1 = 1"),
            statement(
                Stage::DailyAggregates,
                "INSERT INTO \"p\" (k)\nSELECT 1 AS k",
            ),
            statement(Stage::DailyAggregates, "DELETE FROM \"q\" WHERE 1 = 1"),
        ];
        let converted = convert(&statements, &relation).unwrap();
        assert_eq!(converted.setup.len(), 1);
        let shapes: Vec<(&str, &Materialized, usize, usize)> = converted
            .models
            .iter()
            .map(|m| {
                (
                    m.table.as_str(),
                    &m.materialized,
                    m.pre_hooks.len(),
                    m.post_hooks.len(),
                )
            })
            .collect();
        let keyed = Materialized::Incremental {
            unique_key: Some("k".into()),
        };
        let append = Materialized::Incremental { unique_key: None };
        assert_eq!(
            shapes,
            vec![
                ("n", &Materialized::Table, 0, 0),
                ("m", &keyed, 0, 0),
                ("o", &append, 1, 0),
                ("p", &Materialized::Table, 0, 1),
            ]
        );
        assert_eq!(converted.models[1].body, "SELECT k FROM \"n\"");
    }

    #[test]
    fn an_update_runs_after_the_model_before_it() {
        let relation = |name: &str| Some(name.trim_matches('"').to_string());
        let statements = [
            statement(
                Stage::Attributes,
                "DELETE FROM \"a\"\nWHERE k IN (SELECT k FROM \"n\")",
            ),
            statement(
                Stage::Attributes,
                "INSERT INTO \"a\" (k)\nSELECT k FROM \"n\"",
            ),
            statement(
                Stage::Attributes,
                "UPDATE \"a\" AS previous\nSET v = 1\nFROM \"s\" AS state\nWHERE state.k = previous.k",
            ),
            statement(Stage::Attributes, "DELETE FROM \"q\" WHERE 1 = 1"),
        ];
        let converted = convert(&statements, &relation).unwrap();
        assert_eq!(converted.models.len(), 1);
        let hooks = &converted.models[0].post_hooks;
        assert_eq!(hooks.len(), 2, "{hooks:?}");
        assert!(hooks[0].starts_with("UPDATE \"a\""), "{hooks:?}");
        assert_eq!(hooks[1], "DELETE FROM \"q\" WHERE 1 = 1");
    }
}
