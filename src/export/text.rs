//! The project's prose and YAML: `dbt_project.yml` (with the upstream vars), the `profiles.yml`
//! example and the README.

use super::ProfileExample;
use super::models::Materialized;
use crate::dialect::Dialect;
use crate::plan::Plan;
use crate::project::profiles::WarehouseKind;
use crate::project::{Project, Semantics};

/// A dbt project name: lower-case letters, digits and underscores, not starting with a digit.
pub fn dbt_name(project: &str) -> String {
    let mut name: String = project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        name.insert_str(0, "sigbatch_");
    }
    name
}

fn yaml_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn yaml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| yaml_string(i)).collect();
    format!("[{}]", items.join(", "))
}

/// A var's value, written as YAML in `dbt_project.yml` and as a Jinja literal for the guard.
pub enum VarValue {
    Text(String),
    Whole(u32),
    Flag(bool),
    List(Vec<String>),
}

impl VarValue {
    fn yaml(&self) -> String {
        match self {
            VarValue::Text(text) => yaml_string(text),
            VarValue::Whole(n) => n.to_string(),
            VarValue::Flag(b) => b.to_string(),
            VarValue::List(items) => yaml_list(items),
        }
    }

    pub fn jinja(&self) -> String {
        let string = |text: &str| format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
        match self {
            VarValue::Text(text) => string(text),
            VarValue::Whole(n) => n.to_string(),
            VarValue::Flag(b) => b.to_string(),
            VarValue::List(items) => {
                let items: Vec<String> = items.iter().map(|i| string(i)).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

/// Vars read when dbt runs; every other var is part of the rendered SQL.
pub const RUN_TIME_VARS: &[&str] = &[
    "snowplow__mock_current_day",
    "snowplow__allow_refresh",
    "snowplow__dev_target_name",
];

/// The project's vars under upstream's names, in upstream's order.
pub fn vars(plan: &Plan) -> Vec<(&'static str, VarValue)> {
    let v = &plan.vars;
    let mut vars = vec![
        (
            "snowplow__start_date",
            VarValue::Text(v.start_date.to_string()),
        ),
        ("snowplow__app_id", VarValue::List(v.app_ids.clone())),
        (
            "snowplow__backfill_limit_days",
            VarValue::Whole(v.backfill_limit_days),
        ),
        (
            "snowplow__late_event_lookback_days",
            VarValue::Whole(v.late_event_lookback_days),
        ),
        (
            "snowplow__min_late_events_to_process",
            VarValue::Whole(v.min_late_events_to_process),
        ),
        (
            "snowplow__include_current_day_in_windows",
            VarValue::Flag(v.include_current_day_in_windows),
        ),
    ];
    if let Some(day) = v.mock_current_day {
        vars.push((
            "snowplow__mock_current_day",
            VarValue::Text(day.to_string()),
        ));
    }
    vars.extend([
        ("snowplow__allow_refresh", VarValue::Flag(v.allow_refresh)),
        (
            "snowplow__dev_target_name",
            VarValue::Text(v.dev_target_name.clone()),
        ),
    ]);
    if let Some(database) = &v.database {
        vars.push(("snowplow__database", VarValue::Text(database.clone())));
    }
    vars.extend([
        (
            "snowplow__atomic_schema",
            VarValue::Text(v.atomic_schema.clone()),
        ),
        (
            "snowplow__events_table",
            VarValue::Text(v.events_table.clone()),
        ),
        (
            "snowplow__events_to_include",
            VarValue::List(v.events_to_include.clone()),
        ),
    ]);
    if let Some(filter) = &v.custom_filter {
        vars.push(("snowplow__custom_filter", VarValue::Text(filter.to_sql())));
    }
    vars.push((
        "snowplow__upsert_lookback_days",
        VarValue::Whole(v.upsert_lookback_days),
    ));
    vars
}

pub fn dbt_project(project: &Project, plan: &Plan) -> String {
    let vars: Vec<(&str, String)> = vars(plan)
        .into_iter()
        .map(|(name, value)| (name, value.yaml()))
        .collect();
    let vars: Vec<String> = vars
        .into_iter()
        .map(|(name, value)| format!("  {name}: {value}"))
        .collect();
    format!(
        "# Written by `sigbatch export-dbt` from the sigbatch project `{project_name}` ({mode} mode).\n\
         # Re-export instead of editing: `sigbatch export-dbt --check` fails when this differs.\n\
         name: {name}\n\
         version: '1.0.0'\n\
         config-version: 2\n\
         profile: {profile}\n\
         \n\
         model-paths: ['models']\n\
         macro-paths: ['macros']\n\
         clean-targets: ['target']\n\
         \n\
         # the setup stage: schemas and the stored tables (dropped on --full-refresh), plus the guards\n\
         on-run-start:\n\
         \x20 - \"{{{{ sigbatch_on_run_start() }}}}\"\n\
         \n\
         # The vars the SQL was rendered with, under upstream's names. snowplow__mock_current_day,\n\
         # snowplow__allow_refresh and snowplow__dev_target_name are read when dbt runs; the others\n\
         # are part of the rendered SQL: change them in sigbatch.yml and export again (a run whose\n\
         # vars differ from these stops before any model, naming the var).\n\
         vars:\n{vars}\n",
        project_name = project.name,
        mode = plan.semantics.as_str(),
        name = dbt_name(&project.name),
        profile = yaml_string(&project.profile),
        vars = vars.join("\n"),
    )
}

pub fn profiles(project: &Project, profile: &ProfileExample) -> String {
    let output = match profile.kind {
        WarehouseKind::DuckDb => format!(
            "      type: duckdb\n      # relative to the directory dbt runs in\n      path: {}\n      schema: {}\n      threads: 1\n",
            yaml_string(&profile.duckdb_path),
            yaml_string(&profile.schema)
        ),
        WarehouseKind::Snowflake => format!(
            "      type: snowflake\n      account: \"{{{{ env_var('SNOWFLAKE_ACCOUNT') }}}}\"\n      user: \"{{{{ env_var('SNOWFLAKE_USER') }}}}\"\n      password: \"{{{{ env_var('SNOWFLAKE_PASSWORD') }}}}\"\n      role: \"{{{{ env_var('SNOWFLAKE_ROLE') }}}}\"\n      warehouse: \"{{{{ env_var('SNOWFLAKE_WAREHOUSE') }}}}\"\n      database: \"{{{{ env_var('SNOWFLAKE_DATABASE') }}}}\"\n      schema: {}\n      threads: 1\n",
            yaml_string(&profile.schema)
        ),
        WarehouseKind::BigQuery => format!(
            "      type: bigquery\n      method: oauth\n      project: \"{{{{ env_var('BIGQUERY_PROJECT') }}}}\"\n      dataset: {}\n      threads: 1\n",
            yaml_string(&profile.schema)
        ),
        // export-dbt refuses Databricks today (`Dialect::subquery_predicates`); its profile is
        // written all the same, so that every kind has one
        WarehouseKind::Databricks => format!(
            "      type: databricks\n      host: \"{{{{ env_var('DATABRICKS_HOST') }}}}\"\n      http_path: \"{{{{ env_var('DATABRICKS_HTTP_PATH') }}}}\"\n      token: \"{{{{ env_var('DATABRICKS_TOKEN') }}}}\"\n      catalog: \"{{{{ env_var('DATABRICKS_CATALOG') }}}}\"\n      schema: {}\n      threads: 1\n",
            yaml_string(&profile.schema)
        ),
    };
    format!(
        "# An example profile for this project (no secrets: they come from environment variables).\n\
         # Copy it to ~/.dbt/profiles.yml or pass --profiles-dir.\n\
         {profile}:\n  target: {target}\n  outputs:\n    {target}:\n{output}",
        profile = yaml_string(&project.profile),
        target = profile.target,
    )
}

pub fn readme(
    project: &Project,
    plan: &Plan,
    dialect: &dyn Dialect,
    models: &[(String, Materialized, String)],
) -> String {
    let mut listing = String::new();
    for (name, materialized, path) in models {
        let kind = match materialized {
            Materialized::Table => "table".to_string(),
            Materialized::Incremental {
                unique_key: Some(key),
            } => format!("incremental, unique key {key}"),
            Materialized::Incremental { unique_key: None } => "incremental".to_string(),
        };
        listing.push_str(&format!("| `{name}` | {kind} | `{path}` |\n"));
    }
    let catch_up = match plan.semantics {
        Semantics::Exact => {
            "Each `dbt run` processes one load window: from the watermark (the newest `load_tstamp`\n\
             read so far) to the end of the `snowplow__backfill_limit_days`-th day after the next\n\
             loaded event, never past now. `sigbatch run` catches up window after window in one\n\
             invocation; dbt cannot loop inside a run, so run `dbt run` until it has caught up (the\n\
             run-state table's `watermark` reaches the newest load). The attributes table is\n\
             brought up to date by every `dbt run`: all keys are recomputed and only rows whose\n\
             values changed are replaced (`updated_at` moves only for them); `sigbatch run`\n\
             recomputes only the keys whose days changed."
        }
        Semantics::Compat => {
            "Compat mode reproduces the upstream Snowplow Signals dbt project: one load window per\n\
             `dbt run`, upstream's run limits, late-event rules and table shapes. A replay after a\n\
             partially failed run upserts `filtered_events` again (sigbatch skips it); the upsert\n\
             is idempotent."
        }
    };
    let commands = match plan.semantics {
        Semantics::Exact => {
            "dbt run --profiles-dir .                  # every schedule tick, the first one too\n\
             dbt run --profiles-dir . --full-refresh   # rebuild from snowplow__start_date (dev target,\n\
             \x20                                         # or snowplow__allow_refresh: true)"
        }
        Semantics::Compat => {
            "dbt run --profiles-dir . --full-refresh   # the first time (as upstream), or to rebuild\n\
             dbt run --profiles-dir .                  # every schedule tick"
        }
    };
    format!(
        "# {name}: Snowplow Signals batch attributes as a dbt project\n\
         \n\
         Written by `sigbatch export-dbt` from the sigbatch project `{name}` ({mode} mode, {dialect}\n\
         SQL). The models are the statements `sigbatch run` executes, from the same plan and\n\
         templates; re-export after changing the attribute group or the vars, and check in CI\n\
         that the export is current with `sigbatch export-dbt --check`. No dbt packages are\n\
         needed: everything the project uses is in `macros/`.\n\
         \n\
         ## Running it\n\
         \n\
         ```sh\n\
         {commands}\n\
         ```\n\
         \n\
         `profiles.yml` is an example for the target it was exported for; secrets come from\n\
         environment variables. Tables land as `sigbatch run` puts them: `<schema>_derived`,\n\
         `<schema>_snowplow_manifest`, `<schema>_scratch`, with sigbatch's state, so `sigbatch status`\n\
         reads them and `sigbatch run` can take over where a `dbt run` stopped.\n\
         \n\
         ## How it runs\n\
         \n\
         {catch_up}\n\
         \n\
         The `on-run-start` hook (`macros/sigbatch_setup.sql`) creates the schemas and the stored\n\
         tables where missing (dropping them first on `--full-refresh`), then checks that the\n\
         tables were built from this plan. The models run in a chain, in the order of sigbatch's\n\
         stages, so each reads the state the stages before it left. `base_new_event_limits`\n\
         takes the load window from the manifest tables (`macros/sigbatch_runtime.sql`); every\n\
         other model reads it from there. Manifest and state tables are models like the others,\n\
         the incremental manifest and run state last. \"Today\" is `snowplow__mock_current_day` if set, else the UTC date\n\
         dbt started.\n\
         \n\
         | model | materialization | file |\n\
         |---|---|---|\n\
         {listing}",
        name = project.name,
        mode = plan.semantics.as_str(),
        dialect = dialect.name(),
        commands = commands,
    )
}
