//! BigQuery's JSON rows (`{"f": [{"v": ...}]}`, read with the schema beside them) as text
//! cells: TIMESTAMP (asked for as int64 microseconds) as `YYYY-MM-DD HH:MM:SS.ffffff`, REPEATED
//! fields as a JSON array, RECORDs as a JSON object, everything else as BigQuery sends it.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::warehouse::Row;

/// Column names and rows of one statement's result.
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// The rows of one page of a query response, with the response's schema.
pub fn decode(answer: &Value) -> Result<ResultSet> {
    let fields = answer["schema"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let columns = fields
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let rows = answer["rows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let cells = row["f"].as_array().map(Vec::as_slice).unwrap_or_default();
            fields
                .iter()
                .zip(cells)
                .map(|(field, cell)| {
                    let value = cell_value(field, &cell["v"])?;
                    Ok(match value {
                        Value::Null => None,
                        Value::String(text) => Some(text),
                        other => Some(other.to_string()),
                    })
                })
                .collect::<Result<Row>>()
        })
        .collect::<Result<Vec<Row>>>()?;
    Ok(ResultSet { columns, rows })
}

/// One cell as JSON: text for scalars, arrays and objects for REPEATED and RECORD.
fn cell_value(field: &Value, v: &Value) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if field["mode"] == "REPEATED" {
        let mut element = field.clone();
        element["mode"] = Value::from("NULLABLE");
        return v
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|item| cell_value(&element, &item["v"]))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array);
    }
    match field["type"].as_str().unwrap_or_default() {
        "RECORD" | "STRUCT" => {
            let subfields = field["fields"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let cells = v["f"].as_array().map(Vec::as_slice).unwrap_or_default();
            let mut object = Map::new();
            for (subfield, cell) in subfields.iter().zip(cells) {
                let name = subfield["name"].as_str().unwrap_or_default().to_string();
                object.insert(name, cell_value(subfield, &cell["v"])?);
            }
            Ok(Value::Object(object))
        }
        "TIMESTAMP" => {
            let text = v.as_str().unwrap_or_default();
            let micros: i64 = text.parse().map_err(|_| {
                Error::Internal(format!(
                    "bigquery sent a TIMESTAMP that is not int64 microseconds: `{text}`"
                ))
            })?;
            let at = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                Error::Internal(format!("bigquery sent a TIMESTAMP out of range: `{text}`"))
            })?;
            Ok(Value::from(
                at.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            ))
        }
        _ => Ok(v.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_timestamps_arrays_and_records_become_text() {
        let answer = json!({
            "schema": {"fields": [
                {"name": "t", "type": "TIMESTAMP", "mode": "NULLABLE"},
                {"name": "a", "type": "STRING", "mode": "REPEATED"},
                {"name": "s", "type": "RECORD", "mode": "NULLABLE", "fields": [
                    {"name": "x", "type": "INTEGER"}, {"name": "z", "type": "STRING"}]},
                {"name": "n", "type": "NUMERIC", "mode": "NULLABLE"}
            ]},
            "rows": [
                {"f": [{"v": "1704103200123456"}, {"v": [{"v": "b"}, {"v": "a"}]},
                       {"v": {"f": [{"v": "1"}, {"v": "y"}]}}, {"v": "1.5"}]},
                {"f": [{"v": null}, {"v": []}, {"v": null}, {"v": null}]}
            ]
        });
        let result = decode(&answer).unwrap();
        assert_eq!(result.columns, ["t", "a", "s", "n"]);
        assert_eq!(
            result.rows[0],
            [
                Some("2024-01-01 10:00:00.123456".to_string()),
                Some(r#"["b","a"]"#.to_string()),
                Some(r#"{"x":"1","z":"y"}"#.to_string()),
                Some("1.5".to_string())
            ]
        );
        assert_eq!(result.rows[1], [None, Some("[]".to_string()), None, None]);
    }

    #[test]
    fn a_timestamp_in_another_form_is_an_error() {
        let answer = json!({
            "schema": {"fields": [{"name": "t", "type": "TIMESTAMP"}]},
            "rows": [{"f": [{"v": "1.7E9"}]}]
        });
        assert!(decode(&answer).unwrap_err().to_string().contains("1.7E9"));
    }
}
