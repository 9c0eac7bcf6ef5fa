//! `snowplow__custom_filter`: a user's SQL predicate, parsed rather than pasted.
//!
//! The text is parsed as one expression with sqlparser, and only what every warehouse reads the
//! same way is accepted: column names, numbers, `'...'` strings without a backslash (Snowflake,
//! BigQuery and Databricks read `\'` as an escaped quote, DuckDB and the parser as a backslash
//! and an end of string), operators, and calls to the functions of [`FUNCTIONS`]. A statement
//! separator, a comment, a quoted identifier (`"x"` is a string on BigQuery), another kind of
//! string, a subquery or a statement keyword is refused. What reaches the warehouse is the
//! parsed expression printed back by sqlparser, not the user's bytes.

use sqlparser::ast::Expr;
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

#[derive(Debug, Clone, PartialEq)]
pub struct CustomFilter {
    expression: Expr,
}

const FORBIDDEN: &[Keyword] = &[
    Keyword::INSERT,
    Keyword::UPDATE,
    Keyword::DELETE,
    Keyword::MERGE,
    Keyword::DROP,
    Keyword::CREATE,
    Keyword::ALTER,
    Keyword::TRUNCATE,
    Keyword::GRANT,
    Keyword::REVOKE,
    Keyword::COPY,
    Keyword::ATTACH,
    Keyword::DETACH,
    Keyword::INSTALL,
    Keyword::LOAD,
    Keyword::PRAGMA,
    Keyword::CALL,
    Keyword::EXPORT,
    Keyword::IMPORT,
    Keyword::REPLACE,
    Keyword::EXECUTE,
    // a subquery, and through it any table or table function
    Keyword::SELECT,
    Keyword::WITH,
    Keyword::VALUES,
    Keyword::TABLE,
    Keyword::FROM,
    Keyword::UNNEST,
    Keyword::LATERAL,
];

/// The functions a filter may call: scalar functions every warehouse has, with the same meaning.
pub const FUNCTIONS: &[&str] = &[
    "abs",
    "cast",
    "ceil",
    "coalesce",
    "concat",
    "date",
    "floor",
    "greatest",
    "least",
    "length",
    "lower",
    "ltrim",
    "nullif",
    "round",
    "rtrim",
    "substr",
    "substring",
    "trim",
    "try_cast",
    "upper",
];

/// Words that take a parenthesis without being a call.
const SYNTAX_BEFORE_PARENTHESIS: &[Keyword] = &[
    Keyword::IN,
    Keyword::AND,
    Keyword::OR,
    Keyword::NOT,
    Keyword::WHEN,
    Keyword::THEN,
    Keyword::ELSE,
    Keyword::BETWEEN,
    Keyword::LIKE,
    Keyword::ILIKE,
    Keyword::IS,
    Keyword::AS,
];

impl CustomFilter {
    pub fn parse(text: &str) -> Result<CustomFilter, String> {
        let dialect = GenericDialect {};
        let tokens = Tokenizer::new(&dialect, text)
            .tokenize()
            .map_err(|e| format!("`{text}` does not parse as SQL: {e}"))?;
        let meaningful: Vec<&Token> = tokens
            .iter()
            .filter(|t| {
                !matches!(
                    t,
                    Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
                )
            })
            .collect();
        for (index, token) in meaningful.iter().enumerate() {
            let called = meaningful.get(index + 1) == Some(&&Token::LParen);
            match token {
                Token::SemiColon => {
                    return Err(format!("`{text}` contains `;`; give a single predicate"));
                }
                Token::Whitespace(
                    Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
                ) => {
                    return Err(format!("`{text}` contains a comment"));
                }
                Token::Word(word) if FORBIDDEN.contains(&word.keyword) => {
                    return Err(format!(
                        "`{text}` contains the keyword `{}`; only a predicate is allowed",
                        word.value
                    ));
                }
                Token::Word(word) if word.quote_style.is_some() => {
                    return Err(format!(
                        "`{text}` contains the quoted name `{}`; the warehouses read quotes differently (BigQuery takes `\"x\"` for a string): name columns unquoted",
                        word.value
                    ));
                }
                Token::Word(word)
                    if called
                        && !SYNTAX_BEFORE_PARENTHESIS.contains(&word.keyword)
                        && !FUNCTIONS.contains(&word.value.to_lowercase().as_str()) =>
                {
                    return Err(format!(
                        "`{text}` calls `{}`, which a filter may not; it may call {}",
                        word.value,
                        FUNCTIONS.join(", ")
                    ));
                }
                Token::SingleQuotedString(value) if value.contains('\\') => {
                    return Err(format!(
                        "`{text}` has a backslash in a string, which Snowflake, BigQuery and Databricks read as an escape and DuckDB does not; leave it out (for LIKE, use `_` or a second condition)"
                    ));
                }
                Token::Word(_)
                | Token::SingleQuotedString(_)
                | Token::Number(..)
                | Token::Comma
                | Token::LParen
                | Token::RParen
                | Token::Period
                | Token::Eq
                | Token::Neq
                | Token::Lt
                | Token::Gt
                | Token::LtEq
                | Token::GtEq
                | Token::Plus
                | Token::Minus
                | Token::Mul
                | Token::Div
                | Token::Mod
                | Token::StringConcat
                | Token::DoubleColon
                | Token::EOF
                | Token::Whitespace(_) => {}
                other => {
                    return Err(format!(
                        "`{text}` contains `{other}`, which a filter may not; use column names, numbers, '...' strings, comparisons and the listed functions"
                    ));
                }
            }
        }
        let mut parser = Parser::new(&dialect).with_tokens(tokens);
        let expression = parser
            .parse_expr()
            .map_err(|e| format!("`{text}` is not a SQL predicate: {e}"))?;
        if parser.peek_token().token != Token::EOF {
            return Err(format!("`{text}` has text after the predicate"));
        }
        Ok(CustomFilter { expression })
    }

