{#- the stored counts of the (key, date) pairs this window recomputed #}
{%- if subquery_predicates %}
DELETE FROM {{ t.value_counts }} stored
WHERE stored.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
  AND EXISTS (
    SELECT 1 FROM {{ t.daily_aggregates_this_run }} AS fresh
    WHERE fresh.attribute_key = stored.attribute_key AND fresh.event_date = stored.event_date
  )
{%- else %}
MERGE INTO {{ t.value_counts }} AS target
USING (SELECT attribute_key, event_date FROM {{ t.daily_aggregates_this_run }}) AS source
ON target.attribute_key = source.attribute_key AND target.event_date = source.event_date
WHEN MATCHED THEN DELETE
{%- endif %}
