{#- The number of the build writing a row (build.runs, numbered by analytics.dbt_build before each build): the
    incremental models stamp their rows with it, so the tests of an incremental build and a publish take only the rows
    a build wrote (see get_where_subquery.sql), and a model takes the keys an upstream model rewrote in this build
    (`where build_seq = {{ this_build() }}`): the rows appended last, which DuckDB finds without reading the others.
    Named, not source()'d: bookkeeping, not lineage (like build.increment inside is_incremental(), which the parse
    never sees). -#}
{% macro this_build() -%}
    (select max(seq) from build.runs)
{%- endmacro %}

{#- The last build of the whole project that succeeded (0: none yet), after which build.rewritten_studies was emptied:
    every row a later build wrote (`build_seq > {{ last_finished_build() }}`: this build's, and those of builds that
    failed since, whose rewritten studies still wait) is in the tail of the table, and every earlier row was in its
    model's inputs when that build succeeded (int_studies). -#}
{% macro last_finished_build() -%}
    (select coalesce(max(seq), 0) from build.runs where finished_at is not null)
{%- endmacro %}

{% macro build_seq() -%}
    {{ this_build() }} as build_seq
{%- endmacro %}

{#- A DICOM UID (or an audit record's key) as a 128-bit number (MD5, stable across DuckDB versions, unlike hash()):
    the staged and intermediate models find the rows of a study, an instance or a transfer by it (study_hash,
    sop_hash, record_hash). Looking up a night's few thousand studies among millions reads 16 bytes a row instead of
    a 64-character string: ten times less (docs/scaling.md). -#}
{% macro uid_hash(column) -%}
    md5_number({{ column }})
{%- endmacro %}

{#- A file key's hint: 32 bits of its MD5, as raw.dicom_instances stores it (file_key_hint, analytics/raw_batches.py
    DERIVED). Equal keys have equal hints, not the reverse: a lookup reads the hints first (4 bytes a row, where the
    key's string costs about 16 read cold and far more to compare), then checks the key of the few rows found. -#}
{% macro file_key_hint(column) -%}
    (md5_number({{ column }}) >> 96)::uinteger
{%- endmacro %}

{#- The rows of `relation` the condition in the call block keeps (a lookup by key: `study_hash in (...)`), found by
    reading the key column alone first, then only those rows whole: DuckDB otherwise reads every column the query
    projects, for every row of the history, before it filters. Worth it where rows are wide (strings): the transfers
    of the studies a build rewrote took 0.71 s to find, 0.11 s so, at five years of 1 M studies a year; a lookup
    reading two narrow columns gains nothing (docs/scaling.md). -#}
{% macro found_by_key(relation) -%}
    rowid in (select rowid from {{ relation }} where {{ caller() }}
    ){# on a line of its own: the condition may end in a comment #}
{%- endmacro %}
