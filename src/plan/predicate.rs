//! Typed predicates over filtered-events columns: the "matching event" conditions of attributes.
//!
//! Criteria become a `Predicate` tree holding column names and `Scalar` values, never SQL text;
//! the dialect renders it, quoting every value as a literal.

use crate::project::group::{EventRef, Scalar};

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Always,
    /// Upstream's per-attribute event match: the event name only.
    EventNameIn(Vec<String>),
    /// An event matches one of these types: name, and vendor/version where given.
    EventIs(Vec<EventRef>),
    /// `=`, `<`, `>`, `<=`, `>=`: false when the column is NULL.
    Compare {
        column: String,
        operator: &'static str,
        value: Scalar,
    },
    /// `!=`: true when the column is NULL.
    NotEqualOrNull {
        column: String,
        value: Scalar,
    },
    Like {
        column: String,
        pattern: String,
    },
    In {
        column: String,
        values: Vec<Scalar>,
    },
    IsNull {
        column: String,
    },
    IsNotNull {
        column: String,
    },
    All(Vec<Predicate>),
    Any(Vec<Predicate>),
}

impl Predicate {
    /// `All` of the parts, flattening trivial cases.
    pub fn all(parts: Vec<Predicate>) -> Predicate {
        let mut parts: Vec<Predicate> = parts
            .into_iter()
            .filter(|p| *p != Predicate::Always)
            .collect();
        match parts.len() {
            0 => Predicate::Always,
            1 => parts.pop().expect("one element"),
            _ => Predicate::All(parts),
        }
    }
}
