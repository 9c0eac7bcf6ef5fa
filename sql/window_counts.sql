{#- what a committed window read: its events, and the event dates it aggregated #}
SELECT (SELECT COUNT(*) FROM {{ t.filtered_events_this_run }}), (SELECT COUNT(*) FROM {{ t.days_to_process }} WHERE process_now)
