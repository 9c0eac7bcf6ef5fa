//! The table catalog: the quoted relation of every table a run reads or writes, where each one
//! lives (`<schema>_scratch`, `<schema>_derived`, `<schema>_snowplow_manifest`), its storage
//! clauses, and which of them carry state between runs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::Semantics;

/// Fully qualified, quoted names of every table a run reads or writes.
#[derive(Debug, Clone)]
pub struct Tables {
    pub events: String,
    /// The events table as (schema, table), unquoted, for catalog look-ups.
    pub events_location: (String, String),
    /// The events table's catalog where the dialect names one (`Dialect::events_catalog`).
    pub events_catalog: Option<String>,
    pub schemas: Vec<String>,
    pub(super) names: BTreeMap<&'static str, String>,
    locations: BTreeMap<&'static str, (String, String)>,
    /// Storage clauses of every table: its format (`Dialect::table_format`), and for the derived
    /// tables their layout (`Dialect::table_layout`).
    layouts: BTreeMap<&'static str, String>,
    /// What `CREATE OR REPLACE` makes of every table: `TABLE`, or `TEMP TABLE` for scratch
    /// tables where `Dialect::temporary_scratch`.
    pub(super) kinds: BTreeMap<&'static str, &'static str>,
}

pub(crate) const SCRATCH: &[&str] = &[
    "base_new_event_limits",
    "base_events_this_run",
    "filtered_events_this_run",
    "days_to_process",
    "pair_events_this_run",
    "daily_aggregates_this_run",
    "lifetime_partials_this_run",
    "daily_aggregation_manifest_this_run",
    "incremental_manifest_this_run",
    "attributes_keys",
    "attributes_this_run",
    "attributes_next",
    "value_counts_this_run",
    "lifetime_value_counts_this_run",
];
pub(crate) const DERIVED: &[&str] = &["filtered_events", "daily_aggregates", "attributes"];
pub(crate) const MANIFEST: &[&str] = &[
    "incremental_manifest",
    "daily_aggregation_manifest",
    "run_state",
    "attributes_pending",
    "lifetime_partials",
    "value_counts",
    "lifetime_value_counts",
    "lease",
];
/// sigbatch's own state tables, named apart from upstream's.
const SIGBATCH_ONLY: &[&str] = &[
    "run_state",
    "attributes_pending",
    "lifetime_partials",
    "value_counts",
    "lifetime_value_counts",
    "lease",
];
/// The state tables of counted outputs (`most_frequent`, `least_frequent`, `category_count`),
/// which exist only for plans with such outputs (`Plan::counted`); dropped with
/// [`PERSISTENT`] on a full refresh.
pub const COUNTED_PERSISTENT: &[&str] = &["value_counts", "lifetime_value_counts"];
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

    /// Refuses names longer than the warehouse takes: the project's prefix and suffixes
    /// (`_sigbatch_lifetime_value_counts`, `_snowplow_manifest`) and column suffixes (`_2`)
    /// make names longer than the user wrote, and the warehouse would only say so at the DDL.
    pub(crate) fn check_name_lengths(&self, plan: &Plan, dialect: &dyn Dialect) -> Result<()> {
        let Some(limit) = dialect.max_identifier_length() else {
            return Ok(());
        };
        let tables = self
            .locations
            .values()
            .flat_map(|(schema, table)| [("schema", schema), ("table", table)]);
        let columns = (plan.properties.iter().map(|c| &c.name))
            .chain(plan.daily.iter().map(|c| &c.name))
            .chain(plan.outputs.iter().map(|c| &c.name))
            .map(|name| ("column", name));
        for (what, name) in tables.chain(columns) {
            let length = name.chars().count();
            if length > limit {
                return Err(Error::invalid(
                    format!("project `{}`", plan.project),
                    format!(
                        "the {what} name `{name}` is {length} characters long; {} takes at most {limit}",
                        dialect.kind().name()
                    ),
                )
                .with_hint(
                    "shorten the attribute group's name or the attribute's, or the output's `schema` in profiles.yml",
                ));
            }
        }
        Ok(())
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

    /// (schema, table) of every table, unquoted, in the catalog's order: what a workspace
    /// compares to find two projects that would write the same tables.
    pub fn locations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.locations
            .values()
            .map(|(schema, name)| (schema.as_str(), name.as_str()))
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

/// The models upstream's incremental manifest tracks (one row each).
const TRACKED_MODELS: &[&str] = &[
    "filtered_events_this_run",
    "filtered_events",
    "days_to_process",
    "daily_aggregates_this_run",
    "daily_aggregation_manifest",
    "daily_aggregates",
    "attributes",
];

pub fn tracked_model_names(project: &str) -> Vec<String> {
    TRACKED_MODELS
        .iter()
        .map(|m| format!("{project}_{m}"))
        .collect()
}
