CREATE OR REPLACE {{ kind.attributes }} {{ t.attributes }}{{ layout.attributes }} AS
WITH daily AS (
  SELECT * FROM {{ t.daily_aggregates }}
), first_last AS (
  SELECT DISTINCT
    attribute_key
{%- for column in first_last %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
  FROM daily
), grouped AS (
  SELECT
    attribute_key
{%- for column in grouped %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
  FROM daily
  GROUP BY attribute_key
)
SELECT
  grouped.attribute_key AS {{ key }}
{%- for column in outputs %},
  {{ column.expr }} AS {{ column.name }}
{%- endfor %}
FROM grouped
LEFT JOIN first_last ON first_last.attribute_key IS NOT DISTINCT FROM grouped.attribute_key
