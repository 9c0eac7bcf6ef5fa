//! Putting a rendered export in place without touching what the user keeps beside it.
//!
//! The files are written into a staging directory beside `--out`; then each top-level entry
//! sigbatch owns (`dbt_project.yml`, `models/`, `macros/`, ...) is renamed into `--out`: a file
//! replaces the old one in one rename, a directory first moves the old one into a second
//! directory beside `--out`. The user's own entries (`.git`, `target/`, `packages.yml`,
//! `logs/`) are never moved, so no failure or crash can take them with it. An export interrupted
//! midway leaves each owned entry old, new or (a directory) missing, and the marker in place, so
//! the next export may replace them and completes it. A leftover directory is only ever emptied
//! of owned entries; anything else in it is reported, never deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `files` (relative paths to contents) into `out`, replacing the entries they own.
pub(super) fn write_in_place(out: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    swap_with(out, files, &|from, to| std::fs::rename(from, to))
}

/// The directories beside `out` that an export works in.
struct Beside {
    staging: PathBuf,
    previous: PathBuf,
}

impl Beside {
    fn of(out: &Path) -> Result<Beside> {
        let name = out
            .file_name()
            .ok_or_else(|| super::out_error(out, "has no directory name", "give a directory path"))?
            .to_string_lossy()
            .to_string();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Beside {
            staging: parent.join(format!(".{name}.sigbatch-new")),
            previous: parent.join(format!(".{name}.sigbatch-old")),
        })
    }
}

/// The top-level names the export owns.
fn owned_entries(files: &BTreeMap<String, String>) -> Vec<String> {
    let names: BTreeSet<&str> = files
        .keys()
        .map(|path| path.split('/').next().unwrap_or(path))
        .collect();
    names.into_iter().map(str::to_string).collect()
}

fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::file(path, format!("cannot {what}: {e}"))
        .with_hint("check the permissions of the --out directory and its parent")
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn remove(path: &Path) -> Result<()> {
    let removed = if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.map_err(|e| io_error("remove", path, e))
}

/// Empties a leftover of an earlier export of the entries it owns, then removes it; a leftover
/// holding anything else is refused and kept as it is.
fn clear_leftover(dir: &Path, owned: &[String]) -> Result<()> {
    if !exists(dir) {
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(
            Error::file(dir, "is in the way of the export and is not a directory")
                .with_hint("move or remove it; sigbatch only removes what it wrote"),
        );
    }
    for name in owned {
        let entry = dir.join(name);
        if exists(&entry) {
            remove(&entry)?;
        }
    }
    let foreign: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| io_error("read", dir, e))?
        .flatten()
        .map(|entry| format!("`{}`", entry.file_name().to_string_lossy()))
        .collect();
    if !foreign.is_empty() {
        return Err(Error::file(
            dir,
            format!(
                "is left over from an interrupted export and holds entries sigbatch does not \
                 own: {}",
                foreign.join(", ")
            ),
        )
        .with_hint(
            "move them back into the --out directory, remove the leftover, and export again",
        ));
    }
    std::fs::remove_dir(dir).map_err(|e| io_error("remove", dir, e))
}

fn swap_with(
    out: &Path,
    files: &BTreeMap<String, String>,
    rename: &dyn Fn(&Path, &Path) -> io::Result<()>,
) -> Result<()> {
    let beside = Beside::of(out)?;
    let owned = owned_entries(files);
    clear_leftover(&beside.staging, &owned)?;
    clear_leftover(&beside.previous, &owned)?;
    for (path, text) in files {
        let file = beside.staging.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
        }
        std::fs::write(&file, text).map_err(|e| io_error("write", &file, e))?;
    }
    std::fs::create_dir_all(out).map_err(|e| io_error("create", out, e))?;
    std::fs::create_dir_all(&beside.previous)
        .map_err(|e| io_error("create", &beside.previous, e))?;
    for name in &owned {
        let current = out.join(name);
        let fresh = beside.staging.join(name);
        // a file is replaced in one rename; a directory has to make way first
        if current.is_dir() && !current.is_symlink() {
            let aside = beside.previous.join(name);
            rename(&current, &aside).map_err(|e| io_error("move", &current, e))?;
        }
        rename(&fresh, &current).map_err(|e| io_error("move", &fresh, e))?;
    }
    clear_leftover(&beside.staging, &owned)?;
    clear_leftover(&beside.previous, &owned)
}

