{#- Upstream's run limits (`get_run_limits`), as `sigbatch run` computes them in compat mode:
    a first run or full refresh loads `backfill_limit_days` days from snowplow__start_date;
    later runs start at the tracked models' last success (strict bounds), for the rest of that
    day plus `backfill_limit_days` days, never past now; models out of sync replay up to the
    newest success. One window per `dbt run`, as upstream. -#}
{% macro sigbatch_window() -%}
  {%- set second = modules.datetime.timedelta(seconds=1) -%}
  {%- set days = __BACKFILL_DAYS__ -%}
  {%- set start = modules.datetime.datetime(__START_DATE__) -%}
  {%- set cap = sigbatch_now_datetime() -%}
  {%- set lower = start -%}
  {%- set upper = [start + modules.datetime.timedelta(days=days) - second, cap] | min -%}
  {%- if execute and not flags.FULL_REFRESH -%}
    {%- set sql -%}
__SUMMARY_SQL__
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {%- if row[0] | int > 0 and row[2] is not none and row[3] is not none -%}
      {%- set min_last = sigbatch_parse_timestamp(row[2]) -%}
      {%- set max_last = sigbatch_parse_timestamp(row[3]) -%}
      {%- set lower = min_last -%}
      {%- set upper = sigbatch_day_start(min_last) + modules.datetime.timedelta(days=days + 1) - second -%}
      {%- if row[1] | int == 2 -%}
        {%- set upper = [upper, max_last, cap] | min -%}
      {%- else -%}
        {%- set upper = [upper, cap] | min -%}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
  {{ return({'lower': lower.strftime('%Y-%m-%d %H:%M:%S.%f'), 'upper': upper.strftime('%Y-%m-%d %H:%M:%S.%f')}) }}
{%- endmacro %}

{#- Upstream never wires its full-refresh guard in; compat mode does not either. -#}
{% macro sigbatch_full_refresh_guard() -%}
{%- endmacro %}
