{#- Written by `sigbatch export-dbt`: the run-time half of sigbatch's state protocol. The SQL of
    every model was rendered by sigbatch from the plan; what can only be known when dbt runs
    (the load window, "now", "today", full refresh or not) comes from these macros. -#}

{#- A table of this project by its sigbatch name, without a dependency edge: for state a
    model reads before a later model rewrites it. -#}
{% macro sigbatch_table(name) -%}
  {%- set tables = __TABLES__ -%}
  {%- set entry = tables[name] -%}
  {{ return(api.Relation.create(database=target.database, schema=target.schema ~ '_' ~ entry[0], identifier=entry[1])) }}
{%- endmacro %}

{% macro sigbatch_schema(suffix) -%}
  {{ return(adapter.quote(target.schema ~ '_' ~ suffix)) }}
{%- endmacro %}

{#- "now": the instant this dbt invocation started, in UTC, the same in every model; or the
    instant SIGBATCH_NOW pins, as it does for `sigbatch run`. -#}
{% macro sigbatch_now_datetime() -%}
  {%- set pinned = env_var('SIGBATCH_NOW', '') -%}
  {%- if pinned -%}
    {{ return(modules.datetime.datetime.strptime(pinned, '%Y-%m-%d %H:%M:%S')) }}
  {%- endif -%}
  {{ return(run_started_at.replace(tzinfo=none)) }}
{%- endmacro %}

{% macro sigbatch_now() -%}
  {{ return(sigbatch_now_datetime().strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}

{#- "today" plus `offset` days: snowplow__mock_current_day if set, else the UTC date now. -#}
{% macro sigbatch_day(offset) -%}
  {%- set mock = var('snowplow__mock_current_day', none) -%}
  {%- if mock -%}
    {%- set today = modules.datetime.datetime.strptime(mock | string, '%Y-%m-%d').date() -%}
  {%- else -%}
    {%- set today = sigbatch_now_datetime().date() -%}
  {%- endif -%}
  {{ return((today + modules.datetime.timedelta(days=offset)).strftime('%Y-%m-%d')) }}
{%- endmacro %}

{% macro sigbatch_parse_timestamp(text) -%}
  {%- set value = (text | string).replace('T', ' ') -%}
  {%- if '.' in value -%}
    {%- set value = (value ~ '000000')[:26] -%}
  {%- else -%}
    {%- set value = value[:19] ~ '.000000' -%}
  {%- endif -%}
  {{ return(modules.datetime.datetime.strptime(value, '%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}

{% macro sigbatch_day_start(at) -%}
  {{ return(modules.datetime.datetime(at.year, at.month, at.day)) }}
{%- endmacro %}

{#- Runs the statements of the setup stage (and the guards) before any model. -#}
{% macro sigbatch_on_run_start() -%}
  {%- if execute -%}
    {{ sigbatch_vars_guard() }}
    {{ sigbatch_full_refresh_guard() }}
    {%- for sql in sigbatch_setup_statements() -%}
      {%- do run_query(sql) -%}
    {%- endfor -%}
    {#- dbt's relation cache was filled before this hook: tell it about the stored tables, so
        their incremental models append to them instead of creating them again -#}
    {%- if flags.FULL_REFRESH -%}
      {%- for name in __DROPPED__ -%}
        {%- do adapter.cache_dropped(sigbatch_table(name).incorporate(type='table')) -%}
      {%- endfor -%}
    {%- endif -%}
    {%- for name in __PERSISTENT__ -%}
      {%- do adapter.cache_added(sigbatch_table(name).incorporate(type='table')) -%}
    {%- endfor -%}
    {{ sigbatch_plan_guard() }}
  {%- endif -%}
  select 1 as sigbatch_setup
{%- endmacro %}

{#- The tables were built from this plan (or are new), unless this is a full refresh. -#}
{% macro sigbatch_plan_guard() -%}
  {%- if not flags.FULL_REFRESH -%}
    {%- set sql -%}
      select semantics, plan_fingerprint from {{ sigbatch_table('run_state') }}
    {%- endset -%}
    {%- for row in run_query(sql).rows -%}
      {%- if row[0] != __SEMANTICS__ or row[1] != __FINGERPRINT__ -%}
        {{ exceptions.raise_compiler_error("sigbatch: the tables in " ~ target.schema ~ "_derived were built from another plan (mode `" ~ row[0] ~ "`, fingerprint `" ~ row[1] ~ "`); this export is mode `" ~ __SEMANTICS__ ~ "`, fingerprint `" ~ __FINGERPRINT__ ~ "`.\nhint: rebuild with `dbt run --full-refresh`") }}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}

{#- Vars that are part of the rendered SQL must be the values it was rendered with. -#}
{% macro sigbatch_vars_guard() -%}
  {%- set rendered = __RENDERED_VARS__ -%}
  {%- for name, value in rendered.items() -%}
    {%- if sigbatch_var_text(var(name, none)) != sigbatch_var_text(value) -%}
      {{ exceptions.raise_compiler_error("sigbatch: var `" ~ name ~ "` is `" ~ sigbatch_var_text(var(name, none)) ~ "` but the SQL was rendered with `" ~ sigbatch_var_text(value) ~ "`\nhint: set it in sigbatch.yml and run `sigbatch export-dbt` again") }}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro %}

{% macro sigbatch_var_text(value) -%}
  {%- if value is none -%}
    {{ return('') }}
  {%- elif value is string -%}
    {{ return(value) }}
  {%- elif value is iterable -%}
    {{ return(value | map('string') | join(', ')) }}
  {%- else -%}
    {{ return(value | string | lower) }}
  {%- endif -%}
{%- endmacro %}
