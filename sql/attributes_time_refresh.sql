{#- the stored rows whose lifetime `time_since_*` values moved with "now" alone: each value
    recomputed from the key's stored extreme timestamp (its lifetime partial), and `updated_at`
    stamped, for the rows whose values differ; the rows the refresh just wrote never do #}
{%- if update_from %}
UPDATE {{ t.attributes }} AS previous
SET
{%- for column in columns %}
  {{ column.name }} = {{ column.expr }},
{%- endfor %}
  updated_at = {{ now }}
FROM {{ t.lifetime_partials }} AS state
WHERE state.attribute_key = previous.{{ key }}
  AND ({{ changed }})
{%- else %}
MERGE INTO {{ t.attributes }} AS previous
USING {{ t.lifetime_partials }} AS state
ON state.attribute_key = previous.{{ key }}
WHEN MATCHED AND ({{ changed }}) THEN UPDATE SET
{%- for column in columns %}
  {{ column.name }} = {{ column.expr }},
{%- endfor %}
  updated_at = {{ now }}
{%- endif %}
