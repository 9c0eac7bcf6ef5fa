DELETE FROM {{ t.incremental_manifest }}
WHERE model IN (SELECT model FROM {{ t.incremental_manifest_this_run }})
