//! A workspace's shared read: the events of one load range that several groups on the same
//! warehouse read, copied once into a table of its own: every event's load time, whether some
//! group keeps it (`sigbatch_kept`: each group's own conditions, `base_events_where.sql`, OR-ed),
//! and the columns any group reads, filled only where some group keeps the row. A group whose
//! load window lies inside the range then reads its base events from that table
//! (`RunSpec::events_source`) with its own filter, deduplication and stored-event check, as it
//! would from the events table, so it gets the same rows, and its window's watermark (the
//! newest load in the window) is the one the events table gives.

use serde_json::json;

use super::context::base_events_context;
use super::writer::{StageWriter, merge_context};
use super::{LoadWindow, RunSpec, Statement, Tables};
use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::Result;
use crate::plan::Plan;

/// The table a shared read fills, and the load range it holds: `lower <= load_tstamp < upper`.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedEvents {
    /// Quoted for the dialect.
    pub relation: String,
    pub range: LoadWindow,
}

impl SharedEvents {
    /// Whether every event of `window` (either mode's bounds) is in the range.
    pub fn covers(&self, window: &LoadWindow) -> bool {
        self.range.lower <= window.lower && window.upper <= self.range.upper
    }

    /// Drops the table.
    pub fn drop_sql(&self, dialect: &dyn Dialect) -> Result<String> {
        drop_table_sql(dialect, &self.relation)
    }

    /// Counts the rows the read copied.
    pub fn count_sql(&self, dialect: &dyn Dialect) -> Result<String> {
        on_table(dialect, "count_rows.sql", &self.relation)
    }
}

/// Drops the shared read's table `relation` (quoted for the dialect), if it exists.
pub fn drop_table_sql(dialect: &dyn Dialect, relation: &str) -> Result<String> {
    on_table(dialect, "drop_table.sql", relation)
}

fn on_table(dialect: &dyn Dialect, template: &str, relation: &str) -> Result<String> {
    let context = json!({"table": relation});
    super::writer::render_checked(dialect, "shared read", template, &context)
}

/// The statements of a shared read for `groups` (each with its tables): its schema, then the
/// table. `columns` are the events-table columns any group reads (unquoted, lower case);
/// `schema` is where the table goes (unquoted), `name` its name there; a `temporary` table
/// (where scratch tables are, `Dialect::temporary_scratch`) lives with the connection instead.
pub fn shared_read_sql(
    groups: &[(&Plan, &Tables)],
    dialect: &dyn Dialect,
    columns: &[String],
    (schema, name): (&str, &str),
    temporary: bool,
    range: LoadWindow,
) -> Result<(SharedEvents, Vec<Statement>)> {
    let Some((first, first_tables)) = groups.first() else {
        return Err(crate::error::Error::Internal(
            "a shared read of no groups".into(),
        ));
    };
    let spec = RunSpec::rebuild(range, false, range.upper, first.vars.today(range.upper));
    let mut conditions = Vec::new();
    for (plan, tables) in groups {
        let writer = StageWriter::new(plan, dialect, tables, &spec, Stage::BaseEventsThisRun);
        let mut context = base_events_context(&writer, false)?;
        merge_context(&mut context, json!({"stored_filter": false}));
        conditions.push(writer.fragment("base_events_where.sql", context)?);
    }
    let shared = SharedEvents {
        relation: if temporary {
            dialect.relation(&["temp", "main", name])
        } else {
            dialect.relation(&[schema, name])
        },
        range,
    };
    let mut writer = StageWriter::new(
        first,
        dialect,
        first_tables,
        &spec,
        Stage::BaseEventsThisRun,
    );
    if !temporary {
        writer.emit("setup_schema.sql", json!({"schema": dialect.ident(schema)}))?;
    }
    let columns: Vec<String> = columns
        .iter()
        .filter(|c| *c != "load_tstamp")
        .map(|c| dialect.ident(c))
        .collect();
    writer.emit(
        "shared_events.sql",
        json!({
            "relation": shared.relation,
            "kind": if temporary { "TEMP TABLE" } else { "TABLE" },
            "format": dialect.table_format(),
            "columns": columns,
            "lower": dialect.timestamp_literal(range.lower),
            "upper": dialect.timestamp_literal(range.upper),
            "conditions": conditions,
        }),
    )?;
    Ok((shared, writer.into_statements()))
}
