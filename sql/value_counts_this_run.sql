{#- the counts of the (key, date) pairs this window recomputes, from all their stored events #}
CREATE OR REPLACE {{ kind.value_counts_this_run }} {{ t.value_counts_this_run }}{{ layout.value_counts_this_run }} AS
{%- for slot in slots %}
{%- if not loop.first %}
UNION ALL
{%- endif %}
SELECT
  events.attribute_key,
  events.event_date,
  CAST({{ loop.index0 }} AS {{ integer }}) AS slot,
  events.{{ slot.value }} AS value,
  CAST(COUNT(*) AS {{ integer }}) AS n,
  MAX(events.derived_tstamp) AS last_derived,
  {{ last_load }} AS last_load,
  {{ last_event_id }} AS last_event_id
FROM {{ t.filtered_events }} AS events
JOIN {{ t.daily_aggregates_this_run }} AS pairs
  ON pairs.attribute_key = events.attribute_key AND pairs.event_date = events.event_date
WHERE events.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
  AND ({{ slot.when }})
  AND events.{{ slot.value }} IS NOT NULL
GROUP BY events.attribute_key, events.event_date, events.{{ slot.value }}
{%- endfor %}
