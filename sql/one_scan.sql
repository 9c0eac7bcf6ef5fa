WITH day_events AS (
{% include "base_events_select.sql" %}
), daily AS (
{% include "daily_select.sql" %}
)
{% include "attributes_select.sql" %}
