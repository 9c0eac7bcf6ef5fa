//! `plan`: what the next `run` would do, writing nothing. The windows come from the run's own
//! window loop (`load_window::LoadWindows`) after the run's own checks (`preflight::check_run`), on a
//! read-only connection; the new events per window and date from the run's base events template
//! (`render::Preview`); the dates each window aggregates from exact mode's days-to-process rule
//! (`sql/days_to_process_exact.sql`, followed window by window with the deferred counts the
//! daily manifest carries between them). The CLI tests hold plan and run to the same numbers.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::NaiveDate;
use serde::Serialize;

use super::ProjectArgs;
use super::status::deferred_dates;
use crate::error::{Error, Result};
use crate::load_window::{LoadWindows, Mode, RunOptions, Step, WindowSettings};
use crate::plan::Plan;
use crate::preflight;
use crate::project::Semantics;
use crate::render::{LoadWindow, Preview, Tables};
use crate::warehouse::{self, Access};

#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub project: ProjectArgs,
    pub windows: WindowSettings,
}

#[derive(Debug, Serialize)]
pub struct RunPlan {
    pub project: String,
    pub mode: &'static str,
    pub target: String,
    pub warehouse: String,
    /// Set when the run would execute nothing, saying why.
    pub nothing_to_do: Option<String>,
    /// The first window rebuilds every table (asked for, or no run state yet).
    pub full_refresh: bool,
    pub windows: Vec<PlannedWindow>,
    pub events: u64,
    /// Event dates aggregated over all windows; `None` in compat mode (not predicted).
    pub days_aggregated: Option<u64>,
    /// Keys the attributes refresh would recompute (an upper bound on the keys whose attributes
    /// change); `None` in compat mode, which recomputes every key.
    pub keys_to_recompute: Option<u64>,
    /// Bytes the run's event reads would scan, where the warehouse can estimate (BigQuery).
    pub estimated_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct PlannedWindow {
    /// UTC, as in run_results.json; exact mode reads `lower <= load_tstamp < upper`, compat
    /// `lower < load_tstamp < upper`.
    pub lower: String,
    pub upper: String,
    pub label: String,
    pub events: u64,
    pub days_aggregated: Option<u64>,
    /// Every event date the window touches or holds back, in order.
    pub dates: Vec<PlannedDate>,
}

#[derive(Debug, Serialize)]
pub struct PlannedDate {
    pub event_date: String,
    pub new_events: u64,
    /// Events deferred by earlier runs or windows, waiting on this date.
    pub waiting_events: u64,
    /// Whether the window aggregates the date; `None` in compat mode.
    pub aggregate: Option<bool>,
    pub reason: Reason,
}

/// Why a date is in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// New events within `late_event_lookback_days` of the window's newest event date.
    New,
    /// New events on an older date: aggregated once `min_late_events_to_process` are waiting.
    Late,
    /// No new events: deferred earlier, aggregated once enough are waiting.
    Deferred,
}

