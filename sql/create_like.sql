CREATE TABLE IF NOT EXISTS {{ target }} AS
SELECT * FROM {{ source }} WHERE 1 = 0
