CREATE OR REPLACE {{ kind.filtered_events_this_run }} {{ t.filtered_events_this_run }}{{ layout.filtered_events_this_run }} AS
SELECT {{ columns | join(", ") }}
FROM {{ t.base_events_this_run }} AS events
WHERE {{ event_types }}