/// Works out the next run's plan on a read-only connection.
pub fn run_plan(settings: &PlanSettings) -> Result<RunPlan> {
    let (project, plan) = settings.project.load()?;
    let target = settings.project.target(&project)?;
    let kind = target.output.kind();
    let tables = Tables::new(&plan, kind.dialect().as_ref(), target.output.schema());
    let mut connection = warehouse::connect(&target, Access::ReadOnly)?;
    let warehouse = connection.as_mut();
    let dialect = super::dialect_reading_events(warehouse, &plan, &tables, kind)?;
    let options = RunOptions {
        windows: settings.windows.clone(),
        target_name: target.name.clone(),
        mode: Mode::Execute,
        fence: None,
        shared_events: None,
    };
    let stored = preflight::check_run(
        &project,
        &plan,
        warehouse,
        dialect.as_ref(),
        &tables,
        &options,
    )?;
    let mut cursor = LoadWindows::new(&stored, &plan, &options.windows);
    let full_refresh = cursor.full_refresh;
    let mut report = RunPlan {
        project: project.name.clone(),
        mode: project.semantics.as_str(),
        target: target.name.clone(),
        warehouse: target.output.kind().to_string(),
        nothing_to_do: None,
        full_refresh,
        windows: Vec::new(),
        events: 0,
        days_aggregated: None,
        keys_to_recompute: None,
        estimated_bytes: None,
    };
    let mut windows: Vec<(LoadWindow, String)> = Vec::new();
    loop {
        match cursor.next(
            warehouse,
            dialect.as_ref(),
            &tables,
            &plan,
            &stored,
            &options,
        )? {
            Step::Window(next) => windows.push((next.window, next.label)),
            Step::NothingToDo(message) => {
                report.nothing_to_do = Some(message);
                break;
            }
            Step::Done => break,
        }
    }
    if windows.is_empty() {
        return Ok(report);
    }
    let (schema, name) = tables.location("filtered_events");
    let preview = Preview {
        plan: &plan,
        dialect: dialect.as_ref(),
        tables: &tables,
        windows: &windows.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
        today: cursor.today,
        now: options.windows.now,
        full_refresh,
        stored_events: warehouse.table_exists(schema, name)?,
    };
    let events_sql = preview.events_sql()?;
    let mut touched: Vec<BTreeMap<NaiveDate, u64>> = vec![BTreeMap::new(); windows.len()];
    for row in warehouse.query(&events_sql)? {
        let index: usize = warehouse::number_cell(Some(&row), 0);
        let date = row.get(1).cloned().flatten().unwrap_or_default();
        let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map_err(|_| Error::Internal(format!("plan: `{date}` is not an event date")))?;
        let slot = index
            .checked_sub(1)
            .and_then(|i| touched.get_mut(i))
            .ok_or_else(|| {
                Error::Internal(format!("plan: an event outside the windows ({index})"))
            })?;
        slot.insert(date, warehouse::number_cell(Some(&row), 2));
    }
    report.estimated_bytes = warehouse.estimate_bytes(&events_sql)?;
    let (schema, name) = tables.location("daily_aggregation_manifest");
    let mut waiting: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    if !full_refresh && warehouse.table_exists(schema, name)? {
        for date in deferred_dates(warehouse, &tables)? {
            if let Ok(day) = NaiveDate::parse_from_str(date.event_date.trim(), "%Y-%m-%d") {
                waiting.insert(day, date.events_waiting);
            }
        }
    }
    let exact = plan.semantics == Semantics::Exact;
    let mut processed: Vec<Vec<NaiveDate>> = Vec::new();
    // dates aggregated whole: events had been deferred on them (their keys are not known)
    let mut whole: Vec<NaiveDate> = Vec::new();
    for (position, ((window, label), touched)) in windows.into_iter().zip(&touched).enumerate() {
        let dates = if exact {
            days_to_process(&plan, touched, &mut waiting, full_refresh && position == 0)
        } else {
            touched
                .iter()
                .map(|(day, events)| PlannedDate {
                    event_date: day.to_string(),
                    new_events: *events,
                    waiting_events: 0,
                    aggregate: None,
                    reason: Reason::New,
                })
                .collect()
        };
        let aggregated = dates.iter().filter(|d| d.aggregate == Some(true));
        let day = |d: &PlannedDate| NaiveDate::parse_from_str(&d.event_date, "%Y-%m-%d").ok();
        whole.extend(
            aggregated
                .clone()
                .filter(|d| d.waiting_events > 0)
                .filter_map(day),
        );
        processed.push(aggregated.filter_map(day).collect());
        let planned = PlannedWindow {
            lower: crate::artifacts::iso(window.lower),
            upper: crate::artifacts::iso(window.upper),
            label,
            events: touched.values().sum(),
            days_aggregated: exact
                .then(|| dates.iter().filter(|d| d.aggregate == Some(true)).count() as u64),
            dates,
        };
        report.events += planned.events;
        report.windows.push(planned);
    }
    if exact {
        report.days_aggregated = Some(
            report
                .windows
                .iter()
                .filter_map(|w| w.days_aggregated)
                .sum(),
        );
        let keys_sql = preview.keys_sql(&processed, &whole, stored.period_end)?;
        report.keys_to_recompute = Some(warehouse::number_cell(
            warehouse.query(&keys_sql)?.first(),
            0,
        ));
    }
    Ok(report)
}

