{#- the demo's closing summary: one row per attribute column (DuckDB's SUMMARIZE) #}
SELECT column_name AS attribute, column_type AS type, min, max, CASE WHEN avg IS NULL THEN '' ELSE printf('%.2f', TRY_CAST(avg AS DOUBLE)) END AS mean, count AS users, null_percentage AS null_pct FROM (SUMMARIZE SELECT * EXCLUDE (updated_at) FROM {{ table }})
