{#- compat replaces its dates' rows by id; exact replaces the (key, date) pairs it aggregated #}
{%- if subquery_predicates %}
DELETE FROM {{ t.daily_aggregates }}{% if not compat %} stored{% endif %}
{%- if compat %}
WHERE attribute_key_date_id IN (SELECT attribute_key_date_id FROM {{ t.daily_aggregates_this_run }})
{%- else %}
WHERE stored.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
  AND EXISTS (
    SELECT 1 FROM {{ t.daily_aggregates_this_run }} AS fresh
    WHERE fresh.attribute_key = stored.attribute_key AND fresh.event_date = stored.event_date
  )
{%- endif %}
{%- else %}
MERGE INTO {{ t.daily_aggregates }} AS target
{%- if compat %}
USING (SELECT DISTINCT attribute_key_date_id FROM {{ t.daily_aggregates_this_run }}) AS source
ON target.attribute_key_date_id = source.attribute_key_date_id
{%- else %}
USING (SELECT attribute_key, event_date FROM {{ t.daily_aggregates_this_run }}) AS source
ON target.attribute_key = source.attribute_key AND target.event_date = source.event_date
{%- endif %}
WHEN MATCHED THEN DELETE
{%- endif %}
