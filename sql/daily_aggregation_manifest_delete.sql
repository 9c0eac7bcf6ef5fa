DELETE FROM {{ t.daily_aggregation_manifest }}
WHERE event_date IN (SELECT event_date FROM {{ t.daily_aggregation_manifest_this_run }})
