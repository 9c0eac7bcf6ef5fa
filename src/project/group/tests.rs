use super::*;

fn fixture(syntax: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/upstream-0.4/attribute_group.{syntax}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_fixture_groups_parse_in_all_three_syntaxes() {
    for syntax in ["snowflake", "bigquery", "databricks"] {
        let group = AttributeGroup::from_json(&fixture(syntax)).unwrap();
        assert_eq!(group.key_column, "domain_userid");
        assert_eq!(group.attributes.len(), 21);
        let os = group
            .attributes
            .iter()
            .find(|a| a.name == "op_systems_2")
            .unwrap();
        assert_eq!(os.aggregation, Aggregation::UniqueList);
        assert_eq!(os.period_days, Some(1));
        assert_eq!(
            os.property
                .as_ref()
                .and_then(Property::as_path)
                .unwrap()
                .fields_snake_case(),
            vec!["operating_system_name"]
        );
        assert_eq!(os.criteria.all[0].operator, Operator::NotEq);
    }
}

#[test]
fn periods_are_whole_days() {
    assert_eq!(parse_period("P7D").unwrap(), 7);
    assert_eq!(parse_period("P2W").unwrap(), 14);
    assert_eq!(parse_period("PT48H").unwrap(), 2);
    assert_eq!(parse_period("P1DT24H").unwrap(), 2);
    for bad in ["P1DT12H", "PT12H", "P1M", "P1Y", "7D", "P", "P0D", "PXD"] {
        assert!(parse_period(bad).is_err(), "{bad} should be rejected");
    }
}

#[test]
fn bad_definitions_name_the_attribute_and_the_value() {
    let group = |attribute: &str| {
        format!(
            r#"{{"name":"g","version":1,"attribute_key_or_name":"domain_userid","attributes":[{attribute}]}}"#
        )
    };
    let cases = [
        (
            r#"{"name":"a","type":"int64","events":[{"name":"page_view"}],"aggregation":"median"}"#,
            "median",
        ),
        (
            r#"{"name":"a","type":"int64","events":[{"name":"e"}],"aggregation":"counter","criteria":{"all":[{"property":"x","operator":"~","value":1}]}}"#,
            "`~`",
        ),
        (
            r#"{"name":"a","type":"int64","events":[{"name":"e"}],"aggregation":"counter","period":"PT1H"}"#,
            "PT1H",
        ),
        (
            r#"{"name":"a","type":"string","events":[{"name":"e"}],"aggregation":"last","property":"x;y"}"#,
            "x;y",
        ),
        (
            r#"{"name":"a","type":"string","events":[{"name":"e"}],"aggregation":"last"}"#,
            "needs a property",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"time_since_last"}"#,
            "needs a time unit",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"counter","time_unit":"d"}"#,
            "only valid on time_since",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"time_since_first","time_unit":"week"}"#,
            "`week`",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"counter","colour":"red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"counter","period":"P7D","ttl":"P1D"}"#,
            "lifetime attributes",
        ),
        (
            r#"{"name":"a","type":"dict","events":[],"aggregation":"most_frequent","property":"x"}"#,
            "`dict`",
        ),
        (
            r#"{"name":"a","type":"string","events":[],"aggregation":"category_count","property":"x"}"#,
            "does not fit the category_count",
        ),
        (
            r#"{"name":"a","type":"int64","events":[],"aggregation":"counter","criteria":{"all":[{"property":"x","operator":"is null","value":1}]}}"#,
            "takes no value",
        ),
        (
            r#"{"name":"a","type":"int64","events":[{"name":"e","colour":1}],"aggregation":"counter"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"name":"a","type":"string","events":[],"aggregation":"first","property":{"type":"atomic","name":"derived_tstamp","date_part":"week"}}"#,
            "property.date_part",
        ),
    ];
    for (attribute, needle) in cases {
        let message = AttributeGroup::from_json(&group(attribute))
            .unwrap_err()
            .to_string();
        assert!(message.contains("attribute `a`"), "{message}");
        assert!(
            message.contains(needle),
            "{message} should mention {needle}"
        );
    }
}

#[test]
fn the_current_model_parses_as_the_sdk_writes_it() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/current-model/attribute_group.json"
    ))
    .unwrap();
    let group = AttributeGroup::from_json(&text).unwrap();
    // the key is named as the SDK names it, and read from the web page entity
    assert_eq!(group.key_column, "page");
    let key = group.key_property.as_ref().unwrap();
    assert_eq!(
        key.column,
        "contexts_com_snowplowanalytics_snowplow_web_page_1"
    );
    assert_eq!(key.fields, vec!["id"]);
    assert_eq!(
        group.backfill_since.unwrap().to_string(),
        "2025-01-01 12:00:00"
    );
    assert_eq!(group.ttl_seconds, Some(30 * 86_400));
    let named = |name: &str| group.attributes.iter().find(|a| a.name == name).unwrap();
    let hours = named("events_by_hour");
    assert_eq!(hours.shape, Shape::Map);
    assert!(hours.events.is_empty());
    let Some(Property::Leaf(leaf)) = &hours.property else {
        panic!("a leaf")
    };
    assert_eq!(leaf.date_part, Some(DatePart::HourOfDay));
    assert_eq!(
        named("minutes_since_last_event").time_unit,
        Some(TimeUnit::Minutes)
    );
    assert_eq!(
        named("oses_or_default").default_value,
        Some(Literal::List(vec![
            Scalar::Text("none".into()),
            Scalar::Text("unknown".into())
        ]))
    );
    let Some(Property::Calculated { operation, .. }) = &named("max_revenue_squared").property
    else {
        panic!("calculated")
    };
    assert_eq!(*operation, Operation::Product);
    let without_campaign = &named("views_without_campaign").criteria.all[0];
    assert_eq!(without_campaign.operator, Operator::IsNull);
    assert_eq!(without_campaign.value, None);
}

#[test]
fn a_key_name_is_derived_as_the_sdk_derives_it() {
    let key = |attribute_key: &str| {
        let text = format!(
            r#"{{"name":"g","version":1,"attribute_key":{attribute_key},"attributes":[{{"name":"a","type":"int64","events":[],"aggregation":"counter"}}]}}"#
        );
        let group = AttributeGroup::from_json(&text).unwrap();
        (group.key_column, group.key_property.map(|p| p.raw))
    };
    let entity = r#"{"type":"entity","vendor":"com.acme","name":"customer","major_version":1,"path":"profile.customerId"}"#;
    assert_eq!(
        key(&format!(r#"{{"property":{entity}}}"#)),
        (
            "customerId".into(),
            Some("contexts_com_acme_customer_1[0]:profile.customerId".into())
        )
    );
    assert_eq!(
        key(r#"{"property":{"type":"atomic","name":"user_id"}}"#),
        ("user_id".into(), None)
    );
    assert_eq!(
        key(r#"{"name":"who","property":{"type":"atomic","name":"user_id"}}"#),
        ("who".into(), Some("user_id".into()))
    );
    assert_eq!(
        key(r#"{"external_column":"customer"}"#),
        ("customer".into(), None)
    );
}
