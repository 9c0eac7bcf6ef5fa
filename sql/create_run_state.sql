CREATE TABLE IF NOT EXISTS {{ t.run_state }} (
  semantics {{ text }},
  plan_fingerprint {{ text }},
  watermark {{ timestamp }},
  updated_at {{ timestamp }}
)
