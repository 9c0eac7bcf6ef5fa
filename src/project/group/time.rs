//! Times in a group's JSON: ISO-8601 durations (`period`, `ttl`) and timestamps
//! (`backfill_since_tstamp`).

use serde_json::Value;

use crate::error::{Error, Result};

/// An ISO-8601 timestamp, read as UTC: `2025-01-01T00:00:00Z`, `2025-01-01 00:00:00`,
/// with or without an offset.
pub(super) fn parse_timestamp(text: &str) -> Result<chrono::NaiveDateTime> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.naive_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            Error::invalid("", format!("`{text}` is not an ISO-8601 timestamp"))
                .with_hint("write e.g. 2025-01-01T00:00:00Z")
        })
}

/// A `ttl`: an ISO-8601 duration (`P30D`, `PT1H`) or a number of seconds, as the API's
/// `timedelta` fields accept.
pub(super) fn parse_ttl(value: Option<&Value>) -> Result<Option<u64>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|s| *s > 0.0)
            .map(|s| Some(s.round() as u64))
            .ok_or_else(|| Error::invalid("", format!("`{n}` is not a positive duration"))),
        Some(Value::String(text)) => duration_seconds(text).map(Some),
        Some(other) => Err(Error::invalid("", format!("`{other}` is not a duration"))),
    }
}

/// ISO-8601 durations of whole days: `P7D`, `P2W`, `PT48H`, `P1DT24H`. Months and years have
/// no fixed length and anything that leaves a part-day is refused rather than truncated.
pub fn parse_period(text: &str) -> Result<u32> {
    let bad = |why: &str| {
        Error::invalid("", format!("`{text}` {why}"))
            .with_hint("write a whole number of days, e.g. `P7D` or `P4W`")
    };
    let seconds = duration_seconds(text).map_err(|e| match e {
        Error::Invalid { message, .. } => bad(message.trim_start_matches(&format!("`{text}` "))),
        other => other,
    })?;
    if !seconds.is_multiple_of(86_400) {
        return Err(bad("is not a whole number of days"));
    }
    u32::try_from(seconds / 86_400).map_err(|_| bad("is too long"))
}

/// An ISO-8601 duration of weeks, days, hours, minutes and seconds, in seconds. Months and years
/// have no fixed length and are refused.
fn duration_seconds(text: &str) -> Result<u64> {
    let bad = |why: &str| {
        Error::invalid("", format!("`{text}` {why}"))
            .with_hint("write an ISO-8601 duration, e.g. `P7D` or `PT1H`")
    };
    let body = text
        .strip_prefix('P')
        .ok_or_else(|| bad("is not an ISO-8601 duration"))?;
    let (date_part, time_part) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut seconds: u64 = 0;
    let mut any = false;
    for (part, units) in [
        (date_part, &[('W', 7 * 86_400u64), ('D', 86_400)][..]),
        (
            time_part.unwrap_or(""),
            &[('H', 3_600), ('M', 60), ('S', 1)][..],
        ),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c).ok_or_else(|| {
                if c == 'Y' || (c == 'M' && units.len() == 2) {
                    bad("uses months or years, which are not a fixed number of days")
                } else {
                    bad("is not an ISO-8601 duration")
                }
            })?;
            let n: u64 = number
                .parse()
                .map_err(|_| bad("is not an ISO-8601 duration"))?;
            seconds = seconds.saturating_add(n.saturating_mul(unit.1));
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return Err(bad("is not an ISO-8601 duration"));
        }
    }
    if !any || seconds == 0 {
        return Err(bad("is empty"));
    }
    Ok(seconds)
}
