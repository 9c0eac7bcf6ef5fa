SELECT COUNT(*) FROM {{ table }}
