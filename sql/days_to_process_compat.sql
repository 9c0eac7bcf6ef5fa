CREATE OR REPLACE {{ kind.days_to_process }} {{ t.days_to_process }}{{ layout.days_to_process }} AS
WITH base AS (
  SELECT event_date, load_tstamp
  FROM {{ t.filtered_events_this_run }}
  WHERE event_date >= {{ start_date }}
), per_date AS (
  SELECT
    event_date,
    COUNT(*) AS event_count,
{%- if delayed_rule == "not_any_load_date" %}
    CASE WHEN event_date IN (SELECT {{ load_date }} FROM base) THEN 0 ELSE 1 END AS is_delayed
{%- else %}
    CASE WHEN SUM(CASE WHEN {{ load_date }} = event_date THEN 1 ELSE 0 END) = 0 THEN 1 ELSE 0 END AS is_delayed
{%- endif %}
  FROM base
  GROUP BY event_date
)
{%- if full_refresh %}
SELECT event_date, event_count, 0 AS skipped_events, event_count AS total_events, is_delayed = 1 AS is_delayed, TRUE AS process_now
FROM per_date
{%- else %}
SELECT
  per_date.event_date,
  per_date.event_count,
  COALESCE(manifest.skipped_events, 0) + CASE WHEN per_date.is_delayed = 1 THEN per_date.event_count ELSE 0 END AS skipped_events,
  per_date.event_count + COALESCE(manifest.skipped_events, 0) AS total_events,
  per_date.is_delayed = 1 AS is_delayed,
  TRUE AS process_now
FROM per_date
LEFT JOIN {{ t.daily_aggregation_manifest }} AS manifest ON manifest.event_date = per_date.event_date
WHERE COALESCE(manifest.skipped_events, 0) + CASE WHEN per_date.is_delayed = 1 THEN per_date.event_count ELSE 0 END >= {{ min_late_events }}
   OR per_date.is_delayed = 0
ORDER BY per_date.event_date DESC
LIMIT {{ max_dates }}
{%- endif %}
