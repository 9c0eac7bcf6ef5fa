CREATE OR REPLACE TABLE {{ t.filtered_events_this_run }} AS
SELECT
{%- for column in columns %}
  {{ column.expr }} AS {{ column.name }}{{ "," if not loop.last }}
{%- endfor %}
FROM {{ t.base_events_this_run }} AS events
WHERE {{ event_types }}
