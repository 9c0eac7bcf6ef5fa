//! Snowflake's result sets. JSON: `rowtype` names and types the columns, `rowset` holds every
//! cell as a string or null (numbers as text, booleans "1"/"0", dates as days since the epoch,
//! times and timestamps as "seconds.nanoseconds"), chunks hold more rows in the same encoding.
//! Arrow (`queryResultFormat: "arrow"`): `rowsetBase64` and each chunk are Arrow IPC streams,
//! read by `arrow_rows.rs`. Cells of both become the text DuckDB would print for the same value,
//! through the same functions here (`date_text`, `timestamp_text`, ...).

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveTime};
use serde_json::Value;

use super::arrow_rows;
use crate::error::{Error, Result};
use crate::warehouse::Row;

/// A column as the response's `rowtype` describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub name: String,
    /// Snowflake's type, lower case: `fixed`, `text`, `timestamp_ntz`, ...
    pub kind: String,
    pub scale: u32,
}

/// How the rows of a result (and of its chunks) are encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Format {
    #[default]
    Json,
    /// An Arrow IPC stream (`arrow_rows`).
    Arrow,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    described: Vec<Column>,
    pub format: Format,
    pub rows: Vec<Row>,
}

impl ResultSet {
    /// Adds the rows of a downloaded chunk (gunzipped): JSON rows without the enclosing
    /// brackets, or an Arrow IPC stream. `expected`: the chunk's `rowCount`, where given.
    pub fn append_chunk(&mut self, body: &[u8], index: usize, expected: Option<u64>) -> Result<()> {
        let rows = match self.format {
            Format::Json => {
                let text = std::str::from_utf8(body).map_err(|e| {
                    Error::Internal(format!("snowflake result chunk {index} is not text: {e}"))
                })?;
                let rows: Vec<Vec<Value>> = serde_json::from_str(&format!("[{text}]"))
                    .map_err(|e| Error::Internal(format!("snowflake result chunk {index}: {e}")))?;
                rows.into_iter()
                    .map(|row| self.convert(row))
                    .collect::<Result<Vec<Row>>>()?
            }
            Format::Arrow => {
                arrow_rows::decode(body, &self.described, &format!("result chunk {index}"))?
            }
        };
        check_count(rows.len(), expected, &format!("result chunk {index}"))?;
        self.rows.extend(rows);
        Ok(())
    }

    fn convert(&self, row: Vec<Value>) -> Result<Row> {
        row.into_iter()
            .zip(&self.described)
            .map(|(cell, column)| match cell {
                Value::Null => Ok(None),
                Value::String(text) => cell_text(&text, &column.kind).map(Some),
                other => Ok(Some(other.to_string())),
            })
            .collect()
    }
}

/// A part of a result that holds fewer or more rows than the response said: a body cut at a
/// message boundary reads as a shorter stream, so the count is what tells.
fn check_count(got: usize, expected: Option<u64>, part: &str) -> Result<()> {
    match expected {
        Some(expected) if expected != got as u64 => Err(Error::Remote {
            service: "snowflake",
            message: format!("{part} holds {got} rows where snowflake said {expected}"),
            hint: Some(
                "the result was cut on its way; run again, and report it if it repeats".into(),
            ),
            user_fixable: false,
        }),
        _ => Ok(()),
    }
}

/// The first part of a result: the response's `data`, in either format.
pub fn decode(data: &Value) -> Result<ResultSet> {
    let format = match data["queryResultFormat"].as_str() {
        None => Format::Json,
        Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
        Some(f) if f.eq_ignore_ascii_case("arrow") => Format::Arrow,
        Some(other) => {
            return Err(Error::Remote {
                service: "snowflake",
                message: format!("answered in `{other}` format; sigbatch reads `json` and `arrow`"),
                hint: Some("please report this answer".into()),
                user_fixable: false,
            });
        }
    };
    let described: Vec<Column> = data["rowtype"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Column {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            kind: c["type"].as_str().unwrap_or_default().to_lowercase(),
            scale: c["scale"]
                .as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .unwrap_or(0),
        })
        .collect();
    let mut result = ResultSet {
        columns: described.iter().map(|c| c.name.clone()).collect(),
        described,
        format,
        rows: Vec::new(),
    };
    match format {
        Format::Json => {
            for row in data["rowset"].as_array().into_iter().flatten() {
                let cells = row.as_array().cloned().unwrap_or_default();
                result.rows.push(result.convert(cells)?);
            }
        }
        Format::Arrow => {
            let encoded = data["rowsetBase64"].as_str().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| Error::Remote {
                    service: "snowflake",
                    message: format!("the inline result (`rowsetBase64`) is not base64: {e}"),
                    hint: Some(
                        "the result was garbled on its way; run again, and report it if it repeats"
                            .into(),
                    ),
                    user_fixable: false,
                })?;
            result.rows = arrow_rows::decode(&bytes, &result.described, "the inline result")?;
        }
    }
    Ok(result)
}

