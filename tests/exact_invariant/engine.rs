//! The engine's side: the attributes table as text, `updated_at`, and the comparison with the
//! oracle.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::oracle::Value;
use super::specs::{Group, Spec};
use crate::common::{self, TempProject, rows};

const TABLE: &str = "main_derived.prop_group_1_attributes";

/// Each key's values as text, in the specs' order: lists sorted and joined by ", ", maps as JSON.
pub fn engine_table(project: &TempProject, group: &Group) -> BTreeMap<String, Vec<Option<String>>> {
    let connection = project.connection();
    let (names, _) = rows(
        &connection,
        &format!("SELECT * EXCLUDE (updated_at) FROM {TABLE}"),
    );
    let mut expected_names = vec![group.key_column().to_string()];
    expected_names.extend(group.specs.iter().map(|s| s.name.clone()));
    assert_eq!(names, expected_names, "the table's columns");
    let columns: Vec<String> = std::iter::once(format!("\"{}\"", group.key_column()))
        .chain(group.specs.iter().map(|s| match s.aggregation {
            "category_count" => format!("CAST(to_json(\"{0}\") AS VARCHAR) AS \"{0}\"", s.name),
            _ => format!("\"{}\"", s.name),
        }))
        .collect();
    let (_, data) = rows(
        &connection,
        &format!("SELECT {} FROM {TABLE}", columns.join(", ")),
    );
    data.into_iter()
        .map(|row| (row[0].clone().unwrap(), row[1..].to_vec()))
        .collect()
}

/// Each key's `updated_at`, read apart from the values.
fn engine_updated_at(
    project: &TempProject,
    group: &Group,
) -> BTreeMap<String, Option<NaiveDateTime>> {
    let connection = project.connection();
    let (_, data) = rows(
        &connection,
        &format!(
            "SELECT \"{}\", CAST(updated_at AS VARCHAR) FROM {TABLE}",
            group.key_column()
        ),
    );
    data.into_iter()
        .map(|row| {
            (
                row[0].clone().unwrap(),
                row[1].as_deref().map(common::timestamp),
            )
        })
        .collect()
}

/// The table after one run: per key, its values as text (every column but the key and
/// `updated_at`) and its `updated_at`.
pub type Snapshot = BTreeMap<String, (Vec<Option<String>>, Option<NaiveDateTime>)>;

pub fn snapshot(project: &TempProject, group: &Group) -> Result<Snapshot, String> {
    let values = engine_table(project, group);
    let mut updated = engine_updated_at(project, group);
    values
        .into_iter()
        .map(|(key, row)| match updated.remove(&key) {
            Some(at) => Ok((key, (row, at))),
            None => Err(format!("key {key} has values but no updated_at row")),
        })
        .collect()
}

/// `updated_at` moves to this run's `now` on every row that is new or whose values changed since
/// the previous run, and on no other row.
pub fn check_updated_at(
    previous: &Snapshot,
    current: &Snapshot,
    now: NaiveDateTime,
    specs: &[Spec],
) -> Result<(), String> {
    for (key, (values, at)) in current {
        let Some(at) = at else {
            return Err(format!("key {key}: updated_at is NULL"));
        };
        match previous.get(key) {
            None if *at != now => {
                return Err(format!(
                    "key {key} is new in this run but its updated_at is {at}, not this run's now {now}"
                ));
            }
            None => {}
            Some((before, before_at)) => {
                let changed: Vec<String> = specs
                    .iter()
                    .zip(before.iter().zip(values))
                    .filter(|(_, (b, a))| b != a)
                    .map(|(spec, (b, a))| format!("{}: {b:?} -> {a:?}", spec.name))
                    .collect();
                if !changed.is_empty() && *at != now {
                    return Err(format!(
                        "key {key}: values changed ({}) but updated_at is {at}, not this run's now {now}",
                        changed.join(", ")
                    ));
                }
                if changed.is_empty() && Some(*at) != *before_at {
                    return Err(format!(
                        "key {key}: no value changed but updated_at moved from {} to {at}",
                        before_at.map_or("NULL".to_string(), |t| t.to_string())
                    ));
                }
            }
        }
    }
    Ok(())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * (1.0 + b.abs())
}

fn same(engine: &Option<String>, oracle: &Option<Value>) -> bool {
    let Some(a) = engine else {
        return oracle.is_none();
    };
    match oracle {
        None => false,
        Some(Value::Int(b)) => a.parse::<i64>() == Ok(*b),
        Some(Value::Number(b)) => a.parse::<f64>().is_ok_and(|a| close(a, *b)),
        Some(Value::Text(b)) => a == b,
        Some(Value::List {
            items,
            numeric: true,
        }) => {
            let sorted = |list: Vec<Option<f64>>| -> Option<Vec<f64>> {
                let mut list = list.into_iter().collect::<Option<Vec<f64>>>()?;
                list.sort_by(f64::total_cmp);
                Some(list)
            };
            let mine = sorted(a.split(", ").map(|x| x.parse().ok()).collect());
            let theirs = sorted(items.iter().map(|x| x.parse().ok()).collect());
            match (mine, theirs) {
                (Some(x), Some(y)) => {
                    x.len() == y.len() && x.iter().zip(&y).all(|(a, b)| close(*a, *b))
                }
                _ => false,
            }
        }
        Some(Value::List {
            items,
            numeric: false,
        }) => {
            let mut mine: Vec<&str> = a.split(", ").collect();
            let mut theirs: Vec<&str> = items.iter().map(String::as_str).collect();
            mine.sort();
            theirs.sort();
            mine == theirs
        }
        Some(Value::Map(b)) => {
            serde_json::from_str::<BTreeMap<String, i64>>(a).is_ok_and(|m| m == *b)
        }
    }
}

pub fn compare(
    engine: &BTreeMap<String, Vec<Option<String>>>,
    expected: &BTreeMap<String, Vec<Option<Value>>>,
    specs: &[Spec],
) -> Result<(), String> {
    let engine_keys: Vec<&String> = engine.keys().collect();
    let oracle_keys: Vec<&String> = expected.keys().collect();
    if engine_keys != oracle_keys {
        return Err(format!(
            "keys differ: engine {engine_keys:?}, oracle {oracle_keys:?}"
        ));
    }
    for (key, row) in expected {
        for (i, spec) in specs.iter().enumerate() {
            if !same(&engine[key][i], &row[i]) {
                return Err(format!(
                    "{key}.{}: engine {:?}, oracle {:?} ({spec:?})",
                    spec.name, engine[key][i], row[i]
                ));
            }
        }
    }
    Ok(())
}
