CREATE OR REPLACE {{ kind.attributes_this_run }} {{ t.attributes_this_run }}{{ layout.attributes_this_run }} AS
{% include "attributes_select.sql" %}
{%- if moved %}
UNION ALL
SELECT
  keys.attribute_key AS {{ key }}
{%- for column in moved.outputs %},
  {{ column.expr }} AS {{ column.name }}
{%- endfor %}
FROM {{ t.attributes_keys }} AS keys
JOIN {{ t.attributes }} AS stored ON stored.{{ key }} = keys.attribute_key
LEFT JOIN (
  SELECT
    daily.attribute_key
{%- for column in moved.grouped %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
  FROM {{ daily_source }} AS daily
  WHERE daily.event_date >= {{ moved.from }} AND daily.event_date < {{ moved.to }}
    AND daily.attribute_key IN (SELECT attribute_key FROM {{ t.attributes_keys }} WHERE recompute = 0)
  GROUP BY daily.attribute_key
) AS grouped ON grouped.attribute_key = keys.attribute_key
WHERE keys.recompute = 0
{%- endif %}
