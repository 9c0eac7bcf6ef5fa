WITH day_events AS (
  SELECT
    events.*
{%- for window in windows %},
    {{ window.expr }} AS {{ window.name }}
{%- endfor %}
  FROM {{ t.filtered_events }} AS events
{%- if shape_only %}
  WHERE 1 = 0
{%- else %}
  WHERE events.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
{%- if exact %}
    AND events.attribute_key IS NOT NULL
{%- endif %}
{%- endif %}
)
{% include "daily_select.sql" %}
