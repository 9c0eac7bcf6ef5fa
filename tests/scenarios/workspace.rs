//! Case 13, `a_workspace_reads_the_events_once_for_its_groups` (not on DuckDB, where a place is
//! a file of its own: tests/workspace_shared.rs covers it there): two compat groups over the
//! same events at one place (the fixture's group, and the same group under another name), run
//! as a workspace, read each window's events once (the shared read's table made and dropped on
//! the warehouse), and each gives upstream's expected table after a full refresh and two runs.

use serde_json::Value;

use super::{ATTRIBUTES, Harness, SharedWarehouse, fixture, fixture_group, scratch, succeed};
use crate::common::{self, TempProject};

pub fn a_workspace_reads_the_events_once_for_its_groups<H: Harness>(shared: &SharedWarehouse<H>) {
    shared.with(|warehouse| {
        let (h, secrets) = (&mut warehouse.h, &warehouse.secrets);
        let place = "workspace";
        let first = fixture(h, "compat", 3, place, true);
        let mut group: Value = serde_json::from_str(&fixture_group(H::SYNTAXES[0])).unwrap();
        group["name"] = "fixture_copy".into();
        let copy = TempProject::new("compat", &group.to_string(), &H::vars(3));
        let profile = h.profile(&copy, place);
        std::fs::write(copy.path().join("profiles.yml"), profile).unwrap();
        let artifacts = tempfile::tempdir().unwrap();
        let (copy_dir, artifacts_dir) = (
            copy.path().to_str().unwrap(),
            artifacts.path().to_str().unwrap(),
        );
        for full_refresh in [true, false, false] {
            let mut args = vec![
                "run",
                "--project-dir",
                copy_dir,
                "--artifacts-dir",
                artifacts_dir,
            ];
            if full_refresh {
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
        for (project, table) in [
            (&first, ATTRIBUTES.to_string()),
            (&copy, "fixture_copy_1_attributes".to_string()),
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
    });
}
