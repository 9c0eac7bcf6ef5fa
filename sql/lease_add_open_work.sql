ALTER TABLE {{ t.lease }} ADD COLUMN open_work {{ text }}
