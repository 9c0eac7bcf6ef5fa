//! Arrow IPC streams built here, read as Snowflake's answers would be.

use std::collections::HashMap;

use arrow_array::{
    BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int8Array, Int32Array,
    Int64Array, NullArray, StringArray, StructArray,
};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Fields, Schema};

use super::*;
use crate::warehouse::snowflake::rows;

fn field(name: &str, data_type: DataType, logical: &str, scale: u32) -> Field {
    Field::new(name, data_type, true).with_metadata(HashMap::from([
        ("logicalType".to_string(), logical.to_string()),
        ("scale".to_string(), scale.to_string()),
        ("precision".to_string(), "38".to_string()),
        ("charLength".to_string(), "0".to_string()),
    ]))
}

/// An IPC stream of `columns` (field and array), in batches of `batch` rows.
fn stream(columns: Vec<(Field, ArrayRef)>, batch: usize) -> Vec<u8> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema = Arc::new(Schema::new(fields));
    let all = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &schema).unwrap();
    let mut offset = 0;
    while offset < all.num_rows() {
        let length = batch.min(all.num_rows() - offset);
        writer.write(&all.slice(offset, length)).unwrap();
        offset += length;
    }
    writer.finish().unwrap();
    bytes
}

fn text(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn epoch_struct(epoch: Vec<i64>, fraction: Vec<i32>, timezone: Option<Vec<i32>>) -> ArrayRef {
    let mut fields = vec![
        Field::new("epoch", DataType::Int64, false),
        Field::new("fraction", DataType::Int32, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(epoch)),
        Arc::new(Int32Array::from(fraction)),
    ];
    if let Some(timezone) = timezone {
        fields.push(Field::new("timezone", DataType::Int32, false));
        arrays.push(Arc::new(Int32Array::from(timezone)));
    }
    Arc::new(StructArray::new(Fields::from(fields), arrays, None))
}

#[test]
fn every_snowflake_type_reads_as_its_json_cell_reads() {
    let bytes = stream(
        vec![
            (
                field("N", DataType::Int64, "FIXED", 0),
                Arc::new(Int64Array::from(vec![Some(42), None, Some(-7)])),
            ),
            (
                field("M", DataType::Int32, "FIXED", 2),
                Arc::new(Int32Array::from(vec![150, -5, 200])),
            ),
            (
                field("D", DataType::Decimal128(38, 3), "FIXED", 3),
                Arc::new(
                    Decimal128Array::from(vec![42_000, 1_500, -1])
                        .with_precision_and_scale(38, 3)
                        .unwrap(),
                ),
            ),
            (
                field("F", DataType::Float64, "FIXED", 0),
                Arc::new(Float64Array::from(vec![50.0, 2.5, 0.0])),
            ),
            (
                field("R", DataType::Float64, "REAL", 0),
                Arc::new(Float64Array::from(vec![1.5, 1e-5, 1e20])),
            ),
            (
                field("B", DataType::Boolean, "BOOLEAN", 0),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            ),
            (
                field("DAY", DataType::Date32, "DATE", 0),
                Arc::new(Date32Array::from(vec![20089, -1, 0])),
            ),
            (
                field("T", DataType::Int64, "TIME", 9),
                Arc::new(Int64Array::from(vec![
                    3_723_500_000_000,
                    0,
                    86_399_000_000_000,
                ])),
            ),
            (
                field("NTZ", DataType::Int64, "TIMESTAMP_NTZ", 3),
                Arc::new(Int64Array::from(vec![1_735_689_600_500, -500, 0])),
            ),
            (
                field(
                    "LTZ",
                    epoch_struct(vec![0], vec![0], None).data_type().clone(),
                    "TIMESTAMP_LTZ",
                    9,
                ),
                epoch_struct(
                    vec![1_735_689_600, 0, -1],
                    vec![500_000_000, 1_000, 0],
                    None,
                ),
            ),
            (
                field(
                    "TZ",
                    epoch_struct(vec![0], vec![0], Some(vec![0]))
                        .data_type()
                        .clone(),
                    "TIMESTAMP_TZ",
                    9,
                ),
                epoch_struct(
                    vec![1_735_689_600, 0, 0],
                    vec![0, 0, 0],
                    Some(vec![1440 + 60, 1440, 1440 - 300]),
                ),
            ),
            (
                field("V", DataType::Utf8, "VARIANT", 0),
                Arc::new(StringArray::from(vec![Some("[\"a\"]"), None, Some("{}")])),
            ),
            (
                field("S", DataType::Utf8, "TEXT", 0),
                Arc::new(StringArray::from(vec!["x", "", "é"])),
            ),
            (
                field("BIN", DataType::Binary, "BINARY", 0),
                Arc::new(BinaryArray::from(vec![
                    &b"Hi"[..],
                    &[0u8, 255][..],
                    &[][..],
                ])),
            ),
            (
                field("NOTHING", DataType::Null, "TEXT", 0),
                Arc::new(NullArray::new(3)),
            ),
        ],
        2,
    );
    let rows = decode(&bytes, &[], "the inline result").unwrap();
    assert_eq!(
        rows,
        vec![
            vec![
                text("42"),
                text("1.50"),
                text("42"),
                text("50"),
                text("1.5"),
                text("true"),
                text("2025-01-01"),
                text("01:02:03.5"),
                text("2025-01-01 00:00:00.5"),
                text("2025-01-01 00:00:00.5"),
                text("2025-01-01 00:00:00"),
                text("[\"a\"]"),
                text("x"),
                text("4869"),
                None,
            ],
            vec![
                None,
                text("-0.05"),
                text("1.500"),
                text("2.5"),
                text("1e-05"),
                text("false"),
                text("1969-12-31"),
                text("00:00:00"),
                text("1969-12-31 23:59:59.5"),
                text("1970-01-01 00:00:00.000001"),
                text("1970-01-01 00:00:00"),
                None,
                text(""),
                text("00FF"),
                None,
            ],
            vec![
                text("-7"),
                text("2"),
                text("-0.001"),
                text("0"),
                text("1e+20"),
                None,
                text("1970-01-01"),
                text("23:59:59"),
                text("1970-01-01 00:00:00"),
                text("1969-12-31 23:59:59"),
                text("1970-01-01 00:00:00"),
                text("{}"),
                text("é"),
                text(""),
                None,
            ],
        ]
    );
}

/// The same values as a JSON rowset and as Arrow read the same.
#[test]
fn json_and_arrow_cells_agree() {
    let rowtype = serde_json::json!([
        {"name": "N", "type": "fixed", "scale": 2},
        {"name": "R", "type": "real"},
        {"name": "T", "type": "timestamp_ntz", "scale": 9},
        {"name": "TM", "type": "time", "scale": 9},
        {"name": "D", "type": "date"}
    ]);
    let json = rows::decode(&serde_json::json!({
        "rowtype": rowtype,
        "rowset": [["12.30", "0.1", "1735689600.123456000", "45296.000001000", "20089"]]
    }))
    .unwrap();
    let bytes = stream(
        vec![
            (
                field("N", DataType::Int64, "FIXED", 2),
                Arc::new(Int64Array::from(vec![1230])),
            ),
            (
                field("R", DataType::Float64, "REAL", 0),
                Arc::new(Float64Array::from(vec![0.1])),
            ),
            (
                field("T", DataType::Int64, "TIMESTAMP_NTZ", 9),
                Arc::new(Int64Array::from(vec![1_735_689_600_123_456_000])),
            ),
            (
                field("TM", DataType::Int64, "TIME", 9),
                Arc::new(Int64Array::from(vec![45_296_000_001_000])),
            ),
            (
                field("D", DataType::Int32, "DATE", 0),
                Arc::new(Int32Array::from(vec![20089])),
            ),
        ],
        10,
    );
    let arrow = rows::decode(&serde_json::json!({
        "queryResultFormat": "arrow",
        "rowtype": rowtype,
        "rowsetBase64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes)
    }))
    .unwrap();
    assert_eq!(json.rows, arrow.rows);
    assert_eq!(json.columns, arrow.columns);
    assert_eq!(
        arrow.rows[0],
        vec![
            text("12.30"),
            text("0.1"),
            text("2025-01-01 00:00:00.123456"),
            text("12:34:56.000001"),
            text("2025-01-01")
        ]
    );
}

#[test]
fn an_empty_stream_has_no_rows() {
    assert!(decode(&[], &[], "the inline result").unwrap().is_empty());
    let bytes = stream(
        vec![(
            field("N", DataType::Int64, "FIXED", 0),
            Arc::new(Int64Array::from(Vec::<i64>::new())),
        )],
        1,
    );
    assert!(decode(&bytes, &[], "the inline result").unwrap().is_empty());
}

#[test]
fn an_unknown_type_or_a_garbled_stream_is_named_with_a_hint() {
    let bytes = stream(
        vec![(
            field("WHERE_AT", DataType::Int8, "GEOGRAPHY", 0),
            Arc::new(Int8Array::from(vec![1])),
        )],
        1,
    );
    let error = decode(&bytes, &[], "result chunk 2").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`WHERE_AT`") && message.contains("`geography`"),
        "{message}"
    );
    assert!(message.contains("Int8"), "{message}");
    assert!(error.hint().unwrap().contains("report"), "{error:?}");
    assert_eq!(error.exit_code(), 3);

    let bytes = stream(
        vec![(
            field("N", DataType::Int64, "FIXED", 0),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
        )],
        1,
    );
    for cut in [3, bytes.len() / 2, bytes.len() - 12] {
        let error = decode(&bytes[..cut], &[], "result chunk 2").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("result chunk 2 is not a readable Arrow stream"),
            "{error}"
        );
        assert!(error.hint().is_some());
    }
    let error = decode(b"{\"not\": \"arrow\"}", &[], "the inline result").unwrap_err();
    assert!(error.to_string().contains("the inline result"), "{error}");
}

#[test]
fn scaled_integers_keep_their_digits() {
    assert_eq!(scaled(0, 2), "0.00");
    assert_eq!(scaled(-1, 3), "-0.001");
    assert_eq!(scaled(123_456, 2), "1234.56");
    assert_eq!(scaled(i128::from(i64::MIN), 0), i64::MIN.to_string());
    assert_eq!(split(-1, 3), Some((-1, 999_000_000)));
    assert_eq!(split(1, 10), None);
}
