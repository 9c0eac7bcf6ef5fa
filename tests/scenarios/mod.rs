//! One scenario suite for every warehouse, the way dbt's adapter tests define each case once and
//! every adapter runs it. A `Harness` says how to start a warehouse (a stand-in server, or
//! nothing for DuckDB), point a project at a place in it, load the upstream fixture's events,
//! read a table back and refuse credentials; `suite!(Harness)` in a warehouse's test binary
//! (tests/warehouse_*.rs) makes one test of each case:
//!
//! 1. `compat_mode_reproduces_the_upstream_fixture`: a full refresh, then two runs, give
//!    tests/fixtures/upstream-0.4/expected_attributes.csv cell for cell.
//! 2. `exact_mode_equals_duckdb`: the fixture's exact run, in windows ended by their loaded
//!    events (`sigbatch__max_window_events`), equals the same run on DuckDB in windows of days.
//! 3. `a_rerun_does_nothing`: after it, `status` reads the state back and a rerun finds nothing
//!    to do, leaving the table as it was (`updated_at` included). Cases 2 and 3 share one run,
//!    and cases 2, 3, 6, 7, 8, 10, 11, 12, 13 and 14 one warehouse, each in a place of its own.
//! 4. `a_run_stopped_after_statements_then_rerun_reaches_the_uninterrupted_tables`.
//! 5. `two_concurrent_runs_never_interleave`.
//! 6. `a_missing_events_table_is_named_and_nothing_is_written`.
//! 7. `refused_credentials_are_named_without_the_secret` (not on DuckDB: it has no credentials).
//! 8. `a_dry_run_writes_nothing`.
//! 9. `the_current_signals_model_equals_duckdb` (`current_model.rs`): a group of the current
//!    Signals model gives DuckDB's table, also after time alone has passed.
//! 10. `faults_in_transit_leave_the_uninterrupted_tables` (`network.rs`, not on DuckDB): behind
//!     a relay that breaks requests and answers, reruns reach case 2's tables and no
//!     data-changing statement runs twice.
//! 11. `compat_mode_orders_stored_values_as_upstream_at_scale` (`stored_values.rs`): a seeded
//!     stream whose values order differently as text and as numbers gives, in compat mode, the
//!     table semantics.md 6.6's rules give, computed from the events in the test.
//! 12. `a_killed_runs_open_work_is_ended_by_the_next_run` (`killed.rs`, not on DuckDB): a run
//!     killed with its work open on the warehouse, then full refreshes killed at random moments;
//!     each next run ends what the dead one left open and reaches case 2's tables.
//! 13. `a_workspace_reads_the_events_once_for_its_groups` (`workspace.rs`, not on DuckDB): two
//!     groups over one place's events, run as a workspace in compat mode, share each window's
//!     read and each give the fixture's expected table; a shared read's table left by a run
//!     killed two days earlier is dropped, one left an hour earlier kept.
//! 14. `a_workspace_stream_killed_and_rerun_gives_the_tables_of_separate_runs`
//!     (`workspace_stream.rs`, not on DuckDB): groups of different keys run as a workspace in
//!     exact mode at seeded random cutoffs, the last runs first killed at seeded moments, give
//!     after every run the tables of their separate runs (case 2's at the end); no shared read's
//!     table is left but a killed run's own.
//!
//! What only one warehouse has (a lease taken over, dry-run byte estimates, ...) is checked in its
//! own file, beside the suite, or in the harness's hooks (`after_compat`, `after_exact`,
//! `after_dry_run`) where it reads what a shared case just ran.

#![allow(dead_code)]

