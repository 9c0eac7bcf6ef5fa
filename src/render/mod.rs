//! Render: a plan, a dialect and one load window become the SQL statements of a run.
//!
//! Pure and free of I/O: `compile`, `--dry-run` and `run` all go through here, so what a user
//! inspects is exactly what runs. Statement shapes live in `sql/*.sql` as minijinja templates
//! (strict undefined) that receive only fragments the dialect has already quoted; every rendered
//! statement is parsed back with sqlparser in its dialect before it is returned.
//!
//! Rooms, each importing only those listed before it: `tables` (the catalog), `spec` (what a
//! window is rendered for), `writer` (templates, `StageWriter`, insert/replace helpers), `expr`
//! (expressions), `context` (the template contexts several stages share), `lifetime`,
//! `value_counts`, `time_since` and `attributes` (exact mode's partials, the counted outputs'
//! counts, the refresh of values "now" moves, the per-key fold), `stages` (one function per stage),
//! `transaction` (what runs before a window's transaction), `preview` and `queries` (the
//! read-only SQL of `plan`, the run state and the window loop), `shared_read` (a workspace's one
//! read of the events for several groups).

mod attributes;
mod context;
mod expr;
mod lifetime;
mod preview;
mod queries;
mod shared_read;
mod spec;
mod stages;
mod tables;
mod time_since;
mod transaction;
mod value_counts;
mod writer;

pub use preview::Preview;
pub use queries::Queries;
pub use shared_read::{SharedEvents, drop_table_sql, shared_read_sql};
pub use spec::{LoadWindow, RunSpec};
pub use tables::{COUNTED_PERSISTENT, PERSISTENT, Tables, tracked_model_names};
pub(crate) use tables::{DERIVED, MANIFEST, SCRATCH};
pub use transaction::{WindowPlan, window_plan};
pub use writer::{Statement, StatementKind};
pub(crate) use writer::{render_checked, render_display};

use chrono::{NaiveDate, NaiveDateTime};

use crate::dag::{self, Stage};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::Semantics;
use writer::StageWriter;

/// Every statement of one load window, in DAG order.
pub fn render_run(
    plan: &Plan,
    dialect: &dyn Dialect,
    tables: &Tables,
    spec: &RunSpec,
) -> Result<Vec<Statement>> {
    tables.check_name_lengths(plan, dialect)?;
    let mut statements = Vec::new();
    for stage in dag::execution_order() {
        if stage == Stage::Attributes && !spec.refresh_attributes {
            continue;
        }
        if spec.attributes_only && !matches!(stage, Stage::Attributes | Stage::IncrementalManifest)
        {
            continue;
        }
        let mut writer = StageWriter::new(plan, dialect, tables, spec, stage);
        stages::render(&mut writer)?;
        statements.extend(writer.into_statements());
    }
    Ok(statements)
}

/// The attributes table computed from scratch in one statement: one scan of the events table
/// (filtered and deduplicated as a run does), the daily partials grouped by (key, day), folded
/// per key. No state is read or written. This is the reference a run's cost is measured against
/// (`benches/pipeline.rs`); exact mode only.
pub fn one_scan_sql(
    plan: &Plan,
    dialect: &dyn Dialect,
    tables: &Tables,
    today: NaiveDate,
) -> Result<String> {
    if plan.semantics != Semantics::Exact {
        return Err(Error::invalid(
            "semantics",
            "the one-scan query computes exact mode's attributes only",
        ));
    }
    let window = LoadWindow {
        lower: NaiveDateTime::MIN,
        upper: NaiveDateTime::MAX,
    };
    let spec = RunSpec::rebuild(window, true, NaiveDateTime::MIN, today);
    let mut writer = StageWriter::new(plan, dialect, tables, &spec, Stage::Attributes);
    attributes::one_scan(&mut writer)?;
    Ok(writer.into_statements().remove(0).sql)
}
