DELETE FROM {{ t.attributes }}
WHERE {{ key }} IN (SELECT {{ key }} FROM {{ t.attributes_next }})
