CREATE OR REPLACE {{ kind.lifetime_partials_this_run }} {{ t.lifetime_partials_this_run }}{{ layout.lifetime_partials_this_run }} AS
SELECT
  fresh.attribute_key
{%- for column in columns %},
  {{ column.merge }} AS {{ column.name }}
{%- endfor %}
FROM (
  {#- the recomputed pairs folded per key #}
  SELECT
    changed.attribute_key
{%- for column in columns %},
    {{ column.fold }} AS {{ column.name }}
{%- endfor %}
  FROM (
    SELECT fresh.attribute_key, 1 AS sign
{%- for column in columns %}, fresh.{{ column.name }}{% endfor %}
    FROM {{ t.daily_aggregates_this_run }} AS fresh
{%- if additive %}
    UNION ALL
    {#- the stored rows the recomputed pairs replace, subtracted from the additive partials #}
    SELECT stored.attribute_key, -1 AS sign
{%- for column in columns %}, stored.{{ column.name }}{% endfor %}
    FROM {{ t.daily_aggregates }} AS stored
    JOIN {{ t.daily_aggregates_this_run }} AS fresh
      ON fresh.attribute_key = stored.attribute_key AND fresh.event_date = stored.event_date
    WHERE stored.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
{%- endif %}
  ) AS changed
  GROUP BY changed.attribute_key
) AS fresh
LEFT JOIN {{ t.lifetime_partials }} AS state ON state.attribute_key = fresh.attribute_key
