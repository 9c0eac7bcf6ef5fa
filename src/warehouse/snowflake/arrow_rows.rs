//! Snowflake's Arrow result sets: an Arrow IPC stream (inline as `rowsetBase64`, or the body of
//! each downloaded chunk), one field per column whose metadata names the Snowflake type
//! (`logicalType`) and its `scale` (also `precision`, `charLength`, unused here). The physical
//! encodings (as the official connectors read them):
//!
//! - FIXED: an integer (8 to 64 bits, or a 128-bit decimal) of the value times 10^`scale`;
//! - REAL: a float64; TEXT, VARIANT, OBJECT, ARRAY: text (JSON text for the last three);
//! - BOOLEAN: a boolean; DATE: days since the epoch (date32); BINARY: bytes;
//! - TIME: an integer of the time of day in units of 10^-`scale` seconds;
//! - TIMESTAMP_NTZ / TIMESTAMP_LTZ: an int64 of the time since the epoch in units of
//!   10^-`scale` seconds, or a struct of `epoch` (seconds) and `fraction` (nanoseconds);
//! - TIMESTAMP_TZ: a struct of `epoch` and `fraction` and `timezone` (minutes + 1440), or of
//!   `epoch` (scaled as above) and `timezone`.
//!
//! Each cell becomes the text its JSON rowset cell becomes (`rows::cell_text`): both formats read
//! the same, through the same formatting functions.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_ipc::reader::StreamReader;
use arrow_schema::{DataType, Field};

use super::cells::{self, Column};
use crate::error::{Error, Result};
use crate::warehouse::Row;

/// The rows of one Arrow IPC stream (empty bytes: no rows). `rowtype` (the response's column
/// descriptions) names the columns, and types them where a field has no `logicalType`.
/// `part` says where the stream came from, for errors: "the inline result", "result chunk 3".
pub fn decode(bytes: &[u8], rowtype: &[Column], part: &str) -> Result<Vec<Row>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let reader = StreamReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| malformed(part, &e.to_string()))?;
    let schema = reader.schema();
    let columns: Vec<ArrowColumn> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| ArrowColumn::new(field, rowtype.get(index)))
        .collect();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| malformed(part, &e.to_string()))?;
        append_batch(&batch, &columns, &mut rows)?;
    }
    Ok(rows)
}

/// A column as the stream describes it.
struct ArrowColumn {
    name: String,
    /// Snowflake's type, lower case (`fixed`, `timestamp_ntz`, ...).
    logical: String,
    scale: u32,
}

impl ArrowColumn {
    fn new(field: &Arc<Field>, described: Option<&Column>) -> ArrowColumn {
        let metadata = field.metadata();
        let logical = metadata
            .get("logicalType")
            .map(|t| t.to_lowercase())
            .or_else(|| described.map(|c| c.kind.clone()))
            .unwrap_or_default();
        let scale = metadata
            .get("scale")
            .and_then(|s| s.parse().ok())
            .or_else(|| described.map(|c| c.scale))
            .unwrap_or(0);
        let name = described
            .map(|c| c.name.clone())
            .unwrap_or_else(|| field.name().clone());
        ArrowColumn {
            name,
            logical,
            scale,
        }
    }

    /// A cell this reader cannot take: a type it does not know, or a physical type Snowflake
    /// does not use for it.
    fn unreadable(&self, data_type: &DataType) -> Error {
        Error::Remote {
            service: "snowflake",
            message: format!(
                "result column `{}` is of type `{}` as Arrow `{data_type}`, which sigbatch cannot \
                 read",
                self.name,
                if self.logical.is_empty() {
                    "(no logicalType)"
                } else {
                    &self.logical
                }
            ),
            hint: Some(
                "sigbatch reads FIXED, REAL, TEXT, BOOLEAN, DATE, TIME, TIMESTAMP_*, VARIANT, \
                 OBJECT, ARRAY and BINARY results; please report this column's type"
                    .into(),
            ),
            user_fixable: false,
        }
    }

