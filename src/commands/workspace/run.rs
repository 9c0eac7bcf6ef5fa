//! `run` on a workspace: the shared reads of the events first (`shared.rs`), then every
//! selected group's project run in turn, each writing its own `target/run_results.json` as a
//! single run does, and the workspace's `run_results.json` (one entry per group, each shared
//! read once, the overall status and the worst exit code) beside the workspace file.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{WorkspaceArgs, group_finished, group_started, io, shared, stop_code};
use crate::artifacts;
use crate::commands::{RunSettings, run_project};
use crate::error::{Error, Result, exit_code};
use crate::lineage::LineageSettings;
use crate::load_window::WindowSettings;
use crate::report::{Event, Level, Reporter};
use crate::workspace::{GroupOutcome, GroupResult, GroupStatus, WorkspaceRecord, summary_error};

#[derive(Debug, Clone)]
pub struct WorkspaceRunSettings {
    pub workspace: WorkspaceArgs,
    /// The same for every group: one "now", one `--until`.
    pub windows: WindowSettings,
    pub dry_run: bool,
    pub lock_timeout: Duration,
    /// Where the workspace's `run_results.json` goes (`--artifacts-dir`); else `target/` beside
    /// the workspace file; for projects named by `--project-dir`, nowhere. Each group writes
    /// its own in its project's `target/` whatever this says.
    pub artifacts_dir: Option<PathBuf>,
    /// Each group sends its own OpenLineage run, its job named after its project.
    pub lineage: LineageSettings,
}

pub fn run_workspace(
    settings: &WorkspaceRunSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let started = Instant::now();
    let mut record = WorkspaceRecord::start(settings.workspace.source.file().as_deref());
    let result = run_groups(settings, out, reporter, &mut record);
    if settings.dry_run {
        return result;
    }
    let results = record.finish(result.as_ref().err());
    // a workspace refused before any group ran has only its error to say
    if !results.groups.is_empty() {
        reporter.report(Event::WorkspaceFinished {
            status: results.status.as_str(),
            groups: results.groups.len(),
            succeeded: results
                .groups
                .iter()
                .filter(|g| matches!(g.status, GroupStatus::Success | GroupStatus::NothingToDo))
                .count(),
            exit_code: results.exit_code,
            duration: started.elapsed(),
        });
    }
    let dir = settings
        .artifacts_dir
        .clone()
        .or_else(|| settings.workspace.source.artifacts_dir());
    let Some(dir) = dir else {
        return result;
    };
    match (artifacts::write(&dir, &results), result) {
        (Ok(_), result) => result,
        (Err(error), Ok(())) => Err(error),
        (Err(error), Err(failure)) => {
            reporter.report(Event::Note {
                level: Level::Warn,
                message: &error.to_string(),
            });
            Err(failure)
        }
    }
}

/// Runs the groups, noting each one's run in `record`.
fn run_groups(
    settings: &WorkspaceRunSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
    record: &mut WorkspaceRecord,
) -> Result<()> {
    let workspace = settings.workspace.load()?;
    let count = workspace.groups.len();
    if settings.lineage.job_name.is_some() && count > 1 {
        return Err(Error::invalid(
            "--lineage-job-name (SIGBATCH_LINEAGE_JOB_NAME)",
            format!("names one OpenLineage job, and the workspace runs {count} groups"),
        )
        .with_hint("unset it: each group's job is named after its project"));
    }
    let mut shared = if settings.dry_run {
        shared::SharedReads::default()
    } else {
        let invocation = shared::Invocation {
            started: record.started_at(),
            id: record.invocation_id().simple().to_string()[..12].to_string(),
        };
        shared::prepare(&workspace, settings, &invocation, reporter)
    };
    record.shared_reads = shared
        .reads
        .iter()
        .map(|read| read.result.clone())
        .collect();
    let mut outcomes = Vec::new();
    for (index, group) in workspace.groups.iter().enumerate() {
        if crate::cancel::requested() {
            let code = stop_code();
            record
                .groups
                .push(GroupResult::not_run(&group.name, &group.dir, code));
            outcomes.push(GroupOutcome {
                name: group.name.clone(),
                exit_code: code,
                not_run: true,
            });
            continue;
        }
        let started = group_started(reporter, &group.name, &group.dir, index, count);
        let run_settings = RunSettings {
            project: settings.workspace.project_args(&group.dir),
            windows: settings.windows.clone(),
            dry_run: settings.dry_run,
            lock_timeout: settings.lock_timeout,
            artifacts_dir: Some(artifacts::default_dir(&group.dir)),
            lineage: settings.lineage.clone(),
        };
        let mut printed = Vec::new();
        let run = run_project(
            &run_settings,
            &mut printed,
            reporter,
            &|warehouse| warehouse,
            shared.lent(index),
        );
        let text = String::from_utf8_lossy(&printed);
        if settings.dry_run {
            writeln!(out, "-- group `{}` ({})", group.name, group.dir.display()).map_err(io)?;
            out.write_all(text.as_bytes()).map_err(io)?;
        } else {
            for line in text.lines() {
                writeln!(out, "[{}] {line}", group.name).map_err(io)?;
            }
        }
        let code = run
            .result
            .as_ref()
            .err()
            .map_or(exit_code::SUCCESS, Error::exit_code);
        let entry = run
            .results
            .map(|results| GroupResult::ran(&group.name, &group.dir, results, run.written, code));
        let status = match &entry {
            Some(entry) => entry.status.as_str(),
            // a dry run records nothing
            None if code == exit_code::SUCCESS => "success",
            None => "error",
        };
        group_finished(reporter, &group.name, status, &run.result, started);
        outcomes.push(GroupOutcome {
            name: group.name.clone(),
            exit_code: code,
            not_run: false,
        });
        record.groups.extend(entry);
    }
    shared::drop_all(shared, settings, reporter);
    summary_error(&outcomes).map_or(Ok(()), Err)
}
