CREATE TABLE IF NOT EXISTS {{ t.run_state }} (
  semantics {{ text }},
  plan_fingerprint {{ text }},
  scanned_until {{ timestamp }},
  updated_at {{ timestamp }}
)
