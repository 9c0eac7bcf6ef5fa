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
