SELECT
{%- if compat %}
  attribute_key_date_id,
{%- endif %}
  attribute_key,
  event_date,
{%- for column in daily_columns %}
  {{ column.expr }} AS {{ column.name }},
{%- endfor %}
  MAX(derived_tstamp) AS last_event_tstamp
FROM day_events AS events
GROUP BY {% if compat %}attribute_key_date_id, {% endif %}attribute_key, event_date
