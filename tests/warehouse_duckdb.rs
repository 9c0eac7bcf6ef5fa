//! `sigbatch run` on DuckDB: the scenario suite (tests/scenarios), where the compat case runs the
//! fixture group in all three property syntaxes and the stops case tries every statement under
//! the rules of the other warehouses. DuckDB has no credentials, so the suite runs here without
//! its refused-credentials case. Then what only DuckDB has: a run waiting for the file's lock
//! while a full refresh holds it.

mod common;
mod scenarios;

use std::time::{Duration, Instant};

use common::{demo_attributes as attributes, demo_run as sigbatch, succeeded as finish};
use scenarios::duckdb_file::DuckDbFile;

scenarios::suite!(DuckDbFile, without credentials);

/// With `--lock-timeout`, a run waits for a full refresh holding the file, then succeeds; the
/// tables are those the full refresh rebuilt, and the lock note goes with its run.
#[test]
fn a_run_waits_for_a_full_refresh_holding_the_file() {
    let project = common::demo_project();
    let note = project.path().join("warehouse.duckdb.sigbatch-lock");
    finish(sigbatch(project.path(), &[]).output().unwrap());
    let expected = attributes(&project);
    let rebuild = sigbatch(project.path(), &["--full-refresh"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !note.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let waiting = finish(
        sigbatch(project.path(), &["--lock-timeout", "120"])
            .output()
            .unwrap(),
    );
    finish(rebuild.wait_with_output().unwrap());
    assert!(waiting.status.success());
    assert_eq!(attributes(&project), expected);
    assert!(!note.exists(), "the lock note outlived its run");
}
