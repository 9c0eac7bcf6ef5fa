//! The upstream dbt vars (`snowplow__*`), with upstream's names and generated defaults, so an
//! existing `dbt_project.yml` vars block can be pasted into `sigbatch.yml` unchanged.
//!
//! Every var is parsed into a typed field here; an unknown name is an error (a typo such as
//! `snowplow__start_dte` would otherwise silently fall back to a default and rebuild history from
//! the wrong day).

use chrono::NaiveDate;
use serde_yaml_ng::{Mapping, Value};

use super::filter::CustomFilter;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Vars {
    pub start_date: NaiveDate,
    pub app_ids: Vec<String>,
    pub backfill_limit_days: u32,
    pub late_event_lookback_days: u32,
    pub min_late_events_to_process: u32,
    pub include_current_day_in_windows: bool,
    pub mock_current_day: Option<NaiveDate>,
    pub allow_refresh: bool,
    pub dev_target_name: String,
    pub database: Option<String>,
    pub atomic_schema: String,
    pub events_table: String,
    pub databricks_catalog: String,
    pub events_to_include: Vec<String>,
    pub custom_filter: Option<CustomFilter>,
    pub upsert_lookback_days: u32,
    /// Snowflake: the `QUERY_TAG` of every statement (over the profile's `query_tag`).
    pub query_tag: Option<String>,
    /// sigbatch's own var `sigbatch__max_window_events`: how many loaded events one exact-mode
    /// window may read.
    pub max_window_events: WindowEvents,
}

/// How many loaded events an exact-mode window may read (`sigbatch__max_window_events`), so a
/// long history is read in windows whose memory follows the window (semantics.md 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowEvents {
    /// The warehouse's default (`Dialect::default_max_window_events`).
    #[default]
    WarehouseDefault,
    AtMost(u64),
    /// Only `snowplow__backfill_limit_days` bounds a window.
    Unlimited,
}

impl WindowEvents {
    /// The limit for a warehouse whose default is `warehouse_default`.
    pub fn resolve(self, warehouse_default: Option<u64>) -> Option<u64> {
        match self {
            WindowEvents::WarehouseDefault => warehouse_default,
            WindowEvents::AtMost(events) => Some(events),
            WindowEvents::Unlimited => None,
        }
    }
}

impl Default for Vars {
    fn default() -> Self {
        Vars {
            start_date: NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"),
            app_ids: Vec::new(),
            backfill_limit_days: 1,
            late_event_lookback_days: 5,
            min_late_events_to_process: 1,
            include_current_day_in_windows: false,
            mock_current_day: None,
            allow_refresh: false,
            dev_target_name: "dev".into(),
            database: None,
            atomic_schema: "atomic".into(),
            events_table: "events".into(),
            databricks_catalog: "hive_metastore".into(),
            events_to_include: Vec::new(),
            custom_filter: None,
            upsert_lookback_days: 30,
            query_tag: None,
            max_window_events: WindowEvents::WarehouseDefault,
        }
    }
}

/// Upstream vars that are accepted so a pasted block loads, but change nothing here: they steer
/// dbt itself (grants, the tracked-model list) or were never read upstream.
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "snowplow__events",
    "snowplow__grant_schemas",
    "snowplow__grant_select_to",
    "snowplow__run_type",
    "snowplow__attribute_key",
    "models_to_remove",
    "models_to_run",
    "surrogate_key_treat_nulls_as_empty_strings",
];

