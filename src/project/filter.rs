//! `snowplow__custom_filter`: a user's SQL predicate, parsed rather than pasted.
//!
//! The text is parsed as one expression with sqlparser; a statement separator, a comment, or a
//! DML/DDL keyword anywhere in it is refused. What reaches the warehouse is the parsed expression
//! printed back by sqlparser, not the user's bytes.

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
];

impl CustomFilter {
    pub fn parse(text: &str) -> Result<CustomFilter, String> {
        let dialect = GenericDialect {};
        let tokens = Tokenizer::new(&dialect, text)
            .tokenize()
            .map_err(|e| format!("`{text}` does not parse as SQL: {e}"))?;
        for token in &tokens {
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
                _ => {}
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_pass_and_are_reprinted() {
        let filter =
            CustomFilter::parse("event_name <> 'page_ping'  AND app_id LIKE 'web%'").unwrap();
        assert_eq!(
            filter.to_sql(),
            "event_name <> 'page_ping' AND app_id LIKE 'web%'"
        );
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
        ] {
            assert!(CustomFilter::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
