INSERT INTO {{ target }} ({{ columns | join(", ") }})
SELECT {{ columns | join(", ") }} FROM {{ source }}
