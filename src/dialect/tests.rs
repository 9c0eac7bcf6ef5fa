//! Every dialect keeps a user's strings literals and reads nested paths alike.

use super::*;

#[test]
fn hostile_strings_stay_literals_in_every_dialect() {
    let hostile = "it's \\ 100% _x_ ' OR 1=1 --; DROP TABLE t; ünïcødé \"q\"";
    for kind in WarehouseKind::ALL {
        let dialect = kind.dialect();
        assert_eq!(dialect.kind(), kind);
        let sql = format!(
            "SELECT {} AS {} WHERE 1 = 1",
            dialect.string_literal(hostile),
            dialect.ident("we\"ird name")
        );
        let parser = dialect.parser();
        let statements = sqlparser::parser::Parser::parse_sql(parser.as_ref(), &sql)
            .unwrap_or_else(|e| panic!("{}: {e}: {sql}", dialect.name()));
        assert_eq!(statements.len(), 1, "{sql}");
        let sqlparser::ast::Statement::Query(query) = &statements[0] else {
            panic!("not a query")
        };
        let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
            panic!("not a select")
        };
        let sqlparser::ast::SelectItem::ExprWithAlias { expr, alias } = &select.projection[0]
        else {
            panic!("no alias")
        };
        assert_eq!(
            alias.value,
            dialect.stored_name("we\"ird name"),
            "{}",
            dialect.name()
        );
        let sqlparser::ast::Expr::Value(value) = expr else {
            panic!("not a literal: {expr:?}")
        };
        let text = match &value.value {
            sqlparser::ast::Value::SingleQuotedString(s) => s.clone(),
            other => panic!("{}: unexpected literal {other:?}", dialect.name()),
        };
        assert_eq!(text, hostile, "{}", dialect.name());
    }
}

/// A nested path's array index (`$.tags[1].name`, the segments `tags`, `[1]`, `name`) is an
/// index in every dialect, never a field named `[1]` (DuckDB refused `$[0].tags.[1].name`).
#[test]
fn nested_array_indexes_are_indexes_in_every_dialect() {
    let path = PropertyPath {
        raw: "contexts_com_acme_item_1[0]:tags[1].name".into(),
        column: "contexts_com_acme_item_1".into(),
        index: Some(0),
        fields: vec!["tags".into(), "[1]".into(), "name".into()],
        syntax: crate::project::property::PathSyntax::Snowflake,
    };
    let expected = [
        (WarehouseKind::DuckDb, "'$[0].tags[1].name'"),
        (WarehouseKind::Snowflake, "'[0].tags[1].name'"),
        (
            WarehouseKind::BigQuery,
            "[SAFE_OFFSET(0)].`tags`[SAFE_OFFSET(1)].`name`",
        ),
        (
            WarehouseKind::Databricks,
            "get(get(events.`contexts_com_acme_item_1`, 0).`tags`, 1).`name`",
        ),
    ];
    for (kind, fragment) in expected {
        let dialect = kind.dialect();
        let sql = dialect.property(&path, ValueType::Text).unwrap();
        assert!(sql.contains(fragment), "{}: {sql}", dialect.name());
        let select = format!("SELECT {sql} FROM t AS events");
        sqlparser::parser::Parser::parse_sql(dialect.parser().as_ref(), &select)
            .unwrap_or_else(|e| panic!("{}: {e}: {select}", dialect.name()));
    }
}
