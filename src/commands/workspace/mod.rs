//! The commands on a workspace: `run` (`run.rs`), and `plan`, `status`, `compile`, `validate`
//! and `sync` (`views.rs`), each running the single-project command on every selected group in
//! turn.
//!
//! A group is exactly a project run on its own: the same settings, its own connection, lock or
//! lease, artifact and lineage run. One group's failure (a project that does not load, a
//! missing events table, a refused statement) is reported with the group's name and the next
//! group runs; the command then fails with the worst exit code (`workspace::worst_exit_code`).
//! Only a stop (SIGINT/SIGTERM, `--timeout`) keeps the remaining groups from starting.
//!
//! The groups run one after another. Before them, `run` reads once the events that several
//! groups on one warehouse would each read (`shared.rs`); each group's windows inside that
//! read's range take their base events from it.

mod leftovers;
mod run;
mod shared;
mod views;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use run::{WorkspaceRunSettings, run_workspace};
pub use views::{
    compile_workspace, plan_workspace, status_workspace, sync_workspace, validate_workspace,
};

use super::ProjectArgs;
use crate::cancel;
use crate::error::{Error, Result, exit_code};
use crate::report::{Event, Reporter};
use crate::workspace::{Group, GroupOutcome, LoadFlags, Scope, Source, Workspace, summary_error};

/// The project flags of `run`, `plan`, `status`, `compile`, `validate` and `sync`, as given.
#[derive(Debug, Clone, Default)]
pub struct ScopeArgs {
    /// `--project-dir`, each time it was given.
    pub project_dirs: Vec<PathBuf>,
    pub workspace: Option<PathBuf>,
    pub select: Vec<String>,
    pub profiles_dir: Option<PathBuf>,
    pub target: Option<String>,
    pub vars: Option<String>,
}

/// What the flags resolve to: one project, as before workspaces, or a workspace.
#[derive(Debug, Clone)]
pub enum Scoped {
    Project(ProjectArgs),
    Workspace(WorkspaceArgs),
}

impl ScopeArgs {
    /// Resolves the flags (`workspace::Scope::resolve`); `cwd` is where a workspace file is
    /// looked for when no flag names one.
    pub fn resolve(self, cwd: &Path) -> Result<Scoped> {
        let scope = Scope::resolve(
            &self.project_dirs,
            self.workspace.as_deref(),
            !self.select.is_empty(),
            cwd,
        )?;
        Ok(match scope {
            Scope::Project(project_dir) => Scoped::Project(ProjectArgs {
                project_dir,
                profiles_dir: self.profiles_dir,
                target: self.target,
                vars: self.vars,
            }),
            Scope::Workspace(source) => Scoped::Workspace(WorkspaceArgs {
                source,
                select: self.select,
                profiles_dir: self.profiles_dir,
                target: self.target,
                vars: self.vars,
            }),
        })
    }
}

/// A workspace and the flags every group's project loads with.
#[derive(Debug, Clone)]
pub struct WorkspaceArgs {
    pub source: Source,
    /// The groups to take, by name; every group when empty.
    pub select: Vec<String>,
    pub profiles_dir: Option<PathBuf>,
    pub target: Option<String>,
    pub vars: Option<String>,
}

impl WorkspaceArgs {
    /// The selected groups, after the workspace's own checks.
    pub fn load(&self) -> Result<Workspace> {
        Workspace::load(
            &self.source,
            &self.select,
            LoadFlags {
                profiles_dir: self.profiles_dir.as_deref(),
                target: self.target.as_deref(),
                vars: self.vars.as_deref(),
            },
        )
    }

    /// A group's project, as `--project-dir` would name it with the same flags.
    pub fn project_args(&self, dir: &Path) -> ProjectArgs {
        ProjectArgs {
            project_dir: dir.to_path_buf(),
            profiles_dir: self.profiles_dir.clone(),
            target: self.target.clone(),
            vars: self.vars.clone(),
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("writing output: {e}"))
}

/// How a group's output is set apart on stdout.
#[derive(Debug, Clone, Copy)]
enum Heading {
    /// `-- group `name` (dir)`: SQL stays SQL.
    Sql,
    /// `== group `name` (dir) ==`, a blank line before all but the first.
    Text,
    /// Nothing: the command collects the groups into one JSON object.
    None,
}

fn heading(
    out: &mut dyn Write,
    style: Heading,
    index: usize,
    name: &str,
    dir: &Path,
) -> Result<()> {
    let dir = dir.display();
    match style {
        Heading::Sql => writeln!(out, "-- group `{name}` ({dir})"),
        Heading::Text if index == 0 => writeln!(out, "== group `{name}` ({dir}) =="),
        Heading::Text => writeln!(out, "\n== group `{name}` ({dir}) =="),
        Heading::None => Ok(()),
    }
    .map_err(io)
}

/// Runs `command` on each group in turn under its heading, reporting a failure with the
/// group's name and going on to the next; the worst failure ends it (`summary_error`). A stop
/// leaves the groups after it unstarted.
fn for_each_group(
    workspace: &Workspace,
    args: &WorkspaceArgs,
    style: Heading,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
    mut command: impl FnMut(&Group, &ProjectArgs, &mut dyn Write) -> Result<()>,
) -> Result<()> {
    let count = workspace.groups.len();
    let mut outcomes = Vec::new();
    for (index, group) in workspace.groups.iter().enumerate() {
        if cancel::requested() {
            outcomes.push(GroupOutcome {
                name: group.name.clone(),
                exit_code: stop_code(),
                not_run: true,
            });
            continue;
        }
        let started = group_started(reporter, &group.name, &group.dir, index, count);
        heading(out, style, index, &group.name, &group.dir)?;
        let result = command(group, &args.project_args(&group.dir), out);
        let code = result
            .as_ref()
            .err()
            .map_or(exit_code::SUCCESS, Error::exit_code);
        let status = if result.is_ok() { "success" } else { "error" };
        group_finished(reporter, &group.name, status, &result, started);
        outcomes.push(GroupOutcome {
            name: group.name.clone(),
            exit_code: code,
            not_run: false,
        });
    }
    summary_error(&outcomes).map_or(Ok(()), Err)
}

/// The exit code of the stop (signal or `--timeout`) that keeps a group from starting.
fn stop_code() -> u8 {
    cancel::stopped("").exit_code()
}

fn group_started(
    reporter: &mut dyn Reporter,
    name: &str,
    dir: &Path,
    index: usize,
    count: usize,
) -> Instant {
    reporter.report(Event::GroupStarted {
        name,
        index: index + 1,
        count,
        dir: &dir.display().to_string(),
    });
    Instant::now()
}

/// Reports the group's failure, if it failed, while its name still prefixes the lines, then its
/// end.
fn group_finished(
    reporter: &mut dyn Reporter,
    name: &str,
    status: &str,
    result: &Result<()>,
    started: Instant,
) {
    if let Err(error) = result {
        reporter.report(Event::Failed {
            message: &error.to_string(),
            hint: error.hint(),
        });
    }
    reporter.report(Event::GroupFinished {
        name,
        status,
        exit_code: result
            .as_ref()
            .err()
            .map_or(exit_code::SUCCESS, Error::exit_code),
        duration: started.elapsed(),
    });
}
