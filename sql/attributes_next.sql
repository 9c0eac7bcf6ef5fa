CREATE OR REPLACE {{ kind.attributes_next }} {{ t.attributes_next }}{{ layout.attributes_next }} AS
SELECT fresh.*, {{ now }} AS updated_at
FROM {{ t.attributes_this_run }} AS fresh
LEFT JOIN {{ t.attributes }} AS previous ON previous.{{ key }} = fresh.{{ key }}
WHERE previous.{{ key }} IS NULL
{%- for column in columns %}
   OR fresh.{{ column }} IS DISTINCT FROM previous.{{ column }}
{%- endfor %}
