CREATE TABLE IF NOT EXISTS {{ t.attributes }}{{ layout.attributes }} AS
SELECT fresh.*, CAST(NULL AS {{ timestamp }}) AS updated_at FROM {{ t.attributes_this_run }} AS fresh WHERE 1 = 0
