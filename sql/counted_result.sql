{#- one counted output per key: the values' counts over the output's period (or lifetime), then
    the most or least frequent value (ties: the value that occurred last, then its text), or the
    map of every value to its count #}
{%- set grouped -%}
{% include "counted_values.sql" %}
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