fn cell_text(text: &str, kind: &str) -> Result<String> {
    let bad = || Error::Internal(format!("snowflake {kind} cell `{text}` does not decode"));
    Ok(match kind {
        "boolean" => boolean_text(matches!(text, "1" | "true" | "TRUE")),
        "date" => date_text(text.parse().map_err(|_| bad())?).ok_or_else(bad)?,
        "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz" => {
            // "seconds.nanoseconds", with a time zone offset after a space for TIMESTAMP_TZ
            let epoch = text.split_whitespace().next().ok_or_else(bad)?;
            let (seconds, nanos) = seconds_and_nanos(epoch).ok_or_else(bad)?;
            timestamp_text(seconds, nanos).ok_or_else(bad)?
        }
        // "seconds.nanoseconds" since midnight; a stand-in may send "HH:MM:SS" already
        "time" if !text.contains(':') => {
            let (seconds, nanos) = seconds_and_nanos(text).ok_or_else(bad)?;
            time_text(seconds, nanos).ok_or_else(bad)?
        }
        "fixed" => fixed_text(text),
        _ => text.to_string(),
    })
}

fn seconds_and_nanos(text: &str) -> Option<(i64, u32)> {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let nanos = format!("{fraction:0<9}").get(..9)?.parse().ok()?;
    Some((seconds.parse().ok()?, nanos))
}

/// The text of a BOOLEAN.
pub fn boolean_text(value: bool) -> String {
    if value { "true" } else { "false" }.to_string()
}

/// A DATE from its days since the epoch: `2025-01-01`.
pub fn date_text(days: i64) -> Option<String> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    Some(
        epoch
            .checked_add_signed(chrono::TimeDelta::try_days(days)?)?
            .format("%Y-%m-%d")
            .to_string(),
    )
}

/// A TIMESTAMP from seconds since the epoch and nanoseconds: `2025-01-01 00:00:00.5`, to the
/// microsecond as DuckDB prints it.
pub fn timestamp_text(seconds: i64, nanos: u32) -> Option<String> {
    let at = DateTime::from_timestamp(seconds, nanos)?.naive_utc();
    Some(with_micros(
        at.format("%Y-%m-%d %H:%M:%S").to_string(),
        at.and_utc().timestamp_subsec_micros(),
    ))
}

/// A TIME from seconds since midnight and nanoseconds: `12:34:56.000001`.
pub fn time_text(seconds: i64, nanos: u32) -> Option<String> {
    let at = NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(seconds).ok()?, nanos)?;
    Some(with_micros(at.format("%H:%M:%S").to_string(), nanos / 1000))
}

fn with_micros(whole: String, micros: u32) -> String {
    if micros == 0 {
        whole
    } else {
        let fraction = format!("{micros:06}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }
}

/// A NUMBER from its decimal text: an integer the emulator sends as "50.0" (Snowflake sends
/// NUMBER(38,0) as "50") loses its zero fraction; a scaled number keeps its digits ("1.50").
pub fn fixed_text(text: &str) -> String {
    match text.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole.to_string(),
        _ => text.to_string(),
    }
}

/// A float64 as the shortest text that reads back as it, written as Python's `repr` and DuckDB
/// write it (`1.5`, `100.0`, `1e-05`, `1e+20`): positional for exponents -4 to 15.
pub fn real_text(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e-7"
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        format!("{sign}{text}")
    } else {
        let sign_of_exponent = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{mantissa}e{sign_of_exponent}{:02}",
            exponent.unsigned_abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_decode_as_duckdb_would_print_them() {
        let data = json!({
            "rowtype": [
                {"name": "N", "type": "fixed"}, {"name": "B", "type": "boolean"},
                {"name": "D", "type": "date"}, {"name": "T", "type": "timestamp_ntz"},
                {"name": "V", "type": "variant"}
            ],
            "rowset": [
                ["42.000", "1", "20089", "1735689600.500000000", "[\"a\"]"],
                [null, "0", "-1", "1735689600.000000000", null]
            ]
        });
        let mut result = decode(&data).unwrap();
        result
            .append_chunk(br#"["7","0","0","0.000001000","{}"]"#, 0, Some(1))
            .unwrap();
        let text = |v: &str| Some(v.to_string());
        assert_eq!(result.columns, ["N", "B", "D", "T", "V"]);
        assert_eq!(
            result.rows,
            vec![
                vec![
                    text("42"),
                    text("true"),
                    text("2025-01-01"),
                    text("2025-01-01 00:00:00.5"),
                    text("[\"a\"]")
                ],
                vec![
                    None,
                    text("false"),
                    text("1969-12-31"),
                    text("2025-01-01 00:00:00"),
                    None
                ],
                vec![
                    text("7"),
                    text("false"),
                    text("1970-01-01"),
                    text("1970-01-01 00:00:00.000001"),
                    text("{}")
                ],
            ]
        );
        assert!(decode(&json!({"queryResultFormat": "avro"})).is_err());
        assert!(result.append_chunk(b"[\"1\"]", 1, Some(2)).is_err());
    }

    #[test]
    fn reals_read_as_python_and_duckdb_write_them() {
        for (value, text) in [
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (-2.5e-7, "-2.5e-07"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(real_text(value), text);
        }
    }
}
