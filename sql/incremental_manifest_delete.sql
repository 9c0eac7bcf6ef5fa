{%- if subquery_predicates %}
DELETE FROM {{ t.incremental_manifest }}
WHERE model IN (SELECT model FROM {{ t.incremental_manifest_this_run }})
{%- else %}
MERGE INTO {{ t.incremental_manifest }} AS target
USING (SELECT DISTINCT model FROM {{ t.incremental_manifest_this_run }}) AS source
ON target.model = source.model
WHEN MATCHED THEN DELETE
{%- endif %}
