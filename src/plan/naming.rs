//! Column names: upstream's naming rules (compat mode reproduces them so tables line up with the
//! dbt project's) and a collision-proof allocator (so two attributes never share a column).

use std::collections::HashSet;

use crate::project::group::{Aggregation, Criteria, Leaf, Literal, Operator, Property};
use crate::project::property::{PropertyPath, camel_to_snake};

const KEYWORDS: &str = include_str!("../../dialects/keywords.txt");

fn is_keyword(word: &str) -> bool {
    KEYWORDS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|k| k.eq_ignore_ascii_case(word))
}

/// Upstream's "cleaned property name": the text after the first `:` (Snowflake), else the last
/// `.` segment, else the whole name; camelCase to snake_case; keywords get `_col`. Nested
/// Snowflake paths (`a[0]:b.c`) produce `b.c` upstream, an invalid name; here the dots become
/// underscores so the column can exist at all.
pub fn cleaned_property_name(path: &PropertyPath) -> String {
    let raw = path.raw.trim();
    let picked = if raw.contains(':') {
        raw.split(':').nth(1).unwrap_or(raw)
    } else if raw.contains('.') {
        raw.rsplit('.').next().unwrap_or(raw)
    } else {
        raw
    };
    let snake = camel_to_snake(picked).replace('.', "_");
    if is_keyword(&snake) {
        format!("{snake}_col")
    } else {
        snake
    }
}

/// The base of a `filtered_events` column's name for any property: a plain path's cleaned
/// name, with the date part or the calculation spelled out otherwise. Only a base: the
/// allocator makes it unique.
pub fn property_base_name(property: &Property) -> String {
    let leaf_name = |leaf: &Leaf| {
        let cleaned = cleaned_property_name(&leaf.path).replace(['[', ']'], "_");
        match leaf.date_part {
            Some(part) => format!("{cleaned}_{}", part.as_str()),
            None => cleaned,
        }
    };
    match property {
        Property::Leaf(leaf) => leaf_name(leaf),
        Property::Calculated {
            operation, leaves, ..
        } => {
            let names: Vec<String> = leaves.iter().map(leaf_name).collect();
            format!("{}_{}", operation.as_str(), names.join("_"))
        }
    }
}

fn short_aggregation(aggregation: Aggregation) -> &'static str {
    match aggregation {
        Aggregation::MostFrequent => "most_frequent",
        Aggregation::LeastFrequent => "least_frequent",
        Aggregation::CategoryCount => "category_count",
        Aggregation::ApproxCountDistinct => "approx_count_distinct",
        Aggregation::TimeSinceLast => "time_since_last",
        Aggregation::TimeSinceFirst => "time_since_first",
        Aggregation::Counter => "count",
        Aggregation::Sum => "sum",
        Aggregation::Min => "min",
        Aggregation::Max => "max",
        Aggregation::Mean => "mean",
        Aggregation::First => "first",
        Aggregation::Last => "last",
        Aggregation::UniqueList => "unique_list",
    }
}

fn operator_word(operator: Operator) -> &'static str {
    match operator {
        Operator::Eq => "eq",
        Operator::NotEq => "neq",
        Operator::Lt => "lt",
        Operator::Gt => "gt",
        Operator::LtEq => "lte",
        Operator::GtEq => "gte",
        Operator::Like => "like",
        Operator::In => "in",
        Operator::IsNull => "is_null",
        Operator::IsNotNull => "is_not_null",
    }
}

