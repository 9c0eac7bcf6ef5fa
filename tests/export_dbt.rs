//! `sigbatch export-dbt` with the real binary, run on real dbt (dbt-core 1.11 and dbt-duckdb
//! 1.11 from `scripts/dbt-venv.sh`, found through `SIGBATCH_DBT`): the compat export reproduces
//! the upstream fixture under upstream's run sequence, the exact export run until caught up
//! equals `sigbatch run`, the Snowflake and BigQuery exports parse in their dialects, and the
//! export is stable, checkable and refuses bad input without writing anything.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TempProject;

const ATTRIBUTES: &str = "main_derived.ecommerce_transaction_interactions_features_1_attributes";

/// `schema.table` of the one table in `schema` whose name ends with `suffix`.
fn table(project: &TempProject, schema: &str, suffix: &str) -> String {
    let name: String = project
        .connection()
        .query_row(
            &format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name LIKE '%{suffix}'"
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    format!("{schema}.{name}")
}

fn sigbatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The dbt executable; these tests need it and fail (never skip) without it.
fn dbt() -> PathBuf {
    match std::env::var_os("SIGBATCH_DBT") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "SIGBATCH_DBT is not set: the export-dbt tests run the export on real dbt. Run them \
             through scripts/test.sh, or first: eval \"$(scripts/dbt-venv.sh)\""
        ),
    }
}

fn export(project: &TempProject, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "export-dbt",
        "--project-dir",
        project.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    sigbatch(&args)
}

fn export_ok(project: &TempProject, out: &Path, extra: &[&str]) {
    let output = export(project, out, extra);
    assert!(
        output.status.success(),
        "export failed: {}",
        stderr(&output)
    );
}

/// A dbt profile for the project's DuckDB file, outside the export.
fn profiles_dir(project: &TempProject) -> PathBuf {
    let dir = project.path().join("dbt_profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("profiles.yml"),
        format!(
            "test:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{}'\n      schema: main\n      threads: 1\n",
            project.database().display()
        ),
    )
    .unwrap();
    dir
}

fn dbt_run(project: &TempProject, export_dir: &Path, full_refresh: bool) {
    dbt_run_at(project, export_dir, full_refresh, None);
}

