CREATE TABLE IF NOT EXISTS {{ t.lease }} (
  lock_name {{ text }},
  holder {{ text }},
  host {{ text }},
  pid {{ integer }},
  since {{ timestamp }},
  expires {{ timestamp }},
  open_work {{ text }}
){{ layout.lease }}
