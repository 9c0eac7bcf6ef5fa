WITH base AS (
{% include "base_events_select.sql" %}
)
SELECT
  CASE
{%- for upper in uppers %}
    WHEN events.load_tstamp < {{ upper }} THEN {{ loop.index }}
{%- endfor %}
  END AS window_index,
  {{ event_date_text }} AS event_date,
  COUNT(*) AS events
FROM base AS events
{%- if compat %}
WHERE {{ compat_event_types }}
{%- endif %}
GROUP BY 1, 2
ORDER BY 1, 2
