DELETE FROM {{ t.daily_aggregates }}
{%- if compat %}
WHERE attribute_key_date_id IN (SELECT attribute_key_date_id FROM {{ t.daily_aggregates_this_run }})
{%- else %}
WHERE event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
{%- endif %}
