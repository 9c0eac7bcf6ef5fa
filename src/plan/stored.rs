//! Compat mode's reading of values as the events table stores them (semantics.md 6.6): upstream
//! never converts a property, so its min and max order a Snowflake VARIANT string as text
//! (`max("99.5", "196") = "99.5"`) and numbers by value. A typed column cannot hold both orders,
//! so such an attribute reads its property twice, once per kind, and keeps both extremes.

use super::builder::Builder;
use super::naming::upstream_daily_name;
use super::{OutputColumn, Partial, Predicate, Stored};
use crate::error::{Error, Result};
use crate::project::group::{Aggregation, Attribute, Property, ValueType};

impl Builder {
    /// Compat mode's min/max read a property twice (semantics.md 6.6): the values the events
    /// table stores as numbers, as doubles, and those it stores as strings, as text.
    fn stored_column(&mut self, property: &Property, stored: Stored) -> String {
        let value_type = match stored {
            Stored::Number => ValueType::Double,
            Stored::Text => ValueType::Text,
        };
        self.column_of(property, value_type, Some(stored))
    }

    /// Compat mode's min/max of a numeric attribute (semantics.md 6.6): upstream orders the
    /// values as the events table stores them, numbers among numbers and strings among strings
    /// (`max("99.5", "196") = "99.5"`). The day keeps the extreme of each kind: the number one in
    /// the column upstream names, the text one beside it.
    pub(super) fn compat_extreme(
        &mut self,
        attribute: &Attribute,
        when: Predicate,
    ) -> Result<OutputColumn> {
        let property = attribute
            .property
            .as_ref()
            .ok_or_else(|| Error::invalid("property", "is required"))?;
        let number = self.stored_column(property, Stored::Number);
        let text = self.stored_column(property, Stored::Text);
        let event_names: Vec<&str> = attribute.events.iter().map(|e| e.name.as_str()).collect();
        let base = upstream_daily_name(
            attribute.aggregation,
            property.as_path(),
            &event_names,
            &attribute.criteria,
            &attribute.name,
        );
        let (number, text) = if attribute.aggregation == Aggregation::Min {
            (
                Partial::Min {
                    value: number,
                    when: when.clone(),
                },
                Partial::Min { value: text, when },
            )
        } else {
            (
                Partial::Max {
                    value: number,
                    when: when.clone(),
                },
                Partial::Max { value: text, when },
            )
        };
        let daily = self.daily_column(&base, number);
        let daily_text = self.daily_column(&format!("{base}_text"), text);
        Ok(OutputColumn {
            name: attribute.name.clone(),
            aggregation: attribute.aggregation,
            value_type: attribute.value_type,
            daily,
            daily_second: Some(daily_text),
            period_days: attribute.period_days,
            default_value: attribute.default_value.clone(),
            time_unit: None,
            counted: None,
        })
    }
}