#[cfg(test)]
mod tests {
    use super::super::MARKER;
    use super::*;
    use std::cell::Cell;
    use std::os::unix::fs::MetadataExt;

    fn export_files(version: &str) -> BTreeMap<String, String> {
        [
            (MARKER, "marker\n"),
            ("dbt_project.yml", "name: demo\n"),
            ("models/a.sql", "select 1\n"),
            ("macros/m.sql", "{% macro m() %}{% endmacro %}\n"),
        ]
        .into_iter()
        .map(|(path, text)| (path.to_string(), format!("{version} {text}")))
        .collect()
    }

    /// The user's entries: a repository, dbt's target and a packages file.
    fn add_user_entries(out: &Path) {
        std::fs::create_dir_all(out.join(".git/objects")).unwrap();
        std::fs::write(out.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(out.join("target")).unwrap();
        std::fs::write(out.join("target/manifest.json"), "{}").unwrap();
        std::fs::write(out.join("packages.yml"), "packages: []\n").unwrap();
    }

    fn user_inodes(out: &Path) -> Vec<u64> {
        [".git", ".git/HEAD", "target/manifest.json", "packages.yml"]
            .iter()
            .map(|p| std::fs::metadata(out.join(p)).unwrap().ino())
            .collect()
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_users_entries_stay_where_they_are_through_an_export() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dbt");
        write_in_place(&out, &export_files("v1")).unwrap();
        add_user_entries(&out);
        let before = user_inodes(&out);
        write_in_place(&out, &export_files("v2")).unwrap();
        assert_eq!(user_inodes(&out), before, "a user entry was moved");
        assert_eq!(read(&out.join("models/a.sql")), "v2 select 1\n");
        assert_eq!(read(&out.join(".git/HEAD")), "ref: refs/heads/main\n");
        let beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(beside.len(), 1, "a working directory was left beside --out");
    }

    #[test]
    fn a_swap_failing_at_any_step_keeps_the_users_files_and_the_next_export_completes() {
        let renames = {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("dbt");
            write_in_place(&out, &export_files("v1")).unwrap();
            let calls = Cell::new(0);
            let counting = |from: &Path, to: &Path| {
                calls.set(calls.get() + 1);
                std::fs::rename(from, to)
            };
            swap_with(&out, &export_files("v2"), &counting).unwrap();
            calls.get()
        };
        assert_eq!(
            renames, 6,
            "two files replaced, two directories moved aside and in"
        );
        for failing in 0..renames {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("dbt");
            write_in_place(&out, &export_files("v1")).unwrap();
            add_user_entries(&out);
            let before = user_inodes(&out);
            let calls = Cell::new(0);
            let flaky = |from: &Path, to: &Path| {
                calls.set(calls.get() + 1);
                if calls.get() == failing + 1 {
                    return Err(io::Error::other("device or resource busy"));
                }
                std::fs::rename(from, to)
            };
            let failed = swap_with(&out, &export_files("v2"), &flaky);
            assert!(failed.is_err(), "step {failing} did not fail");
            assert_eq!(
                user_inodes(&out),
                before,
                "step {failing} moved a user entry"
            );
            assert!(out.join(MARKER).is_file(), "step {failing} lost the marker");

            write_in_place(&out, &export_files("v2")).unwrap();
            for (path, text) in export_files("v2") {
                assert_eq!(read(&out.join(&path)), text, "step {failing}: {path}");
            }
            assert_eq!(user_inodes(&out), before);
        }
    }

    #[test]
    fn a_leftover_holding_foreign_entries_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dbt");
        write_in_place(&out, &export_files("v1")).unwrap();
        // what an older sigbatch could leave: the user's repository inside the staging directory
        let staging = dir.path().join(".dbt.sigbatch-new");
        std::fs::create_dir_all(staging.join(".git")).unwrap();
        std::fs::write(staging.join(".git/HEAD"), "ref\n").unwrap();
        std::fs::create_dir_all(staging.join("models")).unwrap();
        let error = write_in_place(&out, &export_files("v2")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(".dbt.sigbatch-new") && message.contains("`.git`"),
            "{message}"
        );
        assert!(error.hint().is_some_and(|h| h.contains("move them back")));
        assert_eq!(read(&staging.join(".git/HEAD")), "ref\n");
        assert_eq!(read(&out.join("models/a.sql")), "v1 select 1\n");
    }
}
