SELECT
  grouped.attribute_key AS {{ key }}
{%- for column in outputs %},
  {{ column.expr }} AS {{ column.name }}
{%- endfor %}
FROM (
  SELECT
    daily.attribute_key
{%- for column in grouped %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
  FROM {{ daily_source }} AS daily
  WHERE daily.attribute_key IS NOT NULL
{%- if changed_keys_only %}
    AND daily.attribute_key IN (SELECT attribute_key FROM {{ t.attributes_keys }} WHERE recompute = 1)
{%- endif %}
  GROUP BY daily.attribute_key
) AS grouped
