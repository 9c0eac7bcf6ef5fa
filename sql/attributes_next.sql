CREATE OR REPLACE TABLE {{ t.attributes_next }} AS
SELECT
  fresh.*,
  CASE
    WHEN previous.{{ key }} IS NOT NULL
{%- for column in columns %}
     AND fresh.{{ column }} IS NOT DISTINCT FROM previous.{{ column }}
{%- endfor %}
    THEN previous.updated_at
    ELSE {{ now }}
  END AS updated_at
FROM {{ t.attributes_this_run }} AS fresh
LEFT JOIN {{ t.attributes }} AS previous ON previous.{{ key }} = fresh.{{ key }}
