//! `sigbatch export-dbt`: the same pipeline as a dbt project.
//!
//! The project is rendered from the plan and dialect `run` uses (`render::render_run`), one
//! model per table a stage writes (`models.rs`), with the run-time half of the state protocol
//! (load window, "now", "today", guards) as macros (`project.rs`). Files are written beside
//! `--out` and renamed into place entry by entry, never moving the user's own (`swap.rs`);
//! `--check` compares instead of writing. Output is a pure function of the project: no
//! timestamps, files in a stable order.

mod jinja;
mod models;
mod project;
mod swap;
mod text;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::commands::ProjectArgs;
use crate::error::{Error, Result};
use crate::project::profiles::WarehouseKind;

/// Marks a directory as an export, which a later export may replace.
const MARKER: &str = ".sigbatch-export";

#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub project: ProjectArgs,
    pub out: PathBuf,
    /// Overrides the target's type.
    pub dialect: Option<String>,
    pub check: bool,
}

/// What `profiles.yml` shows.
#[derive(Debug, Clone)]
pub struct ProfileExample {
    pub kind: WarehouseKind,
    pub target: String,
    pub schema: String,
    pub duckdb_path: String,
}

/// The files of the export, path -> text (no I/O beyond reading the project).
pub fn render(settings: &ExportSettings) -> Result<BTreeMap<String, String>> {
    let (project, plan) = settings.project.load()?;
    let target = settings.project.target(&project);
    if settings.project.target.is_some()
        && let Err(error) = target
    {
        // a target named on the command line must exist
        return Err(match error.hint() {
            Some(_) => error,
            None => {
                error.with_hint("name a target of the project's profile, or leave --target out")
            }
        });
    }
    let (kind, target_name, schema, duckdb_path) = match &target {
        Ok(target) => {
            let path = match target.output.duckdb() {
                Some((path, _)) => relative_to(path, &project.dir, &settings.out),
                None => "warehouse.duckdb".to_string(),
            };
            (
                target.output.kind(),
                target.name.clone(),
                target.output.schema().to_string(),
                path,
            )
        }
        Err(_) => (
            WarehouseKind::DuckDb,
            "dev".to_string(),
            "main".to_string(),
            "warehouse.duckdb".to_string(),
        ),
    };
    let kind = match &settings.dialect {
        Some(name) => WarehouseKind::for_dialect(name)?,
        None => kind,
    };
    let dialect = kind.dialect();
    if !dialect.subquery_predicates() {
        // its deletes are MERGE statements, which the model conversion has no dbt form for
        return Err(Error::Unsupported {
            dialect: dialect.name(),
            feature: "export-dbt yet (run the project with `sigbatch run`)".into(),
        });
    }
    let profile = ProfileExample {
        kind,
        target: target_name,
        schema,
        duckdb_path,
    };
    let mut files = project::files(&project, &plan, dialect.as_ref(), &profile)?;
    files.insert(
        MARKER.into(),
        "written by `sigbatch export-dbt`; a new export replaces this directory's files\n".into(),
    );
    Ok(files)
}

/// The DuckDB file `path` (relative to the project when not absolute) as seen from the export
/// directory `out`, where dbt runs; absolute when no relative path leads there.
fn relative_to(path: &Path, project_dir: &Path, out: &Path) -> String {
    let absolute = |p: &Path| -> Option<PathBuf> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(p)
        };
        // `out` may not exist yet: resolve its parent
        let parent = p.parent()?.canonicalize().ok()?;
        Some(parent.join(p.file_name()?))
    };
    let file = if path.is_absolute() {
        path.to_path_buf()
    } else {
        project_dir.join(path)
    };
    let (Some(file), Some(out)) = (absolute(&file), absolute(out)) else {
        return path.display().to_string();
    };
    let common = file
        .components()
        .zip(out.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in out.components().skip(common) {
        relative.push("..");
    }
    for part in file.components().skip(common) {
        relative.push(part);
    }
    relative.display().to_string()
}

/// Writes the export (or, with `--check`, compares it with what is there).
pub fn export_dbt(settings: &ExportSettings, out: &mut dyn Write) -> Result<()> {
    let io = |e: std::io::Error| Error::Internal(format!("writing output: {e}"));
    check_out_dir(&settings.out, settings.check)?;
    let files = render(settings)?;
    if settings.check {
        let differing = differences(&settings.out, &files);
        if differing.is_empty() {
            writeln!(
                out,
                "{} is up to date ({} files)",
                settings.out.display(),
                files.len()
            )
            .map_err(io)?;
            return Ok(());
        }
        return Err(Error::invalid(
            "--check",
            format!(
                "the export in `{}` differs from what sigbatch writes now: {}",
                settings.out.display(),
                differing
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint("run `sigbatch export-dbt` without --check and commit the result"));
    }
    swap::write_in_place(&settings.out, &files)?;
    writeln!(
        out,
        "wrote a dbt project to {} ({} files)",
        settings.out.display(),
        files.len()
    )
    .map_err(io)?;
    Ok(())
}

fn out_error(out: &Path, message: &str, hint: &str) -> Error {
    Error::invalid("--out", format!("`{}` {message}", out.display())).with_hint(hint.to_string())
}

fn check_out_dir(out: &Path, check: bool) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(out_error(
            out,
            "is a file, not a directory",
            "give a directory for the dbt project (it is created if missing)",
        ));
    }
    if check {
        if !out.join(MARKER).is_file() {
            return Err(out_error(
                out,
                "holds no export to check",
                "run `sigbatch export-dbt --out DIR` first",
            ));
        }
        return Ok(());
    }
    let nonempty = out.is_dir()
        && std::fs::read_dir(out)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true);
    if nonempty && !out.join(MARKER).is_file() {
        return Err(out_error(
            out,
            "is a directory that sigbatch did not write",
            "export into a new or empty directory; sigbatch only replaces its own exports",
        ));
    }
    match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => Err(out_error(
            out,
            "is in a directory that does not exist",
            "create the parent directory first",
        )),
        _ => Ok(()),
    }
}

/// Files that are missing or differ, and files under `models/` and `macros/` that would go.
fn differences(dir: &Path, files: &BTreeMap<String, String>) -> Vec<String> {
    let mut differing: Vec<String> = files
        .iter()
        .filter(|(path, text)| {
            std::fs::read_to_string(dir.join(path)).ok().as_deref() != Some(text.as_str())
        })
        .map(|(path, _)| path.clone())
        .collect();
    for owned in ["models", "macros"] {
        for path in walk(&dir.join(owned)) {
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if !files.contains_key(&relative) {
                differing.push(relative);
            }
        }
    }
    differing.sort();
    differing
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}
