{#- the demo's five keys with the highest first attribute #}
SELECT * FROM {{ table }} ORDER BY {{ column }} DESC NULLS LAST, 1 LIMIT 5
