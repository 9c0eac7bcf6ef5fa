//! `status` and `validate`: look at a project and its state without changing anything.

use std::io::Write;

use chrono::NaiveDateTime;

use super::{ProjectArgs, compile_sql};
use crate::dialect;
use crate::error::{Error, Result};
use crate::project::group::Aggregation;
use crate::render::Tables;
use crate::state;

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("writing output: {e}"))
}

/// Checks the project, the attribute group and the SQL for every dialect; no warehouse.
pub fn validate(args: &ProjectArgs, now: NaiveDateTime, out: &mut dyn Write) -> Result<()> {
    let (project, plan) = args.load()?;
    for name in ["duckdb", "snowflake", "bigquery"] {
        let dialect = dialect::for_name(name)?;
        compile_sql(&plan, dialect.as_ref(), "main", false, now)?;
        compile_sql(&plan, dialect.as_ref(), "main", true, now)?;
    }
    let count = |a: Aggregation| {
        project
            .group
            .attributes
            .iter()
            .filter(|x| x.aggregation == a)
            .count()
    };
    let summary: Vec<String> = Aggregation::ALL
        .iter()
        .filter(|(_, a)| count(*a) > 0)
        .map(|(name, a)| format!("{} {name}", count(*a)))
        .collect();
    writeln!(
        out,
        "ok: project `{}` ({} mode), group `{}` v{} keyed by `{}`: {} attributes ({}); SQL parses for duckdb, snowflake, bigquery",
        project.name,
        project.semantics.as_str(),
        project.group.name,
        project.group.version,
        project.group.key_column,
        project.group.attributes.len(),
        summary.join(", ")
    )
    .map_err(io)?;
    match args.target(&project) {
        Ok(target) => {
            writeln!(out, "target `{}`: {}", target.name, target.output.kind()).map_err(io)?
        }
        Err(error) => writeln!(out, "note: no usable target yet ({error})").map_err(io)?,
    }
    Ok(())
}

/// Watermark, daily manifest, deferred dates and row counts.
pub fn status(args: &ProjectArgs, out: &mut dyn Write) -> Result<()> {
    let (project, plan) = args.load()?;
    let target = args.target(&project)?;
    let dialect = dialect::for_name(target.output.kind())?;
    let tables = Tables::new(&plan, dialect.as_ref(), target.output.schema());
    let mut warehouse = crate::warehouse::connect(&target, crate::warehouse::Access::ReadOnly)?;
    let warehouse = warehouse.as_mut();
    let stored = state::read(warehouse, dialect.as_ref(), &plan, &tables)?;
    let show = |t: Option<NaiveDateTime>| t.map_or("-".to_string(), |t| t.to_string());
    writeln!(
        out,
        "project      {} ({} mode), target `{}` ({})",
        project.name,
        project.semantics.as_str(),
        target.name,
        target.output.location()
    )
    .map_err(io)?;
    if stored.models_matched == 0 {
        writeln!(
            out,
            "watermark    none: the next run is a first run from {}",
            project.vars.start_date
        )
        .map_err(io)?;
    } else {
        writeln!(
            out,
            "watermark    last load processed {} (first {}); {} tracked models, {} distinct",
            show(stored.max_last_success),
            show(stored.first_success),
            stored.models_matched,
            stored.sync_count
        )
        .map_err(io)?;
    }
    if let (Some(watermark), crate::project::Semantics::Exact) =
        (stored.watermark, project.semantics)
    {
        writeln!(
            out,
            "read up to   {watermark} (the next run re-reads from here, inclusive)"
        )
        .map_err(io)?;
        let window_end = stored
            .attributes_window_end
            .map_or("-".to_string(), |d| d.to_string());
        writeln!(
            out,
            "attributes   period windows end {window_end} (exclusive); {} keys pending",
            stored.pending_keys
        )
        .map_err(io)?;
    }
    let (schema, name) = tables.location("daily_aggregation_manifest");
    if warehouse.table_exists(schema, name)? {
        let sql = format!(
            "SELECT COUNT(*), CAST(MIN(event_date) AS VARCHAR), CAST(MAX(event_date) AS VARCHAR), COALESCE(SUM(processed_events), 0) FROM {}",
            tables.get("daily_aggregation_manifest")
        );
        let row = warehouse
            .query(&sql)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "daily        {} event dates ({} .. {}), {} events aggregated",
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        )
        .map_err(io)?;
        let deferred = warehouse.query(&format!(
            "SELECT CAST(event_date AS VARCHAR), skipped_events FROM {} WHERE skipped_events > 0 ORDER BY event_date",
            tables.get("daily_aggregation_manifest")
        ))?;
        if deferred.is_empty() {
            writeln!(out, "deferred     none").map_err(io)?;
        }
        for row in deferred {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            writeln!(out, "deferred     {}: {} events waiting", cell(0), cell(1)).map_err(io)?;
        }
    }
    for table in ["filtered_events", "daily_aggregates", "attributes"] {
        let (schema, name) = tables.location(table);
        let rows = if warehouse.table_exists(schema, name)? {
            let row = warehouse.query(&format!("SELECT COUNT(*) FROM {}", tables.get(table)))?;
            row.first()
                .and_then(|r| r.first().cloned().flatten())
                .unwrap_or_default()
        } else {
            "not built".into()
        };
        writeln!(out, "{table:<18} {rows} rows  ({schema}.{name})").map_err(io)?;
    }
    Ok(())
}

/// Prints a query's result as an aligned text table.
pub fn print_table(connection: &duckdb::Connection, sql: &str, out: &mut dyn Write) -> Result<()> {
    let failure = |e: duckdb::Error| Error::Internal(format!("duckdb: {e}"));
    // every cell as text, keeping the column names
    let sql = format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({sql})");
    let mut statement = connection.prepare(&sql).map_err(failure)?;
    let mut rows = statement.query([]).map_err(failure)?;
    let mut cells: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    while let Some(row) = rows.next().map_err(failure)? {
        let statement = row.as_ref();
        if header.is_empty() {
            header = (0..statement.column_count())
                .map(|i| {
                    statement
                        .column_name(i)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                })
                .collect();
        }
        cells.push(
            (0..header.len())
                .map(|i| {
                    row.get::<_, Option<String>>(i)
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
                .min(40)
        })
        .collect();
    let line = |values: &[String]| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{:<w$}", v.chars().take(*w).collect::<String>(), w = *w))
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(&header)).map_err(io)?;
    for row in &cells {
        writeln!(out, "{}", line(row)).map_err(io)?;
    }
    Ok(())
}
