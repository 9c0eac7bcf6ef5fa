//! The files of the dbt project: models from the run's statements (`models.rs`, `jinja.rs`),
//! the run-time macros, `dbt_project.yml`, a `profiles.yml` example and a README. The
//! statements are rendered once per run kind (incremental, full refresh); where the two differ,
//! a model holds both under `{% if flags.FULL_REFRESH %}`.

use std::collections::{BTreeMap, BTreeSet};

use super::jinja::{Jinja, Place, Placeholders, SCHEMA, TIMESTAMP_FORMAT};
use super::models::{self, Materialized, Model};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::{Project, Semantics};
use crate::render::{self, LoadWindow, Queries, RunSpec, Tables};

fn schema_suffix(tables: &Tables, table: &str) -> String {
    let (schema, _) = tables.location(table);
    schema
        .strip_prefix(&format!("{SCHEMA}_"))
        .unwrap_or(schema)
        .to_string()
}

/// A Jinja string literal (single-quoted: identifiers quoted with `"` stay readable and dbt's
/// config parser keeps them as they are).
fn jinja_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn if_full_refresh(full: &str, incremental: &str) -> String {
    if full == incremental {
        incremental.to_string()
    } else {
        format!("{{% if flags.FULL_REFRESH %}}\n{full}\n{{% else %}}\n{incremental}\n{{% endif %}}")
    }
}

/// The project's files, path -> text, for `plan` in `dialect`.
pub fn files(
    project: &Project,
    plan: &Plan,
    dialect: &dyn Dialect,
    profile: &super::ProfileExample,
) -> Result<BTreeMap<String, String>> {
    let tables = Tables::stored(plan, dialect, SCHEMA);
    let placeholders = Placeholders::new();
    let render = |full_refresh: bool| {
        let window = LoadWindow {
            lower: placeholders.lower,
            upper: placeholders.upper,
        };
        // every key is recomputed each dbt run: the stored table is compared and only changed
        // rows are replaced, so `updated_at` still moves only for them
        let spec = RunSpec::rebuild(window, full_refresh, placeholders.now, placeholders.today);
        render::render_run(plan, dialect, &tables, &spec)
    };
    let mut all: Vec<&str> = Vec::new();
    all.extend(render::SCRATCH);
    all.extend(render::DERIVED);
    all.extend(render::MANIFEST);
    let mut relations: Vec<(String, String)> = Vec::new();
    for table in &all {
        let relation = tables.get(table).to_string();
        if !relations.iter().any(|(r, _)| *r == relation) {
            relations.push((relation, table.to_string()));
        }
    }
    relations.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    let lookup = |name: &str| {
        relations
            .iter()
            .find(|(r, _)| r == name)
            .map(|(_, t)| t.clone())
    };
    let incremental = models::convert(&render(false)?, &lookup)?;
    let full = models::convert(&render(true)?, &lookup)?;
    let mut day_offsets: BTreeSet<i64> = [0, 1].into();
    for days in plan.outputs.iter().filter_map(|o| o.period_days) {
        day_offsets.insert(-i64::from(days));
        day_offsets.insert(1 - i64::from(days));
    }
    let jinja = Jinja {
        dialect,
        tables: &tables,
        relations: relations.clone(),
        placeholders,
        day_offsets: day_offsets.into_iter().collect(),
    };
    if incremental.models.len() != full.models.len() {
        return Err(Error::Internal(
            "export: a full refresh renders other models than an incremental run".into(),
        ));
    }
    let mut files = BTreeMap::new();
    let mut earlier: BTreeSet<String> = BTreeSet::new();
    let mut previous: Option<String> = None;
    let mut hooks = String::from(
        "{#- Written by `sigbatch export-dbt`: statements that run before or after a model. -#}\n",
    );
    let mut listing = Vec::new();
    for (model, full_model) in incremental.models.iter().zip(&full.models) {
        if model.table != full_model.table || model.materialized != full_model.materialized {
            return Err(Error::Internal(format!(
                "export: model `{}` differs in shape between a full refresh and an incremental run",
                model.table
            )));
        }
        let name = jinja.model_name(&model.table);
        let place = Place::Model {
            table: &model.table,
            earlier: &earlier,
        };
        let body = if_full_refresh(
            &jinja.convert(&full_model.body, &place)?,
            &jinja.convert(&model.body, &place)?,
        );
        let mut hook_names = |kind: &str,
                              ours: &[String],
                              theirs: &[String]|
         -> Result<Vec<String>> {
            if ours.len() != theirs.len() {
                return Err(Error::Internal(format!(
                    "export: {kind} hooks of `{name}` differ"
                )));
            }
            let mut names = Vec::new();
            for (i, (sql, full_sql)) in ours.iter().zip(theirs).enumerate() {
                let macro_name = format!("sigbatch_{kind}_{}_{i}", model.table);
                let text = if_full_refresh(
                    &jinja.convert(full_sql, &Place::Macro)?,
                    &jinja.convert(sql, &Place::Macro)?,
                );
                // a table a hook creates is one dbt's relation cache has not seen
                let created = sql
                    .strip_prefix("CREATE TABLE IF NOT EXISTS ")
                    .and_then(|rest| {
                        jinja
                            .relations
                            .iter()
                            .find(|(relation, _)| rest.starts_with(&format!("{relation} ")))
                    });
                let cache = created.map_or(String::new(), |(_, table)| {
                    format!("\n{{%- do adapter.cache_added(sigbatch_table('{table}').incorporate(type='table')) -%}}")
                });
                hooks.push_str(&format!(
                    "\n{{% macro {macro_name}() -%}}\n{text}{cache}\n{{%- endmacro %}}\n"
                ));
                names.push(format!("\"{{{{ {macro_name}() }}}}\""));
            }
            Ok(names)
        };
        let pre = hook_names("pre_hook", &model.pre_hooks, &full_model.pre_hooks)?;
        let post = hook_names("post_hook", &model.post_hooks, &full_model.post_hooks)?;
        let model_file = model_text(
            &jinja,
            model,
            previous.as_deref(),
            &body,
            &pre,
            &post,
            dialect,
        );
        let path = format!("models/{}/{name}.sql", schema_suffix(&tables, &model.table));
        listing.push((name.clone(), model.materialized.clone(), path.clone()));
        files.insert(path, model_file);
        earlier.insert(model.table.clone());
        previous = Some(name);
    }
    files.insert("macros/sigbatch_hooks.sql".into(), hooks);
    files.insert(
        "macros/sigbatch_setup.sql".into(),
        setup_macro(&jinja, &incremental.setup, &full.setup)?,
    );
    files.insert(
        "macros/sigbatch_runtime.sql".into(),
        runtime_macros(plan, dialect, &tables, &relations, &jinja)?,
    );
    files.insert(
        "dbt_project.yml".into(),
        super::text::dbt_project(project, plan),
    );
    files.insert(
        "profiles.yml".into(),
        super::text::profiles(project, profile),
    );
    files.insert(
        "README.md".into(),
        super::text::readme(project, plan, dialect, &listing),
    );
    Ok(files)
}

