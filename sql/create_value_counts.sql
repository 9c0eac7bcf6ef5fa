{#- the per-(key, day, value) counts of counted outputs' values (`slot`: which output's), with
    the value's last occurrence (derived, load, event id): most/least_frequent's tie-break #}
CREATE TABLE IF NOT EXISTS {{ table }} (
  attribute_key {{ text }},
{%- if daily %}
  event_date DATE,
{%- endif %}
  slot {{ integer }},
  value {{ text }},
  n {{ integer }},
  last_derived {{ timestamp }},
  last_load {{ timestamp }},
  last_event_id {{ text }}
){{ layout }}
