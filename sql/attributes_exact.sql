{#- lifetime outputs come from the stored partials (`state`), or, when no key's partials changed
    since the attributes table was built, from the key's stored row (`previous`); windowed ones
    are folded from their periods' days. With `changed`, the statement yields the next rows
    directly: the keys whose values differ from their stored row, stamped `now`; the values are
    computed once, in `fresh`, and compared outside it. #}
CREATE OR REPLACE {{ kind[into] }} {{ t[into] }}{{ layout[into] }} AS
{%- if changed %}
SELECT fresh.*
FROM (
{%- endif %}
SELECT
  {{ source_key }} AS {{ key }}
{%- for column in outputs %},
  {{ column.expr }} AS {{ column.name }}
{%- endfor %}
{%- if changed %},
  {{ now }} AS updated_at
{%- endif %}
FROM {{ source }}
{%- if changed_keys_only %}
JOIN {{ t.attributes_keys }} AS keys ON keys.attribute_key = {{ source_key }}
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
) AS grouped ON grouped.attribute_key = {{ source_key }}
{%- endif %}
{%- for column in counted %}
LEFT JOIN (
{{ column.sql }}
) AS {{ column.alias }} ON {{ column.alias }}.attribute_key = {{ source_key }}
{%- endfor %}
{%- if join_previous %}
LEFT JOIN {{ t.attributes }} AS previous ON previous.{{ key }} = {{ source_key }}
{%- endif %}
{%- if changed %}
) AS fresh
LEFT JOIN {{ t.attributes }} AS previous ON previous.{{ key }} = fresh.{{ key }}
WHERE {{ changed }}
{%- endif %}
