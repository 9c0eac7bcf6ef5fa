//! Case 13, `a_workspace_reads_the_events_once_for_its_groups` (not on DuckDB, where a place is
//! a file of its own: tests/workspace_shared.rs covers it there): two groups over the same
//! events at one place (the fixture's group, and the same group under another name), run as a
//! workspace in compat mode, read each window's events once (the shared read's table made and
//! dropped on the warehouse), and each gives upstream's expected table after a full refresh and
//! two runs. Exact mode's workspaces, of groups of different keys, are case 14's
//! (`workspace_stream.rs`); the helpers here run a workspace for both.

use serde_json::Value;

use super::network::Networked;
use super::{ATTRIBUTES, SharedWarehouse, fixture, fixture_group, scratch, succeed};
use crate::common::{self, TempProject};

pub fn a_workspace_reads_the_events_once_for_its_groups<H: Networked>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| {
        let (h, secrets) = (&mut warehouse.h, &warehouse.secrets);
        let place = "workspace_compat";
        let compat = workspace_of_two(h, secrets, place, &[true, false, false]);
        for (project, table) in [
            (&compat[0], ATTRIBUTES.to_string()),
            (&compat[1], COPY_ATTRIBUTES.to_string()),
        ] {
            let table = scratch("attributes", h.read(project, place, &table));
            let mismatches =
                common::fixture_differences(&table, "SELECT * FROM attributes ORDER BY 1");
            assert!(
                mismatches.is_empty(),
                "cells that differ:\n{}",
                mismatches.join("\n")
            );
        }
        h.release(place);
    });
}

const COPY_ATTRIBUTES: &str = "fixture_copy_1_attributes";

/// The fixture's group and its copy under another name at `place` (the events loaded once), in
/// compat mode, run as a workspace once per entry of `full_refreshes`; each run must make one
/// shared read for both. Before the second run, two tables are left in the scratch schema as
/// killed runs would leave them: the second run must drop the one whose run started two days
/// ago, and keep the one whose run started an hour ago (it may still be running).
fn workspace_of_two<H: Networked>(
    h: &mut H,
    secrets: &[String],
    place: &str,
    full_refreshes: &[bool],
) -> [TempProject; 2] {
    let first = fixture(h, "compat", 3, place, true);
    let mut group: Value = serde_json::from_str(&fixture_group(H::SYNTAXES[0])).unwrap();
    group["name"] = "fixture_copy".into();
    let copy = TempProject::new("compat", &group.to_string(), &H::vars(3));
    let profile = h.profile(&copy, place);
    std::fs::write(copy.path().join("profiles.yml"), profile).unwrap();
    let projects = [first, copy];
    let mut left = None;
    for (run, full_refresh) in full_refreshes.iter().enumerate() {
        let args: &[&str] = if *full_refresh {
            &["--full-refresh"]
        } else {
            &[]
        };
        if run == 1 {
            left = Some(leave_tables(h, place));
        }
        let (progress, results) = run_workspace(secrets, &projects, args);
        assert!(progress.contains("once for group(s)"), "{progress}");
        if let Some([old, recent]) = left.take() {
            let tables = h.shared_read_tables(place);
            assert!(!tables.contains(&old), "{old} is left: {tables:?}");
            assert!(tables.contains(&recent), "{recent} was dropped: {tables:?}");
            let told = progress.to_lowercase();
            assert!(told.contains(&old), "the drop is not told: {progress}");
            let drop = format!("DROP TABLE {}.{recent}", H::scratch_schema(place));
            h.try_sql(place, &drop).unwrap();
        }
        let read = &results["shared_reads"][0];
        assert_eq!(
            read["groups"].as_array().map(Vec::len),
            Some(2),
            "{results}"
        );
        assert!(read["events"].as_u64().unwrap() > 0, "{results}");
    }
    projects
}

/// Two tables in `place`'s scratch schema named as shared reads' tables of runs that started
/// two days and one hour ago, lower case.
fn leave_tables<H: Networked>(h: &mut H, place: &str) -> [String; 2] {
    let now = chrono::Utc::now();
    [chrono::TimeDelta::days(2), chrono::TimeDelta::hours(1)].map(|ago| {
        let stamp = (now - ago).format("%Y%m%dt%H%M%Sz");
        let name = format!("sigbatch_shared_events_{stamp}_0123456789ab_1");
        let create = format!(
            "CREATE TABLE {}.{name} AS SELECT 1 AS x",
            H::scratch_schema(place)
        );
        h.try_sql(place, &create).unwrap();
        name
    })
}

/// The arguments that run `projects` as one workspace (named by `--project-dir`, `projects[0]`
/// last, as `succeed` adds it), with `args`; its `run_results.json` goes to `artifacts`.
pub fn workspace_args<'a>(
    projects: &'a [TempProject],
    artifacts: &'a std::path::Path,
    args: &[&'a str],
) -> Vec<&'a str> {
    let mut all = vec!["run", "--artifacts-dir", artifacts.to_str().unwrap()];
    for project in &projects[1..] {
        all.extend(["--project-dir", project.path().to_str().unwrap()]);
    }
    all.extend(args);
    all
}

/// `sigbatch run` of `projects` as one workspace, with `args`, which must succeed: its progress
/// and its `run_results.json`.
pub fn run_workspace(
    secrets: &[String],
    projects: &[TempProject],
    args: &[&str],
) -> (String, Value) {
    let artifacts = tempfile::tempdir().unwrap();
    let all = workspace_args(projects, artifacts.path(), args);
    let progress = succeed(secrets, &projects[0], &all);
    let results = std::fs::read_to_string(artifacts.path().join("run_results.json")).unwrap();
    (progress, serde_json::from_str(&results).unwrap())
}
