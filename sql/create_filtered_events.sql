CREATE TABLE IF NOT EXISTS {{ t.filtered_events }} (
{%- for column in columns %}
  {{ column.name }} {{ column.type }}{{ "," if not loop.last }}
{%- endfor %}
){{ layout.filtered_events }}
