{#- loads after the watermark, and loads at exactly the watermark instant, before cap #}
SELECT SUM(CASE WHEN load_tstamp > {{ at }} THEN 1 ELSE 0 END), SUM(CASE WHEN load_tstamp = {{ at }} THEN 1 ELSE 0 END) FROM {{ events }} WHERE load_tstamp >= {{ at }} AND load_tstamp < {{ cap }}
