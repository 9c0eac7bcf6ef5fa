//! `init --from-api`: groups read by name or from the listing, projects written and kept.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

// ---- init --from-api -------------------------------------------------------------------------

#[test]
fn init_from_api_writes_the_named_group_in_the_target_syntax() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let project_dir = root.path().join("p");
    let p = project_dir.to_str().unwrap();
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "bigquery",
        "--attribute-group-name",
        GROUP,
        "--project-dir",
        p,
    ]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(&format!("attribute group `{GROUP}` v2")),
        "{}",
        stdout(&output)
    );

    // the named group is read by name (the highest version), not picked from the listing
    let requests = server.requests();
    assert_eq!(
        server.calls(),
        [
            format!("GET /api/msc/v1/organizations/{ORG_ID}/credentials/v3/token"),
            format!("GET /api/v1/registry/attribute_groups/{GROUP}"),
        ]
    );
    let token = &requests[0];
    assert_eq!(header(token, "x-api-key-id"), Some(API_KEY_ID));
    assert_eq!(header(token, "x-api-key"), Some(API_KEY));
    assert_eq!(header(token, "authorization"), None);
    let jwt: Value = serde_json::from_str(token["answer"].as_str().unwrap()).unwrap();
    let jwt = jwt["accessToken"].as_str().unwrap();
    let read = &requests[1];
    assert_eq!(read["query"], "property_syntax=bigquery");
    assert_eq!(read["status"], 200);
    assert_eq!(
        header(read, "authorization"),
        Some(format!("Bearer {jwt}").as_str())
    );
    assert_eq!(
        header(read, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(read["body"], "");

    // the group as the API gave it (the highest version), unknown keys kept
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(project_dir.join("attribute_group.json")).unwrap(),
    )
    .unwrap();
    let mut expected = fixture("bigquery");
    expected["version"] = json!(2);
    expected["feast_name"] = json!(format!("{GROUP}_v2"));
    assert_eq!(written, expected);
    let yml = std::fs::read_to_string(project_dir.join("sigbatch.yml")).unwrap();
    assert!(
        yml.contains("attribute_group: attribute_group.json") && yml.contains("semantics: exact"),
        "{yml}"
    );
    let profiles = std::fs::read_to_string(project_dir.join("profiles.yml")).unwrap();
    assert!(
        profiles.contains("type: duckdb") && profiles.contains("path: warehouse.duckdb"),
        "{profiles}"
    );
    // the project it made loads and plans
    let validate = server.run(&["validate", "--project-dir", p], &[]);
    assert_exit(&validate, 0);

    // a chosen version
    let other = root.path().join("v1");
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "snowflake",
        "--attribute-group-name",
        GROUP,
        "--attribute-group-version",
        "1",
        "--project-dir",
        other.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(other.join("attribute_group.json")).unwrap())
            .unwrap();
    assert_eq!(written, fixture("snowflake"));
    let read = server.requests().pop().unwrap();
    assert_eq!(
        read["path"],
        format!("/api/v1/registry/attribute_groups/{GROUP}/versions/1")
    );
    assert_eq!(read["query"], "property_syntax=snowflake");
}

#[test]
fn init_from_api_falls_back_to_the_listing_where_a_group_cannot_be_read_by_name() {
    for status in [404, 405] {
        let server = Server::start();
        server.configure(json!({"refuse_new": status}));
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("p");
        let output = server.sandbox(&[
            "init",
            "--from-api",
            "--target-type",
            "databricks",
            "--attribute-group-name",
            GROUP,
            "--attribute-group-version",
            "1",
            "--project-dir",
            p.to_str().unwrap(),
        ]);
        assert_exit(&output, 0);
        assert_stderr_has(
            &output,
            &[&format!(
                "answered {status}: choosing from the listing instead"
            )],
        );
        let requests = server.requests();
        assert_eq!(
            server.calls(),
            [
                format!("GET /api/v1/registry/attribute_groups/{GROUP}/versions/1"),
                "GET /api/v1/registry/attribute_groups/".to_string(),
            ]
        );
        assert_eq!(requests[0]["status"], status);
        assert_eq!(
            requests[1]["query"],
            "offline=true&property_syntax=databricks"
        );
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("attribute_group.json")).unwrap())
                .unwrap();
        assert_eq!(written, fixture("databricks"));
    }
}

