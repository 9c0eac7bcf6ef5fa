//! Render: a plan, a dialect and one load window become the SQL statements of a run.
//!
//! Pure and free of I/O: `compile`, `--dry-run` and `run` all go through here, so what a user
//! inspects is exactly what runs. Statement shapes live in `sql/*.sql` as minijinja templates
//! (strict undefined) that receive only fragments the dialect has already quoted; every rendered
//! statement is parsed back with sqlparser in its dialect before it is returned.

mod attributes;
mod expr;
mod lifetime;
mod preview;
mod stages;
mod transaction;

pub(crate) use attributes::window_end;
pub use preview::Preview;
pub use stages::tracked_model_names;
pub(crate) use transaction::render_checked;
pub use transaction::{WindowPlan, window_plan};

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{NaiveDate, NaiveDateTime};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};

use crate::dag::{self, Stage};
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

/// The load window of one run: `lower < load_tstamp < upper` in compat mode (upstream's strict
/// bounds), `lower <= load_tstamp < upper` in exact mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadWindow {
    pub lower: NaiveDateTime,
    pub upper: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub window: LoadWindow,
    pub full_refresh: bool,
    pub now: NaiveDateTime,
    /// The day attribute windows end at (`mock_current_day` or today).
    pub today: NaiveDate,
    /// Exact mode's watermark before this window: the highest `load_tstamp` seen so far. The
    /// window moves it to the newest load it holds; the next run re-reads from it inclusively
    /// (event_id dedup makes that safe), so an event loaded at exactly the watermark is kept.
    pub watermark: NaiveDateTime,
    /// Upstream skips the `filtered_events` upsert when that model already consumed the window
    /// (a replay after a partial failure).
    pub upsert_filtered_events: bool,
    /// Bring the attributes table up to date in this window. A catch-up over many windows does
    /// it only in its last one; the windows before it commit their data, state and the keys
    /// they changed (exact mode's pending keys) as usual.
    pub refresh_attributes: bool,
    /// Exact mode: the end of the period windows (today, or tomorrow with
    /// `include_current_day_in_windows`) the stored attributes table was computed for, or `None`
    /// when every key must be computed (first build, full refresh). When it has moved since, the
    /// keys with daily rows on dates that entered or left a period window are recomputed.
    pub attributes_window_end: Option<NaiveDate>,
    /// A run state was found and this is no full refresh: the setup stage's schemas and tables
    /// exist (setup commits before the first window that writes a run state), so it is skipped.
    pub stored_tables_exist: bool,
    /// Exact mode, nothing loaded since the watermark: only the attributes stage and the run
    /// state are rendered (`execute::NextWindow::attributes_only`).
    pub attributes_only: bool,
    /// Exact mode: no key's lifetime partials changed since the attributes table was built
    /// (an attributes-only window with no pending keys), so the attributes stage copies the
    /// lifetime outputs from the stored rows instead of reading the partials.
    pub lifetime_unchanged: bool,
}

/// Fully qualified, quoted names of every table a run reads or writes.
#[derive(Debug, Clone)]
pub struct Tables {
    pub events: String,
    /// The events table as (schema, table), unquoted, for catalog look-ups.
    pub events_location: (String, String),
    /// The events table's catalog where the dialect names one (`Dialect::events_catalog`).
    pub events_catalog: Option<String>,
    pub schemas: Vec<String>,
    names: BTreeMap<&'static str, String>,
    locations: BTreeMap<&'static str, (String, String)>,
    /// Storage clauses of every table: its format (`Dialect::table_format`), and for the derived
    /// tables their layout (`Dialect::table_layout`).
    layouts: BTreeMap<&'static str, String>,
    /// What `CREATE OR REPLACE` makes of every table: `TABLE`, or `TEMP TABLE` for scratch
    /// tables where `Dialect::temporary_scratch`.
    kinds: BTreeMap<&'static str, &'static str>,
}