    fn bad_value(&self, what: &str) -> Error {
        Error::Remote {
            service: "snowflake",
            message: format!(
                "result column `{}` of type `{}` holds {what}",
                self.name, self.logical
            ),
            hint: Some("run again; please report it if it repeats".into()),
            user_fixable: false,
        }
    }
}

fn malformed(part: &str, message: &str) -> Error {
    Error::Remote {
        service: "snowflake",
        message: format!("{part} is not a readable Arrow stream: {message}"),
        hint: Some(
            "the result was cut or garbled on its way; run again, and report it if it repeats"
                .into(),
        ),
        user_fixable: false,
    }
}

fn append_batch(batch: &RecordBatch, columns: &[ArrowColumn], rows: &mut Vec<Row>) -> Result<()> {
    let start = rows.len();
    rows.extend((0..batch.num_rows()).map(|_| Vec::with_capacity(columns.len())));
    for (array, column) in batch.columns().iter().zip(columns) {
        let cells = column_cells(array, column)?;
        for (row, cell) in rows[start..].iter_mut().zip(cells) {
            row.push(cell);
        }
    }
    Ok(())
}

fn column_cells(array: &ArrayRef, column: &ArrowColumn) -> Result<Vec<Option<String>>> {
    let data_type = array.data_type();
    if *data_type == DataType::Null {
        return Ok(vec![None; array.len()]);
    }
    let unreadable = || column.unreadable(data_type);
    let cell: Box<dyn Fn(usize) -> Result<String> + '_> = match column.logical.as_str() {
        "fixed" => match data_type {
            DataType::Decimal128(_, scale) => {
                let values = array.as_primitive::<Decimal128Type>();
                let scale = u32::try_from(*scale).map_err(|_| unreadable())?;
                Box::new(move |i| Ok(cells::fixed_text(&scaled(values.value(i), scale))))
            }
            DataType::Float64 | DataType::Float32 => {
                Box::new(move |i| Ok(cells::fixed_text(&cells::real_text(float(array, i)))))
            }
            _ => {
                let integers = integers(array).ok_or_else(unreadable)?;
                Box::new(move |i| Ok(cells::fixed_text(&scaled(integers(i), column.scale))))
            }
        },
        "real" | "float" | "double" => match data_type {
            DataType::Float64 | DataType::Float32 => {
                Box::new(move |i| Ok(cells::real_text(float(array, i))))
            }
            _ => return Err(unreadable()),
        },
        "boolean" => {
            let values = array.as_boolean_opt().ok_or_else(unreadable)?;
            Box::new(move |i| Ok(cells::boolean_text(values.value(i))))
        }
        "date" => {
            let days: Box<dyn Fn(usize) -> i128> = match data_type {
                DataType::Date32 => {
                    let values = array.as_primitive::<Date32Type>();
                    Box::new(move |i| i128::from(values.value(i)))
                }
                _ => integers(array).ok_or_else(unreadable)?,
            };
            Box::new(move |i| {
                let days = i64::try_from(days(i)).map_err(|_| column.bad_value("a date"))?;
                cells::date_text(days).ok_or_else(|| column.bad_value("a date out of range"))
            })
        }
        "time" => {
            let integers = integers(array).ok_or_else(unreadable)?;
            Box::new(move |i| {
                let (seconds, nanos) = split(integers(i), column.scale)
                    .ok_or_else(|| column.bad_value("a time out of range"))?;
                cells::time_text(seconds, nanos)
                    .ok_or_else(|| column.bad_value("a time out of range"))
            })
        }
        "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz" => {
            let instant = instants(array, column).ok_or_else(unreadable)?;
            Box::new(move |i| {
                let (seconds, nanos) =
                    instant(i).ok_or_else(|| column.bad_value("a timestamp out of range"))?;
                cells::timestamp_text(seconds, nanos)
                    .ok_or_else(|| column.bad_value("a timestamp out of range"))
            })
        }
        "binary" => match data_type {
            DataType::Binary => {
                let values = array.as_binary::<i32>();
                Box::new(move |i| Ok(hex(values.value(i))))
            }
            DataType::LargeBinary => {
                let values = array.as_binary::<i64>();
                Box::new(move |i| Ok(hex(values.value(i))))
            }
            DataType::BinaryView => {
                let values = array.as_binary_view();
                Box::new(move |i| Ok(hex(values.value(i))))
            }
            _ => return Err(unreadable()),
        },
        // TEXT, VARIANT, OBJECT, ARRAY (JSON text), and any other type Snowflake sends as text
        _ => match data_type {
            DataType::Utf8 => {
                let values = array.as_string::<i32>();
                Box::new(move |i| Ok(values.value(i).to_string()))
            }
            DataType::LargeUtf8 => {
                let values = array.as_string::<i64>();
                Box::new(move |i| Ok(values.value(i).to_string()))
            }
            DataType::Utf8View => {
                let values = array.as_string_view();
                Box::new(move |i| Ok(values.value(i).to_string()))
            }
            _ => return Err(unreadable()),
        },
    };
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                Ok(None)
            } else {
                cell(i).map(Some)
            }
        })
        .collect()
}

