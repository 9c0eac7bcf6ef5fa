UPDATE {{ t.lease }} SET holder = NULL, host = NULL, pid = NULL, since = NULL, expires = NULL,
  open_work = NULL
WHERE lock_name = {{ lock_name }} AND holder = {{ holder }}
