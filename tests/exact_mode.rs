//! Exact mode's targeted behaviours: catch-up over empty stretches, events loaded exactly at
//! the watermark, deferred late dates, hostile values, and the upstream fixture's differences.

mod common;

use common::{TempProject, rows};

const NOW: &str = "2025-06-01 00:00:00";

fn group(attributes: &str) -> String {
    format!(
        r#"{{"name":"g","version":1,"attribute_key_or_name":"domain_userid","attributes":[{attributes}]}}"#
    )
}

const COUNT_VIEWS: &str =
    r#"{"name":"views","type":"int64","events":[{"name":"page_view"}],"aggregation":"counter"}"#;

fn events_table(project: &TempProject) {
    project
        .connection()
        .execute_batch(
            "CREATE SCHEMA atomic; CREATE TABLE atomic.events (event_id VARCHAR, app_id VARCHAR, load_tstamp TIMESTAMP, \
             derived_tstamp TIMESTAMP, dvce_created_tstamp TIMESTAMP, event_name VARCHAR, event_vendor VARCHAR, \
             event_version VARCHAR, domain_userid VARCHAR, geo_country VARCHAR, page_url VARCHAR)",
        )
        .unwrap();
}

fn insert(
    project: &TempProject,
    id: &str,
    user: &str,
    derived: &str,
    load: &str,
    country: &str,
    url: &str,
) {
    project
        .connection()
        .execute(
            "INSERT INTO atomic.events VALUES (?, 'web', CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), \
             'page_view', 'com.snowplowanalytics.snowplow', '1-0-0', ?, ?, ?)",
            duckdb::params![id, load, derived, derived, user, country, url],
        )
        .unwrap();
}

/// A project counting page views per user, over an empty events table.
fn views_project(vars: &str) -> TempProject {
    let project = TempProject::new("exact", &group(COUNT_VIEWS), vars);
    events_table(&project);
    project
}

/// Asserts the single user `u1` has `views` page views.
fn assert_u1_views(project: &TempProject, views: &str) {
    assert_eq!(
        table(project),
        vec![vec![Some("u1".into()), Some(views.into())]]
    );
}

fn table(project: &TempProject) -> Vec<Vec<Option<String>>> {
    rows(
        &project.connection(),
        "SELECT * EXCLUDE (updated_at) FROM main_derived.g_1_attributes ORDER BY 1",
    )
    .1
}