impl Vars {
    /// Applies `vars` on top of the current values; `source` names where they came from.
    pub fn apply(&mut self, vars: &Mapping, source: &str) -> Result<()> {
        for (key, value) in vars {
            let name = key.as_str().ok_or_else(|| {
                Error::invalid(source, format!("var name `{key:?}` is not a string"))
            })?;
            let context = format!("{source}: var `{name}`");
            let bad = |expected: &str| {
                Error::invalid(
                    &context,
                    format!("expected {expected}, got `{}`", show(value)),
                )
            };
            match name {
                "snowplow__start_date" => {
                    self.start_date = date(value).ok_or_else(|| bad("a date like '2025-01-01'"))?
                }
                "snowplow__app_id" => {
                    self.app_ids = strings(value).ok_or_else(|| bad("a list of app ids"))?
                }
                "snowplow__backfill_limit_days" => {
                    self.backfill_limit_days = whole(value)
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad("a whole number >= 1"))?
                }
                "snowplow__late_event_lookback_days" => {
                    self.late_event_lookback_days =
                        whole(value).ok_or_else(|| bad("a whole number"))?
                }
                "snowplow__min_late_events_to_process" => {
                    self.min_late_events_to_process = whole(value)
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad("a whole number >= 1"))?
                }
                "snowplow__include_current_day_in_windows" => {
                    self.include_current_day_in_windows =
                        boolean(value).ok_or_else(|| bad("true or false"))?
                }
                "snowplow__mock_current_day" => {
                    self.mock_current_day = match value {
                        Value::Null | Value::Bool(false) => None,
                        Value::String(s) if s.is_empty() => None,
                        other => Some(
                            date(other).ok_or_else(|| bad("a date like '2025-01-06', or false"))?,
                        ),
                    }
                }
                "snowplow__allow_refresh" => {
                    self.allow_refresh = boolean(value).ok_or_else(|| bad("true or false"))?
                }
                "snowplow__dev_target_name" => {
                    self.dev_target_name = text(value).ok_or_else(|| bad("a target name"))?
                }
                "snowplow__query_tag" => {
                    self.query_tag = Some(text(value).ok_or_else(|| bad("a query tag"))?)
                }
                "snowplow__database" => {
                    self.database = Some(text(value).ok_or_else(|| bad("a database name"))?)
                }
                "snowplow__atomic_schema" => {
                    self.atomic_schema = text(value).ok_or_else(|| bad("a schema name"))?
                }
                "snowplow__events_table" => {
                    self.events_table = text(value).ok_or_else(|| bad("a table name"))?
                }
                "snowplow__databricks_catalog" => {
                    self.databricks_catalog = text(value).ok_or_else(|| bad("a catalog name"))?
                }
                "snowplow__events_to_include" => {
                    self.events_to_include =
                        strings(value).ok_or_else(|| bad("a list of event names"))?
                }
                "snowplow__custom_filter" => {
                    self.custom_filter = match value {
                        Value::Null => None,
                        Value::String(s) if s.trim().is_empty() => None,
                        other => {
                            let sql = text(other).ok_or_else(|| bad("a SQL predicate string"))?;
                            Some(
                                CustomFilter::parse(&sql)
                                    .map_err(|e| Error::invalid(&context, e))?,
                            )
                        }
                    }
                }
                "snowplow__upsert_lookback_days" => {
                    self.upsert_lookback_days = whole(value).ok_or_else(|| bad("a whole number"))?
                }
                "sigbatch__max_window_events" => {
                    self.max_window_events = window_events(value)
                        .ok_or_else(|| bad("a whole number >= 1, `unlimited` or `default`"))?
                }
                other if ACCEPTED_WITHOUT_EFFECT.contains(&other) => {}
                other => {
                    return Err(Error::invalid(source, format!("unknown var `{other}`")).with_hint(
                        "vars use the upstream names, e.g. snowplow__start_date, snowplow__app_id, \
                         snowplow__backfill_limit_days; see docs/configuration.md, \"Vars\"",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The day windows are measured from: `mock_current_day`, else today in UTC.
    pub fn today(&self, now: chrono::NaiveDateTime) -> NaiveDate {
        self.mock_current_day.unwrap_or(now.date())
    }
}

fn show(value: &Value) -> String {
    serde_yaml_ng::to_string(value)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn date(value: &Value) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.as_str()?.trim(), "%Y-%m-%d").ok()
}

fn whole(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn window_events(value: &Value) -> Option<WindowEvents> {
    let events = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.trim() {
            "unlimited" => return Some(WindowEvents::Unlimited),
            "default" => return Some(WindowEvents::WarehouseDefault),
            other => other.replace('_', "").parse().ok(),
        },
        _ => None,
    }?;
    (events >= 1).then_some(WindowEvents::AtMost(events))
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::String(s) if s.is_empty() => Some(Vec::new()),
        Value::String(s) => Some(vec![s.clone()]),
        Value::Sequence(items) => items.iter().map(text).collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(yaml: &str) -> Result<Vars> {
        let mut vars = Vars::default();
        vars.apply(&serde_yaml_ng::from_str(yaml).unwrap(), "sigbatch.yml")?;
        Ok(vars)
    }

    #[test]
    fn upstream_names_and_shapes_load() {
        let vars = apply(
            "snowplow__start_date: '2025-01-01'\nsnowplow__app_id: ['basic_test']\nsnowplow__backfill_limit_days: 3\n\
             snowplow__mock_current_day: '2025-01-06'\nsnowplow__query_tag: x\n",
        )
        .unwrap();
        assert_eq!(vars.app_ids, vec!["basic_test"]);
        assert_eq!(vars.backfill_limit_days, 3);
        assert_eq!(vars.mock_current_day, NaiveDate::from_ymd_opt(2025, 1, 6));
    }

    #[test]
    fn unknown_and_mistyped_vars_are_errors_naming_the_var() {
        let message = apply("snowplow__start_dte: '2025-01-01'\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("unknown var `snowplow__start_dte`"),
            "{message}"
        );
        let message = apply("snowplow__backfill_limit_days: 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("snowplow__backfill_limit_days") && message.contains("`0`"),
            "{message}"
        );
        let message = apply("snowplow__start_date: 'yesterday'\n")
            .unwrap_err()
            .to_string();
        assert!(message.contains("`yesterday`"), "{message}");
        for bad in ["0", "-5", "many", "1.5"] {
            let message = apply(&format!("sigbatch__max_window_events: {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("sigbatch__max_window_events") && message.contains(bad),
                "{message}"
            );
        }
    }

    #[test]
    fn max_window_events_takes_a_count_unlimited_or_the_default() {
        let limit = |yaml: &str| apply(yaml).unwrap().max_window_events;
        assert_eq!(
            limit("sigbatch__max_window_events: 500000\n"),
            WindowEvents::AtMost(500_000)
        );
        assert_eq!(
            limit("sigbatch__max_window_events: '2_000_000'\n"),
            WindowEvents::AtMost(2_000_000)
        );
        assert_eq!(
            limit("sigbatch__max_window_events: unlimited\n"),
            WindowEvents::Unlimited
        );
        assert_eq!(limit("{}"), WindowEvents::WarehouseDefault);
        assert_eq!(WindowEvents::WarehouseDefault.resolve(Some(7)), Some(7));
        assert_eq!(WindowEvents::AtMost(3).resolve(Some(7)), Some(3));
        assert_eq!(WindowEvents::Unlimited.resolve(Some(7)), None);
    }
}
