//! `init --from-api`: projects made from the attribute groups Signals serves.
//!
//! One project for the group named (in `--project-dir`; read by name, and version if given), or
//! one per group of the listing under `--project-dir` (`<name>_<version>/`). Running it again
//! refreshes the files it wrote, but never a file the user changed since: `.sigbatch-init.json`
//! keeps the SHA-256 of each file as written, and a file whose content is neither that nor what
//! would be written now is left alone unless `--force`. Every file is checked before any is
//! written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::setup::{duckdb_profile, project_yaml};
use crate::error::{Error, Result};
use crate::project::profiles::{WarehouseKind, find_profiles_file, load_target};
use crate::project::{AttributeGroup, PROJECT_FILE};
use crate::report::{Event, Level, Reporter};
use crate::signals::{Client, Credentials, GroupSelection, Request, select_groups};

const MANIFEST: &str = ".sigbatch-init.json";
const PROFILE: &str = "sigbatch";

#[derive(Debug, Clone)]
pub struct InitFromApiSettings {
    /// The project directory when a group is named, else the root of one directory per group.
    pub project_dir: PathBuf,
    pub credentials: Credentials,
    /// The warehouse the properties are written for; else the profile's type.
    pub target_type: Option<String>,
    pub selection: GroupSelection,
    pub semantics: String,
    /// The DuckDB file of the profile written when no `sigbatch` profile resolves.
    pub database: String,
    pub profiles_dir: Option<PathBuf>,
    pub force: bool,
}

/// The warehouse type of the `sigbatch` profile `dir` would use, if one resolves.
fn profile_type(profiles_dir: Option<&Path>, dir: &Path) -> Option<String> {
    let file = find_profiles_file(profiles_dir, dir).ok()?;
    let target = load_target(&file, PROFILE, None, dir).ok()?;
    Some(target.output.kind().to_string())
}

fn target_type(settings: &InitFromApiSettings) -> Result<String> {
    let hint = format!(
        "pass --target-type {} (any of them runs on DuckDB)",
        WarehouseKind::joined(&WarehouseKind::SIGNALS, "|")
    );
    let (name, source) = match &settings.target_type {
        Some(name) => (name.clone(), "--target-type"),
        None => match profile_type(settings.profiles_dir.as_deref(), &settings.project_dir) {
            Some(kind) => (kind, "the `sigbatch` profile's type"),
            None => {
                return Err(Error::invalid(
                    "--target-type",
                    "not given, and no `sigbatch` profile resolves to take it from",
                )
                .with_hint(hint));
            }
        },
    };
    if WarehouseKind::from_name(&name).is_some_and(WarehouseKind::is_signals_target) {
        return Ok(name);
    }
    Err(Error::invalid(
        "--target-type",
        format!(
            "{source} is `{name}`; Signals writes properties for {}",
            WarehouseKind::listed(&WarehouseKind::SIGNALS, "or")
        ),
    )
    .with_hint(hint))
}

/// What happens to one file.
#[derive(Debug, PartialEq)]
enum Change {
    Create,
    Unchanged,
    /// Written by an earlier `init` and not edited since.
    Update,
    /// Edited, or not ours: only with `--force`.
    Overwrite,
}

fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_manifest(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join(MANIFEST))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn change(dir: &Path, file: &str, text: &str, manifest: &BTreeMap<String, String>) -> Change {
    match std::fs::read_to_string(dir.join(file)) {
        Err(_) if !dir.join(file).exists() => Change::Create,
        Ok(existing) if existing == text => Change::Unchanged,
        Ok(existing) if manifest.get(file) == Some(&digest(&existing)) => Change::Update,
        _ => Change::Overwrite,
    }
}

