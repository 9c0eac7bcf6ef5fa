CREATE TABLE IF NOT EXISTS {{ t.daily_aggregation_manifest }} (
  event_date DATE,
  source_model {{ text }},
  processed_events {{ integer }},
  skipped_events {{ integer }},
  max_load_tstamp {{ timestamp }},
  last_updated_at {{ timestamp }}
){{ layout.daily_aggregation_manifest }}
