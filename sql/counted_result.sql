{#- one counted output per key: the values' counts over the output's period (or lifetime), then
    the most or least frequent value (ties: the value that occurred last, then its text), or the
    map of every value to its count #}
{#- `per_value`: the source holds one row per key and value already (the lifetime counts) #}
{%- set grouped -%}
  SELECT
    counts.attribute_key,
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
  WHERE {{ condition }}
{%- if changed_keys_only %}
    AND counts.attribute_key IN (SELECT attribute_key FROM {{ t.attributes_keys }}{% if pending_only %} WHERE pending = 1{% endif %})
{%- endif %}
{%- if not per_value %}
  GROUP BY counts.attribute_key, counts.value
{%- endif %}
{%- endset -%}
{%- if map or distinct %}
SELECT counted.attribute_key, {% if map %}{{ count_map }}{% else %}COUNT(*){% endif %} AS result
FROM (
{{ grouped }}
) AS counted
GROUP BY counted.attribute_key
{%- else %}
SELECT ranked.attribute_key, ranked.value AS result
FROM (
  SELECT
    counted.attribute_key,
    counted.value,
    ROW_NUMBER() OVER (
      PARTITION BY counted.attribute_key
      ORDER BY counted.n {{ "DESC" if most else "ASC" }}, counted.last_derived DESC, counted.last_load DESC, counted.last_event_id DESC, counted.value
    ) AS position
  FROM (
{{ grouped }}
  ) AS counted
) AS ranked
WHERE ranked.position = 1
{%- endif %}