pub mod bigquery;
pub mod current_model;
pub mod databricks;
pub mod duckdb_file;
pub mod killed;
pub mod network;
#[allow(unused_imports)] // the suite case of the warehouses reached over HTTP (not DuckDB)
pub use killed::a_killed_runs_open_work_is_ended_by_the_next_run;
#[allow(unused_imports)]
pub use network::faults_in_transit_leave_the_uninterrupted_tables;
pub mod snowflake;
pub mod stored_values;
pub mod workspace;
#[allow(unused_imports)]
pub use workspace::a_workspace_reads_the_events_once_for_its_groups;
pub mod workspace_stream;
#[allow(unused_imports)]
pub use workspace_stream::a_workspace_stream_killed_and_rerun_gives_the_tables_of_separate_runs;

use std::path::Path;
use std::process::Output;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::faults::{Rules, run_faulty};
use crate::common::{self, TempProject};

/// "Now" for the fixture runs: long after every load, as in upstream's CI.
pub const NOW: &str = "2026-06-01 00:00:00";
pub const ATTRIBUTES: &str = "ecommerce_transaction_interactions_features_1_attributes";
pub const DAILY: &str = "ecommerce_transaction_interactions_features_1_daily_aggregates";
/// Where a case's project reads and writes, unless it needs several places.
pub const PLACE: &str = "atomic";

/// A table read back from a warehouse: column names (lower case) and cells as text, lists as
/// their sorted items joined by ", " (as `common::rows` prints them).
pub type Table = (Vec<String>, Vec<Vec<Option<String>>>);

/// One warehouse, as the cases drive it. A *place* is where one project writes (a database on
/// Snowflake, a dataset on BigQuery, a schema on Databricks; the project's own file on DuckDB),
/// its derived tables in `<place>_derived`.
pub trait Harness: Send + Sized + 'static {
    /// The warehouse type as a run names it: "on snowflake target `dev`".
    const KIND: &'static str;
    /// The property syntaxes whose fixture group case 1 runs; the first is the one of every
    /// other case.
    const SYNTAXES: &'static [&'static str];
    /// The transaction rules case 4 runs under (a stand-in: its own).
    const FAULT_RULES: &'static [Rules] = &[Rules::Native];
    /// Threads case 4 runs its stopped runs on (one per core on DuckDB; one on a stand-in).
    const STOP_WORKERS: usize = 1;
    /// What a second run, refused while a first holds the project, says about the holder.
    const LOCK_REFUSAL: &'static str = "is being run by";
    /// What a run with refused credentials says (besides its hint).
    const REFUSAL: &'static str = "HTTP 401";

    /// Starts the warehouse (its stand-in server), empty.
    fn start() -> Self;
    /// Every secret the profiles of `profile` hold: none may reach any output.
    fn secrets(&self) -> Vec<String>;
    /// The fixture's vars here, with the backfill limit given.
    fn vars(backfill_limit_days: u32) -> String {
        common::FIXTURE_VARS.replace(
            "backfill_limit_days: 3",
            &format!("backfill_limit_days: {backfill_limit_days}"),
        )
    }
    /// The `profiles.yml` that points `project` at `place`.
    fn profile(&mut self, project: &TempProject, place: &str) -> String;
    /// Loads the fixture's events (tests/fixtures/upstream-0.4/events.csv) where a project at
    /// `place` reads them, in this warehouse's layout.
    fn load_fixture_events(&mut self, project: &TempProject, place: &str);
    /// Loads a Snowplow events CSV (columns as the fixture's, self-describing ones named by full
    /// schema version) as `<schema>.events`, where a project at `place` with
    /// `snowplow__atomic_schema: <schema>` reads them, in this warehouse's layout.
    fn load_events_csv(&mut self, project: &TempProject, place: &str, csv: &Path, schema: &str);
    /// Whether the events table keeps self-describing data as JSON, each value of its own kind,
    /// so one field holds a string in one event and a number in another (semantics.md 6.6); a
    /// BigQuery or Databricks record gives a field one type.
    const JSON_EVENTS: bool = false;
    /// `<place>_derived.<table>` read back.
    fn read(&mut self, project: &TempProject, place: &str, table: &str) -> Table;
    /// How many tables sigbatch wrote for `place` (derived, manifest and scratch).
    fn written_tables(&mut self, project: &TempProject, place: &str) -> usize;
    /// The lease (or lock) of a project at `place`: (holder, pid) as text, holder None when free.
    fn lease(&mut self, project: &TempProject, place: &str) -> Option<Vec<Option<String>>>;
    /// After how many statements case 4 stops a run of `statements`.
    fn stops(statements: usize) -> Vec<usize>;
    /// A profile for `place` whose credentials the warehouse refuses, and the refused secret.
    fn refused_profile(&mut self, project: &TempProject, place: &str) -> (String, String);
    /// No case reads `place` again (a harness may stop what serves it).
    fn release(&mut self, _place: &str) {}
    /// A project at `place` whose run lasts long enough to be seen holding its lease.
    fn concurrent_project(&mut self, place: &str) -> TempProject {
        fixture(self, "exact", 3, place, true)
    }
    /// Warehouse-specific checks of case 1's project after its full refresh (`progress`: what
    /// it printed).
    fn after_compat(&mut self, _project: &TempProject, _place: &str, _progress: &str) {}
    /// Warehouse-specific checks of the exact run of cases 2 and 3.
    fn after_exact(&mut self, _project: &TempProject, _place: &str) {}
    /// Warehouse-specific checks of case 8's dry run (`statements`: its stdout).
    fn after_dry_run(&mut self, _project: &TempProject, _place: &str, _statements: &str) {}
}

