UPDATE {{ t.lease }} SET expires = {{ expires }}
WHERE lock_name = {{ lock_name }} AND holder = {{ holder }}
