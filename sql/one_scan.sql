WITH day_events AS (
{% include "base_events_select.sql" %}
), daily AS (
{% include "daily_select.sql" %}
)
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
  FROM daily AS daily
  WHERE daily.attribute_key IS NOT NULL
  GROUP BY daily.attribute_key
) AS grouped
{%- for column in counted %}
LEFT JOIN (
{{ column.sql }}
) AS {{ column.alias }} ON {{ column.alias }}.attribute_key = grouped.attribute_key
{%- endfor %}
