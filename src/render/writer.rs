//! The writer: the template environment (`sql/*.sql`, strict undefined), the statements it
//! yields, and `StageWriter`, which renders a stage's statements with the context every template
//! shares and parses each one back in its dialect. The insert and replace helpers every stage
//! uses live here too.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};

use super::{PERSISTENT, RunSpec, Tables};
use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::Semantics;

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub stage: Stage,
    pub sql: String,
    pub kind: StatementKind,
}

/// What a statement does, for warehouses whose DDL commits on its own (`transaction.rs`).
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// Creates or drops a schema or table, or gives a table its shape; safe to repeat.
    Ddl,
    /// Writes rows.
    Dml,
    /// `CREATE OR REPLACE TABLE table AS query`: a table made and filled in one statement.
    Fill {
        table: String,
        query: String,
        /// The table carries state between runs (compat's attributes table).
        persistent: bool,
        /// A temporary scratch table (`Dialect::temporary_scratch`).
        temporary: bool,
        /// Storage clauses between the name and `AS` (BigQuery's partitioning).
        layout: String,
    },
}

impl StatementKind {
    fn of(sql: &str, tables: &Tables) -> StatementKind {
        for (name, table) in &tables.names {
            let (kind, layout) = (tables.kinds[name], tables.layout(name));
            if let Some(query) = sql
                .strip_prefix(&format!("CREATE OR REPLACE {kind} {table}{layout} AS"))
                .filter(|q| q.starts_with(char::is_whitespace))
            {
                return StatementKind::Fill {
                    table: table.clone(),
                    query: query.trim().to_string(),
                    persistent: PERSISTENT.contains(name),
                    temporary: kind != "TABLE",
                    layout: layout.to_string(),
                };
            }
        }
        if sql.starts_with("CREATE ") || sql.starts_with("DROP ") {
            StatementKind::Ddl
        } else {
            StatementKind::Dml
        }
    }
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        macro_rules! templates {
            ($($name:literal),* $(,)?) => {
                $( env.add_template($name, include_str!(concat!("../../sql/", $name))).expect($name); )*
            };
        }
        templates!(
            "setup_schema.sql",
            "drop_table.sql",
            "create_incremental_manifest.sql",
            "create_daily_aggregation_manifest.sql",
            "create_run_state.sql",
            "create_filtered_events.sql",
            "run_limits.sql",
            "base_events_select.sql",
            "base_events_where.sql",
            "shared_events.sql",
            "base_events_this_run.sql",
            "filtered_events_this_run.sql",
            "filtered_events_delete.sql",
            "insert_all.sql",
            "days_to_process_compat.sql",
            "days_to_process_exact.sql",
            "daily_select.sql",
            "pair_events_from.sql",
            "pair_events_this_run.sql",
            "daily_from_stored_events.sql",
            "daily_aggregates_this_run.sql",
            "create_daily_aggregates.sql",
            "daily_aggregates_delete.sql",
            "daily_aggregation_manifest_next.sql",
            "incremental_manifest_next.sql",
            "run_state_insert.sql",
            "attributes_compat.sql",
            "attributes_exact.sql",
            "attributes_create.sql",
            "attributes_keys.sql",
            "attributes_next.sql",
            "delete_keys.sql",
            "create_lifetime_partials.sql",
            "lifetime_partials_this_run.sql",
            "attributes_pending_insert.sql",
            "create_attributes_pending.sql",
            "delete_all.sql",
            "one_scan.sql",
            "plan_events.sql",
            "plan_keys.sql",
            "fill_shape.sql",
            "fill_insert.sql",
            "lease_create.sql",
            "lease_seed.sql",
            "lease_take.sql",
            "lease_renew.sql",
            "lease_fence.sql",
            "lease_release.sql",
            "lease_read.sql",
            "lease_open_work.sql",
            "lease_add_open_work.sql",
            "manifest_summary.sql",
            "run_state_read.sql",
            "count_rows.sql",
            "next_load.sql",
            "loads_since.sql",
            "load_days.sql",
            "window_counts.sql",
            "demo_summary.sql",
            "demo_top.sql",
            "cells_as_text.sql",
            "create_value_counts.sql",
            "value_counts_this_run.sql",
            "lifetime_value_counts_this_run.sql",
            "value_counts_delete.sql",
            "lifetime_value_counts_delete.sql",
            "counted_values.sql",
            "counted_result.sql",
            "counted_picks.sql",
            "attributes_time_refresh.sql",
        );
        env
    })
}

/// Adds `extra`'s entries to the template context `context` (both JSON objects); `extra` wins.
pub(crate) fn merge_context(context: &mut Value, extra: Value) {
    if let (Value::Object(base), Value::Object(extra)) = (context, extra) {
        base.extend(extra);
    }
}

/// Renders and checks statements for one stage.
pub(crate) struct StageWriter<'a> {
    pub plan: &'a Plan,
    pub dialect: &'a dyn Dialect,
    pub tables: &'a Tables,
    pub spec: &'a RunSpec,
    pub(super) stage: Stage,
    pub(super) out: Vec<Statement>,
}

