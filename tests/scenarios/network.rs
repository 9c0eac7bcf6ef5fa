//! A network that fails (`common::relay` between the binary and the stand-in): runs of the
//! fixture with faults injected on a seeded schedule, each failed one rerun until it succeeds;
//! afterwards the tables equal an uninterrupted run's, every exit code is a documented one, no
//! secret was printed, and no statement that changes data reached the server twice as two
//! different requests (a resend of the same request id, which the warehouse runs once, is not
//! a second execution).

use serde_json::Value;

use super::{
    Harness, PLACE, SharedWarehouse, attributes_without_updated_at, fixture, scratch, sigbatch,
};
use crate::common::relay::{Delivery, Fault, Relay};
use crate::common::{self, TempProject};

pub type Rows = Vec<Vec<Option<String>>>;

/// The fixture group's full name, its tables' prefix.
pub const FIXTURE_GROUP: &str = "ecommerce_transaction_interactions_features_1";

/// What a warehouse's requests look like to the relay.
pub struct Wire {
    /// The statement a request submits, if it submits one.
    pub statement: fn(&Delivery) -> Option<String>,
    /// The key under which the warehouse runs a resent request once (BigQuery's `requestId`,
    /// Snowflake's `requestId`); `None` where there is none (Databricks).
    pub idempotency_key: fn(&Delivery) -> Option<String>,
}

/// What one case injected and found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub faults: usize,
    /// Faults by kind.
    pub kinds: std::collections::BTreeMap<String, usize>,
    pub runs: usize,
    pub failed_runs: usize,
}

