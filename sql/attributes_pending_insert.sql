INSERT INTO {{ t.attributes_pending }} (attribute_key)
SELECT DISTINCT attribute_key FROM {{ t.daily_aggregates_this_run }}