struct Planned {
    dir: PathBuf,
    group: AttributeGroup,
    files: Vec<(&'static str, String, Change)>,
}

pub fn init_from_api(
    settings: &InitFromApiSettings,
    out: &mut dyn Write,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let mut warn = |message: String| {
        reporter.report(Event::Note {
            level: Level::Warn,
            message: &message,
        })
    };
    if !matches!(settings.semantics.as_str(), "exact" | "compat") {
        return Err(Error::invalid(
            "--semantics",
            format!("`{}` is neither exact nor compat", settings.semantics),
        ));
    }
    if settings.selection.version.is_some() && settings.selection.name.is_none() {
        return Err(
            Error::invalid("--attribute-group-version", "needs --attribute-group-name")
                .with_hint("name the group whose version you want"),
        );
    }
    let syntax = target_type(settings)?;
    let mut client = Client::new(settings.credentials.clone());
    let answer = read_groups(&mut client, &settings.selection, &syntax, &mut warn)?;
    let (groups, skipped) = select_groups(&answer, &settings.selection)?;
    for name in &skipped {
        warn(format!(
            "skipped `{name}`: no attributes (an external batch source)"
        ));
    }
    let mut planned = Vec::new();
    for remote in groups {
        let text = serde_json::to_string_pretty(&remote.json).expect("JSON serialises") + "\n";
        let group = match AttributeGroup::from_json(&text) {
            Ok(group) => group,
            Err(error) if settings.selection.name.is_none() => {
                warn(format!(
                    "skipped `{}` v{}: {error}",
                    remote.name, remote.version
                ));
                continue;
            }
            Err(error) => {
                return Err(Error::invalid(
                    format!(
                        "attribute group `{}` v{} from the API",
                        remote.name, remote.version
                    ),
                    error.to_string(),
                ));
            }
        };
        let dir = match settings.selection.name {
            Some(_) => settings.project_dir.clone(),
            None => settings
                .project_dir
                .join(format!("{}_{}", remote.name, remote.version)),
        };
        let mut files = vec![
            ("attribute_group.json", text),
            (PROJECT_FILE, project_yaml(&group, &settings.semantics)),
        ];
        let manifest = read_manifest(&dir);
        let ours = manifest.contains_key("profiles.yml");
        if ours || profile_type(settings.profiles_dir.as_deref(), &dir).is_none() {
            files.push(("profiles.yml", duckdb_profile(&settings.database)));
        }
        let files = files
            .into_iter()
            .map(|(name, text)| {
                let change = change(&dir, name, &text, &manifest);
                (name, text, change)
            })
            .collect();
        planned.push(Planned { dir, group, files });
    }
    if planned.is_empty() {
        return Err(
            Error::invalid("signals", "none of the attribute groups can be computed")
                .with_hint("see the lines above for why each was skipped"),
        );
    }
    let edited: Vec<String> = planned
        .iter()
        .flat_map(|p| {
            p.files
                .iter()
                .filter(|(_, _, change)| *change == Change::Overwrite)
                .map(|(name, ..)| p.dir.join(name).display().to_string())
        })
        .collect();
    if !edited.is_empty() && !settings.force {
        return Err(Error::invalid(
            "init",
            format!("not overwriting files changed since `sigbatch init` wrote them (or not written by it): {}", edited.join(", ")),
        )
        .with_hint("pass --force to replace them, or choose another --project-dir"));
    }
    for project in &planned {
        write_project(project)?;
        let changed: Vec<&str> = project
            .files
            .iter()
            .filter(|(_, _, change)| *change != Change::Unchanged)
            .map(|(name, ..)| *name)
            .collect();
        let dir = project.dir.display();
        let group = &project.group;
        let what = format!(
            "attribute group `{}` v{} ({} attributes, {syntax} syntax)",
            group.name,
            group.version,
            group.attributes.len()
        );
        if changed.is_empty() {
            writeln!(out, "{dir}: up to date with {what}")
        } else {
            writeln!(out, "{dir}: wrote {} for {what}", changed.join(", "))
        }
        .map_err(|e| Error::Internal(format!("writing output: {e}")))?;
    }
    writeln!(
        out,
        "next: load events, then `sigbatch run --project-dir DIR` and `sigbatch sync --project-dir DIR`"
    )
    .map_err(|e| Error::Internal(format!("writing output: {e}")))
}

/// What the groups are chosen from: the named group as `GET .../attribute_groups/{name}`
/// (`/versions/{v}`) answers it, as a one-group list; the listing when no group is named, or
/// when that call answers 404 or 405 (an older API, or no such group: the listing then says
/// which groups there are).
fn read_groups(
    client: &mut Client,
    selection: &GroupSelection,
    syntax: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Value> {
    if let Some(name) = &selection.name {
        let get = Request::get_group(name, selection.version, Some(syntax));
        match client.send(&get) {
            Ok(group) => return Ok(Value::Array(vec![group])),
            Err(failure) if matches!(failure.status, Some(404 | 405)) => warn(format!(
                "`{}` answered {}: choosing from the listing instead",
                get.call(),
                failure.status.unwrap_or_default()
            )),
            Err(failure) => return Err(failure.error),
        }
    }
    Ok(client.send(&Request::list_groups(Some(syntax)))?)
}

fn write_project(project: &Planned) -> Result<()> {
    let dir = &project.dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    let mut manifest = read_manifest(dir);
    for (name, text, change) in &project.files {
        if *change != Change::Unchanged {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| Error::file(&path, format!("cannot write: {e}")))?;
        }
        manifest.insert(name.to_string(), digest(text));
    }
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).expect("JSON serialises") + "\n";
    std::fs::write(&path, text).map_err(|e| Error::file(&path, format!("cannot write: {e}")))
}
