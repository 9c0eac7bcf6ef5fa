DELETE FROM {{ t.filtered_events }}
WHERE event_id IN (SELECT event_id FROM {{ t.filtered_events_this_run }})
  AND derived_tstamp BETWEEN (SELECT {{ lookback_lower }} FROM {{ t.filtered_events_this_run }})
                         AND (SELECT MAX(derived_tstamp) FROM {{ t.filtered_events_this_run }})
