INSERT INTO {{ target }} ({{ columns | join(", ") }})
SELECT {{ columns | join(", ") }} FROM {{ source }}
{%- if order_by %}
ORDER BY {{ order_by | join(", ") }}
{%- endif %}
