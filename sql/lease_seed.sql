{%- if subquery_predicates %}
INSERT INTO {{ t.lease }} (lock_name, holder, host, pid, since, expires)
SELECT {{ lock_name }}, NULL, NULL, NULL, NULL, NULL
WHERE NOT EXISTS (SELECT 1 FROM {{ t.lease }} WHERE lock_name = {{ lock_name }})
{%- else %}
MERGE INTO {{ t.lease }} AS target
USING (SELECT {{ lock_name }} AS lock_name) AS source
ON target.lock_name = source.lock_name
WHEN NOT MATCHED THEN INSERT (lock_name, holder, host, pid, since, expires)
  VALUES (source.lock_name, NULL, NULL, NULL, NULL, NULL)
{%- endif %}
