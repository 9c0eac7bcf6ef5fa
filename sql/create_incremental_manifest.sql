CREATE TABLE IF NOT EXISTS {{ t.incremental_manifest }} (
  model {{ text }},
  first_success {{ timestamp }},
  last_success {{ timestamp }}
){{ layout.incremental_manifest }}
