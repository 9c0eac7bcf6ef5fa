//! Counted outputs (`most_frequent`, `least_frequent`, `category_count`; semantics.md 2.5, 2.6): a
//! count per (key, day, value) in `<project>_sigbatch_value_counts`, and per (key, value) over
//! the key's lifetime in `<project>_sigbatch_lifetime_value_counts`, each with the value's last
//! occurrence. A window recomputes the counts of the (key, date) pairs its events touched, as the
//! daily partials are, and merges what they changed into the lifetime counts of the (key, value)s
//! they hold (add the recomputed pairs, subtract the rows they replace; a key's other values are
//! not rewritten). The attributes stage reads a windowed
//! output's days, or a lifetime output's lifetime counts, for the keys it refreshes only.

use serde_json::json;

use super::context::Lifetime;
use super::expr::{self, Periods};
use super::writer::StageWriter;
use crate::dialect::OrderKey;
use crate::error::Result;
use crate::plan::OutputColumn;
use crate::project::group::Aggregation;

/// The last occurrence of a value over rows with `derived`, `load` and `event_id` columns under
/// `alias`: (load time, event id) of the greatest (derived, load, event id).
fn last_occurrence(
    w: &StageWriter<'_>,
    alias: &str,
    derived: &str,
    load: &str,
    id: &str,
) -> (String, String) {
    let d = w.dialect;
    let (derived, load, id) = (
        format!("{alias}.{derived}"),
        format!("{alias}.{load}"),
        format!("{alias}.{id}"),
    );
    let timestamps = [derived.as_str(), load.as_str()];
    let order = OrderKey {
        timestamps: &timestamps,
        tie_break: Some(&id),
    };
    let condition = format!("{id} IS NOT NULL");
    (
        d.value_at_extreme(false, &load, &condition, &order),
        d.value_at_extreme(false, &id, &condition, &order),
    )
}

/// Setup: the two stored count tables.
pub(super) fn create(w: &mut StageWriter<'_>) -> Result<()> {
    for (table, daily) in [("value_counts", true), ("lifetime_value_counts", false)] {
        let context = json!({
            "table": w.tables.get(table),
            "layout": w.tables.layout(table),
            "daily": daily,
        });
        w.emit("create_value_counts.sql", context)?;
    }
    Ok(())
}

/// A window's counts: the recomputed pairs' counts, merged into the lifetime counts (before the
/// rows they replace are deleted), then stored in place of those rows.
pub(super) fn refresh(w: &mut StageWriter<'_>) -> Result<()> {
    let d = w.dialect;
    let slots: Vec<_> = w
        .plan
        .counted
        .iter()
        .enumerate()
        .map(|(slot, c)| {
            json!({
                "value": d.ident(&c.value),
                "when": expr::predicate(d, &c.when, "events"),
                "ranked": ranked(w, slot),
            })
        })
        .collect();
    let (last_load, last_event_id) =
        last_occurrence(w, "events", "derived_tstamp", "load_tstamp", "event_id");
    w.emit(
        "value_counts_this_run.sql",
        json!({"slots": slots, "last_load": last_load, "last_event_id": last_event_id}),
    )?;
    let columns = [
        "attribute_key",
        "slot",
        "value",
        "n",
        "last_derived",
        "last_load",
        "last_event_id",
    ];
    let lifetime_slots = lifetime_slots(w);
    if !lifetime_slots.is_empty() {
        let (last_load, last_event_id) =
            last_occurrence(w, "counts", "last_derived", "last_load", "last_event_id");
        w.emit(
            "lifetime_value_counts_this_run.sql",
            json!({
                "last_load": last_load,
                "last_event_id": last_event_id,
                "slots": lifetime_slots.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
                "row_locator": d.row_locator(),
            }),
        )?;
        // only the (key, slot, value)s the window's events hold are rewritten, not all of a key's
        w.emit(
            "lifetime_value_counts_delete.sql",
            json!({"row_locator": d.row_locator()}),
        )?;
        let (target, source) = (
            w.tables.get("lifetime_value_counts").to_string(),
            w.tables.get("lifetime_value_counts_this_run").to_string(),
        );
        // a key's rows side by side: every read of them is by key, and a key's repeated text
        // then compresses to little, which is most of what a scan of the table costs
        w.insert_ordered(
            &target,
            &source,
            &columns,
            &["attribute_key", "slot", "value"],
        )?;
    }
    w.emit("value_counts_delete.sql", json!({}))?;
    let mut daily_columns = columns.to_vec();
    daily_columns.insert(1, "event_date");
    let (target, source) = (
        w.tables.get("value_counts").to_string(),
        w.tables.get("value_counts_this_run").to_string(),
    );
    w.insert_ordered(&target, &source, &daily_columns, &["event_date"])
}

/// Whether a most/least frequent output reads `slot`, and so breaks ties by its values' last
/// occurrence; the other counted outputs (maps, counts of values) read the counts alone.
fn ranked(w: &StageWriter<'_>, slot: usize) -> bool {
    w.plan.outputs.iter().any(|output| {
        output.counted == Some(slot)
            && matches!(
                output.aggregation,
                Aggregation::MostFrequent | Aggregation::LeastFrequent
            )
    })
}

