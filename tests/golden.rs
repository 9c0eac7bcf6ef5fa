//! Golden SQL per dialect: the full first-run SQL for the fixture's attribute group, in both
//! modes, as insta snapshots, so any change in generated SQL shows up in review. Every statement
//! is also parsed back with sqlparser in its dialect.

mod common;

use chrono::NaiveDate;
use sigbatch::dag::Stage;
use sigbatch::dialect;
use sigbatch::plan::Plan;
use sigbatch::project::Project;
use sigbatch::render::{self, LoadWindow, RunSpec, Tables};

fn plan(semantics: &str, syntax: &str) -> Plan {
    let group = std::fs::read_to_string(
        common::fixture_dir().join(format!("attribute_group.{syntax}.json")),
    )
    .unwrap();
    let project = common::TempProject::new(semantics, &group, common::FIXTURE_VARS);
    Plan::build(&Project::load(project.path(), None).unwrap()).unwrap()
}

fn compiled(semantics: &str, dialect_name: &str) -> String {
    let dialect = dialect::for_name(dialect_name).unwrap();
    let now = common::timestamp("2025-01-10 12:00:00");
    sigbatch::commands::compile_sql(
        &plan(semantics, "snowflake"),
        dialect.as_ref(),
        "main",
        true,
        now,
    )
    .unwrap()
}

/// Exact mode's attributes stage in a later run, after "today" moved by a day: only the keys
/// pending from changed daily rows and the keys with rows on dates that entered or left a
/// period window are recomputed, and only rows whose values changed are replaced. With
/// `attributes_only` (nothing loaded, nothing pending), the lifetime outputs are copied from the
/// stored rows.
fn incremental_attributes(dialect_name: &str, attributes_only: bool) -> String {
    let dialect = dialect::for_name(dialect_name).unwrap();
    let plan = plan("exact", "snowflake");
    let tables = Tables::new(&plan, dialect.as_ref(), "main");
    let lower = common::timestamp("2025-01-06 00:00:00");
    let window = LoadWindow {
        lower,
        upper: common::timestamp("2025-01-07 00:00:00"),
    };
    let now = common::timestamp("2025-01-07 00:10:00");
    let mut spec = RunSpec::rebuild(
        window,
        false,
        now,
        NaiveDate::from_ymd_opt(2025, 1, 7).unwrap(),
    );
    spec.stored_period_end = NaiveDate::from_ymd_opt(2025, 1, 6);
    // a run state was found: setup is skipped, as a real incremental run does
    spec.stored_tables_exist = true;
    spec.attributes_only = attributes_only;
    spec.lifetime_unchanged = attributes_only;

    render::render_run(&plan, dialect.as_ref(), &tables, &spec)
        .unwrap()
        .into_iter()
        .filter(|s| s.stage == Stage::Attributes)
        .map(|s| format!("{};\n\n", s.sql))
        .collect()
}

#[test]
fn golden_sql_incremental_attributes() {
    for name in ["duckdb", "snowflake", "bigquery", "databricks"] {
        insta::assert_snapshot!(
            format!("exact_incremental_{name}"),
            incremental_attributes(name, false)
        );
        insta::assert_snapshot!(
            format!("exact_attributes_only_{name}"),
            incremental_attributes(name, true)
        );
    }
}

#[test]
fn golden_sql_duckdb() {
    insta::assert_snapshot!("compat_duckdb", compiled("compat", "duckdb"));
    insta::assert_snapshot!("exact_duckdb", compiled("exact", "duckdb"));
}

#[test]
fn golden_sql_snowflake() {
    insta::assert_snapshot!("compat_snowflake", compiled("compat", "snowflake"));
    insta::assert_snapshot!("exact_snowflake", compiled("exact", "snowflake"));
}

#[test]
fn golden_sql_bigquery() {
    insta::assert_snapshot!("compat_bigquery", compiled("compat", "bigquery"));
    insta::assert_snapshot!("exact_bigquery", compiled("exact", "bigquery"));
}

#[test]
fn golden_sql_databricks() {
    insta::assert_snapshot!("compat_databricks", compiled("compat", "databricks"));
    insta::assert_snapshot!("exact_databricks", compiled("exact", "databricks"));
}

#[test]
fn every_statement_parses_in_its_dialect_for_every_syntax_and_mode() {
    let now = common::timestamp("2025-01-10 12:00:00");
    for syntax in ["snowflake", "bigquery", "databricks"] {
        for semantics in ["compat", "exact"] {
            let plan = plan(semantics, syntax);
            for name in ["duckdb", "snowflake", "bigquery", "databricks"] {
                let dialect = dialect::for_name(name).unwrap();
                let text =
                    sigbatch::commands::compile_sql(&plan, dialect.as_ref(), "main", false, now)
                        .unwrap();
                let statements: Vec<&str> = text
                    .split("\n-- stage: ")
                    .skip(1)
                    .map(|s| s.split_once('\n').unwrap().1.trim())
                    .collect();
                assert!(
                    statements.len() > 20,
                    "{name}/{semantics}/{syntax}: {} statements",
                    statements.len()
                );
                for sql in statements {
                    let sql = sql.strip_suffix(';').unwrap();
                    // `check` is the parse (Databricks' sets its own `USING DELTA` aside)
                    assert!(
                        dialect.check("golden", sql).is_ok(),
                        "{name}/{semantics}/{syntax} does not parse:\n{sql}"
                    );
                }
            }
        }
    }
}

/// On Snowflake an unquoted name resolves upper case and a quoted one exactly, so `"event_date"`
/// and `event_date` are two different columns; the emulator is case-insensitive and cannot catch
/// a mix. Every name in every rendered Snowflake statement (both modes, the incremental
/// attributes refresh, the one-scan query) must be one that resolves alike either way.
#[test]
fn snowflake_names_resolve_alike_quoted_or_not() {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = dialect::for_name("snowflake").unwrap();
    let plan = plan("exact", "snowflake");
    let tables = Tables::new(&plan, dialect.as_ref(), "atomic");
    let one_scan = render::one_scan_sql(
        &plan,
        dialect.as_ref(),
        &tables,
        NaiveDate::from_ymd_opt(2025, 1, 7).unwrap(),
    )
    .unwrap();
    let texts = [
        compiled("compat", "snowflake"),
        compiled("exact", "snowflake"),
        incremental_attributes("snowflake", false),
        incremental_attributes("snowflake", true),
        one_scan,
    ];
    let mut quoted = std::collections::BTreeSet::new();
    let mut unquoted = std::collections::BTreeSet::new();
    for text in &texts {
        let tokens = Tokenizer::new(dialect.parser().as_ref(), text)
            .tokenize()
            .unwrap();
        for token in tokens {
            if let Token::Word(word) = token {
                match word.quote_style {
                    Some('"') => quoted.insert(word.value),
                    None => unquoted.insert(word.value.to_uppercase()),
                    Some(_) => false,
                };
            }
        }
    }
    assert!(quoted.len() > 50, "too few quoted names: {quoted:?}");
    let mixed: Vec<&String> = quoted
        .iter()
        .filter(|name| **name != name.to_uppercase() && unquoted.contains(&name.to_uppercase()))
        .collect();
    assert!(
        mixed.is_empty(),
        "names used quoted in lower case and unquoted: {mixed:?}"
    );
    let lower: Vec<&String> = quoted
        .iter()
        .filter(|name| **name != name.to_uppercase())
        .collect();
    assert!(
        lower.is_empty(),
        "quoted names that are not upper case (they resolve only exactly so): {lower:?}"
    );
}