/// The fixture group in the harness's first syntax, with its vars, pointing at `place`; its
/// events loaded there when `events`.
pub fn fixture<H: Harness>(
    h: &mut H,
    semantics: &str,
    backfill_limit_days: u32,
    place: &str,
    events: bool,
) -> TempProject {
    fixture_in(
        h,
        H::SYNTAXES[0],
        semantics,
        backfill_limit_days,
        place,
        events,
    )
}

pub fn fixture_in<H: Harness>(
    h: &mut H,
    syntax: &str,
    semantics: &str,
    backfill_limit_days: u32,
    place: &str,
    events: bool,
) -> TempProject {
    let project = TempProject::new(
        semantics,
        &fixture_group(syntax),
        &H::vars(backfill_limit_days),
    );
    if events {
        h.load_fixture_events(&project, place);
    }
    let profile = h.profile(&project, place);
    std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
    project
}

pub fn fixture_group(syntax: &str) -> String {
    std::fs::read_to_string(common::fixture_dir().join(format!("attribute_group.{syntax}.json")))
        .unwrap()
}

/// The binary on `project`, checking that none of the harness's secrets (nor `more`) reached
/// its output.
pub fn sigbatch(secrets: &[String], project: &TempProject, args: &[&str]) -> Output {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    common::sigbatch_on(project, args, NOW, &secrets)
}

/// `sigbatch` for a command that must succeed: its stdout and stderr.
pub fn succeed(secrets: &[String], project: &TempProject, args: &[&str]) -> String {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    common::succeed_on(project, args, NOW, &secrets)
}

/// A project's `run_results.json`, where each window went as scripts: at most five requests
/// a window, and one statement id per statement, each of which `id_is`.
pub fn assert_windows_as_scripts(project: &TempProject, id_is: impl Fn(&str) -> bool) {
    for window in project.run_results()["windows"].as_array().unwrap() {
        assert!(window["requests"].as_u64().unwrap() <= 5, "{window}");
        for stage in window["stages"].as_array().unwrap() {
            let ids = stage["statement_ids"].as_array().unwrap();
            assert_eq!(
                ids.len() as u64,
                stage["statements"].as_u64().unwrap(),
                "{stage}"
            );
            assert!(ids.iter().all(|id| id_is(id.as_str().unwrap())), "{stage}");
        }
    }
}

