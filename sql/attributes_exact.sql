CREATE OR REPLACE TABLE {{ t.attributes_this_run }} AS
WITH daily AS (
  SELECT
    daily.*
{%- for column in windows %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
  FROM {{ t.daily_aggregates }} AS daily
  WHERE daily.attribute_key IS NOT NULL
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
