CREATE OR REPLACE {{ kind.daily_aggregation_manifest_this_run }} {{ t.daily_aggregation_manifest_this_run }}{{ layout.daily_aggregation_manifest_this_run }} AS
WITH touched AS (
  SELECT event_date, COUNT(*) AS run_events
  FROM {{ t.filtered_events_this_run }}
  WHERE event_date >= {{ start_date }}
  GROUP BY event_date
), processed AS (
  SELECT event_date FROM {{ t.days_to_process }} WHERE process_now
), dates AS (
  SELECT DISTINCT event_date FROM (
    SELECT event_date FROM touched
    UNION ALL
    SELECT event_date FROM processed
{%- if exact %}
    UNION ALL
    SELECT event_date FROM {{ t.days_to_process }}
{%- endif %}
  ) AS all_dates
), stored AS (
  SELECT event_date, COUNT(*) AS stored_events, MAX(load_tstamp) AS max_load_tstamp
  FROM {{ t.filtered_events }}
  WHERE event_date IN (SELECT event_date FROM processed)
  GROUP BY event_date
)
SELECT
  dates.event_date,
  {{ source_model }} AS source_model,
  CAST(CASE WHEN processed.event_date IS NOT NULL THEN stored.stored_events ELSE previous.processed_events END AS {{ integer }}) AS processed_events,
{%- if exact %}
  CAST(CASE WHEN processed.event_date IS NOT NULL THEN 0
       ELSE COALESCE(previous.skipped_events, 0) + COALESCE(touched.run_events, 0) END AS {{ integer }}) AS skipped_events,
{%- else %}
  CAST(COALESCE(previous.skipped_events, 0)
    + CASE WHEN processed.event_date IS NULL THEN COALESCE(touched.run_events, 0) ELSE 0 END AS {{ integer }}) AS skipped_events,
{%- endif %}
  CASE WHEN processed.event_date IS NOT NULL THEN stored.max_load_tstamp ELSE previous.max_load_tstamp END AS max_load_tstamp,
  {{ now }} AS last_updated_at
FROM dates
LEFT JOIN processed ON processed.event_date = dates.event_date
LEFT JOIN touched ON touched.event_date = dates.event_date
LEFT JOIN stored ON stored.event_date = dates.event_date
LEFT JOIN {{ t.daily_aggregation_manifest }} AS previous ON previous.event_date = dates.event_date
