SELECT holder, host, {{ pid_text }}, {{ since_text }}, {{ expires_text }},
  CASE WHEN expires < {{ now }} THEN 'expired' ELSE 'live' END, open_work
FROM {{ t.lease }} WHERE lock_name = {{ lock_name }}
