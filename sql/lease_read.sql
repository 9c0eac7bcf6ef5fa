SELECT holder, host, {{ pid_text }}, {{ since_text }}, {{ expires_text }}
FROM {{ t.lease }} WHERE lock_name = {{ lock_name }}
