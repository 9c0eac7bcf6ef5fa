//! `sigbatch run` on BigQuery, end to end: the real binary and client against local-bigquery
//! over HTTP (tests/scenarios/bigquery.rs). The scenario suite (tests/scenarios; on BigQuery its
//! compat case reads a context stored in two schema versions, its exact case checks partitioning
//! and clustering, its dry run the byte estimates), then what only BigQuery has: a property whose
//! context has no version in the table, polling and job statistics, a random stream in batches
//! equal to DuckDB.

mod common;
mod scenarios;

use common::TempProject;
use scenarios::bigquery::{BigQuery, Server, TOKEN, copy_events, copy_to_duckdb};
use scenarios::{Harness, NOW, PLACE};

scenarios::suite!(BigQuery);

fn succeed(project: &TempProject, args: &[&str]) -> String {
    common::succeed_on(project, args, NOW, &[TOKEN])
}

/// `table` on the server against the same project's table on DuckDB, cell by cell.
fn assert_same_as_duckdb(
    server: &Server,
    table: &str,
    local: &duckdb::Connection,
    local_table: &str,
) {
    copy_to_duckdb(
        &mut server.client("atomic"),
        &format!("SELECT * FROM {table}"),
        local,
        "from_bigquery",
    );
    let select = "SELECT * EXCLUDE (updated_at) FROM {} ORDER BY 1";
    let (_, expected) = common::rows(local, &select.replace("{}", local_table));
    let (_, actual) = common::rows(local, &select.replace("{}", "from_bigquery"));
    assert!(expected.len() > 3, "several keys: {}", expected.len());
    common::assert_same_rows("bigquery", &actual, &expected);
}

#[test]
fn a_context_without_any_version_is_named_and_a_job_is_polled() {
    let mut bigquery = BigQuery::start();
    let project = scenarios::fixture(&mut bigquery, "exact", 3, PLACE, true);
    let mut client = bigquery.server.client("atomic");

    // a property whose context has no version at all in the table
    client
        .run("ALTER TABLE atomic.events DROP COLUMN contexts_nl_basjes_yauaa_context_1_0_0")
        .unwrap();
    let missing_column = common::sigbatch_on(&project, &["run"], NOW, &[TOKEN]);
    let text = String::from_utf8_lossy(&missing_column.stderr);
    assert_eq!(missing_column.status.code(), Some(2), "{text}");
    assert!(
        text.contains("contexts_nl_basjes_yauaa_context_1") && text.contains("any schema version"),
        "{text}"
    );

    // a job not done within the request is polled to the end; its id is reported
    client.wait = std::time::Duration::ZERO;
    let result = client
        .run("SELECT COUNT(*) AS n FROM atomic.events")
        .unwrap();
    assert_eq!(result.rows, vec![vec![Some("52".to_string())]]);
    let stats = client.last_stats();
    assert!(stats.id.is_some(), "{stats:?}");
    // the emulator reports 0 bytes: the plumbing is what is tested
    assert_eq!(
        (stats.bytes_processed, stats.bytes_billed),
        (Some(0), Some(0))
    );
}

/// A seeded demo stream (late events, duplicates, several devices per user) read in batches
/// (`--until`), on BigQuery and on DuckDB: the same attributes after each batch.
#[test]
fn exact_mode_on_a_random_stream_in_batches_equals_duckdb() {
    let bigquery = BigQuery::start();
    let server = &bigquery.server;
    let vars = "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 4\n  \
                snowplow__mock_current_day: '2025-03-09'\n";
    // BigQuery has a column for a schema only once an event of it was loaded: each stream must
    // carry the ecommerce action the demo group reads (a small stream may not)
    let carries_every_schema = |project: &TempProject| {
        let (_, count) = common::rows(
            &project.connection(),
            "SELECT COUNT(unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1) FROM atomic.events",
        );
        count[0][0].as_deref() != Some("0")
    };
    let streams = (11..40)
        .map(|seed| (seed, TempProject::demo(vars, 30, 8, seed)))
        .filter(|(_, project)| carries_every_schema(project))
        .take(1);
    for (seed, local) in streams {
        let dataset = format!("stream_{seed}");
        let remote = TempProject::new(
            "exact",
            sigbatch::demo::DEMO_ATTRIBUTE_GROUP_JSON,
            &vars.replace(
                "snowplow__start_date",
                &format!("snowplow__atomic_schema: events_{seed}\n  snowplow__start_date"),
            ),
        );
        copy_events(
            &mut server.client(&dataset),
            &local.connection(),
            "atomic.events",
            &format!("events_{seed}"),
            "events",
            None,
        );
        std::fs::write(
            remote.path().join("profiles.yml"),
            server.profile_yaml(&dataset),
        )
        .unwrap();
        for until in ["2025-03-03 12:00:00", "2025-03-20 00:00:00"] {
            local.run(false, Some(until), NOW).unwrap();
            succeed(&remote, &["run", "--until", until]);
            assert_same_as_duckdb(
                server,
                &format!("`{dataset}_derived`.`demo_web_engagement_1_attributes`"),
                &local.connection(),
                "main_derived.demo_web_engagement_1_attributes",
            );
        }
    }
}