/// `dbt run`, its "now" pinned to `now` (as `SIGBATCH_NOW` pins `sigbatch run`'s) where given.
fn dbt_run_at(project: &TempProject, export_dir: &Path, full_refresh: bool, now: Option<&str>) {
    let profiles = profiles_dir(project);
    let mut command = Command::new(dbt());
    if let Some(now) = now {
        command.env("SIGBATCH_NOW", now);
    }
    command
        .arg("run")
        .arg("--project-dir")
        .arg(export_dir)
        .arg("--profiles-dir")
        .arg(&profiles)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .current_dir(export_dir);
    if full_refresh {
        command.arg("--full-refresh");
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "dbt run{} failed:\n{}\n{}",
        if full_refresh { " --full-refresh" } else { "" },
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

#[test]
fn compat_export_on_dbt_reproduces_the_upstream_fixture() {
    let project = TempProject::fixture("compat", "snowflake");
    let out = project.path().join("dbt");
    export_ok(&project, &out, &[]);
    dbt_run(&project, &out, true);
    dbt_run(&project, &out, false);
    dbt_run(&project, &out, false);
    let mismatches = common::fixture_differences(
        &project.connection(),
        &format!("SELECT * FROM {ATTRIBUTES} ORDER BY 1"),
    );
    assert!(
        mismatches.is_empty(),
        "cells that differ:\n{}",
        mismatches.join("\n")
    );
}

fn watermark_caught_up(project: &TempProject) -> bool {
    let run_state = table(project, "main_snowplow_manifest", "_sigbatch_run_state");
    project
        .connection()
        .query_row(
            &format!(
                "SELECT (SELECT MAX(watermark) FROM {run_state}) = (SELECT MAX(load_tstamp) FROM atomic.events)"
            ),
            [],
            |r| r.get::<_, Option<bool>>(0),
        )
        .unwrap()
        .unwrap_or(false)
}

/// The exported project, one window per `dbt run`, until its watermark reaches the newest load.
fn dbt_until_caught_up(project: &TempProject, out: &Path, full_refresh: bool) -> usize {
    dbt_until_caught_up_at(project, out, full_refresh, None)
}

fn dbt_until_caught_up_at(
    project: &TempProject,
    out: &Path,
    full_refresh: bool,
    now: Option<&str>,
) -> usize {
    let mut runs = 0;
    let mut first = full_refresh;
    loop {
        dbt_run_at(project, out, first, now);
        first = false;
        runs += 1;
        if watermark_caught_up(project) {
            return runs;
        }
        assert!(runs < 12, "dbt did not catch up in 12 runs");
    }
}

fn attributes_without_updated_at(project: &TempProject) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let attributes = table(project, "main_derived", "_attributes");
    common::rows(
        &project.connection(),
        &format!("SELECT * EXCLUDE (updated_at) FROM {attributes} ORDER BY 1"),
    )
}

fn now() -> String {
    chrono::Utc::now()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[test]
fn exact_export_on_dbt_run_until_caught_up_equals_sigbatch_run() {
    let native = TempProject::fixture("exact", "snowflake");
    native.run(true, None, &now()).unwrap();
    let exported = TempProject::fixture("exact", "snowflake");
    let out = exported.path().join("dbt");
    export_ok(&exported, &out, &[]);
    let runs = dbt_until_caught_up(&exported, &out, true);
    // the fixture's loads span several backfill windows: more than one dbt run was needed
    assert!(runs > 1, "caught up in {runs} run(s)");
    let (names, rows) = attributes_without_updated_at(&exported);
    assert_eq!(
        (names.clone(), rows.clone()),
        attributes_without_updated_at(&native)
    );
    assert_eq!(rows.len(), 9);
    // a run with nothing new changes nothing
    dbt_run(&exported, &out, false);
    assert_eq!((names, rows), attributes_without_updated_at(&exported));
}

/// Loads the events of `native` and `exported` (the same rows) in batches cut at `cuts` (by
/// load time), with `sigbatch run` and the exported project run until caught up in between;
/// after each batch both attributes tables must be equal.
fn assert_batches_equal(native: &TempProject, exported: &TempProject, cuts: &[String]) {
    let out = exported.path().join("dbt");
    export_ok(exported, &out, &[]);
    for project in [native, exported] {
        project
            .connection()
            .execute_batch(
                "CREATE TABLE atomic.all_events AS SELECT * FROM atomic.events; DELETE FROM atomic.events;",
            )
            .unwrap();
    }
    let mut previous = "0001-01-01 00:00:00".to_string();
    let mut cuts = cuts.to_vec();
    cuts.push("9999-01-01 00:00:00".into());
    for (i, cut) in cuts.iter().enumerate() {
        for project in [native, exported] {
            project
                .connection()
                .execute_batch(&format!(
                    "INSERT INTO atomic.events SELECT * FROM atomic.all_events \
                     WHERE load_tstamp >= TIMESTAMP '{previous}' AND load_tstamp < TIMESTAMP '{cut}'"
                ))
                .unwrap();
        }
        previous = cut.clone();
        // one "now" for both: the demo group's time_since attributes count to it
        let at = now();
        native.run(i == 0, None, &at).unwrap();
        dbt_until_caught_up_at(exported, &out, i == 0, Some(&at));
        let (names, rows) = attributes_without_updated_at(exported);
        assert!(!rows.is_empty(), "batch {i}: no attributes");
        assert_eq!(
            (names, rows),
            attributes_without_updated_at(native),
            "after batch {i}"
        );
    }
}

#[test]
fn exact_export_loaded_in_batches_equals_sigbatch_run() {
    // the fixture's events arrive in three batches, by load time, with runs in between
    let native = TempProject::fixture("exact", "snowflake");
    let exported = TempProject::fixture("exact", "snowflake");
    let cuts = [
        "2025-01-03 00:00:00".to_string(),
        "2025-01-05 12:00:00".to_string(),
    ];
    assert_batches_equal(&native, &exported, &cuts);
}

#[test]
fn current_model_export_loaded_in_batches_equals_sigbatch_run() {
    // calculated properties, a key read from an entity and backfill_since_tstamp, through dbt
    let group = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/current-model/attribute_group.json"),
    )
    .unwrap();
    let vars = common::FIXTURE_VARS.replace("backfill_limit_days: 3", "backfill_limit_days: 30");
    let native = TempProject::staged("exact", &group, &vars);
    let exported = TempProject::staged("exact", &group, &vars);
    let cuts = ["2025-01-03 00:00:00".to_string()];
    assert_batches_equal(&native, &exported, &cuts);
}

/// A seeded random stream from the demo generator (late events, duplicate event ids with other
/// contents, visitors without a cookie) over the demo group, which uses every aggregation.
fn demo_project(seed: u64) -> TempProject {
    let vars = "  snowplow__start_date: '2025-03-01'\n  snowplow__backfill_limit_days: 3\n  \
                snowplow__mock_current_day: '2025-03-08'\n";
    TempProject::demo(vars, 25, 6, seed)
}

#[test]
fn exact_export_on_random_streams_loaded_in_batches_equals_sigbatch_run() {
    for seed in [3, 17] {
        let native = demo_project(seed);
        let exported = demo_project(seed);
        // cut at a third and two thirds of the loads
        let cuts: Vec<String> = native
            .connection()
            .prepare(
                "SELECT CAST(quantile_disc(load_tstamp, [0.33, 0.66]) AS VARCHAR[]) FROM atomic.events",
            )
            .unwrap()
            .query_row([], |r| r.get::<_, duckdb::types::Value>(0))
            .map(|value| match value {
                duckdb::types::Value::List(items) => items
                    .into_iter()
                    .map(|item| match item {
                        duckdb::types::Value::Text(text) => text,
                        other => panic!("{other:?}"),
                    })
                    .collect(),
                other => panic!("{other:?}"),
            })
            .unwrap();
        assert_eq!(cuts.len(), 2);
        assert_batches_equal(&native, &exported, &cuts);
    }
}

#[test]
fn dbt_stops_before_any_model_on_changed_vars_and_refused_full_refresh() {
    let project = TempProject::fixture("exact", "snowflake");
    let out = project.path().join("dbt");
    export_ok(&project, &out, &[]);
    let profiles = profiles_dir(&project);
    let run = |args: &[&str]| {
        let output = Command::new(dbt())
            .arg("run")
            .arg("--project-dir")
            .arg(&out)
            .arg("--profiles-dir")
            .arg(&profiles)
            .args(args)
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let changed = run(&["--vars", "{snowplow__backfill_limit_days: 2}"]);
    assert!(
        changed.contains("snowplow__backfill_limit_days") && changed.contains("export-dbt"),
        "{changed}"
    );
    let refused = run(&[
        "--full-refresh",
        "--vars",
        "{snowplow__dev_target_name: prod}",
    ]);
    assert!(refused.contains("snowplow__allow_refresh"), "{refused}");
    // nothing was built
    let built: i64 = project
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema LIKE 'main_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(built, 0);
}

#[test]
fn sigbatch_run_continues_from_the_state_the_export_left() {
    // the export keeps sigbatch's tables and state: a team can switch between the two
    let native = TempProject::fixture("exact", "snowflake");
    native.run(false, None, &now()).unwrap();
    let exported = TempProject::fixture("exact", "snowflake");
    let out = exported.path().join("dbt");
    export_ok(&exported, &out, &[]);
    dbt_run(&exported, &out, false);
    assert!(
        !watermark_caught_up(&exported),
        "one dbt run read every load"
    );
    exported.run(false, None, &now()).unwrap();
    assert_eq!(
        attributes_without_updated_at(&exported),
        attributes_without_updated_at(&native)
    );
}

/// The SQL of a dbt model or macro with its Jinja replaced by plain names and values, one
/// text per branch of `{% if flags.FULL_REFRESH %}`.
fn without_jinja(text: &str) -> Vec<String> {
    let mut plain = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("{{ config(")
            || trimmed.starts_with("{%- set window")
            || trimmed.starts_with("{#")
            || trimmed.starts_with("{%- macro")
            || trimmed.starts_with("{% macro")
            || trimmed.starts_with("{%- endmacro")
            || trimmed.starts_with("{%- do")
        {
            continue;
        }
        plain.push_str(line);
        plain.push('\n');
    }
    let mut out = String::new();
    let mut rest = plain.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let expr = rest[start + 2..end].trim();
        let value = if expr.starts_with("ref(") || expr.starts_with("sigbatch_table(") {
            let name = expr.split('\'').nth(1).unwrap();
            format!("sigbatch_test.{name}")
        } else if expr == "this" {
            "sigbatch_test.this".to_string()
        } else if expr.starts_with("sigbatch_schema(") {
            "sigbatch_test".to_string()
        } else if expr.starts_with("sigbatch_day(") {
            "2025-01-06".to_string()
        } else if expr.starts_with("window.") || expr == "sigbatch_now()" {
            "2025-01-06 00:00:00.000000".to_string()
        } else {
            panic!("unexpected Jinja `{expr}` in\n{text}");
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    match out.split_once("{% if flags.FULL_REFRESH %}") {
        Some((before, branches)) => {
            let (full, rest) = branches.split_once("{% else %}").unwrap();
            let (incremental, after) = rest.split_once("{% endif %}").unwrap();
            vec![
                format!("{before}{full}{after}"),
                format!("{before}{incremental}{after}"),
            ]
        }
        None => vec![out],
    }
}

fn assert_models_parse(dialect_name: &str, parser: &dyn sqlparser::dialect::Dialect) {
    let project = TempProject::fixture("exact", "snowflake");
    for semantics in ["exact", "compat"] {
        std::fs::write(
            project.path().join("sigbatch.yml"),
            std::fs::read_to_string(project.path().join("sigbatch.yml"))
                .unwrap()
                .replace("semantics: exact", &format!("semantics: {semantics}"))
                .replace("semantics: compat", &format!("semantics: {semantics}")),
        )
        .unwrap();
        let out = project
            .path()
            .join(format!("dbt_{dialect_name}_{semantics}"));
        export_ok(&project, &out, &["--dialect", dialect_name]);
        let mut models = 0;
        for dir in ["scratch", "derived", "snowplow_manifest"] {
            for entry in std::fs::read_dir(out.join("models").join(dir)).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                for sql in without_jinja(&text) {
                    sqlparser::parser::Parser::parse_sql(parser, &sql)
                        .unwrap_or_else(|e| panic!("{dialect_name} {semantics}: {e}\n{sql}"));
                }
                models += 1;
            }
        }
        assert!(models >= 12, "{models} models");
        let hooks = std::fs::read_to_string(out.join("macros/sigbatch_hooks.sql")).unwrap();
        for block in hooks.split("{% macro ").skip(1) {
            for sql in without_jinja(&format!("{{% macro {block}")) {
                sqlparser::parser::Parser::parse_sql(parser, &sql)
                    .unwrap_or_else(|e| panic!("{dialect_name} {semantics} hook: {e}\n{sql}"));
            }
        }
    }
}

#[test]
fn snowflake_export_models_parse_as_snowflake() {
    assert_models_parse("snowflake", &sqlparser::dialect::SnowflakeDialect {});
}

#[test]
fn bigquery_export_models_parse_as_bigquery() {
    assert_models_parse("bigquery", &sqlparser::dialect::BigQueryDialect {});
}

#[test]
fn duckdb_export_models_parse_as_duckdb() {
    assert_models_parse("duckdb", &sqlparser::dialect::DuckDbDialect {});
}

/// dbt with the Snowflake and BigQuery adapters (`scripts/dbt-venv.sh`).
fn dbt_adapters() -> PathBuf {
    match std::env::var_os("SIGBATCH_DBT_ADAPTERS") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "SIGBATCH_DBT_ADAPTERS is not set: run the tests through scripts/test.sh, or first: \
             eval \"$(scripts/dbt-venv.sh)\""
        ),
    }
}

