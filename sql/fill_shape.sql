CREATE {{ "TABLE IF NOT EXISTS" if persistent else "OR REPLACE TEMP TABLE" if temporary else "OR REPLACE TABLE" }} {{ table }}{{ layout }} AS
SELECT * FROM (
{{ query }}
) AS shape WHERE 1 = 0
