{#- the earliest load at or after from and before cap, as text #}
SELECT {{ min_load }} FROM {{ events }} WHERE load_tstamp >= {{ from }} AND load_tstamp < {{ cap }}
