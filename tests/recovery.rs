//! Crashes on DuckDB, with the real binary: a run killed with SIGKILL at random moments, or
//! stopped by SIGTERM or `--timeout`, and then rerun reaches the same tables as a run that was
//! never interrupted. (Runs stopped after each statement and two concurrent runs are cases of the
//! scenario suite, tests/warehouse_duckdb.rs.)

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{
    TempProject, demo_attributes as attributes, demo_project as project, demo_run as sigbatch,
    succeeded as finish,
};

fn copy_database(from: &TempProject, to: &TempProject) {
    std::fs::copy(from.database(), to.database()).unwrap();
}

/// An untouched project to copy victims from, how long an uninterrupted run of it takes, and
/// the attributes that run builds.
fn uninterrupted() -> (TempProject, Duration, Vec<Vec<Option<String>>>) {
    let pristine = project();
    let baseline = project();
    copy_database(&pristine, &baseline);
    let started = Instant::now();
    finish(sigbatch(baseline.path(), &[]).output().unwrap());
    (pristine, started.elapsed(), attributes(&baseline))
}

#[test]
fn a_run_killed_at_any_moment_and_rerun_reaches_the_same_tables() {
    let (pristine, full_duration, expected) = uninterrupted();
    assert!(
        expected.len() > 100,
        "the baseline should hold many users, got {}",
        expected.len()
    );

    let mut seed: u64 = 0x5eed;
    let mut killed_mid_run = 0;
    for trial in 0..16 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = full_duration.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0);
        let victim = project();
        copy_database(&pristine, &victim);
        let mut child: Child = sigbatch(victim.path(), &[]).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().ok(); // SIGKILL on unix
        child.wait().unwrap();
        finish(sigbatch(victim.path(), &[]).output().unwrap());
        assert_eq!(
            attributes(&victim),
            expected,
            "trial {trial}: killed after {delay:?}, rerun differs"
        );
    }
    assert!(
        killed_mid_run >= 8,
        "only {killed_mid_run} of 16 kills landed mid-run"
    );
}

/// SIGTERM mid-run: the run stops before its next statement, rolls the window back, leaves
/// `run_results.json` saying `cancelled` (exit code 130), and the next run reaches the tables of
/// an uninterrupted run.
#[test]
fn sigterm_mid_run_cancels_cleanly_and_says_so() {
    let (pristine, full, expected) = uninterrupted();
    let note = |p: &TempProject| p.path().join("warehouse.duckdb.sigbatch-lock");
    let mut cancelled = 0;
    for fraction in [0.5, 0.3, 0.15, 0.05] {
        let victim = project();
        copy_database(&pristine, &victim);
        let child = sigbatch(victim.path(), &[]).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !note(&victim).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(full.mul_f64(fraction));
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let output = child.wait_with_output().unwrap();
        let results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(victim.path().join("target/run_results.json")).unwrap(),
        )
        .unwrap();
        if output.status.code() == Some(130) {
            cancelled += 1;
            assert_eq!(results["status"], "cancelled", "{results}");
            assert_eq!(results["exit_code"], 130);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("cancelled"), "{stderr}");
        } else {
            // finished before the signal: a successful run
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        finish(sigbatch(victim.path(), &[]).output().unwrap());
        assert_eq!(
            attributes(&victim),
            expected,
            "rerun after SIGTERM at {fraction}"
        );
    }
    assert!(
        cancelled >= 2,
        "only {cancelled} of 4 signals landed mid-run"
    );
}

/// `--timeout` stops a run as SIGTERM would, with its own exit code (124) and artifact status
/// (`timeout`); the rerun reaches the tables of an uninterrupted run.
#[test]
fn a_run_past_its_timeout_stops_cleanly_and_says_so() {
    let (pristine, full, expected) = uninterrupted();
    let mut timed_out = 0;
    // 1 ms runs out before the first statement; the other lands somewhere mid-run
    for limit in [Duration::from_millis(1), full.mul_f64(0.4)] {
        let victim = project();
        copy_database(&pristine, &victim);
        let timeout = format!("{}ms", limit.as_millis().max(1));
        let output = sigbatch(victim.path(), &["--timeout", &timeout])
            .output()
            .unwrap();
        let results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(victim.path().join("target/run_results.json")).unwrap(),
        )
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(124) {
            timed_out += 1;
            assert_eq!(results["status"], "timeout", "{results}");
            assert_eq!(results["exit_code"], 124);
            assert!(stderr.contains("timed out"), "{stderr}");
        } else {
            assert!(output.status.success(), "{stderr}");
        }
        finish(sigbatch(victim.path(), &[]).output().unwrap());
        assert_eq!(
            attributes(&victim),
            expected,
            "rerun after --timeout {timeout}"
        );
    }
    assert!(timed_out >= 1, "no run timed out");
}
