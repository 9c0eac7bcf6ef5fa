{#- upstream's manifest summary (get_incremental_manifest_status_t): tracked models matched, distinct
    last_success values, their min and max, filtered_events' last success, the first success #}
SELECT COUNT(*), COUNT(DISTINCT last_success), {{ min_last_success }}, {{ max_last_success }}, {{ filtered_events_last_success }}, {{ min_first_success }} FROM {{ t.incremental_manifest }} WHERE model IN ({{ models | join(", ") }})
