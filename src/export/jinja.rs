//! Placeholder SQL -> dbt Jinja. The run's statements are rendered with placeholder values
//! for what dbt decides at run time (a schema name standing for `target.schema`, the load
//! window, "now", "today"); each renders through the dialect like any value, so the statements
//! are parsed back as usual. Here the placeholders become Jinja: relations become `ref`,
//! `this` or `sigbatch_table`, the window bounds the `base_new_event_limits` model's columns,
//! "now" and "today" macro calls. A placeholder left over is an internal error, never a wrong
//! project.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::render::Tables;

pub(super) const SCHEMA: &str = "sigbatchplaceholderschema";
pub(super) const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("placeholder timestamp")
}

pub(super) struct Placeholders {
    pub lower: NaiveDateTime,
    pub upper: NaiveDateTime,
    pub now: NaiveDateTime,
    pub today: NaiveDate,
}

impl Placeholders {
    pub fn new() -> Placeholders {
        Placeholders {
            lower: at("1901-02-03 04:05:06"),
            upper: at("1902-03-04 05:06:07"),
            now: at("1903-04-05 06:07:08"),
            today: NaiveDate::from_ymd_opt(2401, 1, 1).expect("placeholder day"),
        }
    }
}

/// Where a piece of SQL goes: a model's body (refs to earlier models), or a hook or setup
/// statement (tables by name).
pub(super) enum Place<'a> {
    Model {
        table: &'a str,
        earlier: &'a BTreeSet<String>,
    },
    Macro,
}

/// Everything needed to turn placeholder SQL into dbt Jinja.
pub(super) struct Jinja<'a> {
    pub dialect: &'a dyn Dialect,
    pub tables: &'a Tables,
    /// (rendered relation, logical table), longest first.
    pub relations: Vec<(String, String)>,
    pub placeholders: Placeholders,
    pub day_offsets: Vec<i64>,
}

impl Jinja<'_> {
    pub fn ts_literal(&self, at: NaiveDateTime, inner: &str) -> (String, String) {
        let literal = self.dialect.timestamp_literal(at);
        let text = at.format(TIMESTAMP_FORMAT).to_string();
        (literal.clone(), literal.replace(&text, inner))
    }

    pub fn model_name(&self, table: &str) -> String {
        self.tables.location(table).1.to_string()
    }

    pub fn convert(&self, sql: &str, place: &Place<'_>) -> Result<String> {
        let mut out = sql.to_string();
        for (relation, table) in &self.relations {
            let replacement = match place {
                Place::Model { table: own, .. } if own == table => "{{ this }}".to_string(),
                Place::Model { earlier, .. } if earlier.contains(table) => {
                    format!("{{{{ ref('{}') }}}}", self.model_name(table))
                }
                _ => format!("{{{{ sigbatch_table('{table}') }}}}"),
            };
            out = out.replace(relation, &replacement);
        }
        for suffix in ["scratch", "derived", "snowplow_manifest"] {
            let schema = self.dialect.ident(&format!("{SCHEMA}_{suffix}"));
            out = out.replace(&schema, &format!("{{{{ sigbatch_schema('{suffix}') }}}}"));
        }
        let p = &self.placeholders;
        let limits = self.model_name("base_new_event_limits");
        for (at, bound) in [(p.lower, "lower"), (p.upper, "upper")] {
            let (literal, in_limits) = self.ts_literal(at, &format!("{{{{ window.{bound} }}}}"));
            let replacement = match place {
                Place::Model { table, .. } if *table == "base_new_event_limits" => in_limits,
                Place::Model { .. } => {
                    format!("(SELECT {bound}_limit FROM {{{{ ref('{limits}') }}}})")
                }
                Place::Macro => format!(
                    "(SELECT {bound}_limit FROM {{{{ sigbatch_table('base_new_event_limits') }}}})"
                ),
            };
            out = out.replace(&literal, &replacement);
        }
        let (literal, now) = self.ts_literal(p.now, "{{ sigbatch_now() }}");
        out = out.replace(&literal, &now);
        for offset in &self.day_offsets {
            let day = (p.today + chrono::TimeDelta::days(*offset))
                .format("%Y-%m-%d")
                .to_string();
            out = out.replace(&day, &format!("{{{{ sigbatch_day({offset}) }}}}"));
        }
        let leftovers = [
            SCHEMA.to_string(),
            p.lower.format("%Y-%m-%d").to_string(),
            p.upper.format("%Y-%m-%d").to_string(),
            p.now.format("%Y-%m-%d").to_string(),
        ];
        let years = self.day_offsets.iter().map(|o| {
            (p.today + chrono::TimeDelta::days(*o))
                .format("%Y-")
                .to_string()
        });
        if let Some(left) = leftovers
            .into_iter()
            .chain(years)
            .find(|l| out.contains(l.as_str()))
        {
            return Err(Error::Internal(format!(
                "export: placeholder `{left}` left in the dbt SQL:\n{out}"
            )));
        }
        Ok(out)
    }
}
