CREATE TABLE IF NOT EXISTS {{ t.daily_aggregates }} AS
WITH day_events AS (
  SELECT
    events.*
{%- for window in windows %},
    {{ window.expr }} AS {{ window.name }}
{%- endfor %}
  FROM {{ t.filtered_events }} AS events
  WHERE 1 = 0
)
{% include "daily_select.sql" %}
