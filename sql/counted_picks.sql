{#- the most and least frequent values of every counted output over one period (or the
    lifetime), one row per key, in one pass over the counts: each output's value is an arg-max
    over its slot's values by (count, or minus the count for the least frequent, then the last
    occurrence), which no two values of a key share, so the value's text is never reached as a
    tie-break #}
{#- `per_value`: the source holds one row per key and value already (the lifetime counts) #}
SELECT
  counts.attribute_key
{%- for pick in picks %},
  {{ pick.expr }} AS {{ pick.name }}
{%- endfor %}
FROM (
  SELECT
    counts.attribute_key,
    counts.slot,
    counts.value,
{%- if per_value %}
    counts.n,
    counts.last_derived,
    counts.last_load,
    counts.last_event_id
{%- else %}
    CAST(SUM(counts.n) AS {{ integer }}) AS n,
    MAX(counts.last_derived) AS last_derived,
    {{ last_load }} AS last_load,
    {{ last_event_id }} AS last_event_id
{%- endif %}
  FROM {{ source }} AS counts
  WHERE counts.slot IN ({{ slots }}) AND {{ condition }}
{%- if changed_keys_only %}
    AND counts.attribute_key IN (SELECT attribute_key FROM {{ t.attributes_keys }}{% if pending_only %} WHERE pending = 1{% endif %})
{%- endif %}
{%- if not per_value %}
  GROUP BY counts.attribute_key, counts.slot, counts.value
{%- endif %}
) AS counts
GROUP BY counts.attribute_key
