{#- The number of the build writing a row (build.runs, numbered by analytics.dbt_build before each build): the
    incremental models stamp their rows with it, so the tests of an incremental build and a publish take only the rows
    a build wrote (see get_where_subquery.sql). Named, not source()'d: bookkeeping, not lineage (like build.increment
    inside is_incremental(), which the parse never sees). -#}
{% macro build_seq() -%}
    (select max(seq) from build.runs) as build_seq
{%- endmacro %}
