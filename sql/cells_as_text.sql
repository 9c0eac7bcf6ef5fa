{#- every cell of a query as text, keeping the column names (DuckDB) #}
SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({{ query }})
