{#- the rows of `target` whose key `source` holds: they are replaced by `source`'s #}
{%- if subquery_predicates %}
DELETE FROM {{ target }}
WHERE {{ key }} IN (SELECT {{ key }} FROM {{ source }})
{%- else %}
MERGE INTO {{ target }} AS target
USING (SELECT DISTINCT {{ key }} FROM {{ source }}) AS source
ON target.{{ key }} = source.{{ key }}
WHEN MATCHED THEN DELETE
{%- endif %}