#[test]
fn init_from_api_makes_one_project_per_group_and_keeps_edited_files() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let args = [
        "init",
        "--from-api",
        "--target-type",
        "databricks",
        "--project-dir",
        r,
    ];
    let output = server.bdp(&args);
    assert_exit(&output, 0);
    // the external batch source group is skipped, the other at its highest version
    assert_stderr_has(&output, &["skipped `crm_accounts v1`"]);
    let project_dir = root.path().join(format!("{GROUP}_2"));
    assert!(project_dir.join("sigbatch.yml").is_file());
    let entries: Vec<PathBuf> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries, std::slice::from_ref(&project_dir));

    // again: nothing changed
    let output = server.bdp(&args);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("up to date"),
        "{}",
        stdout(&output)
    );

    // an edited file is kept, and nothing else is written either
    let yml = project_dir.join("sigbatch.yml");
    let edited = std::fs::read_to_string(&yml)
        .unwrap()
        .replace("semantics: exact", "semantics: compat");
    std::fs::write(&yml, &edited).unwrap();
    let group_file = project_dir.join("attribute_group.json");
    std::fs::remove_file(&group_file).unwrap();
    let output = server.bdp(&args);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["sigbatch.yml", "hint: pass --force"]);
    assert_eq!(std::fs::read_to_string(&yml).unwrap(), edited);
    assert!(!group_file.exists(), "a refused init wrote a file");

    // a file init wrote and nobody edited is refreshed (here: compat semantics)
    std::fs::write(
        &yml,
        std::fs::read_to_string(&yml)
            .unwrap()
            .replace("semantics: compat", "semantics: exact"),
    )
    .unwrap();
    let output = server.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "databricks",
        "--project-dir",
        r,
        "--semantics",
        "compat",
    ]);
    assert_exit(&output, 0);
    assert!(
        std::fs::read_to_string(&yml)
            .unwrap()
            .contains("semantics: compat")
    );
    assert!(group_file.is_file());

    // --force replaces an edited file
    std::fs::write(&yml, "# mine\n").unwrap();
    let output = server.bdp(&[&args[..], &["--force"][..]].concat());
    assert_exit(&output, 0);
    assert!(
        std::fs::read_to_string(&yml)
            .unwrap()
            .contains("semantics: exact")
    );
}

#[test]
fn init_from_api_takes_the_target_type_from_the_profile_or_asks_for_it() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("p");
    let args = [
        "init",
        "--from-api",
        "--attribute-group-name",
        GROUP,
        "--project-dir",
        p.to_str().unwrap(),
    ];
    // no profile anywhere (HOME is empty): explained, nothing sent
    let output = server.bdp(&args);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["--target-type", "hint:"]);
    assert!(server.requests().is_empty());

    // a snowflake `sigbatch` profile in ~/.dbt: its syntax, and no DuckDB profile written
    let dbt = server.home.path().join(".dbt");
    std::fs::create_dir_all(&dbt).unwrap();
    std::fs::write(
        dbt.join("profiles.yml"),
        "sigbatch:\n  target: prod\n  outputs:\n    prod:\n      type: snowflake\n      account: xy12345\n      \
         user: LOADER\n      password: pw\n      database: ANALYTICS\n      schema: SIGNALS\n",
    )
    .unwrap();
    let output = server.bdp(&args);
    assert_exit(&output, 0);
    let read = server.requests().pop().unwrap();
    assert_eq!(
        read["path"],
        format!("/api/v1/registry/attribute_groups/{GROUP}")
    );
    assert_eq!(read["query"], "property_syntax=snowflake");
    assert!(!p.join("profiles.yml").exists());
}

#[test]
fn init_from_api_errors_name_what_is_wrong() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("p");
    let p = p.to_str().unwrap();
    let init = |extra: &[&str]| {
        server.bdp(
            &[
                &[
                    "init",
                    "--from-api",
                    "--target-type",
                    "snowflake",
                    "--project-dir",
                    p,
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let output = init(&["--attribute-group-name", "nope"]);
    assert_exit(&output, 2);
    assert_stderr_has(
        &output,
        &[
            "no attribute group `nope`",
            &format!("hint: Signals has: {GROUP}"),
        ],
    );
    // the read by name answered 404; the listing says which groups there are
    assert_eq!(
        server.calls()[1..],
        [
            "GET /api/v1/registry/attribute_groups/nope".to_string(),
            "GET /api/v1/registry/attribute_groups/".to_string(),
        ]
    );
    let output = init(&[
        "--attribute-group-name",
        GROUP,
        "--attribute-group-version",
        "7",
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["has no version 7", "1, 2"]);
    let output = init(&["--attribute-group-name", "crm_accounts"]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["external batch source"]);
    assert!(!Path::new(p).join("sigbatch.yml").exists());

    let empty = Server::with_groups(json!({"snowflake": [], "bigquery": [], "databricks": []}));
    let output = empty.bdp(&[
        "init",
        "--from-api",
        "--target-type",
        "snowflake",
        "--project-dir",
        p,
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, &["no attribute groups available"]);
}
