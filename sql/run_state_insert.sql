INSERT INTO {{ t.run_state }} (semantics, plan_fingerprint, watermark, watermark_events, attributes_window_end, updated_at)
SELECT {{ semantics }} AS semantics, {{ fingerprint }} AS plan_fingerprint, watermark, (SELECT COUNT(*) FROM {{ events }} WHERE load_tstamp = watermark) AS watermark_events, {{ attributes_window_end }} AS attributes_window_end, {{ now }} AS updated_at
FROM (SELECT {{ watermark }} AS watermark) AS next_state
