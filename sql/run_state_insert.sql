INSERT INTO {{ t.run_state }} (semantics, plan_fingerprint, watermark, attributes_window_end, updated_at)
SELECT {{ semantics }}, {{ fingerprint }}, {{ watermark }}, {{ attributes_window_end }}, {{ now }}
