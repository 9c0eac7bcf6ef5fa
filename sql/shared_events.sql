{#- a workspace's shared read: every event of a load range, its load time and whether one of the
    groups keeps it (each group's conditions OR-ed); the other columns any group reads only for
    the rows some group keeps. A window's watermark, read from here, is what the events table
    would give. -#}
CREATE OR REPLACE {{ kind }} {{ relation }}{{ format }} AS
SELECT
{%- for column in columns %}
  CASE WHEN events.sigbatch_kept THEN events.{{ column }} END AS {{ column }},
{%- endfor %}
  events.load_tstamp,
  events.sigbatch_kept
FROM (
  SELECT
{%- for column in columns %}
    events.{{ column }},
{%- endfor %}
    events.load_tstamp,
    COALESCE({% for condition in conditions %}({{ condition }}){{ " OR " if not loop.last }}{% endfor %}, FALSE) AS sigbatch_kept
  FROM {{ events }} AS events
  WHERE events.load_tstamp >= {{ lower }}
    AND events.load_tstamp < {{ upper }}
) AS events
