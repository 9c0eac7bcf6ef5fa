//! The benchmark's events: seeded, deterministic, generated in DuckDB from `range(n)`.
//!
//! Every random choice is `hash(row, SEED, k)` scaled to [0, 1), so the same size always gives
//! the same table and generation is one parallel `CREATE TABLE ... AS SELECT` (seconds, no data
//! file checked in). Rows are numbered in load order: `n` rows spread evenly over `days` load days
//! from 2025-01-01 (60 in the main bench: 2025-01-01 .. 2025-03-01); rows `n .. n + n/days` fall
//! on the next day at the same rate and are appended later with [`append_load_day`], like a real
//! day's load arriving after a run.
//!
//! The shape: `n / 10` users with a skewed activity (user = floor(users * u^3), so a few users
//! own many events); 5 % of events late (derived 1-3 days before load), the rest seconds to
//! minutes before; 0.1 % duplicates of an earlier row's `event_id` (and user), loaded later and
//! with their own content. The 19 columns the fixture's attribute group reads come first, then
//! 25 filler columns with realistic lengths, because atomic tables are wide and a good engine
//! must not read what it does not need.

use std::ops::Range;

use duckdb::Connection;

const SEED: u64 = 20_250_301;

/// Microseconds since the epoch of 2025-01-01 00:00:00 UTC.
const START_MICROS: u64 = 1_735_689_600_000_000;
const DAY_MICROS: f64 = 86_400_000_000.0;

/// `n` events over `days` load days into `atomic.events`.
pub fn create(connection: &Connection, n: u64, days: u64) -> duckdb::Result<()> {
    let into = "CREATE SCHEMA IF NOT EXISTS atomic;\nCREATE OR REPLACE TABLE atomic.events AS";
    generate(connection, n, days, 0..n, into)
}

/// The next load day after the `days` of [`create`]: `n / days` more events.
pub fn append_load_day(connection: &Connection, n: u64, days: u64) -> duckdb::Result<()> {
    append_later_load_day(connection, n, days, 1)
}

/// The `later`-th load day after the `days` of [`create`] (1: the next): `n / days` more events,
/// the stream's rows after those of the days before it.
pub fn append_later_load_day(
    connection: &Connection,
    n: u64,
    days: u64,
    later: u64,
) -> duckdb::Result<()> {
    let per_day = n / days;
    let first = n + (later - 1) * per_day;
    generate(
        connection,
        n,
        days,
        first..first + per_day,
        "INSERT INTO atomic.events",
    )
}

/// Rows `rows` of the stream into `into`. The row numbers go into a table first: `range` is read
/// by one thread, a table by all.
fn generate(
    connection: &Connection,
    n: u64,
    days: u64,
    rows: Range<u64>,
    into: &str,
) -> duckdb::Result<()> {
    connection.execute_batch(&format!(
        "{}\nCREATE OR REPLACE TEMP TABLE bench_rows AS SELECT range AS i FROM range({}, {});\n\
         {into} {};\nDROP TABLE bench_rows;",
        macros(),
        rows.start,
        rows.end,
        select_events(n, days)
    ))
}

/// `u(x, k)`: a uniform number in [0, 1) for row `x` and draw `k`; `pick(list, n, x, k)`: one of
/// the `n` elements (`len(list)` would be evaluated per row); `uuid_of(text)`: a UUID-shaped id.
fn macros() -> String {
    "CREATE OR REPLACE TEMP MACRO u(x, k) AS hash(x, SEED, k)::DOUBLE / 1.8446744073709552e19;
     CREATE OR REPLACE TEMP MACRO pick(list, n, x, k) AS list[1 + (hash(x, SEED, k) % n)::BIGINT];
     CREATE OR REPLACE TEMP MACRO uuid_of(t) AS md5_number(t)::UUID::VARCHAR;"
        .replace("SEED", &SEED.to_string())
}

