INSERT INTO {{ t.run_state }} (semantics, plan_fingerprint, scanned_until, updated_at)
SELECT {{ semantics }}, {{ fingerprint }}, {{ scanned_until }}, {{ now }}
