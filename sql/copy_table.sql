CREATE OR REPLACE TABLE {{ target }} AS
SELECT * FROM {{ source }}
