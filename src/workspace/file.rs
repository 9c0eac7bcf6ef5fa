//! `sigbatch_workspace.yml` and the flags that stand in for it: which project directories a
//! workspace holds, before any of them is loaded. A listed directory without `sigbatch.yml` is
//! refused here, naming the file and the entry, so nothing runs on a workspace that is wrong.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::project::PROJECT_FILE;

/// The workspace file's name, looked for in the current directory when no flag names a project
/// or a workspace.
pub const WORKSPACE_FILE: &str = "sigbatch_workspace.yml";

/// The file's keys; unknown keys are refused rather than ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkspace {
    projects: Vec<String>,
    /// Whether groups over one events table read it once (`commands::workspace`'s shared
    /// read); unset, where the warehouse meters each read (`Dialect::metered_reads`).
    #[serde(default)]
    shared_read: Option<bool>,
}

/// Where a workspace's projects are, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// The workspace file, when the projects came from one; its directory's `target/` holds the
    /// workspace's `run_results.json`.
    pub file: Option<PathBuf>,
    /// Each project's directory, as listed (joined to the file's directory).
    pub dirs: Vec<PathBuf>,
    /// The file's `shared_read:`, if it says.
    pub shared_read: Option<bool>,
}

impl Members {
    /// Reads a workspace file; `path` may also be the directory holding one.
    pub fn read(path: &Path) -> Result<Members> {
        let file = if path.is_dir() {
            path.join(WORKSPACE_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::file(&file, format!("cannot read the workspace file: {e}")).with_hint(format!(
                "pass --workspace pointing at a {WORKSPACE_FILE}, or --project-dir once per project"
            ))
        })?;
        let raw: RawWorkspace = serde_yaml_ng::from_str(&text).map_err(|e| {
            Error::file(&file, format!("malformed workspace file: {e}")).with_hint(
                "a workspace file has `projects:`, the list of project directories relative to \
                 it, and optionally `shared_read: true` or `false`",
            )
        })?;
        if raw.projects.is_empty() {
            return Err(Error::file(&file, "`projects:` lists no project")
                .with_hint("list the directories of the projects to run together"));
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let mut dirs = Vec::new();
        for entry in &raw.projects {
            let dir = base.join(entry);
            if !dir.join(PROJECT_FILE).is_file() {
                return Err(Error::file(
                    &file,
                    format!(
                        "project `{entry}` has no {PROJECT_FILE} (looked in `{}`)",
                        dir.display()
                    ),
                )
                .with_hint(
                    "list directories that hold a sigbatch.yml, relative to the workspace file",
                ));
            }
            dirs.push(dir);
        }
        Ok(Members {
            file: Some(file),
            dirs,
            shared_read: raw.shared_read,
        })
    }

    /// The projects named by `--project-dir`, repeated.
    pub fn from_dirs(dirs: &[PathBuf]) -> Result<Members> {
        for dir in dirs {
            if !dir.join(PROJECT_FILE).is_file() {
                return Err(Error::invalid(
                    "--project-dir",
                    format!("`{}` has no {PROJECT_FILE}", dir.display()),
                )
                .with_hint("pass the directory of each project, or run `sigbatch init` there"));
            }
        }
        Ok(Members {
            file: None,
            dirs: dirs.to_vec(),
            shared_read: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(PROJECT_FILE), "attribute_group: g.json\n").unwrap();
    }

    #[test]
    fn projects_are_relative_to_the_file_and_must_exist() {
        let root = tempfile::tempdir().unwrap();
        project(&root.path().join("users"));
        project(&root.path().join("sessions"));
        let file = root.path().join(WORKSPACE_FILE);
        std::fs::write(&file, "projects:\n  - users\n  - sessions\n").unwrap();
        let members = Members::read(root.path()).unwrap();
        assert_eq!(members.file.as_deref(), Some(file.as_path()));
        assert_eq!(members.shared_read, None);
        std::fs::write(&file, "projects: [users]\nshared_read: false\n").unwrap();
        assert_eq!(Members::read(&file).unwrap().shared_read, Some(false));
        std::fs::write(&file, "projects: [users]\nshared_read: sometimes\n").unwrap();
        let error = Members::read(&file).unwrap_err().to_string();
        assert!(error.contains("shared_read"), "{error}");
        assert_eq!(
            members.dirs,
            vec![root.path().join("users"), root.path().join("sessions")]
        );

        std::fs::write(&file, "projects: [users, customers]\n").unwrap();
        let error = Members::read(&file).unwrap_err().to_string();
        assert!(
            error.contains(WORKSPACE_FILE) && error.contains("`customers`"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_key_or_an_empty_list_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join(WORKSPACE_FILE);
        std::fs::write(&file, "projects: []\nshare: true\n").unwrap();
        let error = Members::read(&file).unwrap_err();
        assert!(error.to_string().contains("`share`"), "{error}");
        assert!(error.hint().unwrap().contains("projects"));
        std::fs::write(&file, "projects: []\n").unwrap();
        let error = Members::read(&file).unwrap_err().to_string();
        assert!(error.contains("lists no project"), "{error}");
    }
}
