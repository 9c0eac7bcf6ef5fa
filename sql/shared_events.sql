{#- a workspace's shared read: the events of a load range, with every column and every row that
    one of its groups reads (each group's conditions OR-ed), copied once -#}
CREATE OR REPLACE TABLE {{ relation }}{{ format }} AS
SELECT {{ columns | join(", ") }}
FROM {{ events }} AS events
WHERE events.load_tstamp >= {{ lower }}
  AND events.load_tstamp < {{ upper }}
  AND ({% for condition in conditions %}({{ condition }}){{ " OR " if not loop.last }}{% endfor %})