/// Upstream's daily column name for counter/sum/min/max/unique_list (`_generate_column_name`):
/// aggregation, property, event names, then the sorted criteria; past 60 characters the
/// attribute's own name is used instead.
pub fn upstream_daily_name(
    aggregation: Aggregation,
    property: Option<&PropertyPath>,
    event_names: &[&str],
    criteria: &Criteria,
    attribute_name: &str,
) -> String {
    let mut parts: Vec<String> = vec![short_aggregation(aggregation).to_string()];
    if let Some(path) = property {
        parts.push(cleaned_property_name(path));
    }
    parts.extend(event_names.iter().map(|n| n.to_string()));
    let (list, joiner) = if criteria.any.is_empty() {
        (&criteria.all, "_all_")
    } else {
        (&criteria.any, "_any_")
    };
    if !list.is_empty() {
        let mut pieces: Vec<String> = list
            .iter()
            .map(|c| {
                let value = c
                    .value
                    .iter()
                    .flat_map(Literal::scalars)
                    .map(|s| s.python_str())
                    .collect::<Vec<_>>()
                    .join(",");
                let value: String = value
                    .to_lowercase()
                    .replace(' ', "_")
                    .replace('%', "pct")
                    .replace(['-', '.', '/'], "_")
                    .chars()
                    .filter(|ch| ch.is_alphanumeric() || *ch == '_')
                    .collect();
                format!(
                    "{}_{}_{}",
                    property_base_name(&c.property),
                    operator_word(c.operator),
                    value
                )
            })
            .collect();
        pieces.sort();
        parts.push(pieces.join(joiner));
    }
    let mut name: String = parts
        .join("_")
        .replace('-', "_")
        .chars()
        .filter(|ch| ch.is_alphanumeric() || *ch == '_')
        .collect();
    if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        name = format!("n_{name}");
    }
    if name.chars().count() > 60 {
        attribute_name.to_string()
    } else {
        name
    }
}

/// Hands out column names, suffixing `_2`, `_3`, ... on a case-insensitive clash, so no two
/// columns of one table ever share a name (upstream's duplicate-column defect).
#[derive(Default)]
pub struct NameAllocator {
    taken: HashSet<String>,
}

impl NameAllocator {
    pub fn reserving(names: &[&str]) -> Self {
        NameAllocator {
            taken: names.iter().map(|n| n.to_lowercase()).collect(),
        }
    }

    pub fn allocate(&mut self, base: &str) -> String {
        if self.taken.insert(base.to_lowercase()) {
            return base.to_string();
        }
        (2..)
            .map(|n| format!("{base}_{n}"))
            .find(|candidate| self.taken.insert(candidate.to_lowercase()))
            .expect("an unbounded range always yields a free name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::AttributeGroup;

    fn path(raw: &str) -> PropertyPath {
        PropertyPath::parse(raw).unwrap()
    }

    #[test]
    fn cleaned_names_follow_upstream() {
        assert_eq!(
            cleaned_property_name(&path("contexts_x_1[0]:operatingSystemName")),
            "operating_system_name"
        );
        assert_eq!(
            cleaned_property_name(&path("contexts_x_1[safe_offset(0)].device_class")),
            "device_class"
        );
        assert_eq!(cleaned_property_name(&path("geo_country")), "geo_country");
        assert_eq!(
            cleaned_property_name(&path("unstruct_event_x_1:date")),
            "date_col"
        );
    }

    #[test]
    fn daily_names_match_the_upstream_snapshots() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/upstream-0.4/attribute_group.snowflake.json"
        ))
        .unwrap();
        let group = AttributeGroup::from_json(&text).unwrap();
        let name_of = |attribute: &str| {
            let a = group
                .attributes
                .iter()
                .find(|a| a.name == attribute)
                .unwrap();
            let events: Vec<&str> = a.events.iter().map(|e| e.name.as_str()).collect();
            upstream_daily_name(
                a.aggregation,
                a.property.as_ref().and_then(Property::as_path),
                &events,
                &a.criteria,
                &a.name,
            )
        };
        assert_eq!(
            name_of("page_view_events_count_last_7_days"),
            "count_page_view"
        );
        assert_eq!(
            name_of("pricing_pageview_count_last_7_days"),
            "count_page_view_page_url_like_pctpricingpct"
        );
        assert_eq!(
            name_of("total_revenue_last_7_days"),
            "sum_revenue_snowplow_ecommerce_action"
        );
        assert_eq!(
            name_of("min_revenue_last_7_days"),
            "min_revenue_snowplow_ecommerce_action"
        );
        assert_eq!(
            name_of("media_video_event_count_last_7_days"),
            "media_video_event_count_last_7_days"
        );
        assert_eq!(name_of("op_systems"), "op_systems");
    }

    #[test]
    fn the_allocator_never_repeats_a_name() {
        let mut names = NameAllocator::reserving(&["event_id"]);
        assert_eq!(names.allocate("value"), "value");
        assert_eq!(names.allocate("VALUE"), "VALUE_2");
        assert_eq!(names.allocate("event_id"), "event_id_2");
    }
}