/// One exact window's dates, as `days_to_process_exact.sql` decides them: a date with new
/// events within `late_event_lookback_days` of the window's newest date is aggregated, any other
/// once `min_late_events_to_process` events wait on it (new plus deferred); everything on a
/// full refresh. `waiting` carries the deferred counts to the next window, as the daily
/// manifest does.
fn days_to_process(
    plan: &Plan,
    touched: &BTreeMap<NaiveDate, u64>,
    waiting: &mut BTreeMap<NaiveDate, u64>,
    full_refresh: bool,
) -> Vec<PlannedDate> {
    let vars = &plan.vars;
    let recent_from = touched
        .keys()
        .max()
        .map(|newest| *newest - chrono::Days::new(u64::from(vars.late_event_lookback_days)));
    let mut days: Vec<NaiveDate> = touched.keys().chain(waiting.keys()).copied().collect();
    days.sort();
    days.dedup();
    let mut dates = Vec::new();
    for day in days {
        let new_events = touched.get(&day).copied().unwrap_or(0);
        let waiting_events = waiting.get(&day).copied().unwrap_or(0);
        let recent = new_events > 0 && recent_from.is_some_and(|from| day >= from);
        let reason = match (new_events > 0, recent) {
            (_, true) => Reason::New,
            (true, false) => Reason::Late,
            (false, _) => Reason::Deferred,
        };
        let aggregate = full_refresh
            || recent_from.is_some_and(|from| day >= from)
            || waiting_events + new_events >= u64::from(vars.min_late_events_to_process);
        if aggregate {
            waiting.remove(&day);
        } else {
            waiting.insert(day, waiting_events + new_events);
        }
        dates.push(PlannedDate {
            event_date: day.to_string(),
            new_events,
            waiting_events,
            aggregate: Some(aggregate),
            reason,
        });
    }
    dates
}

/// Prints the plan as text, or as one JSON object with `json`.
pub fn plan(settings: &PlanSettings, json: bool, out: &mut dyn Write) -> Result<()> {
    let report = run_plan(settings)?;
    let text = if json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Internal(format!("plan as json: {e}")))?
            + "\n"
    } else {
        as_text(&report, settings)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Internal(format!("writing output: {e}")))
}

fn as_text(r: &RunPlan, settings: &PlanSettings) -> String {
    let mut lines = vec![format!(
        "plan for `{}` ({} mode) on {} target `{}`; nothing is written",
        r.project, r.mode, r.warehouse, r.target
    )];
    if let Some(reason) = &r.nothing_to_do {
        lines.push(reason.clone());
        return lines.join("\n") + "\n";
    }
    let or_unknown = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
    lines.push(format!(
        "{} window(s){}: {} new events, {} event dates to aggregate, {} keys to recompute",
        r.windows.len(),
        if r.full_refresh {
            " rebuilding every table"
        } else {
            ""
        },
        r.events,
        or_unknown(r.days_aggregated),
        or_unknown(r.keys_to_recompute),
    ));
    for (index, window) in r.windows.iter().enumerate() {
        lines.push(format!(
            "window {} {} .. {} ({}): {} events, {} dates aggregated",
            index + 1,
            window.lower,
            window.upper,
            window.label,
            window.events,
            or_unknown(window.days_aggregated)
        ));
        for date in &window.dates {
            let action = match date.aggregate {
                Some(true) => "aggregate",
                Some(false) => "defer",
                None => "touched",
            };
            let reason = match date.reason {
                Reason::New => "new",
                Reason::Late => "late",
                Reason::Deferred => "deferred earlier",
            };
            lines.push(format!(
                "  {}  {:>9} new {:>6} waiting  {action} ({reason})",
                date.event_date, date.new_events, date.waiting_events
            ));
        }
    }
    lines.push(match r.estimated_bytes {
        Some(bytes) => format!("estimated bytes read: {bytes}"),
        None => format!(
            "estimated bytes read: unknown ({} cannot estimate)",
            r.warehouse
        ),
    });
    if settings.windows.max_windows.is_some() || settings.windows.until.is_some() {
        lines.push("(limited by --max-windows / --until, as the run would be)".into());
    }
    lines.join("\n") + "\n"
}
