//! Run artifacts: `run_results.json`, what a `run` did, left behind for schedulers and for the
//! engineer reading it at 3 a.m. Its shape is `docs/run_results.schema.json`.
//!
//! A [`RunRecord`] is started before anything else and filled as the run learns what it runs on
//! (project, target, warehouse, mode) and commits windows; [`RunRecord::finish`] turns it, with
//! the run's outcome, into [`RunResults`], which [`write`] puts in place atomically. Only names
//! and numbers go in: never a setting or a profile (those can hold secrets).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::{Error, Result, exit_code};
use crate::execute::WindowReport;

/// The artifact's file name, in the artifacts directory.
pub const RUN_RESULTS: &str = "run_results.json";

/// Where `run_results.json` goes unless `--artifacts-dir` says otherwise (as dbt's `target/`).
pub fn default_dir(project_dir: &Path) -> PathBuf {
    project_dir.join("target")
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    NothingToDo,
    Error,
    Cancelled,
    /// `--timeout` stopped the run, as SIGTERM would.
    Timeout,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::NothingToDo => "nothing_to_do",
            Status::Error => "error",
            Status::Cancelled => "cancelled",
            Status::Timeout => "timeout",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunResults {
    pub invocation_id: String,
    pub sigbatch_version: &'static str,
    /// The project name; `None` when the run failed before the project loaded.
    pub project: Option<String>,
    pub project_dir: String,
    pub target: Option<String>,
    /// The warehouse kind (`duckdb`, `snowflake`, ...).
    pub warehouse: Option<String>,
    /// `exact` or `compat`.
    pub mode: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub status: Status,
    pub exit_code: u8,
    pub error: Option<ErrorInfo>,
    /// The windows committed, in order; a window that failed is not among them.
    pub windows: Vec<WindowResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowResult {
    /// The load window, UTC, lower bound inclusive, upper exclusive.
    pub lower: String,
    pub upper: String,
    pub label: String,
    pub events: u64,
    pub days_aggregated: u64,
    pub commit_seconds: f64,
    /// Requests the window sent the warehouse (`WindowReport::requests`).
    pub requests: usize,
    pub stages: Vec<StageResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    pub name: String,
    pub duration_seconds: f64,
    pub statements: usize,
    /// The warehouse's ids of the stage's statements (Snowflake query ids); empty where it
    /// reports none (DuckDB).
    pub statement_ids: Vec<String>,
    /// Bytes the stage's statements scanned and were billed for; `null` where unreported.
    pub bytes_processed: Option<u64>,
    pub bytes_billed: Option<u64>,
}

/// What a run has learnt about itself so far.
#[derive(Debug, Clone)]
pub struct RunRecord {
    invocation_id: uuid::Uuid,
    started_at: DateTime<Utc>,
    project_dir: PathBuf,
    pub project: Option<String>,
    pub target: Option<String>,
    pub warehouse: Option<String>,
    pub mode: Option<String>,
    /// The windows committed so far.
    pub windows: Vec<WindowReport>,
}

impl RunRecord {
    pub fn start(project_dir: &Path) -> RunRecord {
        RunRecord {
            invocation_id: uuid::Uuid::new_v4(),
            started_at: Utc::now(),
            project_dir: project_dir.to_path_buf(),
            project: None,
            target: None,
            warehouse: None,
            mode: None,
            windows: Vec::new(),
        }
    }

    /// The run's id: `run_results.json`'s `invocation_id`, and the OpenLineage run id.
    pub fn invocation_id(&self) -> uuid::Uuid {
        self.invocation_id
    }

    /// The artifact of a run that ended with `error` (`None`: it succeeded).
    pub fn finish(&self, error: Option<&Error>) -> RunResults {
        let status = match error {
            None if self.windows.is_empty() => Status::NothingToDo,
            None => Status::Success,
            Some(Error::Cancelled(_)) => Status::Cancelled,
            Some(Error::TimedOut(_)) => Status::Timeout,
            Some(_) => Status::Error,
        };
        RunResults {
            invocation_id: self.invocation_id.to_string(),
            sigbatch_version: env!("CARGO_PKG_VERSION"),
            project: self.project.clone(),
            project_dir: self.project_dir.display().to_string(),
            target: self.target.clone(),
            warehouse: self.warehouse.clone(),
            mode: self.mode.clone(),
            started_at: self.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            finished_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            status,
            exit_code: error.map_or(exit_code::SUCCESS, Error::exit_code),
            error: error.map(|error| ErrorInfo {
                message: error.to_string(),
                hint: error.hint().map(str::to_string),
            }),
            windows: self.windows.iter().map(window_result).collect(),
        }
    }
}

/// A UTC instant as ISO 8601 with a `Z`.
pub fn iso(instant: NaiveDateTime) -> String {
    format!("{}Z", instant.format("%Y-%m-%dT%H:%M:%S%.f"))
}

fn window_result(report: &WindowReport) -> WindowResult {
    WindowResult {
        lower: iso(report.window.lower),
        upper: iso(report.window.upper),
        label: report.label.clone(),
        events: report.events,
        days_aggregated: report.days_processed,
        commit_seconds: report.commit_time.as_secs_f64(),
        requests: report.requests,
        stages: report
            .stages
            .iter()
            .map(|stage| StageResult {
                name: stage.stage.name().to_string(),
                duration_seconds: stage.duration.as_secs_f64(),
                statements: stage.statements,
                statement_ids: stage.statement_ids.clone(),
                bytes_processed: stage.bytes_processed,
                bytes_billed: stage.bytes_billed,
            })
            .collect(),
    }
}

/// Writes `results` (a run's [`RunResults`], or a workspace's) to `dir/run_results.json` atomically and durably (a temporary file, synced,
/// renamed over it), so a reader never sees half a file, nor a crash an empty one; returns the
/// path written. `dir` is created if its parent
/// exists.
pub fn write(dir: &Path, results: &impl Serialize) -> Result<PathBuf> {
    let failed = |e: std::io::Error| {
        Error::file(dir, format!("cannot write {RUN_RESULTS}: {e}"))
            .with_hint("pass --artifacts-dir DIR with a directory sigbatch may write to")
    };
    // one level only: a mistyped --project-dir must not be created to hold the artifact
    if !dir.is_dir() {
        std::fs::create_dir(dir).map_err(failed)?;
    }
    let path = dir.join(RUN_RESULTS);
    let temporary = dir.join(format!(".{RUN_RESULTS}.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(results)
        .map_err(|e| Error::Internal(format!("serializing {RUN_RESULTS}: {e}")))?;
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        std::io::Write::write_all(&mut file, (text + "\n").as_bytes())?;
        // on disk before it replaces the last run's: a crash never leaves an empty artifact
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            failed(e)
        })?;
    // the rename itself, durable
    if let Ok(directory) = std::fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_exit_code_follow_the_outcome() {
        let record = RunRecord::start(Path::new("p"));
        let nothing = record.finish(None);
        assert_eq!(nothing.status, Status::NothingToDo);
        assert_eq!(nothing.exit_code, 0);
        assert!(nothing.error.is_none());
        let locked = record.finish(Some(&Error::Locked {
            message: "held".into(),
            hint: Some("wait".into()),
        }));
        assert_eq!(locked.status, Status::Error);
        assert_eq!(locked.exit_code, 4);
        assert_eq!(locked.error.unwrap().hint.as_deref(), Some("wait"));
        let cancelled = record.finish(Some(&Error::Cancelled("signal".into())));
        assert_eq!(
            (cancelled.status, cancelled.exit_code),
            (Status::Cancelled, 130)
        );
        let timed_out = record.finish(Some(&Error::TimedOut("--timeout 1s".into())));
        assert_eq!(
            (timed_out.status, timed_out.exit_code),
            (Status::Timeout, 124)
        );
    }

    #[test]
    fn write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let record = RunRecord::start(dir.path());
        write(&target, &record.finish(None)).unwrap();
        let path = write(
            &target,
            &record.finish(Some(&Error::Internal("boom".into()))),
        )
        .unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(value["status"], "error");
        assert_eq!(value["error"]["message"], "internal error: boom");
        let names: Vec<_> = std::fs::read_dir(&target).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
