CREATE OR REPLACE {{ kind.base_events_this_run }} {{ t.base_events_this_run }}{{ layout.base_events_this_run }} AS
{% include "base_events_select.sql" %}
