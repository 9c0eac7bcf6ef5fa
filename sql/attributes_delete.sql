{%- if subquery_predicates %}
DELETE FROM {{ t.attributes }}
WHERE {{ key }} IN (SELECT {{ key }} FROM {{ t.attributes_next }})
{%- else %}
MERGE INTO {{ t.attributes }} AS target
USING (SELECT DISTINCT {{ key }} FROM {{ t.attributes_next }}) AS source
ON target.{{ key }} = source.{{ key }}
WHEN MATCHED THEN DELETE
{%- endif %}
