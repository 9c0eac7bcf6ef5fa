{#- the stored lifetime counts of the (key, slot, value)s this window recomputed #}
{%- if row_locator %}
DELETE FROM {{ t.lifetime_value_counts }}
WHERE {{ row_locator }} IN (SELECT stored_row FROM {{ t.lifetime_value_counts_this_run }} WHERE stored_row IS NOT NULL)
{%- elif subquery_predicates %}
DELETE FROM {{ t.lifetime_value_counts }} stored
WHERE stored.attribute_key IN (SELECT attribute_key FROM {{ t.lifetime_value_counts_this_run }})
  AND EXISTS (
    SELECT 1 FROM {{ t.lifetime_value_counts_this_run }} AS fresh
    WHERE fresh.attribute_key = stored.attribute_key AND fresh.slot = stored.slot AND fresh.value = stored.value
  )
{%- else %}
MERGE INTO {{ t.lifetime_value_counts }} AS target
USING (SELECT attribute_key, slot, value FROM {{ t.lifetime_value_counts_this_run }}) AS source
ON target.attribute_key = source.attribute_key AND target.slot = source.slot AND target.value = source.value
WHEN MATCHED THEN DELETE
{%- endif %}
