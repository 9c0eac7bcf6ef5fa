//! `plan`, `status`, `compile`, `validate` and `sync` on a workspace: the single-project command
//! on each group under a heading (`-- group` for SQL, `== group ==` for text), or, with
//! `--json`, one object holding every group's answer or error; `plan` adds the shared reads the
//! next run would make (`shared::preview`).

use std::io::Write;

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{Value, json};

use super::shared::{self, PlannedRead};
use super::{Heading, WorkspaceArgs, for_each_group, io};
use crate::commands::{
    self, CompileSettings, PlanSettings, ProjectArgs, SyncSettings, run_plan, status_report,
};
use crate::error::{Error, Result};
use crate::load_window::WindowSettings;
use crate::report::{Event, Level, Reporter};
use crate::signals::Credentials;
use crate::workspace::Workspace;

/// `plan` for every group.
pub fn plan_workspace(
    args: &WorkspaceArgs,
    windows: &WindowSettings,
    json: bool,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let settings = |project: &ProjectArgs| PlanSettings {
        project: project.clone(),
        windows: windows.clone(),
    };
    if json {
        let planned = json!(shared_reads(args, windows, reporter));
        return as_json(
            args,
            "plan",
            Some(("shared_reads", planned)),
            out,
            reporter,
            |project| run_plan(&settings(project)),
        );
    }
    let workspace = args.load()?;
    let result = for_each_group(
        &workspace,
        args,
        Heading::Text,
        out,
        reporter,
        |_, project, out| commands::plan(&settings(project), false, out),
    );
    writeln!(out, "\n== shared reads ==").map_err(io)?;
    let planned = shared_reads(args, windows, reporter);
    if planned.is_empty() {
        writeln!(
            out,
            "none: no two groups over one events table start reading at the same load, or \
             `shared_read` is off (DuckDB's default; `shared_read: true` in the workspace file)"
        )
        .map_err(io)?;
    }
    for read in planned {
        let estimate = read.estimated_bytes.map_or(String::new(), |bytes| {
            format!("; estimated bytes processed: {bytes}")
        });
        writeln!(
            out,
            "groups {}: the events loaded from {} to {} read once{estimate}",
            read.groups.join(", "),
            read.lower,
            read.upper
        )
        .map_err(io)?;
    }
    result
}

/// The shared reads the next run would make; none, with a warning, where that cannot be told.
fn shared_reads(
    args: &WorkspaceArgs,
    windows: &WindowSettings,
    reporter: &mut dyn Reporter,
) -> Vec<PlannedRead> {
    shared::preview(args, windows).unwrap_or_else(|error| {
        reporter.report(Event::Note {
            level: Level::Warn,
            message: &format!("the shared reads of the next run are unknown: {error}"),
        });
        Vec::new()
    })
}

/// `status` for every group.
pub fn status_workspace(
    args: &WorkspaceArgs,
    json: bool,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    if json {
        return as_json(args, "status", None, out, reporter, status_report);
    }
    let workspace = args.load()?;
    for_each_group(
        &workspace,
        args,
        Heading::Text,
        out,
        reporter,
        |_, project, out| commands::status(project, false, out),
    )
}

/// `compile` for every group, each group's statements under an SQL comment naming it.
pub fn compile_workspace(
    args: &WorkspaceArgs,
    dialect: Option<&str>,
    full_refresh: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let workspace = args.load()?;
    for_each_group(
        &workspace,
        args,
        Heading::Sql,
        out,
        reporter,
        |_, project, out| {
            commands::compile(
                &CompileSettings {
                    project: project.clone(),
                    dialect: dialect.map(str::to_string),
                    full_refresh,
                    now,
                },
                out,
            )
        },
    )
}

/// `validate` for every group, then the workspace's own verdict: its groups are named apart
/// and no two write the same table (checked as it loaded).
pub fn validate_workspace(
    args: &WorkspaceArgs,
    now: NaiveDateTime,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let workspace = args.load()?;
    for_each_group(
        &workspace,
        args,
        Heading::Text,
        out,
        reporter,
        |_, project, out| commands::validate(project, now, out),
    )?;
    writeln!(
        out,
        "\nok: {} group(s){}; no two write the same table",
        workspace.groups.len(),
        origin(&workspace)
    )
    .map_err(io)
}

/// `sync` for every group, with the same credentials and owner.
pub fn sync_workspace(
    args: &WorkspaceArgs,
    credentials: &Credentials,
    owner: Option<&str>,
    dry_run: bool,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let workspace = args.load()?;
    for_each_group(
        &workspace,
        args,
        Heading::Text,
        out,
        reporter,
        |_, project, out| {
            commands::sync(
                &SyncSettings {
                    project: project.clone(),
                    credentials: credentials.clone(),
                    owner: owner.map(str::to_string),
                    dry_run,
                },
                out,
            )
        },
    )
}

fn origin(workspace: &Workspace) -> String {
    workspace
        .file
        .as_ref()
        .map_or(String::new(), |file| format!(" in `{}`", file.display()))
}

/// One JSON object, `{"workspace": FILE, "groups": [{"name", "project_dir", KEY, "error"}]}`,
/// with each group's `answer` under `key` (null when it failed, its error then under `error`),
/// and the workspace's own `extra` entry.
fn as_json<T: Serialize>(
    args: &WorkspaceArgs,
    key: &str,
    extra: Option<(&str, Value)>,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
    mut answer: impl FnMut(&ProjectArgs) -> Result<T>,
) -> Result<()> {
    let workspace = args.load()?;
    let mut groups: Vec<Value> = Vec::new();
    let result = for_each_group(
        &workspace,
        args,
        Heading::None,
        out,
        reporter,
        |group, project, _| {
            let mut entry = json!({
                "name": group.name,
                "project_dir": group.dir.display().to_string(),
                key: null,
                "error": null,
            });
            let result = answer(project).and_then(|value| {
                entry[key] = serde_json::to_value(value)
                    .map_err(|e| Error::Internal(format!("{key} as json: {e}")))?;
                Ok(())
            });
            if let Err(error) = &result {
                entry["error"] = json!({ "message": error.to_string(), "hint": error.hint() });
            }
            groups.push(entry);
            result
        },
    );
    let mut document = json!({
        "workspace": workspace.file.as_ref().map(|f| f.display().to_string()),
        "groups": groups,
    });
    if let Some((name, value)) = extra {
        document[name] = value;
    }
    let text = serde_json::to_string_pretty(&document)
        .map_err(|e| Error::Internal(format!("{key} as json: {e}")))?;
    writeln!(out, "{text}").map_err(io)?;
    result
}
