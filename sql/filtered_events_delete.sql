{%- if subquery_predicates %}
DELETE FROM {{ t.filtered_events }}
WHERE event_id IN (SELECT event_id FROM {{ t.filtered_events_this_run }})
  AND derived_tstamp BETWEEN (SELECT {{ lookback_lower }} FROM {{ t.filtered_events_this_run }})
                         AND (SELECT MAX(derived_tstamp) FROM {{ t.filtered_events_this_run }})
{%- else %}
MERGE INTO {{ t.filtered_events }} AS target
USING (
  SELECT DISTINCT this_run.event_id, bounds.lower_bound, bounds.upper_bound
  FROM {{ t.filtered_events_this_run }} AS this_run
  CROSS JOIN (
    SELECT {{ lookback_lower }} AS lower_bound, MAX(derived_tstamp) AS upper_bound
    FROM {{ t.filtered_events_this_run }}
  ) AS bounds
) AS source
ON target.event_id = source.event_id
  AND target.derived_tstamp BETWEEN source.lower_bound AND source.upper_bound
WHEN MATCHED THEN DELETE
{%- endif %}