pub(crate) const SCRATCH: &[&str] = &[
    "base_new_event_limits",
    "base_events_this_run",
    "filtered_events_this_run",
    "days_to_process",
    "daily_aggregates_this_run",
    "lifetime_partials_this_run",
    "daily_aggregation_manifest_this_run",
    "incremental_manifest_this_run",
    "attributes_keys",
    "attributes_this_run",
    "attributes_next",
];
pub(crate) const DERIVED: &[&str] = &["filtered_events", "daily_aggregates", "attributes"];
pub(crate) const MANIFEST: &[&str] = &[
    "incremental_manifest",
    "daily_aggregation_manifest",
    "run_state",
    "attributes_pending",
    "lifetime_partials",
    "lease",
];
/// sigbatch's own state tables, named apart from upstream's.
const SIGBATCH_ONLY: &[&str] = &[
    "run_state",
    "attributes_pending",
    "lifetime_partials",
    "lease",
];
/// Tables that carry state between runs, in the order `--full-refresh` drops them: the run state
/// first, so a refresh cut short where DDL commits statement by statement leaves no run state,
/// and the next run rebuilds every table (see `execute`).
pub const PERSISTENT: &[&str] = &[
    "run_state",
    "incremental_manifest",
    "daily_aggregation_manifest",
    "attributes_pending",
    "lifetime_partials",
    "filtered_events",
    "daily_aggregates",
    "attributes",
];

impl Tables {
    /// Where a run puts its tables: upstream's placement ([`Tables::stored`]), but the scratch
    /// tables are temporary where the dialect says so (`Dialect::temporary_scratch`).
    pub fn new(plan: &Plan, dialect: &dyn Dialect, target_schema: &str) -> Tables {
        Tables::build(plan, dialect, target_schema, dialect.temporary_scratch())
    }

    /// Upstream's placement, every table stored: `<schema>_derived`, `<schema>_snowplow_manifest`,
    /// `<schema>_scratch`.
    pub fn stored(plan: &Plan, dialect: &dyn Dialect, target_schema: &str) -> Tables {
        Tables::build(plan, dialect, target_schema, false)
    }

    fn build(
        plan: &Plan,
        dialect: &dyn Dialect,
        target_schema: &str,
        temporary_scratch: bool,
    ) -> Tables {
        let vars = &plan.vars;
        let events_catalog = dialect.events_catalog(vars);
        let mut events_parts: Vec<&str> = events_catalog.iter().map(String::as_str).collect();
        events_parts.extend([vars.atomic_schema.as_str(), vars.events_table.as_str()]);
        let mut names = BTreeMap::new();
        let mut locations = BTreeMap::new();
        let mut kinds = BTreeMap::new();
        let mut schemas = Vec::new();
        for (suffix, tables) in [
            ("_scratch", SCRATCH),
            ("_derived", DERIVED),
            ("_snowplow_manifest", MANIFEST),
        ] {
            let temporary = temporary_scratch && tables == SCRATCH;
            let schema = format!("{target_schema}{suffix}");
            if !temporary {
                schemas.push(dialect.ident(&schema));
            }
            for table in tables {
                let name = if SIGBATCH_ONLY.contains(table) {
                    format!("{}_sigbatch_{table}", plan.project)
                } else {
                    format!("{}_{table}", plan.project)
                };
                let relation = if temporary {
                    dialect.relation(&["temp", "main", &name])
                } else {
                    dialect.relation(&[&schema, &name])
                };
                names.insert(*table, relation);
                locations.insert(*table, (schema.clone(), name));
                kinds.insert(*table, if temporary { "TEMP TABLE" } else { "TABLE" });
            }
        }
        if plan.semantics == Semantics::Exact {
            // exact mode's base events already are this run's filtered events (filtered before
            // deduplication): one table, not a copy of a million rows
            let base = names["base_events_this_run"].clone();
            names.insert("filtered_events_this_run", base);
            let base = locations["base_events_this_run"].clone();
            locations.insert("filtered_events_this_run", base);
            kinds.insert("filtered_events_this_run", kinds["base_events_this_run"]);
        }
        let key = dialect.ident(&plan.key_column);
        let by_day = dialect.table_layout(Some(&dialect.ident("event_date")), Some(&key));
        let layouts = names
            .keys()
            .map(|table| {
                let layout = match *table {
                    "filtered_events" | "daily_aggregates" => by_day.clone(),
                    "attributes" => dialect.table_layout(None, Some(&key)),
                    _ => String::new(),
                };
                (*table, format!("{}{layout}", dialect.table_format()))
            })
            .collect();
        Tables {
            events: dialect.relation(&events_parts),
            events_location: (vars.atomic_schema.clone(), vars.events_table.clone()),
            events_catalog,
            schemas,
            names,
            locations,
            layouts,
            kinds,
        }
    }

