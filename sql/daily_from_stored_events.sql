WITH day_events AS (
  SELECT
    events.*
{%- for column in window_columns %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
{%- if pair_events %}
  FROM {{ t.pair_events_this_run }} AS events
{%- else %}
{%- include "pair_events_from.sql" %}
{%- endif %}
)
{% include "daily_select.sql" %}
