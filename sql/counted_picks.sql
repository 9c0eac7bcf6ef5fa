{#- the most and least frequent values of every counted output over one period (or the
    lifetime), one row per key, in one pass over the counts: each output's value is an arg-max
    over its slot's values by (count, or minus the count for the least frequent, then the last
    occurrence), which no two values of a key share, so the value's text is never reached as a
    tie-break #}
SELECT
  counts.attribute_key
{%- for pick in picks %},
  {{ pick.expr }} AS {{ pick.name }}
{%- endfor %}
FROM (
  {% include "counted_values.sql" %}
) AS counts
GROUP BY counts.attribute_key
