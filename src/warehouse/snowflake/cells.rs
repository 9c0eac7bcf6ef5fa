//! The text a Snowflake cell becomes, whichever format it came in (JSON rowsets in `rows.rs`,
//! Arrow in `arrow_rows.rs`): what DuckDB would print for the same value.

use chrono::{DateTime, NaiveDate, NaiveTime};

/// A column as the response's `rowtype` describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub name: String,
    /// Snowflake's type, lower case: `fixed`, `text`, `timestamp_ntz`, ...
    pub kind: String,
    pub scale: u32,
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