fn windows_run(output: &str) -> u32 {
    output
        .split("ran ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
fn an_empty_stretch_costs_one_window_not_one_per_day() {
    let project = views_project("  snowplow__start_date: '2025-01-01'\n");
    insert(
        &project,
        "a",
        "u1",
        "2025-01-01 10:00:00",
        "2025-01-01 10:00:05",
        "DE",
        "/",
    );
    insert(
        &project,
        "b",
        "u1",
        "2025-03-01 10:00:00",
        "2025-03-01 10:00:05",
        "DE",
        "/",
    );
    let output = project
        .run(false, Some("2025-03-10 00:00:00"), NOW)
        .unwrap();
    assert!(windows_run(&output) <= 3, "{output}");
    assert_u1_views(&project, "2");
}

#[test]
fn an_event_loaded_exactly_at_the_watermark_is_not_skipped() {
    let project = views_project("  snowplow__start_date: '2025-01-01'\n");
    insert(
        &project,
        "a",
        "u1",
        "2025-01-01 10:00:00",
        "2025-01-01 12:00:00",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-01 12:00:00"), NOW)
        .unwrap();
    project.run(false, None, NOW).unwrap();
    // arrives after the watermark reached its load_tstamp
    insert(
        &project,
        "b",
        "u1",
        "2025-01-01 11:00:00",
        "2025-01-01 12:00:00",
        "DE",
        "/",
    );
    project.run(false, None, NOW).unwrap();
    assert_u1_views(&project, "2");
}

#[test]
fn until_is_inclusive_and_a_later_run_picks_up_what_arrives_at_that_instant() {
    let project = views_project("  snowplow__start_date: '2025-01-01'\n");
    insert(
        &project,
        "a",
        "u1",
        "2025-01-01 10:00:00",
        "2025-01-01 12:00:00",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-01 12:00:00"), NOW)
        .unwrap();
    assert_u1_views(&project, "1");
    insert(
        &project,
        "b",
        "u1",
        "2025-01-01 11:00:00",
        "2025-01-01 12:00:00",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-01 12:00:00"), NOW)
        .unwrap();
    assert_u1_views(&project, "2");
}

#[test]
fn deferred_late_dates_are_retried_until_processed_and_shown_in_status() {
    let vars = "  snowplow__start_date: '2025-01-01'\n  snowplow__late_event_lookback_days: 1\n  \
                snowplow__min_late_events_to_process: 2\n";
    let project = views_project(vars);
    insert(
        &project,
        "a",
        "u1",
        "2025-01-10 10:00:00",
        "2025-01-10 10:00:01",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-11 00:00:00"), NOW)
        .unwrap();
    // one late event for 01-02: below the threshold of 2, so it waits
    insert(
        &project,
        "late1",
        "u1",
        "2025-01-02 10:00:00",
        "2025-01-11 10:00:00",
        "DE",
        "/",
    );
    insert(
        &project,
        "c",
        "u1",
        "2025-01-11 10:00:00",
        "2025-01-11 10:00:01",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-12 00:00:00"), NOW)
        .unwrap();
    assert_u1_views(&project, "2");
    let mut status = Vec::new();
    sigbatch::commands::status(&project.args(), false, &mut status).unwrap();
    let status = String::from_utf8(status).unwrap();
    assert!(
        status.contains("deferred     2025-01-02: 1 events waiting"),
        "{status}"
    );
    // the same state for machines
    let report = sigbatch::commands::status_report(&project.args()).unwrap();
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["deferred"][0]["event_date"], "2025-01-02", "{json}");
    assert_eq!(json["deferred"][0]["events_waiting"], 1, "{json}");
    assert_eq!(json["mode"], "exact");
    assert!(
        json["read_up_to"]
            .as_str()
            .is_some_and(|t| t.starts_with("2025-01-11")),
        "{json}"
    );
    assert!(
        json["tables"][2]["rows"].as_u64().is_some_and(|n| n >= 1),
        "{json}"
    );
    // a run with nothing for that date still re-checks it; the second late event releases it
    project
        .run(false, Some("2025-01-12 12:00:00"), NOW)
        .unwrap();
    insert(
        &project,
        "late2",
        "u1",
        "2025-01-02 11:00:00",
        "2025-01-12 13:00:00",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-13 00:00:00"), NOW)
        .unwrap();
    assert_u1_views(&project, "4");
}

#[test]
fn hostile_criteria_values_are_literals() {
    let hostile = [
        "it's",
        "back\\slash",
        "100%",
        "a_b",
        "ünïcødé",
        "SELECT",
        "'; DROP TABLE atomic.events; --",
    ];
    let attributes: Vec<String> = hostile
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let value = serde_json::to_string(value).unwrap();
            format!(
                r#"{{"name":"eq_{i}","type":"int64","events":[{{"name":"page_view"}}],"aggregation":"counter",
                    "criteria":{{"all":[{{"property":"geo_country","operator":"=","value":{value}}}]}}}},
                   {{"name":"like_{i}","type":"int64","events":[{{"name":"page_view"}}],"aggregation":"counter",
                    "criteria":{{"all":[{{"property":"page_url","operator":"like","value":{value}}}]}}}}"#
            )
        })
        .collect();
    let project = TempProject::new(
        "exact",
        &group(&attributes.join(",")),
        "  snowplow__start_date: '2025-01-01'\n",
    );
    events_table(&project);
    for (i, value) in hostile.iter().enumerate() {
        insert(
            &project,
            &format!("e{i}"),
            "u1",
            "2025-01-02 10:00:00",
            "2025-01-02 10:00:01",
            value,
            value,
        );
    }
    insert(
        &project,
        "other",
        "u1",
        "2025-01-02 10:00:00",
        "2025-01-02 10:00:01",
        "a-b",
        "100x",
    );
    project
        .run(false, Some("2025-01-03 00:00:00"), NOW)
        .unwrap();
    let row = &table(&project)[0];
    for (i, value) in hostile.iter().enumerate() {
        assert_eq!(row[1 + 2 * i].as_deref(), Some("1"), "`=` {value}");
        // LIKE takes the pattern as given: `%` and `_` are wildcards, so "100%" also matches "100x"
        let expected_like = match *value {
            "100%" => "2",
            _ => "1",
        };
        assert_eq!(
            row[2 + 2 * i].as_deref(),
            Some(expected_like),
            "like {value}"
        );
    }
    let count: i64 = project
        .connection()
        .query_row("SELECT COUNT(*) FROM atomic.events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, hostile.len() as i64 + 1);
}

#[test]
fn property_paths_with_injection_attempts_are_rejected() {
    for path in [
        "geo_country); DROP TABLE x; --",
        "contexts_x_1[0]:a'b",
        "contexts_x_1[0]:a\"b",
        "geo_country OR 1=1",
    ] {
        let attribute = format!(
            r#"{{"name":"x","type":"string","events":[{{"name":"page_view"}}],"aggregation":"last","property":{}}}"#,
            serde_json::to_string(path).unwrap()
        );
        let project = TempProject::new(
            "exact",
            &group(&attribute),
            "  snowplow__start_date: '2025-01-01'\n",
        );
        let error = project.run(false, None, NOW).unwrap_err().to_string();
        assert!(
            error.contains(path) && error.contains("does not parse"),
            "{error}"
        );
    }
}

#[test]
fn updated_at_moves_only_when_a_row_changes() {
    let project = views_project("  snowplow__start_date: '2025-01-01'\n");
    insert(
        &project,
        "a",
        "u1",
        "2025-01-01 10:00:00",
        "2025-01-01 10:00:01",
        "DE",
        "/",
    );
    insert(
        &project,
        "b",
        "u2",
        "2025-01-01 10:00:00",
        "2025-01-01 10:00:01",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-02 00:00:00"), "2025-02-01 00:00:00")
        .unwrap();
    insert(
        &project,
        "c",
        "u2",
        "2025-01-02 10:00:00",
        "2025-01-02 10:00:01",
        "DE",
        "/",
    );
    project
        .run(false, Some("2025-01-03 00:00:00"), "2025-02-02 00:00:00")
        .unwrap();
    let (_, data) = rows(
        &project.connection(),
        "SELECT domain_userid, updated_at FROM main_derived.g_1_attributes ORDER BY 1",
    );
    assert_eq!(
        data[0][1].as_deref(),
        Some("2025-02-01 00:00:00"),
        "u1 did not change"
    );
    assert_eq!(
        data[1][1].as_deref(),
        Some("2025-02-02 00:00:00"),
        "u2 changed"
    );
}

/// The stages a run executed, in order.
#[derive(Default)]
struct Stages(Vec<String>);

impl sigbatch::report::Reporter for Stages {
    fn report(&mut self, event: sigbatch::report::Event<'_>) {
        if let sigbatch::report::Event::StageFinished { stage, .. } = event {
            self.0.push(stage.to_string());
        }
    }
}

#[test]
fn a_new_today_without_new_events_runs_only_the_attributes_and_setup_runs_once() {
    let attributes = r#"{"name":"views_today","type":"int64","events":[{"name":"page_view"}],
                         "aggregation":"counter","period":"P1D"},
                        {"name":"first_url","type":"string","events":[{"name":"page_view"}],
                         "aggregation":"first","property":"page_url"}"#;
    let project = TempProject::new(
        "exact",
        &group(attributes),
        "  snowplow__start_date: '2025-01-01'\n  snowplow__include_current_day_in_windows: true\n",
    );
    events_table(&project);
    insert(
        &project,
        "a",
        "u1",
        "2025-01-02 10:00:00",
        "2025-01-02 10:00:01",
        "DE",
        "/a",
    );
    insert(
        &project,
        "b",
        "u1",
        "2025-01-03 10:00:00",
        "2025-01-03 10:00:01",
        "DE",
        "/b",
    );
    let run = |today: &str, until: &str| {
        let mut stages = Stages::default();
        let vars = format!("{{snowplow__mock_current_day: '{today}'}}");
        project
            .run_reporting(false, Some(until), NOW, Some(&vars), &mut stages)
            .unwrap();
        stages.0
    };
    let first = run("2025-01-03", "2025-01-04 00:00:00");
    assert_eq!(first.first().map(String::as_str), Some("setup"));
    assert_eq!(
        table(&project),
        vec![vec![Some("u1".into()), Some("1".into()), Some("/a".into())]]
    );
    // "today" moves, nothing new was loaded: the windowed count empties, nothing else runs
    let moved = run("2025-01-04", "2025-01-04 00:00:00");
    assert_eq!(moved, ["attributes", "incremental_manifest"]);
    assert_eq!(
        table(&project),
        vec![vec![Some("u1".into()), Some("0".into()), Some("/a".into())]]
    );
    // new events with a run state: every stage but setup, whose tables exist
    insert(
        &project,
        "c",
        "u1",
        "2025-01-04 09:00:00",
        "2025-01-04 10:00:01",
        "DE",
        "/c",
    );
    let loaded = run("2025-01-04", "2025-01-05 00:00:00");
    assert!(!loaded.iter().any(|s| s == "setup"), "{loaded:?}");
    assert!(loaded.iter().any(|s| s == "daily_aggregates"), "{loaded:?}");
    assert_eq!(
        table(&project),
        vec![vec![Some("u1".into()), Some("1".into()), Some("/a".into())]]
    );
}

#[test]
fn exact_mode_on_the_fixture_differs_only_where_upstream_defects_bite() {
    let project = TempProject::fixture("exact", "snowflake");
    project.run(true, None, "2026-06-01 00:00:00").unwrap();
    let differences = common::fixture_differences(
        &project.connection(),
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    );
    let explained = fixture_differences();
    let listed: Vec<String> = explained.iter().map(|(cell, _)| cell.to_string()).collect();
    assert_eq!(
        differences, listed,
        "every difference must be listed with the defect that explains it"
    );
}

/// The one-scan query the benchmark measures against computes the same table as a run.
#[test]
fn the_one_scan_query_computes_the_same_table_as_a_run() {
    let project = TempProject::fixture("exact", "snowflake");
    project.run(true, None, "2026-06-01 00:00:00").unwrap();
    let (_, plan) = project.args().load().unwrap();
    let dialect = sigbatch::project::profiles::WarehouseKind::DuckDb.dialect();
    let tables = sigbatch::render::Tables::new(&plan, dialect.as_ref(), "main");
    let today = plan.vars.today(common::timestamp("2026-06-01 00:00:00"));
    let one_scan = sigbatch::render::one_scan_sql(&plan, dialect.as_ref(), &tables, today).unwrap();
    let connection = project.connection();
    let (_, engine) = rows(
        &connection,
        "SELECT * EXCLUDE (updated_at) FROM main_derived.ecommerce_transaction_interactions_features_1_attributes ORDER BY 1",
    );
    let (_, scratch) = rows(
        &connection,
        &format!("SELECT * FROM ({one_scan}) ORDER BY 1"),
    );
    assert_eq!(engine.len(), 9);
    assert_eq!(engine, scratch);
}

/// Each cell where exact mode departs from the upstream fixture, with the defect (semantics.md
/// section 5) that explains it.
fn fixture_differences() -> Vec<(&'static str, &'static str)> {
    const FIRST_LAST: &str = "first/last ignore the attribute's events (section 5): upstream reads the latest \
                              event of any type, here a page_ping, while the attribute is defined on page_view";
    vec![
        (
            "user_1.last_geo_country: sigbatch Some(\"FR\"), upstream Some(\"DE\")",
            FIRST_LAST,
        ),
        (
            "user_1.last_timezone: sigbatch Some(\"Australia/Melbourne\"), upstream Some(\"Europe/London\")",
            FIRST_LAST,
        ),
        (
            "user_2.page_view_events_count_last_7_days: sigbatch Some(\"6\"), upstream Some(\"5\")",
            "dates beyond the late-day limit are dropped forever (section 5): upstream's run 2 keeps only its \
             newest 3 dates and never retries 2025-01-02, which holds event_7949 (loaded 01-04)",
        ),
        (
            "user_3.last_geo_country: sigbatch Some(\"US\"), upstream Some(\"UK\")",
            FIRST_LAST,
        ),
        (
            "user_7.last_geo_country: sigbatch Some(\"DE\"), upstream Some(\"CA\")",
            FIRST_LAST,
        ),
    ]
}

#[test]
fn integer_unique_lists_list_integers_as_strings() {
    let attribute = r#"{"name":"codes","type":"int64_list","events":[{"name":"page_view"}],
                        "aggregation":"unique_list","property":"page_url"}"#;
    let project = TempProject::new(
        "exact",
        &group(attribute),
        "  snowplow__start_date: '2025-01-01'\n",
    );
    events_table(&project);
    for (id, code) in [("a", "3"), ("b", "3.0"), ("c", "10"), ("d", "not a number")] {
        insert(
            &project,
            id,
            "u1",
            "2025-01-02 10:00:00",
            "2025-01-02 10:00:01",
            "DE",
            code,
        );
    }
    project
        .run(false, Some("2025-01-03 00:00:00"), NOW)
        .unwrap();
    assert_eq!(
        table(&project),
        vec![vec![Some("u1".into()), Some("10, 3".into())]]
    );
}

#[test]
fn default_values_fill_empty_results_including_lists() {
    let attributes = r#"{"name":"views","type":"int64","events":[{"name":"page_view"}],"aggregation":"counter",
                         "criteria":{"all":[{"property":"geo_country","operator":"=","value":"FR"}]}},
                        {"name":"last_url","type":"string","events":[{"name":"page_view"}],"aggregation":"last",
                         "property":"page_url","criteria":{"all":[{"property":"geo_country","operator":"=","value":"FR"}]},
                         "default_value":"unknown"},
                        {"name":"urls","type":"string_list","events":[{"name":"page_view"}],"aggregation":"unique_list",
                         "property":"page_url","period":"P1D","default_value":"none"}"#;
    let project = TempProject::new(
        "exact",
        &group(attributes),
        "  snowplow__start_date: '2025-01-01'\n  snowplow__mock_current_day: '2025-01-10'\n",
    );
    events_table(&project);
    insert(
        &project,
        "a",
        "u1",
        "2025-01-02 10:00:00",
        "2025-01-02 10:00:01",
        "DE",
        "/x",
    );
    project
        .run(false, Some("2025-01-03 00:00:00"), NOW)
        .unwrap();
    assert_eq!(
        table(&project),
        vec![vec![
            Some("u1".into()),
            Some("0".into()),
            Some("unknown".into()),
            Some("none".into())
        ]]
    );
}

/// On DuckDB a run's scratch tables are temporary: nothing of them is in the database file after
/// the run. The daily rows are stored in event_date order, so a later run's delete and read of
/// recent dates touch few row groups.
#[test]
fn duckdb_keeps_no_scratch_tables_and_stores_daily_rows_by_date() {
    let project = views_project("  snowplow__start_date: '2025-01-01'\n");
    // twelve (key, date) pairs over three dates, loaded out of date order
    for (n, day) in ["03", "02", "01"].iter().cycle().take(12).enumerate() {
        let (at, load) = (
            format!("2025-01-{day} 10:00:00"),
            format!("2025-01-03 12:00:{n:02}"),
        );
        insert(
            &project,
            &format!("e{n}"),
            &format!("u{n}"),
            &at,
            &load,
            "DE",
            "/",
        );
    }
    project
        .run(false, Some("2025-01-04 00:00:00"), "2025-02-01 00:00:00")
        .unwrap();
    let connection = project.connection();
    let (_, scratch) = rows(
        &connection,
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE schema_name LIKE '%scratch%' OR temporary",
    );
    assert!(scratch.is_empty(), "scratch tables stored: {scratch:?}");
    let (_, stored) = rows(
        &connection,
        "SELECT CAST(event_date AS VARCHAR) FROM main_derived.g_1_daily_aggregates ORDER BY rowid",
    );
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(stored.len(), 12);
    assert_eq!(stored, sorted, "daily rows not stored by event_date");
}

/// A stored window's events keep the events table's order through the deduplication
/// (`Dialect::ordered_dedup`), so a later window finds a date's stored events in few row groups.
/// A duplicated id keeps its first-loaded copy, which is ranked apart and stored after the rest.
#[test]
fn duckdb_stores_filtered_events_in_load_order_and_keeps_a_duplicates_first_copy() {
    let project = views_project("  snowplow__start_date: '2025-01-01'\n");
    for n in 0..60 {
        let (at, load) = (
            format!("2025-01-0{} 10:00:00", 1 + n % 3),
            format!("2025-01-03 12:{:02}:00", n),
        );
        insert(&project, &format!("e{n:02}"), "u1", &at, &load, "DE", "/");
    }
    // a second copy of e10, loaded last
    insert(
        &project,
        "e10",
        "u2",
        "2025-01-01 11:00:00",
        "2025-01-03 13:30:00",
        "FR",
        "/",
    );
    project
        .run(false, Some("2025-01-04 00:00:00"), "2025-02-01 00:00:00")
        .unwrap();
    let (_, stored) = rows(
        &project.connection(),
        "SELECT event_id || ' ' || attribute_key || ' ' || CAST(load_tstamp AS VARCHAR) \
         FROM main_derived.g_1_filtered_events ORDER BY rowid",
    );
    let stored: Vec<String> = stored.into_iter().flatten().flatten().collect();
    let expected: Vec<String> = (0..60)
        .filter(|n| *n != 10)
        .chain([10])
        .map(|n| format!("e{n:02} u1 2025-01-03 12:{n:02}:00"))
        .collect();
    assert_eq!(stored, expected, "filtered_events not in load order");
}

#[test]
fn a_window_ends_where_it_would_read_more_than_max_window_events() {
    // the demo stream over ten load days, in windows of up to 30 days: without a limit on
    // events one window reads them all; with one, each window reads at most that many (a
    // single load day over it is read whole, alone), and the tables are the same
    let vars = |limit: &str| {
        common::DEMO_VARS.replace("backfill_limit_days: 1", "backfill_limit_days: 30")
            + &format!("  sigbatch__max_window_events: {limit}\n")
    };
    let windows_of = |project: &TempProject| -> Vec<(String, String, u64)> {
        common::succeeded(common::demo_run(project.path(), &[]).output().unwrap());
        project.run_results()["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let bound = |name: &str| w[name].as_str().unwrap().to_string();
                (
                    bound("lower"),
                    bound("upper"),
                    w["events"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let whole = TempProject::demo(&vars("unlimited"), 200, 10, 7);
    let one = windows_of(&whole);
    assert_eq!(one.len(), 1, "{one:?}");
    let limit = one[0].2 / 4;
    let split = TempProject::demo(&vars(&limit.to_string()), 200, 10, 7);
    let windows = windows_of(&split);
    assert!(windows.len() >= 4, "{windows:?}");
    for (lower, upper, events) in &windows {
        let one_day = chrono::DateTime::parse_from_rfc3339(upper).unwrap()
            - chrono::DateTime::parse_from_rfc3339(lower).unwrap()
            <= chrono::TimeDelta::days(1);
        assert!(
            *events <= limit || one_day,
            "{lower} .. {upper} read {events} events, over {limit}: {windows:?}"
        );
    }
    assert_eq!(
        windows.iter().map(|w| w.2).sum::<u64>(),
        one[0].2,
        "{windows:?}"
    );
    assert_eq!(
        common::demo_attributes(&split),
        common::demo_attributes(&whole)
    );
}
