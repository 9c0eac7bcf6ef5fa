{#- the dedup order: the first-loaded copy of an event_id wins -#}
{%- set dedup_order = ["events.load_tstamp", "events.dvce_created_tstamp", "events.derived_tstamp", "events.event_name", key_value] -%}
{%- if ordered_dedup -%}
{#- exact mode: the candidates in the events table's order; only ids that occur more than once
    are ranked (`Dialect::ordered_dedup`). The event_id is never NULL here. -#}
WITH candidates AS (
SELECT
{%- for column in columns %}
  {{ column.expr }} AS {{ column.name }},
{%- endfor %}
  events.event_id AS sigbatch_dedup_id
{%- for column in dedup_order %},
  {{ column }} AS sigbatch_dedup_{{ loop.index }}
{%- endfor %}
{%- elif not qualify -%}
SELECT
{%- for column in columns %}
  {{ column.name }}{{ "," if not loop.last }}
{%- endfor %}
FROM (
SELECT
{%- for column in columns %}
  {{ column.expr }} AS {{ column.name }},
{%- endfor %}
  ROW_NUMBER() OVER (
    PARTITION BY events.event_id
    ORDER BY {{ dedup_order | join(", ") }}
  ) AS dedup_row
{%- else -%}
SELECT
{%- for column in columns %}
  {{ column.expr }} AS {{ column.name }}{{ "," if not loop.last }}
{%- endfor %}
{%- endif %}
FROM {{ events }} AS events
{%- if exact and stored_filter %}
{#- events already stored are dropped through a left join, not NOT EXISTS: DuckDB builds an anti
    join's hash table from every stored event_id, a left join from the smaller side. Only the
    renamed event_id shows, so a custom filter's unqualified names still mean the events'. #}
LEFT JOIN (
  SELECT event_id AS sigbatch_stored_event_id FROM {{ t.filtered_events }}
) AS stored ON stored.sigbatch_stored_event_id = events.event_id
{%- endif %}
WHERE {% include "base_events_where.sql" %}
{%- if ordered_dedup %}
), duplicated AS (
  SELECT sigbatch_dedup_id FROM candidates GROUP BY sigbatch_dedup_id HAVING COUNT(*) > 1
)
SELECT {{ columns | map(attribute="name") | join(", ") }}
FROM candidates
WHERE sigbatch_dedup_id NOT IN (SELECT sigbatch_dedup_id FROM duplicated)
UNION ALL
SELECT {{ columns | map(attribute="name") | join(", ") }}
FROM candidates
WHERE sigbatch_dedup_id IN (SELECT sigbatch_dedup_id FROM duplicated)
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY sigbatch_dedup_id
  ORDER BY {% for column in dedup_order %}sigbatch_dedup_{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
) = 1
{%- elif qualify %}
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY events.event_id
  ORDER BY {{ dedup_order | join(", ") }}
) = 1
{%- else %}
) AS deduplicated
WHERE dedup_row = 1
{%- endif %}
