//! A seeded, deterministic Snowplow events dataset for demos, benchmarks and tests.
//!
//! `generate_events` fills `atomic.events` in DuckDB with a few weeks of a fictional analytics
//! vendor's web traffic: sessions of page views and page pings, video, form, link-click and
//! ecommerce events, and the defects every real pipeline has: duplicate event ids (some with
//! different content), late events (offline devices and a loader outage), visitors without a
//! cookie, device clocks that are wrong. `DEMO_ATTRIBUTE_GROUP_JSON` is an attribute group over it
//! that uses every aggregation.
//!
//! The dataset is a function of `DemoSpec` alone: the random numbers come from the module's own
//! SplitMix64, not from a crate whose streams could change, so a seed names the same rows forever.

mod catalog;
mod columns;
mod events;
mod load;
mod rng;
mod traffic;
mod visit;
mod visitors;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

pub use columns::COLUMNS as EVENTS_COLUMNS;

use events::{Event, Outage};
use rng::Rng;
use visitors::Period;

/// The demo attribute group, in the Signals API JSON shape (Snowflake property syntax).
pub const DEMO_ATTRIBUTE_GROUP_JSON: &str = include_str!("attribute_group.json");

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const DUPLICATE_STREAM: u64 = 2;

/// What to generate. Visits start on `start` and stop before `start + days`; late loads may fall
/// after that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSpec {
    pub users: u32,
    pub days: u32,
    pub start: NaiveDate,
    pub seed: u64,
}

impl Default for DemoSpec {
    fn default() -> Self {
        DemoSpec {
            users: 3000,
            days: 21,
            start: NaiveDate::from_ymd_opt(2025, 3, 1).expect("valid date"),
            seed: 42,
        }
    }
}

/// What was generated. `events` counts every row, duplicate copies included; `late_events`
/// counts rows loaded more than an hour after their `derived_tstamp`. With no rows, both load
/// bounds are the start of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStats {
    pub events: u64,
    pub duplicates: u64,
    pub late_events: u64,
    pub first_load: NaiveDateTime,
    pub last_load: NaiveDateTime,
}

/// Creates schema `atomic` and table `atomic.events` (replacing it) and fills it, in one
/// transaction of its own: call it outside any open transaction.
pub fn generate_events(
    conn: &duckdb::Connection,
    spec: &DemoSpec,
) -> Result<DemoStats, duckdb::Error> {
    let (events, duplicates) = simulate(spec);
    conn.execute_batch("BEGIN TRANSACTION")?;
    match load::load_events(conn, &events) {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(err) => {
            // The write error is the one worth reporting; a failed rollback adds nothing to it.
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err);
        }
    }
    let period_start = spec.start.and_time(NaiveTime::MIN);
    let load = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map_or(period_start, |t| t.naive_utc())
    };
    Ok(DemoStats {
        events: events.len() as u64,
        duplicates,
        late_events: events.iter().filter(|e| e.is_late()).count() as u64,
        first_load: load(events.first().map(|e| e.times.load)),
        last_load: load(events.last().map(|e| e.times.load)),
    })
}

/// All rows in load order, and how many of them are duplicate copies.
fn simulate(spec: &DemoSpec) -> (Vec<Event>, u64) {
    let start_ms = spec
        .start
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    let days = i64::from(spec.days);
    // One loader outage of six hours, three fifths into the period.
    let outage_start = start_ms + days * 3 / 5 * DAY_MS + 90 * 60_000;
    let period = Period {
        seed: spec.seed,
        start_ms,
        end_ms: start_ms + days * DAY_MS,
        outage: Outage {
            start_ms: outage_start,
            end_ms: outage_start + 6 * HOUR_MS,
        },
    };
    let mut events: Vec<Event> = if days == 0 {
        Vec::new()
    } else {
        (0..spec.users)
            .flat_map(|index| visitors::simulate(&period, index))
            .collect()
    };

    let mut rng = Rng::stream(spec.seed, DUPLICATE_STREAM, 0);
    let mut copies = Vec::new();
    for event in &events {
        // Order confirmations get reloaded, so transactions are duplicated far more often.
        let is_order = event.payload.transaction().is_some();
        if rng.chance(if is_order { 0.08 } else { 0.012 }) {
            let other = &events[rng.below(events.len() as u64) as usize];
            copies.push(event.duplicate(&mut rng, other));
        }
    }
    let duplicates = copies.len() as u64;
    events.extend(copies);
    // Loaders append in load order; the event id makes the order total.
    events.sort_by(|a, b| (a.times.load, &a.event_id).cmp(&(b.times.load, &b.event_id)));
    (events, duplicates)
}

#[cfg(test)]
mod tests;
