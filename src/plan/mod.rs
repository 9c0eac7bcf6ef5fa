//! The plan: attribute definitions turned into typed stage specs, with no SQL and no I/O.
//!
//! It decides which property columns `filtered_events` carries, which partial aggregates each
//! (key, day) row of `daily_aggregates` keeps, and how each output attribute is finished from
//! them. Exact and compat mode share this shape and differ only in the choices semantics.md lists
//! (per-attribute event matching, first/last rules, criteria combination, naming and order).

mod builder;
mod compat;
pub mod naming;
pub mod predicate;
mod stored;

use crate::error::{Error, Result};
use crate::project::group::{Aggregation, EventRef, Literal, Property, TimeUnit, ValueType};
use crate::project::property::PropertyPath;
use crate::project::{Project, Semantics, Vars};
use builder::Builder;
use naming::NameAllocator;
pub use predicate::Predicate;

/// Columns of `filtered_events` that exist whatever the attributes are.
pub const FIXED_EVENT_COLUMNS: &[&str] = &[
    "event_id",
    "attribute_key",
    "event_date",
    "derived_tstamp",
    "load_tstamp",
    "event_name",
    "event_vendor",
    "event_version",
    "attribute_key_date_id",
];

/// The layout of the stored tables; bumped when a sigbatch version changes it, so tables built
/// by an older version are rebuilt (the plan guard asks for `--full-refresh`) instead of misread.
const STATE_LAYOUT: u32 = 4;

#[derive(Debug, Clone)]
pub struct Plan {
    pub semantics: Semantics,
    pub project: String,
    /// The name of the key column in the attributes table (and the events column read as the
    /// key unless `key_property` says otherwise).
    pub key_column: String,
    /// Where the key is read from when it is not the events column `key_column`.
    pub key_property: Option<PropertyPath>,
    /// The union of every attribute's event types: the filter of `filtered_events`. Empty when
    /// an attribute reads every event.
    pub event_types: Vec<EventRef>,
    /// Events before it are not read (the group's `backfill_since_tstamp`).
    pub backfill_since: Option<chrono::NaiveDateTime>,
    pub properties: Vec<PropertyColumn>,
    pub daily: Vec<DailyColumn>,
    /// In output order.
    pub outputs: Vec<OutputColumn>,
    /// What the value-count tables count, by slot (`OutputColumn::counted`).
    pub counted: Vec<CountedValues>,
    pub vars: Vars,
}

/// A column of `filtered_events` holding one property extracted at one type.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyColumn {
    pub name: String,
    pub property: Property,
    pub value_type: ValueType,
    /// Compat mode's min/max keep only the values the events table stores as strings, or only
    /// those it stores as numbers (semantics.md 6.6); `None` keeps every value.
    pub stored: Option<Stored>,
}

/// How the events table stores a value: what upstream, which never converts a property,
/// orders it by (semantics.md 6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A JSON string in a JSON/VARIANT column, or a `STRING` field or column.
    Text,
    /// Anything else that converts to a number: a JSON number, a numeric field or column.
    Number,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailyColumn {
    pub name: String,
    pub partial: Partial,
}

/// One partial aggregate kept per (key, day).
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    Count {
        when: Predicate,
    },
    /// `else_zero`: unmatched events add 0 (upstream), so the day is 0 rather than NULL.
    Sum {
        value: String,
        when: Predicate,
        else_zero: bool,
    },
    Min {
        value: String,
        when: Predicate,
    },
    Max {
        value: String,
        when: Predicate,
    },
    /// Matching events with a non-NULL value: the denominator of an exact mean.
    ValueCount {
        value: String,
        when: Predicate,
    },
    /// `integers`: the attribute is an integer list, so `3.0` (numbers are read as doubles) is
    /// listed as `3`.
    UniqueList {
        value: String,
        when: Predicate,
        integers: bool,
    },
    /// The value of the day's earliest/latest event. `when: None` is upstream's rule (any event
    /// of the group, NULL values kept); `Some` takes matching events with a non-NULL value.
    First {
        value: String,
        when: Option<Predicate>,
    },
    Last {
        value: String,
        when: Option<Predicate>,
    },
    /// The `derived_tstamp` the First/Last value came from.
    FirstTstamp {
        value: String,
        when: Predicate,
    },
    LastTstamp {
        value: String,
        when: Predicate,
    },
    /// The `derived_tstamp` of the day's earliest/latest matching event (`time_since_*`).
    EarliestEvent {
        when: Predicate,
    },
    LatestEvent {
        when: Predicate,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub aggregation: Aggregation,
    pub value_type: ValueType,
    /// The daily column the output is folded from.
    pub daily: String,
    /// A second daily column: the value count for a mean, the timestamp for first/last, the
    /// extreme of the values stored as text for compat's min/max.
    pub daily_second: Option<String>,
    pub period_days: Option<u32>,
    pub default_value: Option<Literal>,
    /// `time_since_*`: the unit the time to "now" is counted in.
    pub time_unit: Option<TimeUnit>,
    /// Counted outputs (`most_frequent`, `least_frequent`, `category_count`): the position of
    /// their counts in the value-count tables (`Plan::counted`).
    pub counted: Option<usize>,
}

