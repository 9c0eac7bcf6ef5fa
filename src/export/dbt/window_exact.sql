{#- Exact mode's load window, as `sigbatch run` takes it: from the watermark (the highest
    load_tstamp read so far, re-read inclusively: event_id dedup absorbs the overlap) to the end
    of the `backfill_limit_days`-th day counted from the next loaded event, never past now.
    `sigbatch run` catches up window after window in one invocation; here each `dbt run` takes
    one window: run it until the watermark reaches the newest load. -#}
{% macro sigbatch_window() -%}
  {%- set days = __BACKFILL_DAYS__ -%}
  {%- set start = modules.datetime.datetime(__START_DATE__) -%}
  {%- set cap = sigbatch_now_datetime() -%}
  {%- set lower = start -%}
  {%- set upper = [cap, lower] | max -%}
  {%- if execute -%}
    {%- if not flags.FULL_REFRESH -%}
      {%- set sql -%}
        select {{ __WATERMARK_TEXT__ }} from {{ sigbatch_table('run_state') }}
      {%- endset -%}
      {#- (a `set` inside a for loop would not outlive the loop) -#}
      {%- set rows = run_query(sql).rows -%}
      {%- if rows | length > 0 and rows[0][0] is not none -%}
        {%- set lower = sigbatch_parse_timestamp(rows[0][0]) -%}
      {%- endif -%}
    {%- endif -%}
    {%- set lower_text = lower.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- set cap_text = cap.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- set sql -%}
__NEXT_LOAD_SQL__
    {%- endset -%}
    {%- set next = run_query(sql).rows[0][0] -%}
    {%- if next is not none -%}
      {%- set upper = [sigbatch_day_start(sigbatch_parse_timestamp(next)) + modules.datetime.timedelta(days=days), cap] | min -%}
    {%- else -%}
      {%- set upper = cap -%}
    {%- endif -%}
    {%- set upper = [upper, lower] | max -%}
  {%- endif -%}
  {{ return({'lower': lower.strftime('%Y-%m-%d %H:%M:%S.%f'), 'upper': upper.strftime('%Y-%m-%d %H:%M:%S.%f')}) }}
{%- endmacro %}

{#- A full refresh rebuilds every table from snowplow__start_date and drops all state: refused
    on any target but snowplow__dev_target_name unless snowplow__allow_refresh is true. -#}
{% macro sigbatch_full_refresh_guard() -%}
  {%- if flags.FULL_REFRESH and target.name != var('snowplow__dev_target_name', 'dev') and not var('snowplow__allow_refresh', false) -%}
    {{ exceptions.raise_compiler_error("sigbatch: refusing to rebuild every table from snowplow__start_date on target `" ~ target.name ~ "` (not the dev target `" ~ var('snowplow__dev_target_name', 'dev') ~ "`)\nhint: a full refresh drops all state; allow it with --vars '{snowplow__allow_refresh: true}'") }}
  {%- endif -%}
{%- endmacro %}
