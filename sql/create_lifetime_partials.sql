CREATE TABLE IF NOT EXISTS {{ t.lifetime_partials }}{{ layout.lifetime_partials }} AS
SELECT daily.attribute_key
{%- for column in columns %},
  daily.{{ column }}
{%- endfor %}
FROM {{ t.daily_aggregates }} AS daily
WHERE 1 = 0