/// `table` in an in-memory DuckDB, to query with `common::rows`.
pub fn scratch(name: &str, table: Table) -> duckdb::Connection {
    let connection = duckdb::Connection::open_in_memory().unwrap();
    common::text_table(&connection, name, &table.0, table.1);
    connection
}

/// The attributes without `updated_at`, by key.
pub fn attributes_without_updated_at(table: Table) -> Vec<Vec<Option<String>>> {
    let connection = scratch("t", table);
    common::rows(
        &connection,
        "SELECT * EXCLUDE (updated_at) FROM t ORDER BY 1",
    )
    .1
}

// ---- 1 ----

pub fn compat_mode_reproduces_the_upstream_fixture<H: Harness>() {
    let mut h = H::start();
    let secrets = h.secrets();
    for syntax in H::SYNTAXES {
        let place = format!("compat_{syntax}");
        let project = fixture_in(&mut h, syntax, "compat", 3, &place, true);
        let progress = succeed(&secrets, &project, &["run", "--full-refresh"]);
        assert!(
            progress.contains(&format!("on {} target `dev`", H::KIND)),
            "{progress}"
        );
        h.after_compat(&project, &place, &progress);
        succeed(&secrets, &project, &["run"]);
        succeed(&secrets, &project, &["run"]);
        let table = scratch("attributes", h.read(&project, &place, ATTRIBUTES));
        let mismatches = common::fixture_differences(&table, "SELECT * FROM attributes ORDER BY 1");
        assert!(
            mismatches.is_empty(),
            "{syntax} syntax, cells that differ:\n{}",
            mismatches.join("\n")
        );
    }
}

// ---- 2, 3, 6, 7 and 8: one warehouse ----

/// One warehouse (one stand-in server) shared by the cases that each need only a place of their
/// own in it: 2 and 3 (which also share one exact run), 6, 7 and 8. Each case locks it while it
/// runs; it is dropped, with its server, once all of them are done. Starting a stand-in and
/// loading the fixture into it is most of such a case's time.
pub struct SharedWarehouse<H> {
    state: Mutex<(usize, Option<Warehouse<H>>)>,
}

pub struct Warehouse<H> {
    pub h: H,
    pub secrets: Vec<String>,
    exact: Option<ExactRun>,
}

/// The fixture's exact run at [`PLACE`], shared by cases 2 and 3.
pub struct ExactRun {
    pub project: TempProject,
    /// The attributes as the run left them.
    pub attributes: Table,
}

impl<H: Harness> SharedWarehouse<H> {
    /// For `users` cases.
    pub const fn new(users: usize) -> SharedWarehouse<H> {
        SharedWarehouse {
            state: Mutex::new((users, None)),
        }
    }

    pub(crate) fn with(&self, case: impl FnOnce(&mut Warehouse<H>)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let warehouse = state.1.get_or_insert_with(|| {
                let h = H::start();
                let secrets = h.secrets();
                Warehouse {
                    h,
                    secrets,
                    exact: None,
                }
            });
            case(warehouse)
        }));
        state.0 -= 1;
        if state.0 == 0 {
            state.1 = None;
        }
        drop(state);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

impl<H: Harness> Warehouse<H> {
    /// The fixture's exact run, run by whichever of cases 2 and 3 comes first.
    fn exact_run(&mut self) -> &ExactRun {
        let (h, secrets) = (&mut self.h, &self.secrets);
        self.exact.get_or_insert_with(|| {
            let project = fixture(h, "exact", 3, PLACE, true);
            // windows also ended by their loaded events (semantics.md 2.1): the fixture's loads
            // (6, 4, 15, 12, 12, 1, 2 a day) in five windows, where DuckDB's reference takes
            // three, then the empty one up to now
            let file = project.path().join("sigbatch.yml");
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(&file, text + "  sigbatch__max_window_events: 12\n").unwrap();
            succeed(secrets, &project, &["run"]);
            let results = project.run_results();
            assert_eq!(
                results["windows"].as_array().unwrap().len(),
                6,
                "{results:#}"
            );
            let attributes = h.read(&project, PLACE, ATTRIBUTES);
            ExactRun {
                project,
                attributes,
            }
        })
    }
}

