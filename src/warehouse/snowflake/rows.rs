//! Snowflake's JSON result sets: `rowtype` names and types the columns, `rowset` holds every cell
//! as a string or null (numbers as text, booleans "1"/"0", dates as days since the epoch,
//! timestamps as "seconds.nanoseconds"), chunks hold more rows in the same encoding. Cells become
//! the text DuckDB would print for the same value.

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::warehouse::Row;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    types: Vec<String>,
    pub rows: Vec<Row>,
}

impl ResultSet {
    /// Adds the rows of a downloaded chunk: rows without the enclosing brackets.
    pub fn append_chunk(&mut self, text: &str, index: usize) -> Result<()> {
        let rows: Vec<Vec<Value>> = serde_json::from_str(&format!("[{text}]"))
            .map_err(|e| Error::Internal(format!("snowflake result chunk {index}: {e}")))?;
        for row in rows {
            self.rows.push(self.convert(row)?);
        }
        Ok(())
    }

    fn convert(&self, row: Vec<Value>) -> Result<Row> {
        row.into_iter()
            .zip(&self.types)
            .map(|(cell, kind)| match cell {
                Value::Null => Ok(None),
                Value::String(text) => cell_text(&text, kind).map(Some),
                other => Ok(Some(other.to_string())),
            })
            .collect()
    }
}

pub fn decode(data: &Value) -> Result<ResultSet> {
    if let Some(format) = data["queryResultFormat"].as_str()
        && !format.eq_ignore_ascii_case("json")
    {
        return Err(Error::Internal(format!(
            "snowflake answered in `{format}` format; sigbatch reads JSON result sets"
        )));
    }
    let rowtype = data["rowtype"].as_array().cloned().unwrap_or_default();
    let mut result = ResultSet {
        columns: rowtype
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_string())
            .collect(),
        types: rowtype
            .iter()
            .map(|c| c["type"].as_str().unwrap_or_default().to_lowercase())
            .collect(),
        rows: Vec::new(),
    };
    for row in data["rowset"].as_array().into_iter().flatten() {
        let cells = row.as_array().cloned().unwrap_or_default();
        result.rows.push(result.convert(cells)?);
    }
    Ok(result)
}

fn cell_text(text: &str, kind: &str) -> Result<String> {
    let bad = || Error::Internal(format!("snowflake {kind} cell `{text}` does not decode"));
    Ok(match kind {
        "boolean" => match text {
            "1" | "true" | "TRUE" => "true".into(),
            _ => "false".into(),
        },
        "date" => {
            let days: i64 = text.parse().map_err(|_| bad())?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(bad)?;
            (epoch + chrono::Days::new(0))
                .checked_add_signed(chrono::TimeDelta::days(days))
                .ok_or_else(bad)?
                .format("%Y-%m-%d")
                .to_string()
        }
        "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz" => {
            // "seconds.nanoseconds", with a time zone offset after a space for TIMESTAMP_TZ
            let epoch = text.split_whitespace().next().ok_or_else(bad)?;
            let (seconds, fraction) = epoch.split_once('.').unwrap_or((epoch, "0"));
            let seconds: i64 = seconds.parse().map_err(|_| bad())?;
            let nanos: u32 = format!("{fraction:0<9}")[..9].parse().map_err(|_| bad())?;
            let at = DateTime::from_timestamp(seconds, nanos)
                .ok_or_else(bad)?
                .naive_utc();
            let micros = at.and_utc().timestamp_subsec_micros();
            if micros == 0 {
                at.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                let fraction = format!("{micros:06}");
                format!(
                    "{}.{}",
                    at.format("%Y-%m-%d %H:%M:%S"),
                    fraction.trim_end_matches('0')
                )
            }
        }
        // an integer the emulator sends as "50.0"; Snowflake sends NUMBER(38,0) as "50"
        "fixed" => match text.split_once('.') {
            Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole.to_string(),
            _ => text.to_string(),
        },
        _ => text.to_string(),
    })
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
            .append_chunk(r#"["7","0","0","0.000001000","{}"]"#, 0)
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
        assert!(decode(&json!({"queryResultFormat": "arrow"})).is_err());
    }
}
