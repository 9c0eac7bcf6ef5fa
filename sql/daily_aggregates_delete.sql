{%- set column = "attribute_key_date_id" if compat else "event_date" %}
{%- if subquery_predicates %}
DELETE FROM {{ t.daily_aggregates }}
{%- if compat %}
WHERE attribute_key_date_id IN (SELECT attribute_key_date_id FROM {{ t.daily_aggregates_this_run }})
{%- else %}
WHERE event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
{%- endif %}
{%- else %}
MERGE INTO {{ t.daily_aggregates }} AS target
{%- if compat %}
USING (SELECT DISTINCT attribute_key_date_id FROM {{ t.daily_aggregates_this_run }}) AS source
{%- else %}
USING (SELECT DISTINCT event_date FROM {{ t.days_to_process }} WHERE process_now) AS source
{%- endif %}
ON target.{{ column }} = source.{{ column }}
WHEN MATCHED THEN DELETE
{%- endif %}