#[test]
fn snowflake_and_bigquery_exports_pass_dbt_parse_with_their_adapters() {
    let project = TempProject::fixture("exact", "snowflake");
    let profiles = [
        (
            "snowflake",
            "      type: snowflake\n      account: dummy\n      user: dummy\n      password: dummy\n      database: dummy\n      warehouse: dummy\n      schema: main\n",
        ),
        (
            "bigquery",
            "      type: bigquery\n      method: oauth\n      project: dummy\n      dataset: main\n",
        ),
    ];
    for semantics in ["exact", "compat"] {
        let yml = project.path().join("sigbatch.yml");
        let text = std::fs::read_to_string(&yml).unwrap();
        let text = text
            .replace("semantics: exact", "semantics: SEMANTICS")
            .replace("semantics: compat", "semantics: SEMANTICS")
            .replace("SEMANTICS", semantics);
        std::fs::write(&yml, text).unwrap();
        for (adapter, output) in profiles {
            let out = project.path().join(format!("dbt_{adapter}_{semantics}"));
            export_ok(&project, &out, &["--dialect", adapter]);
            let profiles_dir = project.path().join(format!("profiles_{adapter}"));
            std::fs::create_dir_all(&profiles_dir).unwrap();
            std::fs::write(
                profiles_dir.join("profiles.yml"),
                format!("test:\n  target: dev\n  outputs:\n    dev:\n{output}      threads: 1\n"),
            )
            .unwrap();
            let parsed = Command::new(dbt_adapters())
                .arg("parse")
                .arg("--project-dir")
                .arg(&out)
                .arg("--profiles-dir")
                .arg(&profiles_dir)
                .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
                .current_dir(&out)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&parsed.stdout);
            assert!(
                parsed.status.success() && log.contains(&format!("Registered adapter: {adapter}")),
                "dbt parse of the {adapter} {semantics} export failed:\n{log}\n{}",
                stderr(&parsed)
            );
        }
    }
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn export_is_identical_on_rerun_and_check_names_differing_files() {
    let project = TempProject::fixture("compat", "snowflake");
    let out = project.path().join("dbt");
    export_ok(&project, &out, &[]);
    let first = tree(&out);
    export_ok(&project, &out, &[]);
    assert_eq!(first, tree(&out), "a second export wrote other files");
    let check = export(&project, &out, &["--check"]);
    assert!(check.status.success(), "{}", stderr(&check));

    let model = out
        .join("models/derived/ecommerce_transaction_interactions_features_1_daily_aggregates.sql");
    std::fs::write(&model, "select 1\n").unwrap();
    std::fs::write(out.join("models/scratch/extra.sql"), "select 2\n").unwrap();
    let check = export(&project, &out, &["--check"]);
    assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    let message = stderr(&check);
    assert!(
        message.contains("ecommerce_transaction_interactions_features_1_daily_aggregates.sql")
            && message.contains("models/scratch/extra.sql")
            && message.contains("hint:"),
        "{message}"
    );
    assert!(!message.contains("_attributes.sql"), "{message}");

    // a changed plan is a difference too
    let yml = project.path().join("sigbatch.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace(
            "snowplow__backfill_limit_days: 3",
            "snowplow__backfill_limit_days: 2",
        ),
    )
    .unwrap();
    export_ok(&project, &out, &[]);
    assert!(
        tree(&out)
            .iter()
            .all(|(path, _)| path != "models/scratch/extra.sql")
    );
    std::fs::write(&yml, text).unwrap();
    let check = export(&project, &out, &["--check"]);
    assert_eq!(check.status.code(), Some(2));
    assert!(
        stderr(&check).contains("macros/sigbatch_runtime.sql"),
        "{}",
        stderr(&check)
    );
}

