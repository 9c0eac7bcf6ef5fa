//! Pre-flight: the checks before a run or a plan writes or reads anything else. The events
//! table and every column the plan reads; the full-refresh guard; a changed plan or semantics
//! against the stored run state.

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::load_window::RunOptions;
use crate::plan::Plan;
use crate::project::{Project, Semantics};
use crate::render::Tables;
use crate::state::{self, StoredState};
use crate::warehouse::Warehouse;

/// Columns the engine reads from every events row.
const REQUIRED_EVENT_COLUMNS: &[&str] = &[
    "event_id",
    "load_tstamp",
    "derived_tstamp",
    "dvce_created_tstamp",
    "app_id",
    "event_name",
    "event_vendor",
    "event_version",
];

/// Checks the events table and every column the plan reads before anything is written.
/// Returns the events table's columns (lower case).
pub fn check_events_table(
    warehouse: &mut dyn Warehouse,
    plan: &Plan,
    tables: &Tables,
    dialect: &dyn Dialect,
) -> Result<Vec<String>> {
    let (schema, table) = &tables.events_location;
    let columns = warehouse.events_columns(tables.events_catalog.as_deref(), schema, table)?;
    if columns.is_empty() {
        return Err(Error::invalid("events table", format!("`{schema}.{table}` does not exist"))
            .with_hint("load Snowplow events there, or point snowplow__atomic_schema / snowplow__events_table at them"));
    }
    let mut needed: Vec<(&str, String)> = REQUIRED_EVENT_COLUMNS
        .iter()
        .map(|c| (*c, "the engine".to_string()))
        .collect();
    let mut self_describing = Vec::new();
    match &plan.key_property {
        None => needed.push((&plan.key_column, "the attribute key".into())),
        Some(path) if path.is_atomic() => needed.push((&path.column, "the attribute key".into())),
        Some(path) => self_describing.push((&path.column, "the attribute key".into())),
    }
    for property in &plan.properties {
        for leaf in property.property.leaves() {
            let user = format!("property `{}`", leaf.path.raw);
            if leaf.path.is_atomic() {
                needed.push((&leaf.path.column, user));
            } else {
                self_describing.push((&leaf.path.column, user));
            }
        }
    }
    // any schema version of a self-describing column will do (BigQuery stores one per version)
    for (column, user) in self_describing {
        if dialect.versions_of(column, &columns).is_empty() {
            return Err(Error::invalid(
                "events table",
                format!("`{schema}.{table}` has no column for `{column}` in any schema version (needed by {user})"),
            )
            .with_hint("self-describing columns are named by schema version, e.g. contexts_nl_basjes_yauaa_context_1 (contexts_nl_basjes_yauaa_context_1_0_0 on BigQuery)"));
        }
    }
    for (column, user) in needed {
        if !columns.iter().any(|c| c == &column.to_lowercase()) {
            return Err(Error::invalid(
                "events table",
                format!("`{schema}.{table}` has no column `{column}` (needed by {user})"),
            )
            .with_hint(
                "check snowplow__atomic_schema / snowplow__events_table and the attribute key",
            ));
        }
    }
    Ok(columns)
}

fn guard_full_refresh(project: &Project, options: &RunOptions) -> Result<()> {
    let vars = &project.vars;
    if options.windows.full_refresh
        && project.semantics == Semantics::Exact
        && options.target_name != vars.dev_target_name
        && !vars.allow_refresh
    {
        return Err(Error::invalid(
            "--full-refresh",
            format!(
                "refusing to rebuild every table from {} on target `{}` (not the dev target `{}`)",
                vars.start_date, options.target_name, vars.dev_target_name
            ),
        )
        .with_hint("a full refresh drops all state; allow it with --vars '{snowplow__allow_refresh: true}'"));
    }
    Ok(())
}

fn guard_plan_change(state: &StoredState, plan: &Plan, options: &RunOptions) -> Result<()> {
    if options.windows.full_refresh {
        return Ok(());
    }
    if let Some(stored) = &state.semantics
        && stored != plan.semantics.as_str()
    {
        return Err(Error::invalid(
            "semantics",
            format!(
                "the tables were built in `{stored}` mode, the project now says `{}`",
                plan.semantics.as_str()
            ),
        )
        .with_hint("rebuild with `sigbatch run --full-refresh`"));
    }
    if let Some(stored) = &state.plan_fingerprint
        && *stored != plan.fingerprint()
    {
        return Err(Error::invalid(
            "attribute group",
            "the attribute definitions (or the stored layout of this sigbatch version) changed since the tables were built",
        )
        .with_hint("rebuild with `sigbatch run --full-refresh`"));
    }
    Ok(())
}

/// The checks before a run writes anything (the full-refresh guard, a changed plan or
/// semantics); returns the stored run state. `plan` makes them too. The events table and its
/// columns were checked when the dialect was chosen for them ([`check_events_table`]).
pub fn check_run(
    project: &Project,
    plan: &Plan,
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    options: &RunOptions,
) -> Result<StoredState> {
    guard_full_refresh(project, options)?;
    let stored = state::read(warehouse, dialect, plan, tables)?;
    guard_plan_change(&stored, plan, options)?;
    Ok(stored)
}
