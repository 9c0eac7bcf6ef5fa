CREATE OR REPLACE {{ kind.attributes_keys }} {{ t.attributes_keys }}{{ layout.attributes_keys }} AS
SELECT changed.attribute_key, MAX(changed.recompute) AS recompute
FROM (
  SELECT attribute_key, 1 AS recompute FROM {{ t.attributes_pending }}
{%- if moved_dates %}
  UNION ALL
  SELECT daily.attribute_key, CASE WHEN stored.{{ key }} IS NULL THEN 1 ELSE 0 END AS recompute
  FROM {{ t.daily_aggregates }} AS daily
  LEFT JOIN {{ t.attributes }} AS stored ON stored.{{ key }} = daily.attribute_key
  WHERE {{ moved_dates }}
{%- endif %}
) AS changed
GROUP BY changed.attribute_key
