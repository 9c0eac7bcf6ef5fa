//! `status`: the watermark, the daily aggregation manifest, deferred dates and row counts, as
//! text for people or `--json` for machines. Reads only.

use std::io::Write;

use serde::Serialize;

use super::ProjectArgs;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::render::{Queries, Tables};
use crate::state;
use crate::warehouse::{self, Access, Warehouse};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub project: String,
    pub mode: &'static str,
    pub target: String,
    pub warehouse: String,
    /// The last load window's upper bound per the incremental manifest; `None` before a first run.
    pub last_success: Option<String>,
    pub first_success: Option<String>,
    pub tracked_models: u32,
    pub distinct_last_success: u32,
    /// Exact mode: the highest load read (the next run re-reads from it, inclusive).
    pub read_up_to: Option<String>,
    pub attributes_window_end: Option<String>,
    pub pending_keys: u64,
    pub daily: Option<DailySummary>,
    pub deferred: Vec<DeferredDate>,
    pub tables: Vec<TableRows>,
    #[serde(skip)]
    start_date: chrono::NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct DailySummary {
    pub event_dates: u64,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub events_aggregated: u64,
}

#[derive(Debug, Serialize)]
pub struct DeferredDate {
    pub event_date: String,
    pub events_waiting: u64,
}

#[derive(Debug, Serialize)]
pub struct TableRows {
    pub table: &'static str,
    pub relation: String,
    /// `None` when the table is not built yet.
    pub rows: Option<u64>,
}

/// Reads the state of the project's target.
pub fn status_report(args: &ProjectArgs) -> Result<StatusReport> {
    let (project, plan) = args.load()?;
    let target = args.target(&project)?;
    let dialect = target.output.kind().dialect();
    let tables = Tables::new(&plan, dialect.as_ref(), target.output.schema());
    let mut connection = warehouse::connect(&target, Access::ReadOnly)?;
    let warehouse = connection.as_mut();
    let stored = state::read(warehouse, dialect.as_ref(), &plan, &tables)?;
    let exact = project.semantics == crate::project::Semantics::Exact;
    let mut report = StatusReport {
        project: project.name.clone(),
        mode: project.semantics.as_str(),
        target: target.name.clone(),
        warehouse: target.output.location(),
        last_success: stored.max_last_success.map(|t| t.to_string()),
        first_success: stored.first_success.map(|t| t.to_string()),
        tracked_models: stored.models_matched,
        distinct_last_success: stored.sync_count,
        read_up_to: stored.watermark.filter(|_| exact).map(|t| t.to_string()),
        attributes_window_end: stored.period_end.filter(|_| exact).map(|d| d.to_string()),
        pending_keys: stored.pending_keys,
        daily: None,
        deferred: Vec::new(),
        tables: Vec::new(),
        start_date: project.vars.start_date,
    };
    let (schema, name) = tables.location("daily_aggregation_manifest");
    if warehouse.table_exists(schema, name)? {
        let manifest = tables.get("daily_aggregation_manifest");
        let rows = warehouse.query(&format!(
            // STRING: a text type in every dialect (VARCHAR needs a length in Spark SQL)
            "SELECT COUNT(*), CAST(MIN(event_date) AS STRING), CAST(MAX(event_date) AS STRING), \
             COALESCE(SUM(processed_events), 0) FROM {manifest}"
        ))?;
        let row = rows.first();
        let text = |i: usize| row.and_then(|r| r.get(i).cloned().flatten());
        report.daily = Some(DailySummary {
            event_dates: warehouse::number_cell(row, 0),
            first_date: text(1),
            last_date: text(2),
            events_aggregated: warehouse::number_cell(row, 3),
        });
        report.deferred = deferred_dates(warehouse, &tables)?;
    }
    // the value counts behind most_frequent, least_frequent and category_count, where kept
    let counted = if plan.counted.is_empty() {
        &[]
    } else {
        crate::render::COUNTED_PERSISTENT
    };
    for table in ["filtered_events", "daily_aggregates", "attributes"]
        .iter()
        .chain(counted)
    {
        report
            .tables
            .push(count_rows(warehouse, dialect.as_ref(), &tables, table)?);
    }
    Ok(report)
}

/// The event dates the daily manifest holds back, with the events waiting on each; the
/// manifest must exist.
pub(super) fn deferred_dates(
    warehouse: &mut dyn Warehouse,
    tables: &Tables,
) -> Result<Vec<DeferredDate>> {
    let deferred = warehouse.query(&format!(
        "SELECT CAST(event_date AS STRING), skipped_events FROM {} \
         WHERE skipped_events > 0 ORDER BY event_date",
        tables.get("daily_aggregation_manifest")
    ))?;
    Ok(deferred
        .iter()
        .map(|row| DeferredDate {
            event_date: row.first().cloned().flatten().unwrap_or_default(),
            events_waiting: warehouse::number_cell(Some(row), 1),
        })
        .collect())
}

fn count_rows(
    warehouse: &mut dyn Warehouse,
    dialect: &dyn Dialect,
    tables: &Tables,
    table: &'static str,
) -> Result<TableRows> {
    let (schema, name) = tables.location(table);
    let rows = if warehouse.table_exists(schema, name)? {
        let rows = warehouse.query(&Queries { dialect, tables }.count_rows(table)?)?;
        Some(warehouse::number_cell(rows.first(), 0))
    } else {
        None
    };
    Ok(TableRows {
        table,
        relation: format!("{schema}.{name}"),
        rows,
    })
}

/// Prints the report as aligned text, or as one JSON object with `json`.
pub fn status(args: &ProjectArgs, json: bool, out: &mut dyn Write) -> Result<()> {
    let report = status_report(args)?;
    let text = if json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Internal(format!("status as json: {e}")))?
            + "\n"
    } else {
        as_text(&report)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Internal(format!("writing output: {e}")))
}

fn as_text(r: &StatusReport) -> String {
    let show = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![format!(
        "project      {} ({} mode), target `{}` ({})",
        r.project, r.mode, r.target, r.warehouse
    )];
    lines.push(if r.tracked_models == 0 {
        format!(
            "watermark    none: the next run is a first run from {}",
            r.start_date
        )
    } else {
        format!(
            "watermark    last load processed {} (first {}); {} tracked models, {} distinct",
            show(&r.last_success),
            show(&r.first_success),
            r.tracked_models,
            r.distinct_last_success
        )
    });
    if let Some(read_up_to) = &r.read_up_to {
        lines.push(format!(
            "read up to   {read_up_to} (the next run re-reads from here, inclusive)"
        ));
        let window_end = show(&r.attributes_window_end);
        lines.push(format!(
            "attributes   period windows end {window_end} (exclusive); {} keys pending",
            r.pending_keys
        ));
    }
    if let Some(daily) = &r.daily {
        let or_dash = |d: &Option<String>| d.clone().unwrap_or_else(|| "-".into());
        lines.push(format!(
            "daily        {} event dates ({} .. {}), {} events aggregated",
            daily.event_dates,
            or_dash(&daily.first_date),
            or_dash(&daily.last_date),
            daily.events_aggregated
        ));
        if r.deferred.is_empty() {
            lines.push("deferred     none".into());
        }
        for date in &r.deferred {
            lines.push(format!(
                "deferred     {}: {} events waiting",
                date.event_date, date.events_waiting
            ));
        }
    }
    for table in &r.tables {
        let rows = table.rows.map_or("not built".into(), |n| n.to_string());
        lines.push(format!(
            "{:<18} {rows} rows  ({})",
            table.table, table.relation
        ));
    }
    lines.join("\n") + "\n"
}