pub fn exact_mode_equals_duckdb<H: Harness>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| {
        let run = warehouse.exact_run();
        let reference = TempProject::staged("exact", &fixture_group(H::SYNTAXES[0]), &H::vars(3));
        reference.run(false, None, NOW).unwrap();
        let (_, expected) = common::rows(
            &reference.connection(),
            &format!("SELECT * EXCLUDE (updated_at) FROM main_derived.{ATTRIBUTES} ORDER BY 1"),
        );
        let actual = attributes_without_updated_at(run.attributes.clone());
        assert!(expected.len() > 3, "the fixture has several users");
        common::assert_same_rows(H::KIND, &actual, &expected);
        let project = &warehouse.exact.as_ref().unwrap().project;
        warehouse.h.after_exact(project, PLACE);
    });
}

pub fn a_rerun_does_nothing<H: Harness>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| {
        warehouse.exact_run();
        let (h, secrets, run) = (
            &mut warehouse.h,
            &warehouse.secrets,
            warehouse.exact.as_ref().unwrap(),
        );
        let status = succeed(secrets, &run.project, &["status"]);
        assert!(status.contains("watermark"), "{status}");
        let progress = succeed(secrets, &run.project, &["run"]);
        assert!(progress.contains("nothing to do"), "{status}\n{progress}");
        let after = h.read(&run.project, PLACE, ATTRIBUTES);
        assert_eq!(after.0, run.attributes.0, "columns");
        assert_eq!(
            after.1, run.attributes.1,
            "a run with nothing to do changed the attributes"
        );
    });
}

// ---- 4 ----

/// A run stopped after statement k (a failure injected at the `Warehouse` layer, as a crash
/// would leave it), then rerun, reaches the tables of an uninterrupted run: the attributes and
/// the daily aggregates. The fixture in one load window (the backfill limit spans it); the
/// harness says which k (`stops`) and under which transaction rules.
pub fn a_run_stopped_after_statements_then_rerun_reaches_the_uninterrupted_tables<H: Harness>() {
    let h = Mutex::new(H::start());
    let lock = || h.lock().unwrap_or_else(|e| e.into_inner());
    let tables = |project: &TempProject, place: &str| {
        let mut h = lock();
        let attributes = attributes_without_updated_at(h.read(project, place, ATTRIBUTES));
        let daily = scratch("daily", h.read(project, place, DAILY));
        let (_, daily) = common::rows(&daily, "SELECT * FROM daily ORDER BY ALL");
        (attributes, daily)
    };
    for &rules in H::FAULT_RULES {
        let baseline = fixture(&mut *lock(), "exact", 30, "baseline", true);
        let (result, statements) = run_faulty(&baseline, usize::MAX, rules, NOW);
        result.unwrap();
        let expected = tables(&baseline, "baseline");
        lock().release("baseline");
        assert!(
            expected.0.len() > 3 && statements > 30,
            "{statements} statements"
        );
        let stops = H::stops(statements);
        eprintln!(
            "{} {rules:?}: stopping after {} of {statements} statements",
            H::KIND,
            stops.len()
        );
        std::thread::scope(|scope| {
            for worker in 0..H::STOP_WORKERS {
                let (stops, expected, tables, lock) = (&stops, &expected, &tables, &lock);
                scope.spawn(move || {
                    for &allowed in stops.iter().skip(worker).step_by(H::STOP_WORKERS) {
                        let place = format!("crash_{allowed}");
                        let victim = fixture(&mut *lock(), "exact", 30, &place, true);
                        let (result, _) = run_faulty(&victim, allowed, rules, NOW);
                        assert!(
                            result.is_err(),
                            "stopping after {allowed} statements must fail the run"
                        );
                        let (result, _) = run_faulty(&victim, usize::MAX, rules, NOW);
                        result.unwrap_or_else(|e| panic!("rerun after {allowed} statements: {e}"));
                        assert_eq!(
                            &tables(&victim, &place),
                            expected,
                            "{} {rules:?}: stopped after {allowed} of {statements} statements",
                            H::KIND
                        );
                        lock().release(&place);
                    }
                });
            }
        });
    }
}

