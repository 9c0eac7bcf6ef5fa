//! Choosing attribute groups from the API's list as upstream's `init` does (or from the one
//! group a read by name answered, as a list of one): the highest version per name, or the one
//! named (and versioned); groups that only describe an external batch source (`fields`, no
//! `attributes`) are skipped. Parsed leniently: only `name`, `version`,
//! `attributes` and `fields` are read, the rest is kept as it came.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};

/// One group as the API gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteGroup {
    pub name: String,
    pub version: u32,
    pub json: Value,
}

#[derive(Debug, Clone, Default)]
pub struct GroupSelection {
    pub name: Option<String>,
    pub version: Option<u32>,
}

/// The groups to make projects for, and the names skipped as external batch sources.
pub fn select_groups(
    answer: &Value,
    selection: &GroupSelection,
) -> Result<(Vec<RemoteGroup>, Vec<String>)> {
    let list = answer.as_array().ok_or_else(|| Error::Remote {
        service: "signals api",
        message: "the attribute group listing is not a JSON array".into(),
        hint: Some("check --api-url (SNOWPLOW_API_URL): it must be the Signals API".into()),
        user_fixable: false,
    })?;
    let mut groups = Vec::new();
    let mut skipped = Vec::new();
    for item in list {
        let Some(name) = item["name"].as_str() else {
            continue;
        };
        let Some(version) = item["version"].as_u64().and_then(|v| u32::try_from(v).ok()) else {
            continue;
        };
        let has = |key: &str| item[key].as_array().is_some_and(|a| !a.is_empty());
        if !has("attributes") {
            skipped.push(format!("{name} v{version}"));
            continue;
        }
        groups.push(RemoteGroup {
            name: name.to_string(),
            version,
            json: item.clone(),
        });
    }
    if groups.is_empty() && selection.name.is_none() {
        return Err(Error::invalid("signals", "no attribute groups available")
            .with_hint("create an attribute group in Signals (Console or the Python SDK) and publish it, then rerun"));
    }
    let Some(name) = &selection.name else {
        let mut highest: BTreeMap<String, RemoteGroup> = BTreeMap::new();
        for group in groups {
            match highest.get(&group.name) {
                Some(kept) if kept.version >= group.version => {}
                _ => {
                    highest.insert(group.name.clone(), group);
                }
            }
        }
        return Ok((highest.into_values().collect(), skipped));
    };
    let mut named: Vec<RemoteGroup> = groups.iter().filter(|g| &g.name == name).cloned().collect();
    if named.is_empty() {
        let mut names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        names.sort();
        names.dedup();
        let external = skipped.iter().any(|s| s.starts_with(&format!("{name} v")));
        let message = if external {
            format!(
                "attribute group `{name}` has no attributes (an external batch source); there is nothing to compute"
            )
        } else {
            format!("no attribute group `{name}`")
        };
        return Err(Error::invalid("--attribute-group-name", message).with_hint(
            if names.is_empty() {
                "Signals has no attribute groups with attributes".to_string()
            } else {
                format!("Signals has: {}", names.join(", "))
            },
        ));
    }
    named.sort_by_key(|g| g.version);
    let chosen = match selection.version {
        None => named.pop().expect("not empty"),
        Some(version) => match named.iter().position(|g| g.version == version) {
            Some(index) => named.swap_remove(index),
            None => {
                let versions: Vec<String> = named.iter().map(|g| g.version.to_string()).collect();
                return Err(Error::invalid(
                    "--attribute-group-version",
                    format!("attribute group `{name}` has no version {version}"),
                )
                .with_hint(format!("its versions: {}", versions.join(", "))));
            }
        },
    };
    Ok((vec![chosen], skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing() -> Value {
        json!([
            {"name": "a", "version": 1, "attributes": [{"name": "x"}], "feast_name": "a_v1"},
            {"name": "a", "version": 3, "attributes": [{"name": "x"}]},
            {"name": "a", "version": 2, "attributes": [{"name": "x"}]},
            {"name": "b", "version": 1, "attributes": [{"name": "y"}]},
            {"name": "ext", "version": 1, "attributes": [], "fields": [{"name": "f"}]},
        ])
    }

    fn named(name: &str, version: Option<u32>) -> GroupSelection {
        GroupSelection {
            name: Some(name.into()),
            version,
        }
    }

    fn chosen(selection: GroupSelection) -> Vec<(String, u32)> {
        select_groups(&listing(), &selection)
            .unwrap()
            .0
            .into_iter()
            .map(|g| (g.name, g.version))
            .collect()
    }

    #[test]
    fn the_highest_version_of_each_group_unless_one_is_named() {
        assert_eq!(
            chosen(GroupSelection::default()),
            [("a".to_string(), 3), ("b".to_string(), 1)]
        );
        assert_eq!(chosen(named("a", None)), [("a".to_string(), 3)]);
        assert_eq!(chosen(named("a", Some(2))), [("a".to_string(), 2)]);
        let (_, skipped) = select_groups(&listing(), &GroupSelection::default()).unwrap();
        assert_eq!(skipped, ["ext v1"]);
    }

    #[test]
    fn unknown_names_versions_and_empty_lists_are_user_errors() {
        let error = select_groups(&listing(), &named("c", None)).unwrap_err();
        assert!(
            error.to_string().contains("no attribute group `c`"),
            "{error}"
        );
        assert_eq!(error.hint(), Some("Signals has: a, b"));
        let error = select_groups(&listing(), &named("a", Some(9))).unwrap_err();
        assert_eq!(error.hint(), Some("its versions: 1, 2, 3"));
        let error = select_groups(&listing(), &named("ext", None)).unwrap_err();
        assert!(
            error.to_string().contains("external batch source"),
            "{error}"
        );
        let error = select_groups(&json!([]), &GroupSelection::default()).unwrap_err();
        assert!(error.to_string().contains("no attribute groups available"));
        assert_eq!(error.exit_code(), 2);
        assert_eq!(
            select_groups(&json!({}), &GroupSelection::default())
                .unwrap_err()
                .exit_code(),
            3
        );
    }
}
