CREATE OR REPLACE {{ kind.daily_aggregates_this_run }} {{ t.daily_aggregates_this_run }}{{ layout.daily_aggregates_this_run }} AS
{% include "daily_from_stored_events.sql" %}
