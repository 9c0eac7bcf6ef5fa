//! What compat mode refuses: the current Signals model's additions, which upstream never had.

use crate::error::{Error, Result};
use crate::project::group::AttributeGroup;

/// Compat mode reproduces snowplow-signals 0.4.2-0.4.4, which knew none of the current model's
/// additions: each is refused with the attribute and field named, rather than computed in a way
/// upstream never did.
pub(super) fn refuse_in_compat(group: &AttributeGroup) -> Result<()> {
    let refuse = |context: String, what: String| {
        Err(Error::invalid(
            context,
            format!("{what}, which upstream's batch engine did not have"),
        )
        .with_hint("compute it with `semantics: exact`"))
    };
    if group.key_property.is_some() {
        return refuse(
            "attribute_key".into(),
            "the key is read from a property".into(),
        );
    }
    if group.backfill_since.is_some() {
        return refuse(
            "backfill_since_tstamp".into(),
            "the group sets backfill_since_tstamp".into(),
        );
    }
    for attribute in &group.attributes {
        let context = format!("attribute `{}`", attribute.name);
        if !attribute.aggregation.known_upstream() {
            return refuse(
                format!("{context}: aggregation"),
                format!(
                    "`{}` is a current Signals aggregation",
                    attribute.aggregation.as_str()
                ),
            );
        }
        if attribute.events.is_empty() {
            return refuse(
                format!("{context}: events"),
                "an empty event list reads every event".into(),
            );
        }
        if let Some(property) = &attribute.property
            && property.as_path().is_none()
        {
            return refuse(
                format!("{context}: property"),
                format!("`{property}` is a calculated property or a date part"),
            );
        }
        for criterion in attribute.criteria.all.iter().chain(&attribute.criteria.any) {
            if criterion.property.as_path().is_none() {
                return refuse(
                    format!("{context}: criteria"),
                    format!(
                        "`{}` is a calculated property or a date part",
                        criterion.property
                    ),
                );
            }
            if criterion.value.is_none() {
                return refuse(
                    format!("{context}: criteria"),
                    format!("operator `{}`", criterion.operator.as_str()),
                );
            }
        }
    }
    Ok(())
}