impl<'a> StageWriter<'a> {
    /// A writer for `stage`'s statements.
    pub fn new(
        plan: &'a Plan,
        dialect: &'a dyn Dialect,
        tables: &'a Tables,
        spec: &'a RunSpec,
        stage: Stage,
    ) -> StageWriter<'a> {
        StageWriter {
            plan,
            dialect,
            tables,
            spec,
            stage,
            out: Vec::new(),
        }
    }

    /// Where this window's base events come from: the events table, or a shared read of it.
    pub fn events_read(&self) -> &str {
        self.spec
            .events_source
            .as_deref()
            .unwrap_or(&self.tables.events)
    }

    /// The statements written so far.
    pub fn into_statements(self) -> Vec<Statement> {
        self.out
    }

    /// Copies every row of `source` into `target` (`insert_all.sql`).
    pub fn insert_all(&mut self, target: &str, source: &str, columns: &[&str]) -> Result<()> {
        self.insert_ordered(target, source, columns, &[])
    }

    /// Replaces the rows of `target` whose `key` `source` holds with `source`'s rows
    /// (`delete_keys.sql`, then [`StageWriter::insert_all`]).
    pub fn replace_by_key(
        &mut self,
        target: &str,
        source: &str,
        key: &str,
        columns: &[&str],
    ) -> Result<()> {
        let key = self.dialect.ident(key);
        self.emit(
            "delete_keys.sql",
            json!({"target": target, "source": source, "key": key}),
        )?;
        self.insert_all(target, source, columns)
    }

    /// [`StageWriter::insert_all`] with the rows sorted by `order_by`, where the dialect keeps
    /// insertion order.
    pub fn insert_ordered(
        &mut self,
        target: &str,
        source: &str,
        columns: &[&str],
        order_by: &[&str],
    ) -> Result<()> {
        let d = self.dialect;
        let columns: Vec<String> = columns.iter().map(|c| d.ident(c)).collect();
        let order_by: Vec<String> = if d.keeps_insert_order() {
            order_by.iter().map(|c| d.ident(c)).collect()
        } else {
            vec![]
        };
        self.emit(
            "insert_all.sql",
            json!({"target": target, "source": source, "columns": columns, "order_by": order_by}),
        )
    }

    /// Renders `template` with the shared context plus `extra`.
    pub fn emit(&mut self, template: &str, extra: Value) -> Result<()> {
        let sql = self.fragment(template, extra)?;
        self.dialect.check(self.stage.name(), &sql)?;
        self.out.push(Statement {
            stage: self.stage,
            kind: StatementKind::of(&sql, self.tables),
            sql,
        });
        Ok(())
    }

    /// Renders `template` with the shared context plus `extra` as a part of a statement (a
    /// subquery): checked with the statement it ends up in.
    pub fn fragment(&self, template: &str, extra: Value) -> Result<String> {
        let d = self.dialect;
        let mut context = json!({
            "t": self.tables.as_json(),
            "layout": self.tables.layouts_json(),
            "kind": self.tables.kinds_json(),
            "qualify": d.has_qualify(),
            "subquery_predicates": d.subquery_predicates(),
            "events": self.tables.events,
            "exact": self.plan.semantics == Semantics::Exact,
            "compat": self.plan.semantics == Semantics::Compat,
            "key": d.ident(&self.plan.key_column),
            "start_date": d.date_literal(self.plan.vars.start_date),
            "now": d.timestamp_literal(self.spec.now),
            "full_refresh": self.spec.full_refresh,
            "text": d.type_name(crate::project::group::ValueType::Text),
            "integer": d.type_name(crate::project::group::ValueType::Integer),
            "timestamp": d.timestamp_type(),
        });
        merge_context(&mut context, extra);
        let template = environment()
            .get_template(template)
            .map_err(|e| Error::Internal(format!("template {template}: {e}")))?;
        let sql = template
            .render(minijinja::value::Serde(&context))
            .map_err(|e| {
                Error::Internal(format!("rendering stage `{}`: {e:#}", self.stage.name()))
            })?;
        Ok(sql.trim().to_string())
    }
}

/// Renders one template with `context` alone and checks that it parses in the dialect; `what`
/// names the statement in errors (a stage, or the query's purpose).
pub(crate) fn render_checked(
    dialect: &dyn Dialect,
    what: &str,
    template: &str,
    context: &Value,
) -> Result<String> {
    let sql = render_display(template, context)?;
    dialect.check(what, &sql)?;
    Ok(sql)
}

/// Renders one of DuckDB's display queries (`demo_summary.sql`, `cells_as_text.sql`), whose
/// DuckDB-only syntax (`SUMMARIZE`, `COLUMNS(*)`) sqlparser does not read, so it is not parsed
/// back. Only for what is printed to a user, never for a run's statements.
pub(crate) fn render_display(template: &str, context: &Value) -> Result<String> {
    let sql = environment()
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(context)))
        .map_err(|e| Error::Internal(format!("template {template}: {e:#}")))?;
    Ok(sql.trim().to_string())
}
