{#- the run state row; a column an older layout lacks reads as NULL #}
SELECT semantics, plan_fingerprint, {{ watermark }}, {{ attributes_window_end }}, {{ watermark_events }}, {{ updated_at }} FROM {{ t.run_state }}
