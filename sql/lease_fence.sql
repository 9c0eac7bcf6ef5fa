SELECT CAST(COALESCE(MAX(CASE WHEN holder = {{ holder }} THEN '1' END),
  'the run lease is held by ' || COALESCE(MAX(holder), 'nobody')) AS {{ integer }})
FROM {{ t.lease }} WHERE lock_name = {{ lock_name }}