/// The port of the stand-in a profile points at (`127.0.0.1:PORT` or `port: PORT`).
fn upstream_port(profile: &str) -> u16 {
    let after = |marker: &str| {
        profile.find(marker).map(|at| {
            profile[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
    };
    after("127.0.0.1:")
        .filter(|p| !p.is_empty())
        .or_else(|| after("port: "))
        .and_then(|p| p.parse().ok())
        .expect("the profile names the stand-in's port")
}

/// A warehouse reached over HTTP, so a relay can stand between sigbatch and it.
pub trait Networked: Harness {
    /// What its requests look like.
    const WIRE: Wire;
    /// One request in how many is faulted.
    const FAULT_ONE_IN: u64;
    const SEED: u64;
    /// The request (method, target, body) of a first run during which it is killed
    /// (tests/scenarios/killed.rs): one answered while the run has work open here.
    const KILLED_DURING: fn(&str, &str, &str) -> bool;
    /// How many full refreshes that case then kills at random moments.
    const RANDOM_KILLS: usize;
    /// How many seeded random `--until` cutoffs the workspace stream of
    /// tests/scenarios/workspace_stream.rs runs at before its last run
    /// (`SIGBATCH_TEST_WORKSPACE_CUTOFFS` for a larger sweep).
    const WORKSPACE_CUTOFFS: usize = 3;
    /// How many of that stream's last runs are first killed (`SIGBATCH_TEST_WORKSPACE_KILLS`),
    /// at most its cutoffs.
    const WORKSPACE_KILLS: usize = 2;
    /// Whether runs at two places may run at the same time.
    const CONCURRENT_PLACES: bool = true;

    /// The lease table of the group whose full name (`<name>_<version>`) is `group` at `place`,
    /// quoted.
    fn lease_of(place: &str, group: &str) -> String;
    /// Runs `sql` at `place`: its rows, or the warehouse's error.
    fn try_sql(&mut self, place: &str, sql: &str) -> Result<Rows, String>;
    /// The scratch schema of the projects at `place` (where shared reads' tables go), quoted.
    fn scratch_schema(place: &str) -> String;
    /// The shared reads' tables (`sigbatch_shared_events_*`, tests/scenarios/workspace.rs) left
    /// at `place`, lower case and sorted (none where its scratch schema does not exist).
    fn shared_read_tables(&mut self, place: &str) -> Vec<String>;
    /// Runs `sql` at `place`, `{lease}` standing for the fixture project's lease table there.
    fn lease_sql(&mut self, place: &str, sql: &str) -> Rows {
        let lease = Self::lease_of(place, FIXTURE_GROUP);
        self.try_sql(place, &sql.replace("{lease}", &lease))
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }
    /// Makes statements containing `text` outlast a killed run, where they would not (the
    /// stand-in runs them slowly); `None`: no longer.
    fn slow_down(&mut self, _text: Option<&str>) {}
    /// Checks what the stand-in saw of the killed run's work that the next run ended.
    fn after_takeover(&mut self, _ended: &[String]) {}
}

/// A relay in front of the stand-in `project`'s profile points at, and the profile pointed at
/// the relay; faults only where `faulty` allows.
pub fn relay_in_front(
    project: &TempProject,
    seed: u64,
    one_in: u64,
    faulty: impl Fn(&str, &str, &str) -> bool + Send + 'static,
) -> Relay {
    let profile = std::fs::read_to_string(project.path().join("profiles.yml")).unwrap();
    let upstream = upstream_port(&profile);
    let relay = Relay::start(upstream, seed, one_in, faulty);
    std::fs::write(
        project.path().join("profiles.yml"),
        profile.replace(&upstream.to_string(), &relay.port.to_string()),
    )
    .unwrap();
    relay
}

/// Suite case: the fixture behind a relay, rerun after each failure with the faults still on
/// until a run succeeds; its tables must then equal the shared exact run's (cases 2 and 3, an
/// uninterrupted run of the same project), and no data-changing statement may have reached the
/// server twice. `SIGBATCH_TEST_FAULT_SEEDS=N` runs N schedules (seeds) instead of the fixed one,
/// each at a place of its own: the larger sweep.
pub fn faults_in_transit_leave_the_uninterrupted_tables<H: Networked>(shared: &SharedWarehouse<H>) {
    with_uninterrupted_tables(shared, |h, secrets, expected| {
        let seeds: u64 = std::env::var("SIGBATCH_TEST_FAULT_SEEDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        for n in 0..seeds {
            let outcome = faulted_runs(
                h,
                secrets,
                expected,
                H::SEED + n,
                &format!("net_faulted{n}"),
            );
            eprintln!(
                "{} network faults, seed {}: {outcome:?}",
                H::KIND,
                H::SEED + n
            );
            assert!(outcome.faults >= 30, "{outcome:?}");
        }
    });
}

/// Runs the fixture at a place of its own behind the relay until a run succeeds, then checks.
fn faulted_runs<H: Networked>(
    h: &mut H,
    secrets: &[String],
    expected: &(Rows, Rows),
    seed: u64,
    place: &str,
) -> Outcome {
    let project = fixture(h, "exact", 3, place, true);
    // a lost lease release would only make the next run wait out the lease (five minutes)
    let relay = relay_in_front(&project, seed, H::FAULT_ONE_IN, |_, _, body| {
        !body.contains("holder = NULL")
    });
    let mut outcome = Outcome::default();
    let mut last_failure = String::new();
    loop {
        outcome.runs += 1;
        assert!(
            outcome.runs <= 100,
            "no run succeeded in 100 tries: {outcome:?}; the last said:\n{last_failure}"
        );
        let output = sigbatch(secrets, &project, &["run"]);
        let text = String::from_utf8_lossy(&output.stderr).to_string();
        match output.status.code() {
            Some(0) => break,
            // a warehouse failure the rerun gets past
            Some(3) => {
                outcome.failed_runs += 1;
                last_failure = text;
            }
            other => panic!("run {} exited {other:?}:\n{text}", outcome.runs),
        }
    }
    let deliveries = relay.deliveries();
    for delivery in deliveries.iter().filter(|d| d.fault != Fault::None) {
        outcome.faults += 1;
        *outcome
            .kinds
            .entry(format!("{:?}", delivery.fault))
            .or_default() += 1;
    }
    assert_eq!(&tables(h, &project, place), expected, "{outcome:?}");
    let twice = executed_twice(&deliveries, &H::WIRE);
    assert!(twice.is_empty(), "executed twice: {twice:#?}");
    outcome
}

/// Runs `case` on the shared warehouse with the tables of its uninterrupted exact run (cases 2
/// and 3), which the case's runs must reach.
pub fn with_uninterrupted_tables<H: Harness>(
    shared: &SharedWarehouse<H>,
    case: impl FnOnce(&mut H, &[String], &(Rows, Rows)),
) {
    shared.with(|warehouse| {
        warehouse.exact_run();
        let (h, secrets, exact) = (
            &mut warehouse.h,
            &warehouse.secrets,
            warehouse.exact.as_ref().unwrap(),
        );
        let expected = tables(h, &exact.project, PLACE);
        case(h, secrets, &expected);
    });
}

/// The fixture group's attributes (without `updated_at`) and daily aggregates at `place`.
pub fn tables<H: Harness>(h: &mut H, project: &TempProject, place: &str) -> (Rows, Rows) {
    group_tables(h, project, place, FIXTURE_GROUP)
}

/// `tables` of the group whose full name is `group`.
pub fn group_tables<H: Harness>(
    h: &mut H,
    project: &TempProject,
    place: &str,
    group: &str,
) -> (Rows, Rows) {
    let attributes =
        attributes_without_updated_at(h.read(project, place, &format!("{group}_attributes")));
    let daily = h.read(project, place, &format!("{group}_daily_aggregates"));
    let daily = scratch("daily", daily);
    (
        attributes,
        common::rows(&daily, "SELECT * FROM daily ORDER BY ALL").1,
    )
}

/// Statements that change data and reached the server twice in a row as different requests:
/// resent with a new id, or (without ids) resent at all.
fn executed_twice(deliveries: &[Delivery], wire: &Wire) -> Vec<String> {
    let submitted: Vec<(String, Option<String>)> = deliveries
        .iter()
        .filter(|d| d.fault.reached_server())
        .filter_map(|d| (wire.statement)(d).map(|s| (s, (wire.idempotency_key)(d))))
        .collect();
    submitted
        .windows(2)
        .filter(|pair| {
            let ((first, first_key), (second, second_key)) = (&pair[0], &pair[1]);
            first == second
                && changes_data(first)
                && (first_key.is_none() || first_key != second_key)
        })
        .map(|pair| pair[0].0.clone())
        .collect()
}

/// Whether `sql` (one statement, or a script of several, each starting on a line of its own)
/// changes data: a line whose first word is a data-changing verb (not a column such as
/// `updated_at`).
fn changes_data(sql: &str) -> bool {
    sql.lines().any(|line| {
        let first = line.split_whitespace().next().unwrap_or_default();
        ["INSERT", "UPDATE", "DELETE", "MERGE"]
            .iter()
            .any(|verb| first.eq_ignore_ascii_case(verb))
    })
}

/// The JSON field `field` of a request's body, as text.
pub fn body_field(delivery: &Delivery, field: &str) -> Option<String> {
    let body: Value = serde_json::from_str(&delivery.body).ok()?;
    body[field].as_str().map(str::to_string)
}

/// A query parameter of a request's target.
pub fn query_parameter(delivery: &Delivery, key: &str) -> Option<String> {
    delivery
        .target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == key))
        .map(|(_, v)| v.to_string())
}