    /// The storage clauses `CREATE TABLE` gives `table` (empty but on BigQuery and Databricks).
    pub fn layout(&self, table: &str) -> &str {
        self.layouts.get(table).map_or("", String::as_str)
    }

    pub fn get(&self, table: &str) -> &str {
        self.names
            .get(table)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("unknown table {table}"))
    }

    /// (schema, table) of a table, unquoted.
    pub fn location(&self, table: &str) -> (&str, &str) {
        let (schema, name) = self
            .locations
            .get(table)
            .unwrap_or_else(|| panic!("unknown table {table}"));
        (schema, name)
    }

    pub(crate) fn as_json(&self) -> Value {
        json!(self.names)
    }

    pub(crate) fn layouts_json(&self) -> Value {
        json!(self.layouts)
    }

    pub(crate) fn kinds_json(&self) -> Value {
        json!(self.kinds)
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
            "base_events_this_run.sql",
            "filtered_events_this_run.sql",
            "filtered_events_delete.sql",
            "insert_all.sql",
            "days_to_process_compat.sql",
            "days_to_process_exact.sql",
            "daily_select.sql",
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
            "lease_release.sql",
            "lease_read.sql",
        );
        env
    })
}

/// Adds `extra`'s entries to the template context `context` (both JSON objects); `extra` wins.
pub(super) fn merge_context(context: &mut Value, extra: Value) {
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
    stage: Stage,
    out: Vec<Statement>,
}

impl StageWriter<'_> {
    /// Renders `template` with the shared context plus `extra`.
    pub fn emit(&mut self, template: &str, extra: Value) -> Result<()> {
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
        let sql = sql.trim().to_string();
        d.check(self.stage.name(), &sql)?;
        self.out.push(Statement {
            stage: self.stage,
            kind: StatementKind::of(&sql, self.tables),
            sql,
        });
        Ok(())
    }
}

/// Every statement of one load window, in DAG order.
pub fn render_run(
    plan: &Plan,
    dialect: &dyn Dialect,
    tables: &Tables,
    spec: &RunSpec,
) -> Result<Vec<Statement>> {
    let mut statements = Vec::new();
    for stage in dag::execution_order() {
        if stage == Stage::Attributes && !spec.refresh_attributes {
            continue;
        }
        if spec.attributes_only && !matches!(stage, Stage::Attributes | Stage::IncrementalManifest)
        {
            continue;
        }
        let mut writer = StageWriter {
            plan,
            dialect,
            tables,
            spec,
            stage,
            out: Vec::new(),
        };
        stages::render(&mut writer)?;
        statements.extend(writer.out);
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
    let spec = RunSpec {
        window,
        full_refresh: true,
        now: NaiveDateTime::MIN,
        today,
        watermark: window.lower,
        upsert_filtered_events: true,
        refresh_attributes: true,
        attributes_window_end: None,
        stored_tables_exist: false,
        attributes_only: false,
        lifetime_unchanged: false,
    };
    let mut writer = StageWriter {
        plan,
        dialect,
        tables,
        spec: &spec,
        stage: Stage::Attributes,
        out: Vec::new(),
    };
    attributes::one_scan(&mut writer)?;
    Ok(writer.out.remove(0).sql)
}