// ---- 5 ----

/// Two runs of one project never interleave: while a first run (started here) holds the lease,
/// a second exits 4 naming its pid, since when and `--lock-timeout`; a third waits
/// (`--lock-timeout`) and then succeeds, and the lease is released at the end.
pub fn two_concurrent_runs_never_interleave<H: Harness>() {
    let mut h = H::start();
    let secrets = h.secrets();
    let project = h.concurrent_project(PLACE);
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(["run", "--project-dir", project.path().to_str().unwrap()])
        .env("SIGBATCH_NOW", NOW)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let holder = loop {
        if let Some(row) = h.lease(&project, PLACE).filter(|row| row[0].is_some()) {
            break row;
        }
        // a first run that ended without the lease being seen says why
        if first.try_wait().unwrap().is_some() {
            let output = first.wait_with_output().unwrap();
            panic!(
                "the first run ended ({}) before its lease was seen:\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "the first run never took the lease"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(holder[1].as_deref(), Some(first.id().to_string().as_str()));
    let second = sigbatch(&secrets, &project, &["run"]);
    let text = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(4), "{text}");
    assert!(text.contains(&format!("pid {}", first.id())), "{text}");
    assert!(
        text.contains(H::LOCK_REFUSAL) && text.contains("since") && text.contains("--lock-timeout"),
        "{text}"
    );
    let third = sigbatch(&secrets, &project, &["run", "--lock-timeout", "300"]);
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let third_text = String::from_utf8_lossy(&third.stderr).into_owned()
        + &String::from_utf8_lossy(&third.stdout);
    assert!(third.status.success(), "{third_text}");
    assert!(
        third_text.contains("waiting for the run of") || third_text.contains("nothing to do"),
        "{third_text}"
    );
    assert_eq!(
        h.lease(&project, PLACE).and_then(|row| row[0].clone()),
        None,
        "the lease is released"
    );
}

// ---- 6 ----

/// The project reads an events table that does not exist, beside the fixture's (the warehouse
/// is shared: other cases load events into `atomic`).
pub fn a_missing_events_table_is_named_and_nothing_is_written<H: Harness>(
    shared: &SharedWarehouse<H>,
) {
    shared.with(|warehouse| {
        let (h, secrets) = (&mut warehouse.h, &warehouse.secrets);
        let place = "missing";
        let project = TempProject::new(
            "exact",
            &fixture_group(H::SYNTAXES[0]),
            &format!("{}  snowplow__events_table: no_events\n", H::vars(3)),
        );
        let profile = h.profile(&project, place);
        std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
        let output = sigbatch(secrets, &project, &["run"]);
        let text = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(
            text.contains("`atomic.no_events` does not exist") && text.contains("hint:"),
            "{text}"
        );
        assert_eq!(
            h.written_tables(&project, place),
            0,
            "a refused run wrote tables"
        );
    });
}

// ---- 7 ----

pub fn refused_credentials_are_named_without_the_secret<H: Harness>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| refused_credentials(&mut warehouse.h, warehouse.secrets.clone()));
}

fn refused_credentials<H: Harness>(h: &mut H, mut secrets: Vec<String>) {
    let place = "refused";
    let project = fixture(h, "exact", 3, place, true);
    let (profile, refused) = h.refused_profile(&project, place);
    assert!(profile.contains(&refused), "the profile holds the secret");
    std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
    secrets.push(refused);
    let output = sigbatch(&secrets, &project, &["run"]);
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(H::REFUSAL) && text.contains("hint:"),
        "{text}"
    );
    assert_eq!(
        h.written_tables(&project, place),
        0,
        "a refused run wrote tables"
    );
}