#[allow(clippy::too_many_arguments)]
fn model_text(
    jinja: &Jinja<'_>,
    model: &Model,
    previous: Option<&str>,
    body: &str,
    pre: &[String],
    post: &[String],
    dialect: &dyn Dialect,
) -> String {
    let mut config = vec![];
    match &model.materialized {
        Materialized::Table => config.push("materialized='table'".to_string()),
        Materialized::Incremental { unique_key } => {
            config.push("materialized='incremental'".to_string());
            if let Some(key) = unique_key {
                config.push(format!("unique_key={}", jinja_string(key)));
            }
            config.push(format!(
                "incremental_strategy='{}'",
                dialect.dbt_incremental_strategy(unique_key.is_some())
            ));
        }
    }
    config.push(format!(
        "schema='{}'",
        schema_suffix(jinja.tables, &model.table)
    ));
    config.push("tags=['sigbatch']".to_string());
    if !pre.is_empty() {
        config.push(format!("pre_hook=[{}]", pre.join(", ")));
    }
    if !post.is_empty() {
        config.push(format!("post_hook=[{}]", post.join(", ")));
    }
    let mut text = format!(
        "-- stage `{}` of sigbatch's plan, rendered by `sigbatch export-dbt`; do not edit.\n{{{{ config({}) }}}}\n",
        model.stage.name(),
        config.join(", ")
    );
    if let Some(previous) = previous {
        // models run in the order sigbatch runs its stages: state read by a model is the state
        // the stages before it left
        text.push_str(&format!("-- depends_on: {{{{ ref('{previous}') }}}}\n"));
    }
    // dbt infers a model's refs from one branch of `flags.FULL_REFRESH`; the other's are named
    let mut refs: Vec<&str> = body
        .split("{{ ref('")
        .skip(1)
        .filter_map(|rest| rest.split("') }}").next())
        .filter(|name| Some(*name) != previous)
        .collect();
    refs.sort_unstable();
    refs.dedup();
    for name in refs {
        text.push_str(&format!("-- depends_on: {{{{ ref('{name}') }}}}\n"));
    }
    if model.table == "base_new_event_limits" {
        text.push_str("{%- set window = sigbatch_window() %}\n");
    }
    text.push_str(body);
    text.push('\n');
    text
}

