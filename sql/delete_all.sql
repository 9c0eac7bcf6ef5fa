DELETE FROM {{ table }} WHERE 1 = 1
