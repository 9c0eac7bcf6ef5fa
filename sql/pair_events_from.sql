{#- where the events a window aggregates come from: the stored events of the process-now days,
    and in exact mode only those of the (key, date) pairs this run's events touched, or whole
    dates where events had been deferred (their pairs are not known any more); the branches are
    disjoint on event_date. A full refresh's first window touches every pair. #}
  FROM {{ t.filtered_events }} AS events
{%- if exact and not shape_only and not full_refresh %}
  JOIN (
    SELECT DISTINCT fresh.attribute_key, fresh.event_date
    FROM {{ t.filtered_events_this_run }} AS fresh
    WHERE fresh.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now AND NOT whole_date)
    UNION ALL
    SELECT DISTINCT stored.attribute_key, stored.event_date
    FROM {{ t.filtered_events }} AS stored
    WHERE stored.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now AND whole_date)
  ) AS pairs ON pairs.attribute_key = events.attribute_key AND pairs.event_date = events.event_date
{%- endif %}
{%- if shape_only %}
  WHERE 1 = 0
{%- else %}
  WHERE events.event_date IN (SELECT event_date FROM {{ t.days_to_process }} WHERE process_now)
{%- if exact %}
    AND events.attribute_key IS NOT NULL
{%- endif %}
{%- endif %}
