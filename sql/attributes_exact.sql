CREATE OR REPLACE TABLE {{ t.attributes_this_run }}{{ layout.attributes_this_run }} AS
{% include "attributes_select.sql" %}
