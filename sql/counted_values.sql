{#- each key's counted values (with `slots`: of those slots, each value apart per slot) over a
    period or the lifetime: their counts and last occurrence, what most/least frequent,
    category_count and approx_count_distinct read. `per_value`: the source holds one row per key
    and value already (the lifetime counts) -#}
SELECT
    counts.attribute_key,
{%- if slots %}
    counts.slot,
{%- endif %}
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
  WHERE {% if slots %}counts.slot IN ({{ slots }}) AND {% endif %}{{ condition }}
{%- if changed_keys_only %}
    AND counts.attribute_key IN (SELECT attribute_key FROM {{ t.attributes_keys }}{% if pending_only %} WHERE pending = 1{% endif %})
{%- endif %}
{%- if not per_value %}
  GROUP BY counts.attribute_key{% if slots %}, counts.slot{% endif %}, counts.value
{%- endif %}