/// Values counted per (key, day, value) for an output: its property column and matching
/// events (`render/value_counts.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct CountedValues {
    pub value: String,
    pub when: Predicate,
}

impl Plan {
    pub fn build(project: &Project) -> Result<Plan> {
        let group = &project.group;
        let mode = project.semantics;
        let mut event_types: Vec<EventRef> = Vec::new();
        for attribute in &group.attributes {
            for event in &attribute.events {
                if !event_types.contains(event) {
                    event_types.push(event.clone());
                }
            }
        }
        if group.attributes.iter().any(|a| a.events.is_empty()) {
            // an attribute of every event: no event type filters what is read
            event_types.clear();
        }
        let mut builder = Builder {
            mode,
            properties: Vec::new(),
            property_names: NameAllocator::reserving(FIXED_EVENT_COLUMNS),
            daily: Vec::new(),
            daily_names: NameAllocator::reserving(&[
                "attribute_key",
                "event_date",
                "attribute_key_date_id",
                "last_event_tstamp",
            ]),
            counted: Vec::new(),
        };
        if mode == Semantics::Compat {
            compat::refuse_in_compat(group)?;
        }
        let mut outputs = Vec::new();
        for attribute in &group.attributes {
            let context = format!("attribute `{}`", attribute.name);
            let output = builder
                .attribute(attribute)
                .map_err(crate::error::in_context(&context))?;
            outputs.push(output);
        }
        if mode == Semantics::Compat {
            // key, first, windowed, lifetime, last, unique_list (upstream's attributes.j2 order)
            let rank = |o: &OutputColumn| match o.aggregation {
                Aggregation::First => 0,
                Aggregation::Last => 3,
                Aggregation::UniqueList => 4,
                _ if o.period_days.is_some() => 1,
                _ => 2,
            };
            outputs.sort_by_key(rank);
        }
        Ok(Plan {
            semantics: mode,
            project: project.name.clone(),
            key_column: group.key_column.clone(),
            key_property: group.key_property.clone(),
            event_types,
            backfill_since: group.backfill_since,
            properties: builder.properties,
            daily: builder.daily,
            outputs,
            counted: builder.counted,
            vars: project.vars.clone(),
        })
    }

    /// The end of the attribute periods for `today`: exclusive, so today itself is outside them
    /// unless `include_current_day_in_windows`.
    pub fn period_end(&self, today: chrono::NaiveDate) -> chrono::NaiveDate {
        if self.vars.include_current_day_in_windows {
            today + chrono::Days::new(1)
        } else {
            today
        }
    }

    /// The property columns as the fingerprint has always spelled them (plain paths were once the
    /// only kind), so a project's fingerprint survives the model gaining property kinds and
    /// columns gaining fields.
    fn properties_shape(&self) -> String {
        let columns: Vec<String> = self
            .properties
            .iter()
            .map(|p| {
                let column = match p.property.as_path() {
                    Some(path) => format!(
                        "PropertyColumn {{ name: {:?}, path: {path:?}, value_type: {:?} }}",
                        p.name, p.value_type
                    ),
                    None => format!(
                        "PropertyColumn {{ name: {:?}, property: {:?}, value_type: {:?} }}",
                        p.name, p.property, p.value_type
                    ),
                };
                // only compat's min/max columns say how they are stored, so every other
                // project's fingerprint stays as it was
                match p.stored {
                    Some(stored) => format!("{column}|{stored:?}"),
                    None => column,
                }
            })
            .collect();
        format!("[{}]", columns.join(", "))
    }

    /// What the current Signals model adds to the stored shape; empty for a group without it,
    /// so the fingerprints of existing projects stay as they were.
    fn current_model_shape(&self) -> String {
        if self.key_property.is_none() && self.backfill_since.is_none() && self.counted.is_empty() {
            return String::new();
        }
        format!(
            "|{:?}|{:?}|{:?}",
            self.key_property, self.backfill_since, self.counted
        )
    }

    /// Whether an output depends on the run's "now" (`time_since_*`), so the attributes are
    /// behind whenever time has passed.
    pub fn reads_now(&self) -> bool {
        self.outputs.iter().any(|o| o.time_unit.is_some())
    }

    /// A digest of everything that shapes the stored tables; a change means they must be rebuilt.
    pub fn fingerprint(&self) -> String {
        let shape = format!(
            "{STATE_LAYOUT}|{:?}|{}|{:?}|{}|{:?}|{:?}{}",
            self.semantics,
            self.key_column,
            self.event_types,
            self.properties_shape(),
            self.daily,
            self.outputs
                .iter()
                .map(|o| (&o.name, o.aggregation, o.period_days))
                .collect::<Vec<_>>(),
            self.current_model_shape(),
        );
        format!("{:016x}", fnv1a(shape.as_bytes()))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Error {
    fn internal_shape(what: &str) -> Error {
        Error::Internal(format!("plan: {what}"))
    }
}

#[cfg(test)]
mod tests;
