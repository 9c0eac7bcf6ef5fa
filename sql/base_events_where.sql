{#- the conditions an events row must meet to be read (the load window's bounds among them when
    `window`); also OR-ed over the groups of a shared read (`shared_events.sql`) -#}
TRUE
{%- if shared %}
  AND events.sigbatch_kept
{%- endif %}
{%- if window %}
  AND events.load_tstamp {{ lower_operator }} {{ lower }}
  AND events.load_tstamp < {{ upper }}
{%- endif %}
{%- if app_ids %}
  AND events.app_id IN ({{ app_ids | join(", ") }})
{%- endif %}
{%- if events_to_include %}
  AND events.event_name IN ({{ events_to_include | join(", ") }})
{%- endif %}
{%- if custom_filter %}
  AND ({{ custom_filter }})
{%- endif %}
{%- if exact %}
  AND events.event_id IS NOT NULL
  AND {{ key_value }} IS NOT NULL
  AND {{ event_date }} >= {{ start_date }}
{%- if backfill_since %}
  AND events.derived_tstamp >= {{ backfill_since }}
{%- endif %}
{%- if event_types %}
  AND ({{ event_types }})
{%- endif %}
{%- if stored_filter %}
  AND stored.sigbatch_stored_event_id IS NULL
{%- endif %}
{%- endif %}
