use std::collections::BTreeSet;

use chrono::NaiveDate;
use duckdb::Connection;

use super::*;

fn spec(users: u32, days: u32, seed: u64) -> DemoSpec {
    DemoSpec {
        users,
        days,
        seed,
        ..DemoSpec::default()
    }
}

fn generated(spec: &DemoSpec) -> (Connection, DemoStats) {
    let conn = Connection::open_in_memory().unwrap();
    let stats = generate_events(&conn, spec).unwrap();
    (conn, stats)
}

/// One mid-sized dataset for the proportion checks, which need a few thousand sessions.
fn sample() -> (Connection, DemoStats) {
    generated(&spec(1000, 14, 42))
}

fn count(conn: &Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap() as u64
}

/// Events in the sample whose `condition` holds.
fn events_where(conn: &Connection, condition: &str) -> u64 {
    count(
        conn,
        &format!("SELECT count(*) FROM atomic.events WHERE {condition}"),
    )
}

/// Keys (or event ids) whose group of events satisfies `having`.
fn groups_having(conn: &Connection, key: &str, having: &str) -> u64 {
    let groups = format!("SELECT {key} FROM atomic.events GROUP BY {key} HAVING {having}");
    count(conn, &format!("SELECT count(*) FROM ({groups})"))
}

fn checksum(conn: &Connection) -> String {
    let sql = "SELECT md5(string_agg(e::VARCHAR, '\n' ORDER BY event_id, load_tstamp)) \
               FROM atomic.events e";
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn same_seed_same_rows_other_seed_other_rows() {
    let (a, stats_a) = generated(&spec(200, 7, 7));
    let (b, stats_b) = generated(&spec(200, 7, 7));
    let (c, _) = generated(&spec(200, 7, 8));
    assert_eq!(stats_a, stats_b);
    assert_eq!(checksum(&a), checksum(&b));
    assert_ne!(checksum(&a), checksum(&c));
}

#[test]
fn table_is_replaced_not_appended() {
    let (conn, _) = generated(&spec(50, 3, 1));
    let stats = generate_events(&conn, &spec(30, 3, 2)).unwrap();
    assert_eq!(events_where(&conn, "true"), stats.events);
}

#[test]
fn no_users_gives_an_empty_table() {
    let (conn, stats) = generated(&spec(0, 7, 1));
    let start = NaiveDate::from_ymd_opt(2025, 3, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    assert_eq!(
        (stats.events, stats.first_load, stats.last_load),
        (0, start, start)
    );
    assert_eq!(events_where(&conn, "true"), 0);
}

#[test]
fn table_has_the_contract_layout() {
    let (conn, _) = generated(&spec(5, 2, 1));
    let sql = "SELECT column_name, data_type FROM information_schema.columns \
               WHERE table_schema = 'atomic' AND table_name = 'events' ORDER BY ordinal_position";
    let mut stmt = conn.prepare(sql).unwrap();
    let columns: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<(String, String)> = EVENTS_COLUMNS
        .iter()
        .map(|(name, ty)| (name.to_string(), ty.to_string()))
        .collect();
    assert_eq!(columns, expected);
}

#[test]
fn volume_duplicates_and_late_events_are_in_proportion() {
    let (conn, stats) = sample();
    let rows = events_where(&conn, "true");
    assert_eq!(rows, stats.events);
    let per_user = rows as f64 / 1000.0;
    assert!(
        (10.0..=40.0).contains(&per_user),
        "{per_user} events per user"
    );

    let distinct = count(&conn, "SELECT count(DISTINCT event_id) FROM atomic.events");
    assert_eq!(rows - distinct, stats.duplicates);
    let duplicate_share = stats.duplicates as f64 / rows as f64;
    assert!(
        (0.008..=0.025).contains(&duplicate_share),
        "duplicate share {duplicate_share}"
    );

    let late = events_where(&conn, "load_tstamp > derived_tstamp + INTERVAL 1 HOUR");
    assert_eq!(late, stats.late_events);
    let late_share = late as f64 / rows as f64;
    assert!(
        (0.025..=0.06).contains(&late_share),
        "late share {late_share}"
    );
    // Some arrive days late, not just hours.
    assert!(events_where(&conn, "load_tstamp > derived_tstamp + INTERVAL 2 DAY") > 0);

    // On time means seconds to a couple of minutes, and nothing is loaded before it happened.
    let sql = "SELECT median(epoch(load_tstamp) - epoch(derived_tstamp)) FROM atomic.events \
               WHERE load_tstamp <= derived_tstamp + INTERVAL 1 HOUR";
    let median: f64 = conn.query_row(sql, [], |row| row.get(0)).unwrap();
    assert!((2.0..=180.0).contains(&median), "median delay {median} s");
    assert_eq!(events_where(&conn, "load_tstamp < derived_tstamp"), 0);
    // Loaders write in batches, so events share load_tstamps.
    let sharing = "SELECT sum(n) FROM (SELECT count(*) AS n FROM atomic.events GROUP BY load_tstamp \
                   HAVING count(*) > 1)";
    assert!(
        count(&conn, sharing) * 10 > rows,
        "few events share a load_tstamp"
    );

    let sql = "SELECT min(load_tstamp), max(load_tstamp) FROM atomic.events";
    let bounds: (NaiveDateTime, NaiveDateTime) = conn
        .query_row(sql, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    assert_eq!((stats.first_load, stats.last_load), bounds);
}

#[test]
fn duplicate_copies_are_loaded_later_and_some_differ() {
    let (conn, _) = sample();
    let duplicated = "count(*) > 1";
    assert_eq!(groups_having(&conn, "event_id", "count(*) > 2"), 0);
    assert_eq!(
        groups_having(
            &conn,
            "event_id",
            &format!("{duplicated} AND min(load_tstamp) = max(load_tstamp)")
        ),
        0
    );
    let differ = "count(DISTINCT event_name) > 1 OR count(DISTINCT derived_tstamp) > 1 \
                  OR count(DISTINCT coalesce(domain_userid, '')) > 1";
    assert!(groups_having(&conn, "event_id", &format!("{duplicated} AND ({differ})")) > 0);
    assert!(
        groups_having(
            &conn,
            "event_id",
            &format!("{duplicated} AND NOT ({differ})")
        ) > 0
    );
}

#[test]
fn event_mix_identities_and_apps_are_realistic() {
    let (conn, _) = sample();
    let sql = "SELECT DISTINCT concat_ws('/', event_vendor, event_name, event_version) \
               FROM atomic.events";
    let mut stmt = conn.prepare(sql).unwrap();
    let kinds: BTreeSet<String> = stmt
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for kind in [
        "com.snowplowanalytics.snowplow/page_view/1-0-0",
        "com.snowplowanalytics.snowplow/page_ping/1-0-0",
        "com.snowplowanalytics.snowplow/focus_form/1-0-0",
        "com.snowplowanalytics.snowplow/change_form/1-0-0",
        "com.snowplowanalytics.snowplow/link_click/1-0-1",
        "com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/1-0-0",
        "com.snowplowanalytics.snowplow.media/play_event/1-0-0",
        "com.snowplowanalytics.snowplow.media/pause_event/1-0-0",
    ] {
        assert!(kinds.contains(kind), "no {kind} events in {kinds:?}");
    }
    let rows = events_where(&conn, "true");
    let pings = events_where(&conn, "event_name = 'page_ping'");
    let views = events_where(&conn, "event_name = 'page_view'");
    assert!(
        pings > views && views * 8 > rows,
        "{views} views, {pings} pings of {rows}"
    );

    let no_cookie = events_where(&conn, "domain_userid IS NULL");
    assert!(
        no_cookie > 0 && no_cookie * 50 < rows,
        "{no_cookie} events without domain_userid"
    );
    let website = events_where(&conn, "app_id = 'website'");
    assert!(
        website * 10 > rows * 8,
        "{website} of {rows} on app_id website"
    );
    assert!(count(&conn, "SELECT count(DISTINCT app_id) FROM atomic.events") > 1);
    // Non-ASCII text survives the trip through the CSV file.
    assert!(events_where(&conn, "geo_city = 'São Paulo'") > 0);
    // Returning visitors, and visitors seen from more than one country or operating system.
    let visitors_having = |having: &str| groups_having(&conn, "domain_userid", having);
    assert!(visitors_having("count(DISTINCT domain_sessionid) > 1") > 100);
    assert!(visitors_having("count(DISTINCT geo_country) > 1") > 5);
    let os = "(contexts_nl_basjes_yauaa_context_1->>'$[0].operatingSystemName')";
    assert!(visitors_having(&format!("count(DISTINCT {os}) > 1")) > 0);
}

#[test]
fn json_columns_hold_schema_shaped_documents() {
    let (conn, _) = sample();
    let views = events_where(&conn, "event_name = 'page_view'");
    let with_os = events_where(
        &conn,
        "event_name = 'page_view' AND json_extract_string(contexts_nl_basjes_yauaa_context_1, \
         '$[0].operatingSystemName') IS NOT NULL",
    );
    assert!(
        with_os * 100 > views * 95,
        "{with_os} of {views} page views have an OS"
    );
    // DuckDB's `->>` binds looser than comparisons, hence the parentheses.
    let page_view_id = "(contexts_com_snowplowanalytics_snowplow_web_page_1->>'$[0].id')";
    assert_eq!(events_where(&conn, &format!("{page_view_id} IS NULL")), 0);

    let action =
        "unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1";
    let order = "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1";
    let transactions = events_where(&conn, &format!("({action}->>'$.type') = 'transaction'"));
    assert!(transactions > 20, "{transactions} transactions");
    let complete = format!(
        "({action}->>'$.type') = 'transaction' AND tr_total > 0 \
         AND CAST({order}->'$[0].revenue' AS DOUBLE) = tr_total \
         AND ({order}->>'$[0].currency') IS NOT NULL"
    );
    assert_eq!(events_where(&conn, &complete), transactions);
    assert_eq!(
        events_where(&conn, &format!("{order} IS NOT NULL")),
        transactions
    );

    let plays = events_where(&conn, "event_name = 'play_event'");
    let described = events_where(
        &conn,
        "event_name = 'play_event' AND \
         (unstruct_event_com_snowplowanalytics_snowplow_media_player_event_1->>'$.type') = 'play' \
         AND (contexts_com_snowplowanalytics_snowplow_media_player_2->'$[0].duration') IS NOT NULL",
    );
    assert!(
        plays > 0 && described == plays,
        "{described} of {plays} play events described"
    );
}

#[test]
fn attribute_group_parses_and_covers_every_aggregation() {
    let group: serde_json::Value = serde_json::from_str(DEMO_ATTRIBUTE_GROUP_JSON).unwrap();
    assert_eq!(group["name"], "demo_web_engagement");
    assert_eq!(group["version"], 1);
    assert_eq!(group["attribute_key_or_name"], "domain_userid");
    let attributes = group["attributes"].as_array().unwrap();
    let values = |field: &str| -> BTreeSet<String> {
        attributes
            .iter()
            .filter_map(|a| a[field].as_str().map(str::to_owned))
            .collect()
    };
    let aggregations = values("aggregation");
    for (aggregation, _) in crate::project::group::Aggregation::ALL {
        assert!(
            aggregations.contains(aggregation),
            "no {aggregation} attribute"
        );
    }
    assert_eq!(
        values("type"),
        ["dict", "double", "int64", "string", "string_list"]
            .map(String::from)
            .into()
    );
    assert!(attributes.iter().any(|a| a["period"] == "P7D"));
    assert!(attributes.iter().any(|a| a["period"].is_null()));
    assert!(attributes.iter().any(|a| a["default_value"].is_string()));
    let criteria = |kind: &str| -> Vec<&serde_json::Value> {
        attributes
            .iter()
            .flat_map(|a| a["criteria"][kind].as_array().into_iter().flatten())
            .collect()
    };
    assert!(!criteria("any").is_empty());
    assert!(
        criteria("all")
            .iter()
            .any(|c| c["operator"] == "in" && c["value"].is_array())
    );
    assert!(criteria("all").iter().any(|c| c["operator"] == "like"));

    // Every property (paths and objects alike) reads a column of the demo table, and every
    // event type occurs in the data.
    let columns: BTreeSet<&str> = EVENTS_COLUMNS.iter().map(|(name, _)| *name).collect();
    let model =
        crate::project::group::AttributeGroup::from_json(DEMO_ATTRIBUTE_GROUP_JSON).unwrap();
    let read = model.attributes.iter().flat_map(|a| {
        a.property.iter().chain(
            a.criteria
                .all
                .iter()
                .chain(&a.criteria.any)
                .map(|c| &c.property),
        )
    });
    for property in read {
        for leaf in property.leaves() {
            assert!(
                columns.contains(leaf.path.column.as_str()),
                "unknown column in `{property}`"
            );
        }
    }
    let (conn, _) = generated(&spec(300, 7, 3));
    for event in attributes
        .iter()
        .flat_map(|a| a["events"].as_array().unwrap())
    {
        let condition = format!(
            "event_vendor = '{}' AND event_name = '{}' AND event_version = '{}'",
            event["vendor"].as_str().unwrap(),
            event["name"].as_str().unwrap(),
            event["version"].as_str().unwrap()
        );
        assert!(events_where(&conn, &condition) > 0, "no {event} events");
    }
}
