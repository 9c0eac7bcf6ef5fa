{#- the keys the refresh recomputes; `pending` (1) where their daily rows changed since the
    last refresh, so their lifetime outputs may differ (the others' are copied from their row) #}
CREATE OR REPLACE {{ kind.attributes_keys }} {{ t.attributes_keys }}{{ layout.attributes_keys }} AS
SELECT changed.attribute_key, MAX(changed.pending) AS pending
FROM (
  SELECT attribute_key, 1 AS pending FROM {{ t.attributes_pending }}
{%- if moved_dates %}
  UNION ALL
  SELECT daily.attribute_key, 0 AS pending FROM {{ t.daily_aggregates }} AS daily WHERE {{ moved_dates }}
{%- endif %}
{%- for keys in time_keys %}
  UNION ALL
  SELECT time_keys.attribute_key, 0 AS pending FROM ({{ keys }}) AS time_keys
{%- endfor %}
) AS changed
GROUP BY changed.attribute_key
