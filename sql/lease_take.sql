UPDATE {{ t.lease }}
SET holder = {{ holder }}, host = {{ host }}, pid = {{ pid }}, since = {{ now }}, expires = {{ expires }},
  open_work = {{ open_work }}
WHERE lock_name = {{ lock_name }} AND (holder IS NULL OR holder = {{ holder }} OR expires < {{ now }})
