INSERT INTO {{ t.lease }} (lock_name, holder, host, pid, since, expires)
SELECT {{ lock_name }}, NULL, NULL, NULL, NULL, NULL
WHERE NOT EXISTS (SELECT 1 FROM {{ t.lease }} WHERE lock_name = {{ lock_name }})
