{%- if subquery_predicates %}
DELETE FROM {{ t.daily_aggregation_manifest }}
WHERE event_date IN (SELECT event_date FROM {{ t.daily_aggregation_manifest_this_run }})
{%- else %}
MERGE INTO {{ t.daily_aggregation_manifest }} AS target
USING (SELECT DISTINCT event_date FROM {{ t.daily_aggregation_manifest_this_run }}) AS source
ON target.event_date = source.event_date
WHEN MATCHED THEN DELETE
{%- endif %}
