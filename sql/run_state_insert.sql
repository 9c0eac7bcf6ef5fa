INSERT INTO {{ t.run_state }} (semantics, plan_fingerprint, watermark, updated_at)
SELECT {{ semantics }}, {{ fingerprint }}, {{ watermark }}, {{ now }}
