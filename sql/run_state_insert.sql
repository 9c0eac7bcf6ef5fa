INSERT INTO {{ t.run_state }} (semantics, plan_fingerprint, watermark, watermark_events, attributes_window_end, updated_at)
SELECT {{ semantics }}, {{ fingerprint }}, watermark, (SELECT COUNT(*) FROM {{ events }} WHERE load_tstamp = watermark), {{ attributes_window_end }}, {{ now }}
FROM (SELECT {{ watermark }} AS watermark) AS next_state