    /// The predicate as SQL, printed from the parsed tree.
    pub fn to_sql(&self) -> String {
        self.expression.to_string()
    }

    /// The events-table columns the predicate names (lower case; the last part of a qualified
    /// name), each once.
    pub fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        let _ = sqlparser::ast::visit_expressions(&self.expression, |expr| {
            let name = match expr {
                Expr::Identifier(ident) => Some(ident),
                Expr::CompoundIdentifier(parts) => parts.last(),
                _ => None,
            };
            if let Some(name) = name.map(|n| n.value.to_lowercase())
                && !columns.contains(&name)
            {
                columns.push(name);
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_a_filter_names_are_listed_once() {
        let filter = CustomFilter::parse(
            "lower(App_Id) = 'web' AND (event_name IN ('a', 'b') OR app_id IS NULL) AND cast(br_viewwidth AS int) > 2",
        )
        .unwrap();
        assert_eq!(
            filter.columns(),
            ["app_id", "event_name", "br_viewwidth"].map(String::from)
        );
    }

    #[test]
    fn predicates_pass_and_are_reprinted() {
        let filter =
            CustomFilter::parse("event_name <> 'page_ping'  AND app_id LIKE 'web%'").unwrap();
        assert_eq!(
            filter.to_sql(),
            "event_name <> 'page_ping' AND app_id LIKE 'web%'"
        );
        for good in [
            "lower(app_id) IN ('web', 'mob') AND NOT (platform = 'srv')",
            "CAST(se_value AS DOUBLE) BETWEEN 1 AND 10 OR coalesce(user_id, '') <> ''",
            "derived_tstamp >= '2025-01-01' AND app_id = 'o''brien'",
            "CASE WHEN geo_country = 'NL' THEN 1 ELSE 0 END = 1",
        ] {
            assert!(
                CustomFilter::parse(good).is_ok(),
                "{good}: {:?}",
                CustomFilter::parse(good)
            );
        }
    }

    #[test]
    fn statements_comments_and_dml_are_refused() {
        for bad in [
            "1=1; drop table atomic.events",
            "1=1 -- sneaky",
            "1=1 /* x */",
            "event_id in (delete from x returning id)",
            "app_id = 'a') or (1=1",
            "",
            // read differently by a backslash-escaping warehouse
            r"c = 'x\' OR c = ') OR (1=1) --'",
            // a string on BigQuery, a column elsewhere
            "\"app_id\" = 'web'",
            "`app_id` = 'web'",
            // subqueries and table functions
            "event_id IN (SELECT event_id FROM atomic.events)",
            "EXISTS (SELECT 1)",
            "length(read_text('/etc/passwd')) > 0",
            "SYSTEM$WHITELIST() IS NOT NULL",
            "app_id = $$web$$",
            "app_id = E'web'",
        ] {
            assert!(CustomFilter::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
