//! Snowflake's result sets. JSON: `rowtype` names and types the columns, `rowset` holds every
//! cell as a string or null (numbers as text, booleans "1"/"0", dates as days since the epoch,
//! times and timestamps as "seconds.nanoseconds"), chunks hold more rows in the same encoding.
//! Arrow (`queryResultFormat: "arrow"`): `rowsetBase64` and each chunk are Arrow IPC streams,
//! read by `arrow_rows.rs`. Cells of both become the text DuckDB would print for the same value,
//! through the same functions here (`date_text`, `timestamp_text`, ...).

use base64::Engine;
use serde_json::Value;

use super::arrow_rows;
pub use super::cells::Column;
use super::cells::{boolean_text, date_text, fixed_text, time_text, timestamp_text};
use crate::error::{Error, Result};
use crate::warehouse::Row;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::snowflake::cells::real_text;
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
