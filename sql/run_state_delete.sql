DELETE FROM {{ t.run_state }} WHERE 1 = 1