/// The slots a lifetime output reads: only those have lifetime counts (a slot of windowed
/// outputs alone is read from the daily counts).
fn lifetime_slots(w: &StageWriter<'_>) -> Vec<usize> {
    let mut slots: Vec<usize> = w
        .plan
        .outputs
        .iter()
        .filter(|output| output.period_days.is_none())
        .filter_map(|output| output.counted)
        .collect();
    slots.sort_unstable();
    slots.dedup();
    slots
}

/// The query giving one counted output's value per key (`attribute_key`, `result`), from the
/// stored counts, or (`Lifetime::Folded`, the one-scan query) from the events themselves.
pub(super) fn result(
    w: &StageWriter<'_>,
    output: &OutputColumn,
    slot: usize,
    lifetime: Lifetime,
) -> Result<String> {
    let d = w.dialect;
    let periods = Periods {
        end: w.plan.period_end(w.spec.today),
    };
    let in_period = periods.condition_on(d, "counts.event_date", output.period_days, true);
    let per_value = lifetime != Lifetime::Folded && output.period_days.is_none();
    let (source, condition) = if lifetime == Lifetime::Folded {
        let counted = &w.plan.counted[slot];
        let value = format!("events.{}", d.ident(&counted.value));
        let events = format!(
            "(SELECT events.attribute_key, events.event_date, {value} AS value, 1 AS n, events.derived_tstamp AS last_derived, events.load_tstamp AS last_load, events.event_id AS last_event_id FROM day_events AS events WHERE ({}) AND {value} IS NOT NULL)",
            expr::predicate(d, &counted.when, "events")
        );
        (events, in_period)
    } else {
        let slot_is = format!("counts.slot = {slot}");
        match output.period_days {
            None => (w.tables.get("lifetime_value_counts").to_string(), slot_is),
            Some(_) => (
                w.tables.get("value_counts").to_string(),
                format!("{slot_is} AND {in_period}"),
            ),
        }
    };
    let (last_load, last_event_id) =
        last_occurrence(w, "counts", "last_derived", "last_load", "last_event_id");
    let changed_keys_only = lifetime != Lifetime::Folded && w.spec.stored_period_end.is_some();
    let context = json!({
        "source": source,
        // one slot, which `condition` names
        "slots": null,
        "condition": condition,
        "changed_keys_only": changed_keys_only,
        // a lifetime output of a key whose counts did not change is copied from its row
        "pending_only": changed_keys_only && output.period_days.is_none(),
        "last_load": last_load,
        "last_event_id": last_event_id,
        "per_value": per_value,
        "map": output.aggregation == Aggregation::CategoryCount,
        "distinct": output.aggregation == Aggregation::ApproxCountDistinct,
        "most": output.aggregation == Aggregation::MostFrequent,
        "count_map": d.count_map("counted.value", "counted.n"),
    });
    w.fragment("counted_result.sql", context)
}

/// One most/least frequent or approx_count_distinct output of [`picks`]: its slot, its
/// aggregation and the (quoted) column it is given.
pub(super) struct Pick {
    pub slot: usize,
    pub aggregation: Aggregation,
    pub column: String,
}

/// The query giving the most/least frequent and approx_count_distinct outputs over one period (`None`: the lifetime) per
/// refreshed key, one column each, in one pass over the stored counts (`counted_picks.sql`).
pub(super) fn picks(
    w: &StageWriter<'_>,
    period_days: Option<u32>,
    picks: &[Pick],
) -> Result<String> {
    let d = w.dialect;
    let periods = Periods {
        end: w.plan.period_end(w.spec.today),
    };
    let (last_load, last_event_id) =
        last_occurrence(w, "counts", "last_derived", "last_load", "last_event_id");
    let timestamps = ["counts.last_derived", "counts.last_load"];
    let order = OrderKey {
        timestamps: &timestamps,
        tie_break: Some("counts.last_event_id"),
    };
    let columns: Vec<_> = picks
        .iter()
        .map(|pick| {
            let condition = format!("counts.slot = {}", pick.slot);
            let expr = match pick.aggregation {
                // one row per distinct value of the slot
                Aggregation::ApproxCountDistinct => {
                    format!("COUNT(CASE WHEN {condition} THEN 1 END)")
                }
                Aggregation::LeastFrequent => {
                    d.value_at_highest_rank("counts.value", &condition, "-counts.n", &order)
                }
                _ => d.value_at_highest_rank("counts.value", &condition, "counts.n", &order),
            };
            json!({"name": pick.column, "expr": expr})
        })
        .collect();
    let mut slots: Vec<usize> = picks.iter().map(|p| p.slot).collect();
    slots.sort_unstable();
    slots.dedup();
    let slots: Vec<String> = slots.iter().map(usize::to_string).collect();
    let (source, per_value) = match period_days {
        None => (w.tables.get("lifetime_value_counts"), true),
        Some(_) => (w.tables.get("value_counts"), false),
    };
    w.fragment(
        "counted_picks.sql",
        json!({
            "picks": columns,
            "source": source,
            "per_value": per_value,
            "slots": slots.join(", "),
            "condition": periods.condition_on(d, "counts.event_date", period_days, true),
            "changed_keys_only": w.spec.stored_period_end.is_some(),
            // a lifetime output of a key whose counts did not change is copied from its row
            "pending_only": per_value,
            "last_load": last_load,
            "last_event_id": last_event_id,
        }),
    )
}
