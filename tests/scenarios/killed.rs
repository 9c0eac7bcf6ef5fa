//! A run killed (SIGKILL) while its work is open on the warehouse: a transaction holding
//! writes (Snowflake, BigQuery), a statement still running (Databricks). The relay
//! (`common::relay`) holds back the answer to one of its statements while the test kills it.
//! Once its lease has expired, the next run ends what the dead run left open (the lease row
//! lists it), says so, and reaches the uninterrupted tables. Then full refreshes killed at
//! seeded random moments (`Networked::RANDOM_KILLS`, or `SIGBATCH_TEST_RANDOM_KILLS` for a
//! larger sweep), each rerun after its lease expired, reach the same tables.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::network::{Networked, Rows, relay_in_front, tables, with_uninterrupted_tables};
use super::{NOW, SharedWarehouse, fixture, sigbatch};
use crate::common::TempProject;

/// The request the run is killed during: the one holding the daily aggregates' insert (a
/// statement inside the window's transaction, or the script of that transaction).
pub fn inserts_daily_aggregates(sql: &str) -> bool {
    sql.lines().map(str::to_ascii_lowercase).any(|line| {
        line.starts_with("insert into")
            && (line.contains("_daily_aggregates\" (") || line.contains("_daily_aggregates` ("))
    })
}

/// None of `ended` is among the sessions the stand-in at `port` still has open.
pub fn assert_sessions_ended(port: u16, token: &str, ended: &[String]) {
    let mut answer = ureq::get(&format!("http://127.0.0.1:{port}/sigbatch/sessions"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let open: Vec<serde_json::Value> =
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    let open: Vec<String> = open
        .iter()
        .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_string))
        .collect();
    assert!(!ended.is_empty());
    for id in ended {
        assert!(!open.contains(id), "session {id} is still open: {open:?}");
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Suite case: a first run killed mid-window; the next run, once the dead run's lease expired,
/// ends the work the lease row lists and gives the uninterrupted tables.
pub fn a_killed_runs_open_work_is_ended_by_the_next_run<H: Networked>(shared: &SharedWarehouse<H>) {
    with_uninterrupted_tables(shared, |h, secrets, expected| {
        let place = "net_killed";
        let project = fixture(h, "exact", 3, place, true);
        let relay = relay_in_front(&project, H::SEED, 1, |_, _, _| false);
        relay.hold_answer_of(H::KILLED_DURING);
        h.slow_down(Some("_daily_aggregates"));
        let mut child = spawn(&project, &["run"]);
        wait_for(
            "the run reaching its daily aggregates",
            Duration::from_secs(180),
            || relay.holding(),
        );
        // the heartbeat lists what the run has open within a second of its opening
        let mut open = Vec::new();
        wait_for(
            "the lease row listing the run's open work",
            Duration::from_secs(30),
            || {
                open = h.lease_sql(place, "SELECT open_work FROM {lease}")[0][0]
                    .clone()
                    .map(|text| text.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                !open.is_empty()
            },
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        h.slow_down(None);
        // as if the lease's five minutes had passed
        h.lease_sql(
            place,
            "UPDATE {lease} SET expires = since WHERE holder IS NOT NULL",
        );
        let started = Instant::now();
        let output = sigbatch(secrets, &project, &["run"]);
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(0), "{text}");
        let said_ended = |id: &str| {
            text.lines().any(|line| {
                line.contains("expired run lease")
                    && line
                        .split(|c: char| c.is_whitespace() || c == ':' || c == '(')
                        .any(|word| word == id)
            })
        };
        for id in &open {
            assert!(
                said_ended(id),
                "the takeover did not say it ended {id}:\n{text}"
            );
        }
        assert!(text.contains("took over the run lease"), "{text}");
        h.after_takeover(&open);
        assert_eq!(&tables(h, &project, place), expected);
        eprintln!(
            "{}: the run after a killed one ended {open:?} and finished in {took:?}",
            H::KIND
        );
        drop(relay);
        let landed = random_kills(h, secrets, &project, place, took, expected);
        eprintln!("{}: random kills that landed mid-run: {landed}", H::KIND);
    });
}

/// Full refreshes killed after a seeded delay within `run_time`, each rerun once its lease
/// expired; the tables must equal `expected` after each. How many kills landed mid-run.
fn random_kills<H: Networked>(
    h: &mut H,
    secrets: &[String],
    project: &TempProject,
    place: &str,
    run_time: Duration,
    expected: &(Rows, Rows),
) -> usize {
    let trials = std::env::var("SIGBATCH_TEST_RANDOM_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(H::RANDOM_KILLS);
    let mut seed = H::SEED;
    let mut landed = 0;
    for trial in 0..trials {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = run_time.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0);
        let mut child = spawn(project, &["run", "--full-refresh"]);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            landed += 1;
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        h.lease_sql(
            place,
            "UPDATE {lease} SET expires = since WHERE holder IS NOT NULL",
        );
        let output = sigbatch(secrets, project, &["run", "--full-refresh"]);
        let text = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(
            output.status.code(),
            Some(0),
            "trial {trial}, killed after {delay:?}:\n{text}"
        );
        assert_eq!(
            &tables(h, project, place),
            expected,
            "trial {trial}: killed after {delay:?}, the rerun's tables differ"
        );
    }
    landed
}

/// The binary on `project`, its output dropped (it is killed before it could be read).
fn spawn(project: &TempProject, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(args)
        .arg("--project-dir")
        .arg(project.path())
        .env("SIGBATCH_NOW", NOW)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
