CREATE TABLE IF NOT EXISTS {{ t.attributes_pending }} (
  attribute_key {{ text }}
){{ layout.attributes_pending }}
