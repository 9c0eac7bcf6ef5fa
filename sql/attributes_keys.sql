CREATE OR REPLACE {{ kind.attributes_keys }} {{ t.attributes_keys }}{{ layout.attributes_keys }} AS
SELECT DISTINCT changed.attribute_key
FROM (
  SELECT attribute_key FROM {{ t.attributes_pending }}
{%- if moved_dates %}
  UNION ALL
  SELECT daily.attribute_key FROM {{ t.daily_aggregates }} AS daily WHERE {{ moved_dates }}
{%- endif %}
{%- for keys in time_keys %}
  UNION ALL
  {{ keys }}
{%- endfor %}
) AS changed