// ---- 8 ----

pub fn a_dry_run_writes_nothing<H: Harness>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| dry_run(&mut warehouse.h, &warehouse.secrets));
}

fn dry_run<H: Harness>(h: &mut H, secrets: &[String]) {
    let place = "dry";
    let project = fixture(h, "exact", 3, place, true);
    let dry = sigbatch(secrets, &project, &["run", "--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let statements = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        statements.contains("dry run: nothing was written")
            && statements.contains("-- stage: base_events_this_run"),
        "{statements}"
    );
    assert_eq!(
        h.written_tables(&project, place),
        0,
        "a dry run writes nothing"
    );
    assert!(
        !project.path().join("target/run_results.json").exists(),
        "a dry run wrote an artifact"
    );
    h.after_dry_run(&project, place, &statements);
}

/// Every case of the suite as a test of the binary that calls it with a harness:
/// `scenarios::suite!(Snowflake);`, or `scenarios::suite!(DuckDbFile, without credentials);`
/// for a warehouse that has none to refuse.
macro_rules! suite {
    ($harness:ty) => {
        $crate::scenarios::suite!(@cases $harness, 11; refused_credentials_are_named_without_the_secret, faults_in_transit_leave_the_uninterrupted_tables, a_killed_runs_open_work_is_ended_by_the_next_run, a_workspace_reads_the_events_once_for_its_groups, a_workspace_stream_killed_and_rerun_gives_the_tables_of_separate_runs);
    };
    ($harness:ty, without credentials) => {
        $crate::scenarios::suite!(@cases $harness, 6;);
    };
    (@cases $harness:ty, $users:literal; $($more:ident),*) => {
        static WAREHOUSE: $crate::scenarios::SharedWarehouse<$harness> =
            $crate::scenarios::SharedWarehouse::new($users);

        #[test]
        fn compat_mode_reproduces_the_upstream_fixture() {
            $crate::scenarios::compat_mode_reproduces_the_upstream_fixture::<$harness>();
        }

        #[test]
        fn exact_mode_equals_duckdb() {
            $crate::scenarios::exact_mode_equals_duckdb::<$harness>(&WAREHOUSE);
        }

        #[test]
        fn a_rerun_does_nothing() {
            $crate::scenarios::a_rerun_does_nothing::<$harness>(&WAREHOUSE);
        }

        #[test]
        fn a_run_stopped_after_statements_then_rerun_reaches_the_uninterrupted_tables() {
            $crate::scenarios::a_run_stopped_after_statements_then_rerun_reaches_the_uninterrupted_tables::<$harness>();
        }

        #[test]
        fn two_concurrent_runs_never_interleave() {
            $crate::scenarios::two_concurrent_runs_never_interleave::<$harness>();
        }

        #[test]
        fn a_missing_events_table_is_named_and_nothing_is_written() {
            $crate::scenarios::a_missing_events_table_is_named_and_nothing_is_written::<$harness>(&WAREHOUSE);
        }

        #[test]
        fn a_dry_run_writes_nothing() {
            $crate::scenarios::a_dry_run_writes_nothing::<$harness>(&WAREHOUSE);
        }

        #[test]
        fn compat_mode_orders_stored_values_as_upstream_at_scale() {
            $crate::scenarios::stored_values::compat_mode_orders_stored_values_as_upstream_at_scale::<$harness>(&WAREHOUSE);
        }

        #[test]
        fn the_current_signals_model_equals_duckdb() {
            $crate::scenarios::current_model::the_current_signals_model_equals_duckdb::<$harness>(&WAREHOUSE);
        }

        $(
            #[test]
            fn $more() {
                $crate::scenarios::$more::<$harness>(&WAREHOUSE);
            }
        )*
    };
}
pub(crate) use suite;
