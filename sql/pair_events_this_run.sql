{#- the events a window aggregates, kept once where more than one statement reads them (the
    daily rows and the value counts) #}
CREATE OR REPLACE {{ kind.pair_events_this_run }} {{ t.pair_events_this_run }}{{ layout.pair_events_this_run }} AS
SELECT events.*
{%- include "pair_events_from.sql" %}
