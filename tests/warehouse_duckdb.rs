//! `sigbatch run` on DuckDB: the scenario suite (tests/scenarios), where the compat case runs the
//! fixture group in all three property syntaxes and the stops case tries every statement under
//! the rules of the other warehouses. DuckDB has no credentials, so the suite runs here without
//! its refused-credentials case. Then what only DuckDB has: a run waiting for the file's lock
//! while a full refresh holds it.

mod common;
mod scenarios;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TempProject, rows};
use scenarios::duckdb_file::{DEMO_VARS, DuckDbFile};

scenarios::suite!(DuckDbFile, without credentials);

fn sigbatch(project: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigbatch"));
    command.args([
        "run",
        "--quiet",
        "--project-dir",
        project.to_str().unwrap(),
        "--until",
        "2025-03-11 00:00:00",
    ]);
    command
        .args(extra)
        .env("SIGBATCH_NOW", "2025-04-01 00:00:00")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn attributes(project: &TempProject) -> Vec<Vec<Option<String>>> {
    let (_, data) = rows(
        &project.connection(),
        "SELECT * EXCLUDE (updated_at) FROM main_derived.demo_web_engagement_1_attributes ORDER BY 1",
    );
    data
}

fn finish(output: Output) -> Output {
    assert!(
        output.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// With `--lock-timeout`, a run waits for a full refresh holding the file, then succeeds; the
/// tables are those the full refresh rebuilt, and the lock note goes with its run.
#[test]
fn a_run_waits_for_a_full_refresh_holding_the_file() {
    let project = TempProject::demo(DEMO_VARS, 200, 10, 7);
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
