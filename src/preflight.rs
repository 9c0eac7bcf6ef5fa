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
    let (needed, self_describing): (Vec<ColumnRead>, Vec<ColumnRead>) = columns_read(plan)
        .into_iter()
        .partition(|c| !c.self_describing);
    // any schema version of a self-describing column will do (BigQuery stores one per version)
    for ColumnRead { column, user, .. } in self_describing {
        if dialect.versions_of(&column, &columns).is_empty() {
            return Err(Error::invalid(
                "events table",
                format!("`{schema}.{table}` has no column for `{column}` in any schema version (needed by {user})"),
            )
            .with_hint("self-describing columns are named by schema version, e.g. contexts_nl_basjes_yauaa_context_1 (contexts_nl_basjes_yauaa_context_1_0_0 on BigQuery)"));
        }
    }
    for ColumnRead { column, user, .. } in needed {
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

/// An events-table column a plan reads, and what reads it.
struct ColumnRead {
    column: String,
    /// A `contexts_*`/`unstruct_event_*` column, named by schema version.
    self_describing: bool,
    user: String,
}

/// Every events-table column `plan` reads but those of its custom filter.
fn columns_read(plan: &Plan) -> Vec<ColumnRead> {
    let read = |column: &str, self_describing: bool, user: String| ColumnRead {
        column: column.to_string(),
        self_describing,
        user,
    };
    let mut columns: Vec<ColumnRead> = REQUIRED_EVENT_COLUMNS
        .iter()
        .map(|c| read(c, false, "the engine".into()))
        .collect();
    match &plan.key_property {
        None => columns.push(read(&plan.key_column, false, "the attribute key".into())),
        Some(path) => columns.push(read(
            &path.column,
            !path.is_atomic(),
            "the attribute key".into(),
        )),
    }
    for property in &plan.properties {
        for leaf in property.property.leaves() {
            let user = format!("property `{}`", leaf.path.raw);
            columns.push(read(&leaf.path.column, !leaf.path.is_atomic(), user));
        }
    }
    columns
}

/// The columns of the events table (`available`, lower case, as `check_events_table` returns
/// them) that `plan`'s base events read: every schema version of a self-describing column, and
/// the custom filter's columns. What a shared read must keep for the plan.
pub fn events_columns_read(
    plan: &Plan,
    dialect: &dyn Dialect,
    available: &[String],
) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    let mut add = |column: String| {
        if available.contains(&column) && !columns.contains(&column) {
            columns.push(column);
        }
    };
    for ColumnRead {
        column,
        self_describing,
        ..
    } in columns_read(plan)
    {
        if self_describing {
            dialect
                .versions_of(&column, available)
                .into_iter()
                .for_each(&mut add);
        } else {
            add(column.to_lowercase());
        }
    }
    if let Some(filter) = &plan.vars.custom_filter {
        filter.columns().into_iter().for_each(add);
    }
    columns
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
