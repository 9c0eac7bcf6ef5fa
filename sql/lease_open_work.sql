UPDATE {{ t.lease }} SET open_work = {{ open_work }}
WHERE lock_name = {{ lock_name }} AND holder = {{ holder }}