fn setup_macro(jinja: &Jinja<'_>, incremental: &[String], full: &[String]) -> Result<String> {
    let mut text = String::from(
        "{#- Written by `sigbatch export-dbt`: the setup stage. Schemas, and the stored tables\n    (dropped on a full refresh) created where missing, so every model can read the state\n    it keeps. -#}\n{% macro sigbatch_setup_statements() -%}\n  {%- set statements = [] -%}\n",
    );
    let mut rest = incremental.iter().peekable();
    for sql in full {
        let shared = rest.peek().is_some_and(|s| *s == sql);
        if shared {
            rest.next();
        }
        let converted = jinja.convert(sql, &Place::Macro)?;
        let statement = format!(
            "  {{%- set sql -%}}\n{converted}\n  {{%- endset -%}}\n  {{%- do statements.append(sql) -%}}\n"
        );
        if shared {
            text.push_str(&statement);
        } else {
            text.push_str(&format!(
                "  {{%- if flags.FULL_REFRESH -%}}\n{statement}  {{%- endif -%}}\n"
            ));
        }
    }
    if rest.next().is_some() {
        return Err(Error::Internal(
            "export: the incremental setup is not part of the full refresh's".into(),
        ));
    }
    text.push_str("  {{ return(statements) }}\n{%- endmacro %}\n");
    Ok(text)
}

fn runtime_macros(
    plan: &Plan,
    dialect: &dyn Dialect,
    tables: &Tables,
    relations: &[(String, String)],
    jinja: &Jinja<'_>,
) -> Result<String> {
    let mut entries: Vec<String> = relations
        .iter()
        .map(|(_, table)| {
            format!(
                "{}: [{}, {}]",
                jinja_string(table),
                jinja_string(&schema_suffix(tables, table)),
                jinja_string(tables.location(table).1)
            )
        })
        .collect();
    entries.sort();
    let start = plan.vars.start_date;
    let start = format!(
        "{}, {}, {}",
        start.format("%Y"),
        start.format("%-m"),
        start.format("%-d")
    );
    let window = match plan.semantics {
        Semantics::Compat => include_str!("dbt/window_compat.sql").replace(
            "__SUMMARY_SQL__",
            &jinja.convert(
                &Queries { dialect, tables }.manifest_summary(&plan.project)?,
                &Place::Macro,
            )?,
        ),
        Semantics::Exact => {
            let quote_inner = |name: &str| {
                let (literal, _) = jinja.ts_literal(jinja.placeholders.lower, "");
                let text = jinja
                    .placeholders
                    .lower
                    .format(TIMESTAMP_FORMAT)
                    .to_string();
                literal.replace(&text, &format!("{{{{ {name} }}}}"))
            };
            let next_load = Queries { dialect, tables }
                .next_load_sql(&quote_inner("lower_text"), &quote_inner("cap_text"))?;
            include_str!("dbt/window_exact.sql")
                .replace("__NEXT_LOAD_SQL__", &next_load)
                .replace(
                    "__WATERMARK_TEXT__",
                    &jinja_string(&dialect.timestamp_text("watermark")),
                )
        }
    };
    let window = window
        .replace(
            "__BACKFILL_DAYS__",
            &plan.vars.backfill_limit_days.to_string(),
        )
        .replace("__START_DATE__", &start);
    let rendered_vars: Vec<String> = super::text::vars(plan)
        .into_iter()
        .filter(|(name, _)| !super::text::RUN_TIME_VARS.contains(name))
        .map(|(name, value)| format!("{}: {}", jinja_string(name), value.jinja()))
        .collect();
    let rendered_vars = format!("{{{}}}", rendered_vars.join(", "));
    // the stored tables this plan creates in its setup stage (the counted outputs' only where
    // it has some)
    let counted: &[&str] = if plan.counted.is_empty() {
        &[]
    } else {
        render::COUNTED_PERSISTENT
    };
    let stored = || render::PERSISTENT.iter().chain(counted);
    let persistent: Vec<String> = stored()
        .filter(|t| plan.semantics == Semantics::Exact || **t != "attributes_pending")
        .filter(|t| **t != "attributes")
        .map(|t| jinja_string(t))
        .collect();
    let persistent = format!("[{}]", persistent.join(", "));
    let dropped: Vec<String> = stored().map(|t| jinja_string(t)).collect();
    let dropped = format!("[{}]", dropped.join(", "));
    let runtime = include_str!("dbt/sigbatch_runtime.sql")
        .replace("__TABLES__", &format!("{{{}}}", entries.join(", ")))
        .replace("__RENDERED_VARS__", &rendered_vars)
        .replace("__PERSISTENT__", &persistent)
        .replace("__DROPPED__", &dropped)
        .replace("__SEMANTICS__", &jinja_string(plan.semantics.as_str()))
        .replace("__FINGERPRINT__", &jinja_string(&plan.fingerprint()));
    Ok(format!("{runtime}\n{window}"))
}
