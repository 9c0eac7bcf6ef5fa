//! Case 13, `a_workspace_reads_the_events_once_for_its_groups` (not on DuckDB, where a place is
//! a file of its own: tests/workspace_shared.rs covers it there): two groups over the same
//! events at one place (the fixture's group, and the same group under another name), run as a
//! workspace, read each window's events once (the shared read's table made and dropped on the
//! warehouse). In compat mode each gives upstream's expected table after a full refresh and two
//! runs; in exact mode each gives the tables of case 2's run of the fixture's project alone.

use serde_json::Value;

use super::network::{tables, with_uninterrupted_tables};
use super::{
    ATTRIBUTES, Harness, SharedWarehouse, attributes_without_updated_at, fixture, fixture_group,
    scratch, succeed,
};
use crate::common::{self, TempProject};

pub fn a_workspace_reads_the_events_once_for_its_groups<H: Harness>(shared: &SharedWarehouse<H>) {
    with_uninterrupted_tables(shared, |h, secrets, expected| {
        let compat = workspace_of_two(
            h,
            secrets,
            "compat",
            "workspace_compat",
            &[true, false, false],
        );
        for (project, table) in [
            (&compat[0], ATTRIBUTES.to_string()),
            (&compat[1], COPY_ATTRIBUTES.to_string()),
        ] {
            let table = scratch("attributes", h.read(project, "workspace_compat", &table));
            let mismatches =
                common::fixture_differences(&table, "SELECT * FROM attributes ORDER BY 1");
            assert!(
                mismatches.is_empty(),
                "cells that differ:\n{}",
                mismatches.join("\n")
            );
        }
        let exact = workspace_of_two(h, secrets, "exact", "workspace_exact", &[false]);
        assert_eq!(&tables(h, &exact[0], "workspace_exact"), expected);
        let copy =
            attributes_without_updated_at(h.read(&exact[1], "workspace_exact", COPY_ATTRIBUTES));
        assert_eq!(copy, expected.0);
    });
}

const COPY_ATTRIBUTES: &str = "fixture_copy_1_attributes";

/// The fixture's group and its copy under another name at `place` (the events loaded once),
/// run as a workspace once per entry of `full_refreshes`; each run must make one shared read
/// for both.
fn workspace_of_two<H: Harness>(
    h: &mut H,
    secrets: &[String],
    semantics: &str,
    place: &str,
    full_refreshes: &[bool],
) -> [TempProject; 2] {
    let first = fixture(h, semantics, 3, place, true);
    let mut group: Value = serde_json::from_str(&fixture_group(H::SYNTAXES[0])).unwrap();
    group["name"] = "fixture_copy".into();
    let copy = TempProject::new(semantics, &group.to_string(), &H::vars(3));
    let profile = h.profile(&copy, place);
    std::fs::write(copy.path().join("profiles.yml"), profile).unwrap();
    let artifacts = tempfile::tempdir().unwrap();
    let (copy_dir, artifacts_dir) = (
        copy.path().to_str().unwrap(),
        artifacts.path().to_str().unwrap(),
    );
    for full_refresh in full_refreshes {
        let mut args = vec![
            "run",
            "--project-dir",
            copy_dir,
            "--artifacts-dir",
            artifacts_dir,
        ];
        if *full_refresh {
            args.push("--full-refresh");
        }
        let progress = succeed(secrets, &first, &args);
        assert!(progress.contains("once for group(s)"), "{progress}");
        let results: Value = serde_json::from_str(
            &std::fs::read_to_string(artifacts.path().join("run_results.json")).unwrap(),
        )
        .unwrap();
        let read = &results["shared_reads"][0];
        assert_eq!(
            read["groups"].as_array().map(Vec::len),
            Some(2),
            "{results}"
        );
        assert!(read["events"].as_u64().unwrap() > 0, "{results}");
    }
    [first, copy]
}