/// The events of rows `bench_rows` in the stream whose first `n` rows fill `days` load days.
fn select_events(n: u64, days: u64) -> String {
    let users = (n / 10).max(1);
    let micros_per_row = days as f64 * DAY_MICROS / n as f64;
    let sql = format!(
        "
WITH rows AS (
  SELECT i,
    CASE WHEN i > 0 AND u(i, 1) < 0.001 THEN i - 1 - (hash(i, SEED, 2) % least(i, 50000))::BIGINT
         ELSE i END AS origin,
    {START_MICROS} + (i * {micros_per_row})::BIGINT AS load_us,
    u(i, 4) < 0.05 AS late,
    u(i, 8) AS kind
  FROM bench_rows
), events AS (
  SELECT *,
    floor({users} * pow(u(origin, 3), 3))::BIGINT AS user_index,
    load_us - CASE WHEN late THEN 86400000000 + (u(i, 5) * 172800000000)::BIGINT
                   ELSE 2000000 + (u(i, 5) * 600000000)::BIGINT END AS derived_us,
    CASE WHEN kind < 0.35 THEN 'page_view' WHEN kind < 0.80 THEN 'page_ping'
         WHEN kind < 0.83 THEN 'snowplow_ecommerce_action'
         WHEN kind < 0.93 THEN pick(['play_event', 'pause_event', 'ping_event', 'seek_start_event',
           'seek_end_event', 'percent_progress_event', 'volume_change_event', 'end_event'], 8, i, 9)
         WHEN kind < 0.965 THEN 'focus_form' ELSE 'change_form' END AS name,
    CASE WHEN u(i, 13) < 0.04 THEN pick(['pricing', 'pricing/enterprise'], 2, i, 14)
         WHEN u(i, 13) < 0.06 THEN 'request-a-demo'
         ELSE pick(['', 'blog/', 'docs/', 'products/', 'about/'], 5, i, 15) || 'page-' || (hash(i, SEED, 16) % 400)
         END AS path,
    (hash(origin, SEED, 10) % 8)::BIGINT + 1 AS place
  FROM rows
), marketing AS (
  SELECT *,
    pick(['Windows', 'Mac OS', 'Linux', 'Android', 'iOS'], 5,
         CASE WHEN u(i, 11) < 0.8 THEN user_index ELSE i END, 12) AS os,
    CASE WHEN u(i, 17) < 0.3 THEN (hash(i, SEED, 18) % 5)::BIGINT + 1 END AS campaign,
    CASE WHEN u(i, 19) < 0.5 THEN (hash(i, SEED, 20) % 6)::BIGINT + 1 END AS referrer
  FROM events
)
SELECT
  uuid_of(origin || '-event') AS event_id,
  'web' AS app_id,
  make_timestamp(load_us) AS load_tstamp,
  make_timestamp(derived_us) AS derived_tstamp,
  make_timestamp(derived_us - (u(i, 6) * 3000000)::BIGINT) AS dvce_created_tstamp,
  make_timestamp(load_us - 1000000 - (u(i, 7) * 1000000)::BIGINT) AS collector_tstamp,
  name AS event_name,
  CASE WHEN name IN ('page_view', 'page_ping', 'focus_form', 'change_form')
         THEN 'com.snowplowanalytics.snowplow'
       WHEN name = 'snowplow_ecommerce_action' THEN 'com.snowplowanalytics.snowplow.ecommerce'
       ELSE 'com.snowplowanalytics.snowplow.media' END AS event_vendor,
  '1-0-0' AS event_version,
  uuid_of(user_index || '-user') AS domain_userid,
  ['GB', 'US', 'DE', 'FR', 'AU', 'CA', 'NL', 'IN'][place] AS geo_country,
  ['Europe/London', 'America/New_York', 'Europe/Berlin', 'Europe/Paris', 'Australia/Sydney',
   'America/Toronto', 'Europe/Amsterdam', 'Asia/Kolkata'][place] AS geo_timezone,
  ['google', 'facebook', 'newsletter', 'bing', 'linkedin'][campaign] AS mkt_source,
  ['cpc', 'social', 'email', 'cpc', 'social'][campaign] AS mkt_medium,
  ['Google', 'Bing', 'Facebook', 'Twitter', NULL, 'Gmail'][referrer] AS refr_source,
  ['search', 'search', 'social', 'social', 'internal', 'email'][referrer] AS refr_medium,
  'https://www.example.com/' || path
    || CASE WHEN campaign IS NULL THEN '' ELSE '?utm_source=' || ['google', 'facebook', 'newsletter',
         'bing', 'linkedin'][campaign] || '&utm_campaign=spring_sale' END AS page_url,
  ('[{{\"operatingSystemName\": \"' || os || '\", \"deviceClass\": \"'
    || CASE WHEN os IN ('Android', 'iOS') THEN (CASE WHEN u(i, 21) < 0.2 THEN 'Tablet' ELSE 'Phone' END)
            ELSE 'Desktop' END || '\"}}]')::JSON AS contexts_nl_basjes_yauaa_context_1,
  CASE WHEN name = 'snowplow_ecommerce_action' THEN
    ('[{{\"revenue\": ' || CASE WHEN u(i, 22) < 0.05 THEN 1 ELSE round(5 + u(i, 23) * 195, 2) END
      || ', \"transaction_id\": \"' || uuid_of(i || '-transaction') || '\"}}]')::JSON
  END AS contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1,
  CASE WHEN os IN ('Android', 'iOS') THEN 'mob' ELSE 'web' END AS platform,
  make_timestamp(load_us - 500000) AS etl_tstamp,
  make_timestamp(derived_us + 1000000) AS dvce_sent_tstamp,
  'sp' AS name_tracker,
  'js-3.24.2' AS v_tracker,
  'ssc-3.2.0-kinesis' AS v_collector,
  'snowplow-enrich-kinesis-4.1.0' AS v_etl,
  '10.' || hash(user_index, SEED, 24) % 256 || '.' || hash(user_index, SEED, 25) % 256 || '.'
    || hash(i, SEED, 26) % 256 AS user_ipaddress,
  uuid_of(user_index || '-network') AS network_userid,
  uuid_of(user_index || '-' || (load_us // 3600000000) || '-session') AS domain_sessionid,
  (1 + hash(user_index, SEED, 27) % 40 + (load_us // 86400000000) % 60)::INTEGER AS domain_sessionidx,
  CASE WHEN path LIKE 'pricing%' THEN 'Pricing | Example - plans for teams of every size'
       WHEN path LIKE '%demo%' THEN 'Request a demo | Example'
       ELSE 'Example | ' || replace(path, '/', ' / ') || ' - articles, docs and product news' END AS page_title,
  ['https://www.google.com/', 'https://www.bing.com/', 'https://www.facebook.com/',
   'https://t.co/', 'https://www.example.com/blog/', 'https://mail.google.com/'][referrer] AS page_referrer,
  'www.example.com' AS page_urlhost,
  '/' || path AS page_urlpath,
  CASE os WHEN 'Windows' THEN 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
          WHEN 'Mac OS' THEN 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15'
          WHEN 'Linux' THEN 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
          WHEN 'Android' THEN 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'
          ELSE 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'
  END AS useragent,
  pick(['en-GB', 'en-US', 'de-DE', 'fr-FR', 'nl-NL'], 5, user_index, 28) AS br_lang,
  (360 + hash(i, SEED, 29) % 1600)::INTEGER AS br_viewwidth,
  ['Europe/London', 'America/New_York', 'Europe/Berlin', 'Europe/Paris', 'Australia/Sydney',
   'America/Toronto', 'Europe/Amsterdam', 'Asia/Kolkata'][place] AS os_timezone,
  pick([390, 412, 1280, 1440, 1920, 2560], 6, user_index, 30)::INTEGER AS dvce_screenwidth,
  'UTF-8' AS doc_charset,
  'jsonschema' AS event_format,
  md5(i || '-fingerprint') AS event_fingerprint,
  ['London', 'New York', 'Berlin', 'Paris', 'Sydney', 'Toronto', 'Amsterdam', 'Mumbai'][place] AS geo_city,
  ('[{{\"id\": \"' || uuid_of(i || '-page') || '\"}}]')::JSON AS contexts_com_snowplowanalytics_snowplow_web_page_1
FROM marketing
"
    );
    sql.replace("SEED", &SEED.to_string())
}
