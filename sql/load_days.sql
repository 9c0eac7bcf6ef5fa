{#- the loaded events of each load day (UTC) from `from` to before `to`: (day as text, events) #}
SELECT {{ day }} AS load_day, COUNT(*) AS events FROM {{ events }} WHERE load_tstamp >= {{ from }} AND load_tstamp < {{ to }} GROUP BY {{ day }} ORDER BY load_day
