CREATE OR REPLACE {{ kind.incremental_manifest_this_run }} {{ t.incremental_manifest_this_run }}{{ layout.incremental_manifest_this_run }} AS
WITH loaded AS (
  SELECT MIN(load_tstamp) AS first_load, MAX(load_tstamp) AS last_load
  FROM {{ t.base_events_this_run }}
), models AS (
{%- for model in models %}
  SELECT {{ model }} AS model{{ " UNION ALL" if not loop.last }}
{%- endfor %}
)
SELECT models.model, COALESCE(previous.first_success, loaded.first_load) AS first_success, loaded.last_load AS last_success
FROM models
CROSS JOIN loaded
LEFT JOIN {{ t.incremental_manifest }} AS previous ON previous.model = models.model
WHERE loaded.last_load IS NOT NULL