#[test]
fn bad_input_exits_2_with_a_hint_and_writes_nothing() {
    let project = TempProject::fixture("compat", "snowflake");
    let out = project.path().join("dbt");
    let unknown = export(&project, &out, &["--dialect", "oracle"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("`oracle`") && stderr(&unknown).contains("hint:"));
    assert!(!out.exists());

    let file = project.path().join("a_file");
    std::fs::write(&file, "keep me").unwrap();
    let on_file = export(&project, &file, &[]);
    assert_eq!(on_file.status.code(), Some(2));
    assert!(stderr(&on_file).contains("is a file") && stderr(&on_file).contains("hint:"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    let foreign = project.path().join("someone_elses");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let on_foreign = export(&project, &foreign, &[]);
    assert_eq!(on_foreign.status.code(), Some(2));
    assert!(
        stderr(&on_foreign).contains("did not write"),
        "{}",
        stderr(&on_foreign)
    );
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);

    let unchecked = export(&project, &out, &["--check"]);
    assert_eq!(unchecked.status.code(), Some(2));
    assert!(stderr(&unchecked).contains("no export to check"));

    let bad_target = export(&project, &out, &["--target", "nope"]);
    assert_eq!(bad_target.status.code(), Some(2), "{}", stderr(&bad_target));
    assert!(stderr(&bad_target).contains("hint:"));
    assert!(!out.exists());
    // no staging directory is left beside --out
    let leftovers: Vec<_> = std::fs::read_dir(project.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("sigbatch-"))
        .collect();
    assert!(leftovers.is_empty());
}
