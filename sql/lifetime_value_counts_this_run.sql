{#- the lifetime counts of the (key, slot, value)s this window's recomputed pairs hold, in the
    `slots` a lifetime output reads: the stored count, plus the recomputed pairs, minus the rows
    they replace (counts only ever grow, so none reaches 0; a row that would is dropped). With a
    `row_locator`, `stored_row` names the stored row each one replaces, for the delete #}
CREATE OR REPLACE {{ kind.lifetime_value_counts_this_run }} {{ t.lifetime_value_counts_this_run }}{{ layout.lifetime_value_counts_this_run }} AS
WITH changed AS (
  SELECT fresh.attribute_key, fresh.slot, fresh.value, fresh.n, fresh.last_derived, fresh.last_load, fresh.last_event_id
  FROM {{ t.value_counts_this_run }} AS fresh
  WHERE fresh.slot IN ({{ slots }})
  UNION ALL
  SELECT stored.attribute_key, stored.slot, stored.value, -stored.n, stored.last_derived, stored.last_load, stored.last_event_id
  FROM {{ t.value_counts }} AS stored
  JOIN {{ t.daily_aggregates_this_run }} AS pairs
    ON pairs.attribute_key = stored.attribute_key AND pairs.event_date = stored.event_date
  WHERE stored.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
    AND stored.slot IN ({{ slots }})
)
SELECT
  counts.attribute_key,
  counts.slot,
  counts.value,
  CAST(SUM(counts.n) AS {{ integer }}) AS n,
  MAX(counts.last_derived) AS last_derived,
  {{ last_load }} AS last_load,
  {{ last_event_id }} AS last_event_id
{%- if row_locator %},
  MAX(counts.stored_row) AS stored_row
{%- endif %}
FROM (
  SELECT changed.*{% if row_locator %}, CAST(NULL AS {{ integer }}) AS stored_row{% endif %} FROM changed
  UNION ALL
  SELECT state.attribute_key, state.slot, state.value, state.n, state.last_derived, state.last_load, state.last_event_id{% if row_locator %}, state.{{ row_locator }} AS stored_row{% endif %}
  FROM {{ t.lifetime_value_counts }} AS state
  JOIN (SELECT DISTINCT attribute_key, slot, value FROM changed) AS touched
    ON touched.attribute_key = state.attribute_key AND touched.slot = state.slot AND touched.value = state.value
) AS counts
GROUP BY counts.attribute_key, counts.slot, counts.value
HAVING SUM(counts.n) > 0
