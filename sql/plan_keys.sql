WITH base AS (
{% include "base_events_select.sql" %}
)
SELECT COUNT(DISTINCT changed.attribute_key)
FROM (
  SELECT events.attribute_key FROM base AS events WHERE {{ new_on_processed }}
{%- if stored_on_processed %}
  UNION ALL
  SELECT stored.attribute_key FROM {{ t.filtered_events }} AS stored WHERE {{ stored_on_processed }}
{%- endif %}
{%- if pending %}
  UNION ALL
  SELECT pending.attribute_key FROM {{ t.attributes_pending }} AS pending
{%- endif %}
{%- if all_daily %}
  UNION ALL
  SELECT daily.attribute_key FROM {{ t.daily_aggregates }} AS daily
{%- endif %}
{%- if moved_dates %}
  UNION ALL
  SELECT daily.attribute_key FROM {{ t.daily_aggregates }} AS daily WHERE {{ moved_dates }}
{%- endif %}
{%- for keys in time_keys %}
  UNION ALL
  {{ keys }}
{%- endfor %}
) AS changed
WHERE changed.attribute_key IS NOT NULL