/// The values of an integer array, widened.
fn integers(array: &ArrayRef) -> Option<Box<dyn Fn(usize) -> i128 + '_>> {
    macro_rules! widen {
        ($t:ty) => {{
            let values = array.as_primitive::<$t>();
            Some(Box::new(move |i| i128::from(values.value(i))))
        }};
    }
    match array.data_type() {
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int64 => widen!(Int64Type),
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        DataType::Decimal128(_, 0) => {
            let values = array.as_primitive::<Decimal128Type>();
            Some(Box::new(move |i| values.value(i)))
        }
        _ => None,
    }
}

fn float(array: &ArrayRef, i: usize) -> f64 {
    match array.data_type() {
        DataType::Float32 => f64::from(array.as_primitive::<Float32Type>().value(i)),
        _ => array.as_primitive::<Float64Type>().value(i),
    }
}

/// Seconds and nanoseconds of the instants of a timestamp column: an integer scaled by the
/// column's scale, or a struct of `epoch` and `fraction` (and `timezone`), or for TIMESTAMP_TZ
/// of a scaled `epoch` and `timezone`. The time zone does not move the instant.
#[allow(clippy::type_complexity)]
fn instants<'a>(
    array: &'a ArrayRef,
    column: &'a ArrowColumn,
) -> Option<Box<dyn Fn(usize) -> Option<(i64, u32)> + 'a>> {
    if let Some(integers) = integers(array) {
        return Some(Box::new(move |i| split(integers(i), column.scale)));
    }
    let parts = array.as_struct_opt()?;
    let epoch = integers(parts.column_by_name("epoch")?)?;
    match parts.column_by_name("fraction") {
        Some(fraction) => {
            let fraction = integers(fraction)?;
            Some(Box::new(move |i| {
                let nanos = u32::try_from(fraction(i))
                    .ok()
                    .filter(|n| *n < 1_000_000_000)?;
                Some((i64::try_from(epoch(i)).ok()?, nanos))
            }))
        }
        None => Some(Box::new(move |i| split(epoch(i), column.scale))),
    }
}

/// A value in units of 10^-`scale` seconds as whole seconds (rounded down) and nanoseconds.
fn split(value: i128, scale: u32) -> Option<(i64, u32)> {
    if scale > 9 {
        return None;
    }
    let unit = 10i128.pow(scale);
    let seconds = i64::try_from(value.div_euclid(unit)).ok()?;
    let nanos = u32::try_from(value.rem_euclid(unit) * 10i128.pow(9 - scale)).ok()?;
    Some((seconds, nanos))
}

/// An integer of the value times 10^`scale` as decimal text with `scale` digits after the point
/// (as Snowflake writes a NUMBER in a JSON rowset).
fn scaled(value: i128, scale: u32) -> String {
    if scale == 0 {
        return value.to_string();
    }
    let digits = value.unsigned_abs().to_string();
    let scale = scale as usize;
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = digits.split_at(digits.len() - scale);
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{whole}.{fraction}")
}

/// Bytes as Snowflake writes BINARY in a JSON rowset: upper-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests;
