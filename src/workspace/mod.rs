//! Workspaces: several projects (one attribute group each) run together by one invocation, as
//! `sigbatch_workspace.yml` lists them or `--project-dir` names them (`file.rs`).
//!
//! A workspace is only a list: each group keeps its own tables, manifests, lock or lease and
//! crash safety, and runs exactly as `sigbatch run --project-dir` would run it, one after the
//! other (`commands::workspace`). What the workspace adds is decided here, before anything
//! runs: which flags mean a workspace rather than one project ([`Scope`]), each group's name
//! (its project's, even when the project does not load), `--select`, and the refusal of two
//! projects that would write the same tables. How the groups' outcomes combine into one exit
//! code and one `run_results.json` is `outcome.rs` and `results.rs`; the one read of the events
//! for several groups is `commands::workspace::shared`, which partitions this list by warehouse
//! and watermark without changing what a group is.

mod file;
mod outcome;
mod results;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use file::{Members, WORKSPACE_FILE};
pub use outcome::{GroupOutcome, summary_error, worst_exit_code};
pub use results::{GroupResult, GroupStatus, SharedReadResult, WorkspaceRecord, WorkspaceResults};

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::project::{PROJECT_FILE, Project};
use crate::render::Tables;

/// What the project flags of a command point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One project, run exactly as before workspaces existed.
    Project(PathBuf),
    Workspace(Source),
}

/// Where a workspace's list of projects comes from (read when the command starts, so that a
/// refusal still leaves a `run_results.json` saying so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A workspace file, or the directory holding one.
    File(PathBuf),
    /// `--project-dir`, repeated (or given once with `--select`).
    Dirs(Vec<PathBuf>),
}

impl Source {
    pub fn members(&self) -> Result<Members> {
        match self {
            Source::File(path) => Members::read(path),
            Source::Dirs(dirs) => Members::from_dirs(dirs),
        }
    }

    /// The workspace file, when there is one (a directory given stands for the file in it).
    pub fn file(&self) -> Option<PathBuf> {
        let Source::File(path) = self else {
            return None;
        };
        Some(if path.is_dir() {
            path.join(WORKSPACE_FILE)
        } else {
            path.clone()
        })
    }

    /// Where the workspace's own `run_results.json` goes by default: `target/` beside the
    /// workspace file (none for projects named by `--project-dir`: each writes its own).
    pub fn artifacts_dir(&self) -> Option<PathBuf> {
        let file = self.file()?;
        Some(file.parent().unwrap_or(Path::new(".")).join("target"))
    }
}

impl Scope {
    /// `--workspace FILE` (or a directory holding one), `--project-dir` given more than once, or
    /// once with `--select`, mean a workspace; one `--project-dir` alone means that project.
    /// With neither flag, `sigbatch_workspace.yml` in `cwd` is the workspace, else `cwd` is the
    /// project (as before); both files there is ambiguous and refused.
    pub fn resolve(
        project_dirs: &[PathBuf],
        workspace: Option<&Path>,
        selecting: bool,
        cwd: &Path,
    ) -> Result<Scope> {
        if let Some(path) = workspace {
            if !project_dirs.is_empty() {
                return Err(Error::invalid(
                    "--workspace",
                    "a workspace file and --project-dir were both given",
                )
                .with_hint("list the projects in the workspace file, or pass only --project-dir"));
            }
            return Ok(Scope::Workspace(Source::File(path.to_path_buf())));
        }
        match project_dirs {
            [dir] if !selecting => Ok(Scope::Project(dir.clone())),
            [] => {
                let file = cwd.join(WORKSPACE_FILE);
                match (file.is_file(), cwd.join(PROJECT_FILE).is_file()) {
                    (true, true) => Err(Error::invalid(
                        format!("`{}`", cwd.display()),
                        format!("holds both {PROJECT_FILE} and {WORKSPACE_FILE}"),
                    )
                    .with_hint(format!(
                        "pass --project-dir . for the project, or --workspace {WORKSPACE_FILE}"
                    ))),
                    (true, false) => Ok(Scope::Workspace(Source::File(file))),
                    (false, _) if selecting => Err(Error::invalid(
                        "--select",
                        format!("no workspace: no {WORKSPACE_FILE} in `{}`", cwd.display()),
                    )
                    .with_hint("pass --workspace FILE, or --project-dir once per project")),
                    (false, _) => Ok(Scope::Project(cwd.to_path_buf())),
                }
            }
            dirs => Ok(Scope::Workspace(Source::Dirs(dirs.to_vec()))),
        }
    }
}

/// How every group of a workspace loads its project: the flags a single project takes, given
/// once for all of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadFlags<'a> {
    pub profiles_dir: Option<&'a Path>,
    pub target: Option<&'a str>,
    pub vars: Option<&'a str>,
}

/// The groups a command runs, selected and checked.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace file, `None` for projects named by `--project-dir`.
    pub file: Option<PathBuf>,
    /// The selected groups, in the order listed.
    pub groups: Vec<Group>,
    /// The workspace file's `shared_read:`; unset, each warehouse's default.
    pub shared_read: Option<bool>,
}

/// One attribute group of a workspace: a project directory and the name it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The project's name (its tables' prefix); for a project that does not load, the name it
    /// would have, else its directory's.
    pub name: String,
    pub dir: PathBuf,
}

/// What loading a group's project found out: its name, and where its tables would be when the
/// project, its plan and its target all load (a group that does not load fails alone when
/// the command reaches it).
struct Probe {
    group: Group,
    tables: Option<(String, BTreeSet<(String, String)>)>,
}

