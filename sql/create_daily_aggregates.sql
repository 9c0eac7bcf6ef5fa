CREATE TABLE IF NOT EXISTS {{ t.daily_aggregates }}{{ layout.daily_aggregates }} AS
{% include "daily_from_stored_events.sql" %}
