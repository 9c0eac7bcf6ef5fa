CREATE TABLE IF NOT EXISTS {{ t.run_state }} (
  semantics {{ text }},
  plan_fingerprint {{ text }},
  watermark {{ timestamp }},
  watermark_events {{ integer }},
  attributes_window_end DATE,
  updated_at {{ timestamp }}
){{ layout.run_state }}
