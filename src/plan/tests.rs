use super::*;
use crate::project::AttributeGroup;

fn project(semantics: Semantics, json: &str) -> Project {
    Project {
        dir: ".".into(),
        name: "p".into(),
        group: AttributeGroup::from_json(json).unwrap(),
        group_file: "g.json".into(),
        semantics,
        vars: Vars::default(),
        profile: "p".into(),
        target: None,
    }
}

fn fixture() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream-0.4/attribute_group.snowflake.json"
    ))
    .unwrap()
}

fn group(attributes: &str) -> String {
    format!(
        r#"{{"name":"g","version":1,"attribute_key_or_name":"domain_userid","attributes":[{attributes}]}}"#
    )
}

#[test]
fn compat_orders_outputs_like_upstream() {
    let plan = Plan::build(&project(Semantics::Compat, &fixture())).unwrap();
    let rank = |o: &OutputColumn| match o.aggregation {
        Aggregation::First => 0,
        Aggregation::Last => 3,
        Aggregation::UniqueList => 4,
        _ if o.period_days.is_some() => 1,
        _ => 2,
    };
    let ranks: Vec<u8> = plan.outputs.iter().map(rank).collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(ranks, sorted);
    assert_eq!(plan.outputs[0].name, "first_mkt_source");
    assert_eq!(plan.outputs.last().unwrap().name, "op_systems_2");
}

#[test]
fn exact_keeps_definition_order_and_compat_shares_first_last_columns() {
    let exact = Plan::build(&project(Semantics::Exact, &fixture())).unwrap();
    assert_eq!(exact.outputs[0].name, "page_view_events_count_last_7_days");
    let compat = Plan::build(&project(Semantics::Compat, &fixture())).unwrap();
    let first_last: Vec<&str> = compat
        .daily
        .iter()
        .filter(|d| matches!(d.partial, Partial::First { .. } | Partial::Last { .. }))
        .map(|d| d.name.as_str())
        .collect();
    assert!(
        first_last.contains(&"first_mkt_source") && first_last.contains(&"last_geo_country"),
        "{first_last:?}"
    );
}

#[test]
fn compat_rejects_mean_and_exact_keeps_sum_and_count_apart() {
    let json = group(
        r#"{"name":"avg_rev","type":"double","events":[{"name":"e"}],"aggregation":"mean","property":"tr_total"}"#,
    );
    let error = Plan::build(&project(Semantics::Compat, &json))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("avg_rev") && error.contains("mean"),
        "{error}"
    );
    let plan = Plan::build(&project(Semantics::Exact, &json)).unwrap();
    let partials: Vec<&Partial> = plan.daily.iter().map(|d| &d.partial).collect();
    assert!(matches!(
        partials[0],
        Partial::Sum {
            else_zero: false,
            ..
        }
    ));
    assert!(matches!(partials[1], Partial::ValueCount { .. }));
    assert_eq!(
        plan.outputs[0].daily_second.as_deref(),
        Some(plan.daily[1].name.as_str())
    );
}

#[test]
fn exact_combines_all_and_any_while_compat_drops_any() {
    let json = group(
        r#"{"name":"c","type":"int64","events":[{"vendor":"v","name":"e","version":"1-0-0"}],"aggregation":"counter",
            "criteria":{"all":[{"property":"geo_country","operator":"=","value":"DE"}],
                        "any":[{"property":"page_url","operator":"like","value":"%a%"}]}}"#,
    );
    let when = |plan: &Plan| match &plan.daily[0].partial {
        Partial::Count { when } => when.clone(),
        other => panic!("{other:?}"),
    };
    let exact = when(&Plan::build(&project(Semantics::Exact, &json)).unwrap());
    let Predicate::All(parts) = exact else {
        panic!("{exact:?}")
    };
    assert!(
        matches!(&parts[0], Predicate::EventIs(events) if events[0].vendor.as_deref() == Some("v"))
    );
    assert!(matches!(&parts[2], Predicate::Any(_)));
    let compat = when(&Plan::build(&project(Semantics::Compat, &json)).unwrap());
    let Predicate::All(parts) = compat else {
        panic!("{compat:?}")
    };
    assert_eq!(
        parts.len(),
        2,
        "compat keeps event name + all only: {parts:?}"
    );
    assert!(matches!(&parts[0], Predicate::EventNameIn(names) if names == &vec!["e".to_string()]));
}

