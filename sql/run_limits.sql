CREATE OR REPLACE {{ kind.base_new_event_limits }} {{ t.base_new_event_limits }}{{ layout.base_new_event_limits }} AS
SELECT {{ lower }} AS lower_limit, {{ upper }} AS upper_limit
