//! A workspace run's `run_results.json`: one entry per group (its status and exit code, and the
//! run it made, exactly as that project's own `target/run_results.json` holds it) and the
//! workspace's overall status and exit code. Its shape is `$defs/workspace_run` in
//! `docs/run_results.schema.json`; [`crate::artifacts::write`] puts it in place.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::outcome::{GroupOutcome, worst_exit_code};
use crate::artifacts::{ErrorInfo, RunResults, Status};
use crate::error::{Error, exit_code};

/// How a group ended: its run's status, or `not_run` when a stop (signal, `--timeout`) came
/// before it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    Success,
    NothingToDo,
    Error,
    Cancelled,
    Timeout,
    NotRun,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Success => "success",
            GroupStatus::NothingToDo => "nothing_to_do",
            GroupStatus::Error => "error",
            GroupStatus::Cancelled => "cancelled",
            GroupStatus::Timeout => "timeout",
            GroupStatus::NotRun => "not_run",
        }
    }
}

impl From<Status> for GroupStatus {
    fn from(status: Status) -> GroupStatus {
        match status {
            Status::Success => GroupStatus::Success,
            Status::NothingToDo => GroupStatus::NothingToDo,
            Status::Error => GroupStatus::Error,
            Status::Cancelled => GroupStatus::Cancelled,
            Status::Timeout => GroupStatus::Timeout,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub name: String,
    pub project_dir: String,
    pub status: GroupStatus,
    pub exit_code: u8,
    /// The group's own `run_results.json`; `None` when it was not run or could not be written.
    pub run_results: Option<String>,
    /// What the group's run did (windows, stage timings, error), as in its own file.
    pub run: Option<RunResults>,
}

impl GroupResult {
    /// A group that ran, with what it left and where, and the code its run alone would have
    /// exited with (not 0 when its artifact could not be written, though the run succeeded).
    pub fn ran(
        name: &str,
        dir: &Path,
        run: RunResults,
        written: Option<PathBuf>,
        code: u8,
    ) -> GroupResult {
        let status = match GroupStatus::from(run.status) {
            GroupStatus::Success | GroupStatus::NothingToDo if code != exit_code::SUCCESS => {
                GroupStatus::Error
            }
            status => status,
        };
        GroupResult {
            name: name.to_string(),
            project_dir: dir.display().to_string(),
            status,
            exit_code: code,
            run_results: written.map(|path| path.display().to_string()),
            run: Some(run),
        }
    }

    /// A group a stop kept from starting, with the stop's exit code.
    pub fn not_run(name: &str, dir: &Path, code: u8) -> GroupResult {
        GroupResult {
            name: name.to_string(),
            project_dir: dir.display().to_string(),
            status: GroupStatus::NotRun,
            exit_code: code,
            run_results: None,
            run: None,
        }
    }

    pub fn outcome(&self) -> GroupOutcome {
        GroupOutcome {
            name: self.name.clone(),
            exit_code: self.exit_code,
            not_run: self.status == GroupStatus::NotRun,
        }
    }
}

/// A shared read of the events (`commands::workspace` runs it before the groups): which groups
/// could read it, its load range, and what it cost once.
#[derive(Debug, Clone, Serialize)]
pub struct SharedReadResult {
    pub groups: Vec<String>,
    /// UTC, lower inclusive, upper exclusive.
    pub lower: String,
    pub upper: String,
    /// Rows copied: the range's events that some group keeps.
    pub events: u64,
    pub duration_seconds: f64,
    pub bytes_processed: Option<u64>,
    pub bytes_billed: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceResults {
    pub invocation_id: String,
    pub sigbatch_version: &'static str,
    /// The workspace file; `None` for projects named by `--project-dir`.
    pub workspace: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    /// `error` when any group failed; `success` when every group succeeded or had nothing to
    /// do and one did something; `cancelled`/`timeout` when a stop ended the invocation.
    pub status: Status,
    /// The worst of the groups' codes (`workspace::worst_exit_code`), or the workspace's own
    /// refusal's.
    pub exit_code: u8,
    /// The workspace's own refusal, or the summary of the groups that failed.
    pub error: Option<ErrorInfo>,
    /// The groups selected, in order.
    pub groups: Vec<GroupResult>,
    /// The reads of the events several groups shared, each paid once.
    pub shared_reads: Vec<SharedReadResult>,
}

/// What a workspace run has done so far.
#[derive(Debug, Clone)]
pub struct WorkspaceRecord {
    invocation_id: uuid::Uuid,
    started_at: DateTime<Utc>,
    file: Option<PathBuf>,
    pub groups: Vec<GroupResult>,
    pub shared_reads: Vec<SharedReadResult>,
}

impl WorkspaceRecord {
    pub fn start(file: Option<&Path>) -> WorkspaceRecord {
        WorkspaceRecord {
            invocation_id: uuid::Uuid::new_v4(),
            started_at: Utc::now(),
            file: file.map(Path::to_path_buf),
            groups: Vec::new(),
            shared_reads: Vec::new(),
        }
    }

    /// The workspace run's id (also what names its shared reads' tables).
    pub fn invocation_id(&self) -> uuid::Uuid {
        self.invocation_id
    }

    /// When the workspace run started (also in its shared reads' table names).
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    pub fn outcomes(&self) -> Vec<GroupOutcome> {
        self.groups.iter().map(GroupResult::outcome).collect()
    }

    /// The artifact of a workspace run that ended with `error`: the summary of its failed
    /// groups, or its own refusal before any group ran.
    pub fn finish(&self, error: Option<&Error>) -> WorkspaceResults {
        let code = match error {
            Some(error) => error.exit_code(),
            None => worst_exit_code(self.groups.iter().map(|g| g.exit_code)),
        };
        let nothing = |g: &GroupResult| g.status == GroupStatus::NothingToDo;
        let status = match code {
            exit_code::CANCELLED => Status::Cancelled,
            exit_code::TIMED_OUT => Status::Timeout,
            exit_code::SUCCESS if self.groups.iter().all(nothing) => Status::NothingToDo,
            exit_code::SUCCESS => Status::Success,
            _ => Status::Error,
        };
        WorkspaceResults {
            invocation_id: self.invocation_id.to_string(),
            sigbatch_version: env!("CARGO_PKG_VERSION"),
            workspace: self.file.as_ref().map(|f| f.display().to_string()),
            started_at: self.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            finished_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            status,
            exit_code: code,
            error: error.map(|error| ErrorInfo {
                message: error.to_string(),
                hint: error.hint().map(str::to_string),
            }),
            groups: self.groups.clone(),
            shared_reads: self.shared_reads.clone(),
        }
    }
}
