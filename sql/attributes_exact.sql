{#- lifetime outputs come from the stored partials, windowed ones from the windows' days #}
CREATE OR REPLACE {{ kind.attributes_this_run }} {{ t.attributes_this_run }}{{ layout.attributes_this_run }} AS
SELECT
  state.attribute_key AS {{ key }}
{%- for column in outputs %},
  {{ column.expr }} AS {{ column.name }}
{%- endfor %}
FROM {{ t.lifetime_partials }} AS state
{%- if changed_keys_only %}
JOIN {{ t.attributes_keys }} AS keys ON keys.attribute_key = state.attribute_key
{%- endif %}
{%- if grouped %}
LEFT JOIN (
  SELECT
    daily.attribute_key
{%- for column in grouped %},
    {{ column.expr }} AS {{ column.name }}
{%- endfor %}
  FROM {{ t.daily_aggregates }} AS daily
  WHERE daily.event_date >= {{ from }} AND daily.event_date < {{ to }}
{%- if changed_keys_only %}
    AND daily.attribute_key IN (SELECT attribute_key FROM {{ t.attributes_keys }})
{%- endif %}
  GROUP BY daily.attribute_key
) AS grouped ON grouped.attribute_key = state.attribute_key
{%- endif %}