#[test]
fn colliding_property_names_get_distinct_columns() {
    let json = group(
        r#"{"name":"a","type":"double","events":[{"name":"e"}],"aggregation":"sum","property":"contexts_a_1[0]:value"},
           {"name":"b","type":"double","events":[{"name":"e"}],"aggregation":"sum","property":"contexts_b_1[0]:value"},
           {"name":"c","type":"string","events":[{"name":"e"}],"aggregation":"last","property":"contexts_b_1[0]:value"}"#,
    );
    for semantics in [Semantics::Exact, Semantics::Compat] {
        let plan = Plan::build(&project(semantics, &json)).unwrap();
        let names: Vec<&str> = plan.properties.iter().map(|p| p.name.as_str()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let daily: Vec<String> = plan.daily.iter().map(|d| d.name.to_lowercase()).collect();
        let mut unique_daily = daily.clone();
        unique_daily.sort();
        unique_daily.dedup();
        assert_eq!(unique_daily.len(), daily.len(), "{daily:?}");
    }
}

#[test]
fn compat_in_strings_are_parsed_as_literals_never_pasted() {
    let json = |value: &str| {
        group(&format!(
            r#"{{"name":"c","type":"int64","events":[{{"name":"e"}}],"aggregation":"counter",
                "criteria":{{"all":[{{"property":"geo_country","operator":"in","value":{value}}}]}}}}"#
        ))
    };
    let plan = Plan::build(&project(Semantics::Compat, &json(r#""'DE','FR'""#))).unwrap();
    let Partial::Count {
        when: Predicate::All(parts),
    } = &plan.daily[0].partial
    else {
        panic!()
    };
    assert!(matches!(&parts[1], Predicate::In { values, .. } if values.len() == 2));
    let error = Plan::build(&project(Semantics::Compat, &json(r#""DE) OR (1=1""#)))
        .unwrap_err()
        .to_string();
    assert!(error.contains("literals"), "{error}");
}

#[test]
fn compat_refuses_the_current_model_naming_the_attribute_and_field() {
    let cases = [
        (
            r#"{"name":"a","type":"string","events":[{"name":"e"}],"aggregation":"most_frequent","property":"x"}"#,
            "aggregation",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"counter"}"#,
            "events",
        ),
        (
            r#"{"name":"a","type":"string","events":[{"name":"e"}],"aggregation":"last","property":{"type":"atomic","name":"derived_tstamp","date_part":"active_day"}}"#,
            "property",
        ),
        (
            r#"{"name":"a","type":"int64","events":[{"name":"e"}],"aggregation":"counter","criteria":{"all":[{"property":"x","operator":"is null"}]}}"#,
            "criteria",
        ),
    ];
    for (attribute, field) in cases {
        let message = Plan::build(&project(Semantics::Compat, &group(attribute)))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("attribute `a`: {field}"))
                && message.contains("upstream's batch engine did not have"),
            "{message}"
        );
        // exact mode computes each of them
        Plan::build(&project(Semantics::Exact, &group(attribute))).unwrap();
    }
    // a plain atomic object is the path it names, which upstream had
    let plain = r#"{"name":"a","type":"string","events":[{"name":"e"}],"aggregation":"last","property":{"type":"atomic","name":"geo_country"}}"#;
    Plan::build(&project(Semantics::Compat, &group(plain))).unwrap();
}

/// `time_since_*` counts the events where its property has a value of any type: the property is
/// read as text, not at the attribute's integer type (which made a text property NULL on every
/// event, so the attribute was always NULL).
#[test]
fn time_since_reads_its_property_as_text() {
    let json = group(
        r#"{"name":"since","type":"int64","events":[],"aggregation":"time_since_last","time_unit":"min","property":"geo_country"}"#,
    );
    let plan = Plan::build(&project(Semantics::Exact, &json)).unwrap();
    let [column] = plan.properties.as_slice() else {
        panic!("{:?}", plan.properties)
    };
    assert_eq!(column.value_type, ValueType::Text);
}
