{#- the counts of the (key, date) pairs this window recomputes, from all their stored events
    (`pair_events_this_run`), with the value's last occurrence where a most/least frequent
    output breaks ties by it (`ranked`; a map or a count of values never does) #}
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
{%- if slot.ranked %}
  MAX(events.derived_tstamp) AS last_derived,
  {{ last_load }} AS last_load,
  {{ last_event_id }} AS last_event_id
{%- else %}
  CAST(NULL AS {{ timestamp }}) AS last_derived,
  CAST(NULL AS {{ timestamp }}) AS last_load,
  CAST(NULL AS {{ text }}) AS last_event_id
{%- endif %}
FROM {{ t.pair_events_this_run }} AS events
WHERE ({{ slot.when }})
  AND events.{{ slot.value }} IS NOT NULL
GROUP BY events.attribute_key, events.event_date, events.{{ slot.value }}
{%- endfor %}