impl Probe {
    fn load(dir: &Path, flags: LoadFlags<'_>) -> Probe {
        let Ok(project) = Project::load(dir, flags.vars) else {
            let name = Project::peek_name(dir).unwrap_or_else(|| {
                dir.file_name()
                    .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into())
            });
            return Probe {
                group: Group {
                    name,
                    dir: dir.to_path_buf(),
                },
                tables: None,
            };
        };
        let tables = Plan::build(&project).ok().and_then(|plan| {
            let target = project.load_target(flags.profiles_dir, flags.target).ok()?;
            let dialect = target.output.kind().dialect();
            let tables = Tables::stored(&plan, dialect.as_ref(), target.output.schema());
            let locations = tables
                .locations()
                .map(|(schema, name)| (schema.to_lowercase(), name.to_lowercase()))
                .collect();
            Some((target.output.store(), locations))
        });
        Probe {
            group: Group {
                name: project.name,
                dir: dir.to_path_buf(),
            },
            tables,
        }
    }
}

impl Workspace {
    /// Reads the list of projects, loads each far enough to name it and place its tables,
    /// refuses two that share a name or a table, and keeps the groups `select` names (all when
    /// empty).
    pub fn load(source: &Source, select: &[String], flags: LoadFlags<'_>) -> Result<Workspace> {
        let members = source.members()?;
        let probes: Vec<Probe> = members
            .dirs
            .iter()
            .map(|dir| Probe::load(dir, flags))
            .collect();
        let origin = match &members.file {
            Some(file) => format!("workspace `{}`", file.display()),
            None => "--project-dir".to_string(),
        };
        check_apart(&probes, &origin)?;
        let names: Vec<&str> = probes.iter().map(|p| p.group.name.as_str()).collect();
        if let Some(unknown) = select.iter().find(|name| !names.contains(&name.as_str())) {
            return Err(Error::invalid(
                "--select",
                format!(
                    "no group named `{unknown}` in {origin}; its groups are `{}`",
                    names.join("`, `")
                ),
            )
            .with_hint(
                "select groups by project name: a project's `name:` in sigbatch.yml, else \
                 `<attribute group>_<version>`",
            ));
        }
        let groups = probes
            .into_iter()
            .map(|probe| probe.group)
            .filter(|group| select.is_empty() || select.contains(&group.name))
            .collect();
        Ok(Workspace {
            file: members.file.clone(),
            groups,
            shared_read: members.shared_read,
        })
    }
}

/// Refuses two groups that would write a table in common, or that share a name (`--select`
/// and the reports tell groups apart by name).
fn check_apart(probes: &[Probe], origin: &str) -> Result<()> {
    for (index, first) in probes.iter().enumerate() {
        for second in &probes[index + 1..] {
            let (a, b) = (&first.group, &second.group);
            let shared = match (&first.tables, &second.tables) {
                (Some((store, mine)), Some((other_store, theirs))) if store == other_store => {
                    mine.intersection(theirs).next()
                }
                _ => None,
            };
            if let Some((schema, table)) = shared {
                return Err(Error::invalid(
                    origin,
                    format!(
                        "the projects in `{}` and `{}` would both write `{schema}.{table}`",
                        a.dir.display(),
                        b.dir.display()
                    ),
                )
                .with_hint(
                    "give one of them a `name:` of its own in its sigbatch.yml, or a target \
                     with another schema",
                ));
            }
            if a.name == b.name {
                return Err(Error::invalid(
                    origin,
                    format!(
                        "the projects in `{}` and `{}` are both named `{}`; a group's name must \
                         be unique in a workspace",
                        a.dir.display(),
                        b.dir.display(),
                        a.name
                    ),
                )
                .with_hint("give one of them a `name:` of its own in its sigbatch.yml"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_project_dir_is_a_project_and_anything_more_a_workspace() {
        let cwd = tempfile::tempdir().unwrap();
        let cwd = cwd.path();
        let (a, b) = (PathBuf::from("a"), PathBuf::from("b"));
        let resolve = |dirs: &[PathBuf], file: Option<&Path>, selecting: bool| {
            Scope::resolve(dirs, file, selecting, cwd)
        };
        assert_eq!(
            resolve(std::slice::from_ref(&a), None, false).unwrap(),
            Scope::Project(a.clone())
        );
        let both = [a.clone(), b.clone()];
        assert_eq!(
            resolve(&both, None, false).unwrap(),
            Scope::Workspace(Source::Dirs(both.to_vec()))
        );
        assert_eq!(
            resolve(std::slice::from_ref(&a), None, true).unwrap(),
            Scope::Workspace(Source::Dirs(vec![a.clone()]))
        );
        let file = Path::new("w.yml");
        assert_eq!(
            resolve(&[], Some(file), false).unwrap(),
            Scope::Workspace(Source::File(file.to_path_buf()))
        );
        assert!(resolve(&[a], Some(file), false).is_err());
    }

    #[test]
    fn without_flags_the_current_directory_decides() {
        let cwd = tempfile::tempdir().unwrap();
        let cwd = cwd.path();
        let resolve = |selecting| Scope::resolve(&[], None, selecting, cwd);
        assert_eq!(resolve(false).unwrap(), Scope::Project(cwd.to_path_buf()));
        assert!(
            resolve(true)
                .unwrap_err()
                .to_string()
                .contains("no workspace")
        );
        std::fs::write(cwd.join(WORKSPACE_FILE), "projects: [a]\n").unwrap();
        assert_eq!(
            resolve(false).unwrap(),
            Scope::Workspace(Source::File(cwd.join(WORKSPACE_FILE)))
        );
        std::fs::write(cwd.join(PROJECT_FILE), "attribute_group: g.json\n").unwrap();
        let error = resolve(false).unwrap_err();
        assert!(error.to_string().contains("holds both"), "{error}");
        assert!(error.hint().unwrap().contains("--project-dir ."));
    }
}
