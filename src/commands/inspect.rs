//! `validate` (and `stage`'s table printer): look at a project without changing anything.

use std::io::Write;

use chrono::NaiveDateTime;

use super::{ProjectArgs, compile_sql};
use crate::dialect;
use crate::error::{Error, Result};
use crate::project::group::Aggregation;

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("writing output: {e}"))
}

/// Checks the project, the attribute group and the SQL for every dialect; no warehouse.
pub fn validate(args: &ProjectArgs, now: NaiveDateTime, out: &mut dyn Write) -> Result<()> {
    let (project, plan) = args.load()?;
    for name in ["duckdb", "snowflake", "bigquery", "databricks"] {
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
        "ok: project `{}` ({} mode), group `{}` v{} keyed by `{}`: {} attributes ({}); SQL parses for duckdb, snowflake, bigquery, databricks",
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

/// Prints a query's result as an aligned text table.
pub fn print_table(connection: &duckdb::Connection, sql: &str, out: &mut dyn Write) -> Result<()> {
    let failure = |e: duckdb::Error| Error::Internal(format!("duckdb: {e}"));
    let sql = crate::render::render_checked(
        &crate::dialect::DuckDb,
        "table",
        "cells_as_text.sql",
        &serde_json::json!({"query": sql}),
    )?;
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
