CREATE OR REPLACE {{ kind.days_to_process }} {{ t.days_to_process }}{{ layout.days_to_process }} AS
WITH touched AS (
  SELECT event_date, COUNT(*) AS event_count
  FROM {{ t.filtered_events_this_run }}
  WHERE event_date >= {{ start_date }}
  GROUP BY event_date
), deferred AS (
  SELECT event_date, skipped_events
  FROM {{ t.daily_aggregation_manifest }}
  WHERE skipped_events > 0
), candidates AS (
  SELECT
    COALESCE(touched.event_date, deferred.event_date) AS event_date,
    COALESCE(touched.event_count, 0) AS event_count,
    COALESCE(deferred.skipped_events, 0) + COALESCE(touched.event_count, 0) AS pending_events
  FROM touched
  FULL OUTER JOIN deferred ON deferred.event_date = touched.event_date
)
SELECT
  event_date,
  event_count,
  pending_events,
  -- deferred events are counted, not listed: such a date is aggregated whole
  pending_events > event_count AS whole_date,
{%- if full_refresh %}
  TRUE AS process_now
{%- else %}
  (event_date >= (SELECT {{ newest_minus_lookback }} FROM touched) OR pending_events >= {{ min_late_events }}) AS process_now
{%- endif %}
FROM candidates
